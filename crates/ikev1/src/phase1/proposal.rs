//! The phase 1 SA payload (RFC 2409 §5, Appendix A): our offer (one ISAKMP proposal, one
//! KEY_IKE transform per configured suite), the responder's choice, and the initiator's check
//! of that choice.

use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_crypto::BlockCipher;
use ikeway_isakmp::{
    AuthMethod, EncryptionAlgorithm, IsakmpTransformId, LifeType, OakleyAttribute, ProposalRepr,
    ProtocolId, SaRepr, TransformRepr,
};

use crate::config::{Authentication, Config, Phase1Proposal};
use crate::keys::HashAlg;

/// Lifetimes below this are refused from a peer: an ISAKMP SA renegotiated every few seconds
/// is a denial of service, not a policy.
const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// Transforms we look at in one offer: Apple offers about 20, strongSwan's default a few
/// dozen; more is refused rather than walked.
const MAX_TRANSFORMS: usize = 128;

/// What phase 1 settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase1Suite {
    pub cipher: BlockCipher,
    pub hash: HashAlg,
    pub group: DhGroup,
    pub method: AuthMethod,
    pub lifetime: Duration,
}

/// The Authentication Method attribute our configuration offers and accepts.
pub(crate) fn auth_method(config: &Config) -> AuthMethod {
    match (&config.auth, config.xauth) {
        (Authentication::Psk(_), false) => AuthMethod::PRE_SHARED_KEY,
        (Authentication::Psk(_), true) => AuthMethod::XAUTH_INIT_PRE_SHARED,
        (Authentication::Certificates { own, .. }, xauth) => match own.kind() {
            ikeway_pki::KeyKind::EcdsaP384 => AuthMethod::ECDSA_SHA384_P384,
            ikeway_pki::KeyKind::EcdsaP521 => AuthMethod::ECDSA_SHA512_P521,
            ikeway_pki::KeyKind::EcdsaP256 => AuthMethod::ECDSA_SHA256_P256,
            _ if xauth => AuthMethod::XAUTH_INIT_RSA,
            _ => AuthMethod::RSA_SIGNATURES,
        },
        // The initiator is the client (draft-ietf-ipsra-hybrid-auth-ike-03 §3.1).
        (Authentication::HybridClient { .. } | Authentication::HybridGateway { .. }, _) => {
            AuthMethod::HYBRID_INIT_RSA
        }
    }
}

/// The method when the gateway starts phase 1 (it renews its ISAKMP SA toward the client):
/// the XAUTH and hybrid methods name which side the XAUTH client is, so XAUTHInit* becomes
/// XAUTHResp* and HybridInitRSA HybridRespRSA (draft-beaulieu-ike-xauth-02 §5,
/// draft-ietf-ipsra-hybrid-auth-ike-03 §3.1); the others are the same both ways.
pub(crate) fn auth_method_as(config: &Config, gateway_initiates: bool) -> AuthMethod {
    let method = auth_method(config);
    if !gateway_initiates {
        return method;
    }
    match method {
        AuthMethod::XAUTH_INIT_PRE_SHARED => AuthMethod::XAUTH_RESP_PRE_SHARED,
        AuthMethod::XAUTH_INIT_RSA => AuthMethod::XAUTH_RESP_RSA,
        AuthMethod::HYBRID_INIT_RSA => AuthMethod::HYBRID_RESP_RSA,
        other => other,
    }
}

/// RFC 4754 pairs each ECDSA curve with one hash, and SIG signs the phase 1 HASH as the
/// digest, so the negotiated hash must be SHA-256 with P-256, SHA-384 with P-384, SHA-512
/// with P-521. Other methods take any hash.
pub(crate) fn hash_fits(method: AuthMethod, hash: HashAlg) -> bool {
    match method {
        AuthMethod::ECDSA_SHA256_P256 => hash == HashAlg::Sha256,
        AuthMethod::ECDSA_SHA384_P384 => hash == HashAlg::Sha384,
        AuthMethod::ECDSA_SHA512_P521 => hash == HashAlg::Sha512,
        _ => true,
    }
}

