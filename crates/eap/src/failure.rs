//! Why EAP did not authenticate, for logs, close reasons and disconnect errors.

use core::fmt;

use ikeway_pki::CertFailure;

/// Why EAP did not authenticate. `Copy`, so the sa's `CloseReason::Eap(EapFailure)` stays `Copy`.
///
/// The peer returns it from [`crate::EapPeer::handle`]; the authenticator reports it with the
/// EAP-Failure it sends ([`crate::AuthStep::Failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EapFailure {
    /// The server said no with EAP-Failure (wrong password or unknown user, which the server
    /// does not tell apart on the wire). The authenticator reports the same for both.
    Rejected,
    /// MSCHAPv2's failure packet (RFC 2759 §6): `code` is its `E=` error, 691 for a wrong
    /// password or an unknown user, 0 when the packet named none.
    MsChapV2Rejected {
        /// The `E=` value.
        code: u16,
    },
    /// The server asked only for a method we do not allow or have no credentials for (the EAP
    /// type it asked for). On the authenticator: the peer refused (Nak) every method we offer,
    /// with the type we proposed last; 0 when we have no method we can run.
    MethodNotAllowed(u8),
    /// The server did not prove itself: MSCHAPv2's authenticator response (`S=`) is not the one
    /// the password gives.
    ServerNotAuthenticated,
    /// EAP-TLS: the other side's certificate was refused.
    TlsCertificate(CertFailure),
    /// EAP-Success before the method finished (RFC 4137 §4.1, RFC 3748 §4.2): refused, never
    /// taken as success.
    PrematureSuccess,
    /// EAP-TLS: a TLS alert or handshake error (the alert code when known, else 0).
    Tls(u8),
    /// A malformed message, or one the conversation does not allow at this point (a method
    /// change, a bad identifier, an oversized message).
    Malformed,
    /// More rounds than [`crate::limits::MAX_ROUNDS`].
    TooManyRounds,
}

impl fmt::Display for EapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected => f.write_str(
                "the server rejected the EAP authentication (wrong user name or password)",
            ),
            Self::MsChapV2Rejected { code: 691 } => f.write_str(
                "the server rejected the EAP-MSCHAPv2 authentication (error 691: wrong user name or password)",
            ),
            Self::MsChapV2Rejected { code } => write!(
                f,
                "the server rejected the EAP-MSCHAPv2 authentication (error {code}{})",
                mschapv2_error_name(*code)
            ),
            Self::MethodNotAllowed(0) => {
                f.write_str("no EAP method is both allowed and configured with credentials")
            }
            Self::MethodNotAllowed(t) => write!(
                f,
                "the other side wants EAP method {}, which is not allowed here or has no credentials configured",
                method_name(*t)
            ),
            Self::ServerNotAuthenticated => f.write_str(
                "the server did not prove that it knows the password (EAP-MSCHAPv2 authenticator response mismatch)",
            ),
            Self::TlsCertificate(c) => write!(f, "EAP-TLS certificate refused: {c}"),
            Self::PrematureSuccess => f.write_str(
                "the server sent EAP-Success before the authentication method finished; refused",
            ),
            Self::Tls(0) => f.write_str("the EAP-TLS handshake failed"),
            Self::Tls(alert) => write!(f, "the EAP-TLS handshake failed (TLS alert {alert})"),
            Self::Malformed => f.write_str("a malformed or unexpected EAP message"),
            Self::TooManyRounds => f.write_str("the EAP conversation took too many rounds"),
        }
    }
}

impl std::error::Error for EapFailure {}

fn method_name(t: u8) -> String {
    match crate::Method::from_eap_type(crate::EapType(t)) {
        Some(m) => m.name().to_owned(),
        None => t.to_string(),
    }
}

/// RFC 2759 §6 error codes.
fn mschapv2_error_name(code: u16) -> &'static str {
    match code {
        646 => ": restricted logon hours",
        647 => ": account disabled",
        648 => ": password expired",
        649 => ": no dial-in permission",
        709 => ": the password must be changed",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_reads_as_a_sentence() {
        let all = [
            (
                EapFailure::Rejected,
                "the server rejected the EAP authentication (wrong user name or password)",
            ),
            (
                EapFailure::MsChapV2Rejected { code: 691 },
                "the server rejected the EAP-MSCHAPv2 authentication (error 691: wrong user name or password)",
            ),
            (
                EapFailure::MsChapV2Rejected { code: 648 },
                "the server rejected the EAP-MSCHAPv2 authentication (error 648: password expired)",
            ),
            (
                EapFailure::MethodNotAllowed(26),
                "the other side wants EAP method EAP-MSCHAPv2, which is not allowed here or has no credentials configured",
            ),
            (
                EapFailure::MethodNotAllowed(52),
                "the other side wants EAP method 52, which is not allowed here or has no credentials configured",
            ),
            (
                EapFailure::MethodNotAllowed(0),
                "no EAP method is both allowed and configured with credentials",
            ),
            (
                EapFailure::ServerNotAuthenticated,
                "the server did not prove that it knows the password (EAP-MSCHAPv2 authenticator response mismatch)",
            ),
            (
                EapFailure::TlsCertificate(CertFailure::Expired),
                "EAP-TLS certificate refused: the peer's certificate has expired",
            ),
            (
                EapFailure::PrematureSuccess,
                "the server sent EAP-Success before the authentication method finished; refused",
            ),
            (EapFailure::Tls(0), "the EAP-TLS handshake failed"),
            (EapFailure::Tls(42), "the EAP-TLS handshake failed (TLS alert 42)"),
            (EapFailure::Malformed, "a malformed or unexpected EAP message"),
            (EapFailure::TooManyRounds, "the EAP conversation took too many rounds"),
        ];
        for (failure, sentence) in all {
            assert_eq!(failure.to_string(), sentence);
        }
    }
}
