//! What an IKE SA reports to the runtime that drives it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ikeway_codec::{IdRepr, NotifyType, TrafficSelector};
use ikeway_crypto::keys::DirectionKeys;

use crate::proposal::{EspSuite, IkeSuite};

/// Output of [`crate::IkeSa::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An initiator's IKE_SA_INIT completed and its IKE_AUTH request is out: the IKE SA has
    /// keys, the peer is not authenticated yet (what a user waits for next). Responders do
    /// not report it.
    Authenticating { spi_i: u64, spi_r: u64 },
    /// Responder: the initiator proved who it is by EAP (RFC 7296 §2.16, RFC 4739), reported
    /// just before `IkeSaUp`: `id` is the IKE identity of its first IKE_AUTH (the one a
    /// PSK or certificate round proved, if one ran), `eap_identity` the name the EAP method
    /// authenticated (a user name). Both are the peer's identity: log them redacted.
    PeerAuthenticated { id: IdRepr, eap_identity: String },
    /// IKE_AUTH completed: the IKE SA is authenticated.
    IkeSaUp { spi_i: u64, spi_r: u64, suite: IkeSuite },
    /// A child SA's keys are ready: install the inbound SA first, then the outbound one.
    ChildSaInstalled(Box<ChildSaInfo>),
    /// Remove this child SA from the datapath (rekeyed and replaced, deleted, or expired).
    ChildSaRemoved { spi_in: u32, spi_out: u32 },
    /// The peer refused a child SA with this notify; the IKE SA itself stays up.
    ChildSaRefused { notify: NotifyType },
    /// The responder's CFG_REPLY: addresses, DNS and networks for this client.
    ConfigReceived(ConfigReceived),
    /// NAT detection results (RFC 7296 §2.23); ESP must then be UDP-encapsulated.
    NatDetected { local_behind_nat: bool, remote_behind_nat: bool },
    /// The IKE SA and its child SAs now run between `local` and `remote` (RFC 4555 MOBIKE, or
    /// a NAT that rebound the peer, RFC 7296 §2.23): ESP goes there from now on, UDP-encapsulated
    /// when `udp_encapsulation`. The NAT flags are the detection results on the new path.
    PathUpdated {
        local: SocketAddr,
        remote: SocketAddr,
        local_behind_nat: bool,
        remote_behind_nat: bool,
        udp_encapsulation: bool,
    },
    /// Initiator: the responder refused to move the SA to the path of our UPDATE_SA_ADDRESSES
    /// (UNACCEPTABLE_ADDRESSES, or UNEXPECTED_NAT_DETECTED when we sent NO_NATS_ALLOWED); the
    /// SA stays where it was, and further requests go there again.
    PathUpdateRefused { local: SocketAddr, remote: SocketAddr, notify: NotifyType },
    /// The IKE SA was rekeyed; its SPIs changed and child SAs moved over.
    IkeSaRekeyed { old_spis: (u64, u64), new_spis: (u64, u64) },
    /// RFC 5685 redirect. Initiator: the responder sends us to `gateway`; `IkeSaClosed`
    /// with [`CloseReason::Redirected`] follows, and the runtime starts an IKE SA there with
    /// `Config::redirected_from`. Responder: we sent the client to `gateway` (in IKE_AUTH or
    /// on the established SA); the client deletes the SA next.
    Redirected { gateway: ikeway_codec::Gateway },
    /// The IKE SA is gone, and with it all child SAs (each also reported as removed).
    IkeSaClosed { reason: CloseReason },
}

/// Keys, algorithms and selectors of a new child SA, for the ESP datapath.
#[derive(Debug)]
pub struct ChildSaInfo {
    /// SPI the peer puts on packets to us.
    pub spi_in: u32,
    /// SPI we put on packets to the peer.
    pub spi_out: u32,
    pub suite: EspSuite,
    pub inbound: DirectionKeys,
    pub outbound: DirectionKeys,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// Hard lifetime; the negotiation rekeys before it ends.
    pub lifetime: Duration,
    /// Hard lifetime in bytes of inner payload per direction, when negotiated (IKEv1's
    /// kilobyte lifetimes, RFC 2407 §4.5; IKEv2 negotiates none): the datapath counts them
    /// and asks for the rekey before the end.
    pub lifetime_bytes: Option<u64>,
    /// The inbound SPI of the child SA this one replaces (a rekey), if any.
    pub replaces: Option<u32>,
    /// Where ESP goes: the peer's address (port 4500 when UDP-encapsulated).
    pub remote: SocketAddr,
    pub udp_encapsulation: bool,
}

