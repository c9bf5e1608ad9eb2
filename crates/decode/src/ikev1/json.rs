//! Renders IKEv1 messages as JSON: registry names where known, numbers where not, hex for
//! opaque octets; credentials (XAUTH passwords and the like) only as their length.

use std::fmt::Display;

use ikeway_isakmp::{
    AhTransformId, AttributeValue, AuthMethod, ConfigAttribute, ConfigAttributeType as T,
    EncapsulationMode, EncryptionAlgorithm, EspTransformId, GroupDescription, HashAlgorithm,
    HeaderRepr, IdValue, IpsecAttribute, IpsecAuthAlgorithm, IsakmpTransformId, LifeType,
    OakleyAttribute, Payload, ProtocolId, SaAttribute, SaRepr, TransformRepr, XauthType,
};
use serde_json::{Map, Value, json};

/// A registry value as `"NAME"` when known, else its number.
pub(super) fn named<V: Display>(value: V, number: impl Into<u64>) -> Value {
    let text = value.to_string();
    let number = number.into();
    if text == number.to_string() { json!(number) } else { json!(text) }
}

fn hex(bytes: &[u8]) -> Value {
    json!(hex::encode(bytes))
}

pub(crate) fn header(h: &HeaderRepr) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("version".into(), json!(format!("{}.{}", h.version >> 4, h.version & 0x0f)));
    m.insert("exchange".into(), named(h.exchange, h.exchange.0));
    m.insert("message_id".into(), json!(h.message_id));
    m.insert("initiator_cookie".into(), hex(&h.cookie_i));
    m.insert("responder_cookie".into(), hex(&h.cookie_r));
    m.insert(
        "flags".into(),
        json!({
            "encryption": h.flags.encryption,
            "commit": h.flags.commit,
            "authentication_only": h.flags.authentication_only,
        }),
    );
    m.insert("length".into(), json!(h.length));
    m
}

pub(super) fn payload(p: &Payload, encrypted: bool) -> Value {
    let kind = p.kind();
    let mut m = Map::new();
    m.insert("type".into(), named(kind, kind.0));
    if encrypted {
        m.insert("encrypted".into(), json!(true));
    }
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    match p {
        Payload::Sa(sa) => sa_fields(sa, &mut put),
        Payload::Ke(ke) => {
            put("data_length", json!(ke.data.len()));
            put("data", hex(&ke.data));
        }
        Payload::Id(id) => {
            put("id_type", named(id.id_type, id.id_type.0));
            put("protocol", json!(id.protocol));
            put("port", json!(id.port));
            put("id", id_value(id.value()));
        }
        Payload::Cert(c) | Payload::CertReq(c) => {
            put("encoding", named(c.encoding, c.encoding.0));
            put("data", hex(&c.data));
        }
        Payload::Hash(x) => put("data", hex(&x.data)),
        Payload::Sig(x) => put("data", hex(&x.data)),
        Payload::Nonce(x) => {
            put("data_length", json!(x.data.len()));
            put("data", hex(&x.data));
        }
        Payload::NatD(x) | Payload::NatDDraft(x) => put("data", hex(&x.data)),
        Payload::NatOa(x) | Payload::NatOaDraft(x) => put("address", json!(x.address.to_string())),
        Payload::VendorId(v) => {
            if let Some(k) = v.known() {
                put("vendor", json!(k.name()));
            }
            put("data", hex(&v.data));
        }
        Payload::Notification(n) => {
            put("doi", named(n.doi, n.doi.0));
            put("protocol", named(n.protocol, n.protocol.0));
            if !n.spi.is_empty() {
                put("spi", hex(&n.spi));
            }
            put("notify_type", named(n.kind, n.kind.0));
            put("notify_number", json!(n.kind.0));
            if let Some(seq) = n.dpd_sequence() {
                put("sequence", json!(seq));
            }
            put("data", hex(&n.data));
        }
        Payload::Delete(d) => {
            put("doi", named(d.doi, d.doi.0));
            put("protocol", named(d.protocol, d.protocol.0));
            put("spi_size", json!(d.spi_size));
            put("spis", json!(d.spis.iter().map(hex::encode).collect::<Vec<_>>()));
        }
        Payload::Attribute(a) => {
            put("cfg_type", named(a.kind, a.kind.0));
            put("identifier", json!(a.identifier));
            put("attributes", json!(a.attributes.iter().map(config_attribute).collect::<Vec<_>>()));
        }
        Payload::Fragment(f) => {
            put("fragment_id", json!(f.id));
            put("fragment_number", json!(f.number));
            put("last", json!(f.is_last()));
            put("flags", json!(f.flags));
            put("data_length", json!(f.data.len()));
            put("data", hex(&f.data));
        }
        Payload::Unknown { data, .. } => put("data", hex(data)),
        // The codec may learn new payloads before this renderer does.
        _ => put("note", json!("payload type not rendered by this version of ikeway decode")),
    }
    Value::Object(m)
}

