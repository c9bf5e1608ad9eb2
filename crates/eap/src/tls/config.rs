//! How our configuration becomes rustls's: certificate checks delegated to
//! `ikeway_pki::PeerVerifier`, our certificate and key from `ikeway_pki::Identity`, no clock,
//! no session resumption, the version bounds.

use std::sync::{Arc, Mutex, PoisonError};

use ikeway_codec::{IdRepr, IdValue};
use ikeway_pki::{CertFailure, Certificate, Identity, PeerVerifier};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, aws_lc_rs};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};

use super::{TlsKeyLog, TlsPeerConfig, TlsServerConfig};
use crate::TlsVersion;

/// Why a configuration could not be turned into a TLS session: the caller's, not the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// `min_version` above `max_version`.
    EmptyVersionRange,
    /// A key rustls cannot sign with, or a certificate it refuses.
    UnusableIdentity,
}

/// The certificate failure our verifier reported, kept exactly: rustls only carries its own
/// `CertificateError` (which picks the alert), so the session reads the reason from here.
pub(crate) type FailureSlot = Arc<Mutex<Option<CertFailure>>>;

pub(crate) fn take_failure(slot: &FailureSlot) -> Option<CertFailure> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// rustls asks for the time only to hand it to the certificate verifiers (ours ignore it: the
/// `PeerVerifier` carries the caller's clock) and to date session tickets and cache entries
/// (resumption is off on both sides). So the crate reads no clock: this answers the epoch.
#[derive(Debug)]
struct NoClock;

impl TimeProvider for NoClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(core::time::Duration::ZERO))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn versions(
    min: TlsVersion,
    max: TlsVersion,
) -> Result<Vec<&'static SupportedProtocolVersion>, ConfigError> {
    let all =
        [(TlsVersion::V1_2, &rustls::version::TLS12), (TlsVersion::V1_3, &rustls::version::TLS13)];
    let chosen: Vec<_> =
        all.into_iter().filter(|(v, _)| (min..=max).contains(v)).map(|(_, p)| p).collect();
    if chosen.is_empty() { Err(ConfigError::EmptyVersionRange) } else { Ok(chosen) }
}

/// Our chain and key as rustls's `CertifiedKey`; the PKCS#8 copy is wiped when this returns.
fn certified_key(identity: &Identity) -> Result<Arc<CertifiedKey>, ConfigError> {
    let der = identity.key().to_pkcs8_der().map_err(|_| ConfigError::UnusableIdentity)?;
    let key =
        aws_lc_rs::sign::any_supported_type(&der).map_err(|_| ConfigError::UnusableIdentity)?;
    let chain = identity.chain().iter().map(|c| CertificateDer::from(c.der().to_vec())).collect();
    Ok(Arc::new(CertifiedKey::new(chain, key)))
}