/// Configuration from a CFG_REPLY (RFC 7296 §3.15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigReceived {
    /// Internal addresses with prefix lengths.
    pub addresses: Vec<(IpAddr, u8)>,
    pub dns: Vec<IpAddr>,
    pub dns_domains: Vec<String>,
    /// Protected networks behind the responder.
    pub subnets: Vec<(IpAddr, u8)>,
}

/// Why an IKE SA ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// We deleted it (`delete_ike`).
    Deleted,
    /// The peer deleted it.
    DeletedByPeer,
    /// Retransmissions ran out.
    PeerUnreachable,
    /// The peer's AUTH did not verify, or the peer said ours did not.
    AuthenticationFailed,
    /// No common proposal.
    NoProposalChosen,
    /// The peer answered with this error notify.
    PeerError(NotifyType),
    /// The hard lifetime passed without a rekey.
    Expired,
    /// A half-open SA was never completed.
    HandshakeTimeout,
    /// Replaced by a rekeyed IKE SA.
    Rekeyed,
    /// The peer's certificate, or its signature with the certificate's key, was refused.
    PeerCertificate(ikeway_pki::CertFailure),
    /// Our certificate's key cannot sign anything the peer can check (an RSA key and a peer
    /// that announced no RFC 7427 hashes), or signing failed.
    OwnCertificateUnusable,
    /// EAP did not authenticate (RFC 7296 §2.16): the server said no (a wrong password or an
    /// unknown user look the same), the server did not prove itself to us, or the method
    /// broke off. No retry follows.
    Eap(ikeway_eap::EapFailure),
    /// EAP-only authentication (RFC 5998) was agreed, so the server sent no AUTH of its own,
    /// but the method that ran does not authenticate the server: it is refused.
    EapOnlyMethodNotMutual,
    /// A second authentication round is configured (RFC 4739) but the peer did not announce
    /// MULTIPLE_AUTH_SUPPORTED, or a responder that requires one was not told another follows.
    MultipleAuthUnsupported,
    /// The responder redirected us to another gateway (RFC 5685), reported just before.
    Redirected,
    /// A post-quantum preshared key is required (RFC 8784) but the peer did not announce
    /// USE_PPK in IKE_SA_INIT. An initiator stops before IKE_AUTH.
    PpkNotSupportedByPeer,
    /// A PPK is required, USE_PPK was agreed, but the peer did not use one: the responder
    /// answered without PPK_IDENTITY, or the initiator sent none.
    PpkNotUsedByPeer,
    /// Responder: the initiator's PPK_IDENTITY names no PPK of ours, and either we require
    /// one or it sent no NO_PPK_AUTH to continue without.
    PpkUnknownIdentity,
    /// A PPK is required but this authentication (EAP, or a second round) takes none here.
    PpkUnavailableWithEap,
    /// An additional key exchange (RFC 9370) in IKE_INTERMEDIATE failed or was skipped.
    AdditionalKeyExchange(crate::AddKeFailure),
    /// IKEv1 only (draft-beaulieu-ike-xauth-02 §4): the gateway's XAUTH-STATUS said FAIL to
    /// the user name and password (a client), or the client's were wrong (a gateway). IKEv2
    /// never reports it.
    XauthFailed,
}

/// A sentence for a person: why the IKE SA ended.
impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Deleted => f.write_str("deleted by us"),
            Self::DeletedByPeer => f.write_str("deleted by the peer"),
            Self::PeerUnreachable => f.write_str("the peer stopped answering"),
            Self::AuthenticationFailed => f.write_str("authentication failed"),
            Self::NoProposalChosen => f.write_str("no proposal in common with the peer"),
            Self::PeerError(n) => write!(f, "the peer answered with error {n}"),
            Self::Expired => f.write_str("its lifetime ended without a rekey"),
            Self::HandshakeTimeout => f.write_str("the handshake was never completed"),
            Self::Rekeyed => f.write_str("replaced by a rekeyed IKE SA"),
            Self::PeerCertificate(failure) => write!(f, "certificate refused: {failure}"),
            Self::OwnCertificateUnusable => {
                f.write_str("our certificate's key cannot sign anything the peer accepts")
            }
            Self::Eap(failure) => write!(f, "EAP authentication failed: {failure}"),
            Self::EapOnlyMethodNotMutual => f.write_str(
                "the server skipped its own authentication (EAP-only) but the EAP method that \
                 ran does not authenticate the server",
            ),
            Self::MultipleAuthUnsupported => f.write_str(
                "a second authentication round is configured but the peer does not do it \
                 (RFC 4739 multiple authentication)",
            ),
            Self::Redirected => f.write_str("the server redirected us to another gateway"),
            Self::PpkNotSupportedByPeer => f.write_str(
                "a post-quantum preshared key is required but the peer does not support PPK \
                 (RFC 8784)",
            ),
            Self::PpkNotUsedByPeer => {
                f.write_str("a post-quantum preshared key is required but the peer did not use one")
            }
            Self::PpkUnknownIdentity => {
                f.write_str("the peer asked for a post-quantum preshared key we do not have")
            }
            Self::PpkUnavailableWithEap => f.write_str(
                "a post-quantum preshared key is required but is not supported with EAP or a \
                 second authentication round",
            ),
            Self::AdditionalKeyExchange(why) => {
                write!(f, "additional key exchange (RFC 9370) failed: {why}")
            }
            Self::XauthFailed => {
                f.write_str("extended authentication (XAUTH) failed: wrong user name or password")
            }
        }
    }
}

