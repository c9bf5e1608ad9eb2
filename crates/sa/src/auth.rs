//! How we prove who we are in IKE_AUTH and how we check that the peer is who it must be:
//! PSK MACs and certificate signatures over the same signed octets (RFC 7296 §2.15, §3.6 -
//! §3.8; RFC 7427). The certificate work itself (parsing, path validation, signatures) is
//! `ikeway-pki`'s; this module decides which AUTH methods a configuration allows, bounds what
//! the peer may make us parse, and turns every refusal into a notify and a close reason.

use std::sync::Arc;

use ikeway_codec::{
    AuthMethod, AuthRepr, CertEncoding, CertRepr, HashAlgorithm, IdRepr, NotifyRepr, NotifyType,
    Payload, PayloadRepr,
};
use ikeway_crypto::SecretBytes;
use ikeway_pki::{
    CertFailure, Certificate, Identity, PeerVerifier, SUPPORTED_SIGNATURE_HASHES, SignatureHash,
};
use subtle::ConstantTimeEq;

use crate::event::CloseReason;
use crate::keys::{IkeCrypto, SignedOctets};
use crate::psk::PresharedKey;

/// CERT payloads we take from one peer: an end entity and a few intermediates. RFC 7296 sets
/// no limit; real chains have two or three certificates.
pub(crate) const MAX_PEER_CERTS: usize = 8;
/// Certificate bytes we take from one peer in all: an RSA-4096 end entity with an RSA-4096
/// intermediate is about 3 KiB, so this leaves room for long chains while bounding what an
/// unauthenticated peer makes us parse.
pub(crate) const MAX_PEER_CERT_BYTES: usize = 64 * 1024;

/// How we prove who we are (our AUTH payload).
#[derive(Debug, Clone)]
pub enum LocalAuth {
    /// A pre-shared key MAC (method 2, RFC 7296 §2.15). Wiped on drop.
    Psk(PresharedKey),
    /// A signature by our certificate's key, the chain sent in CERT payloads (encoding 4, end
    /// entity first): RFC 7427 Digital Signature when the peer announced its hashes, else the
    /// key's classic method.
    Certificate(Arc<Identity>),
    /// EAP (RFC 7296 §2.16): the first IKE_AUTH carries no AUTH of ours; EAP rounds follow,
    /// then an AUTH keyed by the method's MSK (or by SK_pi when it makes none). Initiator only.
    Eap(Arc<ikeway_eap::PeerConfig>),
}

/// How the peer must prove who it is. A peer whose AUTH method this does not allow is refused
/// whatever it sends: a PSK peer never passes as a certificate peer, nor the reverse.
#[derive(Debug, Clone)]
pub enum PeerAuth {
    /// Only a PSK MAC (method 2) with this key.
    Psk(PresharedKey),
    /// Only a signature (methods 1, 9, 10, 11, 14) by the key of a certificate chain that
    /// `PeerVerifier` accepts for the peer's identity. Its CA key hashes go in our CERTREQ.
    Certificate(Arc<dyn PeerVerifier>),
    /// Responder only: EAP (RFC 7296 §2.16). The initiator's first IKE_AUTH carries no AUTH;
    /// we answer with our own proof and an EAP-Request, run the method, and then require an
    /// AUTH keyed by its MSK (or by SK_pi when it makes none). An AUTH in the first IKE_AUTH
    /// is refused.
    Eap(Arc<ikeway_eap::AuthenticatorConfig>),
}

impl LocalAuth {
    /// The pre-shared key, when we authenticate with one.
    pub fn psk(&self) -> Option<&PresharedKey> {
        match self {
            Self::Psk(k) => Some(k),
            Self::Certificate(_) | Self::Eap(_) => None,
        }
    }
}

impl PeerAuth {
    /// The pre-shared key, when the peer must authenticate with one.
    pub fn psk(&self) -> Option<&PresharedKey> {
        match self {
            Self::Psk(k) => Some(k),
            Self::Certificate(_) | Self::Eap(_) => None,
        }
    }
}

/// Why the peer's IKE_AUTH did not authenticate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRefused {
    /// ID or AUTH missing, or our own keys cannot compute what to compare.
    Syntax,
    /// An AUTH method the configuration does not allow, a wrong identity, or a PSK MAC that
    /// does not match.
    Failed,
    /// Its certificates, or the signature made with their key.
    Certificate(CertFailure),
    /// More CERT payloads or certificate bytes than we take: closed as a malformed
    /// certificate, and counted.
    OverLimits,
}

