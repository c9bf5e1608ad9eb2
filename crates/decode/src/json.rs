//! Renders decoded IKE messages as JSON objects: names where the registries know them,
//! numbers where they do not, hex for opaque bytes.

use std::fmt::Display;

use ikeway_codec::{
    AuthMethod, CertEncoding, ConfigAttribute, ConfigAttributeType, DhGroup, EncrAlg, EsnMode,
    HeaderRepr, IdValue, IntegAlg, Payload, PayloadRepr, PrfAlg, TrafficSelector,
    TransformAttribute, TransformRepr, TransformType,
};
use serde_json::{Map, Value, json};

/// A registry value as `"NAME"` when known, else its number.
fn named<T: Display + Copy>(value: T, known: bool, number: impl Into<u64>) -> Value {
    if known { json!(value.to_string()) } else { json!(number.into()) }
}

pub(crate) fn header(h: &HeaderRepr) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("exchange".into(), named(h.exchange, h.exchange.is_known(), h.exchange.0));
    m.insert("message_id".into(), json!(h.message_id));
    m.insert("initiator_spi".into(), json!(format!("{:016x}", h.spi_i)));
    m.insert("responder_spi".into(), json!(format!("{:016x}", h.spi_r)));
    m.insert(
        "flags".into(),
        json!({
            "initiator": h.flags.initiator,
            "response": h.flags.response,
            "version": h.flags.version,
        }),
    );
    m.insert("version".into(), json!(format!("{}.{}", h.version >> 4, h.version & 0x0f)));
    m.insert("length".into(), json!(h.length));
    m
}

pub(crate) fn payload(p: &Payload) -> Value {
    let kind = p.kind();
    let mut m = Map::new();
    m.insert("type".into(), named(kind, kind.is_known(), kind.0));
    if p.critical {
        m.insert("critical".into(), json!(true));
    }
    fields(&p.body, &mut m);
    Value::Object(m)
}

fn hex(bytes: &[u8]) -> Value {
    json!(hex::encode(bytes))
}

fn fields(body: &PayloadRepr, m: &mut Map<String, Value>) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    match body {
        PayloadRepr::Sa(sa) => {
            let proposals: Vec<Value> = sa
                .proposals
                .iter()
                .map(|p| {
                    json!({
                        "number": p.number,
                        "protocol": named(p.protocol, p.protocol.is_known(), p.protocol.0),
                        "spi": hex(&p.spi),
                        "transforms": p.transforms.iter().map(transform).collect::<Vec<_>>(),
                    })
                })
                .collect();
            put("proposals", json!(proposals));
        }
        PayloadRepr::Ke(ke) => {
            put("group", named(ke.group, ke.group.is_known(), ke.group.0));
            put("data_length", json!(ke.data.len()));
            put("data", hex(&ke.data));
        }
        PayloadRepr::IdI(id) | PayloadRepr::IdR(id) => {
            put("id_type", named(id.id_type, id.id_type.is_known(), id.id_type.0));
            put("id", id_value(id.value()));
        }
        PayloadRepr::Cert(c) | PayloadRepr::CertReq(c) => {
            put("encoding", named::<CertEncoding>(c.encoding, c.encoding.is_known(), c.encoding.0));
            put("data", hex(&c.data));
        }
        PayloadRepr::Auth(a) => {
            put("method", named::<AuthMethod>(a.method, a.method.is_known(), a.method.0));
            put("data", hex(&a.data));
        }
        PayloadRepr::Nonce(n) => {
            put("data_length", json!(n.data.len()));
            put("data", hex(&n.data));
        }
        PayloadRepr::Notify(n) => {
            put("notify_type", named(n.kind, n.kind.is_known(), n.kind.0));
            put("notify_number", json!(n.kind.0));
            put("protocol", named(n.protocol, n.protocol.is_known(), n.protocol.0));
            if !n.spi.is_empty() {
                put("spi", hex(&n.spi));
            }
            put("data", hex(&n.data));
        }
        PayloadRepr::Delete(d) => {
            put("protocol", named(d.protocol, d.protocol.is_known(), d.protocol.0));
            put("spis", json!(d.spis.iter().map(hex::encode).collect::<Vec<_>>()));
        }
        PayloadRepr::VendorId(v) => put("data", hex(&v.data)),
        PayloadRepr::TsI(ts) | PayloadRepr::TsR(ts) => {
            put("selectors", json!(ts.selectors.iter().map(selector).collect::<Vec<_>>()));
        }
        PayloadRepr::Encrypted(e) => {
            put("next_payload", named(e.first_inner, e.first_inner.is_known(), e.first_inner.0));
            put("encrypted_length", json!(e.body.len()));
        }
        PayloadRepr::EncryptedFragment(f) => {
            put("next_payload", named(f.first_inner, f.first_inner.is_known(), f.first_inner.0));
            put("fragment_number", json!(f.number));
            put("total_fragments", json!(f.total));
            put("encrypted_length", json!(f.body.len()));
        }
        PayloadRepr::Config(c) => {
            put("cfg_type", named(c.kind, c.kind.is_known(), c.kind.0));
            put("attributes", json!(c.attributes.iter().map(config_attribute).collect::<Vec<_>>()));
        }
        PayloadRepr::Eap(e) => {
            put("code", json!(e.code.0));
            put("identifier", json!(e.identifier));
            if let Some(t) = e.eap_type {
                put("eap_type", json!(t));
            }
            put("data", hex(&e.data));
        }
        PayloadRepr::Unknown { data, .. } => put("data", hex(data)),
        // The codec may learn new payloads before this renderer does.
        _ => put("note", json!("payload type not rendered by this version of ikeway decode")),
    }
}

