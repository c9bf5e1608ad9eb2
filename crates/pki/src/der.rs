//! A minimal DER reader for the few structures this crate reads itself: the
//! SubjectPublicKeyInfo of a certificate, the AlgorithmIdentifier of an RFC 7427 AUTH
//! payload (with RSASSA-PSS parameters) and the outer layer of a PKCS#8 key.
//!
//! Certificates and CRLs are parsed by `x509-parser` and `rustls-webpki`; this reader exists
//! so that the small structures on the AUTH path do not depend on either crate's types.
//! It accepts definite lengths only (DER, X.690 §10.1) and never reads past its input.

/// ASN.1 universal tags and the context tags of RSASSA-PSS-params (RFC 4055 §3.1).
pub(crate) mod tag {
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const NULL: u8 = 0x05;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const CONTEXT_0: u8 = 0xa0;
    pub(crate) const CONTEXT_1: u8 = 0xa1;
    pub(crate) const CONTEXT_2: u8 = 0xa2;
    pub(crate) const CONTEXT_3: u8 = 0xa3;
}

/// A cursor over DER bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

/// The input is not the DER that was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError;

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next tag without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one TLV and returns (tag, contents, the whole encoding).
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), DerError> {
        let start = self.rest;
        let (&tag, after_tag) = self.rest.split_first().ok_or(DerError)?;
        // Multi-octet tags (low five bits all set) never occur in what we read.
        if tag & 0x1f == 0x1f {
            return Err(DerError);
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length; more than four octets is no length we accept.
            if count == 0 || count > 4 || after_len.len() < count {
                return Err(DerError);
            }
            let (octets, rest) = after_len.split_at(count);
            after_len = rest;
            let len = octets.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // DER: the shortest form (X.690 §10.1).
            if len < 0x80 || octets[0] == 0 {
                return Err(DerError);
            }
            len
        };
        if after_len.len() < len {
            return Err(DerError);
        }
        let (contents, rest) = after_len.split_at(len);
        let whole_len = start.len() - rest.len();
        self.rest = rest;
        Ok((tag, contents, &start[..whole_len]))
    }

    /// Reads one TLV that must carry `expected`, returning its contents.
    pub(crate) fn expect(&mut self, expected: u8) -> Result<&'a [u8], DerError> {
        let (tag, contents, _) = self.any()?;
        if tag == expected { Ok(contents) } else { Err(DerError) }
    }

    /// Reads a TLV with tag `expected` if it is next.
    pub(crate) fn optional(&mut self, expected: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(expected) { self.expect(expected).map(Some) } else { Ok(None) }
    }

    /// Requires that nothing is left.
    pub(crate) fn finish(self) -> Result<(), DerError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DerError) }
    }
}

/// Reads exactly one TLV with tag `expected` spanning all of `input`, returning its contents.
pub(crate) fn single(input: &[u8], expected: u8) -> Result<&[u8], DerError> {
    let mut r = Reader::new(input);
    let contents = r.expect(expected)?;
    r.finish()?;
    Ok(contents)
}

/// A small non-negative INTEGER (a PSS salt length, a trailer field).
pub(crate) fn small_uint(contents: &[u8]) -> Result<u32, DerError> {
    match contents {
        [] => Err(DerError),
        // A leading zero is only allowed before an octet with its high bit set.
        [0, next, ..] if next & 0x80 == 0 => Err(DerError),
        [first, ..] if first & 0x80 != 0 => Err(DerError),
        _ if contents.len() > 5 => Err(DerError),
        _ => {
            let v = contents.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            u32::try_from(v).map_err(|_| DerError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut short = Reader::new(&[0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00]);
        assert_eq!(short.any().unwrap(), (0x04, &[0xaa, 0xbb][..], &[0x04, 0x02, 0xaa, 0xbb][..]));
        assert_eq!(short.expect(tag::NULL).unwrap(), &[] as &[u8]);
        assert!(short.is_empty());

        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(single(&long, 0x04).unwrap(), &[7u8; 0x80][..]);
    }

    #[test]
    fn rejects_truncated_indefinite_and_non_minimal_lengths() {
        assert_eq!(Reader::new(&[0x04, 0x03, 0x00]).any(), Err(DerError));
        assert_eq!(Reader::new(&[0x30, 0x80, 0x00, 0x00]).any(), Err(DerError));
        // 0x05 fits in the short form, so the long form is not DER.
        assert_eq!(Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).any(), Err(DerError));
        assert_eq!(Reader::new(&[0x1f, 0x01, 0x00]).any(), Err(DerError));
        assert_eq!(Reader::new(&[]).any(), Err(DerError));
        assert_eq!(single(&[0x05, 0x00, 0x00], tag::NULL), Err(DerError));
    }

    #[test]
    fn small_uint_is_minimal_and_non_negative() {
        assert_eq!(small_uint(&[0x20]), Ok(32));
        assert_eq!(small_uint(&[0x00, 0x80]), Ok(128));
        assert_eq!(small_uint(&[0x00, 0x20]), Err(DerError));
        assert_eq!(small_uint(&[0x80]), Err(DerError));
        assert_eq!(small_uint(&[]), Err(DerError));
    }
}
