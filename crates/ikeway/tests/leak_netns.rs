//! The IncludeAllNetworks kill switch against strongSwan 5.9.8: `testbeds/leak-netns.sh`
//! connects a profile with IncludeAllNetworks (and On Demand, so the connection stays wanted)
//! from a client namespace, captures every frame on the client's outer link, sends IPv4 and
//! IPv6 probes (ping, UDP, TCP to addresses in the test's namespaces) while the tunnel is up,
//! after the server deleted the IKE SA and was SIGKILLed (tunnel down, On Demand retrying),
//! after `disconnect` (as a control: the same probes must then be on the wire), and after the
//! connection itself was SIGKILLed; then starts another configuration. This judges what it
//! recorded (one run shared by the tests below).
//!
//! The `ikev1_*` tests judge the same run made with an IPSec (IKEv1, "Cisco IPSec")
//! configuration against strongSwan's Aggressive Mode PSK + XAUTH gateway
//! (`testbeds/leak-netns-ikev1.sh`, server 10.99.0.51): the same checks, the same kill switch.
//!
//! Needs root, network namespaces, nftables, strongSwan, dumpcap and tshark
//! (`testbeds/install-peers.sh`); without them it says loudly that it was skipped.

mod testbed;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use testbed::{BedRun, read, status};

/// The server's IPv6 address in the IKEv2 run (the IKEv1 gateway has none).
const SERVER6: &str = "fd99::2";
const NEEDS: &[&str] = &["charon-systemd", "swanctl", "dumpcap", "tshark", "ping"];

/// Which protocol's configuration the run connected.
#[derive(Clone, Copy)]
enum Proto {
    Ikev2,
    Ikev1,
}

/// A run's folder and the server it let out.
struct Bed {
    dir: &'static Path,
    server4: String,
    server6: Option<&'static str>,
}

fn run(proto: Proto) -> &'static BedRun {
    static IKEV2: OnceLock<BedRun> = OnceLock::new();
    static IKEV1: OnceLock<BedRun> = OnceLock::new();
    match proto {
        Proto::Ikev2 => IKEV2.get_or_init(|| BedRun::start("leak-netns.sh", "ikwlk", NEEDS, &[])),
        Proto::Ikev1 => {
            IKEV1.get_or_init(|| BedRun::start("leak-netns-ikev1.sh", "ikwl1", NEEDS, &[]))
        }
    }
}

/// The run's folder, once the client connected; `None` after a loud skip.
fn bed(proto: Proto) -> Option<Bed> {
    let what = match proto {
        Proto::Ikev2 => "IncludeAllNetworks leak test (ikeway connect vs strongSwan, IKEv2)",
        Proto::Ikev1 => "IncludeAllNetworks leak test (ikeway connect vs strongSwan, IPSec IKEv1)",
    };
    let dir = run(proto).folder(what)?;
    testbed::assert_connected(dir);
    let server4 = read(dir, "server4").trim().to_owned();
    assert!(!server4.is_empty(), "the bed wrote no server address");
    let server6 = matches!(proto, Proto::Ikev2).then_some(SERVER6);
    Some(Bed { dir, server4, server6 })
}

/// When each phase began (seconds since the epoch).
fn phases(dir: &Path) -> BTreeMap<String, f64> {
    read(dir, "phases.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_owned(), t.parse().expect("a time")))
        .collect()
}

/// One frame the client sent on its outer link (`outer.tsv`, tshark's fields).
#[derive(Debug)]
struct Frame {
    time: f64,
    fields: Vec<String>,
}

impl Frame {
    fn f(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", String::as_str)
    }
    fn ether(&self) -> &str {
        self.f(2)
    }
    fn ip_dst(&self) -> &str {
        self.f(4)
    }
    fn ip_proto(&self) -> &str {
        self.f(5)
    }
    fn ip6_src(&self) -> &str {
        self.f(6)
    }
    fn ip6_dst(&self) -> &str {
        self.f(7)
    }
    fn hop_limit(&self) -> &str {
        self.f(8)
    }
    fn udp_ports(&self) -> (&str, &str) {
        (self.f(9), self.f(10))
    }
    fn tcp_dport(&self) -> &str {
        self.f(11)
    }
    fn icmpv6(&self) -> &str {
        self.f(12)
    }

    /// What the kill switch lets out: IKE (500, 4500) and ESP to the server from our IKE
    /// sockets (ports 500 and 4500 at both ends here), ARP, DHCP, and IPv6 neighbor discovery
    /// (hop limit 255) and MLD (hop limit 1) that stay on the link.
    fn allowed(&self, bed: &Bed) -> bool {
        let ike = |dst: &str, server: Option<&str>| {
            Some(dst) == server
                && (self.ip_proto() == "50"
                    || matches!(self.udp_ports(), ("500" | "4500", "500" | "4500")))
        };
        match self.ether() {
            "0x0806" => true,
            "0x0800" => ike(self.ip_dst(), Some(&bed.server4)) || self.udp_ports() == ("68", "67"),
            "0x86dd" => {
                let link = matches!(
                    (self.icmpv6(), self.hop_limit()),
                    ("133" | "135" | "136", "255") | ("130" | "131" | "132" | "143", "1")
                );
                let dhcp6 = self.udp_ports() == ("546", "547")
                    && self.ip6_src().starts_with("fe80:")
                    && self.ip6_dst() == "ff02::1:2";
                link || dhcp6 || (self.f(5).is_empty() && ike(self.ip6_dst(), bed.server6))
            }
            _ => false,
        }
    }
}

/// The frames our client sent (its MAC as source), in capture order.
fn client_frames(dir: &Path) -> Vec<Frame> {
    let mac = read(dir, "client.mac").trim().to_owned();
    assert!(!mac.is_empty(), "client.mac is empty");
    let frames: Vec<Frame> = read(dir, "outer.tsv")
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f.get(1).is_some_and(|m| *m == mac))
        .map(|fields| Frame { time: fields[0].parse().expect("frame.time_epoch"), fields })
        .collect();
    assert!(!frames.is_empty(), "no frame of the client captured: {}", read(dir, "outer.tsv"));
    frames
}

