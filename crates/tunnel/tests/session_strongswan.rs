//! A client on `ikeway_tunnel::Session` alone against strongSwan (charon with kernel-libipsec)
//! in network namespaces, directly and through a NAT: PSK, configuration request, a child SA
//! rekey and an IKE SA rekey by command, a graceful DELETE. `testbeds/interop.sh session[-nat]`
//! builds the namespaces, runs strongSwan and re-executes this program inside the client
//! namespace as `session_strongswan --client LOCAL SERVER PSK_FILE NETWORK`; this program then
//! judges what both sides recorded.
//!
//! Needs root, `ip`, `nft` and strongSwan (`testbeds/install-peers.sh`); without them it says
//! loudly that it was skipped, and fails under `CI=true`.

// The client prints its events; skips are announced on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{CLIENT_CONFIG_REQUEST, Config};
use ikeway_tunnel::{EventKind, Session, SessionEvent, SessionOptions, Status};
use serde_json::Value;

/// Only a guard against a hang; every wait ends on an event long before.
const HANG: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        return match client(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("session client: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // libtest's own flags (`--list`, `--format`, filters) mean nothing here.
    if args.iter().any(|a| a == "--list") {
        println!("session_against_strongswan: test");
        return ExitCode::SUCCESS;
    }
    for scenario in ["session", "session-nat"] {
        if let Some(dir) = run(scenario) {
            judge(scenario, &dir);
            println!("session_strongswan {scenario}: ok");
        }
    }
    ExitCode::SUCCESS
}

// ----- the client, inside the namespace -----

fn network(cidr: &str) -> Result<TrafficSelector, String> {
    let (net, len) = cidr.split_once('/').ok_or("NETWORK is a CIDR")?;
    let (net, len): (std::net::Ipv4Addr, u32) =
        (net.parse().map_err(|_| "bad network")?, len.parse().map_err(|_| "bad prefix")?);
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    let start = u32::from(net) & mask;
    Ok(TrafficSelector::Range(AddrRange::any(
        IpAddr::from(std::net::Ipv4Addr::from(start)),
        IpAddr::from(std::net::Ipv4Addr::from(start | !mask)),
    )))
}

/// Prints events as JSON lines until one that `done` accepts.
fn follow(session: &Session, done: impl Fn(&EventKind) -> bool) -> Result<(), String> {
    loop {
        let e: SessionEvent = session.events().recv_timeout(HANG).map_err(|e| e.to_string())?;
        println!("{}", e.to_json());
        if done(&e.kind) {
            return Ok(());
        }
        if e.kind == (EventKind::Status { status: Status::Disconnected }) {
            return Err("the session ended early".into());
        }
    }
}

fn client(args: &[String]) -> Result<(), String> {
    let [local, server, psk_file, net] = args else {
        return Err("usage: --client LOCAL SERVER PSK_FILE NETWORK".into());
    };
    let psk = std::fs::read_to_string(psk_file).map_err(|e| e.to_string())?;
    let psk = SecretBytes::from_slice(psk.lines().next().unwrap_or_default().as_bytes());
    let mut config = Config::new(IdRepr::from_value(IdValue::Fqdn("cli.ikeway.test")), psk);
    config.remote_id = Some(IdRepr::from_value(IdValue::Fqdn("srv.ikeway.test")));
    config.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    config.remote_ts = vec![network(net)?];
    let local: IpAddr = local.parse().map_err(|_| "bad LOCAL")?;
    let server: IpAddr = server.parse().map_err(|_| "bad SERVER")?;
    let session = Session::start(SessionOptions::initiator(local, server, config))
        .map_err(|e| e.to_string())?;
    let handle = session.handle();
    follow(&session, |e| *e == EventKind::Status { status: Status::Connected })?;
    // The testbed snapshots strongSwan's SAs while we are up.
    std::thread::sleep(Duration::from_secs(2));
    handle.rekey_child().map_err(|e| e.to_string())?;
    follow(&session, |e| matches!(e, EventKind::ChildSaRemoved { .. }))?;
    handle.rekey_ike().map_err(|e| e.to_string())?;
    follow(&session, |e| matches!(e, EventKind::IkeSaRekeyed { .. }))?;
    handle.disconnect(Duration::from_secs(3)).map_err(|e| e.to_string())?;
    follow(&session, |e| *e == EventKind::Status { status: Status::Disconnected })?;
    session.wait().map_err(|e| e.to_string())
}

// ----- the judge, outside -----

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the scenario; its output directory, or `None` (announced) when it cannot run here.
fn run(scenario: &str) -> Option<PathBuf> {
    let test = format!("session_strongswan {scenario}");
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(&test, "not root (network namespaces need root)");
        return None;
    }
    for tool in ["ip", "nft", "charon-systemd", "swanctl"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(
                &test,
                &format!("{tool} is not installed (testbeds/install-peers.sh)"),
            );
            return None;
        }
    }
    let out = std::env::temp_dir().join(format!("ikeway-{scenario}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let me = std::env::current_exe().expect("the test knows its own path");
    let status = Command::new("bash")
        .arg(root().join("testbeds/interop.sh"))
        .args([scenario.as_ref(), out.as_os_str(), me.as_os_str()])
        .env("IKW_PREFIX", format!("ikws{}{}", scenario.len(), std::process::id() % 10000))
        .status()
        .expect("bash runs");
    assert!(status.success(), "interop.sh {scenario} failed (output in {})", out.display());
    Some(out)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// The value of `key=` in a `swanctl --list-sas --raw` line, first occurrence.
fn sw_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!(" {key}="))? + key.len() + 2;
    text[at..].split_whitespace().next().map(|v| v.trim_matches(|c| "[]{}".contains(c)))
}