fn encryption_attributes(cipher: BlockCipher) -> Option<(EncryptionAlgorithm, Option<u16>)> {
    match cipher {
        BlockCipher::AesCbc { key_bits } => Some((EncryptionAlgorithm::AES_CBC, Some(key_bits))),
        BlockCipher::TripleDesCbc => Some((EncryptionAlgorithm::TRIPLE_DES_CBC, None)),
        BlockCipher::AesCtr { .. } => None,
    }
}

/// [`offer_with`] the method of a client that starts phase 1.
#[cfg(test)]
pub(crate) fn offer(config: &Config) -> SaRepr {
    offer_with(config, auth_method(config))
}

/// Our SA payload: one proposal, a transform per configured suite (a suite whose cipher IKEv1
/// has no number for is left out), all with `method` (see [`auth_method_as`]).
pub(crate) fn offer_with(config: &Config, method: AuthMethod) -> SaRepr {
    let transforms = config
        .proposals
        .iter()
        .filter(|p| hash_fits(method, p.hash))
        .filter_map(|p| encryption_attributes(p.cipher).map(|enc| (p, enc)))
        .take(MAX_TRANSFORMS)
        .enumerate()
        .map(|(i, (p, (enc, key_bits)))| {
            // At most MAX_TRANSFORMS (128) transforms, so the number fits.
            let mut t = TransformRepr::new(i as u8 + 1, IsakmpTransformId::KEY_IKE.0)
                .with_basic(OakleyAttribute::ENCRYPTION_ALGORITHM, enc.0);
            if let Some(bits) = key_bits {
                t = t.with_basic(OakleyAttribute::KEY_LENGTH, bits);
            }
            t.with_basic(OakleyAttribute::HASH_ALGORITHM, p.hash.attribute())
                .with_basic(OakleyAttribute::GROUP_DESCRIPTION, p.group.0)
                .with_basic(OakleyAttribute::AUTHENTICATION_METHOD, method.0)
                .with_basic(OakleyAttribute::LIFE_TYPE, LifeType::SECONDS.0)
                .with_integer(OakleyAttribute::LIFE_DURATION, config.lifetime.as_secs())
        })
        .collect();
    SaRepr::new(vec![ProposalRepr {
        number: 1,
        protocol: ProtocolId::ISAKMP,
        spi: Vec::new(),
        transforms,
    }])
}

/// Why a transform is not acceptable; the responder answers NO-PROPOSAL-CHOSEN whatever the
/// reason, the variants exist for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotIsakmp,
    UnknownAttribute(u16),
    UnsupportedCipher,
    UnsupportedHash,
    UnsupportedGroup,
    WrongMethod,
    BadLifetime,
    NotOurs,
}

