//! `ikeway-decode`: the IKE messages of a capture (pcap, pcapng or hex lines), IKEv2 and IKEv1
//! alike, as one JSON object per message, decrypted with a Wireshark key table when one is
//! given; and
//! Wireshark's names for IKEv2 algorithms, which `ikeway --keylog` writes. Everything it reads
//! is untrusted input (a fuzz target covers it): it reports, never panics.
//!
//! ```
//! let mut out = Vec::new();
//! let summary = ikeway_decode::run(b"# no messages\n", None, &mut out).unwrap();
//! assert_eq!(summary.messages, 0);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod ikev1;
mod input;
mod json;
mod keys;
pub mod wireshark;

use std::collections::HashMap;
use std::io::Write;

use ikeway_codec::sk::{self, Reassembler, Reassembly, ReassemblyLimits};
use ikeway_codec::{DecodeError, MessageRepr, PayloadRepr};
use serde_json::{Map, Value, json};

pub use error::Error;
pub use keys::KeyTable;

/// What a decode run saw, for the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// IKE messages decoded (malformed ones included).
    pub messages: usize,
    /// Messages that did not parse; each has an object with an `error` field.
    pub malformed: usize,
    /// Frames that held no IKE message (other traffic, truncated, unknown link type).
    pub skipped_frames: usize,
}

/// Decodes every IKE message in `bytes` (pcap, pcapng or hex) and writes one JSON object per
/// message to `out`. Malformed messages produce an object with an `error` field and decoding
/// goes on.
pub fn run(bytes: &[u8], keys: Option<&KeyTable>, out: &mut dyn Write) -> Result<Summary, Error> {
    let input = input::read(bytes)?;
    let mut summary = Summary { skipped_frames: input.skipped.len(), ..Summary::default() };
    // One reassembly per IKE SA and direction (RFC 7383 §2.6).
    let mut reassembly: HashMap<(u64, u64, bool), Reassembler> = HashMap::new();
    let mut ikev1 = ikev1::Ikev1::default();
    for datagram in &input.datagrams {
        let mut object = Map::new();
        object.insert("frame".into(), json!(datagram.frame));
        if let (Some(src), Some(dst)) = (datagram.src, datagram.dst) {
            object.insert("src".into(), json!(src.to_string()));
            object.insert("dst".into(), json!(dst.to_string()));
        }
        summary.messages += 1;
        // The version octet tells ISAKMP (1.x) from IKEv2 (2.x); the headers share a layout.
        let version = datagram.ike.get(ikeway_isakmp::header::VERSION_OFFSET).map(|v| v >> 4);
        if version == Some(ikeway_isakmp::header::MAJOR_VERSION) {
            if let Err(e) = ikev1.message(&datagram.ike, keys, &mut object) {
                summary.malformed += 1;
                object.extend(error_fields_v1(&e, "message"));
            }
            serde_json::to_writer(&mut *out, &Value::Object(object))
                .map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            continue;
        }
        match MessageRepr::parse(&datagram.ike) {
            Err(e) => {
                summary.malformed += 1;
                object.extend(error_fields(&e, "message"));
            }
            Ok(message) => {
                object.extend(json::header(&message.header));
                let mut payloads: Vec<Value> = message.payloads.iter().map(json::payload).collect();
                let encrypted = matches!(
                    message.payloads.last().map(|p| &p.body),
                    Some(PayloadRepr::Encrypted(_) | PayloadRepr::EncryptedFragment(_))
                );
                if let (Some(keys), true) = (keys, encrypted) {
                    let mut sk_entry = match payloads.pop() {
                        Some(Value::Object(m)) => m,
                        _ => unreachable!("json::payload renders objects"),
                    };
                    let inner =
                        decrypt(&datagram.ike, &message, keys, &mut reassembly, &mut sk_entry);
                    payloads.push(Value::Object(sk_entry));
                    payloads.extend(inner);
                }
                object.insert("payloads".into(), Value::Array(payloads));
            }
        }
        serde_json::to_writer(&mut *out, &Value::Object(object)).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(summary)
}

fn error_fields(e: &DecodeError, context: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("error".into(), json!(format!("{context}: {e}")));
    m.insert("error_offset".into(), json!(e.offset));
    if let Some(p) = e.payload {
        m.insert("error_payload".into(), json!(p.to_string()));
    }
    m.insert("notify".into(), json!(e.notify().to_string()));
    m
}

fn error_fields_v1(e: &ikeway_isakmp::DecodeError, context: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("error".into(), json!(format!("{context}: {e}")));
    m.insert("error_offset".into(), json!(e.offset));
    if let Some(p) = e.payload {
        m.insert("error_payload".into(), json!(p.to_string()));
    }
    m.insert("notify".into(), json!(e.notify().to_string()));
    m
}

/// Opens the message's SK/SKF payload with the table's keys. Outcomes are recorded on
/// `sk_entry`; the inner payloads are returned, each marked `"encrypted": true`, to be listed
/// after it.
fn decrypt(
    bytes: &[u8],
    message: &MessageRepr,
    keys: &KeyTable,
    reassembly: &mut HashMap<(u64, u64, bool), Reassembler>,
    sk_entry: &mut Map<String, Value>,
) -> Vec<Value> {
    let h = &message.header;
    let Some(sa) = keys.get(h.spi_i, h.spi_r) else {
        sk_entry.insert("decrypted".into(), json!(false));
        sk_entry.insert("note".into(), json!("no keys for this IKE SA in the key table"));
        return Vec::new();
    };
    let outcome = sa
        .as_ref()
        .map_err(String::clone)
        .and_then(|sa| sa.protector(h.flags.initiator))
        .and_then(|p| sk::open(bytes, &p).map_err(|e| e.to_string()));
    let opened = match outcome {
        Ok(opened) => opened,
        Err(e) => {
            sk_entry.insert("decrypted".into(), json!(false));
            sk_entry.insert("error".into(), json!(e));
            return Vec::new();
        }
    };
    sk_entry.insert("decrypted".into(), json!(true));
    let whole = if opened.fragment.is_some() {
        let key = (h.spi_i, h.spi_r, h.flags.initiator);
        let r =
            reassembly.entry(key).or_insert_with(|| Reassembler::new(ReassemblyLimits::default()));
        // Decoding a capture takes far less than the reassembly timeout: nothing expires here.
        let direction = sk::Direction::of_response_flag(h.flags.response);
        match r.push(std::time::Instant::now(), direction, h.message_id, opened) {
            Ok(Reassembly::Complete(whole)) => whole,
            Ok(Reassembly::Pending) => {
                sk_entry.insert("reassembly".into(), json!("pending"));
                return Vec::new();
            }
            Ok(Reassembly::Ignored) => {
                sk_entry.insert("reassembly".into(), json!("duplicate or superseded fragment"));
                return Vec::new();
            }
            Err(e) => {
                sk_entry.insert("error".into(), json!(e.to_string()));
                return Vec::new();
            }
        }
    } else {
        opened
    };
    match whole.payloads() {
        Ok(inner) => {
            sk_entry.insert("inner_payloads".into(), json!(inner.len()));
            inner
                .iter()
                .map(|p| {
                    let mut v = json::payload(p);
                    if let Value::Object(m) = &mut v {
                        m.insert("encrypted".into(), json!(true));
                    }
                    v
                })
                .collect()
        }
        Err(e) => {
            sk_entry.extend(error_fields(&e, "decrypted content"));
            Vec::new()
        }
    }
}
