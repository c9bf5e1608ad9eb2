use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::host::StateFile;
use crate::host::dirfd::DirFd;
use crate::host::record::KILL_SWITCH_FILE;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> Route {
    let (a, l) = s.split_once('/').unwrap();
    Route::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

/// The whole ruleset of a dual-stack server with local networks blocked: exactly these
/// lines, nothing else lets a packet out.
#[test]
fn the_ruleset_lets_out_only_the_tunnel_the_server_and_the_link() {
    let plan =
        KillSwitchPlan::new(&[ip("10.99.0.2"), ip("fd99::2")], &[500], "ikeway0", &[], false)
            .unwrap();
    assert_eq!(
        plan.ruleset(),
        "table inet ikeway
delete table inet ikeway
table inet ikeway {
\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toifname \"lo\" accept
\t\toifname \"ikeway0\" accept
\t\tip daddr { 10.99.0.2 } udp dport { 500, 4500 } accept
\t\tip daddr { 10.99.0.2 } meta l4proto esp accept
\t\tip6 daddr { fd99::2 } udp dport { 500, 4500 } accept
\t\tip6 daddr { fd99::2 } meta l4proto esp accept
\t\tudp sport 68 udp dport 67 accept
\t\tip6 saddr fe80::/10 ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept
\t\tip6 hoplimit 255 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
\t\tip6 hoplimit 1 icmpv6 type { mld-listener-report, mld-listener-done, mld2-listener-report } accept
\t\tcounter drop
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\toifname \"ikeway0\" accept
\t\tcounter drop
\t}
}
"
    );
    assert_eq!(lift_ruleset(), "table inet ikeway\ndelete table inet ikeway\n");
}

/// `excludeLocalNetworks`: the host's networks and the link-scope ones, in output and
/// forward; without it, none (not even link-local).
#[test]
fn local_networks_only_with_exclude_local_networks() {
    let local = [net("192.168.1.0/24"), net("2001:db8:1::/64"), net("192.168.1.0/24")];
    let plan = KillSwitchPlan::new(&[ip("192.0.2.1")], &[500], "ikeway3", &local, true).unwrap();
    let text = plan.ruleset();
    let v4 = "ip daddr { 192.168.1.0/24, 169.254.0.0/16, 224.0.0.0/24, 255.255.255.255/32 } accept";
    let v6 = "ip6 daddr { 2001:db8:1::/64, fe80::/10, ff02::/16 } accept";
    assert_eq!(text.matches(v4).count(), 2, "{text}");
    assert_eq!(text.matches(v6).count(), 2, "{text}");
    assert_eq!(plan.local_networks().len(), 7);
    assert!(text.contains("oifname \"ikeway3\" accept"));
    // No IPv6 server: no IPv6 IKE rule at all (an empty set is not even valid nft).
    assert!(!text.contains("ip6 daddr { } "), "{text}");
    assert!(!text.contains("ip6 daddr {  }"), "{text}");
    let blocked = KillSwitchPlan::new(&[ip("192.0.2.1")], &[500], "ikeway3", &local, false)
        .unwrap()
        .ruleset();
    assert!(!blocked.contains("192.168.1.0/24") && !blocked.contains("fe80::/10 accept"));
    assert!(!blocked.contains("169.254.0.0/16"), "{blocked}");
}

/// With a socket owner, only that user's sockets may send IKE and ESP to the server.
#[test]
fn ike_and_esp_only_from_the_tunnels_own_sockets() {
    let text =
        KillSwitchPlan::new(&[ip("192.0.2.1"), ip("2001:db8::1")], &[500], "ikeway0", &[], false)
            .unwrap()
            .with_socket_owner(0)
            .ruleset();
    for rule in [
        "ip daddr { 192.0.2.1 } udp dport { 500, 4500 } meta skuid 0 accept",
        "ip daddr { 192.0.2.1 } meta l4proto esp meta skuid 0 accept",
        "ip6 daddr { 2001:db8::1 } udp dport { 500, 4500 } meta skuid 0 accept",
        "ip6 daddr { 2001:db8::1 } meta l4proto esp meta skuid 0 accept",
    ] {
        assert!(text.contains(rule), "{rule} missing: {text}");
    }
    assert_eq!(text.matches("daddr { 192.0.2.1 }").count(), 2, "no rule without the owner");
}

/// A "local network" that is everything would switch the kill switch off: dropped.
#[test]
fn a_zero_length_local_network_is_not_let_out() {
    let plan = KillSwitchPlan::new(
        &[ip("192.0.2.1")],
        &[500],
        "ikeway0",
        &[net("0.0.0.0/0"), net("::/0")],
        true,
    )
    .unwrap();
    assert!(plan.local_networks().iter().all(|r| r.len > 0), "{:?}", plan.local_networks());
    assert!(!plan.ruleset().contains("0.0.0.0/0") && !plan.ruleset().contains("::/0"));
}

