//! ML-KEM additional key exchanges (RFC 9370 over IKE_INTERMEDIATE, RFC 9242) between our
//! `initiate` and our `serve` through real UDP in network namespaces: up with ML-KEM-768 and
//! with ML-KEM-1024 (its key shares fragmented, RFC 7383), a classical client refused by a
//! responder that requires them, fallback to classical only where the client allows NONE.
//! tshark dissects the capture with the client's `--keylog`: no malformed packet or expert
//! warning, and the KE payloads inside IKE_INTERMEDIATE read as ML-KEM of the right lengths.
//! Then rekeys on a hybrid SA (RFC 9370 §2.2.4): a child rekey with PFS, an IKE rekey and a
//! child created on the new IKE SA, each with one IKE_FOLLOWUP_KE exchange (44, which tshark
//! 4.0 does not name: it is matched by number), and a liveness check answered afterwards.
//! `testbeds/pq-netns.sh` drives the namespaces and records; this judges.
//!
//! The key log holds one row per key set, and tshark takes one set per SPI pair: the row
//! logged before IKE_INTERMEDIATE (the IKE_SA_INIT keys) opens the IKE_INTERMEDIATE exchange,
//! the row logged when the SA is up (the keys after the update) opens IKE_AUTH. Each is given
//! to tshark on its own.
//!
//! Needs root, network namespaces, dumpcap and tshark; without them it says loudly that it was
//! skipped, and fails when `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn events(dir: &Path, file: &str) -> Vec<Value> {
    read(dir, file).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn of<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// The client `name` came up, with `additional` key exchanges, and installed its child SA.
fn up_with(dir: &Path, name: &str, additional: Value) {
    let jsonl = format!("c-{name}.jsonl");
    assert_eq!(read(dir, &format!("c-{name}.rc")).trim(), "0", "{}", read(dir, &jsonl));
    let e = events(dir, &jsonl);
    let up = of(&e, "ike_sa_up");
    assert_eq!(up.len(), 1, "{name}: {e:?}");
    let got = up[0].get("additional_key_exchanges").cloned().unwrap_or(Value::Array(Vec::new()));
    assert_eq!(got, additional, "{name}");
    assert_eq!(of(&e, "child_sa_installed").len(), 1, "{name}: {e:?}");
}

/// The client `name` was refused for want of a common proposal, and never came up.
fn refused(dir: &Path, name: &str) {
    let jsonl = format!("c-{name}.jsonl");
    assert_ne!(read(dir, &format!("c-{name}.rc")).trim(), "0", "{name}");
    let e = events(dir, &jsonl);
    assert!(of(&e, "ike_sa_up").is_empty(), "{name}: {e:?}");
    let closed = of(&e, "ike_sa_closed");
    assert_eq!(closed.len(), 1, "{name}: {e:?}");
    assert_eq!(closed[0]["reason"], "NoProposalChosen", "{name}");
}

/// tshark over the capture with one key-log row as the IKE decryption table: for each IKE
/// message of the SPI pair and one of `exchanges` (those that key set protects), (exchange
/// type, KE groups, KE data lengths). Fails on any malformed packet or expert warning.
fn dissect(dir: &Path, row: &str, exchanges: &str, label: &str) -> Vec<(String, String, String)> {
    let conf = dir.join(format!("wireshark-{label}"));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("ikev2_decryption_table"), format!("{row}\n")).unwrap();
    let spi_i = row.split(',').next().unwrap();
    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &conf)
        .arg("-r")
        .arg(dir.join("pq.pcapng"))
        .args([
            "-Y",
            &format!("isakmp.ispi == {} && isakmp.exchangetype in {{{exchanges}}}", colons(spi_i)),
        ])
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "isakmp.exchangetype", "-e", "isakmp.key_exchange.dh_group"])
        .args(["-e", "isakmp.key_exchange.data", "-e", "_ws.malformed"])
        .args(["-e", "_ws.expert.message"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!((f[3], f[4]), ("", ""), "{label}: tshark warnings in {l}");
            let lens: Vec<String> = f[2]
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| (d.replace(':', "").len() / 2).to_string())
                .collect();
            (f[0].to_owned(), f[1].to_owned(), lens.join(","))
        })
        .collect()
}

/// `0011aabb...` as tshark's byte-field literal `00:11:aa:bb:...`.
fn colons(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":")
}

/// Runs the bed in `mode` once (tests judging different rounds of one mode share it); its
/// records.
fn bed(mode: &str) -> PathBuf {
    static HANDSHAKES: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static TRAFFIC: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static DIRECT_TRAFFIC: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let once = match mode {
        "traffic" => &TRAFFIC,
        "direct-traffic" => &DIRECT_TRAFFIC,
        _ => &HANDSHAKES,
    };
    once.get_or_init(|| {
        let id = std::process::id();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pq-{mode}-{id}"));
        let _ = std::fs::remove_dir_all(&out);
        let status = Command::new("bash")
            .arg(root().join("testbeds/pq-netns.sh"))
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_ikeway"))
            .arg(mode)
            .env("IKW_PREFIX", format!("ikwpq{}{}", &mode[..1], id % 100_000))
            .status()
            .expect("bash runs");
        assert!(status.success(), "testbeds/pq-netns.sh failed (output in {})", out.display());
        out
    })
    .clone()
}