fn transform(t: &TransformRepr) -> Value {
    let id = match t.kind {
        TransformType::ENCR => named(EncrAlg(t.id), EncrAlg(t.id).is_known(), t.id),
        TransformType::PRF => named(PrfAlg(t.id), PrfAlg(t.id).is_known(), t.id),
        TransformType::INTEG => named(IntegAlg(t.id), IntegAlg(t.id).is_known(), t.id),
        TransformType::DH => named(DhGroup(t.id), DhGroup(t.id).is_known(), t.id),
        TransformType::ESN => named(EsnMode(t.id), EsnMode(t.id).is_known(), t.id),
        _ => json!(t.id),
    };
    let mut m = Map::new();
    m.insert("type".into(), named(t.kind, t.kind.is_known(), t.kind.0));
    m.insert("id".into(), id);
    if let Some(bits) = t.key_length() {
        m.insert("key_length".into(), json!(bits));
    }
    let others: Vec<Value> = t
        .attributes
        .iter()
        .filter(|a| a.kind() != TransformAttribute::key_length(0).kind())
        .map(|a| match a {
            TransformAttribute::Tv { kind, value } => json!({"attribute": kind.0, "value": value}),
            TransformAttribute::Tlv { kind, value } => {
                json!({"attribute": kind.0, "value": hex::encode(value)})
            }
        })
        .collect();
    if !others.is_empty() {
        m.insert("attributes".into(), json!(others));
    }
    Value::Object(m)
}

fn id_value(v: IdValue<'_>) -> Value {
    match v {
        IdValue::Ipv4(a) => json!(a.to_string()),
        IdValue::Ipv6(a) => json!(a.to_string()),
        IdValue::Fqdn(s) | IdValue::Rfc822(s) => json!(s),
        IdValue::DerAsn1Dn(b) | IdValue::DerAsn1Gn(b) | IdValue::KeyId(b) => hex(b),
        IdValue::Null => Value::Null,
        IdValue::Other(_, b) => hex(b),
    }
}

fn selector(s: &TrafficSelector) -> Value {
    match s {
        TrafficSelector::Range(r) => json!({
            "ts_type": s.ts_type().to_string(),
            "ip_protocol": r.ip_protocol,
            "start_port": r.start_port,
            "end_port": r.end_port,
            "start": r.start.to_string(),
            "end": r.end.to_string(),
        }),
        TrafficSelector::Other { ts_type, ip_protocol, data } => {
            json!({"ts_type": ts_type.0, "ip_protocol": ip_protocol, "data": hex::encode(data)})
        }
    }
}

fn config_attribute(a: &ConfigAttribute) -> Value {
    use ConfigAttributeType as T;
    let mut m = Map::new();
    m.insert("type".into(), named(a.kind, a.kind.is_known(), a.kind.0));
    // An empty value is a request for that attribute (RFC 7296 §3.15.1).
    let typed = if a.is_empty() {
        None
    } else {
        match a.kind {
            T::INTERNAL_IP4_ADDRESS
            | T::INTERNAL_IP4_NETMASK
            | T::INTERNAL_IP4_DNS
            | T::INTERNAL_IP4_NBNS
            | T::INTERNAL_IP4_DHCP
            | T::P_CSCF_IP4_ADDRESS => a.as_ipv4().map(|v| json!(v.to_string())),
            T::INTERNAL_IP4_SUBNET => {
                a.as_ipv4_subnet().map(|(v, mask)| json!(format!("{v}/{mask}")))
            }
            T::INTERNAL_IP6_ADDRESS | T::INTERNAL_IP6_SUBNET => {
                a.as_ipv6_prefix().map(|(v, len)| json!(format!("{v}/{len}")))
            }
            T::INTERNAL_IP6_DNS | T::INTERNAL_IP6_DHCP | T::P_CSCF_IP6_ADDRESS => {
                a.as_ipv6().map(|v| json!(v.to_string()))
            }
            T::INTERNAL_DNS_DOMAIN | T::APPLICATION_VERSION => a.as_str().map(|v| json!(v)),
            _ => None,
        }
    };
    m.insert("value".into(), typed.unwrap_or_else(|| hex(&a.value)));
    Value::Object(m)
}
