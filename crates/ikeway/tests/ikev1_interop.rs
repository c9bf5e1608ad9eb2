//! IKEv1 ("Cisco IPSec") against strongSwan 5.9.8: our `ikeway connect` of a `config add --type
//! ipsec` configuration (group name as KEY_ID + group secret in Aggressive Mode, XAUTH, Mode
//! Config with the Cisco Unity attributes) pings a host behind strongSwan, `status` shows the
//! mode-config address, DNS and domain, the disconnect deletes both sides' SAs; a wrong group
//! secret and a wrong XAUTH password end with Apple's AuthenticationFailed and nothing left up.
//! The same through the NAT namespace, and from an Apple profile (`VPNType IPSec`) imported
//! with `profile import`. Main Mode with ECDSA and with RSA certificates (`config add --type
//! ipsec` with an identity and `--ca`) connects, pings and disconnects the same way; a server
//! certificate from another CA ends with ServerCertificateInvalid and its reason. Against a
//! gateway that allows only 3DES-CBC + HMAC-SHA1-96 for ESP, the ESP SA is that and pings cross.
//! `testbeds/ikev1-certs.sh`: Main Mode with certificates through a path that drops large
//! datagrams goes in IKEv1 fragments both ways (and cannot connect when the gateway does not
//! fragment); certificates then XAUTH connect from `config add` and an Apple profile, a wrong
//! XAUTH password is AuthenticationFailed with its reason.
//! `testbeds/ikev1-interop.sh` (and `ikev1-interop-nat.sh`) drive the namespaces (one run
//! each, shared by the tests below); this judges what they recorded.
//!
//! Needs root, network namespaces, nftables and strongSwan (`testbeds/install-peers.sh`);
//! without them it says loudly that it was skipped.

// The loss figures are printed for the log; the assertions judge.
#![allow(clippy::print_stderr)]

mod testbed;

use std::path::Path;
use std::sync::OnceLock;

use testbed::{
    BedRun, XAUTH_FAILED, assert_authentication_failed, assert_client_restored, read, status,
    swanctl_sas,
};

fn run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start("ikev1-interop.sh", "ikwv1", &["charon-systemd", "swanctl", "ping"], &[])
    })
}

fn dir(what: &str) -> Option<&'static Path> {
    run().folder(what)
}

fn nat_run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start("ikev1-interop-nat.sh", "ikwvn", &["charon-systemd", "swanctl", "ping"], &[])
    })
}

/// A case that connected, pinged and disconnected cleanly; strongSwan's view of it while up.
fn connected_case(dir: &Path, case: &str) -> testbed::SwSa {
    assert_eq!(read(dir, &format!("{case}.connect.rc")).trim(), "0", "{case}");
    assert_eq!(read(dir, &format!("{case}.ping.rc")).trim(), "0", "{case}");
    let s = status(dir, &format!("{case}.status.json"));
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["internal_addresses"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(read(dir, &format!("{case}.disconnect.out")), "disconnected\n");
    let end = read(dir, &format!("{case}.end.sas"));
    assert!(swanctl_sas(&end).is_empty(), "{case}: {end}");
    assert_client_restored(dir, case);
    let mut sas = swanctl_sas(&read(dir, &format!("{case}.sas")));
    assert_eq!(sas.len(), 1, "{case}");
    let sa = sas.remove(0);
    assert_eq!(sa.fields["remote-xauth-id"], "alice", "{case}");
    sa
}

#[test]
fn through_a_nat_our_ipsec_client_connects_floats_to_4500_and_pings() {
    let Some(dir) = nat_run().folder("IKEv1 interop through the NAT namespace") else { return };
    let sa = connected_case(dir, "aggr");
    // strongSwan sees the NAT's address, and both sides detected it (NAT-D).
    assert_eq!(sa.fields["remote-host"], "10.99.0.3");
    assert_eq!(sa.fields["remote-port"], "4500");
    assert_eq!(sa.fields["nat-remote"], "yes");
    assert_eq!(read(dir, "badpsk.connect.rc").trim(), "1");
    assert_eq!(read(dir, "badpw.connect.rc").trim(), "1");
}

#[test]
fn an_apple_ipsec_profile_imports_and_connects() {
    let Some(dir) = dir("IKEv1 interop: an Apple VPNType IPSec profile") else { return };
    assert_eq!(
        read(dir, "profile.import.out"),
        "installed \"profile\" from profile \"IKEv1 testbed\" (managed)\n"
    );
    let sa = connected_case(dir, "profile");
    assert_eq!(sa.fields["remote-id"], "ikeway-group");
    assert_eq!(sa.fields["version"], "1");
}

#[test]
fn our_ipsec_client_connects_with_group_psk_and_xauth_pings_and_disconnects_cleanly() {
    let Some(dir) = dir("IKEv1 interop: aggressive mode + PSK + XAUTH + mode config") else {
        return;
    };
    assert_eq!(read(dir, "aggr.add.out"), "saved \"aggr\"\n");
    assert_eq!(read(dir, "aggr.connect.rc").trim(), "0", "{}", read(dir, "aggr.connect.out"));
    assert_eq!(read(dir, "aggr.ping.rc").trim(), "0", "{}", read(dir, "aggr.ping.out"));
    assert!(read(dir, "aggr.ping.out").contains("2 packets transmitted, 2 received"));

    // Status while connected: the mode-config address from strongSwan's pool, its DNS and the
    // Cisco Unity default domain; the ISAKMP SA (cookies as SPIs) and the ESP SA.
    let s = status(dir, "aggr.status.json");
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["internal_addresses"], serde_json::json!(["10.88.1.1/32"]), "{s}");
    assert_eq!(s["dns"], serde_json::json!(["10.77.0.53"]), "{s}");
    assert_eq!(s["domains"], serde_json::json!(["corp.ikeway.test"]), "{s}");
    // strongSwan's pool names a NetBIOS name server: reported beside DNS, never applied.
    assert_eq!(s["nbns"], serde_json::json!(["10.77.0.54"]), "{s}");
    assert_eq!(s["mode_config_notes"], serde_json::json!({"nbns": ["10.77.0.54"]}), "{s}");
    assert_eq!(s["server"], "10.99.0.51:500", "{s}");
    assert_eq!(s["ike_sa"]["encryption"], "AES-CBC-256", "{s}");
    assert_eq!(s["ike_sa"]["group"], "MODP_2048", "{s}");
    let child = &s["child_sas"][0];
    assert_eq!(child["udp_encapsulation"], true, "{s}");

    // strongSwan's view while we were up: IKEv1, our group name, XAUTH as alice, the virtual
    // IP it leased, the cookies we reported, the ESP SA with traffic both ways.
    let sas = swanctl_sas(&read(dir, "aggr.sas"));
    assert_eq!(sas.len(), 1, "{}", read(dir, "aggr.sas"));
    let sa = &sas[0].fields;
    assert_eq!(sa["version"], "1");
    assert_eq!(sa["state"], "ESTABLISHED");
    assert_eq!(sa["remote-id"], "ikeway-group");
    assert_eq!(sa["remote-xauth-id"], "alice");
    assert_eq!(sa["remote-vips"], "10.88.1.1");
    assert_eq!(sa["initiator-spi"], s["ike_sa"]["spi_i"].as_str().unwrap());
    assert_eq!(sa["responder-spi"], s["ike_sa"]["spi_r"].as_str().unwrap());
    let esp = &sas[0].children[0];
    assert_eq!(esp["state"], "INSTALLED");
    assert_eq!(esp["spi-in"], child["spi_out"].as_str().unwrap());
    assert_eq!(esp["spi-out"], child["spi_in"].as_str().unwrap());
    assert_eq!(esp["local-ts"], "10.77.0.0/24");
    assert_eq!(esp["remote-ts"], "10.88.1.1/32");
    assert_ne!(esp["packets-in"], "0");
    assert_ne!(esp["packets-out"], "0");

    // A clean disconnect: Delete for the ESP SA and the ISAKMP SA, strongSwan holds nothing,
    // our side is as before the connect.
    assert_eq!(read(dir, "aggr.disconnect.out"), "disconnected\n");
    assert!(swanctl_sas(&read(dir, "aggr.end.sas")).is_empty(), "{}", read(dir, "aggr.end.sas"));
    let charon = read(dir, "aggr.charon.log");
    assert!(charon.contains("received DELETE for ESP CHILD_SA with SPI"), "{charon}");
    assert!(charon.contains("received DELETE for IKE_SA aggr-psk[1]"), "{charon}");
    assert_client_restored(dir, "aggr");
}

