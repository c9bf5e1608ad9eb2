//! `Validator::verify`, one test per rule, on chains made here with rcgen. Each refusal has a
//! passing twin that differs only in the rule under test, so a test cannot pass because the
//! chain was broken some other way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ikeway_codec::{IdRepr, IdType, IdValue};
use ikeway_pki::{
    CertFailure, Certificate, Crl, FixedTime, KeyKind, PeerVerifier, Purpose, Revocation, UnixTime,
    Validator,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;

/// 2026-01-01T00:00:00Z: the leaves' notBefore.
const T0: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
/// The leaves' notAfter.
const LEAF_END: i64 = T0 + 365 * DAY;
/// The time most tests validate at.
const NOW: i64 = T0 + 100 * DAY;

fn at(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(core::time::Duration::from_secs(u64::try_from(secs).unwrap()))
}

fn date(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn fqdn(name: &str) -> IdRepr {
    IdRepr::from_value(IdValue::Fqdn(name))
}

fn ours(cert: &rcgen::Certificate) -> Certificate {
    Certificate::from_der(cert.der().to_vec()).unwrap()
}

/// A CA: its parameters and key (to sign with) and its certificate.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    cert: rcgen::Certificate,
}

fn ca_params(cn: &str, constraints: IsCa) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = constraints;
    params.not_before = date(T0 - 3650 * DAY);
    params.not_after = date(T0 + 3650 * DAY);
    params
}

impl Ca {
    fn root(cn: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, IsCa::Ca(BasicConstraints::Unconstrained));
        let cert = params.self_signed(&key).unwrap();
        Self { params, key, cert }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A certificate with `constraints` issued by this CA, able to issue in turn.
    fn sub(&self, cn: &str, constraints: IsCa) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, constraints);
        let cert = params.signed_by(&key, &self.issuer()).unwrap();
        Self { params, key, cert }
    }

    fn anchor(&self) -> Certificate {
        ours(&self.cert)
    }

    /// An end entity for vpn.example.com, serial 0x1001, valid T0..LEAF_END, after `edit`.
    fn leaf(&self, edit: impl FnOnce(&mut CertificateParams)) -> Certificate {
        self.leaf_with_key(&rcgen::PKCS_ECDSA_P256_SHA256, edit)
    }

    fn leaf_with_key(
        &self,
        alg: &'static SignatureAlgorithm,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Certificate {
        let key = if alg == &rcgen::PKCS_RSA_SHA256 {
            KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
        } else {
            KeyPair::generate_for(alg).unwrap()
        };
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "vpn.example.com");
        dn.push(DnType::OrganizationName, "Example VPN");
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::DnsName("vpn.example.com".try_into().unwrap())];
        params.serial_number = Some(SerialNumber::from(0x1001u64));
        params.not_before = date(T0);
        params.not_after = date(LEAF_END);
        edit(&mut params);
        ours(&params.signed_by(&key, &self.issuer()).unwrap())
    }

    /// A CRL by this CA listing `serials`, valid from T0 to `next_update`.
    fn crl(&self, serials: &[u64], next_update: i64) -> Crl {
        let params = CertificateRevocationListParams {
            this_update: date(T0),
            next_update: date(next_update),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|&s| RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: date(T0 + DAY),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Crl::from_pem_or_der(params.signed_by(&self.issuer()).unwrap().der()).unwrap()
    }
}

fn server_validator(ca: &Ca) -> Validator {
    Validator::new(vec![ca.anchor()], Purpose::Server)
}

fn verify(
    v: &Validator,
    chain: &[Certificate],
    id: &IdRepr,
    now: i64,
) -> Result<KeyKind, CertFailure> {
    v.verify(chain, id, at(now), &[]).map(|k| k.kind())
}

