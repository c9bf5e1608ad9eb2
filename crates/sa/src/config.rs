//! What an IKE SA is configured with: identities, how each side authenticates, proposals,
//! traffic selectors, lifetimes and timer policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ikeway_codec::{ConfigAttributeType, DhGroup, IdRepr, TrafficSelector};
use ikeway_crypto::{Encryption, Integrity, Prf, SecretBytes};

use crate::auth::{LocalAuth, PeerAuth};
use crate::psk::PresharedKey;

/// One IKE SA proposal: an encryption transform, integrity unless it is an AEAD, a PRF, and
/// the key-exchange groups acceptable with them (the first is used for the initial KE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeProposal {
    pub encryption: Encryption,
    pub integrity: Option<Integrity>,
    pub prf: Prf,
    pub groups: Vec<DhGroup>,
    /// Additional key exchanges (RFC 9370): slot `i` is transform type ADDKE`i+1` (at most 7
    /// slots), each the acceptable methods in preference order, run one IKE_INTERMEDIATE
    /// exchange each after IKE_SA_INIT. [`DhGroup::NONE`] in a slot makes that exchange
    /// optional (a peer that does not offer or pick the slot is accepted without it); a slot
    /// without NONE must be done or the proposal does not match. Slots past the end are
    /// NONE only. Empty: classical only, and IKE_SA_INIT stays as without RFC 9370.
    pub additional_kes: Vec<Vec<DhGroup>>,
}

/// How many additional key exchanges a proposal can carry: ADDKE1..ADDKE7 (RFC 9370 §2.2.1).
pub const MAX_ADDITIONAL_KES: usize = 7;

/// The longest IKE message sent whole when the configuration names no MTU: IPv6's minimum
/// link MTU (RFC 8200 §5), as RFC 7383 §2.5.1 discusses. IKEv1 fragmentation
/// (`ikeway-ikev1`) uses the same size.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1280;

/// Whether a child SA uses 64-bit extended sequence numbers (RFC 4303 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsnPolicy {
    No,
    Yes,
    /// Offer both, preferring ESN; a responder picks ESN when the initiator offers it.
    Either,
}

/// One ESP proposal for child SAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspProposal {
    pub encryption: Encryption,
    pub integrity: Option<Integrity>,
    pub esn: EsnPolicy,
    /// Groups for perfect forward secrecy on CREATE_CHILD_SA (empty: no PFS). The first
    /// IKE_AUTH child never uses a KE (RFC 7296 §1.2).
    pub pfs_groups: Vec<DhGroup>,
}

/// Lifetimes and when to rekey before they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Hard lifetime of the IKE SA.
    pub ike: Duration,
    /// Hard lifetime of each child SA.
    pub child: Duration,
    /// Rekey this long before the hard lifetime.
    pub rekey_margin: Duration,
    /// Up to this much is subtracted at random from each rekey time, so that two peers with
    /// the same configuration rarely start the same rekey at once (RFC 7296 §2.8).
    pub jitter: Duration,
}

impl Default for Lifetimes {
    /// Apple's IKEv2 defaults: IKE SA 1440 minutes, child SA 1440 minutes.
    fn default() -> Self {
        Self {
            ike: Duration::from_secs(1440 * 60),
            child: Duration::from_secs(1440 * 60),
            rekey_margin: Duration::from_secs(9 * 60),
            jitter: Duration::from_secs(60),
        }
    }
}

/// Retransmission of requests (RFC 7296 §2.1): exponential back-off, bounded tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    pub initial: Duration,
    /// Each retry waits this many times longer than the previous one.
    pub factor: u32,
    /// Sends in total before the peer is declared unreachable.
    pub tries: u32,
}

impl Default for Retransmit {
    /// 1, 2, 4, 8, 16 s then 32 s more: about a minute before giving up.
    fn default() -> Self {
        Self { initial: Duration::from_secs(1), factor: 2, tries: 6 }
    }
}

impl Retransmit {
    /// How long to wait after the `attempt`-th send (0-based).
    pub fn timeout(&self, attempt: u32) -> Duration {
        self.initial.saturating_mul(self.factor.saturating_pow(attempt))
    }
}

