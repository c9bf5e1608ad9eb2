//! Who the peers are in phase 1: identities as ID payloads, and the proof over HASH_I/HASH_R
//! (RFC 2409 §5): the hash itself with a pre-shared key, a signature of it with certificates
//! (§5.1; ECDSA per RFC 4754, the hash signed as the digest, r | s, as strongSwan does; RSA as
//! PKCS#1 v1.5 around the bare hash).

use ikeway_crypto::SecretBytes;
use ikeway_isakmp::{AuthMethod, CertEncoding, CertRepr, IdRepr, IdType, Payload};
use ikeway_pki::{CertFailure, Certificate, KeyKind};
use subtle::ConstantTimeEq;

use crate::config::{Authentication, Identity};

/// CERT payloads we take from a peer, and their bytes in all: an end entity and a few
/// intermediates (the same bounds as the IKEv2 side).
pub(crate) const MAX_PEER_CERTS: usize = 8;
pub(crate) const MAX_PEER_CERT_BYTES: usize = 64 * 1024;

/// Our identity as an ID payload body. Phase 1 identities carry protocol 0 and port 0 (RFC
/// 2407 §4.6.2: "the port and protocol fields ... MAY be 0").
pub(crate) fn id_payload(id: &Identity) -> IdRepr {
    match id {
        Identity::Ipv4(a) => IdRepr::addr((*a).into()),
        Identity::Ipv6(a) => IdRepr::addr((*a).into()),
        Identity::Fqdn(n) => IdRepr::fqdn(n),
        Identity::UserFqdn(n) => IdRepr::user_fqdn(n),
        Identity::KeyId(k) => IdRepr::key_id(k.clone()),
        Identity::DerAsn1Dn(d) => IdRepr::der_asn1_dn(d.clone()),
    }
}

/// Whether the peer's ID is the one configured (type and data; protocol and port are not
/// compared, peers differ there).
pub(crate) fn id_matches(expected: &Option<Identity>, got: &IdRepr) -> bool {
    match expected {
        None => true,
        Some(id) => {
            let want = id_payload(id);
            want.id_type == got.id_type && want.data == got.data
        }
    }
}

/// The IKEv2 form of an IKEv1 identity, for `ikeway_pki::PeerVerifier` (the ID type numbers
/// the two share: IPv4 1, FQDN 2, USER_FQDN/RFC822 3, IPv6 5, DER_ASN1_DN 9, KEY_ID 11).
pub(crate) fn ikev2_id(id: &IdRepr) -> Option<ikeway_codec::IdRepr> {
    match id.id_type {
        IdType::IPV4_ADDR
        | IdType::FQDN
        | IdType::USER_FQDN
        | IdType::IPV6_ADDR
        | IdType::DER_ASN1_DN
        | IdType::KEY_ID => Some(ikeway_codec::IdRepr {
            id_type: ikeway_codec::IdType(id.id_type.0),
            data: id.data.as_slice().into(),
        }),
        _ => None,
    }
}

/// The payloads that prove us: HASH with a PSK (and as a hybrid client); CERT (chain, end
/// entity first) and SIG with certificates (and as a hybrid gateway).
pub(crate) fn prove(auth: &Authentication, hash: &SecretBytes) -> Result<Vec<Payload>, ()> {
    match auth {
        Authentication::Psk(_) | Authentication::HybridClient { .. } => {
            Ok(vec![Payload::Hash(ikeway_isakmp::HashRepr::new(hash.expose().to_vec()))])
        }
        Authentication::Certificates { own, .. } | Authentication::HybridGateway { own } => {
            let sig = own.sign_ikev1(hash.expose()).map_err(|_| ())?;
            let mut out: Vec<Payload> = own
                .chain()
                .iter()
                .map(|c| Payload::Cert(CertRepr::x509(c.der().to_vec())))
                .collect();
            out.push(Payload::Sig(ikeway_isakmp::SigRepr::new(sig)));
            Ok(out)
        }
    }
}

