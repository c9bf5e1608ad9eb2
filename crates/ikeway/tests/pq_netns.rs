//! ML-KEM additional key exchanges (RFC 9370 over IKE_INTERMEDIATE, RFC 9242) between our
//! `initiate` and our `serve` through real UDP in network namespaces: up with ML-KEM-768 and
//! with ML-KEM-1024 (its key shares fragmented, RFC 7383), a classical client refused by a
//! responder that requires them, fallback to classical only where the client allows NONE.
//! tshark dissects the capture with the client's `--keylog`: no malformed packet or expert
//! warning, and the KE payloads inside IKE_INTERMEDIATE read as ML-KEM of the right lengths.
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

#[test]
fn mlkem_hybrid_handshakes_between_our_initiator_and_responder() {
    let test = "pq_netns";
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(test, "not root (network namespaces need root)");
        return;
    }
    for tool in ["ip", "ss", "dumpcap", "tshark"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(test, &format!("{tool} is not installed"));
            return;
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(root().join("testbeds/pq-netns.sh"))
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .env("IKW_PREFIX", format!("ikwpq{}", std::process::id() % 100_000))
        .status()
        .expect("bash runs");
    assert!(status.success(), "testbeds/pq-netns.sh failed (output in {})", out.display());
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
