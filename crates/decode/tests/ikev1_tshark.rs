//! `ikeway decode` against tshark 4.0.17 on real IKEv1 captures (strongSwan 5.9.8 to
//! strongSwan 5.9.8, copied into crates/isakmp/tests/data, see SOURCES.md there): with the
//! same `ikev1_decryption_table`, both decrypt every encrypted message, and for every ISAKMP
//! frame they agree field by field: cookies, exchange, message ID, length, flags, the payload
//! types in order (inner payloads and SA substructures included), notify, config, ID,
//! proposal and transform types, SA attribute classes, and the octets of KE, Nonce, HASH, SIG,
//! NAT-D, Vendor ID payloads and Delete SPIs. tshark reports nothing malformed.

use std::path::{Path, PathBuf};
use std::process::Command;

use ikeway_decode::{KeyTable, run};
use ikeway_isakmp::{
    ConfigAttributeType, ConfigType, ExchangeType, IdType, IpsecAttribute, OakleyAttribute,
    PayloadType, ProtocolId,
};
use serde_json::Value;

fn case_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../isakmp/tests/data/strongswan-ikev1").join(case)
}

/// A registry value rendered by decode (its name, or a number) back to its number.
fn number<T: Copy + std::fmt::Display>(known: &[T], to_u64: impl Fn(T) -> u64, v: &Value) -> u64 {
    if let Some(n) = v.as_u64() {
        return n;
    }
    let s = v.as_str().unwrap_or_else(|| panic!("not a name or number: {v}"));
    known
        .iter()
        .find(|k| k.to_string() == s)
        .map(|&k| to_u64(k))
        .unwrap_or_else(|| panic!("unknown name {s}"))
}

fn payload_type(v: &Value) -> u64 {
    number(PayloadType::KNOWN, |k| u64::from(k.0), v)
}