/// Configuration shared by initiators and responders.
#[derive(Debug, Clone)]
pub struct Config {
    pub local_id: IdRepr,
    /// The identity the peer must prove; `None` accepts any identity that proves itself
    /// under `peer_auth` (with a certificate, the verifier still matches the identity the
    /// peer names against its certificate).
    pub remote_id: Option<IdRepr>,
    /// How we prove who we are.
    pub local_auth: LocalAuth,
    /// How the peer must prove who it is; any other AUTH method is refused.
    pub peer_auth: PeerAuth,
    pub ike_proposals: Vec<IkeProposal>,
    pub esp_proposals: Vec<EspProposal>,
    /// Traffic selectors for our side and the peer's side of the first child SA.
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// Attributes an initiator asks for in a CFG_REQUEST (empty: no CP payload).
    pub config_request: Vec<ConfigAttributeType>,
    pub lifetimes: Lifetimes,
    pub retransmit: Retransmit,
    /// Send a liveness check after this long without hearing from the peer (RFC 7296 §1.4.1).
    pub dpd_interval: Option<Duration>,
    /// Largest IKE message to send before fragmenting (RFC 7383), counted without the
    /// non-ESP marker.
    pub max_message_len: usize,
    /// Interval of NAT keepalives when we are behind a NAT (RFC 3948 §4).
    pub nat_keepalive: Duration,
    /// How many half-open IKE SAs a responder keeps before demanding cookies (RFC 7296 §2.6).
    pub cookie_threshold: usize,
    /// How many half-open IKE SAs a responder keeps at most; beyond that it drops new requests
    /// (those that returned a valid cookie, once over `cookie_threshold`).
    pub half_open_limit: usize,
    /// How many half-open IKE SAs one source address may hold, so that one host returning
    /// cookies cannot take every slot.
    pub half_open_per_source: usize,
    /// The most bytes of peer input one half-open IKE SA holds: its stored IKE_SA_INIT request
    /// and response and the IKE_AUTH fragments being reassembled.
    /// The default, 16 KiB, takes an IKE_AUTH with an RSA-4096 certificate chain (3.6 KB).
    pub half_open_max_bytes: usize,
    /// The most bytes all half-open IKE SAs together hold (counted as for
    /// `half_open_max_bytes`); beyond it new IKE_SA_INIT requests and fragments are dropped.
    pub half_open_memory_limit: usize,
    /// How long a responder's cookie secret is used before a fresh one replaces it; cookies
    /// made with the previous secret stay valid for one more period (RFC 7296 §2.6).
    pub cookie_secret_period: Duration,
    /// Child SAs one IKE SA may hold; a CREATE_CHILD_SA for another is answered
    /// NO_ADDITIONAL_SAS (RFC 7296 §3.10.1). A rekey may briefly hold old and new, so rekeys
    /// are refused only beyond twice this.
    pub max_children: usize,
    /// Responder: whether a client without a leased address may have remote selectors wider
    /// than one address (a site-to-site peer with a network behind it, bounded by
    /// `remote_ts`). Off by default: a remote-access client speaks for its own address only,
    /// and may not claim a range that could later cover another client's (issue 9 finding 6).
    pub wide_remote_ts: bool,
    /// Initiator, RFC 4739: after `local_auth` (a PSK or certificate round), a second round
    /// with EAP as this client. Sends MULTIPLE_AUTH_SUPPORTED and ANOTHER_AUTH_FOLLOWS; a
    /// responder that does not announce MULTIPLE_AUTH_SUPPORTED is refused. Ignored when
    /// `local_auth` is itself EAP (EAP then EAP is not done).
    pub local_auth2: Option<Arc<ikeway_eap::PeerConfig>>,
    /// Responder, RFC 4739: after `peer_auth`, require a second round by EAP with this
    /// authenticator. Sends MULTIPLE_AUTH_SUPPORTED in IKE_SA_INIT. Ignored when `peer_auth`
    /// is itself EAP.
    pub peer_auth2: Option<Arc<ikeway_eap::AuthenticatorConfig>>,
    /// RFC 5998 EAP-only authentication. Initiator: with `local_auth` EAP and only mutual
    /// methods allowed (`Method::is_mutual`), ask for it with EAP_ONLY_AUTHENTICATION and
    /// accept a first response without AUTH. Responder: when asked, and the first method of
    /// `peer_auth` is mutual, leave our CERT and AUTH out. Off by default.
    pub eap_only: bool,
    /// Initiator, RFC 5685: announce REDIRECT_SUPPORTED in IKE_SA_INIT and follow a
    /// responder's REDIRECT (`Event::Redirected`). Off by default; the manager sets it from
    /// `!disable_redirect`.
    pub redirect_supported: bool,
    /// Initiator: the gateway that redirected us, set by the runtime on the initiation that
    /// follows a redirect: REDIRECTED_FROM instead of REDIRECT_SUPPORTED (RFC 5685 §5), which
    /// also says we follow redirects.
    pub redirected_from: Option<IpAddr>,
    /// Responder: send new clients that announce support to another gateway (RFC 5685).
    pub redirect: Option<crate::RedirectPolicy>,
    /// RFC 4555 MOBIKE: announce MOBIKE_SUPPORTED in IKE_AUTH (both roles). Once both sides
    /// did, an initiator moves the SA to a new address pair with [`crate::IkeSa::update_path`]
    /// and a responder follows authenticated UPDATE_SA_ADDRESSES requests. Off by default,
    /// which keeps every exchange byte for byte as without it.
    pub mobike: bool,
    /// RFC 8784 post-quantum preshared keys: our PPKs by PPK_ID and whether one is required.
    /// `None` (the default): USE_PPK is neither sent nor answered.
    pub ppk: Option<crate::PpkConfig>,
    /// RFC 3948 UDP encapsulation of ESP even without a NAT on the path, for a datapath that
    /// carries ESP only in UDP (ours). Both roles send a NAT_DETECTION_SOURCE_IP that cannot
    /// match (RFC 7296 §2.23 allows faking it), so the peer sees us behind a NAT; the
    /// initiator floats to port 4500 whatever it detected, and child SAs are UDP-encapsulated.
    /// [`crate::Event::NatDetected`] still reports only what was seen (no keepalives for a
    /// NAT that is not there). A peer without NAT detection payloads is left as it is. Off by
    /// default.
    pub force_udp_encapsulation: bool,
}