#[test]
fn accepts_a_good_chain_and_returns_the_end_entity_key() {
    let root = Ca::root("Test Root");
    let v = server_validator(&root);
    let id = fqdn("vpn.example.com");
    for (alg, kind) in [
        (&rcgen::PKCS_ECDSA_P256_SHA256, KeyKind::EcdsaP256),
        (&rcgen::PKCS_ECDSA_P384_SHA384, KeyKind::EcdsaP384),
        (&rcgen::PKCS_ECDSA_P521_SHA512, KeyKind::EcdsaP521),
        (&rcgen::PKCS_ED25519, KeyKind::Ed25519),
        (&rcgen::PKCS_RSA_SHA256, KeyKind::Rsa),
    ] {
        let leaf = root.leaf_with_key(alg, |_| {});
        assert_eq!(verify(&v, &[leaf], &id, NOW), Ok(kind));
    }
}

#[test]
fn time_edges_of_the_end_entity() {
    let root = Ca::root("Test Root");
    let v = server_validator(&root);
    let chain = [root.leaf(|_| {})];
    let id = fqdn("vpn.example.com");
    // RFC 5280 §4.1.2.5: both ends of the validity period are inside it.
    assert_eq!(verify(&v, &chain, &id, T0), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&v, &chain, &id, T0 - 1), Err(CertFailure::NotYetValid));
    assert_eq!(verify(&v, &chain, &id, LEAF_END), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&v, &chain, &id, LEAF_END + 1), Err(CertFailure::Expired));
}

#[test]
fn expired_intermediate_is_refused() {
    let root = Ca::root("Test Root");
    let key = KeyPair::generate().unwrap();
    let mut params = ca_params("Short Intermediate", IsCa::Ca(BasicConstraints::Unconstrained));
    params.not_after = date(NOW - 1);
    let cert = params.signed_by(&key, &root.issuer()).unwrap();
    let short = Ca { params, key, cert };
    let leaf = short.leaf(|_| {});
    let chain = [leaf, short.anchor()];
    let v = server_validator(&root);
    assert_eq!(verify(&v, &chain, &fqdn("vpn.example.com"), NOW - 1), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&v, &chain, &fqdn("vpn.example.com"), NOW), Err(CertFailure::Expired));
}

#[test]
fn chain_through_intermediates_and_truncated_chain() {
    let root = Ca::root("Test Root");
    let int = root.sub("Test Intermediate", IsCa::Ca(BasicConstraints::Unconstrained));
    let leaf = int.leaf(|_| {});
    let v = server_validator(&root);
    let id = fqdn("vpn.example.com");
    assert_eq!(verify(&v, &[leaf.clone(), int.anchor()], &id, NOW), Ok(KeyKind::EcdsaP256));
    // Without the intermediate there is no path to the root.
    assert_eq!(
        verify(&v, std::slice::from_ref(&leaf), &id, NOW),
        Err(CertFailure::UntrustedIssuer)
    );
}

#[test]
fn wrong_anchor_is_untrusted() {
    let root = Ca::root("Test Root");
    let other = Ca::root("Test Root");
    let leaf = root.leaf(|_| {});
    let id = fqdn("vpn.example.com");
    assert_eq!(
        verify(&server_validator(&root), std::slice::from_ref(&leaf), &id, NOW),
        Ok(KeyKind::EcdsaP256)
    );
    // Same name, another key: the signature does not chain.
    assert_eq!(
        verify(&server_validator(&other), &[leaf], &id, NOW),
        Err(CertFailure::UntrustedIssuer)
    );
    let no_anchors = Validator::new(Vec::new(), Purpose::Server);
    assert_eq!(
        verify(&no_anchors, &[root.leaf(|_| {})], &id, NOW),
        Err(CertFailure::UntrustedIssuer)
    );
}

#[test]
fn path_length_constraint() {
    let root = Ca::root("Test Root");
    let id = fqdn("vpn.example.com");
    let v = server_validator(&root);
    for (path_len, expected) in
        [(1, Ok(KeyKind::EcdsaP256)), (0, Err(CertFailure::UntrustedIssuer))]
    {
        let upper = root.sub("Upper", IsCa::Ca(BasicConstraints::Constrained(path_len)));
        let lower = upper.sub("Lower", IsCa::Ca(BasicConstraints::Unconstrained));
        let chain = [lower.leaf(|_| {}), lower.anchor(), upper.anchor()];
        assert_eq!(verify(&v, &chain, &id, NOW), expected, "pathLenConstraint {path_len}");
    }
}

