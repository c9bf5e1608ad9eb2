//! What quick mode is configured with: the ESP suites offered or accepted, PFS, lifetimes,
//! the client IDs, and when to rekey.

use std::net::IpAddr;
use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity};

/// One ESP suite as quick mode offers it: an ESP transform (the cipher) and, unless it is an
/// AEAD, its Authentication Algorithm attribute (RFC 2407 §4.4.4, §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspProposal {
    pub encryption: Encryption,
    pub integrity: Option<Integrity>,
}

impl EspProposal {
    /// What iOS offers in quick mode, strongest first (AES-256/128-CBC with SHA2-256 and
    /// SHA1, 3DES with SHA1), with AES-GCM-16 first for gateways that have it.
    pub fn defaults() -> Vec<EspProposal> {
        let cbc = |key_bits| Encryption::Cipher(BlockCipher::AesCbc { key_bits });
        vec![
            EspProposal {
                encryption: Encryption::Aead(AeadAlgorithm::AES256_GCM16),
                integrity: None,
            },
            EspProposal {
                encryption: Encryption::Aead(AeadAlgorithm::AES128_GCM16),
                integrity: None,
            },
            EspProposal { encryption: cbc(256), integrity: Some(Integrity::HmacSha256_128) },
            EspProposal { encryption: cbc(256), integrity: Some(Integrity::HmacSha1_96) },
            EspProposal { encryption: cbc(128), integrity: Some(Integrity::HmacSha256_128) },
            EspProposal { encryption: cbc(128), integrity: Some(Integrity::HmacSha1_96) },
            EspProposal {
                encryption: Encryption::Cipher(BlockCipher::TripleDesCbc),
                integrity: Some(Integrity::HmacSha1_96),
            },
        ]
    }
}

/// A subnet as a quick mode client ID names it (ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET, or
/// ID_IPV4_ADDR / ID_IPV6_ADDR for a full-length prefix; RFC 2407 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Subnet {
    /// The one address `addr` (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        Self { addr, prefix: if addr.is_ipv4() { 32 } else { 128 } }
    }

    /// Everything of `addr`'s family (`0.0.0.0/0` or `::/0`).
    pub fn any_like(addr: IpAddr) -> Self {
        let addr = match addr {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        Self { addr, prefix: 0 }
    }
}

/// Quick mode settings of a [`crate::Config`].
#[derive(Debug, Clone)]
pub struct QuickConfig {
    /// ESP suites in preference order (a responder takes the first of the peer's it has).
    pub proposals: Vec<EspProposal>,
    /// Perfect forward secrecy: a KE payload of this group in every quick mode (RFC 2409
    /// §5.5). A responder with `None` still accepts the PFS group the initiator offers if its
    /// provider supports it; with `Some`, it requires that group.
    pub pfs: Option<DhGroup>,
    /// ESP SA lifetime offered in seconds (SA Life Type 1).
    pub lifetime: Duration,
    /// ESP SA lifetime offered in kilobytes (SA Life Type 2), if any; the ESP datapath
    /// reports volume, the negotiation only carries it.
    pub lifetime_kilobytes: Option<u32>,
    /// Rekey this long before the lifetime ends.
    pub rekey_margin: Duration,
    /// Our client ID. `None`: the mode config address if one was received, else no client
    /// IDs at all (host to host between the IKE addresses, RFC 2409 §5.5).
    pub local: Option<Subnet>,
    /// The peer's client ID. `None`: everything (`0.0.0.0/0`) once we have a mode config
    /// address, as iOS does.
    pub remote: Option<Subnet>,
    /// Quick mode exchanges under negotiation at once (ours and the peer's); more from the
    /// peer are refused with NO-PROPOSAL-CHOSEN.
    pub max_in_flight: usize,
    /// ESP SAs an ISAKMP SA holds at most; a peer's quick mode past it is refused.
    pub max_children: usize,
    /// The phase 1 initiator starts its first quick mode once the ISAKMP SA, XAUTH and mode
    /// config are done (as IKEv2 brings its first child SA with IKE_AUTH); off, quick mode
    /// waits for [`crate::Ikev1Sa::create_child`].
    pub first_child: bool,
}

impl Default for QuickConfig {
    /// Apple's figures: ESP lifetime 1 hour (3600 s), rekeyed 3 minutes before it ends, no
    /// PFS unless the profile asks.
    fn default() -> Self {
        Self {
            proposals: EspProposal::defaults(),
            pfs: None,
            lifetime: Duration::from_secs(3600),
            lifetime_kilobytes: None,
            rekey_margin: Duration::from_secs(180),
            local: None,
            remote: None,
            max_in_flight: 4,
            max_children: 16,
            first_child: true,
        }
    }
}
