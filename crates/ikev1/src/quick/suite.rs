//! One quick mode transform as a suite: the ESP transform ID with its IPsec DOI attributes
//! (RFC 2407 §4.4.4, §4.5) read into what the ESP datapath needs, and written back.

use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity};

use super::config::EspProposal;

/// IPsec DOI SA attribute classes (RFC 2407 §4.5, RFC 4304 for ESN).
pub(crate) mod class {
    pub(crate) const LIFE_TYPE: u16 = 1;
    pub(crate) const LIFE_DURATION: u16 = 2;
    pub(crate) const GROUP_DESCRIPTION: u16 = 3;
    pub(crate) const ENCAPSULATION_MODE: u16 = 4;
    pub(crate) const AUTH_ALGORITHM: u16 = 5;
    pub(crate) const KEY_LENGTH: u16 = 6;
    pub(crate) const EXTENDED_SEQUENCE_NUMBER: u16 = 11;
}

/// SA Life Type values (RFC 2407 §4.5).
const LIFE_SECONDS: u32 = 1;
const LIFE_KILOBYTES: u32 = 2;

/// How ESP is carried (Encapsulation Mode, RFC 2407 §4.5, RFC 3947 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulation {
    /// Tunnel mode, ESP straight over IP (1).
    Tunnel,
    /// Tunnel mode in UDP port 4500 (RFC 3948): 3 with RFC 3947 peers, 61443 with the
    /// draft-ietf-ipsec-nat-t-ike-02/03 ones.
    UdpTunnel { draft: bool },
}

impl Encapsulation {
    pub(crate) fn value(self) -> u32 {
        match self {
            Self::Tunnel => 1,
            Self::UdpTunnel { draft: false } => 3,
            Self::UdpTunnel { draft: true } => 61443,
        }
    }

    /// Transport modes (2, 4, 61444) are not done: a remote-access client tunnels.
    pub(crate) fn from_value(value: u32) -> Option<Self> {
        match value {
            1 => Some(Self::Tunnel),
            3 => Some(Self::UdpTunnel { draft: false }),
            61443 => Some(Self::UdpTunnel { draft: true }),
            _ => None,
        }
    }

    pub(crate) fn is_udp(self) -> bool {
        matches!(self, Self::UdpTunnel { .. })
    }
}

/// A transform read into a suite, or one to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transform {
    pub proposal: EspProposal,
    pub encapsulation: Encapsulation,
    pub group: Option<DhGroup>,
    pub lifetime: Option<Duration>,
    pub lifetime_kilobytes: Option<u32>,
    pub esn: bool,
}

/// Why a transform is not taken; the whole offer is refused with NO-PROPOSAL-CHOSEN when no
/// transform is left, so these are for counting and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownTransform,
    UnknownAttribute(u16),
    /// An attribute given twice, a Life Duration without its type, or a value out of range.
    BadAttribute(u16),
    MissingEncapsulation,
}

/// The ESP transform ID of `e` (RFC 2407 §4.4.4: ESP_3DES 3, ESP_AES 12, ESP_AES_CTR 13,
/// ESP_AES_GCM_8/12/16 18/19/20 share their numbers with IKEv2's); ChaCha20-Poly1305 has none
/// in IKEv1.
pub(crate) fn transform_id(e: Encryption) -> Option<u8> {
    match e {
        Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305) => None,
        other => u8::try_from(other.iana_id()).ok(),
    }
}

fn encryption_from(id: u8, key_bits: Option<u32>) -> Option<Encryption> {
    if !matches!(id, 3 | 12 | 13 | 18 | 19 | 20) {
        return None;
    }
    let key_bits = match key_bits {
        Some(bits) => Some(u16::try_from(bits).ok()?),
        None => None,
    };
    Encryption::from_iana(u16::from(id), key_bits)
}

/// The Authentication Algorithm attribute of `i` (RFC 2407 §4.5, RFC 4868 §2.3 for SHA-2).
pub(crate) fn auth_algorithm(i: Integrity) -> Option<u32> {
    match i {
        Integrity::HmacSha1_96 => Some(2),
        Integrity::HmacSha256_128 => Some(5),
        Integrity::HmacSha384_192 => Some(6),
        Integrity::HmacSha512_256 => Some(7),
        Integrity::HmacSha1_160 => None,
    }
}

fn integrity_from(value: u32) -> Option<Integrity> {
    Integrity::ALL.into_iter().find(|i| auth_algorithm(*i) == Some(value))
}