#[test]
fn intermediate_without_ca_flag_cannot_issue() {
    let root = Ca::root("Test Root");
    let id = fqdn("vpn.example.com");
    let v = server_validator(&root);
    for (constraints, expected) in [
        (IsCa::Ca(BasicConstraints::Unconstrained), Ok(KeyKind::EcdsaP256)),
        (IsCa::ExplicitNoCa, Err(CertFailure::UntrustedIssuer)),
        (IsCa::NoCa, Err(CertFailure::UntrustedIssuer)),
    ] {
        let int = root.sub("Intermediate", constraints);
        let chain = [int.leaf(|_| {}), int.anchor()];
        assert_eq!(verify(&v, &chain, &id, NOW), expected, "{constraints:?}");
    }
}

#[test]
fn certificate_signed_by_another_key_than_its_issuer() {
    let root = Ca::root("Test Root");
    // Same parameters (name), a different key: a forged issuer.
    let forger_key = KeyPair::generate().unwrap();
    let forger = Ca {
        cert: root.params.self_signed(&forger_key).unwrap(),
        params: root.params.clone(),
        key: forger_key,
    };
    let id = fqdn("vpn.example.com");
    assert_eq!(
        verify(&server_validator(&root), &[forger.leaf(|_| {})], &id, NOW),
        Err(CertFailure::UntrustedIssuer)
    );
}

#[test]
fn extended_key_usage() {
    let root = Ca::root("Test Root");
    let id = fqdn("vpn.example.com");
    // 1.3.6.1.5.5.8.2.2 iKEIntermediate, 1.3.6.1.5.5.7.3.17 id-kp-ipsecIKE.
    let ike_intermediate = ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 8, 2, 2]);
    let ipsec_ike = ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 17]);
    use ExtendedKeyUsagePurpose as E;
    let cases = [
        (vec![], Purpose::Server, Ok(KeyKind::EcdsaP256)),
        (vec![E::ServerAuth], Purpose::Server, Ok(KeyKind::EcdsaP256)),
        (vec![E::ClientAuth], Purpose::Server, Err(CertFailure::WrongKeyUsage)),
        (vec![E::ClientAuth], Purpose::Client, Ok(KeyKind::EcdsaP256)),
        (vec![E::ServerAuth], Purpose::Client, Err(CertFailure::WrongKeyUsage)),
        (vec![ike_intermediate.clone()], Purpose::Server, Ok(KeyKind::EcdsaP256)),
        (vec![ike_intermediate], Purpose::Client, Ok(KeyKind::EcdsaP256)),
        (vec![ipsec_ike], Purpose::Server, Ok(KeyKind::EcdsaP256)),
        (vec![E::Any], Purpose::Client, Ok(KeyKind::EcdsaP256)),
        (vec![E::CodeSigning], Purpose::Server, Err(CertFailure::WrongKeyUsage)),
        (vec![E::CodeSigning, E::ServerAuth], Purpose::Server, Ok(KeyKind::EcdsaP256)),
        (vec![E::EmailProtection], Purpose::Client, Err(CertFailure::WrongKeyUsage)),
    ];
    for (ekus, purpose, expected) in cases {
        let leaf = root.leaf(|p| p.extended_key_usages = ekus.clone());
        let v = Validator::new(vec![root.anchor()], purpose);
        assert_eq!(verify(&v, &[leaf], &id, NOW), expected, "{ekus:?} for {purpose:?}");
    }
}