#[test]
fn with_a_split_include_our_client_asks_one_quick_mode_per_network_and_leaves_the_rest_outside() {
    let Some(dir) = dir("IKEv1 interop: split include of two networks") else { return };
    assert_eq!(read(dir, "split.connect.rc").trim(), "0", "{}", read(dir, "split.connect.out"));
    let s = status(dir, "split.status.json");
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["server"], "10.99.0.55:500", "{s}");
    let vip = s["internal_addresses"][0].as_str().unwrap().trim_end_matches("/32").to_owned();
    assert_eq!(s["child_sas"].as_array().map(Vec::len), Some(2), "{s}");

    // The routes: each split network into the tunnel, and nothing else; 10.77.0.70, between
    // them, keeps the namespace's own route (in the clear through strongSwan's namespace).
    let tun_of = |host: &str| {
        let get = read(dir, &format!("split.get.{host}"));
        let dev = get.split_whitespace().skip_while(|w| *w != "dev").nth(1).map(str::to_owned);
        (get.clone(), dev.unwrap_or_default())
    };
    let (get2, tun) = tun_of("2");
    assert_ne!(tun, "ike0", "{get2}");
    assert!(get2.contains(&format!("src {vip}")), "{get2}");
    assert_eq!(tun_of("130").1, tun);
    let (get70, dev70) = tun_of("70");
    assert_eq!(dev70, "ike0", "{get70}");
    assert!(get70.contains("via 10.99.0.2"), "{get70}");
    let routes = read(dir, "split.routes");
    let into_tunnel: Vec<&str> = routes
        .lines()
        .filter(|l| l.contains(&format!("dev {tun} ")) || l.ends_with(&format!("dev {tun}")))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(into_tunnel, ["10.77.0.0/26", "10.77.0.128/26"], "{routes}");

    // Pings: 3 to the protected host, 2 to the second network's host, 2 outside the tunnel.
    for (host, n) in [("2", 3), ("130", 2), ("70", 2)] {
        let out = read(dir, &format!("split.ping.{host}.out"));
        assert_eq!(read(dir, &format!("split.ping.{host}.rc")).trim(), "0", "{out}");
        assert!(out.contains(&format!("{n} packets transmitted, {n} received")), "{out}");
    }

    // strongSwan: one IKE SA with two ESP SAs, one per network, each narrowed to what we asked
    // and carrying exactly its own pings (the ones to 10.77.0.70 crossed neither).
    let sas = swanctl_sas(&read(dir, "split.sas"));
    assert_eq!(sas.len(), 1, "{}", read(dir, "split.sas"));
    assert_eq!(sas[0].fields["remote-vips"], vip);
    let mut children: Vec<_> = sas[0].children.iter().collect();
    children.sort_by_key(|c| c["local-ts"].clone());
    let seen: Vec<(&str, &str, &str, &str)> = children
        .iter()
        .map(|c| {
            (
                c["local-ts"].as_str(),
                c["remote-ts"].as_str(),
                c["packets-in"].as_str(),
                c["packets-out"].as_str(),
            )
        })
        .collect();
    let remote = format!("{vip}/32");
    assert_eq!(
        seen,
        [
            ("10.77.0.0/26", remote.as_str(), "3", "3"),
            ("10.77.0.128/26", remote.as_str(), "2", "2")
        ]
    );
    let charon = read(dir, "split.charon.log");
    for net in ["10.77.0.0/26", "10.77.0.128/26"] {
        let up = format!("{net} === {remote}");
        let established = |l: &&str| l.contains("established with SPIs") && l.contains(&up);
        assert_eq!(charon.lines().filter(established).count(), 1, "{net}: {charon}");
    }

    // Disconnected as the others: nothing left on either side.
    assert_eq!(read(dir, "split.disconnect.out"), "disconnected\n");
    assert!(swanctl_sas(&read(dir, "split.end.sas")).is_empty(), "{}", read(dir, "split.end.sas"));
    assert_client_restored(dir, "split");
}

#[test]
fn a_wrong_group_secret_is_authentication_failed_and_nothing_comes_up() {
    let Some(dir) = dir("IKEv1 interop: wrong group secret") else { return };
    assert_authentication_failed(dir, "badpsk", "badpsk.status.json", None);
    // strongSwan cannot read our encrypted AUTHENTICATION-FAILED (it never had the right key)
    // and keeps a half-open SA until its timeout; nothing was established.
    for sa in swanctl_sas(&read(dir, "badpsk.end.sas")) {
        assert_eq!(sa.fields["state"], "CONNECTING", "{:?}", sa.fields);
        assert!(sa.children.is_empty());
    }
    assert!(!read(dir, "badpsk.charon.log").contains("established"));
    assert_client_restored(dir, "badpsk");
}

#[test]
fn a_wrong_xauth_password_is_authentication_failed_with_the_reason() {
    let Some(dir) = dir("IKEv1 interop: wrong XAUTH password") else { return };
    assert_authentication_failed(dir, "badpw", "badpw.status.json", Some(XAUTH_FAILED));
    let charon = read(dir, "badpw.charon.log");
    assert!(charon.contains("XAuth authentication of 'alice' failed"), "{charon}");
    assert!(swanctl_sas(&read(dir, "badpw.end.sas")).is_empty(), "{}", read(dir, "badpw.end.sas"));
    assert_client_restored(dir, "badpw");
}

