//! What an IKEv1 peer is configured with: the phase 1 mode, identities, how both sides
//! authenticate, proposals, lifetimes and timer policy. Phase 2, XAUTH, mode config and DPD
//! settings live in the types of the modules that use them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_crypto::{BlockCipher, SecretBytes};
use ikeway_pki::PeerVerifier;
use ikeway_sa::Retransmit;

use crate::keys::HashAlg;

/// The phase 1 exchange (RFC 2409 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase1Mode {
    /// Six messages, identities encrypted (exchange type 2, Identity Protection).
    Main,
    /// Three messages, identities in the clear; what Apple uses with a group name and a
    /// shared secret (exchange type 4).
    Aggressive,
}

/// A phase 1 identity (ID payload, RFC 2407 §4.6.2.1), as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Fqdn(String),
    UserFqdn(String),
    /// ID_KEY_ID: opaque bytes; Apple sends the group name here.
    KeyId(Vec<u8>),
    /// ID_DER_ASN1_DN: a certificate subject, DER-encoded.
    DerAsn1Dn(Vec<u8>),
}

/// How both sides prove who they are. IKEv1 negotiates one method for both (the
/// Authentication Method attribute), so ours and the peer's are configured together.
#[derive(Clone)]
pub enum Authentication {
    /// Pre-shared key (method 1), the same secret on both sides. Wiped on drop.
    Psk(SecretBytes),
    /// Signatures (RSA 3, ECDSA 9/10/11 of RFC 4754) with certificates: ours signs, the peer's
    /// chain must pass `verifier` for the identity it names.
    Certificates { own: Arc<ikeway_pki::Identity>, verifier: Arc<dyn PeerVerifier> },
    /// Hybrid authentication, the client's side (draft-ietf-ipsra-hybrid-auth-ike-03 §3,
    /// Apple's `[hybrid]`, HybridInitRSA 64221): only the gateway signs, with an RSA
    /// certificate that must pass `verifier`; we send HASH_I, keyed as for signatures (SKEYID
    /// from the nonces), and prove who we are with XAUTH afterwards (`Config::xauth` is
    /// required).
    HybridClient { verifier: Arc<dyn PeerVerifier> },
    /// Hybrid authentication, the gateway's side (for our own tests): we sign with `own` (an
    /// RSA identity), the client's HASH_I is checked, XAUTH must follow.
    HybridGateway { own: Arc<ikeway_pki::Identity> },
}

impl core::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Psk(k) => f.debug_tuple("Psk").field(k).finish(),
            Self::Certificates { .. } => f.write_str("Certificates"),
            Self::HybridClient { .. } => f.write_str("HybridClient"),
            Self::HybridGateway { .. } => f.write_str("HybridGateway"),
        }
    }
}

/// One phase 1 proposal: a transform with a cipher (AES-CBC or 3DES-CBC), a hash, and a
/// Diffie-Hellman group. Lifetime and authentication method come from the [`Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase1Proposal {
    pub cipher: BlockCipher,
    pub hash: HashAlg,
    pub group: DhGroup,
}

impl Phase1Proposal {
    /// Apple's IKEv1 suites, strongest first: AES-256 and AES-128 with SHA2-256 and SHA1, 3DES
    /// with SHA1, with group 14 (iOS also offers group 2, which our key-exchange provider does
    /// not do); then AES-128 with SHA2-256 on ECP-256 and AES-256 with SHA2-384 on ECP-384,
    /// the suites ECDSA certificates need (RFC 4754 pairs each curve with its hash). Aggressive
    /// mode offers only the first group's.
    pub fn defaults() -> Vec<Phase1Proposal> {
        let aes256 = BlockCipher::AesCbc { key_bits: 256 };
        let aes128 = BlockCipher::AesCbc { key_bits: 128 };
        let g14 = DhGroup(14);
        vec![
            Phase1Proposal { cipher: aes256, hash: HashAlg::Sha256, group: g14 },
            Phase1Proposal { cipher: aes256, hash: HashAlg::Sha1, group: g14 },
            Phase1Proposal { cipher: aes128, hash: HashAlg::Sha256, group: g14 },
            Phase1Proposal { cipher: aes128, hash: HashAlg::Sha1, group: g14 },
            Phase1Proposal { cipher: BlockCipher::TripleDesCbc, hash: HashAlg::Sha1, group: g14 },
            Phase1Proposal { cipher: aes128, hash: HashAlg::Sha256, group: DhGroup(19) },
            Phase1Proposal { cipher: aes256, hash: HashAlg::Sha384, group: DhGroup(20) },
        ]
    }
}