impl PeerRefused {
    /// What a responder answers (RFC 7296 §2.21.2).
    pub(crate) fn notify(self) -> NotifyType {
        match self {
            Self::Syntax => NotifyType::INVALID_SYNTAX,
            Self::Failed | Self::Certificate(_) | Self::OverLimits => {
                NotifyType::AUTHENTICATION_FAILED
            }
        }
    }

    pub(crate) fn close_reason(self) -> CloseReason {
        match self {
            Self::Syntax | Self::Failed => CloseReason::AuthenticationFailed,
            Self::Certificate(f) => CloseReason::PeerCertificate(f),
            Self::OverLimits => CloseReason::PeerCertificate(CertFailure::Malformed),
        }
    }
}

/// N(SIGNATURE_HASH_ALGORITHMS) with every hash we verify (RFC 7427 §4), sent by both sides
/// in IKE_SA_INIT whatever they authenticate with: it only says what we can check.
pub(crate) fn signature_hashes_notify() -> Payload {
    let hashes = SUPPORTED_SIGNATURE_HASHES.map(|h| HashAlgorithm(h.to_u16()));
    Payload::new(PayloadRepr::Notify(NotifyRepr::signature_hash_algorithms(&hashes)))
}

/// The hashes a peer announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) that a signature of
/// ours could use, as a set: choosing a scheme asks only whether a hash was announced, and a
/// value we cannot sign with never matters, so an SA keeps a byte however long the list was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AnnouncedHashes(u8);

impl AnnouncedHashes {
    /// The hashes a set can hold, one bit each.
    const KNOWN: [SignatureHash; 5] = [
        SignatureHash::Sha1,
        SignatureHash::Sha256,
        SignatureHash::Sha384,
        SignatureHash::Sha512,
        SignatureHash::Identity,
    ];

    fn insert(&mut self, hash: SignatureHash) {
        if let Some(bit) = Self::KNOWN.iter().position(|k| *k == hash) {
            self.0 |= 1 << bit;
        }
    }

    /// The set as the list [`ikeway_pki::Identity::sign_auth`] takes: the slice `..n` of the
    /// array returned with `n`.
    pub(crate) fn to_list(self) -> ([SignatureHash; 5], usize) {
        let mut list = Self::KNOWN;
        let mut n = 0;
        for (bit, hash) in Self::KNOWN.into_iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                list[n] = hash;
                n += 1;
            }
        }
        (list, n)
    }
}

/// The hashes the peer announced in IKE_SA_INIT, `None` when it announced none: then we sign
/// with our key's classic method. A malformed list (odd length) counts as none.
pub(crate) fn peer_signature_hashes(payloads: &[Payload]) -> Option<AnnouncedHashes> {
    let notify = payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Notify(n) if n.kind == NotifyType::SIGNATURE_HASH_ALGORITHMS => Some(n),
        _ => None,
    })?;
    let mut set = AnnouncedHashes::default();
    for hash in notify.hash_algorithms().ok()? {
        set.insert(SignatureHash::from_u16(hash.0));
    }
    Some(set)
}

/// Our CERTREQ (encoding 4, the SHA-1 hashes of the anchors' keys, RFC 7296 §3.7) when we
/// verify the peer's certificate.
pub(crate) fn cert_request(peer: &PeerAuth) -> Option<Payload> {
    match peer {
        PeerAuth::Psk(_) | PeerAuth::Eap(_) => None,
        PeerAuth::Certificate(verifier) => Some(Payload::new(PayloadRepr::CertReq(
            CertRepr::x509_request(&verifier.ca_key_hashes()),
        ))),
    }
}

/// What proves us in IKE_AUTH: CERT payloads (end entity first, then the rest of the chain;
/// none with a PSK) and the AUTH payload.
#[derive(Debug)]
pub(crate) struct OwnAuth {
    pub(crate) certs: Vec<Payload>,
    pub(crate) auth: Payload,
}

