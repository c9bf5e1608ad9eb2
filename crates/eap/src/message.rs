//! Building EAP messages and reading the Nak (RFC 3748 §4, §5.3).

use ikeway_codec::{EapCode, EapRepr};

use crate::EapType;

/// The Vendor-Id of the IETF in Expanded Types (RFC 3748 §5.7).
const VENDOR_IETF: [u8; 3] = [0, 0, 0];

/// A Request or Response of type `t`.
pub(crate) fn typed(code: EapCode, identifier: u8, t: EapType, data: Vec<u8>) -> EapRepr {
    EapRepr { code, identifier, eap_type: Some(t.0), data }
}

/// Success or Failure: no Type, no data (RFC 3748 §4.2).
pub(crate) fn verdict(code: EapCode, identifier: u8) -> EapRepr {
    EapRepr { code, identifier, eap_type: None, data: Vec::new() }
}

/// A Legacy Nak (RFC 3748 §5.3.1) naming `wanted`, or the single 0 octet ("no alternative")
/// when we have none.
pub(crate) fn legacy_nak(identifier: u8, wanted: &[EapType]) -> EapRepr {
    let data = if wanted.is_empty() { vec![0] } else { wanted.iter().map(|t| t.0).collect() };
    typed(EapCode::RESPONSE, identifier, EapType::NAK, data)
}

/// An Expanded Nak (RFC 3748 §5.3.2), the answer to an Expanded Type request: its own header
/// (IETF, type 3), then one 8-octet entry per method, Vendor-Type 0 when we have none.
pub(crate) fn expanded_nak(identifier: u8, wanted: &[EapType]) -> EapRepr {
    let mut data = Vec::with_capacity(7 + 8 * wanted.len().max(1));
    data.extend_from_slice(&VENDOR_IETF);
    data.extend_from_slice(&u32::from(EapType::NAK.0).to_be_bytes());
    let entries: Vec<u32> =
        if wanted.is_empty() { vec![0] } else { wanted.iter().map(|t| u32::from(t.0)).collect() };
    for t in entries {
        data.push(EapType::EXPANDED.0);
        data.extend_from_slice(&VENDOR_IETF);
        data.extend_from_slice(&t.to_be_bytes());
    }
    typed(EapCode::RESPONSE, identifier, EapType::EXPANDED, data)
}

/// The IETF method types a Nak Response names (Legacy or Expanded), in the peer's order;
/// `None` when the message is not a well-formed Nak. An empty list means "no alternative".
pub(crate) fn nak_types(response: &EapRepr) -> Option<Vec<EapType>> {
    match response.eap_type.map(EapType) {
        Some(EapType::NAK) => {
            if response.data.is_empty() {
                return None;
            }
            Some(response.data.iter().filter(|&&t| t != 0).map(|&t| EapType(t)).collect())
        }
        Some(EapType::EXPANDED) => {
            let (head, entries) = response.data.split_at_checked(7)?;
            if head[..3] != VENDOR_IETF || head[3..] != u32::from(EapType::NAK.0).to_be_bytes() {
                return None;
            }
            if entries.is_empty() || entries.len() % 8 != 0 {
                return None;
            }
            let mut types = Vec::new();
            for e in entries.chunks_exact(8) {
                let t = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                if e[0] != EapType::EXPANDED.0 {
                    return None;
                }
                // Another vendor's method is one we do not run: skip it.
                if e[1..4] == VENDOR_IETF
                    && t != 0
                    && let Ok(t) = u8::try_from(t)
                {
                    types.push(EapType(t));
                }
            }
            Some(types)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_nak_lists_types_or_zero() {
        let m = legacy_nak(7, &[EapType::MSCHAPV2, EapType::MD5_CHALLENGE]);
        let mut buf = [0u8; 16];
        let n = m.emit(&mut buf).expect("room");
        assert_eq!(&buf[..n], &[2, 7, 0, 7, 3, 26, 4]);
        assert_eq!(nak_types(&m), Some(vec![EapType::MSCHAPV2, EapType::MD5_CHALLENGE]));
        let none = legacy_nak(8, &[]);
        assert_eq!(none.data, vec![0]);
        assert_eq!(nak_types(&none), Some(vec![]));
    }

    #[test]
    fn expanded_nak_round_trips() {
        let m = expanded_nak(9, &[EapType::MSCHAPV2]);
        assert_eq!(m.data, [0, 0, 0, 0, 0, 0, 3, 254, 0, 0, 0, 0, 0, 0, 26]);
        assert_eq!(nak_types(&m), Some(vec![EapType::MSCHAPV2]));
        assert_eq!(nak_types(&expanded_nak(9, &[])), Some(vec![]));
    }

    #[test]
    fn rejects_malformed_naks() {
        let empty = typed(EapCode::RESPONSE, 1, EapType::NAK, vec![]);
        assert_eq!(nak_types(&empty), None);
        let short = typed(EapCode::RESPONSE, 1, EapType::EXPANDED, vec![0, 0, 0, 0, 0, 0, 3, 254]);
        assert_eq!(nak_types(&short), None);
        let other_vendor_header =
            typed(EapCode::RESPONSE, 1, EapType::EXPANDED, vec![0, 0, 9, 0, 0, 0, 3]);
        assert_eq!(nak_types(&other_vendor_header), None);
        let not_nak = typed(EapCode::RESPONSE, 1, EapType::MD5_CHALLENGE, vec![1]);
        assert_eq!(nak_types(&not_nak), None);
    }
}