/// Reads one KEY_IKE transform; every attribute must be one we understand (RFC 2409
/// Appendix A: an unknown class makes the transform unacceptable).
pub(crate) fn read_transform(t: &TransformRepr) -> Result<Phase1Suite, Refusal> {
    if t.id != IsakmpTransformId::KEY_IKE.0 {
        return Err(Refusal::NotIsakmp);
    }
    let mut life_seconds = None;
    let mut life_type = None;
    for a in &t.attributes {
        match OakleyAttribute(a.kind) {
            OakleyAttribute::ENCRYPTION_ALGORITHM
            | OakleyAttribute::KEY_LENGTH
            | OakleyAttribute::HASH_ALGORITHM
            | OakleyAttribute::GROUP_DESCRIPTION
            | OakleyAttribute::AUTHENTICATION_METHOD => {}
            // Life type and duration come in pairs (Appendix A); kilobytes are accepted and
            // not enforced, as every implementation does for phase 1.
            OakleyAttribute::LIFE_TYPE => life_type = a.value.as_u64(),
            OakleyAttribute::LIFE_DURATION => {
                if life_type == Some(u64::from(LifeType::SECONDS.0)) {
                    life_seconds = a.value.as_u64();
                }
            }
            other => return Err(Refusal::UnknownAttribute(other.0)),
        }
    }
    let int = |k: OakleyAttribute| t.oakley(k);
    let small = |k: OakleyAttribute| int(k).and_then(|v| u16::try_from(v).ok());
    let key_bits = small(OakleyAttribute::KEY_LENGTH);
    let cipher =
        match EncryptionAlgorithm(small(OakleyAttribute::ENCRYPTION_ALGORITHM).unwrap_or(0)) {
            EncryptionAlgorithm::AES_CBC => match key_bits {
                Some(bits @ (128 | 192 | 256)) => BlockCipher::AesCbc { key_bits: bits },
                // RFC 3602 §5: AES without Key-Length is not offered by anyone sane.
                _ => return Err(Refusal::UnsupportedCipher),
            },
            EncryptionAlgorithm::TRIPLE_DES_CBC if key_bits.is_none() => BlockCipher::TripleDesCbc,
            _ => return Err(Refusal::UnsupportedCipher),
        };
    let hash = small(OakleyAttribute::HASH_ALGORITHM)
        .and_then(HashAlg::from_attribute)
        .ok_or(Refusal::UnsupportedHash)?;
    let group =
        DhGroup(small(OakleyAttribute::GROUP_DESCRIPTION).ok_or(Refusal::UnsupportedGroup)?);
    let method =
        AuthMethod(small(OakleyAttribute::AUTHENTICATION_METHOD).ok_or(Refusal::WrongMethod)?);
    let lifetime = match life_seconds {
        Some(s) if Duration::from_secs(s) < MIN_LIFETIME => return Err(Refusal::BadLifetime),
        Some(s) => Duration::from_secs(s),
        // No lifetime: the default of RFC 2407 §4.5, eight hours.
        None => Duration::from_secs(8 * 3600),
    };
    Ok(Phase1Suite { cipher, hash, group, method, lifetime })
}

fn ours(config: &Config, s: &Phase1Suite) -> bool {
    config
        .proposals
        .iter()
        .any(|p: &Phase1Proposal| p.cipher == s.cipher && p.hash == s.hash && p.group == s.group)
}

/// [`choose_with`] the method of a gateway answering its client.
#[cfg(test)]
pub(crate) fn choose(
    config: &Config,
    offer: &SaRepr,
    supports: impl Fn(DhGroup) -> bool,
) -> Result<(Phase1Suite, SaRepr), Refusal> {
    choose_with(config, auth_method(config), offer, supports)
}