impl Config {
    /// A configuration with our defaults, both sides authenticating with `psk`: AES-GCM-16-256 / AES-GCM-16-128 / AES-CBC-256 with
    /// HMAC-SHA2-256, X25519, P-256, MODP-2048; ESP AES-GCM-16 and ChaCha20-Poly1305.
    pub fn new(local_id: IdRepr, psk: SecretBytes) -> Self {
        use ikeway_crypto::{AeadAlgorithm, BlockCipher};
        let groups =
            vec![DhGroup::CURVE25519, DhGroup::ECP_256, DhGroup::ECP_384, DhGroup::MODP_2048];
        let aead = |a| Encryption::Aead(a);
        // One key shared by both roles: its keyed PRFs (`PresharedKey::padded`) are made once.
        let psk = PresharedKey::new(psk);
        Self {
            local_id,
            remote_id: None,
            local_auth: LocalAuth::Psk(psk.clone()),
            peer_auth: PeerAuth::Psk(psk),
            ike_proposals: vec![
                IkeProposal {
                    encryption: aead(AeadAlgorithm::AES256_GCM16),
                    integrity: None,
                    prf: Prf::HmacSha256,
                    groups: groups.clone(),
                    additional_kes: Vec::new(),
                },
                IkeProposal {
                    encryption: aead(AeadAlgorithm::AES128_GCM16),
                    integrity: None,
                    prf: Prf::HmacSha256,
                    groups: groups.clone(),
                    additional_kes: Vec::new(),
                },
                IkeProposal {
                    encryption: Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
                    integrity: Some(Integrity::HmacSha256_128),
                    prf: Prf::HmacSha256,
                    groups,
                    additional_kes: Vec::new(),
                },
            ],
            esp_proposals: vec![
                EspProposal {
                    encryption: aead(AeadAlgorithm::AES256_GCM16),
                    integrity: None,
                    esn: EsnPolicy::Either,
                    pfs_groups: Vec::new(),
                },
                EspProposal {
                    encryption: aead(AeadAlgorithm::AES128_GCM16),
                    integrity: None,
                    esn: EsnPolicy::Either,
                    pfs_groups: Vec::new(),
                },
                EspProposal {
                    encryption: aead(AeadAlgorithm::ChaCha20Poly1305),
                    integrity: None,
                    esn: EsnPolicy::Either,
                    pfs_groups: Vec::new(),
                },
            ],
            local_ts: vec![any_v4(), any_v6()],
            remote_ts: vec![any_v4(), any_v6()],
            config_request: Vec::new(),
            lifetimes: Lifetimes::default(),
            retransmit: Retransmit::default(),
            dpd_interval: Some(Duration::from_secs(10 * 60)),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            nat_keepalive: Duration::from_secs(20),
            cookie_threshold: 64,
            half_open_limit: 1024,
            half_open_per_source: 32,
            // A PSK IKE_AUTH is under 1 KiB; one with an RSA-4096 end entity and intermediate
            // is 3.6 KB (`mutual_certificates_rsa_4096_fragmented`), so 16 KiB leaves room
            // for longer chains and the stored IKE_SA_INIT pair. Additional key exchanges
            // (RFC 9370) add at most one IKE_INTERMEDIATE at a time: with ML-KEM-1024 the peak
            // measured is 2.3 KB (`x25519_plus_mlkem1024_fragmented_in_ike_intermediate`).
            half_open_max_bytes: 16 * 1024,
            half_open_memory_limit: 8 * 1024 * 1024,
            cookie_secret_period: Duration::from_secs(120),
            max_children: DEFAULT_MAX_CHILDREN,
            wide_remote_ts: false,
            local_auth2: None,
            peer_auth2: None,
            eap_only: false,
            redirect_supported: false,
            redirected_from: None,
            redirect: None,
            mobike: false,
            ppk: None,
            force_udp_encapsulation: false,
        }
    }
}