#[test]
fn our_ipsec_client_answers_strongswans_rekey_and_dpd_and_its_delete_ends_the_connection() {
    let Some(dir) = dir("IKEv1 interop: rekey, DPD and a delete from the gateway") else {
        return;
    };
    assert_eq!(read(dir, "life.connect.rc").trim(), "0", "{}", read(dir, "life.connect.out"));
    let charon = read(dir, "life.charon.log");
    // strongSwan's dpd_delay is 2 s: idle, it asks R-U-THERE and reads our R-U-THERE-ACK.
    let asked = charon.matches("generating INFORMATIONAL_V1 request").count();
    let acks = charon.lines().filter(|l| l.contains("[ HASH N(DPD_ACK) ]")).count();
    assert!(charon.contains("sending DPD request"), "{charon}");
    assert!(acks >= 1 && acks <= asked, "{acks} acks to {asked} requests:\n{charon}");
    assert!(!charon.contains("giving up"), "{charon}");
    // strongSwan's quick mode rekey: a new ESP SA installed, the old one REKEYED, and the
    // tunnel carries traffic after it.
    let before = swanctl_sas(&read(dir, "life.sas1"));
    let after = swanctl_sas(&read(dir, "life.sas2"));
    let old_spi = &before[0].children[0]["spi-in"];
    let installed: Vec<_> =
        after[0].children.iter().filter(|c| c["state"] == "INSTALLED").collect();
    assert_eq!(installed.len(), 1, "{}", read(dir, "life.sas2"));
    assert_ne!(&installed[0]["spi-in"], old_spi, "{}", read(dir, "life.sas2"));
    assert!(!charon.contains("INVAL_ID"), "{charon}");
    assert_eq!(read(dir, "life.ping2.rc").trim(), "0", "{}", read(dir, "life.ping2.out"));
    // `swanctl --terminate`: strongSwan sends Delete, our side ends as Apple's
    // ServerDisconnected.
    let s = status(dir, "life.status.after.json");
    assert_eq!(s["status"], "disconnected", "{s}");
    assert_eq!(s["last_disconnect_error"], "ServerDisconnected", "{s}");
    assert!(charon.contains("sending DELETE for IKE_SA aggr-psk"), "{charon}");
}

/// "N received" of a ping summary.
fn received(ping: &str) -> u32 {
    ping.lines()
        .find_map(|l| l.split(" received").next().filter(|_| l.contains(" received")))
        .and_then(|l| l.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary in {ping}"))
}

#[test]
fn under_20_percent_loss_our_ipsec_client_connects_and_carries_traffic() {
    let Some(dir) = dir("IKEv1 interop under 20% loss") else { return };
    assert_eq!(read(dir, "lossy.connect.rc").trim(), "0", "{}", read(dir, "lossy.connect.out"));
    // The loss was real: the rules dropped datagrams both ways.
    let drops = read(dir, "lossy.drops");
    let counted: Vec<u64> = drops
        .split("counter packets ")
        .skip(1)
        .map(|s| s.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counted.len(), 2, "{drops}");
    assert!(counted.iter().sum::<u64>() > 0, "nothing was dropped: {drops}");
    let s = status(dir, "lossy.status.json");
    assert_eq!(s["internal_addresses"].as_array().map(Vec::len), Some(1), "{s}");
    // About 36% of round trips are lost (20% each way); of 20 pings some must cross.
    let ping = read(dir, "lossy.ping.out");
    let got = received(&ping);
    eprintln!(
        "under 20% loss: connect {} ms, {got}/20 pings answered",
        read(dir, "lossy.connect.ms").trim()
    );
    assert!(got >= 1, "{ping}");
    assert_eq!(status(dir, "lossy.status.after.json")["status"], "disconnected");
    assert_eq!(read(dir, "lossy.routes.after"), read(dir, "lossy.routes.before"));
}

// ---- What our client starts by itself (testbeds/ikev1-ours.sh) ----------------------------

fn ours_run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start(
            "ikev1-ours.sh",
            "ikwvo",
            &["charon-systemd", "swanctl", "ping", "dumpcap", "tshark"],
            &[],
        )
    })
}

/// The one IKE SA strongSwan listed in `file`.
fn only_sa(dir: &Path, file: &str) -> testbed::SwSa {
    let mut sas = swanctl_sas(&read(dir, file));
    assert_eq!(sas.len(), 1, "{file}: {}", read(dir, file));
    sas.remove(0)
}

/// The ESP SA of strongSwan's IKE SA, the only one installed.
fn installed_child(sa: &testbed::SwSa) -> &std::collections::BTreeMap<String, String> {
    let installed: Vec<_> = sa.children.iter().filter(|c| c["state"] == "INSTALLED").collect();
    assert_eq!(installed.len(), 1, "{:?}", sa.children);
    installed[0]
}

#[test]
fn our_ipsec_client_rekeys_its_esp_sa_by_itself_and_strongswan_installs_the_new_spis() {
    let Some(dir) = ours_run().folder("IKEv1: our client's quick mode rekey") else { return };
    let before = only_sa(dir, "ours.sas1");
    let after = only_sa(dir, "ours.sas2");
    // The same ISAKMP SA, a new ESP SA in place of the old one (deleted on both sides).
    assert_eq!(after.fields["initiator-spi"], before.fields["initiator-spi"]);
    let (old, new) = (installed_child(&before), installed_child(&after));
    assert_ne!(new["spi-in"], old["spi-in"], "{}", read(dir, "ours.sas2"));
    assert_ne!(new["spi-out"], old["spi-out"], "{}", read(dir, "ours.sas2"));
    assert_eq!(after.children.len(), 1, "the old ESP SA is gone: {}", read(dir, "ours.sas2"));
    // We asked (quick mode message 1 from us, twice: the first SA and its rekey); strongSwan
    // started none of its own.
    let charon = read(dir, "ours.charon.log");
    assert!(charon.matches("parsed QUICK_MODE request").count() >= 2, "{charon}");
    assert!(!charon.contains("generating QUICK_MODE request"), "{charon}");
    assert_eq!(read(dir, "ours.ping2.rc").trim(), "0", "{}", read(dir, "ours.ping2.out"));
}

