//! Data attributes (RFC 2408 §3.3): the TV ("basic") and TLV ("variable")
//! form shared by SA transforms and the Mode Config Attribute payload.
//!
//! ```text
//! !A!       Attribute Type        !    AF=0  Attribute Length     !
//! !F!                             !    AF=1  Attribute Value      !
//! .                   AF=0  Attribute Value                       .
//! ```

use core::fmt;

use zeroize::Zeroize;

use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::ConfigAttributeType;

/// The Attribute Format bit: set for the TV (basic) form.
const AF_BASIC: u16 = 0x8000;

/// An attribute's value in the form it was (or will be) sent.
///
/// The form is part of the encoding: RFC 2409 lets a Life-Duration travel
/// as TV or TLV, so the form is kept to re-encode byte for byte. A variable
/// value is zeroized when dropped, since XAUTH passwords travel in it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// TV: a 16-bit value in the attribute header.
    Basic(u16),
    /// TLV: up to 65535 octets.
    Variable(Vec<u8>),
}

impl AttributeValue {
    /// An integer in the shortest form that holds it: TV up to 65535, else
    /// a 4-octet (or, above `u32::MAX`, 8-octet) TLV, as RFC 2409
    /// Appendix A allows for lifetimes.
    pub fn integer(v: u64) -> Self {
        if let Ok(small) = u16::try_from(v) {
            Self::Basic(small)
        } else if let Ok(mid) = u32::try_from(v) {
            Self::Variable(mid.to_be_bytes().to_vec())
        } else {
            Self::Variable(v.to_be_bytes().to_vec())
        }
    }

    /// The value as an integer: a TV value, or a TLV of 1 to 8 octets read
    /// big-endian (RFC 2408 §3.3 "Variable length ... integer").
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Basic(v) => Some(u64::from(*v)),
            Self::Variable(b) if (1..=8).contains(&b.len()) => {
                Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
            }
            Self::Variable(_) => None,
        }
    }

    /// The TV value, if basic.
    pub fn as_basic(&self) -> Option<u16> {
        match self {
            Self::Basic(v) => Some(*v),
            Self::Variable(_) => None,
        }
    }

    /// The TLV octets, if variable.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Basic(_) => None,
            Self::Variable(b) => Some(b),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Basic(_) => 4,
            Self::Variable(b) => 4 + b.len(),
        }
    }
}

impl Drop for AttributeValue {
    fn drop(&mut self) {
        if let Self::Variable(b) = self {
            b.zeroize();
        }
    }
}

impl fmt::Debug for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic(v) => write!(f, "Basic({v})"),
            Self::Variable(b) => write!(f, "Variable({})", HexBytes(b)),
        }
    }
}

struct HexBytes<'a>(&'a [u8]);

impl fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What an attribute's type field holds: a 15-bit class, which may mark
/// the value as a credential.
pub trait AttributeKind: Copy + Eq + fmt::Display + From<u16> + Into<u16> {
    /// Whether values of this kind are secrets, kept out of `Debug`.
    fn is_secret(self) -> bool {
        false
    }
}

impl AttributeKind for u16 {}

impl AttributeKind for ConfigAttributeType {
    fn is_secret(self) -> bool {
        ConfigAttributeType::is_secret(self)
    }
}

/// One data attribute: its class (`K`: a raw `u16` in SA transforms, whose
/// meaning depends on the protocol, or a [`ConfigAttributeType`]) and
/// value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DataAttribute<K> {
    /// The attribute type (class), 15 bits.
    pub kind: K,
    /// The value, TV or TLV.
    pub value: AttributeValue,
}

impl<K: AttributeKind> DataAttribute<K> {
    /// A TV attribute.
    pub fn basic(kind: impl Into<K>, value: u16) -> Self {
        Self { kind: kind.into(), value: AttributeValue::Basic(value) }
    }

    /// A TLV attribute.
    pub fn variable(kind: impl Into<K>, value: Vec<u8>) -> Self {
        Self { kind: kind.into(), value: AttributeValue::Variable(value) }
    }

    /// An integer attribute in its shortest form ([`AttributeValue::integer`]).
    pub fn integer(kind: impl Into<K>, value: u64) -> Self {
        Self { kind: kind.into(), value: AttributeValue::integer(value) }
    }

    /// Encoded length, header included.
    pub fn buffer_len(&self) -> usize {
        self.value.encoded_len()
    }

    /// Read one attribute. A header or value running past the cursor is
    /// `AttributeTruncated` at the attribute's first octet.
    pub(crate) fn parse(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = c.offset();
        let truncated = |_| DecodeError::new(DecodeErrorKind::AttributeTruncated, start);
        let word = c.u16().map_err(truncated)?;
        let kind = K::from(word & !AF_BASIC);
        let second = c.u16().map_err(truncated)?;
        let value = if word & AF_BASIC != 0 {
            AttributeValue::Basic(second)
        } else {
            AttributeValue::Variable(c.take(usize::from(second)).map_err(truncated)?.to_vec())
        };
        Ok(Self { kind, value })
    }

