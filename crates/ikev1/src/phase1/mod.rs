//! Phase 1: main mode (RFC 2409 §5, exchange 2) and aggressive mode (§5, exchange 4), both
//! roles, with a shared secret or signatures; NAT-T detection (RFC 3947) and the vendor IDs.
//!
//! ```text
//! Main mode                                  Aggressive mode
//! 1 I->R  SA, VID                            1 I->R  SA, KE, Ni, IDii, VID
//! 2 R->I  SA, VID                            2 R->I  SA, KE, Nr, IDir, HASH_R|CERT SIG_R,
//! 3 I->R  KE, Ni, NAT-D, NAT-D                       VID, NAT-D, NAT-D
//! 4 R->I  KE, Nr, [CR], NAT-D, NAT-D         3 I->R  * HASH_I, NAT-D, NAT-D
//! 5 I->R  * IDii, HASH_I | CERT, SIG_I
//! 6 R->I  * IDir, HASH_R | CERT, SIG_R       (* encrypted; on port 4500 when a NAT is seen)
//! ```

mod auth;
pub(crate) mod flow;
pub mod nat;
pub(crate) mod proposal;

use ikeway_crypto::SecretBytes;
use ikeway_isakmp::{KnownVendorId, Payload, VendorIdRepr};
use ikeway_sa::ActiveKeyExchange;

use crate::config::Config;
pub use nat::{NatState, NatTVariant};
pub use proposal::Phase1Suite;

/// Nonces we send: 32 octets (RFC 2409 §5 asks for 8 to 256).
pub(crate) const NONCE_LEN: usize = 32;
/// The nonce lengths RFC 2409 §5 allows from a peer.
pub(crate) const NONCE_RANGE: core::ops::RangeInclusive<usize> = 8..=256;

/// Where an ISAKMP SA's phase 1 stands. `I`/`R` name our role, the number the last message
/// we sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Nothing sent or received yet.
    #[default]
    Start,
    MainI1,
    MainI3,
    MainI5,
    AggrI1,
    MainR2,
    MainR4,
    AggrR2,
    /// Phase 1 is complete: keys and IV chains are in the SA's `crypt`.
    Established,
    /// Phase 1 failed or the SA was deleted; everything further is dropped.
    Closed,
}

/// What the peer announced by vendor ID.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PeerVendors {
    pub nat_t: Option<NatTVariant>,
    pub xauth: bool,
    pub dpd: bool,
    pub unity: bool,
    /// FRAGMENTATION with the phase 1 capability: our large phase 1 messages may go in
    /// fragments.
    pub fragmentation: bool,
}

impl PeerVendors {
    pub(crate) fn read(payloads: &[Payload]) -> Self {
        let mut v = Self::default();
        for p in payloads {
            let Payload::VendorId(id) = p else { continue };
            match id.known() {
                Some(KnownVendorId::NatTRfc3947) => v.nat_t = Some(NatTVariant::Rfc3947),
                Some(
                    KnownVendorId::NatTDraft02
                    | KnownVendorId::NatTDraft02N
                    | KnownVendorId::NatTDraft03,
                ) if v.nat_t.is_none() => v.nat_t = Some(NatTVariant::Draft),
                Some(KnownVendorId::Xauth) => v.xauth = true,
                Some(KnownVendorId::Dpd) => v.dpd = true,
                Some(KnownVendorId::CiscoUnity) => v.unity = true,
                Some(KnownVendorId::Fragmentation) => {
                    v.fragmentation |= id.announces_phase1_fragmentation();
                }
                _ => {}
            }
        }
        v
    }
}

/// The vendor IDs we send. An initiator announces what Apple's client does: RFC 3947 NAT-T
/// and the drafts peers still key on, XAUTH, DPD, and Cisco Unity and FRAGMENTATION when
/// configured. A responder answers with the one NAT-T variant it picked, and with
/// FRAGMENTATION only if the initiator sent it (`peer`), as strongSwan does.
pub(crate) fn our_vendor_ids(
    config: &Config,
    nat_t_answer: Option<NatTVariant>,
    peer: Option<&PeerVendors>,
) -> Vec<Payload> {
    let mut ids = Vec::new();
    if config.nat_traversal {
        match nat_t_answer {
            Some(NatTVariant::Rfc3947) => ids.push(KnownVendorId::NatTRfc3947),
            Some(NatTVariant::Draft) => ids.push(KnownVendorId::NatTDraft02N),
            None => ids.extend([
                KnownVendorId::NatTRfc3947,
                KnownVendorId::NatTDraft03,
                KnownVendorId::NatTDraft02N,
                KnownVendorId::NatTDraft02,
            ]),
        }
    }
    if config.xauth {
        ids.push(KnownVendorId::Xauth);
    }
    ids.push(KnownVendorId::Dpd);
    if config.cisco_unity {
        ids.push(KnownVendorId::CiscoUnity);
    }
    if config.fragmentation && peer.is_none_or(|p| p.fragmentation) {
        ids.push(KnownVendorId::Fragmentation);
    }
    ids.into_iter().map(|id| Payload::VendorId(VendorIdRepr::from_known(id))).collect()
}

/// Everything phase 1 keeps between its messages; dropped (and its secrets wiped) once the
/// SA is established.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    pub suite: Option<Phase1Suite>,
    /// The initiator's SA payload body as sent (`SAi_b`).
    pub sa_i_b: Vec<u8>,
    /// The initiator's key exchange in progress.
    pub kex: Option<Box<dyn ActiveKeyExchange>>,
    pub g_xi: Vec<u8>,
    pub g_xr: Vec<u8>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub g_xy: Option<SecretBytes>,
    /// Our ID payload body (`IDii_b` or `IDir_b`).
    pub own_id_b: Vec<u8>,
    /// The path before the initiator floated to 4500: the NAT-D of aggressive mode message 3
    /// name it, not the path message 3 arrived on.
    pub before_float: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
}

/// The message we sent last in phase 1, kept to resend it: on our retransmission timer, and
/// when the peer's previous message comes again (it did not get ours).
#[derive(Debug, Default)]
pub(crate) struct Resend {
    /// The datagrams as sent (marker included on port 4500): one, or the fragments of the
    /// message.
    pub datagrams: Vec<Vec<u8>>,
    /// Sends so far, the first included.
    pub attempts: u32,
    /// A digest of the peer's last message we acted on.
    pub last_received: Option<Vec<u8>>,
}