#[test]
fn our_ipsec_client_renews_its_isakmp_sa_and_stays_connected_with_the_same_esp_sa() {
    let Some(dir) = ours_run().folder("IKEv1: our client's ISAKMP SA renewal") else { return };
    let first = only_sa(dir, "ours.sas1");
    let rekeyed = only_sa(dir, "ours.sas2");
    let renewed = only_sa(dir, "ours.sas3");
    // A new ISAKMP SA (new cookies) is the only one left at strongSwan, with the user, the
    // virtual IP and the ESP SA of the old one (not renegotiated: the same SPIs).
    assert_ne!(renewed.fields["initiator-spi"], first.fields["initiator-spi"]);
    assert_ne!(renewed.fields["responder-spi"], first.fields["responder-spi"]);
    assert_eq!(renewed.fields["state"], "ESTABLISHED");
    assert_eq!(renewed.fields["remote-xauth-id"], "alice");
    assert_eq!(renewed.fields["remote-vips"], "10.88.1.1");
    assert_eq!(installed_child(&renewed)["spi-in"], installed_child(&rekeyed)["spi-in"]);
    let charon = read(dir, "ours.charon.log");
    assert_eq!(charon.matches("parsed AGGRESSIVE request 0 [ SA KE No ID").count(), 2, "{charon}");
    assert!(charon.contains("detected reauth of existing IKE_SA, adopting 1 children"), "{charon}");
    assert!(charon.contains("received DELETE for IKE_SA aggr-psk[1]"), "{charon}");
    // INITIAL-CONTACT went with the first phase 1 only (once, before its XAUTH), never with
    // the renewal: strongSwan destroyed nothing for it.
    assert_eq!(charon.matches("[ HASH N(INITIAL_CONTACT) ]").count(), 1, "{charon}");
    assert!(!charon.contains("destroying duplicate IKE_SA"), "{charon}");
    // Our side: connected throughout, now on the new cookies; traffic passes.
    let s = status(dir, "ours.status3.json");
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["ike_sa"]["spi_i"], renewed.fields["initiator-spi"].as_str(), "{s}");
    assert_eq!(s["ike_sa"]["spi_r"], renewed.fields["responder-spi"].as_str(), "{s}");
    assert_eq!(read(dir, "ours.ping3.rc").trim(), "0", "{}", read(dir, "ours.ping3.out"));
    let fg = read(dir, "ours.fg.out");
    let changes: Vec<&str> = fg.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(
        changes,
        [
            "ours: Disconnected -> Connecting",
            "ours: Connecting -> Connected",
            "ours: Connected -> Disconnecting",
            "ours: Disconnecting -> Disconnected"
        ],
        "{fg}"
    );
    assert_eq!(read(dir, "ours.fg.rc").trim(), "0", "{fg}");
}

// ---- strongSwan renews the ISAKMP SA itself (testbeds/ikev1-gateway-renews.sh) ----------

fn gateway_renews_run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start(
            "ikev1-gateway-renews.sh",
            "ikwvg",
            &["charon-systemd", "swanctl", "ping"],
            &[],
        )
    })
}

