//! `LinuxHost` against a real kernel, as root, in a network namespace of its own: each test
//! runs itself again under `unshare --net`, makes an uplink with a default route and the TUN
//! link `ikeway7` (persistent, no datapath attached) there, applies a plan over rtnetlink and reads the result
//! back with `ip -j`: the exact addresses, MTU and routes; then undoes it (or drops it, as a
//! crash would, and undoes it from the record) and checks that nothing is left. One test
//! starts a session with a TUN datapath there, to check that the device is gone once the
//! session says it is disconnected.
//!
//! ```text
//!   [ ikeway7 (TUN) ]   [ uplink (veth) 198.51.100.2/24, 2001:db8:1::2/64 ]
//!                         default via 198.51.100.1 / 2001:db8:1::1
//! ```

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{Config, ConfigReceived};
use ikeway_tunnel::host::dirfd::DirFd;
use ikeway_tunnel::host::dns::{Resolver, resolv_conf_text};
use ikeway_tunnel::host::record::{self, STATE_FILE};
use ikeway_tunnel::host::{
    HostError, HostNetwork, LinuxHost, RoutingSettings, StateFile, TunnelPlan, configure_link,
};
use ikeway_tunnel::{EventKind, Ports, Session, SessionOptions, Status, TunOptions};
use serde_json::Value;

const INNER: &str = "IKEWAY_HOST_NETNS_INNER";
const TUN: &str = "ikeway7";
const SERVER: &str = "192.0.2.1";
const ORIGINAL_RESOLV: &str = "# the host's\nnameserver 192.0.2.53\n";

/// Runs `body` in a fresh network namespace (this test binary again, under `unshare --net`).
fn in_netns(test: &str, body: fn()) {
    if std::env::var_os(INNER).is_some() {
        body();
        return;
    }
    if !ikeway_testkit::is_root() {
        return ikeway_testkit::skip(test, "not root (network namespaces need root)");
    }
    for tool in ["unshare", "ip"] {
        if !ikeway_testkit::have(tool) {
            return ikeway_testkit::skip(test, &format!("{tool} is not installed"));
        }
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("--net")
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} in its namespace:\n{text}");
    // The inner run must have run the test, not filtered it away.
    assert!(text.contains("1 passed"), "{test} did not run in its namespace:\n{text}");
}

fn ip(args: &str) -> String {
    let out = Command::new("ip").args(args.split_whitespace()).output().unwrap();
    assert!(out.status.success(), "ip {args}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &str) -> Vec<Value> {
    let text = ip(&format!("-j {args}"));
    if text.trim().is_empty() { Vec::new() } else { serde_json::from_str(&text).unwrap() }
}

fn setup() {
    for cmd in [
        "link set lo up",
        "link add uplink type veth peer name uplink-peer",
        "link set uplink-peer up",
        "link set uplink up",
        "addr add 198.51.100.2/24 dev uplink",
        "-6 addr add 2001:db8:1::2/64 dev uplink nodad",
        "route add default via 198.51.100.1 dev uplink",
        "-6 route add default via 2001:db8:1::1 dev uplink",
        "tuntap add dev ikeway7 mode tun",
    ] {
        ip(cmd);
    }
}

/// Routes with proto 77 in the main table, as `dst [via gw] dev dev`, sorted.
fn our_routes() -> Vec<String> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        for r in json(&format!("{family} route show table main proto 77")) {
            let mut s = r["dst"].as_str().unwrap().to_owned();
            if let Some(gw) = r["gateway"].as_str() {
                s.push_str(&format!(" via {gw}"));
            }
            s.push_str(&format!(" dev {}", r["dev"].as_str().unwrap()));
            out.push(s);
        }
    }
    out.sort();
    out
}

/// The global addresses of the TUN link, its MTU and whether it is up.
fn link() -> (Vec<String>, u64, bool) {
    let l = &json(&format!("addr show dev {TUN}"))[0];
    let addrs = l["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "global")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    let up = l["flags"].as_array().unwrap().iter().any(|f| f == "UP");
    (addrs, l["mtu"].as_u64().unwrap(), up)
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/resolv.conf"), ORIGINAL_RESOLV).unwrap();
        Self { dir }
    }
    fn store(&self) -> Box<StateFile> {
        Box::new(StateFile::new(DirFd::open(self.dir.path()).unwrap()))
    }
    fn resolver(&self) -> Resolver {
        Resolver::ResolvConf(DirFd::open(&self.dir.path().join("etc")).unwrap())
    }
    fn host(&self) -> LinuxHost {
        LinuxHost::new(TUN, self.store()).unwrap().with_resolver(self.resolver())
    }
    fn resolv_conf(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etc/resolv.conf")).unwrap()
    }
    fn record(&self) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join(STATE_FILE)).ok()
    }
}