/// Why the peer's proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofFailure {
    /// No HASH (PSK) or no SIG (certificates) in the message.
    Missing,
    /// The HASH or signature does not verify: a wrong PSK, or a forged message.
    Mismatch,
    Certificate(CertFailure),
    TooManyCertificates,
}

/// Checks the peer's HASH or SIG against `expected` (the HASH_I/HASH_R we computed for it).
pub(crate) fn verify(
    auth: &Authentication,
    method: AuthMethod,
    payloads: &[Payload],
    peer_id: &IdRepr,
    expected: &SecretBytes,
) -> Result<(), ProofFailure> {
    match auth {
        Authentication::Psk(_) | Authentication::HybridGateway { .. } => {
            let got = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Hash(h) => Some(&h.data),
                    _ => None,
                })
                .ok_or(ProofFailure::Missing)?;
            if got.len() == expected.len() && bool::from(got.ct_eq(expected.expose())) {
                Ok(())
            } else {
                Err(ProofFailure::Mismatch)
            }
        }
        Authentication::Certificates { verifier, .. }
        | Authentication::HybridClient { verifier } => {
            let sig = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Sig(s) => Some(&s.data),
                    _ => None,
                })
                .ok_or(ProofFailure::Missing)?;
            let certs: Vec<&CertRepr> = payloads
                .iter()
                .filter_map(|p| match p {
                    Payload::Cert(c) if c.encoding == CertEncoding::X509_SIGNATURE => Some(c),
                    _ => None,
                })
                .collect();
            let bytes: usize = certs.iter().map(|c| c.data.len()).sum();
            if certs.len() > MAX_PEER_CERTS || bytes > MAX_PEER_CERT_BYTES {
                return Err(ProofFailure::TooManyCertificates);
            }
            let chain: Vec<Certificate> = certs
                .iter()
                .map(|c| Certificate::from_der(c.data.clone()))
                .collect::<Result<_, _>>()
                .map_err(|_| ProofFailure::Certificate(CertFailure::Malformed))?;
            if chain.is_empty() {
                return Err(ProofFailure::Certificate(CertFailure::NoCertificate));
            }
            let id = ikev2_id(peer_id)
                .ok_or(ProofFailure::Certificate(CertFailure::IdentityMismatch))?;
            let key = verifier.verify(&chain, &id).map_err(ProofFailure::Certificate)?;
            if !method_fits_key(method, key.kind()) {
                return Err(ProofFailure::Mismatch);
            }
            key.verify_ikev1(expected.expose(), sig).map_err(|_| ProofFailure::Mismatch)
        }
    }
}

/// Whether the negotiated method is the one for the peer's key: a signature is checked only
/// as what the SA says it is (an ECDSA key cannot answer for RSA signatures, nor P-256 for
/// P-384). RSA signatures are method 3, or XAUTHInitRSA / XAUTHRespRSA when XAUTH follows,
/// or the gateway's in HybridInitRSA / HybridRespRSA.
fn method_fits_key(method: AuthMethod, kind: KeyKind) -> bool {
    match kind {
        KeyKind::EcdsaP256 => method == AuthMethod::ECDSA_SHA256_P256,
        KeyKind::EcdsaP384 => method == AuthMethod::ECDSA_SHA384_P384,
        KeyKind::EcdsaP521 => method == AuthMethod::ECDSA_SHA512_P521,
        KeyKind::Rsa => matches!(
            method,
            AuthMethod::RSA_SIGNATURES
                | AuthMethod::XAUTH_INIT_RSA
                | AuthMethod::XAUTH_RESP_RSA
                | AuthMethod::HYBRID_INIT_RSA
                | AuthMethod::HYBRID_RESP_RSA
        ),
        KeyKind::RsaPss | KeyKind::Ed25519 => false,
    }
}