fn sa_fields(sa: &SaRepr, put: &mut impl FnMut(&str, Value)) {
    put("doi", named(sa.doi, sa.doi.0));
    put("situation", json!(sa.situation));
    let proposals: Vec<Value> = sa
        .proposals
        .iter()
        .map(|p| {
            json!({
                "number": p.number,
                "protocol": named(p.protocol, p.protocol.0),
                "spi": hex(&p.spi),
                "transforms": p.transforms.iter().map(|t| transform(p.protocol, t)).collect::<Vec<_>>(),
            })
        })
        .collect();
    put("proposals", json!(proposals));
}

fn transform(protocol: ProtocolId, t: &TransformRepr) -> Value {
    let id = match protocol {
        ProtocolId::ISAKMP => named(IsakmpTransformId(t.id), t.id),
        ProtocolId::ESP => named(EspTransformId(t.id), t.id),
        ProtocolId::AH => named(AhTransformId(t.id), t.id),
        _ => json!(t.id),
    };
    let attributes: Vec<Value> =
        t.attributes.iter().map(|a| sa_attribute(protocol == ProtocolId::ISAKMP, a)).collect();
    json!({"number": t.number, "id": id, "attributes": attributes})
}

fn sa_attribute(phase1: bool, a: &SaAttribute) -> Value {
    let int = a.value.as_u64();
    let as16 = || int.and_then(|v| u16::try_from(v).ok());
    let (kind, value) = if phase1 {
        let k = OakleyAttribute(a.kind);
        let v = match (k, as16()) {
            (OakleyAttribute::ENCRYPTION_ALGORITHM, Some(v)) => named(EncryptionAlgorithm(v), v),
            (OakleyAttribute::HASH_ALGORITHM | OakleyAttribute::PRF, Some(v)) => {
                named(HashAlgorithm(v), v)
            }
            (OakleyAttribute::AUTHENTICATION_METHOD, Some(v)) => named(AuthMethod(v), v),
            (OakleyAttribute::GROUP_DESCRIPTION, Some(v)) => named(GroupDescription(v), v),
            (OakleyAttribute::LIFE_TYPE, Some(v)) => named(LifeType(v), v),
            _ => raw_value(&a.value),
        };
        (named(k, k.0), v)
    } else {
        let k = IpsecAttribute(a.kind);
        let v = match (k, as16()) {
            (IpsecAttribute::SA_LIFE_TYPE, Some(v)) => named(LifeType(v), v),
            (IpsecAttribute::GROUP_DESCRIPTION, Some(v)) => named(GroupDescription(v), v),
            (IpsecAttribute::ENCAPSULATION_MODE, Some(v)) => named(EncapsulationMode(v), v),
            (IpsecAttribute::AUTHENTICATION_ALGORITHM, Some(v)) => named(IpsecAuthAlgorithm(v), v),
            _ => raw_value(&a.value),
        };
        (named(k, k.0), v)
    };
    json!({"type": kind, "value": value})
}