    pub(crate) fn emit(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        let kind: u16 = self.kind.into();
        if kind & AF_BASIC != 0 {
            return Err(EmitError::Inconsistent("attribute type exceeds 15 bits"));
        }
        match &self.value {
            AttributeValue::Basic(v) => {
                o.u16(kind | AF_BASIC)?;
                o.u16(*v)
            }
            AttributeValue::Variable(b) => {
                o.u16(kind)?;
                o.u16(len_u16("attribute value", b.len())?)?;
                o.put(b)
            }
        }
    }
}

impl<K: AttributeKind> fmt::Debug for DataAttribute<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DataAttribute");
        d.field("kind", &format_args!("{}", self.kind));
        if self.kind.is_secret() {
            d.field("value", &"<redacted>");
        } else {
            d.field("value", &self.value);
        }
        d.finish()
    }
}

/// Read attributes until `c` is empty.
pub(crate) fn parse_list<K: AttributeKind>(
    c: &mut Reader<'_>,
) -> Result<Vec<DataAttribute<K>>, DecodeError> {
    let mut out = Vec::new();
    while !c.is_empty() {
        out.push(DataAttribute::parse(c)?);
    }
    Ok(out)
}

/// Encoded length of a list.
pub(crate) fn list_len<K: AttributeKind>(list: &[DataAttribute<K>]) -> usize {
    list.iter().map(DataAttribute::buffer_len).sum()
}

/// Encode a list as the bare octets it occupies on the wire, e.g. the data
/// of a RESPONDER-LIFETIME notification (RFC 2407 §4.6.3.1).
pub fn encode_list<K: AttributeKind>(list: &[DataAttribute<K>]) -> Result<Vec<u8>, EmitError> {
    let mut buf = vec![0u8; list_len(list)];
    emit_list(list, &mut Writer::new(&mut buf))?;
    Ok(buf)
}

/// Decode a list of attributes filling `bytes`; error offsets count from
/// its start.
pub fn decode_list<K: AttributeKind>(bytes: &[u8]) -> Result<Vec<DataAttribute<K>>, DecodeError> {
    parse_list(&mut Reader::with_base(bytes, 0))
}

/// Write a list in order.
pub(crate) fn emit_list<K: AttributeKind>(
    list: &[DataAttribute<K>],
    o: &mut Writer<'_>,
) -> Result<(), EmitError> {
    list.iter().try_for_each(|a| a.emit(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_variable_forms() {
        // Encryption-Algorithm AES-CBC (TV), then Life-Duration 28800 as a
        // 4-octet TLV, as strongSwan sends them.
        let wire = [0x80, 0x01, 0x00, 0x07, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x70, 0x80];
        let mut c = Reader::with_base(&wire, 0);
        let list: Vec<DataAttribute<u16>> = parse_list(&mut c).expect("two attributes");
        assert_eq!(list[0], DataAttribute::basic(1u16, 7));
        assert_eq!(list[1], DataAttribute::variable(12u16, vec![0, 0, 0x70, 0x80]));
        assert_eq!(list[1].value.as_u64(), Some(28800));
        let mut buf = [0u8; 12];
        let mut o = Writer::new(&mut buf);
        emit_list(&list, &mut o).expect("room");
        assert_eq!(buf, wire);
        assert_eq!(list_len(&list), 12);
    }

    #[test]
    fn integer_picks_the_shortest_form() {
        assert_eq!(AttributeValue::integer(3600), AttributeValue::Basic(3600));
        assert_eq!(
            AttributeValue::integer(86400),
            AttributeValue::Variable(vec![0, 1, 0x51, 0x80])
        );
        assert_eq!(AttributeValue::integer(1 << 40).as_bytes().map(<[u8]>::len), Some(8));
        assert_eq!(AttributeValue::Variable(vec![0; 9]).as_u64(), None);
        assert_eq!(AttributeValue::Variable(Vec::new()).as_u64(), None);
    }

    #[test]
    fn rejects_truncated_attribute() {
        let wire = [0x80, 0x01, 0x00, 0x07, 0x00, 0x0c, 0x00, 0x08, 0x00, 0x00];
        let mut c = Reader::with_base(&wire, 100);
        let e = parse_list::<u16>(&mut c).expect_err("value runs past the end");
        assert_eq!(e, DecodeError::new(DecodeErrorKind::AttributeTruncated, 104));
        let mut c = Reader::with_base(&wire[..3], 0);
        assert_eq!(
            parse_list::<u16>(&mut c).unwrap_err().kind,
            DecodeErrorKind::AttributeTruncated
        );
    }

    #[test]
    fn rejects_16_bit_type_on_emit() {
        let mut buf = [0u8; 4];
        let a: DataAttribute<u16> = DataAttribute::basic(0x8001u16, 1);
        assert_eq!(
            a.emit(&mut Writer::new(&mut buf)),
            Err(EmitError::Inconsistent("attribute type exceeds 15 bits"))
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let a: DataAttribute<ConfigAttributeType> =
            DataAttribute::variable(ConfigAttributeType::XAUTH_USER_PASSWORD, b"hunter2".to_vec());
        let shown = format!("{a:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("68756e746572"), "{shown}");
        let name: DataAttribute<ConfigAttributeType> =
            DataAttribute::variable(ConfigAttributeType::XAUTH_USER_NAME, b"al".to_vec());
        assert_eq!(
            format!("{name:?}"),
            "DataAttribute { kind: XAUTH-USER-NAME, value: Variable(616c) }"
        );
    }
}
