//! `NEVPNStatus` and the connection's state machine as a pure table: [`next`].
//!
//! | from | input | to | effects |
//! |---|---|---|---|
//! | Invalid | Configured | Disconnected | |
//! | any | Removed | Invalid | StopProvider if a tunnel is up or coming up |
//! | Disconnected | Start | Connecting | ClearError, StartProvider |
//! | Connecting | StartFailed(e) | Disconnected | SetError(e) |
//! | Connecting | Tunnel(Up) | Connected | SetConnectedDate |
//! | Reasserting | Tunnel(Up) | Connected | (the connected date is kept) |
//! | Connected | Tunnel(Unresponsive) | Reasserting | |
//! | Connecting, Connected, Reasserting | Tunnel(Closed(r)) | Disconnected | SetError(error for r in that state), ClearConnectedDate |
//! | Connecting, Connected, Reasserting | Stop | Disconnecting | StopProvider |
//! | Disconnecting | Tunnel(Closed(_)) | Disconnected | ClearConnectedDate (no error: the user asked) |
//! | anything else | | unchanged | |
//!
//! A refused server certificate is `ServerCertificateInvalid` / `NotYetValid` / `Expired`
//! (17-19) by its [`CertFailure`], which [`CloseCause::reason`] puts in words; our own
//! certificate's problems are the client codes 9-11. An EAP failure is `AuthenticationFailed`
//! (8) with the failure in words (wrong password, the server did not prove itself...), except
//! a server certificate refused inside EAP-TLS, which is 17-19 as in IKE.
//!
//! The error for a close depends on the state: a peer that stops answering while we connect
//! is `ServerNotResponding`; one declared dead while connected is `ServerDead`; one that does
//! not come back while reasserting is `ServerNotResponding`.

use ikeway_eap::EapFailure;
use ikeway_pki::CertFailure;
use serde::{Deserialize, Serialize};

use crate::model::raw_enum;

raw_enum! {
    /// `NEVPNStatus`.
    pub enum VpnStatus {
        /// No configuration.
        Invalid = 0,
        Disconnected = 1,
        Connecting = 2,
        Connected = 3,
        /// Connected, but the peer stopped answering and we are trying to recover.
        Reasserting = 4,
        Disconnecting = 5,
    }
}

raw_enum! {
    /// `NEVPNConnectionError` (`NEVPNConnectionErrorDomain`): why the last connection ended.
    pub enum DisconnectError {
        Overslept = 1,
        NoNetworkAvailable = 2,
        UnrecoverableNetworkChange = 3,
        ConfigurationFailed = 4,
        ServerAddressResolutionFailed = 5,
        ServerNotResponding = 6,
        ServerDead = 7,
        AuthenticationFailed = 8,
        ClientCertificateInvalid = 9,
        ClientCertificateNotYetValid = 10,
        ClientCertificateExpired = 11,
        PluginFailed = 12,
        ConfigurationNotFound = 13,
        PluginDisabled = 14,
        NegotiationFailed = 15,
        ServerDisconnected = 16,
        ServerCertificateInvalid = 17,
        ServerCertificateNotYetValid = 18,
        ServerCertificateExpired = 19,
    }
}

impl DisconnectError {
    /// What happened, in words.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Overslept => "the system slept too long for the tunnel to survive",
            Self::NoNetworkAvailable => "no network is available",
            Self::UnrecoverableNetworkChange => {
                "the network changed and the tunnel could not follow"
            }
            Self::ConfigurationFailed => "the configuration could not be applied",
            Self::ServerAddressResolutionFailed => "the server's name did not resolve",
            Self::ServerNotResponding => "the server did not answer",
            Self::ServerDead => "the server stopped answering",
            Self::AuthenticationFailed => "authentication failed",
            Self::ClientCertificateInvalid => "the client certificate is invalid",
            Self::ClientCertificateNotYetValid => "the client certificate is not valid yet",
            Self::ClientCertificateExpired => "the client certificate has expired",
            Self::PluginFailed => "the tunnel could not be set up",
            Self::ConfigurationNotFound => "the configuration was not found",
            Self::PluginDisabled => "the tunnel provider is disabled",
            Self::NegotiationFailed => "the server and this configuration could not agree",
            Self::ServerDisconnected => "the server disconnected",
            Self::ServerCertificateInvalid => "the server certificate is invalid",
            Self::ServerCertificateNotYetValid => "the server certificate is not valid yet",
            Self::ServerCertificateExpired => "the server certificate has expired",
        }
    }
}