/// The transmitted count of a ping summary.
fn transmitted(ping: &str) -> u32 {
    ping.lines()
        .find_map(|l| l.split(" packets transmitted").next().filter(|_| l.contains("transmitted")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary in {ping}"))
}

/// One case of the bed: strongSwan's connection `conn` started a phase 1 of its own (its
/// IKEv1 rekey is a reauthentication) in `mode` ("Aggressive", "Main") toward our client
/// `name`, which answered; the ESP SA and the virtual IP moved to the new SA, our quick mode
/// rekey ran under it, traffic crossed throughout. strongSwan's log lines of it are returned
/// with the new SA's name for the case's own checks.
fn assert_gateway_renewal(dir: &Path, name: &str, conn: &str, mode: &str) -> (String, String) {
    let file = |what: &str| format!("{name}.{what}");
    let first = only_sa(dir, &file("sas1"));
    let renewed = only_sa(dir, &file("sas2"));
    let rekeyed = only_sa(dir, &file("sas3"));
    let charon = read(dir, &file("charon.log"));
    // strongSwan's names of its SAs (unique ids): the first, the one it started.
    let (n1, n2) = (&first.fields["uniqueid"], &renewed.fields["uniqueid"]);
    let has = |what: &str| charon.contains(what);
    let line_has = |a: &str, b: &str| charon.lines().any(|l| l.contains(a) && l.contains(b));
    assert!(has(&format!("initiating {mode} Mode IKE_SA {conn}[{n2}] to 10.99.0.1")), "{charon}");
    assert!(has(&format!("IKE_SA {conn}[{n2}] established between")), "{charon}");
    // Our client asked for the address it has: strongSwan binds the virtual IP to the new SA.
    let vip = &first.fields["remote-vips"];
    assert!(has(&format!("<{conn}|{n2}> peer requested virtual IP {vip}")), "{charon}");
    // Our Delete ended the old SA; the new one is the only one, with the same ESP SA (moved,
    // not renegotiated) and the virtual IP.
    assert!(has(&format!("received DELETE for IKE_SA {conn}[{n1}]")), "{charon}");
    assert_ne!(renewed.fields["initiator-spi"], first.fields["initiator-spi"]);
    assert_eq!(renewed.fields["state"], "ESTABLISHED");
    assert_eq!(&renewed.fields["remote-vips"], vip);
    assert_eq!(installed_child(&renewed)["spi-in"], installed_child(&first)["spi-in"]);
    // Our quick mode rekey under strongSwan's SA: strongSwan narrows our 0.0.0.0/0 to its
    // 10.77.0.0/24 there (we take it) and installs the new ESP SA.
    assert_eq!(rekeyed.fields["initiator-spi"], renewed.fields["initiator-spi"]);
    let spi = &installed_child(&rekeyed)["spi-in"];
    assert_ne!(spi, &installed_child(&renewed)["spi-in"]);
    let installed = format!("established with SPIs {spi}_i");
    assert!(line_has(&format!("<{conn}|{n2}> CHILD_SA"), &installed), "{charon}");
    assert!(!charon.contains("no acceptable traffic selectors"), "{charon}");
    assert!(!charon.contains("no matching CHILD_SA config"), "{charon}");
    // Traffic crossed all along: after the new SA, after the rekey, and one ping a second
    // from the connection to the end, every one answered.
    assert_eq!(read(dir, &file("ping2.rc")).trim(), "0", "{}", read(dir, &file("ping2.out")));
    assert_eq!(read(dir, &file("ping3.rc")).trim(), "0", "{}", read(dir, &file("ping3.out")));
    let ping = read(dir, &file("ping.out"));
    assert!(transmitted(&ping) >= 40, "{ping}");
    assert_eq!(received(&ping), transmitted(&ping), "{ping}");
    // Our side: connected throughout, on strongSwan's cookies.
    let s = status(dir, &file("status3.json"));
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["ike_sa"]["spi_i"], renewed.fields["initiator-spi"].as_str(), "{s}");
    assert_eq!(s["internal_addresses"][0], format!("{vip}/32").as_str(), "{s}");
    let fg = read(dir, &file("fg.out"));
    let changes: Vec<&str> = fg.lines().filter(|l| l.contains(" -> ")).collect();
    let expected: Vec<String> = [
        "Disconnected -> Connecting",
        "Connecting -> Connected",
        "Connected -> Disconnecting",
        "Disconnecting -> Disconnected",
    ]
    .iter()
    .map(|c| format!("{name}: {c}"))
    .collect();
    assert_eq!(changes, expected, "{fg}");
    assert_eq!(read(dir, &file("fg.rc")).trim(), "0", "{fg}");
    (charon, n2.clone())
}

#[test]
fn our_ipsec_client_answers_the_phase_1_strongswan_starts_and_keeps_its_esp_sa_and_address() {
    let Some(dir) = gateway_renews_run().folder("IKEv1: strongSwan renews the ISAKMP SA") else {
        return;
    };
    let (charon, n2) = assert_gateway_renewal(dir, "gw", "aggr-psk", "Aggressive");
    // Aggressive Mode with strongSwan as initiator (XAUTHRespPreShared), XAUTH from it again.
    let answer = format!("<aggr-psk|{n2}> parsed AGGRESSIVE response 0 [ SA KE No ID HASH V");
    assert!(charon.contains(&answer), "{charon}");
    assert_eq!(charon.matches("XAuth authentication of 'alice' successful").count(), 2, "{charon}");
}

#[test]
fn with_certificates_our_ipsec_client_answers_strongswans_main_mode_and_keeps_its_esp_sa() {
    let Some(dir) = gateway_renews_run().folder("IKEv1: strongSwan renews a certificate SA") else {
        return;
    };
    let (charon, n2) = assert_gateway_renewal(dir, "cert", "main-cert", "Main");
    // Main Mode with strongSwan as initiator: our message 4 asks for a certificate, our
    // message 6 proves us with ours, strongSwan checks it.
    let sa = format!("<main-cert|{n2}>");
    for what in [
        format!("{sa} parsed ID_PROT response 0 [ KE No CERTREQ NAT-D NAT-D ]"),
        format!("{sa} parsed ID_PROT response 0 [ ID CERT SIG ]"),
        format!("{sa} authentication of 'cli.ikeway.test' with ECDSA_WITH_NULL successful"),
        format!(
            "IKE_SA main-cert[{n2}] established between \
             10.99.0.52[srv.ikeway.test]...10.99.0.1[cli.ikeway.test]"
        ),
    ] {
        assert!(charon.contains(&what), "{what}: {charon}");
    }
}

#[test]
fn our_client_rekeys_its_esp_sa_when_its_kilobyte_lifetime_is_nearly_used() {
    let Some(dir) = ours_run().folder("IKEv1: rekey on the ESP SA's byte count") else { return };
    let before = only_sa(dir, "bytes.sas1");
    let after = only_sa(dir, "bytes.sas2");
    let charon = read(dir, "bytes.charon.log");
    // strongSwan took the 2048 KB we offered for the first ESP SA and its successor
    // (counting a kilobyte as 1000 bytes; we count 1024).
    assert_eq!(charon.matches("received 2048000 lifebytes, configured 0").count(), 2, "{charon}");
    let old = installed_child(&before);
    // After 2.1 MB of pings (seconds of traffic, an hour of lifetime left): a new ESP SA on the
    // same ISAKMP SA, asked for by us (a second quick mode request from us, none from
    // strongSwan), the old one deleted, traffic passing.
    assert_eq!(after.fields["initiator-spi"], before.fields["initiator-spi"]);
    let new = installed_child(&after);
    assert_ne!(new["spi-in"], old["spi-in"], "{}", read(dir, "bytes.sas2"));
    assert_eq!(after.children.len(), 1, "{}", read(dir, "bytes.sas2"));
    assert!(charon.contains("detected rekeying of CHILD_SA aggr-psk{"), "{charon}");
    assert!(!charon.contains("generating QUICK_MODE request"), "{charon}");
    assert!(charon.contains("received DELETE for ESP CHILD_SA with SPI"), "{charon}");
    let pings = read(dir, "bytes.ping1.out");
    assert!(pings.contains("1500 packets transmitted"), "{pings}");
    assert_eq!(read(dir, "bytes.ping2.rc").trim(), "0", "{}", read(dir, "bytes.ping2.out"));
    assert_eq!(read(dir, "bytes.fg.rc").trim(), "0", "{}", read(dir, "bytes.fg.out"));
}

#[test]
fn our_ipsec_client_drops_an_esp_sa_strongswan_deletes_and_makes_it_again() {
    let Some(dir) = ours_run().folder("IKEv1: strongSwan deletes our ESP SA") else { return };
    let ours1 = status(dir, "childdel.status1.json");
    assert_eq!(ours1["child_sas"].as_array().map(Vec::len), Some(1), "{ours1}");
    let (in1, out1) = (&ours1["child_sas"][0]["spi_in"], &ours1["child_sas"][0]["spi_out"]);
    assert_eq!(ours1["datapath"]["sas"][0]["spi_in"], *in1, "{ours1}");
    assert_eq!(read(dir, "childdel.ping1.rc").trim(), "0", "{}", read(dir, "childdel.ping1.out"));
    let before = only_sa(dir, "childdel.sas1");
    let old = installed_child(&before);
    // `swanctl --terminate --child`: strongSwan's Delete names its inbound SPI (our outbound).
    let charon = read(dir, "childdel.charon.log");
    let sent = format!("sending DELETE for ESP CHILD_SA with SPI {}", old["spi-in"]);
    assert!(charon.contains(&sent), "{sent}: {charon}");
    assert_eq!(out1.as_str().map(|s| s.trim_start_matches("0x")), Some(old["spi-in"].as_str()));
    // Ours dropped that ESP SA (status and datapath) and made a new one under the same
    // ISAKMP SA, which carries traffic.
    let ours2 = status(dir, "childdel.status2.json");
    assert_eq!(ours2["status"], "connected", "{ours2}");
    assert_eq!(ours2["child_sas"].as_array().map(Vec::len), Some(1), "{ours2}");
    assert_ne!(&ours2["child_sas"][0]["spi_in"], in1, "{ours2}");
    assert_ne!(&ours2["child_sas"][0]["spi_out"], out1, "{ours2}");
    let datapath = ours2["datapath"]["sas"].as_array().expect("the datapath's SAs");
    assert_eq!(datapath.len(), 1, "{ours2}");
    assert_eq!(datapath[0]["spi_in"], ours2["child_sas"][0]["spi_in"], "{ours2}");
    let after = only_sa(dir, "childdel.sas2");
    assert_eq!(after.fields["initiator-spi"], before.fields["initiator-spi"]);
    assert_eq!(after.children.len(), 1, "{}", read(dir, "childdel.sas2"));
    let new = installed_child(&after);
    assert_ne!(new["spi-in"], old["spi-in"], "{}", read(dir, "childdel.sas2"));
    assert!(charon.contains("parsed QUICK_MODE request"), "our new quick mode: {charon}");
    assert_eq!(read(dir, "childdel.ping2.rc").trim(), "0", "{}", read(dir, "childdel.ping2.out"));
    assert_eq!(read(dir, "childdel.fg.rc").trim(), "0", "{}", read(dir, "childdel.fg.out"));
}

#[test]
fn our_dpd_asks_strongswan_only_while_the_tunnel_is_idle() {
    let Some(dir) = ours_run().folder("IKEv1: DPD only when idle") else { return };
    // 6 s of pings answered through the tunnel with a DPD interval of 2 s: ESP from the server
    // counts as hearing from it, no R-U-THERE goes out.
    assert_eq!(received(&read(dir, "ours.ping1.out")), 30, "{}", read(dir, "ours.ping1.out"));
    let busy = read(dir, "ours.busy.charon.log");
    assert_eq!(busy.matches("[ HASH N(DPD) ]").count(), 0, "{busy}");
    // 5 s idle: R-U-THERE, answered.
    let idle = read(dir, "ours.idle.charon.log");
    assert!(idle.matches("[ HASH N(DPD) ]").count() >= 1, "{idle}");
    assert!(idle.contains("[ HASH N(DPD_ACK) ]"), "{idle}");
}

#[test]
fn our_dpd_ends_the_connection_as_server_dead_when_strongswan_freezes() {
    let Some(dir) = ours_run().folder("IKEv1: DPD against a frozen strongSwan") else { return };
    assert_eq!(read(dir, "dead.ping.rc").trim(), "0", "{}", read(dir, "dead.ping.out"));
    let fg = read(dir, "dead.fg.out");
    eprintln!("frozen strongSwan: the connection ended {} ms later", read(dir, "dead.ms").trim());
    // It ended by itself (the script waited for that before stopping it), as IKEv2 does
    // when its liveness check goes unanswered.
    assert!(
        fg.contains(
            "dead: Connected -> Disconnected (ServerDead: the server stopped answering \
             (NEVPNConnectionError 7))"
        ),
        "{fg}"
    );
    assert_eq!(
        fg.lines().last(),
        Some(
            "ikeway: disconnected: ServerDead: the server stopped answering (NEVPNConnectionError 7)"
        )
    );
    assert_eq!(read(dir, "dead.fg.rc").trim(), "1");
}

#[test]
fn tshark_decrypts_every_ikev1_message_of_our_connect_with_its_key_log() {
    use std::os::unix::fs::PermissionsExt;
    let Some(dir) = ours_run().folder("IKEv1: key log and tshark") else { return };
    // One row per ISAKMP SA (the first and its renewal), in a new file only root can read.
    let keylog = read(dir, "ours.keylog");
    let mode = std::fs::metadata(dir.join("ours.keylog")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let cookies: Vec<&str> = keylog.lines().map(|l| l.split(',').next().unwrap()).collect();
    let (first, renewed) = (only_sa(dir, "ours.sas1"), only_sa(dir, "ours.sas3"));
    assert_eq!(cookies, [&first.fields["initiator-spi"], &renewed.fields["initiator-spi"]]);
    for l in keylog.lines() {
        let key = l.split_once(',').unwrap().1;
        assert_eq!(key.len(), 64, "AES-256: {l}");
    }
    let conf = dir.join("wireshark");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("ikev1_decryption_table"), &keylog).unwrap();
    let out = std::process::Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &conf)
        .arg("-r")
        .arg(dir.join("ours.pcapng"))
        .args(["-Y", "isakmp"])
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "isakmp.ispi", "-e", "isakmp.exchangetype", "-e", "isakmp.flags"])
        .args(["-e", "isakmp.typepayload", "-e", "_ws.malformed", "-e", "_ws.expert.message"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut encrypted = std::collections::BTreeMap::<(String, String), usize>::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split('|').collect();
        assert_eq!((f[4], f[5]), ("", ""), "tshark warnings in {l}");
        let flags = u8::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap();
        if flags & 1 == 1 {
            // Decrypted: the payloads behind the encryption are shown, HASH first (every
            // encrypted IKEv1 message here starts with one).
            assert!(f[3].starts_with("8"), "not decrypted: {l}");
            *encrypted.entry((f[0].to_owned(), f[1].to_owned())).or_default() += 1;
        }
    }
    // Both SAs' phase 1 (aggressive 4), XAUTH and mode config (6) and informational (5)
    // messages, and the first SA's quick modes (32), were encrypted and opened.
    for (cookie, exchanges) in
        [(cookies[0], &["4", "5", "6", "32"][..]), (cookies[1], &["4", "5", "6"])]
    {
        for x in exchanges {
            assert!(
                encrypted.contains_key(&(cookie.to_owned(), (*x).to_owned())),
                "no encrypted exchange {x} of {cookie}: {encrypted:?}\n{text}"
            );
        }
    }
}