fn in_window(frames: &[Frame], from: f64, to: f64) -> Vec<&Frame> {
    frames.iter().filter(|f| f.time >= from && f.time < to).collect()
}

/// `probe.PHASE`: each probe's exit status.
fn probes(dir: &Path, phase: &str) -> Vec<(String, String, i32)> {
    let probes: Vec<(String, String, i32)> = read(dir, &format!("probe.{phase}"))
        .lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            Some((w.next()?.to_owned(), w.next()?.to_owned(), w.next()?.parse().ok()?))
        })
        .collect();
    assert_eq!(probes.len(), 17, "{phase}: {probes:?}");
    probes
}

fn assert_all_failed(dir: &Path, phase: &str) {
    let got_out: Vec<_> = probes(dir, phase).into_iter().filter(|p| p.2 == 0).collect();
    assert!(got_out.is_empty(), "{phase}: probes that were sent: {got_out:?}");
}

/// The packets our drop rule counted (`counter packets N ... drop` of the output chain).
fn dropped(nft: &str) -> u64 {
    nft.lines()
        .find(|l| l.contains("counter packets") && l.trim_end().ends_with("drop"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no drop counter in {nft}"))
}

fn table_gone(dir: &Path, phase: &str) {
    let nft = read(dir, &format!("nft.{phase}"));
    assert!(
        !nft.contains("table inet ikeway {") && nft.contains("No such file or directory"),
        "{phase}: the table is still there: {nft}"
    );
}

/// While connected: all IPv4 and IPv6 into the tunnel (two /1 routes each), the server pinned
/// outside, the kill switch in place; IPv4 goes through the tunnel, IPv6 (which this tunnel
/// does not carry: the server gave no IPv6 address) goes nowhere.
fn check_connected_everything_goes_into_the_tunnel_and_ipv6_is_blocked(bed: &Bed) {
    let dir = bed.dir;
    let r4 = read(dir, "routes4.up");
    let r6 = read(dir, "routes6.up");
    let pinned = format!("{} dev ike0", bed.server4);
    for want in ["0.0.0.0/1 dev ikeway0", "128.0.0.0/1 dev ikeway0", pinned.as_str()] {
        assert!(r4.contains(want), "{want} missing: {r4}");
    }
    // excludeLocalNetworks = NO (Apple's default): the LAN goes into the tunnel too, as the
    // two halves of each connected network.
    for want in ["10.99.0.0/25 dev ikeway0", "10.99.0.128/25 dev ikeway0"] {
        assert!(r4.contains(want), "{want} missing: {r4}");
    }
    for want in ["::/1 dev ikeway0", "8000::/1 dev ikeway0", "fd99::/65 dev ikeway0"] {
        assert!(r6.contains(want), "{want} missing: {r6}");
    }
    let nft = read(dir, "nft.up");
    let ike = format!("ip daddr {} udp dport {{ 500, 4500 }} meta skuid 0 accept", bed.server4);
    let esp = format!("ip daddr {} meta l4proto esp meta skuid 0 accept", bed.server4);
    for want in [
        "type filter hook output priority filter; policy drop;",
        "oifname \"ikeway0\" accept",
        ike.as_str(),
        esp.as_str(),
        "type filter hook forward priority filter; policy drop;",
    ] {
        assert!(nft.contains(want), "{want} missing: {nft}");
    }
    let up = status(dir, "status.up.json");
    assert_eq!(up["status"], "connected", "{up}");
    assert_eq!(up["kill_switch"], true, "{up}");
    assert_eq!(read(dir, "tunnel-ping.rc").trim(), "0", "{}", read(dir, "tunnel-ping.out"));
    for (kind, target, rc) in probes(dir, "up") {
        if kind == "nobody-udp" {
            assert_ne!(rc, 0, "user nobody sent to {target} through the opening to the server");
        }
        if target.contains(':') && kind != "udp" && kind != "nobody-udp" {
            assert_ne!(rc, 0, "{kind} to {target} got an answer");
        }
    }
}

/// The tunnel down (server gone, On Demand retrying): no routes into the tunnel, the table
/// still there and counting what it drops, every probe refused.
fn check_down_the_table_stays_and_drops_every_probe(bed: &Bed) {
    let dir = bed.dir;
    for phase in ["down", "down2"] {
        let s = status(dir, &format!("status.{phase}.json"));
        assert_ne!(s["status"], "connected", "{phase}: the tunnel is still up: {s}");
        assert_eq!(s["wanted"], true, "{phase}: {s}");
        assert_eq!(s["kill_switch"], true, "{phase}: engaged whatever the tunnel's status: {s}");
        let r4 = read(dir, &format!("routes4.{phase}"));
        assert!(!r4.contains("0.0.0.0/1"), "{phase}: routes still in place: {r4}");
        assert_all_failed(dir, phase);
    }
    let before = dropped(&read(dir, "nft.down"));
    let after = dropped(&read(dir, "nft.down2"));
    assert!(before > 0 && after > before, "the drop rule counted {before}, then {after}");
    let log = read(dir, "connection1.log");
    assert!(log.contains("kill switch engaged"), "{log}");
    assert!(log.contains("on demand: connecting"), "On Demand kept it wanted: {log}");
}

/// The capture: from `connect` to `disconnect`, and while a killed connection's table stays,
/// the client sent nothing but IKE/ESP to the server and link upkeep; after `disconnect` the
/// same probes are on the wire (so the capture would have seen a leak).
fn check_the_outer_link_carries_only_ike_and_esp_to_the_server(bed: &Bed) {
    let dir = bed.dir;
    let p = phases(dir);
    let frames = client_frames(dir);
    for (from, to) in [("start", "disconnect"), ("killed", "end")] {
        let window = in_window(&frames, p[from], p[to]);
        let leaks: Vec<&&Frame> = window.iter().filter(|f| !f.allowed(bed)).collect();
        assert!(leaks.is_empty(), "{from}..{to}: {} frames leaked: {leaks:#?}", leaks.len());
        if from == "start" {
            let ike = window.iter().filter(|f| f.ip_dst() == bed.server4).count();
            assert!(ike > 0, "no IKE/ESP seen: the capture saw nothing of the connection");
        }
    }
    // The control: the same probes without the VPN leave and are captured.
    let control = in_window(&frames, p["control"], p["killed"]);
    let seen = |dst: &str, what: &dyn Fn(&Frame) -> bool| {
        control.iter().any(|f| (f.ip_dst() == dst || f.ip6_dst() == dst) && what(f))
    };
    for dst in ["10.99.0.2", "10.77.0.2", "fd99::2", "fd77::2"] {
        assert!(seen(dst, &|f| f.udp_ports().1 == "9"), "control: no UDP probe to {dst}");
        assert!(seen(dst, &|f| f.tcp_dport() == "80"), "control: no TCP probe to {dst}");
        let ping = |f: &Frame| f.ip_proto() == "1" || f.icmpv6() == "128";
        assert!(seen(dst, &ping), "control: no ping to {dst}");
    }
    for port in ["500", "4500"] {
        assert!(
            seen(&bed.server4, &|f| f.udp_ports().1 == port && !f.allowed(bed)),
            "control: no UDP from user nobody to the server's port {port}"
        );
    }
    assert!(control.iter().any(|f| !f.allowed(bed)), "control frames count as leaks");
}

/// `disconnect` removes the table and every route it added, IPv4 and IPv6.
fn check_disconnect_removes_the_table_and_the_routes(bed: &Bed) {
    let dir = bed.dir;
    assert!(
        read(dir, "disconnect.out").contains("disconnected"),
        "{}",
        read(dir, "disconnect.out")
    );
    table_gone(dir, "disconnect");
    assert_eq!(read(dir, "routes4.disconnect"), read(dir, "routes4.before"));
    assert_eq!(read(dir, "routes6.disconnect"), read(dir, "routes6.before"));
    let log = read(dir, "connection1.log");
    assert!(log.contains("kill switch engaged"), "{log}");
}

/// A SIGKILLed connection leaves its table (the host stays closed, not open); the next start
/// takes it over (replaced, never lifted in between) and `disconnect` lifts it; after a second
/// SIGKILL, `disconnect` with nothing running lifts it; at the end nothing of ours is left.
fn check_a_killed_connection_fails_closed_and_the_next_start_lifts_it(bed: &Bed) {
    let dir = bed.dir;
    assert_eq!(read(dir, "connect2.rc").trim(), "0", "{}", read(dir, "connect2.out"));
    assert!(!read(dir, "killed.pids").trim().is_empty(), "no connection process was killed");
    let nft = read(dir, "nft.killed");
    assert!(nft.contains("table inet ikeway {") && nft.contains("policy drop"), "{nft}");
    assert_all_failed(dir, "killed");
    assert_eq!(read(dir, "connect3.rc").trim(), "0", "{}", read(dir, "connect3.out"));
    let log = read(dir, "connection3.log");
    assert!(
        log.contains("took over the kill switch a connection that did not end cleanly left"),
        "{log}"
    );
    assert!(!log.contains("lifted the kill switch"), "lifted before the new connection: {log}");
    let nft = read(dir, "nft.restart");
    assert!(nft.contains("table inet ikeway {") && nft.contains("policy drop"), "{nft}");
    table_gone(dir, "restarted-disconnect");
    assert_eq!(read(dir, "connect4.rc").trim(), "0", "{}", read(dir, "connect4.rc.out"));
    assert!(!read(dir, "killed2.pids").trim().is_empty(), "no connection process was killed");
    assert!(read(dir, "nft.killed2").contains("table inet ikeway {"));
    let out = read(dir, "disconnect4.out");
    assert!(out.contains("cleaned up what a crashed connection left behind"), "{out}");
    table_gone(dir, "end");
    assert_eq!(read(dir, "routes4.end"), read(dir, "routes4.before"));
    assert_eq!(read(dir, "routes6.end"), read(dir, "routes6.before"));
}

#[test]
fn connected_everything_goes_into_the_tunnel_and_ipv6_is_blocked() {
    if let Some(bed) = bed(Proto::Ikev2) {
        check_connected_everything_goes_into_the_tunnel_and_ipv6_is_blocked(&bed);
    }
}

#[test]
fn ikev1_connected_everything_goes_into_the_tunnel_and_ipv6_is_blocked() {
    if let Some(bed) = bed(Proto::Ikev1) {
        check_connected_everything_goes_into_the_tunnel_and_ipv6_is_blocked(&bed);
    }
}

#[test]
fn down_the_table_stays_and_drops_every_probe() {
    if let Some(bed) = bed(Proto::Ikev2) {
        check_down_the_table_stays_and_drops_every_probe(&bed);
    }
}

#[test]
fn ikev1_down_the_table_stays_and_drops_every_probe() {
    if let Some(bed) = bed(Proto::Ikev1) {
        check_down_the_table_stays_and_drops_every_probe(&bed);
    }
}

#[test]
fn the_outer_link_carries_only_ike_and_esp_to_the_server() {
    if let Some(bed) = bed(Proto::Ikev2) {
        check_the_outer_link_carries_only_ike_and_esp_to_the_server(&bed);
    }
}

#[test]
fn ikev1_the_outer_link_carries_only_ike_and_esp_to_the_server() {
    if let Some(bed) = bed(Proto::Ikev1) {
        check_the_outer_link_carries_only_ike_and_esp_to_the_server(&bed);
    }
}

#[test]
fn disconnect_removes_the_table_and_the_routes() {
    if let Some(bed) = bed(Proto::Ikev2) {
        check_disconnect_removes_the_table_and_the_routes(&bed);
    }
}

#[test]
fn ikev1_disconnect_removes_the_table_and_the_routes() {
    if let Some(bed) = bed(Proto::Ikev1) {
        check_disconnect_removes_the_table_and_the_routes(&bed);
    }
}

#[test]
fn a_killed_connection_fails_closed_and_the_next_start_lifts_it() {
    if let Some(bed) = bed(Proto::Ikev2) {
        check_a_killed_connection_fails_closed_and_the_next_start_lifts_it(&bed);
    }
}

#[test]
fn ikev1_a_killed_connection_fails_closed_and_the_next_start_lifts_it() {
    if let Some(bed) = bed(Proto::Ikev1) {
        check_a_killed_connection_fails_closed_and_the_next_start_lifts_it(&bed);
    }
}