#[test]
fn key_usage_must_allow_signatures_when_present() {
    let root = Ca::root("Test Root");
    let v = server_validator(&root);
    let id = fqdn("vpn.example.com");
    use KeyUsagePurpose as K;
    for (usages, expected) in [
        (vec![], Ok(KeyKind::EcdsaP256)),
        (vec![K::DigitalSignature], Ok(KeyKind::EcdsaP256)),
        (vec![K::DigitalSignature, K::KeyEncipherment], Ok(KeyKind::EcdsaP256)),
        (vec![K::KeyEncipherment], Err(CertFailure::WrongKeyUsage)),
        (vec![K::KeyAgreement], Err(CertFailure::WrongKeyUsage)),
    ] {
        let leaf = root.leaf(|p| p.key_usages = usages.clone());
        assert_eq!(verify(&v, &[leaf], &id, NOW), expected, "{usages:?}");
    }
}

#[test]
fn identity_in_subject_alternative_names() {
    let root = Ca::root("Test Root");
    let v = server_validator(&root);
    let leaf = root.leaf(|p| {
        p.subject_alt_names = vec![
            SanType::DnsName("vpn.example.com".try_into().unwrap()),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            SanType::IpAddress(IpAddr::V6("2001:db8::1".parse().unwrap())),
            SanType::Rfc822Name("alice@Example.COM".try_into().unwrap()),
        ];
    });
    let chain = [leaf];
    let ok = Ok(KeyKind::EcdsaP256);
    let bad = Err(CertFailure::IdentityMismatch);
    let cases = [
        (fqdn("vpn.example.com"), ok),
        (fqdn("VPN.Example.com"), ok),
        (fqdn("other.example.com"), bad),
        (fqdn("vpn.example.com.evil"), bad),
        (IdRepr::from_value(IdValue::Ipv4(Ipv4Addr::new(192, 0, 2, 1))), ok),
        (IdRepr::from_value(IdValue::Ipv4(Ipv4Addr::new(192, 0, 2, 2))), bad),
        (IdRepr::from_value(IdValue::Ipv6("2001:db8::1".parse::<Ipv6Addr>().unwrap())), ok),
        (IdRepr::from_value(IdValue::Ipv6("2001:db8::2".parse::<Ipv6Addr>().unwrap())), bad),
        // RFC 5280 §4.2.1.6: the domain ignores case, the local part does not.
        (IdRepr::from_value(IdValue::Rfc822("alice@example.com")), ok),
        (IdRepr::from_value(IdValue::Rfc822("Alice@example.com")), bad),
        (IdRepr::from_value(IdValue::Rfc822("bob@example.com")), bad),
        // An FQDN is not looked up among IP or e-mail SANs, nor an address among DNS names.
        (fqdn("192.0.2.1"), bad),
        (IdRepr::from_value(IdValue::KeyId(b"vpn.example.com")), bad),
        (IdRepr { id_type: IdType::ID_IPV4_ADDR, data: [192, 0, 2][..].into() }, bad),
    ];
    for (id, expected) in cases {
        assert_eq!(verify(&v, &chain, &id, NOW), expected, "{id:?}");
    }
}

#[test]
fn identity_as_subject_dn() {
    let root = Ca::root("Test Root");
    let v = server_validator(&root);
    let leaf = root.leaf(|_| {});
    let other = root.leaf(|p| {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "vpn.example.com");
        dn.push(DnType::OrganizationName, "Other VPN");
        p.distinguished_name = dn;
    });
    let dn = IdRepr { id_type: IdType::ID_DER_ASN1_DN, data: leaf.subject_der().into() };
    assert_eq!(verify(&v, std::slice::from_ref(&leaf), &dn, NOW), Ok(KeyKind::EcdsaP256));
    let other_dn = IdRepr { id_type: IdType::ID_DER_ASN1_DN, data: other.subject_der().into() };
    assert_eq!(
        verify(&v, std::slice::from_ref(&leaf), &other_dn, NOW),
        Err(CertFailure::IdentityMismatch)
    );
    let empty = IdRepr { id_type: IdType::ID_DER_ASN1_DN, data: Default::default() };
    assert_eq!(verify(&v, &[leaf], &empty, NOW), Err(CertFailure::IdentityMismatch));
}