#[test]
fn an_ask_every_time_profile_connects_with_the_password_given_at_start_and_not_without() {
    let Some(dir) = ours_run().folder("IKEv1: XAUTH password asked at each connection") else {
        return;
    };
    assert_eq!(
        read(dir, "prompt.import.out"),
        "installed \"prompt\" from profile \"IKEv1 prompt\" (managed)\n"
    );
    assert_eq!(read(dir, "prompt.nopw.rc").trim(), "1");
    assert_eq!(
        read(dir, "prompt.nopw.out"),
        "ikeway: XAUTH needs a password for \"alice\" and there is no terminal to ask; give it \
         with --password-file FILE\n"
    );
    assert_eq!(read(dir, "prompt.connect.rc").trim(), "0", "{}", read(dir, "prompt.connect.out"));
    let s = status(dir, "prompt.status.json");
    assert_eq!(s["status"], "connected", "{s}");
    // Cisco Unity's banner from strongSwan's mode config, shown by the status.
    assert_eq!(s["banner"], "Welcome to the ikeway IKEv1 testbed", "{s}");
    assert_eq!(read(dir, "prompt.ping.rc").trim(), "0", "{}", read(dir, "prompt.ping.out"));
    assert_eq!(read(dir, "prompt.disconnect.out"), "disconnected\n");
}

