//! Our identity: a private key and the certificate chain that goes with it.

use rustls_pki_types::UnixTime;
use zeroize::Zeroizing;

use crate::auth::{self, SignatureHash};
use crate::cert::{Certificate, certificates_from_pem_or_der};
use crate::error::{CertFailure, PkiError};
use crate::key::{KeyKind, PrivateKey};

/// Our identity: key + certificate chain, end entity first.
#[derive(Debug)]
pub struct Identity {
    key: PrivateKey,
    chain: Vec<Certificate>,
    kind: KeyKind,
}

impl Identity {
    /// `chain[0]` must be the certificate of `key`; the rest are sent as intermediates.
    pub fn new(key: PrivateKey, chain: Vec<Certificate>) -> Result<Self, PkiError> {
        let end_entity = chain.first().ok_or(PkiError::NoCertificate)?;
        let cert_key = end_entity.public_key()?;
        if !cert_key.same_key(&key.public_key()) {
            return Err(PkiError::KeyMismatch);
        }
        // The certificate decides between PKCS#1 v1.5 and PSS for an RSA key.
        let kind = cert_key.kind();
        Ok(Self { key, chain, kind })
    }

    /// A PKCS#12 file (`identityData` and its password) holding one private key: the key,
    /// its certificate first, then the file's other certificates in their order. The key's
    /// certificate is found by its public key, not by the localKeyId attribute, which some
    /// exporters leave out.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, PkiError> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(der, password)
            .map_err(|e| PkiError::Pkcs12(e.to_string()))?;
        let key = match archive.keys.as_slice() {
            [bag] => {
                // p12-keystore keeps its own copy unwiped; ours at least is wiped.
                let key_der = Zeroizing::new(bag.key.as_der().to_vec());
                PrivateKey::from_der(&key_der)?
            }
            [] => return Err(PkiError::Pkcs12("no private key in the file".to_owned())),
            _ => return Err(PkiError::Pkcs12("more than one private key in the file".to_owned())),
        };
        let certs = archive
            .certs
            .iter()
            .map(|bag| Certificate::from_der(bag.cert.as_der().to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::with_key_first(key, certs)
    }

    /// A PEM private key and PEM (or DER) certificates, the key's certificate among them.
    pub fn from_pem_files_content(key_pem: &[u8], chain_pem: &[u8]) -> Result<Self, PkiError> {
        let key = PrivateKey::from_pem(key_pem)?;
        Self::with_key_first(key, certificates_from_pem_or_der(chain_pem)?)
    }

    /// Moves the key's certificate to the front, keeping the others in their order.
    fn with_key_first(key: PrivateKey, mut certs: Vec<Certificate>) -> Result<Self, PkiError> {
        if certs.is_empty() {
            return Err(PkiError::NoCertificate);
        }
        let public = key.public_key();
        if let Some(pos) =
            certs.iter().position(|c| c.public_key().is_ok_and(|k| k.same_key(&public)))
        {
            let end_entity = certs.remove(pos);
            certs.insert(0, end_entity);
        }
        Self::new(key, certs)
    }

    /// The private key (for a TLS library: [`PrivateKey::to_pkcs8_der`]).
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// End entity first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The key kind (from the certificate: an RSA key in an RSASSA-PSS certificate is `RsaPss`).
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The AUTH payload for `octets` (RFC 7296 §2.15 signed octets): RFC 7427 Digital
    /// Signature (method 14) with the strongest hash in `peer_hashes` the key supports when the
    /// peer sent SIGNATURE_HASH_ALGORITHMS (`Some`), else the key's classic method (9-11 for
    /// ECDSA). An ECDSA key falls back to its classic method when no announced hash fits;
    /// RSA without RFC 7427 (method 1, SHA-1) is refused because aws-lc-rs cannot sign it.
    pub fn sign_auth(
        &self,
        octets: &[u8],
        peer_hashes: Option<&[SignatureHash]>,
    ) -> Result<(ikeway_codec::AuthMethod, Vec<u8>), PkiError> {
        auth::sign_auth(&self.key, self.kind, octets, peer_hashes)
    }

    /// An IKEv1 SIG_I / SIG_R (RFC 2409 §5.1, RFC 4754): `hash` (HASH_I or HASH_R) signed as
    /// the digest: ECDSA as r | s, each curve with its hash's length; RSA (rsaEncryption keys)
    /// as PKCS#1 v1.5 over the bare hash, no DigestInfo, for a 20, 32, 48 or 64 byte hash.
    pub fn sign_ikev1(&self, hash: &[u8]) -> Result<Vec<u8>, PkiError> {
        crate::ikev1::sign(&self.key, self.kind, hash)
    }

    /// Our certificate's validity against `now` (the runtime maps it to Apple's 9-11).
    pub fn check_validity(&self, now: UnixTime) -> Result<(), CertFailure> {
        // `new` refuses an empty chain.
        let cert = &self.chain[0];
        if now < cert.not_before() {
            Err(CertFailure::NotYetValid)
        } else if now > cert.not_after() {
            Err(CertFailure::Expired)
        } else {
            Ok(())
        }
    }
}