/// An attribute value as a number when it is one (TV, or TLV of up to 8 octets), else hex.
fn raw_value(v: &AttributeValue) -> Value {
    match (v, v.as_u64()) {
        (_, Some(n)) => json!(n),
        (AttributeValue::Variable(b), None) => hex(b),
        (AttributeValue::Basic(n), None) => json!(n),
    }
}

fn id_value(v: IdValue<'_>) -> Value {
    match v {
        IdValue::Addr(a) => json!(a.to_string()),
        IdValue::Subnet(a, m) => json!(format!("{a}/{m}")),
        IdValue::Range(a, b) => json!(format!("{a}-{b}")),
        IdValue::Fqdn(s) | IdValue::UserFqdn(s) => json!(s),
        IdValue::KeyId(b) => match core::str::from_utf8(b) {
            Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() || c == ' ') => {
                json!(s)
            }
            _ => hex(b),
        },
        IdValue::DerAsn1Dn(b) | IdValue::DerAsn1Gn(b) | IdValue::Other(b) => hex(b),
        _ => Value::Null,
    }
}

fn config_attribute(a: &ConfigAttribute) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), named(a.kind, a.kind.0));
    let value = if a.kind.is_secret() {
        let len = a.value.as_bytes().map_or(2, <[u8]>::len);
        json!(format!("(redacted, {len} octets)"))
    } else if a.is_empty() {
        // An empty value asks for the attribute (draft-dukes-ike-mode-cfg §3.3).
        json!("")
    } else {
        match a.kind {
            T::INTERNAL_IP4_ADDRESS
            | T::INTERNAL_IP4_NETMASK
            | T::INTERNAL_IP4_DNS
            | T::INTERNAL_IP4_NBNS
            | T::INTERNAL_IP4_DHCP => a.as_ipv4().map(|v| json!(v.to_string())),
            T::INTERNAL_IP4_SUBNET => a.as_ipv4_subnet().map(|(v, m)| json!(format!("{v}/{m}"))),
            T::INTERNAL_IP6_ADDRESS
            | T::INTERNAL_IP6_DNS
            | T::INTERNAL_IP6_NBNS
            | T::INTERNAL_IP6_SUBNET => a.as_ipv6().map(|(v, p)| match p {
                Some(p) => json!(format!("{v}/{p}")),
                None => json!(v.to_string()),
            }),
            T::XAUTH_TYPE => a.value.as_basic().map(|v| named(XauthType(v), v)),
            T::XAUTH_STATUS | T::UNITY_SAVE_PASSWD | T::UNITY_PFS | T::UNITY_NATT_PORT => {
                a.value.as_u64().map(|v| json!(v))
            }
            T::UNITY_SPLIT_INCLUDE | T::UNITY_LOCAL_LAN => {
                a.split_networks().and_then(Result::ok).map(|nets| {
                    json!(
                        nets.iter()
                            .map(|n| json!({
                                "network": format!("{}/{}", n.addr, n.mask),
                                "protocol": n.protocol,
                                "src_port": n.src_port,
                                "dst_port": n.dst_port,
                            }))
                            .collect::<Vec<_>>()
                    )
                })
            }
            T::UNITY_SPLITDNS_NAME => a.split_dns().map(|d| json!(d)),
            T::XAUTH_USER_NAME
            | T::XAUTH_MESSAGE
            | T::XAUTH_CHALLENGE
            | T::XAUTH_DOMAIN
            | T::UNITY_BANNER
            | T::UNITY_DEF_DOMAIN
            | T::UNITY_DDNS_HOSTNAME
            | T::APPLICATION_VERSION => a.as_str().map(|v| json!(v)),
            _ => None,
        }
        .unwrap_or_else(|| raw_value(&a.value))
    };
    m.insert("value".into(), value);
    Value::Object(m)
}