/// Configuration of an IKEv1 initiator or responder.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Phase1Mode,
    pub local_id: Identity,
    /// The identity the peer must name; `None` takes any that authenticates.
    pub remote_id: Option<Identity>,
    pub auth: Authentication,
    /// XAUTH follows phase 1 (draft-beaulieu-ike-xauth-02 §5): the initiator offers the
    /// XAUTHInit* authentication methods (65001 with a PSK, 65005 with RSA signatures; ECDSA
    /// has none, its method 9-11 is offered as it is) and a
    /// responder takes only those. The credentials are the transaction module's.
    pub xauth: bool,
    /// Phase 1 proposals in preference order; a responder picks the first of the peer's it
    /// has.
    pub proposals: Vec<Phase1Proposal>,
    /// Lifetime of the ISAKMP SA, offered in seconds (RFC 2407 Life Type 1).
    pub lifetime: Duration,
    /// Initiator: resend schedule of each phase 1 message (RFC 2408 §5.1 leaves it local).
    pub retransmit: Retransmit,
    /// Responder: a phase 1 not completed within this is forgotten.
    pub half_open_timeout: Duration,
    /// NAT traversal (RFC 3947): announce it, detect NATs and float to port 4500.
    pub nat_traversal: bool,
    /// Announce Cisco Unity (Cisco and compatible gateways then push split networks and a
    /// banner in mode config).
    pub cisco_unity: bool,
    /// IKEv1 fragmentation (the "FRAGMENTATION" vendor ID, payload 132): announce it, take the
    /// peer's fragments, and send ours when the peer announced it too.
    pub fragmentation: bool,
    /// The longest phase 1 message sent whole (counted without the non-ESP marker, as IKEv2's
    /// `ikeway_sa::Config::max_message_len`); a longer one goes in fragments when the peer
    /// takes them.
    pub max_message_len: usize,
    /// Bounds on joining the peer's fragments.
    pub fragment_limits: ikeway_isakmp::FragmentLimits,
    /// Quick mode settings: ESP proposals, PFS, lifetimes, client IDs.
    pub quick: crate::quick::QuickConfig,
    /// XAUTH credentials and mode config requests (transaction exchange).
    pub transaction: crate::transaction::TransactionConfig,
    /// Dead peer detection and other informational settings.
    pub informational: crate::informational::InformationalConfig,
}

impl Config {
    /// A configuration with a shared secret and everything else at its default: aggressive
    /// mode (as Apple does with a group name), Apple's suites, a phase 1 lifetime of 8 hours,
    /// NAT traversal and fragmentation on (iOS announces FRAGMENTATION too), messages over
    /// IKEv2's default size fragmented.
    pub fn psk(local_id: Identity, psk: SecretBytes) -> Self {
        Self {
            mode: Phase1Mode::Aggressive,
            local_id,
            remote_id: None,
            auth: Authentication::Psk(psk),
            xauth: false,
            proposals: Phase1Proposal::defaults(),
            lifetime: Duration::from_secs(8 * 3600),
            retransmit: Retransmit::default(),
            half_open_timeout: Duration::from_secs(30),
            nat_traversal: true,
            cisco_unity: false,
            fragmentation: true,
            max_message_len: ikeway_sa::DEFAULT_MAX_MESSAGE_LEN,
            fragment_limits: Default::default(),
            quick: Default::default(),
            transaction: Default::default(),
            informational: Default::default(),
        }
    }
}
