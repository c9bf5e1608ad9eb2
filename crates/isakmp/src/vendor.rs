//! The Vendor IDs IKEv1 peers announce capabilities with. Most are MD5
//! hashes of a string; some carry version or capability octets after a
//! fixed prefix, so recognition compares prefixes where the sender adds
//! them.

use core::fmt;

use crate::payload::VendorIdRepr;

/// A Vendor ID this crate recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KnownVendorId {
    /// RFC 3947 NAT traversal: MD5("RFC 3947").
    NatTRfc3947,
    /// draft-ietf-ipsec-nat-t-ike-02 (MD5 of the name).
    NatTDraft02,
    /// draft-ietf-ipsec-nat-t-ike-02 as hashed with a trailing newline,
    /// which many implementations (Apple's among them) send.
    NatTDraft02N,
    /// draft-ietf-ipsec-nat-t-ike-03.
    NatTDraft03,
    /// XAUTH (draft-beaulieu-ike-xauth-02): the first 8 octets of
    /// MD5("draft-ietf-ipsra-isakmp-xauth-06.txt").
    Xauth,
    /// Dead Peer Detection, RFC 3706 §6, version 1.0.
    Dpd,
    /// Cisco Unity: 14 octets of MD5("CISCO-UNITY"), then major and minor
    /// version.
    CiscoUnity,
    /// strongSwan: MD5("strongSwan").
    StrongSwan,
    /// IKEv1 fragmentation: MD5("FRAGMENTATION"), optionally followed by
    /// four capability octets.
    Fragmentation,
}

impl KnownVendorId {
    /// Every recognised ID.
    pub const ALL: [Self; 9] = [
        Self::NatTRfc3947,
        Self::NatTDraft02,
        Self::NatTDraft02N,
        Self::NatTDraft03,
        Self::Xauth,
        Self::Dpd,
        Self::CiscoUnity,
        Self::StrongSwan,
        Self::Fragmentation,
    ];

    /// The octets this crate sends for the ID.
    pub const fn bytes(self) -> &'static [u8] {
        match self {
            Self::NatTRfc3947 => {
                b"\x4a\x13\x1c\x81\x07\x03\x58\x45\x5c\x57\x28\xf2\x0e\x95\x45\x2f"
            }
            Self::NatTDraft02 => {
                b"\xcd\x60\x46\x43\x35\xdf\x21\xf8\x7c\xfd\xb2\xfc\x68\xb6\xa4\x48"
            }
            Self::NatTDraft02N => {
                b"\x90\xcb\x80\x91\x3e\xbb\x69\x6e\x08\x63\x81\xb5\xec\x42\x7b\x1f"
            }
            Self::NatTDraft03 => {
                b"\x7d\x94\x19\xa6\x53\x10\xca\x6f\x2c\x17\x9d\x92\x15\x52\x9d\x56"
            }
            Self::Xauth => b"\x09\x00\x26\x89\xdf\xd6\xb7\x12",
            Self::Dpd => b"\xaf\xca\xd7\x13\x68\xa1\xf1\xc9\x6b\x86\x96\xfc\x77\x57\x01\x00",
            Self::CiscoUnity => b"\x12\xf5\xf2\x8c\x45\x71\x68\xa9\x70\x2d\x9f\xe2\x74\xcc\x01\x00",
            Self::StrongSwan => b"\x88\x2f\xe5\x6d\x6f\xd2\x0d\xbc\x22\x51\x61\x3b\x2e\xbe\x5b\xeb",
            Self::Fragmentation => {
                b"\x40\x48\xb7\xd5\x6e\xbc\xe8\x85\x25\xe7\xde\x7f\x00\xd6\xc2\xd3\x80\x00\x00\x00"
            }
        }
    }

    /// How many leading octets identify the ID (the rest is a version or
    /// capability field), and the longest a matching ID may be.
    const fn pattern(self) -> (usize, usize) {
        match self {
            Self::CiscoUnity => (14, 16),
            Self::Fragmentation => (16, 20),
            // strongSwan appends its version to this ID in some releases.
            Self::StrongSwan => (16, 64),
            _ => (self.bytes().len(), self.bytes().len()),
        }
    }

    /// Recognise `data`.
    pub fn recognise(data: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            let (prefix, max) = k.pattern();
            data.len() >= prefix && data.len() <= max && data[..prefix] == k.bytes()[..prefix]
        })
    }

    /// A short name for logs and `ikeway decode`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NatTRfc3947 => "RFC 3947",
            Self::NatTDraft02 => "draft-ietf-ipsec-nat-t-ike-02",
            Self::NatTDraft02N => "draft-ietf-ipsec-nat-t-ike-02\\n",
            Self::NatTDraft03 => "draft-ietf-ipsec-nat-t-ike-03",
            Self::Xauth => "XAUTH",
            Self::Dpd => "Dead Peer Detection",
            Self::CiscoUnity => "Cisco Unity",
            Self::StrongSwan => "strongSwan",
            Self::Fragmentation => "FRAGMENTATION",
        }
    }

    /// Whether the ID announces a NAT traversal version (RFC or draft).
    pub const fn is_nat_t(self) -> bool {
        matches!(
            self,
            Self::NatTRfc3947 | Self::NatTDraft02 | Self::NatTDraft02N | Self::NatTDraft03
        )
    }
}