/// The link name is the only text that is not a typed value: it must be one of ours, so no
/// name can close the quote and add a rule (or a command).
#[test]
fn hostile_link_names_cannot_reach_the_ruleset() {
    for tun in [
        "eth0",
        "ikeway0\" accept\n\t\taccept #",
        "ikeway0; flush ruleset",
        "ikeway0\nflush ruleset",
        "ikeway",
        "ikeway1234567890",
        "",
        "ikeway0 ",
        "ikeway\u{0660}",
    ] {
        assert!(
            matches!(
                KillSwitchPlan::new(&[ip("192.0.2.1")], &[500], tun, &[], false),
                Err(KillSwitchError::NotOurLink(_))
            ),
            "{tun:?}"
        );
    }
}

/// A server that is not one host somewhere (none, unspecified, multicast, broadcast) would
/// let IKE out to anyone; too many servers or ports are refused; duplicates count once.
#[test]
fn hostile_servers_and_ports_are_refused() {
    let new = |s: &[&str], p: &[u16]| {
        let s: Vec<IpAddr> = s.iter().map(|a| ip(a)).collect();
        KillSwitchPlan::new(&s, p, "ikeway0", &[], false)
    };
    for s in [&[][..], &["0.0.0.0"], &["::"], &["224.0.0.251"], &["ff02::1"], &["255.255.255.255"]]
    {
        assert!(matches!(new(s, &[500]), Err(KillSwitchError::Server(_))), "{s:?}");
    }
    let many: Vec<String> = (0..=MAX_SERVERS).map(|i| format!("192.0.2.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(new(&many, &[500]), Err(KillSwitchError::TooMany { .. })));
    assert!(matches!(new(&["192.0.2.1"], &[0]), Err(KillSwitchError::Server(_))));
    assert!(matches!(new(&["192.0.2.1"], &[1, 2, 3, 4]), Err(KillSwitchError::TooMany { .. })));
    let plan = new(&["192.0.2.1", "192.0.2.1"], &[4500, 500, 4500]).unwrap();
    assert_eq!(plan.servers(), [ip("192.0.2.1")]);
    assert!(plan.ruleset().contains("ip daddr { 192.0.2.1 } udp dport { 4500, 500 } accept"));
    let too_many_local: Vec<Route> = (0..=MAX_LOCAL_NETWORKS)
        .map(|i| net(&format!("10.{}.{}.0/24", i / 256, i % 256)))
        .collect();
    assert!(matches!(
        KillSwitchPlan::new(&[ip("192.0.2.1")], &[500], "ikeway0", &too_many_local, true),
        Err(KillSwitchError::TooMany { what: "local networks", .. })
    ));
}

/// Whatever the inputs, the text holds only the characters our own rules use: nothing a
/// value could add (quotes only around the two link names).
#[test]
fn the_ruleset_is_made_only_of_our_own_characters() {
    let plan = KillSwitchPlan::new(
        &[ip("203.0.113.9"), ip("2001:db8::ffff:1"), ip("::ffff:192.0.2.1")],
        &[500, 1500],
        "ikeway123456789",
        &[net("10.0.0.0/8"), net("fe80::/64"), net("2001:db8:ffff::/48")],
        true,
    )
    .unwrap();
    let text = plan.ruleset();
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || " \t\n.:/{},;_-\"".contains(c);
    assert!(text.chars().all(allowed), "{text}");
    assert_eq!(text.matches('"').count(), 6, "lo, the link in output and forward: {text}");
}

/// A stand-in `nft` that appends what it is given to `log`, and fails when `refuse` exists;
/// it also notes whether the record was there when it ran.
fn fake_nft(dir: &Path) -> Nft {
    let script = dir.join("nft");
    let body = format!(
        "#!/bin/sh\n[ \"$1 $2\" = '-f -' ] || exit 9\n\
         if [ -e {d}/{KILL_SWITCH_FILE} ]; then echo '# recorded' >> {d}/log; \
         else echo '# unrecorded' >> {d}/log; fi\n\
         cat >> {d}/log\n[ ! -e {d}/refuse ] || {{ echo 'Error: refused' >&2; exit 1; }}\n",
        d = dir.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    Nft::at(script)
}

fn store(dir: &Path) -> Box<dyn StateStore> {
    Box::new(StateFile::kill_switch(DirFd::open(dir).unwrap()))
}

fn plan() -> KillSwitchPlan {
    KillSwitchPlan::new(&[ip("192.0.2.1")], &[500], "ikeway0", &[], false).unwrap()
}

/// Engage records first, then makes the table; update replaces it; lift deletes our table
/// and the record; dropping a switch leaves both, as a crash would.
#[test]
fn engage_records_before_it_applies_and_lift_forgets() {
    let dir = tempfile::tempdir().unwrap();
    let nft = fake_nft(dir.path());
    let log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    let mut ks = KillSwitch::engage_with(plan(), store(dir.path()), nft.clone()).unwrap();
    assert_eq!(log(), format!("# recorded\n{}", plan().ruleset()));
    assert!(dir.path().join(KILL_SWITCH_FILE).exists());
    let other = KillSwitchPlan::new(&[ip("192.0.2.7")], &[500], "ikeway0", &[], false).unwrap();
    ks.update(other.clone()).unwrap();
    assert_eq!(ks.plan(), Some(&other));
    ks.update(other.clone()).unwrap();
    assert_eq!(log().matches("table inet ikeway {").count(), 2, "an unchanged plan runs nothing");
    ks.lift().unwrap();
    assert!(log().ends_with(&format!("# recorded\n{}", lift_ruleset())), "{}", log());
    assert!(!dir.path().join(KILL_SWITCH_FILE).exists());
    ks.lift().unwrap();
    assert_eq!(log().matches("delete table").count(), 3, "a second lift runs nothing: {}", log());

    let ks = KillSwitch::engage_with(plan(), store(dir.path()), nft.clone()).unwrap();
    drop(ks);
    assert_eq!(log().matches("delete table").count(), 4, "dropping lifts nothing");
    assert!(dir.path().join(KILL_SWITCH_FILE).exists());
    // The next owner takes it over and replaces the table in one transaction: no lift between.
    let mut next = KillSwitch::adopt_with(store(dir.path()), nft).unwrap().unwrap();
    assert_eq!(next.plan(), None);
    let before = log();
    next.update(plan()).unwrap();
    assert_eq!(log(), format!("{before}# recorded\n{}", plan().ruleset()));
    next.lift().unwrap();
    assert!(!dir.path().join(KILL_SWITCH_FILE).exists());
}

/// A refused ruleset leaves no record behind (and no table: nft's transaction); the error
/// says what nft said.
#[test]
fn a_refused_ruleset_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("refuse"), "").unwrap();
    let e = KillSwitch::engage_with(plan(), store(dir.path()), fake_nft(dir.path())).unwrap_err();
    assert!(matches!(&e, KillSwitchError::Refused { output, .. } if output == "Error: refused"));
    // The lift after the refusal was refused too: the record stays for `recover`.
    assert!(dir.path().join(KILL_SWITCH_FILE).exists());
    std::fs::remove_file(dir.path().join("refuse")).unwrap();
    assert!(KillSwitch::recover_with(store(dir.path()), &fake_nft(dir.path())).unwrap());
    assert!(!dir.path().join(KILL_SWITCH_FILE).exists());
    let missing = Nft::at(dir.path().join("no-such-nft"));
    assert!(matches!(
        KillSwitch::engage_with(plan(), store(dir.path()), missing),
        Err(KillSwitchError::Spawn { .. })
    ));
}

/// After a crash the record is validated, then only our table is deleted; a record that
/// names anything else runs nothing; no record, nothing to do.
#[test]
fn recover_deletes_only_our_table_and_only_after_a_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let nft = fake_nft(dir.path());
    let log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert!(!KillSwitch::recover_with(store(dir.path()), &nft).unwrap());
    assert_eq!(log(), "");
    // A crash: the switch is dropped without a lift.
    drop(KillSwitch::engage_with(plan(), store(dir.path()), nft.clone()).unwrap());
    assert!(KillSwitch::recover_with(store(dir.path()), &nft).unwrap());
    assert!(log().ends_with(&format!("# recorded\n{}", lift_ruleset())));
    assert!(!dir.path().join(KILL_SWITCH_FILE).exists());
    let before = log();
    std::fs::write(dir.path().join(KILL_SWITCH_FILE), r#"{"table": "inet filter"}"#).unwrap();
    assert!(matches!(
        KillSwitch::recover_with(store(dir.path()), &nft),
        Err(KillSwitchError::Record(HostError::Record { .. }))
    ));
    assert_eq!(log(), before, "nft did not run");
    assert!(dir.path().join(KILL_SWITCH_FILE).exists(), "kept for a person to look at");
}

/// The real `nft` takes the ruleset: checked (`nft -c`, nothing committed) in a network
/// namespace of its own, so this host's tables are never touched.
#[test]
fn nft_accepts_the_ruleset() {
    if !ikeway_testkit::is_root() || !Path::new(NFT).exists() || !ikeway_testkit::have("unshare") {
        ikeway_testkit::skip("nft_accepts_the_ruleset", "needs root, unshare and /usr/sbin/nft");
        return;
    }
    let plans = [
        KillSwitchPlan::new(&[ip("10.99.0.2"), ip("fd99::2")], &[500], "ikeway0", &[], false)
            .map(|p| p.with_socket_owner(0)),
        KillSwitchPlan::new(
            &[ip("fd99::2")],
            &[500, 4501],
            "ikeway7",
            &[net("10.0.0.0/8"), net("fd00::/8")],
            true,
        ),
    ];
    for plan in plans {
        let text = plan.unwrap().ruleset();
        for input in [text.as_str(), &lift_ruleset()] {
            let mut child = std::process::Command::new("unshare")
                .args(["--net", NFT, "-c", "-f", "-"])
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}\n{input}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