/// Root and the tools, or a loud skip (a failure when `CI=true`).
fn can_run(test: &str) -> bool {
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(test, "not root (network namespaces need root)");
        return false;
    }
    for tool in ["ip", "ss", "dumpcap", "tshark", "ping"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(test, &format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

#[test]
fn mlkem_hybrid_handshakes_between_our_initiator_and_responder() {
    if !can_run("pq_netns") {
        return;
    }
    let out = bed("handshakes");
    let o = out.as_path();

    up_with(o, "mlkem768", serde_json::json!(["ML_KEM_768"]));
    up_with(o, "mlkem1024", serde_json::json!(["ML_KEM_1024"]));
    refused(o, "classical");
    up_with(o, "fallback", serde_json::json!([]));
    refused(o, "required");
    // The responder saw the same: two hybrid SAs, then one classical.
    let up1: Vec<Value> = of(&events(o, "serve1.jsonl"), "ike_sa_up")
        .into_iter()
        .map(|e| e["additional_key_exchanges"].clone())
        .collect();
    assert_eq!(up1, [serde_json::json!(["ML_KEM_768"]), serde_json::json!(["ML_KEM_1024"])]);
    let up2 = of(&events(o, "serve2.jsonl"), "ike_sa_up").len();
    assert_eq!(up2, 1);

    for (name, group, lens) in [("mlkem768", "36", "1184|1088"), ("mlkem1024", "37", "1568|1568")] {
        let keys = read(o, &format!("c-{name}.keys"));
        let rows: Vec<&str> = keys.lines().collect();
        assert_eq!(rows.len(), 2, "{name}: IKE_SA_INIT keys, then the keys after the update");
        // With the IKE_SA_INIT keys: IKE_INTERMEDIATE opens, its KE payloads are ML-KEM.
        let first = dissect(o, rows[0], "34, 43", &format!("{name}-init"));
        let intermediate: Vec<&(String, String, String)> =
            first.iter().filter(|m| m.0 == "43" && !m.2.is_empty()).collect();
        let (want_i, want_r) = lens.split_once('|').unwrap();
        let seen: Vec<(&str, &str)> =
            intermediate.iter().map(|m| (m.1.as_str(), m.2.as_str())).collect();
        assert_eq!(seen, [(group, want_i), (group, want_r)], "{name}: {first:?}");
        // With the keys after the update: IKE_AUTH opens (no KE payload in it), no warnings.
        // (Under the IKE_SA_INIT keys IKE_AUTH fails tshark's integrity check, and the other
        // way round for IKE_INTERMEDIATE: one key set per SPI pair.)
        let last = dissect(o, rows[1], "35", &format!("{name}-auth"));
        assert!(last.iter().any(|m| m.0 == "35"), "{name}: {last:?}");
    }
    // ML-KEM-1024's key shares do not fit 1280 bytes: IKE_INTERMEDIATE went fragmented.
    let frags = Command::new("tshark")
        .arg("-r")
        .arg(o.join("pq.pcapng"))
        .args(["-Y", "isakmp.exchangetype == 43 && isakmp.frag.total == 2"])
        .args(["-T", "fields", "-e", "frame.len"])
        .output()
        .unwrap();
    let lens: Vec<usize> = String::from_utf8(frags.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(lens.len(), 4, "two fragments each way for ML-KEM-1024");
    assert!(lens.iter().all(|l| *l <= 1280 + 14 + 20 + 8), "{lens:?}");
}

/// The `rekeys` client of round 3: every rekey and the child after it completed with one
/// IKE_FOLLOWUP_KE each, at both ends, and the new IKE SA still answers.
fn rekeys_with_followups(o: &Path) {
    assert_eq!(read(o, "c-rekeys.rc").trim(), "0", "{}", read(o, "c-rekeys.err"));
    let e = events(o, "c-rekeys.jsonl");
    assert_eq!(of(&e, "ike_sa_up").len(), 1, "{e:?}");
    assert_eq!(
        of(&e, "ike_sa_up")[0]["additional_key_exchanges"],
        serde_json::json!(["ML_KEM_768"])
    );
    // The first child, its rekeyed successor, and the child made on the new IKE SA.
    assert_eq!(of(&e, "child_sa_installed").len(), 3, "{e:?}");
    assert_eq!(of(&e, "ike_sa_rekeyed").len(), 1, "{e:?}");
    assert!(of(&e, "child_sa_refused").is_empty(), "{e:?}");
    assert!(of(&e, "ike_sa_closed").iter().all(|c| c["reason"] != "PeerUnreachable"), "{e:?}");
    let s = events(o, "serve3.jsonl");
    assert_eq!(of(&s, "child_sa_installed").len(), 3, "{s:?}");
    assert_eq!(of(&s, "ike_sa_rekeyed").len(), 1, "{s:?}");

    // IKE_FOLLOWUP_KE on the wire: three exchanges (child rekey, IKE rekey, new child), each a
    // request and a response, whatever fragments they took; no malformed packet or warning.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(o.join("pq.pcapng"))
        .args(["-Y", "isakmp.exchangetype == 44"])
        .args(["-T", "fields", "-E", "separator=|", "-e", "isakmp.ispi", "-e", "isakmp.rspi"])
        .args(["-e", "isakmp.messageid", "-e", "isakmp.flags", "-e", "_ws.malformed"])
        .args(["-e", "_ws.expert.message"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut messages: Vec<(String, String, String, String)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!((f[4], f[5]), ("", ""), "tshark warnings in {l}");
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect();
    messages.dedup();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), 6, "three IKE_FOLLOWUP_KE exchanges: {text}");
    let pairs: std::collections::BTreeSet<&str> = messages.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(pairs.len(), 2, "on the first IKE SA (child and IKE rekey) and the new one");

    // Opened with the key log (a row for the first SA's final keys, one for the rekeyed SA):
    // each IKE_FOLLOWUP_KE carries an ML-KEM-768 share, 1184 bytes out and 1088 back.
    let keys = read(o, "c-rekeys.keys");
    let rows: Vec<&str> = keys.lines().collect();
    assert_eq!(rows.len(), 3, "IKE_SA_INIT keys, after the update, after the IKE rekey");
    let share = |lens: &str| ("44".to_owned(), "36".to_owned(), lens.to_owned());
    let old = dissect(o, rows[1], "44", "rekeys-old");
    assert_eq!(old, [share("1184"), share("1088"), share("1184"), share("1088")]);
    let new = dissect(o, rows[2], "44", "rekeys-new");
    assert_eq!(new, [share("1184"), share("1088")]);
}

#[test]
fn rekeys_of_a_hybrid_sa_run_ike_followup_ke() {
    if can_run("pq_netns_rekeys") {
        rekeys_with_followups(&bed("handshakes"));
    }
}

/// ESP through our own initiate and serve (`--tun`) keeps flowing while the child SA and then
/// the IKE SA are rekeyed with their IKE_FOLLOWUP_KE exchanges: every ping of a 5 s stream
/// spanning both rekeys comes back. Both ends' child SAs are UDP-encapsulated (the only ESP our
/// datapath carries) and the exchanges after IKE_SA_INIT went over NAT-T port 4500.
fn traffic_across_hybrid_rekeys(o: &Path) {
    let e = events(o, "cli.jsonl");
    assert_eq!(
        of(&e, "ike_sa_up")[0]["additional_key_exchanges"],
        serde_json::json!(["ML_KEM_768"])
    );
    assert_eq!(of(&e, "child_sa_installed").len(), 2, "the child and its rekeyed successor: {e:?}");
    assert_eq!(of(&e, "ike_sa_rekeyed").len(), 1, "{e:?}");
    assert_eq!(of(&e, "datapath_sa_installed").len(), 2, "{e:?}");
    let s = events(o, "serve.jsonl");
    for (side, events) in [("client", &e), ("server", &s)] {
        let encapsulated: Vec<&Value> =
            of(events, "child_sa_installed").iter().map(|c| &c["udp_encapsulation"]).collect();
        assert_eq!(encapsulated, [&Value::Bool(true); 2], "{side}: {events:?}");
    }
    let ping = read(o, "ping.txt");
    assert!(ping.contains("25 packets transmitted, 25 received, 0% packet loss"), "{ping}");
    // Two IKE_FOLLOWUP_KE exchanges (child rekey, IKE rekey) went over NAT-T port 4500.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(o.join("pq.pcapng"))
        .args(["-Y", "isakmp.exchangetype == 44 && udp.port == 4500"])
        .args(["-T", "fields", "-e", "isakmp.messageid", "-e", "isakmp.flags"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut messages: Vec<&str> = text.lines().collect();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), 4, "two IKE_FOLLOWUP_KE requests and responses: {text}");
}

#[test]
fn traffic_passes_across_hybrid_rekeys_behind_a_nat() {
    if can_run("pq_netns_traffic") {
        traffic_across_hybrid_rekeys(&bed("traffic"));
    }
}

/// The same on the direct path, no NAT between the two: the TUN datapath makes both roles
/// force UDP encapsulation (a child SA in plain ESP would send to the peer's IKE port, where
/// nothing reads ESP: 0 of 25 pings came back before).
#[test]
fn traffic_passes_across_hybrid_rekeys_on_the_direct_path() {
    if can_run("pq_netns_direct_traffic") {
        traffic_across_hybrid_rekeys(&bed("direct-traffic"));
    }
}