/// Our CERT and AUTH payloads over `octets`, from [`IkeCrypto::signed_octets`]. `None` when
/// our key cannot sign anything the peer can check (an RSA key and a peer that announced no
/// RFC 7427 hashes: method 1 needs SHA-1, which we do not sign with), signing failed, or we
/// authenticate with EAP, which has no AUTH of its own before the method ran.
pub(crate) fn own_auth(
    local: &LocalAuth,
    crypto: &IkeCrypto,
    octets: &SignedOctets<'_>,
    peer_hashes: Option<&[SignatureHash]>,
) -> Option<OwnAuth> {
    let (certs, method, data) = match local {
        LocalAuth::Psk(psk) => {
            let mac = crypto.psk_auth(psk, octets);
            (Vec::new(), AuthMethod::SHARED_KEY_MIC, mac.expose().to_vec())
        }
        LocalAuth::Certificate(identity) => {
            let (method, data) = identity.sign_auth(&octets.to_vec(), peer_hashes).ok()?;
            let certs = identity
                .chain()
                .iter()
                .map(|c| Payload::new(PayloadRepr::Cert(CertRepr::x509(c.der().to_vec()))))
                .collect();
            (certs, method, data)
        }
        LocalAuth::Eap(_) => return None,
    };
    Some(OwnAuth {
        certs,
        auth: Payload::new(PayloadRepr::Auth(AuthRepr { method, data: data.into() })),
    })
}

/// The AUTH payload that ends an EAP round (RFC 7296 §2.16): a shared key MIC keyed by the
/// method's MSK, or by the signer's SK_p when the method made none, over `octets` from
/// [`IkeCrypto::signed_octets`] for `signer`.
pub(crate) fn eap_auth(
    crypto: &IkeCrypto,
    msk: Option<&SecretBytes>,
    signer: crate::Side,
    octets: &SignedOctets<'_>,
) -> Payload {
    let key = msk.unwrap_or_else(|| crypto.sk_p(signer));
    let mac = crypto.shared_key_mic(key, octets);
    let data = mac.expose().into();
    Payload::new(PayloadRepr::Auth(AuthRepr { method: AuthMethod::SHARED_KEY_MIC, data }))
}

/// Whether the peer's `auth` is the AUTH that ends its EAP round, compared in constant time.
pub(crate) fn check_eap_auth(
    crypto: &IkeCrypto,
    msk: Option<&SecretBytes>,
    signer: crate::Side,
    octets: &SignedOctets<'_>,
    auth: &AuthRepr,
) -> bool {
    let key = msk.unwrap_or_else(|| crypto.sk_p(signer));
    let expected = crypto.shared_key_mic(key, octets);
    auth.method == AuthMethod::SHARED_KEY_MIC && bool::from(expected.expose().ct_eq(&auth.data))
}

/// Whether the peer's AUTH payload (with the CERT payloads of the same message) proves the
/// identity `id` under `peer`. `octets` are what the AUTH covers, from
/// [`IkeCrypto::signed_octets`] for the peer's side.
pub(crate) fn check_peer(
    peer: &PeerAuth,
    crypto: &IkeCrypto,
    payloads: &[Payload],
    auth: &AuthRepr,
    id: &IdRepr,
    octets: &SignedOctets<'_>,
) -> Result<(), PeerRefused> {
    match (peer, auth.method) {
        (PeerAuth::Psk(psk), AuthMethod::SHARED_KEY_MIC) => {
            let expected = crypto.psk_auth(psk, octets);
            if bool::from(expected.expose().ct_eq(&auth.data)) {
                Ok(())
            } else {
                Err(PeerRefused::Failed)
            }
        }
        // A peer that must run EAP may not skip it with an AUTH of its own.
        (PeerAuth::Certificate(verifier), m) if is_signature(m) => {
            let chain = peer_chain(payloads)?;
            let key = verifier.verify(&chain, id).map_err(PeerRefused::Certificate)?;
            key.verify_auth(auth.method, &auth.data, &octets.to_vec())
                .map_err(|_| PeerRefused::Certificate(CertFailure::BadSignature))
        }
        _ => Err(PeerRefused::Failed),
    }
}

/// The signature methods a certificate peer may use: RSA (1), ECDSA (9-11, RFC 4754) and
/// Digital Signature (14, RFC 7427). DSS (3) is not supported.
fn is_signature(method: AuthMethod) -> bool {
    matches!(
        method,
        AuthMethod::RSA_SIG
            | AuthMethod::ECDSA_SHA256_P256
            | AuthMethod::ECDSA_SHA384_P384
            | AuthMethod::ECDSA_SHA512_P521
            | AuthMethod::DIGITAL_SIGNATURE
    )
}