/// A Main Mode certificate case (`config add --type ipsec` with an identity, `--ca`): saved,
/// connected, pinged the protected host, the mode-config address in `status` is the one
/// strongSwan leased, both sides named by their certificates' names, disconnected cleanly.
fn certificate_case(dir: &Path, case: &str, server: &str) {
    assert_eq!(read(dir, &format!("{case}.add.out")), format!("saved \"{case}\"\n"));
    let connect = read(dir, &format!("{case}.connect.out"));
    assert_eq!(read(dir, &format!("{case}.connect.rc")).trim(), "0", "{case}: {connect}");
    assert_eq!(read(dir, &format!("{case}.ping.rc")).trim(), "0", "{case}");
    let s = status(dir, &format!("{case}.status.json"));
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["server"], format!("{server}:500"), "{s}");
    let mut sas = swanctl_sas(&read(dir, &format!("{case}.sas")));
    assert_eq!(sas.len(), 1, "{case}: {}", read(dir, &format!("{case}.sas")));
    let sa = sas.remove(0);
    assert_eq!(sa.fields["version"], "1");
    assert_eq!(sa.fields["state"], "ESTABLISHED");
    assert_eq!(sa.fields["local-id"], "srv.ikeway.test");
    assert_eq!(sa.fields["remote-id"], "cli.ikeway.test");
    let vip = &sa.fields["remote-vips"];
    assert!(vip.starts_with("10.88.1."), "{vip}");
    assert_eq!(s["internal_addresses"], serde_json::json!([format!("{vip}/32")]), "{s}");
    assert_eq!(sa.fields["initiator-spi"], s["ike_sa"]["spi_i"].as_str().unwrap());
    assert_eq!(sa.children[0]["state"], "INSTALLED");
    assert_ne!(sa.children[0]["packets-in"], "0");
    assert_eq!(read(dir, &format!("{case}.disconnect.out")), "disconnected\n");
    let end = read(dir, &format!("{case}.end.sas"));
    assert!(swanctl_sas(&end).is_empty(), "{case}: {end}");
    assert_client_restored(dir, case);
}

#[test]
fn our_ipsec_client_connects_with_ecdsa_certificates_in_main_mode() {
    let Some(dir) = dir("IKEv1 interop: Main Mode with ECDSA certificates") else { return };
    certificate_case(dir, "cert-ec", "10.99.0.52");
    let s = status(dir, "cert-ec.status.json");
    assert_eq!(s["ike_sa"]["group"], "ECP_256", "{s}");
    let charon = read(dir, "cert-ec.charon.log");
    assert!(
        charon.contains("authentication of 'cli.ikeway.test' with ECDSA_WITH_NULL successful"),
        "{charon}"
    );
}

#[test]
fn our_ipsec_client_connects_with_rsa_certificates_in_main_mode() {
    let Some(dir) = dir("IKEv1 interop: Main Mode with RSA certificates") else { return };
    certificate_case(dir, "cert-rsa", "10.99.0.53");
    let s = status(dir, "cert-rsa.status.json");
    assert_eq!(s["ike_sa"]["group"], "MODP_2048", "{s}");
    // strongSwan checked our RSA signature as PKCS#1 v1.5 around the bare hash (its
    // RSA_EMSA_PKCS1_NULL); we checked its (the SA would not be up otherwise).
    let charon = read(dir, "cert-rsa.charon.log");
    assert!(
        charon.contains("authentication of 'cli.ikeway.test' with RSA_EMSA_PKCS1_NULL successful"),
        "{charon}"
    );
}

#[test]
fn against_a_gateway_allowing_only_3des_sha1_for_esp_our_client_connects_and_pings() {
    let Some(dir) = dir("IKEv1 interop: ESP 3DES + HMAC-SHA1 only") else { return };
    certificate_case(dir, "cert-3des", "10.99.0.58");
    // strongSwan chose 3DES-CBC with HMAC-SHA1-96 from our offer (the only ESP suite it
    // allows) and both directions carried the ping under it.
    let sas = swanctl_sas(&read(dir, "cert-3des.sas"));
    let esp = &sas[0].children[0];
    assert_eq!(esp["encr-alg"], "3DES_CBC", "{esp:?}");
    assert_eq!(esp["integ-alg"], "HMAC_SHA1_96", "{esp:?}");
    assert_ne!(esp["packets-out"], "0", "{esp:?}");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused_with_the_certificate_error() {
    let Some(dir) = dir("IKEv1 interop: a server certificate from another CA") else { return };
    assert_eq!(read(dir, "cert-rogue.connect.rc").trim(), "1");
    assert_eq!(
        read(dir, "cert-rogue.connect.out"),
        "ikeway: cert-rogue: disconnected: ServerCertificateInvalid: the server certificate is \
         invalid (NEVPNConnectionError 17): the peer's certificate does not chain to a trusted \
         certificate authority (log: /run/ikeway/connection.log)\n"
    );
    let s = status(dir, "cert-rogue.status.after.json");
    assert_eq!(s["status"], "disconnected", "{s}");
    assert_eq!(s["last_disconnect_error"], "ServerCertificateInvalid", "{s}");
    assert_eq!(s["internal_addresses"], serde_json::json!([]), "{s}");
    // We said INVALID-CERT in the clear, and, strongSwan (the responder) being done with phase
    // 1 once it sent message 6, deleted the ISAKMP SA under the phase 1 keys: nothing is left.
    let charon = read(dir, "cert-rogue.charon.log");
    assert!(charon.contains("[ N(INVAL_CERT) ]"), "{charon}");
    assert!(charon.contains("received DELETE for IKE_SA main-cert["), "{charon}");
    let end = read(dir, "cert-rogue.end.sas");
    assert!(swanctl_sas(&end).is_empty(), "{end}");
    assert_client_restored(dir, "cert-rogue");
}

#[test]
fn hybrid_the_gateway_signs_and_our_client_proves_itself_with_xauth_only() {
    let Some(dir) = dir("IKEv1 interop: hybrid authentication") else { return };
    assert_eq!(read(dir, "hybrid.add.out"), "saved \"hybrid\"\n");
    let sa = connected_case(dir, "hybrid");
    assert_eq!(sa.fields["local-id"], "srv.ikeway.test");
    assert_eq!(sa.fields["remote-id"], "ikeway-group");
    let vip = &sa.fields["remote-vips"];
    let s = status(dir, "hybrid.status.json");
    assert_eq!(s["internal_addresses"], serde_json::json!([format!("{vip}/32")]), "{s}");
    assert_eq!(s["server"], "10.99.0.54:500", "{s}");
    // strongSwan chose hybrid for our offer, signed, took our bare HASH_I (no CERT, no SIG),
    // then XAUTH proved us.
    let charon = read(dir, "hybrid.charon.log");
    assert!(charon.contains("looking for HybridInitRSA peer configs"), "{charon}");
    assert!(charon.contains("parsed AGGRESSIVE request 0 [ HASH NAT-D NAT-D ]"), "{charon}");
    assert!(charon.contains("XAuth authentication of 'alice' successful"), "{charon}");
}

fn certs_run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start(
            "ikev1-certs.sh",
            "ikwvc",
            &["charon-systemd", "swanctl", "ping", "nft", "openssl", "tshark"],
            &[],
        )
    })
}

