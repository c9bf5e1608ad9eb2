//! Certificates made inside a test (rcgen): a CA, end entities it signs, and PKCS#12 files of
//! them (p12-keystore), so no test depends on a file that expires.

use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, SerialNumber, date_time_ymd,
};

pub use rcgen::{
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
    SignatureAlgorithm,
};

/// A CA: its certificate, and what signs the certificates it issues.
#[derive(Debug)]
pub struct TestCa {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

/// An end entity: its certificate and private key.
#[derive(Debug, Clone)]
pub struct TestCert {
    /// PEM.
    pub cert_pem: String,
    /// DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// 2020 to 2100.
    Now,
    /// 2000 to 2001.
    Expired,
    /// 2099 to 2100.
    NotYet,
}

impl TestCa {
    /// A self-signed ECDSA P-256 CA named `cn`.
    ///
    /// # Panics
    /// If rcgen fails, which it does not for these parameters.
    pub fn new(cn: &str) -> Self {
        let key = KeyPair::generate().expect("a P-256 key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.self_signed(&key).expect("self-signed");
        Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An end entity named `cn` with `dns` as its DNS SAN, its key of `alg`.
    ///
    /// # Panics
    /// If rcgen fails, which it does not for these parameters.
    pub fn issue(&self, cn: &str, dns: &str, alg: &'static SignatureAlgorithm) -> TestCert {
        self.issue_valid(cn, dns, alg, Validity::Now)
    }

    /// As [`Self::issue`], valid as `validity` says.
    ///
    /// # Panics
    /// If rcgen fails, which it does not for these parameters.
    pub fn issue_valid(
        &self,
        cn: &str,
        dns: &str,
        alg: &'static SignatureAlgorithm,
        validity: Validity,
    ) -> TestCert {
        // rcgen makes RSA keys only when told their size.
        let key = if alg == &PKCS_RSA_SHA256 {
            KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).expect("an RSA key")
        } else {
            KeyPair::generate_for(alg).expect("a key")
        };
        let mut params = CertificateParams::new(vec![dns.to_owned()]).expect("a DNS name");
        params.distinguished_name.push(DnType::CommonName, cn);
        let (from, to) = match validity {
            Validity::Now => ((2020, 1, 1), (2100, 1, 1)),
            Validity::Expired => ((2000, 1, 1), (2001, 1, 1)),
            Validity::NotYet => ((2099, 1, 1), (2100, 1, 1)),
        };
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        TestCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}

impl TestCa {
    /// A CRL of this CA listing no certificate, valid from 2020 to 2100, PEM.
    ///
    /// # Panics
    /// If rcgen fails, which it does not for these parameters.
    pub fn empty_crl_pem(&self) -> String {
        CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2100, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .expect("signed")
        .pem()
        .expect("PEM")
    }
}

impl TestCert {
    /// A PKCS#12 file of this key and certificate (then `ca`'s), under `password`.
    ///
    /// # Panics
    /// If p12-keystore fails, which it does not for keys rcgen made.
    pub fn pkcs12(&self, ca: &TestCa, password: &str) -> Vec<u8> {
        let key = p12_keystore::PrivateKey::from_der(&self.key_der).expect("PKCS#8");
        let certs = [&self.cert_der, &ca.cert_der]
            .map(|der| p12_keystore::Certificate::from_der(der).expect("a certificate"));
        let mut store = KeyStore::new();
        store.add_entry(
            "identity",
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(b"1".to_vec(), key, certs)),
        );
        store.writer(password).write().expect("PKCS#12")
    }
}