#[test]
fn apple_common_name_checks() {
    let root = Ca::root("Test Root");
    let int = root.sub("Example Issuing CA", IsCa::Ca(BasicConstraints::Unconstrained));
    let chain = [int.leaf(|_| {}), int.anchor()];
    let id = fqdn("vpn.example.com");
    let with = |subject: Option<&str>, issuer: Option<&str>| {
        server_validator(&root)
            .with_common_names(subject.map(str::to_owned), issuer.map(str::to_owned))
    };
    let ok = Ok(KeyKind::EcdsaP256);
    assert_eq!(verify(&with(Some("vpn.example.com"), None), &chain, &id, NOW), ok);
    assert_eq!(verify(&with(None, Some("Example Issuing CA")), &chain, &id, NOW), ok);
    assert_eq!(
        verify(&with(Some("vpn.example.com"), Some("Example Issuing CA")), &chain, &id, NOW),
        ok
    );
    assert_eq!(
        verify(&with(Some("other.example.com"), None), &chain, &id, NOW),
        Err(CertFailure::CommonNameMismatch)
    );
    // The issuer of the end entity, not the root.
    assert_eq!(
        verify(&with(None, Some("Test Root")), &chain, &id, NOW),
        Err(CertFailure::IssuerCommonNameMismatch)
    );
}

#[test]
fn revoked_by_crl() {
    let root = Ca::root("Test Root");
    let leaf = root.leaf(|_| {});
    let id = fqdn("vpn.example.com");
    let crl = || root.crl(&[0x1001], LEAF_END);
    for (revocation, expected) in [
        (Revocation::Off, Ok(KeyKind::EcdsaP256)),
        (Revocation::BestEffort, Err(CertFailure::Revoked)),
        (Revocation::Strict, Err(CertFailure::Revoked)),
    ] {
        let v = server_validator(&root).with_crls(vec![crl()]).with_revocation(revocation);
        assert_eq!(verify(&v, std::slice::from_ref(&leaf), &id, NOW), expected, "{revocation:?}");
    }
    // A CRL from the runtime (extra_crls) counts the same.
    // Clones share the parsed CRL and keep every rule.
    let v = server_validator(&root).with_revocation(Revocation::BestEffort).clone();
    let fetched = crl();
    let twice = [fetched.clone(), fetched];
    assert_eq!(
        v.verify(std::slice::from_ref(&leaf), &id, at(NOW), &twice).map(|k| k.kind()),
        Err(CertFailure::Revoked)
    );
    // A CRL of the right issuer that lists other serials: good in both modes.
    for revocation in [Revocation::BestEffort, Revocation::Strict] {
        let v = server_validator(&root)
            .with_crls(vec![root.crl(&[0x2002], LEAF_END)])
            .with_revocation(revocation);
        assert_eq!(verify(&v, std::slice::from_ref(&leaf), &id, NOW), Ok(KeyKind::EcdsaP256));
    }
}

#[test]
fn crl_from_the_wrong_issuer_or_none_is_unknown_status() {
    let root = Ca::root("Test Root");
    let stranger = Ca::root("Stranger CA");
    let leaf = root.leaf(|_| {});
    let id = fqdn("vpn.example.com");
    let wrong = || stranger.crl(&[0x1001], LEAF_END);
    let cases = [
        (Some(wrong()), Revocation::BestEffort, Ok(KeyKind::EcdsaP256)),
        (Some(wrong()), Revocation::Strict, Err(CertFailure::RevocationUnknown)),
        (None, Revocation::BestEffort, Ok(KeyKind::EcdsaP256)),
        (None, Revocation::Strict, Err(CertFailure::RevocationUnknown)),
    ];
    for (crl, revocation, expected) in cases {
        let v = server_validator(&root)
            .with_crls(crl.into_iter().collect())
            .with_revocation(revocation);
        assert_eq!(verify(&v, std::slice::from_ref(&leaf), &id, NOW), expected, "{revocation:?}");
    }
    // Strict with no CRL still reports a broken path as such, not as unknown status.
    let v = server_validator(&stranger).with_revocation(Revocation::Strict);
    assert_eq!(verify(&v, &[leaf], &id, NOW), Err(CertFailure::UntrustedIssuer));
}