impl Transform {
    /// Reads transform `id` with its attributes (class, value) in wire order. Unknown classes
    /// refuse the transform (RFC 2407 §4.5 gives no way to ignore one); a Life Duration
    /// applies to the Life Type before it.
    pub(crate) fn read(
        id: u8,
        attributes: impl IntoIterator<Item = (u16, u32)>,
    ) -> Result<Self, Refusal> {
        let mut key_bits = None;
        let mut auth = None;
        let mut encapsulation = None;
        let mut group = None;
        let mut esn = None;
        let mut life_type = None;
        let mut lifetime = None;
        let mut lifetime_kilobytes = None;
        for (kind, value) in attributes {
            let once = |slot: &mut Option<u32>| match slot.replace(value) {
                None => Ok(()),
                Some(_) => Err(Refusal::BadAttribute(kind)),
            };
            match kind {
                class::KEY_LENGTH => once(&mut key_bits)?,
                class::AUTH_ALGORITHM => once(&mut auth)?,
                class::ENCAPSULATION_MODE => once(&mut encapsulation)?,
                class::GROUP_DESCRIPTION => once(&mut group)?,
                class::EXTENDED_SEQUENCE_NUMBER => once(&mut esn)?,
                class::LIFE_TYPE => life_type = Some(value),
                class::LIFE_DURATION => {
                    let slot = match life_type.take() {
                        Some(LIFE_SECONDS) => &mut lifetime,
                        Some(LIFE_KILOBYTES) => &mut lifetime_kilobytes,
                        _ => return Err(Refusal::BadAttribute(kind)),
                    };
                    once(slot)?;
                }
                other => return Err(Refusal::UnknownAttribute(other)),
            }
        }
        let encryption = encryption_from(id, key_bits).ok_or(Refusal::UnknownTransform)?;
        let integrity = match auth {
            None => None,
            Some(v) => Some(integrity_from(v).ok_or(Refusal::BadAttribute(class::AUTH_ALGORITHM))?),
        };
        // An AEAD with an Authentication Algorithm, or a cipher without one, is no suite.
        if encryption.is_aead() == integrity.is_some() {
            return Err(Refusal::BadAttribute(class::AUTH_ALGORITHM));
        }
        let encapsulation = encapsulation.ok_or(Refusal::MissingEncapsulation).and_then(|v| {
            Encapsulation::from_value(v).ok_or(Refusal::BadAttribute(class::ENCAPSULATION_MODE))
        })?;
        let group = match group {
            None => None,
            Some(g) => Some(DhGroup(
                u16::try_from(g).map_err(|_| Refusal::BadAttribute(class::GROUP_DESCRIPTION))?,
            )),
        };
        let esn = match esn {
            None | Some(0) => false,
            Some(1) => true,
            Some(_) => return Err(Refusal::BadAttribute(class::EXTENDED_SEQUENCE_NUMBER)),
        };
        Ok(Self {
            proposal: EspProposal { encryption, integrity },
            encapsulation,
            group,
            lifetime: lifetime.map(|s| Duration::from_secs(u64::from(s))),
            lifetime_kilobytes,
            esn,
        })
    }

    /// The transform ID and attributes (class, value) to send, in the order strongSwan and
    /// iOS send them: lifetimes first, then the rest by class.
    pub(crate) fn write(&self) -> Option<(u8, Vec<(u16, u32)>)> {
        let id = transform_id(self.proposal.encryption)?;
        let mut attrs = Vec::with_capacity(10);
        if let Some(l) = self.lifetime {
            let secs = u32::try_from(l.as_secs()).unwrap_or(u32::MAX);
            attrs.extend([(class::LIFE_TYPE, LIFE_SECONDS), (class::LIFE_DURATION, secs)]);
        }
        if let Some(kb) = self.lifetime_kilobytes {
            attrs.extend([(class::LIFE_TYPE, LIFE_KILOBYTES), (class::LIFE_DURATION, kb)]);
        }
        if let Some(g) = self.group {
            attrs.push((class::GROUP_DESCRIPTION, u32::from(g.0)));
        }
        attrs.push((class::ENCAPSULATION_MODE, self.encapsulation.value()));
        if let Some(i) = self.proposal.integrity {
            attrs.push((class::AUTH_ALGORITHM, auth_algorithm(i)?));
        }
        if let Some(bits) = self.proposal.encryption.key_bits_attribute() {
            // 3DES has no Key Length attribute; AES must have one (RFC 3602 §5.3).
            if !matches!(self.proposal.encryption, Encryption::Cipher(BlockCipher::TripleDesCbc)) {
                attrs.push((class::KEY_LENGTH, u32::from(bits)));
            }
        }
        if self.esn {
            attrs.push((class::EXTENDED_SEQUENCE_NUMBER, 1));
        }
        Some((id, attrs))
    }