/// Child SAs per IKE SA unless configured: a remote-access client needs one or two; a few more
/// leave room for split tunnels, while a peer cannot make the responder hold thousands.
pub const DEFAULT_MAX_CHILDREN: usize = 8;

/// What a remote-access client asks for in its CFG_REQUEST (RFC 7296 §3.15): an address and
/// DNS servers of both families, and the DNS domain.
pub const CLIENT_CONFIG_REQUEST: [ConfigAttributeType; 5] = [
    ConfigAttributeType::INTERNAL_IP4_ADDRESS,
    ConfigAttributeType::INTERNAL_IP4_DNS,
    ConfigAttributeType::INTERNAL_IP6_ADDRESS,
    ConfigAttributeType::INTERNAL_IP6_DNS,
    ConfigAttributeType::INTERNAL_DNS_DOMAIN,
];

/// Every IPv4 address, every protocol and port.
pub fn any_v4() -> TrafficSelector {
    TrafficSelector::Range(ikeway_codec::AddrRange::any(
        Ipv4Addr::UNSPECIFIED.into(),
        Ipv4Addr::BROADCAST.into(),
    ))
}

/// Every IPv6 address, every protocol and port.
pub fn any_v6() -> TrafficSelector {
    TrafficSelector::Range(ikeway_codec::AddrRange::any(
        Ipv6Addr::UNSPECIFIED.into(),
        Ipv6Addr::from(u128::MAX).into(),
    ))
}

/// What a responder hands out in CFG_REPLY (RFC 7296 §3.15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPool {
    /// First IPv4 address to assign and how many there are.
    pub v4: Option<(Ipv4Addr, u32)>,
    /// First IPv6 address to assign (a /128 each) and how many there are.
    pub v6: Option<(Ipv6Addr, u32)>,
    pub dns: Vec<IpAddr>,
    pub dns_domains: Vec<String>,
    /// Networks behind the responder (INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET).
    pub subnets: Vec<(IpAddr, u8)>,
}