/// The sentence, then Apple's error code to look up (`NEVPNConnectionErrorDomain`).
impl std::fmt::Display for DisconnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (NEVPNConnectionError {})", self.sentence(), self.raw())
    }
}

impl std::error::Error for DisconnectError {}

/// Why a tunnel closed, as the tunnel provider reports it (a reduction of
/// [`ikeway_sa::CloseReason`] plus what happens outside the IKE SA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// We closed it because the user asked (`stop_tunnel`).
    LocalStop,
    /// The server deleted the IKE SA.
    DeletedByPeer,
    /// Retransmissions or liveness checks ran out.
    PeerUnreachable,
    AuthenticationFailed,
    /// The server accepted the IKE SA but refused its first child SA (the notify is the
    /// reason the provider reports with it).
    NegotiationFailed,
    /// No proposal chosen, another error notify from the peer, an additional key exchange
    /// refused: the close reason says which.
    Negotiation(ikeway_sa::CloseReason),
    /// The SA lifetime ended without a successful rekey.
    Expired,
    /// The server's name did not resolve.
    ServerAddressResolutionFailed,
    /// No usable network interface.
    NoNetworkAvailable,
    /// The network changed in a way the tunnel cannot survive (no MOBIKE).
    NetworkChanged,
    /// The provider could not set up the tunnel (TUN device, routes, ...).
    ProviderFailed,
    /// The server's certificate (or its signature with the certificate's key) was refused.
    ServerCertificate(ikeway_pki::CertFailure),
    /// Our certificate's key cannot sign anything the server accepts.
    OwnCertificateUnusable,
    /// The server left its own AUTH out (EAP-only, RFC 5998) but the EAP method that ran does
    /// not authenticate it.
    ServerNotAuthenticated,
    /// A second authentication round is configured (RFC 4739) and the server does not do it.
    MultipleAuthUnsupported,
    /// EAP did not authenticate (wrong password, the server refused, the server did not
    /// prove itself inside EAP...).
    Eap(ikeway_eap::EapFailure),
    /// The server redirected us (RFC 5685) and the redirect was not followed: a loop, too
    /// many hops, a name that does not resolve.
    Redirect(ikeway_tunnel::RedirectFailure),
    /// A mandatory post-quantum preshared key (RFC 8784) was not agreed: the one `Ppk*`
    /// close reason of the IKE SA. (A wrong PPK fails authentication instead.)
    Ppk(ikeway_sa::CloseReason),
    /// IKEv1: the gateway refused the XAUTH user name or password (XAUTH STATUS = FAIL).
    Xauth,
}