/// What tshark shows for one frame, computed from our JSON object.
fn our_fields(m: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().expect("string").to_owned();
    let payloads: Vec<&Value> = m["payloads"]
        .as_array()
        .expect("payloads")
        .iter()
        .filter(|p| p["type"] != "encrypted")
        .collect();
    let join = |items: Vec<String>| items.join(",");
    let mut types = Vec::new();
    let (mut notify, mut cfg_type, mut cfg_attr, mut id_type) = (vec![], vec![], vec![], vec![]);
    let (mut trans_id, mut proto, mut ike_attr, mut ipsec_attr) = (vec![], vec![], vec![], vec![]);
    let (mut ke, mut nonce, mut hash, mut sig, mut natd, mut vid, mut del) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for p in &payloads {
        let t = payload_type(&p["type"]);
        types.push(t.to_string());
        let data = || s(&p["data"]);
        match PayloadType(u8::try_from(t).expect("u8")) {
            PayloadType::SA => {
                for prop in p["proposals"].as_array().expect("proposals") {
                    types.push("2".into());
                    let protocol = number(ProtocolId::KNOWN, |k| u64::from(k.0), &prop["protocol"]);
                    proto.push(protocol.to_string());
                    for tr in prop["transforms"].as_array().expect("transforms") {
                        types.push("3".into());
                        trans_id.push(tr["id"].as_u64().map_or_else(
                            || {
                                // Named transform IDs: KEY_IKE or an ESP/AH name.
                                let name = tr["id"].as_str().expect("id");
                                let all: Vec<(String, u8)> =
                                    ikeway_isakmp::IsakmpTransformId::KNOWN
                                        .iter()
                                        .map(|k| (k.to_string(), k.0))
                                        .chain(
                                            ikeway_isakmp::EspTransformId::KNOWN
                                                .iter()
                                                .map(|k| (k.to_string(), k.0)),
                                        )
                                        .chain(
                                            ikeway_isakmp::AhTransformId::KNOWN
                                                .iter()
                                                .map(|k| (k.to_string(), k.0)),
                                        )
                                        .collect();
                                all.iter().find(|(n, _)| n == name).expect("known id").1.to_string()
                            },
                            |n| n.to_string(),
                        ));
                        for a in tr["attributes"].as_array().expect("attributes") {
                            if protocol == u64::from(ProtocolId::ISAKMP.0) {
                                ike_attr.push(
                                    number(OakleyAttribute::KNOWN, |k| u64::from(k.0), &a["type"])
                                        .to_string(),
                                );
                            } else {
                                ipsec_attr.push(
                                    number(IpsecAttribute::KNOWN, |k| u64::from(k.0), &a["type"])
                                        .to_string(),
                                );
                            }
                        }
                    }
                }
            }
            PayloadType::KE => ke.push(data()),
            PayloadType::NONCE => nonce.push(data()),
            PayloadType::HASH => hash.push(data()),
            PayloadType::SIG => sig.push(data()),
            PayloadType::NAT_D | PayloadType::NAT_D_DRAFT => natd.push(data()),
            PayloadType::VENDOR_ID => vid.push(data()),
            PayloadType::NOTIFICATION => notify.push(p["notify_number"].to_string()),
            PayloadType::DELETE => del.extend(p["spis"].as_array().expect("spis").iter().map(s)),
            PayloadType::ID => {
                id_type.push(number(IdType::KNOWN, |k| u64::from(k.0), &p["id_type"]).to_string())
            }
            PayloadType::ATTRIBUTE => {
                cfg_type.push(
                    number(ConfigType::KNOWN, |k| u64::from(k.0), &p["cfg_type"]).to_string(),
                );
                for a in p["attributes"].as_array().expect("attributes") {
                    cfg_attr.push(
                        number(ConfigAttributeType::KNOWN, |k| u64::from(k.0), &a["type"])
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    let flags = &m["flags"];
    let bit = |k: &str, b: u8| if flags[k].as_bool().expect("flag") { b } else { 0 };
    vec![
        m["frame"].to_string(),
        s(&m["initiator_cookie"]),
        s(&m["responder_cookie"]),
        number(ExchangeType::KNOWN, |k| u64::from(k.0), &m["exchange"]).to_string(),
        format!("0x{:08x}", m["message_id"].as_u64().expect("id")),
        m["length"].to_string(),
        format!(
            "0x{:02x}",
            bit("encryption", 1) | bit("commit", 2) | bit("authentication_only", 4)
        ),
        join(types),
        join(notify),
        join(cfg_type),
        join(cfg_attr),
        join(id_type),
        join(proto),
        join(trans_id),
        join(ike_attr),
        join(ipsec_attr),
        join(ke),
        join(nonce),
        join(hash),
        join(sig),
        join(natd),
        join(vid),
        join(del),
    ]
}

const TSHARK_FIELDS: [&str; 23] = [
    "frame.number",
    "isakmp.ispi",
    "isakmp.rspi",
    "isakmp.exchangetype",
    "isakmp.messageid",
    "isakmp.length",
    "isakmp.flags",
    "isakmp.typepayload",
    "isakmp.notify.msgtype",
    "isakmp.cfg.type",
    "isakmp.cfg.attr.type",
    "isakmp.id.type",
    "isakmp.prop.protoid",
    "isakmp.trans.id",
    "isakmp.ike.attr.type",
    "isakmp.ipsec.attr.type",
    "isakmp.key_exchange.data",
    "isakmp.nonce",
    "isakmp.hash",
    "isakmp.sig",
    "isakmp.ike.nat_hash",
    "isakmp.vid_bytes",
    "isakmp.delete.spi",
];

fn tshark(case: &str, config: &Path, extra: &[&str]) -> String {
    let pcap = case_dir(case).join(format!("{case}.pcapng"));
    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", config)
        .arg("-r")
        .arg(&pcap)
        .args(["-Y", "isakmp"])
        .args(extra)
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn agree(case: &str, decrypted: usize) {
    let dir = case_dir(case);
    let table = std::fs::read_to_string(dir.join("ikev1_decryption_table")).expect("table");
    let config =
        std::env::temp_dir().join(format!("ikeway-ikev1-tshark-{case}-{}", std::process::id()));
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(config.join("ikev1_decryption_table"), &table).expect("table copy");

    let keys = KeyTable::parse(&table).expect("table parses");
    let capture = std::fs::read(dir.join(format!("{case}.pcapng"))).expect("capture");
    let mut out = Vec::new();
    let summary = run(&capture, Some(&keys), &mut out).expect("decodes");
    assert_eq!(summary.malformed, 0);
    let ours: Vec<Value> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let opened = ours
        .iter()
        .filter(|m| {
            m["payloads"][0]["type"] == "encrypted" && m["payloads"][0]["decrypted"] == true
        })
        .count();
    assert_eq!(opened, decrypted, "messages decrypted by ikeway decode");

    let mut args = vec!["-T", "fields", "-E", "occurrence=a", "-E", "separator=|"];
    for f in TSHARK_FIELDS {
        args.extend(["-e", f]);
    }
    let text = tshark(case, &config, &args);
    let theirs: Vec<Vec<String>> =
        text.lines().map(|l| l.split('|').map(str::to_owned).collect()).collect();
    assert!(!ours.is_empty(), "{case}: no messages");
    assert_eq!(theirs.len(), ours.len(), "one line per ISAKMP message");
    for (t, o) in theirs.iter().zip(&ours) {
        let mine = our_fields(o);
        for ((name, a), b) in TSHARK_FIELDS.iter().zip(t).zip(&mine) {
            assert_eq!(a, b, "{case} frame {}: {name}", t[0]);
        }
    }
    let verbose = tshark(case, &config, &["-V"]);
    assert!(!verbose.contains("Malformed"), "tshark found a malformed message in {case}");
    std::fs::remove_dir_all(config).ok();
}

fn have_tshark(test: &str) -> bool {
    let ok = ikeway_testkit::have("tshark");
    if !ok {
        ikeway_testkit::skip(test, "tshark not installed");
    }
    ok
}

#[test]
fn tshark_agrees_on_aggressive_mode_xauth_mode_config_quick_mode_dpd_delete() {
    if have_tshark("tshark_agrees_on_aggressive_mode_xauth_mode_config_quick_mode_dpd_delete") {
        agree("v1-aggr", 18);
    }
}

#[test]
fn tshark_agrees_on_main_mode_with_certificates() {
    if have_tshark("tshark_agrees_on_main_mode_with_certificates") {
        agree("v1-main-cert", 9);
    }
}

#[test]
fn tshark_agrees_on_a_failed_xauth() {
    if have_tshark("tshark_agrees_on_a_failed_xauth") {
        agree("v1-aggr-badpw", 5);
    }
}

#[test]
fn tshark_agrees_on_a_wrong_group_secret_without_keys() {
    if have_tshark("tshark_agrees_on_a_wrong_group_secret_without_keys") {
        agree("v1-aggr-badpsk", 0);
    }
}

#[test]
fn decode_renders_mode_config_and_hides_the_xauth_password() {
    let dir = case_dir("v1-aggr");
    let keys =
        KeyTable::parse(&std::fs::read_to_string(dir.join("ikev1_decryption_table")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    run(&std::fs::read(dir.join("v1-aggr.pcapng")).unwrap(), Some(&keys), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("ikeway alice XAUTH pw"), "the password leaked");
    assert!(!text.contains(&hex_of("ikeway alice XAUTH pw")), "the password leaked as hex");
    let msgs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_frame = |f: u64| msgs.iter().find(|m| m["frame"] == f).expect("frame");
    let reply = &by_frame(5)["payloads"][2];
    assert_eq!(reply["cfg_type"], "ISAKMP_CFG_REPLY");
    assert_eq!(
        reply["attributes"][0],
        serde_json::json!({"type": "XAUTH-USER-NAME", "value": "alice"})
    );
    assert_eq!(
        reply["attributes"][1],
        serde_json::json!({"type": "XAUTH-USER-PASSWORD", "value": "(redacted, 21 octets)"})
    );
    let cfg = &by_frame(9)["payloads"][2];
    let attrs = cfg["attributes"].as_array().unwrap();
    assert_eq!(attrs[0], serde_json::json!({"type": "INTERNAL_IP4_ADDRESS", "value": "10.88.1.1"}));
    assert_eq!(attrs[1], serde_json::json!({"type": "INTERNAL_IP4_DNS", "value": "10.77.0.53"}));
    let split = attrs.iter().find(|a| a["type"] == "UNITY_SPLIT_INCLUDE").unwrap();
    assert_eq!(
        split["value"],
        serde_json::json!([{"network": "10.77.0.0/255.255.255.0", "protocol": 0, "src_port": 0, "dst_port": 0}])
    );
    let first = by_frame(1);
    assert_eq!(first["exchange"], "Aggressive");
    assert_eq!(first["version"], "1.0");
    let id = first["payloads"].as_array().unwrap().iter().find(|p| p["type"] == "ID").unwrap();
    assert_eq!(id["id"], "ikeway-group");
    assert_eq!(id["id_type"], "KEY_ID");
    let dpd = &by_frame(22)["payloads"][2];
    assert_eq!(dpd["notify_type"], "R-U-THERE");
    assert!(dpd["sequence"].is_u64());
    let enc = &by_frame(3)["payloads"][0];
    assert_eq!(enc["type"], "encrypted");
    assert_eq!(enc["decrypted"], true);
    assert_eq!(enc["next_payload"], "HASH");
}

#[test]
fn decode_without_keys_says_so() {
    let dir = case_dir("v1-aggr");
    let mut out = Vec::new();
    let summary = run(&std::fs::read(dir.join("v1-aggr.pcapng")).unwrap(), None, &mut out).unwrap();
    assert_eq!((summary.messages, summary.malformed), (20, 0));
    let text = String::from_utf8(out).unwrap();
    let third: Value = serde_json::from_str(text.lines().nth(2).unwrap()).unwrap();
    assert_eq!(third["payloads"][0]["decrypted"], false);
    assert_eq!(third["payloads"][0]["note"], "no key for this ISAKMP SA in the key table");
}

#[test]
fn decode_reports_a_wrong_key_without_failing_the_run() {
    let dir = case_dir("v1-aggr");
    let table = std::fs::read_to_string(dir.join("ikev1_decryption_table")).unwrap();
    let (cookie, _) = table.trim().split_once(',').unwrap();
    let keys = KeyTable::parse(&format!("{cookie},{}", "00".repeat(32))).unwrap();
    let mut out = Vec::new();
    let summary =
        run(&std::fs::read(dir.join("v1-aggr.pcapng")).unwrap(), Some(&keys), &mut out).unwrap();
    assert_eq!(summary.messages, 20);
    let text = String::from_utf8(out).unwrap();
    let third: Value = serde_json::from_str(text.lines().nth(2).unwrap()).unwrap();
    // Garbage plaintext does not parse as the announced chain: reported, not fatal.
    assert_eq!(third["payloads"][0]["decrypted"], true);
    assert!(
        third["payloads"][0]["error"].as_str().unwrap().starts_with("decrypted content: "),
        "{third}"
    );
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_retransmitted_encrypted_message_decrypts_like_the_first_and_leaves_the_iv_chain_alone() {
    let dir = case_dir("v1-aggr");
    let keys =
        KeyTable::parse(&std::fs::read_to_string(dir.join("ikev1_decryption_table")).unwrap())
            .unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".hex") && !p.to_string_lossy().ends_with(".plain.hex")
        })
        .collect();
    names.sort();
    let mut lines = Vec::new();
    for p in &names {
        let line = std::fs::read_to_string(p).unwrap().trim().to_owned();
        // The gateway's XAUTH request (frame 4) and the client's quick mode message 1 are
        // each sent twice, as after a lost answer.
        let twice = p.file_name().unwrap().to_string_lossy().starts_with("04-")
            || p.file_name().unwrap().to_string_lossy().starts_with("10-");
        lines.push(line.clone());
        if twice {
            lines.push(line);
        }
    }
    let mut out = Vec::new();
    let summary = run(lines.join("\n").as_bytes(), Some(&keys), &mut out).unwrap();
    assert_eq!((summary.messages, summary.malformed), (22, 0));
    let msgs: Vec<Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for m in &msgs {
        let first = &m["payloads"][0];
        if first["type"] == "encrypted" {
            assert_eq!(first["decrypted"], true, "{m}");
            assert!(first.get("error").is_none(), "{m}");
        }
    }
    // Lines 4 and 5 (1-based) are the same message, decoded the same.
    assert_eq!(msgs[3]["payloads"], msgs[4]["payloads"]);
    assert_eq!(msgs[3]["payloads"][2]["cfg_type"], "ISAKMP_CFG_REQUEST");
}

/// IKEv1 fragmentation: the capture's encrypted Aggressive Mode message 3 cut into Fragment
/// messages (as `split_message` sends them) decodes as fragments, the last one carrying the
/// joined message, decrypted under phase 1's first IV; every later message still decrypts, so
/// the IV chain ran through the joined message.
#[test]
fn decode_joins_fragments_and_decrypts_through_them() {
    let dir = case_dir("v1-aggr");
    let keys =
        KeyTable::parse(&std::fs::read_to_string(dir.join("ikev1_decryption_table")).unwrap())
            .unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".hex") && !p.to_string_lossy().ends_with(".plain.hex")
        })
        .collect();
    names.sort();
    let mut lines = Vec::new();
    let mut pieces = 0;
    for p in &names {
        let line = std::fs::read_to_string(p).unwrap().trim().to_owned();
        if p.file_name().unwrap().to_string_lossy().starts_with("03-") {
            let whole = hex::decode(&line).unwrap();
            let fragments =
                ikeway_isakmp::split_message(&whole, ExchangeType::AGGRESSIVE, 1, 100).unwrap();
            pieces = fragments.len();
            lines.extend(fragments.iter().map(hex::encode));
        } else {
            lines.push(line);
        }
    }
    assert!(pieces >= 3, "{pieces}");
    let mut out = Vec::new();
    let summary = run(lines.join("\n").as_bytes(), Some(&keys), &mut out).unwrap();
    assert_eq!((summary.messages, summary.malformed), (19 + pieces, 0));
    let msgs: Vec<Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (i, m) in msgs[2..2 + pieces].iter().enumerate() {
        let f = &m["payloads"][0];
        assert_eq!((&f["type"], &f["fragment_id"]), (&Value::from("FRAG"), &Value::from(1)), "{m}");
        assert_eq!(f["fragment_number"], i + 1, "{m}");
        assert_eq!(f["last"], i + 1 == pieces, "{m}");
        assert_eq!(f.get("reassembled").is_some(), i + 1 == pieces, "{m}");
    }
    let joined = &msgs[1 + pieces]["payloads"][0]["reassembled"];
    assert_eq!(joined["exchange"], "Aggressive", "{joined}");
    let enc = &joined["payloads"][0];
    assert_eq!((&enc["type"], &enc["decrypted"]), (&Value::from("encrypted"), &Value::Bool(true)));
    assert_eq!(joined["payloads"][1]["type"], "HASH", "{joined}");
    let mut decrypted = 0;
    for m in &msgs[2 + pieces..] {
        let first = &m["payloads"][0];
        if first["type"] == "encrypted" {
            assert_eq!(first["decrypted"], true, "{m}");
            decrypted += 1;
        }
    }
    assert!(decrypted >= 10, "{decrypted}");
}