fn plan() -> TunnelPlan {
    let settings =
        RoutingSettings { include_all_networks: true, mtu: Some(1380), ..Default::default() };
    let reply = ConfigReceived {
        addresses: vec![
            ("10.88.0.2".parse().unwrap(), 24),
            ("2001:db8:88::2".parse().unwrap(), 64),
        ],
        dns: vec!["10.88.0.1".parse().unwrap()],
        dns_domains: vec!["corp.example".into()],
        subnets: Vec::new(),
    };
    TunnelPlan::new(&settings, &reply, &[], SERVER.parse::<IpAddr>().unwrap()).unwrap()
}

const APPLIED_ROUTES: [&str; 5] = [
    "0.0.0.0/1 dev ikeway7",
    "128.0.0.0/1 dev ikeway7",
    "192.0.2.1 via 198.51.100.1 dev uplink",
    "8000::/1 dev ikeway7",
    "::/1 dev ikeway7",
];

fn assert_applied(s: &Scratch, p: &TunnelPlan) {
    let (addrs, mtu, up) = link();
    assert_eq!(addrs, ["10.88.0.2/32", "2001:db8:88::2/128"]);
    assert_eq!(mtu, 1380);
    assert!(up, "{TUN} is not up");
    assert_eq!(our_routes(), APPLIED_ROUTES);
    // The server is reached outside the tunnel, everything else through it.
    assert!(ip("route get 192.0.2.1").contains("via 198.51.100.1 dev uplink"));
    assert!(ip("route get 203.0.113.9").contains("dev ikeway7"));
    assert!(ip("-6 route get 2001:db8:99::1").contains("dev ikeway7"));
    assert_eq!(s.resolv_conf(), resolv_conf_text(p.dns()));
    let state = record::parse(&s.record().expect("a record while applied")).unwrap();
    assert_eq!(state.tun(), TUN);
    assert_eq!(state.routes, p.routes());
    let pinned = state.server_route.unwrap();
    assert_eq!(pinned.dest.to_string(), SERVER);
    assert_eq!(pinned.via.map(|v| v.to_string()).as_deref(), Some("198.51.100.1"));
    assert_eq!(pinned.dev, "uplink");
}

fn assert_undone(s: &Scratch) {
    assert_eq!(our_routes(), Vec::<String>::new());
    assert_eq!(s.resolv_conf(), ORIGINAL_RESOLV);
    assert_eq!(s.record(), None);
    // The host's own routes are untouched.
    assert!(ip("route show default").contains("via 198.51.100.1 dev uplink"));
    assert!(ip("-6 route show default").contains("via 2001:db8:1::1 dev uplink"));
}

#[test]
fn applies_and_undoes_a_plan() {
    in_netns("applies_and_undoes_a_plan", || {
        setup();
        let s = Scratch::new();
        let p = plan();
        let mut host = s.host();
        assert_eq!(host.apply(&p).unwrap(), Vec::<String>::new());
        assert_applied(&s, &p);
        host.undo().unwrap();
        assert_undone(&s);
    });
}

/// RFC 5685: after a redirect the connection undoes its plan and applies the next server's on
/// the same link; the link then carries the new addresses only (the old ones would still be
/// picked as sources), and the plan is undone as usual.
#[test]
fn a_plan_after_a_redirect_replaces_the_links_addresses() {
    in_netns("a_plan_after_a_redirect_replaces_the_links_addresses", || {
        setup();
        let s = Scratch::new();
        let first = plan();
        let mut host = s.host();
        host.apply(&first).unwrap();
        host.undo().unwrap();
        let settings =
            RoutingSettings { include_all_networks: true, mtu: Some(1380), ..Default::default() };
        let reply = ConfigReceived {
            addresses: vec![("10.88.1.7".parse().unwrap(), 24)],
            ..ConfigReceived::default()
        };
        let second =
            TunnelPlan::new(&settings, &reply, &[], SERVER.parse::<IpAddr>().unwrap()).unwrap();
        host.apply(&second).unwrap();
        assert_eq!(link().0, ["10.88.1.7/32"]);
        assert_eq!(our_routes(), APPLIED_ROUTES);
        host.undo().unwrap();
        assert_undone(&s);
    });
}

/// A connection that crashed leaves its record; the next one undoes it from the record.
#[test]
fn undoes_a_crashed_connection_from_its_record() {
    in_netns("undoes_a_crashed_connection_from_its_record", || {
        setup();
        let s = Scratch::new();
        let p = plan();
        let mut host = s.host();
        host.apply(&p).unwrap();
        drop(host);
        assert_applied(&s, &p);
        assert!(LinuxHost::recover(s.store(), Some(s.resolver())).unwrap());
        assert_undone(&s);
        assert!(!LinuxHost::recover(s.store(), Some(s.resolver())).unwrap());
    });
}

/// Issue 9 finding 1: a record that names another link is refused whole: nothing of it is
/// undone, not even its valid parts, and it stays for a person to look at.
#[test]
fn refuses_a_foreign_record_and_undoes_nothing() {
    in_netns("refuses_a_foreign_record_and_undoes_nothing", || {
        setup();
        ip("route add 10.50.0.0/16 dev uplink proto 77");
        let s = Scratch::new();
        let foreign = br#"{"tun": "uplink", "routes": ["10.50.0.0/16"]}"#;
        std::fs::write(s.dir.path().join(STATE_FILE), foreign).unwrap();
        let err = LinuxHost::recover(s.store(), Some(s.resolver())).unwrap_err();
        assert!(matches!(err, HostError::Record { .. }), "{err}");
        assert_eq!(our_routes(), ["10.50.0.0/16 dev uplink"]);
        assert_eq!(s.record().as_deref(), Some(&foreign[..]));
    });
}