impl CloseCause {
    /// What a status display and the log add to the disconnect error: the certificate
    /// failure in words, for the causes that have one.
    pub fn reason(self) -> Option<String> {
        match self {
            Self::ServerCertificate(failure) => Some(failure.to_string()),
            Self::OwnCertificateUnusable => {
                Some("our certificate's key cannot sign anything the server accepts".into())
            }
            Self::Eap(failure) => Some(failure.to_string()),
            Self::Redirect(failure) => Some(failure.to_string()),
            Self::Ppk(reason) | Self::Negotiation(reason) => Some(reason.to_string()),
            Self::Xauth => Some(ikeway_sa::CloseReason::XauthFailed.to_string()),
            Self::ServerNotAuthenticated => Some(
                "the server skipped its own authentication (EAP-only) but the EAP method that \
                 ran does not authenticate the server"
                    .into(),
            ),
            Self::MultipleAuthUnsupported => Some(
                "a second authentication round (EAP after the shared secret or certificate, \
                 RFC 4739) is configured and the server does not do it"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl From<ikeway_sa::CloseReason> for CloseCause {
    fn from(r: ikeway_sa::CloseReason) -> Self {
        use ikeway_sa::CloseReason as R;
        match r {
            R::Deleted | R::Rekeyed => Self::LocalStop,
            R::DeletedByPeer => Self::DeletedByPeer,
            R::PeerUnreachable | R::HandshakeTimeout => Self::PeerUnreachable,
            R::AuthenticationFailed => Self::AuthenticationFailed,
            R::XauthFailed => Self::Xauth,
            R::PeerError(n) if n == ikeway_codec::NotifyType::AUTHENTICATION_FAILED => {
                Self::AuthenticationFailed
            }
            R::NoProposalChosen | R::PeerError(_) => Self::Negotiation(r),
            R::Expired => Self::Expired,
            R::PeerCertificate(failure) => Self::ServerCertificate(failure),
            R::OwnCertificateUnusable => Self::OwnCertificateUnusable,
            R::Eap(failure) => Self::Eap(failure),
            R::EapOnlyMethodNotMutual => Self::ServerNotAuthenticated,
            R::MultipleAuthUnsupported => Self::MultipleAuthUnsupported,
            // A refused or skipped RFC 9370 exchange is a negotiation the server would not do.
            R::AdditionalKeyExchange(_) => Self::Negotiation(r),
            R::PpkNotSupportedByPeer
            | R::PpkNotUsedByPeer
            | R::PpkUnknownIdentity
            | R::PpkUnavailableWithEap => Self::Ppk(r),
            _ => Self::Negotiation(r),
        }
    }
}

/// What the tunnel provider reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TunnelEvent {
    /// The IKE SA and the first child SA are up, with the server's configuration.
    Up(ikeway_sa::ConfigReceived),
    /// The peer stopped answering; the provider is retrying (DPD or retransmissions failing).
    Unresponsive,
    /// The tunnel is gone.
    Closed(CloseCause),
}

/// Inputs of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusInput {
    /// A configuration was saved or loaded.
    Configured,
    /// The configuration was removed.
    Removed,
    /// `start_tunnel`.
    Start,
    /// The tunnel could not even be started.
    StartFailed(DisconnectError),
    /// `stop_tunnel`.
    Stop,
    Tunnel(TunnelEvent),
}

/// What the connection must do after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    StartProvider,
    StopProvider,
    SetConnectedDate,
    ClearConnectedDate,
    ClearError,
    SetError(DisconnectError),
}

/// The error a close in state `from` leaves behind (`None` for a close the user asked for).
pub fn close_error(from: VpnStatus, cause: CloseCause) -> Option<DisconnectError> {
    use DisconnectError as E;
    Some(match cause {
        CloseCause::LocalStop => return None,
        CloseCause::DeletedByPeer => E::ServerDisconnected,
        CloseCause::PeerUnreachable => match from {
            VpnStatus::Connected => E::ServerDead,
            _ => E::ServerNotResponding,
        },
        // Apple's Cisco IPSec client reports a refused XAUTH password as an authentication
        // failure, as a refused EAP password.
        CloseCause::AuthenticationFailed
        | CloseCause::ServerNotAuthenticated
        | CloseCause::Xauth => E::AuthenticationFailed,
        CloseCause::MultipleAuthUnsupported | CloseCause::Ppk(_) => E::NegotiationFailed,
        CloseCause::NegotiationFailed | CloseCause::Negotiation(_) | CloseCause::Expired => {
            E::NegotiationFailed
        }
        CloseCause::ServerAddressResolutionFailed => E::ServerAddressResolutionFailed,
        // Apple has no redirect error: the server's address led to no gateway that serves us
        // (see `ikeway_tunnel::RedirectFailure` for why not another one).
        CloseCause::Redirect(_) => E::ServerAddressResolutionFailed,
        CloseCause::NoNetworkAvailable => E::NoNetworkAvailable,
        CloseCause::NetworkChanged => E::UnrecoverableNetworkChange,
        CloseCause::ProviderFailed => E::PluginFailed,
        CloseCause::ServerCertificate(failure) => match failure {
            CertFailure::Expired => E::ServerCertificateExpired,
            CertFailure::NotYetValid => E::ServerCertificateNotYetValid,
            _ => E::ServerCertificateInvalid,
        },
        CloseCause::OwnCertificateUnusable => E::ClientCertificateInvalid,
        // EAP-TLS: the server's certificate inside EAP, refused like the one in IKE.
        CloseCause::Eap(EapFailure::TlsCertificate(failure)) => match failure {
            CertFailure::Expired => E::ServerCertificateExpired,
            CertFailure::NotYetValid => E::ServerCertificateNotYetValid,
            _ => E::ServerCertificateInvalid,
        },
        // Everything else, a server that did not prove it knows the password included, is
        // Apple's authenticationFailed; the reason says which.
        CloseCause::Eap(_) => E::AuthenticationFailed,
    })
}

/// One transition of the table in the module documentation.
pub fn next(from: VpnStatus, input: &StatusInput) -> (VpnStatus, Vec<Effect>) {
    use StatusInput as I;
    use VpnStatus as S;
    let active = matches!(from, S::Connecting | S::Connected | S::Reasserting);
    match (from, input) {
        (S::Invalid, I::Configured) => (S::Disconnected, vec![]),
        (_, I::Removed) if active => {
            (S::Invalid, vec![Effect::StopProvider, Effect::ClearConnectedDate])
        }
        (_, I::Removed) => (S::Invalid, vec![Effect::ClearConnectedDate]),
        (S::Disconnected, I::Start) => {
            (S::Connecting, vec![Effect::ClearError, Effect::StartProvider])
        }
        (S::Connecting, I::StartFailed(e)) => (S::Disconnected, vec![Effect::SetError(*e)]),
        (S::Connecting, I::Tunnel(TunnelEvent::Up(_))) => {
            (S::Connected, vec![Effect::SetConnectedDate])
        }
        (S::Reasserting, I::Tunnel(TunnelEvent::Up(_))) => (S::Connected, vec![]),
        (S::Connected, I::Tunnel(TunnelEvent::Unresponsive)) => (S::Reasserting, vec![]),
        (_, I::Tunnel(TunnelEvent::Closed(cause))) if active => {
            let mut effects = vec![Effect::ClearConnectedDate];
            if let Some(e) = close_error(from, *cause) {
                effects.push(Effect::SetError(e));
            }
            (S::Disconnected, effects)
        }
        (_, I::Stop) if active => (S::Disconnecting, vec![Effect::StopProvider]),
        (S::Disconnecting, I::Tunnel(TunnelEvent::Closed(_))) => {
            (S::Disconnected, vec![Effect::ClearConnectedDate])
        }
        _ => (from, vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisconnectError as E;
    use StatusInput as I;
    use VpnStatus as S;

    fn up() -> I {
        I::Tunnel(TunnelEvent::Up(Default::default()))
    }
    fn closed(c: CloseCause) -> I {
        I::Tunnel(TunnelEvent::Closed(c))
    }
    fn unresponsive() -> I {
        I::Tunnel(TunnelEvent::Unresponsive)
    }

    #[test]
    fn a_mandatory_ppk_not_agreed_is_a_negotiation_failure_with_its_reason() {
        let cause = CloseCause::from(ikeway_sa::CloseReason::PpkNotSupportedByPeer);
        assert_eq!(cause, CloseCause::Ppk(ikeway_sa::CloseReason::PpkNotSupportedByPeer));
        assert_eq!(close_error(S::Connecting, cause), Some(E::NegotiationFailed));
        assert_eq!(
            cause.reason().as_deref(),
            Some(
                "a post-quantum preshared key is required but the peer does not support PPK \
                 (RFC 8784)"
            )
        );
    }

    #[test]
    fn a_disconnect_error_reads_as_a_sentence_with_apples_code() {
        assert_eq!(
            E::ServerDead.to_string(),
            "the server stopped answering (NEVPNConnectionError 7)"
        );
        assert_eq!(
            E::ServerAddressResolutionFailed.to_string(),
            "the server's name did not resolve (NEVPNConnectionError 5)"
        );
        // No variant shows its Rust name.
        for e in E::ALL {
            let shown = e.to_string();
            assert!(!shown.contains(&format!("{e:?}")), "{shown}");
            assert!(shown.ends_with(&format!("(NEVPNConnectionError {})", e.raw())), "{shown}");
        }
    }

    /// A redirect not followed is Apple's serverAddressResolutionFailed, with the reason.
    #[test]
    fn a_redirect_not_followed_names_why() {
        use ikeway_tunnel::RedirectFailure as R;
        for failure in [R::Loop, R::TooManyRedirects, R::Unresolvable, R::CannotInitiate] {
            let cause = CloseCause::Redirect(failure);
            assert_eq!(close_error(S::Connecting, cause), Some(E::ServerAddressResolutionFailed));
            assert_eq!(close_error(S::Connected, cause), Some(E::ServerAddressResolutionFailed));
            assert_eq!(cause.reason(), Some(failure.to_string()));
        }
        assert_eq!(
            CloseCause::Redirect(R::Loop).reason().as_deref(),
            Some("the servers redirected us in a loop")
        );
    }

    #[test]
    fn raw_values_match_apple() {
        assert_eq!(S::Invalid.raw(), 0);
        assert_eq!(S::Disconnecting.raw(), 5);
        assert_eq!(E::Overslept.raw(), 1);
        assert_eq!(E::ServerDead.raw(), 7);
        assert_eq!(E::AuthenticationFailed.raw(), 8);
        assert_eq!(E::ClientCertificateExpired.raw(), 11);
        assert_eq!(E::NegotiationFailed.raw(), 15);
        assert_eq!(E::ServerCertificateExpired.raw(), 19);
        assert_eq!(DisconnectError::ALL.len(), 19);
        assert_eq!(
            E::ServerDead.to_string(),
            "the server stopped answering (NEVPNConnectionError 7)"
        );
    }

    /// Every row of the documented table, then every other pair stays put without effects.
    #[test]
    fn transition_table() {
        use CloseCause as C;
        let table: Vec<(S, I, S, Vec<Effect>)> = vec![
            (S::Invalid, I::Configured, S::Disconnected, vec![]),
            (S::Disconnected, I::Configured, S::Disconnected, vec![]),
            (
                S::Connected,
                I::Removed,
                S::Invalid,
                vec![Effect::StopProvider, Effect::ClearConnectedDate],
            ),
            (
                S::Connecting,
                I::Removed,
                S::Invalid,
                vec![Effect::StopProvider, Effect::ClearConnectedDate],
            ),
            (
                S::Reasserting,
                I::Removed,
                S::Invalid,
                vec![Effect::StopProvider, Effect::ClearConnectedDate],
            ),
            (S::Disconnected, I::Removed, S::Invalid, vec![Effect::ClearConnectedDate]),
            (S::Disconnecting, I::Removed, S::Invalid, vec![Effect::ClearConnectedDate]),
            (S::Invalid, I::Start, S::Invalid, vec![]),
            (
                S::Disconnected,
                I::Start,
                S::Connecting,
                vec![Effect::ClearError, Effect::StartProvider],
            ),
            (S::Connecting, I::Start, S::Connecting, vec![]),
            (S::Connected, I::Start, S::Connected, vec![]),
            (S::Disconnecting, I::Start, S::Disconnecting, vec![]),
            (
                S::Connecting,
                I::StartFailed(E::ConfigurationFailed),
                S::Disconnected,
                vec![Effect::SetError(E::ConfigurationFailed)],
            ),
            (S::Connecting, up(), S::Connected, vec![Effect::SetConnectedDate]),
            (S::Reasserting, up(), S::Connected, vec![]),
            (S::Connected, up(), S::Connected, vec![]),
            (S::Disconnected, up(), S::Disconnected, vec![]),
            (S::Disconnecting, up(), S::Disconnecting, vec![]),
            (S::Connected, unresponsive(), S::Reasserting, vec![]),
            (S::Connecting, unresponsive(), S::Connecting, vec![]),
            (S::Reasserting, unresponsive(), S::Reasserting, vec![]),
            (
                S::Connecting,
                closed(C::AuthenticationFailed),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::AuthenticationFailed)],
            ),
            (
                S::Connecting,
                closed(C::PeerUnreachable),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::ServerNotResponding)],
            ),
            (
                S::Connected,
                closed(C::PeerUnreachable),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::ServerDead)],
            ),
            (
                S::Reasserting,
                closed(C::PeerUnreachable),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::ServerNotResponding)],
            ),
            (
                S::Connected,
                closed(C::DeletedByPeer),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::ServerDisconnected)],
            ),
            (
                S::Connecting,
                closed(C::NegotiationFailed),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::NegotiationFailed)],
            ),
            (
                S::Connected,
                closed(C::Expired),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::NegotiationFailed)],
            ),
            (
                S::Connecting,
                closed(C::ServerAddressResolutionFailed),
                S::Disconnected,
                vec![
                    Effect::ClearConnectedDate,
                    Effect::SetError(E::ServerAddressResolutionFailed),
                ],
            ),
            (
                S::Connecting,
                closed(C::NoNetworkAvailable),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::NoNetworkAvailable)],
            ),
            (
                S::Connected,
                closed(C::NetworkChanged),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::UnrecoverableNetworkChange)],
            ),
            (
                S::Connecting,
                closed(C::ProviderFailed),
                S::Disconnected,
                vec![Effect::ClearConnectedDate, Effect::SetError(E::PluginFailed)],
            ),
            (S::Connected, closed(C::LocalStop), S::Disconnected, vec![Effect::ClearConnectedDate]),
            (S::Disconnected, closed(C::AuthenticationFailed), S::Disconnected, vec![]),
            (S::Connecting, I::Stop, S::Disconnecting, vec![Effect::StopProvider]),
            (S::Connected, I::Stop, S::Disconnecting, vec![Effect::StopProvider]),
            (S::Reasserting, I::Stop, S::Disconnecting, vec![Effect::StopProvider]),
            (S::Disconnected, I::Stop, S::Disconnected, vec![]),
            (S::Disconnecting, I::Stop, S::Disconnecting, vec![]),
            (
                S::Disconnecting,
                closed(C::LocalStop),
                S::Disconnected,
                vec![Effect::ClearConnectedDate],
            ),
            // A failure racing the user's stop is not reported as an error: the user asked.
            (
                S::Disconnecting,
                closed(C::PeerUnreachable),
                S::Disconnected,
                vec![Effect::ClearConnectedDate],
            ),
        ];
        for (i, (from, input, to, effects)) in table.iter().enumerate() {
            assert_eq!(next(*from, input), (*to, effects.clone()), "row {i}: {from:?} + {input:?}");
        }
    }

    #[test]
    fn close_reasons_from_the_sa() {
        use ikeway_sa::CloseReason as R;
        assert_eq!(CloseCause::from(R::AuthenticationFailed), CloseCause::AuthenticationFailed);
        assert_eq!(CloseCause::from(R::XauthFailed), CloseCause::Xauth);
        assert_eq!(
            close_error(VpnStatus::Connecting, CloseCause::Xauth),
            Some(DisconnectError::AuthenticationFailed)
        );
        assert_eq!(
            CloseCause::Xauth.reason().as_deref(),
            Some("extended authentication (XAUTH) failed: wrong user name or password")
        );
        assert_eq!(
            CloseCause::from(R::PeerError(ikeway_codec::NotifyType::AUTHENTICATION_FAILED)),
            CloseCause::AuthenticationFailed
        );
        // Issue 14: a negotiation that failed keeps why, in words, beside NegotiationFailed.
        for (r, why) in [
            (R::NoProposalChosen, "no proposal in common with the peer"),
            (
                R::PeerError(ikeway_codec::NotifyType::TS_UNACCEPTABLE),
                "the peer answered with error TS_UNACCEPTABLE",
            ),
            (
                R::PeerError(ikeway_codec::NotifyType::INTERNAL_ADDRESS_FAILURE),
                "the peer answered with error INTERNAL_ADDRESS_FAILURE",
            ),
        ] {
            let cause = CloseCause::from(r);
            assert_eq!(cause, CloseCause::Negotiation(r));
            assert_eq!(close_error(S::Connecting, cause), Some(E::NegotiationFailed));
            assert_eq!(cause.reason().as_deref(), Some(why));
        }
        let addke = R::AdditionalKeyExchange(ikeway_sa::AddKeFailure::WrongMethod);
        assert_eq!(CloseCause::from(addke), CloseCause::Negotiation(addke));
        assert_eq!(CloseCause::from(addke).reason(), Some(addke.to_string()));
        assert_eq!(CloseCause::from(R::PeerUnreachable), CloseCause::PeerUnreachable);
        assert_eq!(CloseCause::from(R::HandshakeTimeout), CloseCause::PeerUnreachable);
        assert_eq!(CloseCause::from(R::DeletedByPeer), CloseCause::DeletedByPeer);
        assert_eq!(CloseCause::from(R::Deleted), CloseCause::LocalStop);
    }

    /// Every certificate failure of the server maps to one of Apple's server-certificate
    /// codes 17-19, and its reason is the failure's sentence; our own unusable key is 9.
    #[test]
    fn eap_failures_are_authentication_failed_with_the_sentence() {
        use EapFailure as F;
        for (failure, error, reason) in [
            (
                F::MsChapV2Rejected { code: 691 },
                E::AuthenticationFailed,
                "the server rejected the EAP-MSCHAPv2 authentication (error 691: wrong user \
                 name or password)",
            ),
            (
                F::Rejected,
                E::AuthenticationFailed,
                "the server rejected the EAP authentication (wrong user name or password)",
            ),
            (
                F::ServerNotAuthenticated,
                E::AuthenticationFailed,
                "the server did not prove that it knows the password (EAP-MSCHAPv2 \
                 authenticator response mismatch)",
            ),
            (
                F::TlsCertificate(CertFailure::Expired),
                E::ServerCertificateExpired,
                "EAP-TLS certificate refused: the peer's certificate has expired",
            ),
            (
                F::TlsCertificate(CertFailure::NotYetValid),
                E::ServerCertificateNotYetValid,
                "EAP-TLS certificate refused: the peer's certificate is not valid yet",
            ),
            (
                F::TlsCertificate(CertFailure::UntrustedIssuer),
                E::ServerCertificateInvalid,
                "EAP-TLS certificate refused: the peer's certificate does not chain to a \
                 trusted certificate authority",
            ),
            (
                F::TooManyRounds,
                E::AuthenticationFailed,
                "the EAP conversation took too many rounds",
            ),
        ] {
            let cause = CloseCause::Eap(failure);
            for from in [S::Connecting, S::Connected, S::Reasserting] {
                assert_eq!(close_error(from, cause), Some(error), "{failure:?} in {from:?}");
            }
            assert_eq!(cause.reason().as_deref(), Some(reason));
        }
    }

    #[test]
    fn certificate_closes_map_to_apples_certificate_errors() {
        use CertFailure as F;
        use ikeway_sa::CloseReason as R;
        let all = [
            (F::NoCertificate, E::ServerCertificateInvalid),
            (F::Malformed, E::ServerCertificateInvalid),
            (F::UnsupportedEncoding, E::ServerCertificateInvalid),
            (F::UntrustedIssuer, E::ServerCertificateInvalid),
            (F::Expired, E::ServerCertificateExpired),
            (F::NotYetValid, E::ServerCertificateNotYetValid),
            (F::Revoked, E::ServerCertificateInvalid),
            (F::RevocationUnknown, E::ServerCertificateInvalid),
            (F::WrongKeyUsage, E::ServerCertificateInvalid),
            (F::IdentityMismatch, E::ServerCertificateInvalid),
            (F::CommonNameMismatch, E::ServerCertificateInvalid),
            (F::IssuerCommonNameMismatch, E::ServerCertificateInvalid),
            (F::UnsupportedKey, E::ServerCertificateInvalid),
            (F::BadSignature, E::ServerCertificateInvalid),
        ];
        for (failure, error) in all {
            let cause = CloseCause::from(R::PeerCertificate(failure));
            assert_eq!(cause, CloseCause::ServerCertificate(failure));
            for from in [S::Connecting, S::Connected, S::Reasserting] {
                assert_eq!(close_error(from, cause), Some(error), "{failure:?} in {from:?}");
            }
            assert_eq!(cause.reason(), Some(failure.to_string()));
        }
        assert_eq!(
            CloseCause::ServerCertificate(F::Expired).reason().as_deref(),
            Some("the peer's certificate has expired")
        );
        let own = CloseCause::from(R::OwnCertificateUnusable);
        assert_eq!(close_error(S::Connecting, own), Some(E::ClientCertificateInvalid));
        assert_eq!(CloseCause::PeerUnreachable.reason(), None);
    }
}