/// The packets counted by the first rule of `chain` in an `nft list table` output: the drop of
/// IKE datagrams over 1400 octets.
fn dropped(drops: &str, chain: &str) -> u64 {
    let rules = drops.split(&format!("chain {chain} {{")).nth(1).expect("chain listed");
    let drop_rule = rules.lines().find(|l| l.contains("meta length > 1400")).expect("rule");
    let packets = drop_rule.split("packets ").nth(1).expect("counter");
    packets.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn through_a_path_that_drops_large_datagrams_main_mode_certificates_go_in_fragments() {
    let Some(dir) =
        certs_run().folder("IKEv1: fragments through a path that drops large datagrams")
    else {
        return;
    };
    certificate_case(dir, "frag", "10.99.0.53");
    let drops = read(dir, "frag.drops");
    assert_eq!((dropped(&drops, "out"), dropped(&drops, "in")), (0, 0), "{drops}");
    // Both sides announced FRAGMENTATION; strongSwan joined our message 5 (RSA 4096: over the
    // path's 1400) and cut its message 6 (over its fragment_size of 1280) for us to join.
    let charon = read(dir, "frag.charon.log");
    for line in [
        "received FRAGMENTATION vendor ID",
        "sending FRAGMENTATION vendor ID",
        "received fragment #1, waiting for complete IKE message",
        "received fragment #2, reassembled fragmented IKE message",
        "generating ID_PROT response 0 [ FRAG(2/2) ]",
        "authentication of 'cli.ikeway.test' with RSA_EMSA_PKCS1_NULL successful",
    ] {
        assert!(charon.contains(line), "{line}: {charon}");
    }
    // tshark 4.0.17 on strongSwan's link: every IKE datagram within 1400 octets, fragments
    // numbered with the last flagged, each message joined (ours and strongSwan's), nothing
    // malformed, no expert message.
    let fields = ["ip.src", "ip.len", "isakmp.frag.seq", "isakmp.frag.last", "isakmp.length"];
    let mut args = vec!["-Y", "isakmp", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"];
    for f in fields.iter().chain(&["_ws.malformed", "_ws.expert.message"]) {
        args.extend(["-e", f]);
    }
    let text = ikeway_testkit::pcap::tshark(&dir.join("frag.pcapng"), &args);
    let mut joined = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split('|').collect();
        assert_eq!((f[5], f[6]), ("", ""), "tshark warnings in {l}");
        let ip_len: usize = f[1].parse().unwrap();
        assert!(ip_len <= 1400, "{l}");
        if f[3] == "1" {
            // The last fragment: its own length, then the joined message's.
            let whole: usize = f[4].split(',').nth(1).expect("joined").parse().unwrap();
            joined.push((f[0].to_owned(), f[2].to_owned(), whole));
        }
    }
    assert_eq!(joined.len(), 2, "{text}");
    let (ours, theirs) = (&joined[0], &joined[1]);
    assert_eq!((ours.0.as_str(), ours.1.as_str()), ("10.99.0.1", "2"), "{text}");
    assert_eq!((theirs.0.as_str(), theirs.1.as_str()), ("10.99.0.53", "2"), "{text}");
    assert!(ours.2 > 1400 && theirs.2 > 1280, "{joined:?}");
    assert!(charon.contains(&format!("reassembled fragmented IKE message ({} bytes)", ours.2)));
}

#[test]
fn without_fragments_at_the_gateway_that_path_drops_our_message_5() {
    let Some(dir) = certs_run().folder("IKEv1: no fragments, the path drops message 5") else {
        return;
    };
    // The control: the same client and path against main-rsa-nofrag. We did not fragment (no
    // FRAGMENTATION from strongSwan), the path dropped our message 5 and its resends.
    assert_eq!(read(dir, "frag-nofrag.connect.rc").trim(), "1");
    let drops = read(dir, "frag-nofrag.drops");
    assert!(dropped(&drops, "out") >= 2, "{drops}");
    let charon = read(dir, "frag-nofrag.charon.log");
    assert!(!charon.contains("sending FRAGMENTATION vendor ID"), "{charon}");
    assert!(charon.contains("received FRAGMENTATION vendor ID"), "{charon}");
    assert!(!charon.contains("parsed ID_PROT request 0 [ ID CERT SIG"), "{charon}");
    assert!(!charon.contains("fragment"), "{charon}");
}

/// A certificate + XAUTH case that connected: strongSwan took our RSA signature, then XAUTH.
fn certificate_xauth_case(dir: &Path, case: &str, server: &str) {
    let sa = connected_case(dir, case);
    assert_eq!(sa.fields["local-id"], "srv.ikeway.test");
    assert_eq!(sa.fields["remote-id"], "cli.ikeway.test");
    let vip = &sa.fields["remote-vips"];
    assert!(vip.starts_with("10.88.1."), "{vip}");
    let s = status(dir, &format!("{case}.status.json"));
    assert_eq!(s["internal_addresses"], serde_json::json!([format!("{vip}/32")]), "{s}");
    assert_eq!(s["server"], format!("{server}:500"), "{s}");
    let charon = read(dir, &format!("{case}.charon.log"));
    for line in [
        "looking for XAuthInitRSA peer configs",
        "authentication of 'cli.ikeway.test' with RSA_EMSA_PKCS1_NULL successful",
        "XAuth authentication of 'alice' successful",
    ] {
        assert!(charon.contains(line), "{line}: {charon}");
    }
}

#[test]
fn certificates_then_xauth_connect_ping_and_show_the_mode_config_address() {
    let Some(dir) = certs_run().folder("IKEv1: certificates and XAUTH") else { return };
    assert_eq!(read(dir, "certx.add.out"), "saved \"certx\"\n");
    certificate_xauth_case(dir, "certx", "10.99.0.56");
}

#[test]
fn certificates_then_a_wrong_xauth_password_is_authentication_failed_with_the_reason() {
    let Some(dir) = certs_run().folder("IKEv1: certificates and a wrong XAUTH password") else {
        return;
    };
    assert_authentication_failed(dir, "certx-badpw", "certx-badpw.status.json", Some(XAUTH_FAILED));
    let charon = read(dir, "certx-badpw.charon.log");
    assert!(
        charon.contains("authentication of 'cli.ikeway.test' with RSA_EMSA_PKCS1_NULL successful"),
        "{charon}"
    );
    assert!(charon.contains("XAuth authentication of 'alice' failed"), "{charon}");
    let end = read(dir, "certx-badpw.end.sas");
    assert!(swanctl_sas(&end).is_empty(), "{end}");
    assert_client_restored(dir, "certx-badpw");
}

#[test]
fn an_apple_certificate_profile_with_xauth_imports_and_connects() {
    let Some(dir) = certs_run().folder("IKEv1: an Apple certificate + XAUTH profile") else {
        return;
    };
    assert_eq!(
        read(dir, "certx-profile.import.out"),
        "installed \"certx-profile\" from profile \"IKEv1 certificate and XAUTH\" (managed)\n"
    );
    certificate_xauth_case(dir, "certx-profile", "10.99.0.56");
}