fn judge(scenario: &str, dir: &Path) {
    assert_eq!(read(dir, "session.rc").trim(), "0", "{}", read(dir, "session.err"));
    let events: Vec<Value> =
        read(dir, "session.jsonl").lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let find = |kind: &str| events.iter().filter(|e| e["event"] == kind).collect::<Vec<_>>();

    // Our IKE SA is strongSwan's.
    let up = read(dir, "session.up.sas");
    let ike = find("ike_sa_up")[0];
    assert_eq!(ike["spi_i"].as_str(), sw_field(&up, "initiator-spi"), "{up}");
    assert_eq!(ike["spi_r"].as_str(), sw_field(&up, "responder-spi"), "{up}");
    // The address strongSwan leased.
    let config = find("config")[0];
    assert!(config["addresses"][0].as_str().is_some_and(|a| a.starts_with("10.")), "{config}");
    // The first child SA is the one strongSwan installed; the rekey replaced it.
    let children = find("child_sa_installed");
    assert_eq!(children.len(), 2, "{events:#?}");
    assert_eq!(sw_field(&up, "spi-in"), children[0]["spi_out"].as_str(), "{up}");
    assert_eq!(children[1]["replaces"], children[0]["spi_in"]);
    assert_eq!(find("child_sa_removed")[0]["spi_in"], children[0]["spi_in"]);
    // The IKE SA rekey: the old SPIs were strongSwan's, the new ones differ.
    let rekeyed = find("ike_sa_rekeyed")[0];
    assert_eq!(rekeyed["old"][0].as_str(), sw_field(&up, "initiator-spi"), "{rekeyed}");
    assert_ne!(rekeyed["new"], rekeyed["old"]);
    // The graceful end: DELETE answered, strongSwan holds nothing of ours.
    assert_eq!(find("ike_sa_closed")[0]["reason"], "Deleted");
    let statuses: Vec<&Value> = find("status").iter().map(|s| &s["status"]).collect();
    assert_eq!(statuses, ["connecting", "connected", "disconnecting", "disconnected"]);
    let end = read(dir, "session.end.sas");
    for spi in [&ike["spi_i"], &rekeyed["new"][0]] {
        assert!(!end.contains(spi.as_str().unwrap_or("?")), "strongSwan still has {spi}: {end}");
    }

    if scenario == "session-nat" {
        assert_eq!(find("nat_detected")[0]["local_behind_nat"], true);
        assert_eq!(children[0]["udp_encapsulation"], true);
        assert_eq!(sw_field(&up, "remote-port"), Some("4500"), "{up}");
        assert_eq!(sw_field(&up, "remote-host"), Some(read(dir, "session.seen").trim()), "{up}");
    } else {
        // (strongSwan's libipsec side may still ask for UDP encapsulation: only our side is
        // known not to be behind a NAT.)
        assert!(find("nat_detected").iter().all(|n| n["local_behind_nat"] == false));
        assert_eq!(sw_field(&up, "remote-host"), Some(read(dir, "session.seen").trim()), "{up}");
    }
}