/// Responder: the first transform of the peer's that we accept (with `method`), in the
/// peer's order (its preference), and the SA payload that answers it (the same transform, as
/// sent). The lifetime is the shorter of the peer's and ours.
pub(crate) fn choose_with(
    config: &Config,
    method: AuthMethod,
    offer: &SaRepr,
    supports: impl Fn(DhGroup) -> bool,
) -> Result<(Phase1Suite, SaRepr), Refusal> {
    let mut last = Refusal::NotOurs;
    let proposals = offer.proposals.iter().filter(|p| p.protocol == ProtocolId::ISAKMP);
    for proposal in proposals {
        for t in proposal.transforms.iter().take(MAX_TRANSFORMS) {
            let suite = match read_transform(t) {
                Ok(s) => s,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            if suite.method != method || !hash_fits(method, suite.hash) {
                last = Refusal::WrongMethod;
            } else if !supports(suite.group) {
                last = Refusal::UnsupportedGroup;
            } else if !ours(config, &suite) {
                last = Refusal::NotOurs;
            } else {
                let answer = SaRepr {
                    proposals: vec![ProposalRepr {
                        number: proposal.number,
                        protocol: ProtocolId::ISAKMP,
                        spi: Vec::new(),
                        transforms: vec![t.clone()],
                    }],
                    ..offer.clone()
                };
                let lifetime = suite.lifetime.min(config.lifetime);
                return Ok((Phase1Suite { lifetime, ..suite }, answer));
            }
        }
    }
    Err(last)
}

/// [`check_with`] the method of a client that started phase 1.
#[cfg(test)]
pub(crate) fn check(config: &Config, answer: &SaRepr) -> Result<Phase1Suite, Refusal> {
    check_with(config, auth_method(config), answer)
}

/// Initiator: the responder's SA must hold exactly one transform, one of ours, with our
/// authentication method `method`; a shorter lifetime than ours is taken.
pub(crate) fn check_with(
    config: &Config,
    method: AuthMethod,
    answer: &SaRepr,
) -> Result<Phase1Suite, Refusal> {
    let [proposal] = answer.proposals.as_slice() else { return Err(Refusal::NotOurs) };
    let [t] = proposal.transforms.as_slice() else { return Err(Refusal::NotOurs) };
    if proposal.protocol != ProtocolId::ISAKMP {
        return Err(Refusal::NotIsakmp);
    }
    let suite = read_transform(t)?;
    if suite.method != method || !hash_fits(suite.method, suite.hash) {
        return Err(Refusal::WrongMethod);
    }
    if !ours(config, &suite) {
        return Err(Refusal::NotOurs);
    }
    if suite.lifetime > config.lifetime {
        return Err(Refusal::BadLifetime);
    }
    Ok(suite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;

    fn config() -> Config {
        Config::psk(
            Identity::KeyId(b"group".to_vec()),
            ikeway_crypto::SecretBytes::from_slice(b"k"),
        )
    }

    #[test]
    fn the_offer_has_one_transform_per_suite_with_every_attribute() {
        let sa = offer(&config());
        assert_eq!(sa.proposals.len(), 1);
        let t = &sa.proposals[0].transforms;
        assert_eq!(t.len(), 7);
        assert_eq!(t[0].oakley(OakleyAttribute::ENCRYPTION_ALGORITHM), Some(7));
        assert_eq!(t[0].oakley(OakleyAttribute::KEY_LENGTH), Some(256));
        assert_eq!(t[0].oakley(OakleyAttribute::HASH_ALGORITHM), Some(4));
        assert_eq!(t[0].oakley(OakleyAttribute::GROUP_DESCRIPTION), Some(14));
        assert_eq!(t[0].oakley(OakleyAttribute::AUTHENTICATION_METHOD), Some(1));
        assert_eq!(t[0].oakley(OakleyAttribute::LIFE_DURATION), Some(28800));
        assert_eq!(t[4].oakley(OakleyAttribute::ENCRYPTION_ALGORITHM), Some(5));
        assert_eq!(t[4].oakley(OakleyAttribute::KEY_LENGTH), None);
        assert_eq!(read_transform(&t[4]).unwrap().cipher, BlockCipher::TripleDesCbc);
    }

    #[test]
    fn ecdsa_methods_take_only_their_curves_hash() {
        assert!(hash_fits(AuthMethod::ECDSA_SHA256_P256, HashAlg::Sha256));
        assert!(!hash_fits(AuthMethod::ECDSA_SHA256_P256, HashAlg::Sha1));
        assert!(hash_fits(AuthMethod::ECDSA_SHA384_P384, HashAlg::Sha384));
        assert!(!hash_fits(AuthMethod::ECDSA_SHA384_P384, HashAlg::Sha256));
        assert!(!hash_fits(AuthMethod::ECDSA_SHA512_P521, HashAlg::Sha384));
        assert!(hash_fits(AuthMethod::PRE_SHARED_KEY, HashAlg::Sha1));
    }

    #[test]
    fn xauth_offers_xauth_init_pre_shared() {
        let mut c = config();
        c.xauth = true;
        let sa = offer(&c);
        assert_eq!(
            sa.proposals[0].transforms[0].oakley(OakleyAttribute::AUTHENTICATION_METHOD),
            Some(65001)
        );
    }

    #[test]
    fn a_gateway_that_starts_phase_1_uses_the_xauth_resp_methods() {
        let mut c = config();
        c.xauth = true;
        assert_eq!(auth_method_as(&c, false), AuthMethod::XAUTH_INIT_PRE_SHARED);
        assert_eq!(auth_method_as(&c, true), AuthMethod::XAUTH_RESP_PRE_SHARED);
        assert_eq!(auth_method_as(&config(), true), AuthMethod::PRE_SHARED_KEY);
        // A client answering its gateway takes only XAUTHResp: XAUTHInit would make the
        // gateway the XAUTH client.
        let resp = AuthMethod::XAUTH_RESP_PRE_SHARED;
        let init = offer_with(&c, AuthMethod::XAUTH_INIT_PRE_SHARED);
        assert_eq!(choose_with(&c, resp, &init, |_| true).unwrap_err(), Refusal::WrongMethod);
        let (suite, _) = choose_with(&c, resp, &offer_with(&c, resp), |_| true).unwrap();
        assert_eq!(suite.method, resp);
    }

    #[test]
    fn the_responder_takes_the_peers_first_acceptable_transform_verbatim() {
        let mut peer = config();
        peer.lifetime = Duration::from_secs(3600);
        peer.proposals.insert(
            0,
            Phase1Proposal {
                cipher: BlockCipher::AesCbc { key_bits: 192 },
                hash: HashAlg::Sha512,
                group: DhGroup(20),
            },
        );
        let ours = config();
        let (suite, answer) = choose(&ours, &offer(&peer), |_| true).unwrap();
        assert_eq!(suite.cipher, BlockCipher::AesCbc { key_bits: 256 });
        assert_eq!(suite.hash, HashAlg::Sha256);
        assert_eq!(suite.lifetime, Duration::from_secs(3600));
        assert_eq!(
            answer.proposals[0].transforms,
            vec![offer(&peer).proposals[0].transforms[1].clone()]
        );
        assert_eq!(check(&peer, &answer).unwrap(), suite);
    }

    #[test]
    fn no_proposal_is_chosen_for_another_method_or_unknown_suites() {
        let mut xauth = config();
        xauth.xauth = true;
        assert_eq!(choose(&config(), &offer(&xauth), |_| true).unwrap_err(), Refusal::WrongMethod);
        let mut other = config();
        other.proposals = vec![Phase1Proposal {
            cipher: BlockCipher::AesCbc { key_bits: 192 },
            hash: HashAlg::Sha384,
            group: DhGroup(15),
        }];
        assert_eq!(choose(&config(), &offer(&other), |_| true).unwrap_err(), Refusal::NotOurs);
        assert_eq!(
            choose(&config(), &offer(&config()), |_| false).unwrap_err(),
            Refusal::UnsupportedGroup
        );
    }

    #[test]
    fn transforms_with_unknown_attributes_or_tiny_lifetimes_are_refused() {
        let sa = offer(&config());
        let mut t = sa.proposals[0].transforms[0].clone();
        t.attributes.push(ikeway_isakmp::SaAttribute::basic(OakleyAttribute::PRF.0, 1));
        assert_eq!(read_transform(&t).unwrap_err(), Refusal::UnknownAttribute(13));
        let mut c = config();
        c.lifetime = Duration::from_secs(10);
        let t = offer(&c).proposals[0].transforms[0].clone();
        assert_eq!(read_transform(&t).unwrap_err(), Refusal::BadLifetime);
    }

    #[test]
    fn the_initiator_refuses_an_answer_with_two_transforms_or_a_longer_lifetime() {
        let c = config();
        assert_eq!(check(&c, &offer(&c)).unwrap_err(), Refusal::NotOurs);
        let mut longer = config();
        longer.lifetime = Duration::from_secs(100_000);
        let mut answer = offer(&longer);
        answer.proposals[0].transforms.truncate(1);
        assert_eq!(check(&c, &answer).unwrap_err(), Refusal::BadLifetime);
    }
}