/// Counters of what an IKE SA dropped and resent, for status and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub retransmits: u64,
    /// Requests answered from the response cache (RFC 7296 §2.1).
    pub replayed_responses: u64,
    pub dropped_malformed: u64,
    pub dropped_unauthenticated: u64,
    pub dropped_unexpected: u64,
    /// Authenticated fragments of an answered request other than the first: retransmitted
    /// fragments answer nothing (RFC 7383 §2.6.1).
    pub ignored_fragments: u64,
    /// Fragmented messages dropped for announcing more fragments or bytes than reassembly
    /// takes (a half-open SA takes only `Config::half_open_max_bytes` in all).
    pub dropped_over_budget: u64,
    /// Incomplete fragmented messages dropped when their reassembly timed out.
    pub reassemblies_expired: u64,
    /// CREATE_CHILD_SA requests refused because the IKE SA holds `Config::max_children`.
    pub children_refused: u64,
    /// IKE_AUTH messages refused for carrying more CERT payloads or certificate bytes than
    /// we parse (8 certificates, 64 KiB).
    pub peer_certificates_over_limit: u64,
    /// REDIRECT notifies not followed (RFC 5685): we did not announce support, it was
    /// malformed, or in an IKE_SA_INIT response its nonce was not our Ni.
    pub ignored_redirects: u64,
    /// MOBIKE: times the SA moved to a new address pair (either role), and NAT rebindings a
    /// responder followed (RFC 7296 §2.23).
    pub path_updates: u64,
    /// MOBIKE: UPDATE_SA_ADDRESSES requests we refused (responder: UNACCEPTABLE_ADDRESSES,
    /// UNEXPECTED_NAT_DETECTED; either side: an update from the SA's responder) and refusals
    /// we were given (initiator).
    pub path_updates_refused: u64,
    /// MOBIKE: authenticated responses whose COOKIE2 did not echo ours (RFC 4555 §3.7);
    /// dropped, the request stays outstanding.
    pub cookie2_mismatches: u64,
    /// IKE_FOLLOWUP_KE requests refused (RFC 9370 §2.2.4): STATE_NOT_FOUND for a link that
    /// names no chain of ours, INVALID_SYNTAX for a KE of another method or refused data.
    pub followups_refused: u64,
    /// CREATE_CHILD_SA chains forgotten because the peer's next IKE_FOLLOWUP_KE never came.
    pub followups_expired: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_read_as_sentences_and_name_the_peers_notify() {
        assert_eq!(CloseReason::PeerUnreachable.to_string(), "the peer stopped answering");
        assert_eq!(
            CloseReason::PeerError(NotifyType::TS_UNACCEPTABLE).to_string(),
            "the peer answered with error TS_UNACCEPTABLE"
        );
        assert_eq!(
            CloseReason::PeerError(NotifyType(12345)).to_string(),
            "the peer answered with error 12345"
        );
        assert_eq!(
            CloseReason::PeerCertificate(ikeway_pki::CertFailure::Expired).to_string(),
            "certificate refused: the peer's certificate has expired"
        );
        assert_eq!(
            CloseReason::EapOnlyMethodNotMutual.to_string(),
            "the server skipped its own authentication (EAP-only) but the EAP method that ran \
             does not authenticate the server"
        );
        assert_eq!(
            CloseReason::PpkNotSupportedByPeer.to_string(),
            "a post-quantum preshared key is required but the peer does not support PPK \
             (RFC 8784)"
        );
        assert_eq!(
            CloseReason::XauthFailed.to_string(),
            "extended authentication (XAUTH) failed: wrong user name or password"
        );
        assert!(
            CloseReason::Eap(ikeway_eap::EapFailure::Rejected)
                .to_string()
                .starts_with("EAP authentication failed: "),
        );
    }
}