/// Our one certificate, whatever the other side hints (EAP-TLS has no virtual hosting, and a
/// TLS 1.2 server's empty CA list means "send what you have", RFC 5246 §7.4.4).
#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesClientCert for OneCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl ResolvesServerCert for OneCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The chain rustls received, as `ikeway_pki` certificates.
fn chain_of(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<Vec<Certificate>, CertFailure> {
    core::iter::once(end_entity)
        .chain(intermediates)
        .map(|der| Certificate::from_der(der.to_vec()).map_err(|_| CertFailure::Malformed))
        .collect()
}

/// The alert rustls sends for a refusal: the closest `CertificateError`.
fn certificate_error(failure: CertFailure) -> CertificateError {
    match failure {
        CertFailure::Expired => CertificateError::Expired,
        CertFailure::NotYetValid => CertificateError::NotValidYet,
        CertFailure::Revoked => CertificateError::Revoked,
        CertFailure::UntrustedIssuer | CertFailure::RevocationUnknown => {
            CertificateError::UnknownIssuer
        }
        CertFailure::IdentityMismatch
        | CertFailure::CommonNameMismatch
        | CertFailure::IssuerCommonNameMismatch => CertificateError::NotValidForName,
        // Both are sent as unsupported_certificate.
        CertFailure::WrongKeyUsage | CertFailure::UnsupportedKey => {
            CertificateError::InvalidPurpose
        }
        CertFailure::BadSignature => CertificateError::BadSignature,
        CertFailure::NoCertificate | CertFailure::Malformed | CertFailure::UnsupportedEncoding => {
            CertificateError::BadEncoding
        }
    }
}

/// Checks the chain with the caller's `PeerVerifier` (path, time, usage, identity) and the
/// handshake signatures with rustls's own code over the provider's algorithms.
#[derive(Debug)]
struct Verifier {
    verifier: Arc<dyn PeerVerifier>,
    /// What the chain must name: the server ID (peer role), the EAP identity (server role).
    peer: PeerName,
    algorithms: WebPkiSupportedAlgorithms,
    failure: FailureSlot,
}

#[derive(Debug)]
enum PeerName {
    Server(IdRepr),
    /// The EAP-Identity the client gave.
    Client(String),
}

impl Verifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        let result = chain_of(end_entity, intermediates).and_then(|chain| match &self.peer {
            PeerName::Server(id) => self.verifier.verify(&chain, id).map(drop),
            PeerName::Client(identity) => self.check_client(&chain, identity),
        });
        result.map_err(|failure| {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
            rustls::Error::InvalidCertificate(certificate_error(failure))
        })
    }

    /// The EAP identity must be in the client certificate: an address in an IP SAN, a name
    /// with `@` in an rfc822Name SAN, another name in a DNS SAN (as for IKE IDs), or else equal
    /// to the subject's common name (user certificates often carry only that); in the last
    /// case the chain is checked again for the subject DN, so every other check still runs.
    fn check_client(&self, chain: &[Certificate], identity: &str) -> Result<(), CertFailure> {
        match (self.verifier.verify(chain, &id_of(identity)), chain.first()) {
            (Err(CertFailure::IdentityMismatch), Some(ee))
                if ee.subject_common_name().is_some_and(|cn| cn == identity) =>
            {
                let dn = IdRepr::from_value(IdValue::DerAsn1Dn(ee.subject_der()));
                self.verifier.verify(chain, &dn).map(drop)
            }
            (other, _) => other.map(drop),
        }
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// An EAP identity as the IKE ID it would be (RFC 7296 §3.5 types).
fn id_of(identity: &str) -> IdRepr {
    if let Ok(ip) = identity.parse::<std::net::IpAddr>() {
        return IdRepr::from_value(match ip {
            std::net::IpAddr::V4(a) => IdValue::Ipv4(a),
            std::net::IpAddr::V6(a) => IdValue::Ipv6(a),
        });
    }
    if identity.contains('@') {
        IdRepr::from_value(IdValue::Rfc822(identity))
    } else {
        IdRepr::from_value(IdValue::Fqdn(identity))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for Verifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // `PeerVerifier` does not name its anchors; an empty list asks for any certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

/// Hands rustls's secrets to the caller's key log (for Wireshark), when there is one.
#[derive(Debug)]
struct KeyLogAdapter(Arc<dyn TlsKeyLog>);

impl rustls::KeyLog for KeyLogAdapter {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0.log(label, client_random, secret);
    }
}

/// The peer role's rustls configuration, and the slot its verifier reports refusals in.
pub(crate) fn client_config(
    config: &TlsPeerConfig,
) -> Result<(Arc<ClientConfig>, FailureSlot), ConfigError> {
    let provider = provider();
    let failure = FailureSlot::default();
    let verifier = Verifier {
        verifier: config.verifier.clone(),
        peer: PeerName::Server(config.server_id.clone()),
        algorithms: provider.signature_verification_algorithms,
        failure: failure.clone(),
    };
    let cert = OneCert(certified_key(&config.identity)?);
    let mut tls = ClientConfig::builder_with_details(provider, Arc::new(NoClock))
        .with_protocol_versions(&versions(config.min_version, config.max_version)?)
        .map_err(|_| ConfigError::EmptyVersionRange)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(cert));
    tls.resumption = Resumption::disabled();
    // The server is checked against `server_id`, not a host name; SNI would only leak it.
    tls.enable_sni = false;
    if let Some(log) = &config.key_log {
        tls.key_log = Arc::new(KeyLogAdapter(log.clone()));
    }
    Ok((Arc::new(tls), failure))
}

/// The authenticator's rustls configuration for a client that said `identity`.
pub(crate) fn server_config(
    config: &TlsServerConfig,
    identity: &str,
) -> Result<(Arc<ServerConfig>, FailureSlot), ConfigError> {
    let provider = provider();
    let failure = FailureSlot::default();
    let verifier = Verifier {
        verifier: config.verifier.clone(),
        peer: PeerName::Client(identity.to_owned()),
        algorithms: provider.signature_verification_algorithms,
        failure: failure.clone(),
    };
    let cert = OneCert(certified_key(&config.identity)?);
    let mut tls = ServerConfig::builder_with_details(provider, Arc::new(NoClock))
        .with_protocol_versions(&versions(config.min_version, config.max_version)?)
        .map_err(|_| ConfigError::EmptyVersionRange)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(cert));
    tls.session_storage = Arc::new(NoServerSessionStorage {});
    // RFC 9190 §2.1.1 allows tickets; without resumption they only lengthen the exchange.
    tls.send_tls13_tickets = 0;
    if let Some(log) = &config.key_log {
        tls.key_log = Arc::new(KeyLogAdapter(log.clone()));
    }
    Ok((Arc::new(tls), failure))
}

/// The name rustls's client API needs; never sent (SNI off) nor checked (our verifier
/// ignores it).
pub(crate) fn placeholder_server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bounds() {
        use TlsVersion::{V1_2, V1_3};
        let names =
            |min, max| versions(min, max).map(|v| v.iter().map(|p| p.version).collect::<Vec<_>>());
        let (t12, t13) = (rustls::ProtocolVersion::TLSv1_2, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(names(V1_2, V1_3), Ok(vec![t12, t13]));
        assert_eq!(names(V1_2, V1_2), Ok(vec![t12]));
        assert_eq!(names(V1_3, V1_3), Ok(vec![t13]));
        assert_eq!(names(V1_3, V1_2), Err(ConfigError::EmptyVersionRange));
    }

    #[test]
    fn eap_identities_as_ike_ids() {
        assert_eq!(id_of("192.0.2.1").value(), IdValue::Ipv4([192, 0, 2, 1].into()));
        assert_eq!(id_of("2001:db8::1").value(), IdValue::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(id_of("alice@example.com").value(), IdValue::Rfc822("alice@example.com"));
        assert_eq!(id_of("alice").value(), IdValue::Fqdn("alice"));
    }
}