    /// Whether the responder's choice `chosen` is this offer of ours: the same suite, mode
    /// and group (the lifetimes may differ: the responder's RESPONDER-LIFETIME lowers them).
    pub(crate) fn answers(&self, chosen: &Transform) -> bool {
        self.proposal == chosen.proposal
            && self.encapsulation == chosen.encapsulation
            && self.group == chosen.group
            && self.esn == chosen.esn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aes_sha256() -> EspProposal {
        EspProposal {
            encryption: Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            integrity: Some(Integrity::HmacSha256_128),
        }
    }

    #[test]
    fn a_transform_round_trips_through_its_attributes() {
        let t = Transform {
            proposal: aes_sha256(),
            encapsulation: Encapsulation::UdpTunnel { draft: true },
            group: Some(DhGroup(14)),
            lifetime: Some(Duration::from_secs(3600)),
            lifetime_kilobytes: Some(4_608_000),
            esn: false,
        };
        let (id, attrs) = t.write().unwrap();
        assert_eq!(id, 12);
        assert_eq!(
            attrs,
            vec![(1, 1), (2, 3600), (1, 2), (2, 4_608_000), (3, 14), (4, 61443), (5, 5), (6, 256)]
        );
        assert_eq!(Transform::read(id, attrs).unwrap(), t);
    }

    #[test]
    fn aes_gcm_has_no_authentication_algorithm_and_3des_no_key_length() {
        let gcm = Transform {
            proposal: EspProposal {
                encryption: Encryption::Aead(AeadAlgorithm::AES128_GCM16),
                integrity: None,
            },
            encapsulation: Encapsulation::Tunnel,
            group: None,
            lifetime: None,
            lifetime_kilobytes: None,
            esn: false,
        };
        assert_eq!(gcm.write().unwrap(), (20, vec![(4, 1), (6, 128)]));
        let des = Transform {
            proposal: EspProposal {
                encryption: Encryption::Cipher(BlockCipher::TripleDesCbc),
                integrity: Some(Integrity::HmacSha1_96),
            },
            ..gcm
        };
        assert_eq!(des.write().unwrap(), (3, vec![(4, 1), (5, 2)]));
        assert_eq!(Transform::read(3, [(4, 1), (5, 2)]).unwrap(), des);
    }

    #[test]
    fn refuses_what_is_not_a_whole_suite() {
        // AES without a key length, an AEAD with an auth algorithm, a cipher without one.
        assert_eq!(Transform::read(12, [(4, 1), (5, 2)]), Err(Refusal::UnknownTransform));
        assert_eq!(
            Transform::read(20, [(4, 1), (5, 2), (6, 128)]),
            Err(Refusal::BadAttribute(class::AUTH_ALGORITHM))
        );
        assert_eq!(
            Transform::read(12, [(4, 1), (6, 128)]),
            Err(Refusal::BadAttribute(class::AUTH_ALGORITHM))
        );
        // ChaCha20 (28 in IKEv2) and ESP_NULL are not ESP transforms we take.
        assert_eq!(Transform::read(28, [(4, 1)]), Err(Refusal::UnknownTransform));
        assert_eq!(Transform::read(11, [(4, 1), (5, 2)]), Err(Refusal::UnknownTransform));
    }

    #[test]
    fn refuses_transport_mode_unknown_attributes_and_repeats() {
        assert_eq!(
            Transform::read(12, [(4, 2), (5, 2), (6, 128)]),
            Err(Refusal::BadAttribute(class::ENCAPSULATION_MODE))
        );
        assert_eq!(Transform::read(12, [(5, 2), (6, 128)]), Err(Refusal::MissingEncapsulation));
        assert_eq!(
            Transform::read(12, [(4, 1), (5, 2), (6, 128), (7, 1)]),
            Err(Refusal::UnknownAttribute(7))
        );
        assert_eq!(
            Transform::read(12, [(4, 1), (4, 1), (5, 2), (6, 128)]),
            Err(Refusal::BadAttribute(class::ENCAPSULATION_MODE))
        );
        // A duration with no type before it.
        assert_eq!(
            Transform::read(12, [(2, 3600), (4, 1), (5, 2), (6, 128)]),
            Err(Refusal::BadAttribute(class::LIFE_DURATION))
        );
        // Two seconds lifetimes.
        assert_eq!(
            Transform::read(12, [(1, 1), (2, 3600), (1, 1), (2, 60), (4, 1), (5, 2), (6, 128)]),
            Err(Refusal::BadAttribute(class::LIFE_DURATION))
        );
    }

    #[test]
    fn a_choice_answers_the_offer_whatever_its_lifetime() {
        let offer = Transform::read(12, [(1, 1), (2, 3600), (4, 3), (5, 5), (6, 256)]).unwrap();
        let chosen = Transform::read(12, [(1, 1), (2, 1200), (4, 3), (5, 5), (6, 256)]).unwrap();
        assert!(offer.answers(&chosen));
        let other_mode = Transform::read(12, [(4, 1), (5, 5), (6, 256)]).unwrap();
        assert!(!offer.answers(&other_mode));
        assert_eq!(offer.proposal, aes_sha256());
        assert_eq!(offer.encapsulation, Encapsulation::UdpTunnel { draft: false });
    }
}