/// The peer's chain from its CERT payloads, in the order sent (end entity first). Bounded
/// before anything is parsed: more than [`MAX_PEER_CERTS`] payloads or
/// [`MAX_PEER_CERT_BYTES`] in all is refused.
fn peer_chain(payloads: &[Payload]) -> Result<Vec<Certificate>, PeerRefused> {
    let mut certs = Vec::new();
    let mut bytes = 0usize;
    for p in payloads {
        let PayloadRepr::Cert(c) = &p.body else { continue };
        bytes = bytes.saturating_add(c.data.len());
        if certs.len() == MAX_PEER_CERTS || bytes > MAX_PEER_CERT_BYTES {
            return Err(PeerRefused::OverLimits);
        }
        certs.push(c);
    }
    let refuse = PeerRefused::Certificate;
    if certs.is_empty() {
        return Err(refuse(CertFailure::NoCertificate));
    }
    if certs.iter().any(|c| c.encoding != CertEncoding::X509_CERT_SIG) {
        return Err(refuse(CertFailure::UnsupportedEncoding));
    }
    certs
        .into_iter()
        .map(|c| Certificate::from_der(c.data.clone()).map_err(|_| refuse(CertFailure::Malformed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7296 §2.16: without an MSK (EAP-MD5) each side keys its final AUTH with its own
    /// SK_p and the key pad; with one, with the MSK. Computed here from the keys directly.
    #[test]
    fn eap_auth_is_keyed_by_the_msk_or_else_by_the_signers_sk_p() {
        use ikeway_crypto::{AeadAlgorithm, Encryption, Prf, Suite};
        let suite = crate::proposal::IkeSuite {
            suite: Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap(),
            prf: Prf::HmacSha256,
            group: ikeway_codec::DhGroup::CURVE25519,
            additional_kes: [ikeway_codec::DhGroup::NONE; crate::config::MAX_ADDITIONAL_KES],
        };
        let seed = SecretBytes::from_slice(&[9; 32]);
        let crypto =
            IkeCrypto::derive(crate::Side::Initiator, suite, &seed, &[1; 32], &[2; 32], 3, 4)
                .unwrap();
        let id = IdRepr::from_value(ikeway_codec::IdValue::Fqdn("client.example"));
        let octets = crypto.signed_octets(crate::Side::Initiator, b"real message", b"nonce", &id);
        let octets = octets.unwrap();
        // The MACs read the parts; here they are MACed in one piece.
        let mac = |key: &SecretBytes| -> ikeway_codec::AuthData {
            let padded = Prf::HmacSha256.compute(key.expose(), &[b"Key Pad for IKEv2"]);
            Prf::HmacSha256.compute(padded.expose(), &[&octets.to_vec()]).expose().into()
        };
        let data = |p: Payload| match p.body {
            PayloadRepr::Auth(a) => {
                assert_eq!(a.method, AuthMethod::SHARED_KEY_MIC);
                a.data
            }
            _ => panic!("an AUTH payload"),
        };
        let by_i = data(eap_auth(&crypto, None, crate::Side::Initiator, &octets));
        let by_r = data(eap_auth(&crypto, None, crate::Side::Responder, &octets));
        assert_eq!(by_i, mac(&crypto.keys.sk_pi));
        assert_eq!(by_r, mac(&crypto.keys.sk_pr));
        assert_ne!(by_i, by_r);
        let msk = SecretBytes::from_slice(&[5; 64]);
        let with_msk = data(eap_auth(&crypto, Some(&msk), crate::Side::Initiator, &octets));
        assert_eq!(with_msk, mac(&msk));
        let auth = AuthRepr { method: AuthMethod::SHARED_KEY_MIC, data: with_msk };
        assert!(check_eap_auth(&crypto, Some(&msk), crate::Side::Initiator, &octets, &auth));
        assert!(!check_eap_auth(&crypto, None, crate::Side::Initiator, &octets, &auth));
        let wrong_method = AuthRepr { method: AuthMethod::RSA_SIG, ..auth };
        assert!(!check_eap_auth(
            &crypto,
            Some(&msk),
            crate::Side::Initiator,
            &octets,
            &wrong_method
        ));
    }

    fn cert(encoding: CertEncoding, len: usize) -> Payload {
        Payload::new(PayloadRepr::Cert(CertRepr { encoding, data: vec![0x30; len] }))
    }

    fn x509(len: usize) -> Payload {
        cert(CertEncoding::X509_CERT_SIG, len)
    }

    #[test]
    fn peer_chain_refuses_a_ninth_cert_payload_before_parsing_any() {
        let payloads: Vec<Payload> = (0..9).map(|_| x509(10)).collect();
        assert_eq!(peer_chain(&payloads).err(), Some(PeerRefused::OverLimits));
        // Eight are parsed, and these ten-byte ones are no certificates.
        assert_eq!(
            peer_chain(&payloads[..8]).err(),
            Some(PeerRefused::Certificate(CertFailure::Malformed))
        );
    }

    #[test]
    fn peer_chain_refuses_more_than_64_kib_of_certificates() {
        let at_limit: Vec<Payload> = (0..8).map(|_| x509(MAX_PEER_CERT_BYTES / 8)).collect();
        assert_eq!(
            peer_chain(&at_limit).err(),
            Some(PeerRefused::Certificate(CertFailure::Malformed))
        );
        let mut over = at_limit;
        over[7] = x509(MAX_PEER_CERT_BYTES / 8 + 1);
        assert_eq!(peer_chain(&over).err(), Some(PeerRefused::OverLimits));
    }

    #[test]
    fn peer_chain_refuses_hash_and_url_and_absent_certificates() {
        let hash_url = [x509(10), cert(CertEncoding::HASH_URL_X509_CERT, 40)];
        assert_eq!(
            peer_chain(&hash_url).err(),
            Some(PeerRefused::Certificate(CertFailure::UnsupportedEncoding))
        );
        let bundle = [cert(CertEncoding::HASH_URL_X509_BUNDLE, 40)];
        assert_eq!(
            peer_chain(&bundle).err(),
            Some(PeerRefused::Certificate(CertFailure::UnsupportedEncoding))
        );
        assert_eq!(
            peer_chain(&[]).err(),
            Some(PeerRefused::Certificate(CertFailure::NoCertificate))
        );
    }

    #[test]
    fn refusals_map_to_the_notify_and_close_reason() {
        assert_eq!(PeerRefused::Syntax.notify(), NotifyType::INVALID_SYNTAX);
        assert_eq!(PeerRefused::Failed.notify(), NotifyType::AUTHENTICATION_FAILED);
        assert_eq!(PeerRefused::OverLimits.notify(), NotifyType::AUTHENTICATION_FAILED);
        assert_eq!(
            PeerRefused::OverLimits.close_reason(),
            CloseReason::PeerCertificate(CertFailure::Malformed)
        );
        assert_eq!(
            PeerRefused::Certificate(CertFailure::Expired).close_reason(),
            CloseReason::PeerCertificate(CertFailure::Expired)
        );
        assert_eq!(PeerRefused::Failed.close_reason(), CloseReason::AuthenticationFailed);
    }

    #[test]
    fn signature_hashes_notify_lists_what_pki_verifies() {
        let n = signature_hashes_notify();
        let PayloadRepr::Notify(n) = &n.body else { panic!("a notify") };
        assert_eq!(n.data[..], [0, 2, 0, 3, 0, 4, 0, 5]);
        let payloads = [Payload::new(PayloadRepr::Notify(n.clone()))];
        let (list, len) = peer_signature_hashes(&payloads).expect("announced").to_list();
        assert_eq!(
            list[..len],
            [
                SignatureHash::Sha256,
                SignatureHash::Sha384,
                SignatureHash::Sha512,
                SignatureHash::Identity
            ]
        );
        let odd = NotifyRepr::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0, 2, 0]);
        assert_eq!(peer_signature_hashes(&[Payload::new(PayloadRepr::Notify(odd))]), None);
        assert_eq!(peer_signature_hashes(&[]), None);
    }

    /// The set keeps what a scheme can be chosen from, whatever the peer's order, repeats and
    /// unknown values; a list of nothing we know is an announcement all the same (`Some`,
    /// empty), which is not the classic method's `None`.
    #[test]
    fn announced_hashes_keep_known_values_once_in_registry_order() {
        let notify = |data: Vec<u8>| {
            let n = NotifyRepr::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, data);
            [Payload::new(PayloadRepr::Notify(n))]
        };
        let set = peer_signature_hashes(&notify(vec![0, 5, 0x12, 0x34, 0, 1, 0, 5, 0, 4]))
            .expect("announced");
        let (list, len) = set.to_list();
        assert_eq!(
            list[..len],
            [SignatureHash::Sha1, SignatureHash::Sha512, SignatureHash::Identity]
        );
        let unknown = peer_signature_hashes(&notify(vec![0x12, 0x34, 0, 0])).expect("announced");
        assert_eq!(unknown.to_list().1, 0);
        assert_eq!(peer_signature_hashes(&notify(Vec::new())).map(|s| s.to_list().1), Some(0));
    }
}