#[test]
fn stale_crl_is_unknown_only_when_strict() {
    let root = Ca::root("Test Root");
    let leaf = root.leaf(|_| {});
    let id = fqdn("vpn.example.com");
    // nextUpdate before NOW: still proves the revocation it lists in best effort.
    let stale_listing = || root.crl(&[0x1001], NOW - DAY);
    let stale_clean = || root.crl(&[], NOW - DAY);
    let v = |crl: Crl, r| server_validator(&root).with_crls(vec![crl]).with_revocation(r);
    assert_eq!(
        verify(&v(stale_listing(), Revocation::BestEffort), std::slice::from_ref(&leaf), &id, NOW),
        Err(CertFailure::Revoked)
    );
    assert_eq!(
        verify(&v(stale_clean(), Revocation::BestEffort), std::slice::from_ref(&leaf), &id, NOW),
        Ok(KeyKind::EcdsaP256)
    );
    assert_eq!(
        verify(&v(stale_clean(), Revocation::Strict), &[leaf], &id, NOW),
        Err(CertFailure::RevocationUnknown)
    );
}

#[test]
fn strict_revocation_checks_intermediates_too() {
    let root = Ca::root("Test Root");
    let int = root.sub("Test Intermediate", IsCa::Ca(BasicConstraints::Unconstrained));
    let chain = [int.leaf(|_| {}), int.anchor()];
    let id = fqdn("vpn.example.com");
    let v = |crls: Vec<Crl>| {
        server_validator(&root).with_crls(crls).with_revocation(Revocation::Strict)
    };
    // Only the intermediate's CRL: the intermediate's own status (from the root) is unknown.
    assert_eq!(
        verify(&v(vec![int.crl(&[], LEAF_END)]), &chain, &id, NOW),
        Err(CertFailure::RevocationUnknown)
    );
    assert_eq!(
        verify(&v(vec![int.crl(&[], LEAF_END), root.crl(&[], LEAF_END)]), &chain, &id, NOW),
        Ok(KeyKind::EcdsaP256)
    );
}

/// A 1024-bit RSA key (made by OpenSSL, see data/SOURCES.md) in a certificate our CA issues:
/// the path is fine, the key too small. Its 2048-bit twin is in
/// `accepts_a_good_chain_and_returns_the_end_entity_key`.
#[test]
fn rsa_key_under_2048_bits_is_unsupported() {
    let root = Ca::root("Test Root");
    let spki = std::fs::read(format!("{}/tests/data/rsa1024.spki.der", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    // The RSAPublicKey after the 22 octets of SPKI, AlgorithmIdentifier and BIT STRING headers.
    assert_eq!(spki[..4], [0x30, 0x81, 0x9f, 0x30]);
    let public = ExternalRsaKey(spki[22..].to_vec());
    let mut params = CertificateParams::new(vec!["vpn.example.com".to_owned()]).unwrap();
    params.not_before = date(T0);
    params.not_after = date(LEAF_END);
    let leaf = ours(&params.signed_by(&public, &root.issuer()).unwrap());
    assert_eq!(leaf.public_key().unwrap().kind(), KeyKind::Rsa);
    assert_eq!(
        verify(&server_validator(&root), &[leaf], &fqdn("vpn.example.com"), NOW),
        Err(CertFailure::UnsupportedKey)
    );
}

/// An RSAPublicKey with a made-up modulus of `bits` bits (the top bit set, odd) and e = 65537:
/// nothing signs with it, it only has to be certified.
fn rsa_public_key_of(bits: usize) -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match body.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(body);
        out
    }
    let mut n = vec![0x5a; bits / 8];
    n[0] = 0xc5;
    *n.last_mut().unwrap() |= 1;
    n.insert(0, 0); // positive INTEGER
    let body = [tlv(0x02, &n), tlv(0x02, &[0x01, 0x00, 0x01])].concat();
    tlv(0x30, &body)
}