/// A route someone else made to the same network is neither replaced nor removed: adding
/// ours fails, and undoing deletes only routes of our protocol.
#[test]
fn leaves_routes_of_others_alone() {
    in_netns("leaves_routes_of_others_alone", || {
        setup();
        ip("link set ikeway7 up");
        ip("route add 0.0.0.0/1 dev ikeway7 proto static");
        let s = Scratch::new();
        let mut host = s.host();
        let err = host.apply(&plan()).unwrap_err();
        assert!(err.to_string().contains("ip route add 0.0.0.0/1 dev ikeway7 proto 77"), "{err}");
        host.undo().unwrap();
        assert_undone(&s);
        assert!(ip("route show 0.0.0.0/1").contains("proto static"));
    });
}

/// A datapath with fixed options (`initiate --tun --tun-addr --tun-route`): the link is set up
/// over rtnetlink exactly as asked (a route's host bits cleared), and doing it again changes
/// nothing (replace, not add).
#[test]
fn configures_a_link_with_fixed_options() {
    in_netns("configures_a_link_with_fixed_options", || {
        setup();
        let addresses = [("10.1.0.1".parse().unwrap(), 24), ("2001:db8:5::1".parse().unwrap(), 64)];
        let routes = [("10.2.3.4".parse().unwrap(), 16)];
        for _ in 0..2 {
            configure_link(TUN, 1300, &addresses, &routes).unwrap();
            let (addrs, mtu, up) = link();
            assert_eq!(addrs, ["10.1.0.1/24", "2001:db8:5::1/64"]);
            assert_eq!(mtu, 1300);
            assert!(up);
            let r = json("-4 route show table main dev ikeway7 proto boot");
            assert_eq!(r.len(), 1, "{r:?}");
            assert_eq!(r[0]["dst"], "10.2.0.0/16");
        }
        let err = configure_link("ikeway8", 1300, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("link ikeway8"), "{err}");
    });
}

/// An IPv6 server under includeAllNetworks is pinned to its IPv6 path (RTM_GETROUTE for the
/// family), and undone with the rest.
#[test]
fn pins_an_ipv6_server() {
    in_netns("pins_an_ipv6_server", || {
        setup();
        let s = Scratch::new();
        let settings = RoutingSettings { include_all_networks: true, ..Default::default() };
        let server: IpAddr = "2001:db8:2::1".parse().unwrap();
        let p = TunnelPlan::new(&settings, &ConfigReceived::default(), &[], server).unwrap();
        let mut host = s.host();
        host.apply(&p).unwrap();
        assert_eq!(
            our_routes(),
            [
                "0.0.0.0/1 dev ikeway7",
                "128.0.0.0/1 dev ikeway7",
                "2001:db8:2::1 via 2001:db8:1::1 dev uplink",
                "8000::/1 dev ikeway7",
                "::/1 dev ikeway7",
            ]
        );
        // No DNS in the plan: the resolver is left alone.
        assert_eq!(s.resolv_conf(), ORIGINAL_RESOLV);
        host.undo().unwrap();
        assert_undone(&s);
    });
}

/// `ikeway disconnect` returns when the connection says `disconnected`, and whoever reads the
/// links then must not find our TUN device (CI once did: the pump's workers notice a stop only
/// at their next poll timeout, and the status used to go out before they were joined).
#[test]
fn a_session_lets_go_of_its_tun_device_before_it_says_disconnected() {
    in_netns("a_session_lets_go_of_its_tun_device_before_it_says_disconnected", || {
        ip("link set lo up");
        let lo = IpAddr::from([127, 0, 0, 1]);
        let fqdn = |name| IdRepr::from_value(IdValue::Fqdn(name));
        let config = Config::new(fqdn("client.test"), SecretBytes::from_slice(b"not a secret"));
        // Nobody answers on the discard port: the session gives up after its connect timeout.
        let mut options = SessionOptions::initiator(lo, lo, config)
            .with_ports(Ports::ephemeral())
            .with_tun(TunOptions::new("ikeway8"))
            .with_connect_timeout(Duration::from_millis(300));
        options.role = ikeway_tunnel::Role::Initiator { remote: (lo, 9).into() };
        let session = Session::start(options).unwrap();
        assert!(ip("-o link show").contains("ikeway8"), "the session made its device");
        loop {
            let event = session.events().recv_timeout(Duration::from_secs(30)).unwrap();
            if event.kind == (EventKind::Status { status: Status::Disconnected }) {
                break;
            }
        }
        let links = ip("-o link show");
        assert!(!links.contains("ikeway8"), "the device outlived the session's end: {links}");
    });
}