impl fmt::Display for KnownVendorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The capability bit of the FRAGMENTATION vendor ID that says "phase 1 (Main and Aggressive
/// Mode) messages may come in fragments" (racoon's reading, which strongSwan follows; Cisco
/// sends 0xc0000000, adding base ISAKMP messages).
pub const FRAGMENTATION_PHASE1: u32 = 0x8000_0000;

impl VendorIdRepr {
    /// Whether this is the FRAGMENTATION vendor ID announcing fragments of phase 1 messages:
    /// the bare 16 octets (Windows sends it so), or 20 with the [`FRAGMENTATION_PHASE1`] bit
    /// in the capability octets.
    pub fn announces_phase1_fragmentation(&self) -> bool {
        let prefix = &KnownVendorId::Fragmentation.bytes()[..16];
        match (self.data.get(..16), self.data.get(16..)) {
            (Some(p), Some(rest)) if p == prefix => match <[u8; 4]>::try_from(rest) {
                Ok(caps) => u32::from_be_bytes(caps) & FRAGMENTATION_PHASE1 != 0,
                Err(_) => rest.is_empty(),
            },
            _ => false,
        }
    }

    /// The Vendor ID payload that announces `id`.
    pub fn from_known(id: KnownVendorId) -> Self {
        Self::new(id.bytes())
    }

    /// Which known ID this is, if any.
    pub fn known(&self) -> Option<KnownVendorId> {
        KnownVendorId::recognise(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_id_recognises_itself() {
        for k in KnownVendorId::ALL {
            assert_eq!(VendorIdRepr::from_known(k).known(), Some(k), "{k}");
        }
    }

    #[test]
    fn versioned_ids_match_by_prefix() {
        let mut unity = KnownVendorId::CiscoUnity.bytes().to_vec();
        unity[15] = 9;
        assert_eq!(KnownVendorId::recognise(&unity), Some(KnownVendorId::CiscoUnity));
        let frag = &KnownVendorId::Fragmentation.bytes()[..16];
        assert_eq!(KnownVendorId::recognise(frag), Some(KnownVendorId::Fragmentation));
        // Seven octets of the XAUTH ID are not the XAUTH ID.
        assert_eq!(KnownVendorId::recognise(&KnownVendorId::Xauth.bytes()[..7]), None);
        let mut rfc = KnownVendorId::NatTRfc3947.bytes().to_vec();
        rfc.push(0);
        assert_eq!(KnownVendorId::recognise(&rfc), None);
        assert!(KnownVendorId::NatTDraft02N.is_nat_t());
    }

    #[test]
    fn fragmentation_is_announced_bare_or_with_the_phase_1_bit() {
        let ours = VendorIdRepr::from_known(KnownVendorId::Fragmentation);
        assert_eq!(ours.data[16..], [0x80, 0, 0, 0]);
        assert!(ours.announces_phase1_fragmentation());
        let bare = VendorIdRepr::new(&ours.data[..16]);
        assert!(bare.announces_phase1_fragmentation());
        let mut cisco = ours.data.clone();
        cisco[16] = 0xc0;
        assert!(VendorIdRepr::new(cisco.clone()).announces_phase1_fragmentation());
        cisco[16] = 0x40;
        assert!(!VendorIdRepr::new(cisco).announces_phase1_fragmentation());
        assert!(!VendorIdRepr::new(&ours.data[..18]).announces_phase1_fragmentation());
        let dpd = VendorIdRepr::from_known(KnownVendorId::Dpd);
        assert!(!dpd.announces_phase1_fragmentation());
        assert!(!KnownVendorId::Dpd.is_nat_t());
    }
}