#[test]
fn rsa_key_over_8192_bits_is_unsupported() {
    let root = Ca::root("Test Root");
    let id = fqdn("vpn.example.com");
    let v = server_validator(&root);
    for (bits, expected) in [(8192, Ok(KeyKind::Rsa)), (8200, Err(CertFailure::UnsupportedKey))] {
        let mut params = CertificateParams::new(vec!["vpn.example.com".to_owned()]).unwrap();
        params.not_before = date(T0);
        params.not_after = date(LEAF_END);
        let public = ExternalRsaKey(rsa_public_key_of(bits));
        let leaf = ours(&params.signed_by(&public, &root.issuer()).unwrap());
        assert_eq!(verify(&v, &[leaf], &id, NOW), expected, "{bits} bits");
    }
}

/// A public key rcgen did not make, for it to certify.
struct ExternalRsaKey(Vec<u8>);

impl rcgen::PublicKeyData for ExternalRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

#[test]
fn empty_chain_is_no_certificate() {
    let root = Ca::root("Test Root");
    assert_eq!(
        verify(&server_validator(&root), &[], &fqdn("vpn.example.com"), NOW),
        Err(CertFailure::NoCertificate)
    );
}

#[test]
fn end_entity_that_is_a_ca_is_refused() {
    let root = Ca::root("Test Root");
    let int = root.sub("vpn.example.com", IsCa::Ca(BasicConstraints::Unconstrained));
    // A CA certificate presented as the peer's own.
    let mut params = int.params.clone();
    params.subject_alt_names = vec![SanType::DnsName("vpn.example.com".try_into().unwrap())];
    let cert = ours(&params.signed_by(&int.key, &root.issuer()).unwrap());
    assert_eq!(
        verify(&server_validator(&root), &[cert], &fqdn("vpn.example.com"), NOW),
        Err(CertFailure::UntrustedIssuer)
    );
}

#[test]
fn fixed_time_peer_verifier_and_certreq_hashes() {
    let root = Ca::root("Test Root");
    let other = Ca::root("Other Root");
    let leaf = root.leaf(|_| {});
    let validator = Validator::new(vec![root.anchor(), other.anchor()], Purpose::Server);
    assert_eq!(validator.revocation(), Revocation::Off);
    let verifier: Box<dyn PeerVerifier> = Box::new(FixedTime { validator, now: at(NOW) });
    assert_eq!(
        verifier.ca_key_hashes(),
        vec![root.anchor().spki_sha1(), other.anchor().spki_sha1()]
    );
    assert_eq!(
        verifier.verify(std::slice::from_ref(&leaf), &fqdn("vpn.example.com")).map(|k| k.kind()),
        Ok(KeyKind::EcdsaP256)
    );
    let late = FixedTime { validator: server_validator(&root), now: at(LEAF_END + 1) };
    assert_eq!(
        late.verify(&[leaf], &fqdn("vpn.example.com")).map(|k| k.kind()),
        Err(CertFailure::Expired)
    );
}

#[test]
fn crl_distribution_points_are_read() {
    let root = Ca::root("Test Root");
    let leaf = root.leaf(|p| {
        p.crl_distribution_points = vec![
            CrlDistributionPoint { uris: vec!["http://crl.example.com/root.crl".to_owned()] },
            CrlDistributionPoint {
                uris: vec![
                    "ldap://ldap.example.com/cn=root".to_owned(),
                    "HTTP://crl2.example.com/r.crl".to_owned(),
                ],
            },
        ];
    });
    assert_eq!(
        leaf.crl_urls(),
        vec!["http://crl.example.com/root.crl", "HTTP://crl2.example.com/r.crl"]
    );
    assert_eq!(root.leaf(|_| {}).crl_urls(), Vec::<String>::new());
}

#[test]
fn failures_read_as_sentences() {
    assert_eq!(CertFailure::Expired.to_string(), "the peer's certificate has expired");
    assert_eq!(
        CertFailure::UntrustedIssuer.to_string(),
        "the peer's certificate does not chain to a trusted certificate authority"
    );
    assert_eq!(
        CertFailure::IdentityMismatch.to_string(),
        "the peer's identity is not in its certificate"
    );
}
