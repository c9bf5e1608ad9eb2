//! Quick mode SA payloads (RFC 2409 §5.5, RFC 2407 §4.4): our offer, a responder's choice
//! from the peer's offer, and an initiator's check of the responder's answer.

use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_isakmp::{
    DataAttribute, Doi, ProposalRepr, ProtocolId, SaAttribute, SaRepr, TransformRepr,
};

use super::config::{EspProposal, QuickConfig};
use super::suite::{Encapsulation, Refusal, Transform};

/// ESP SPIs below 256 are reserved (RFC 4303 §2.1) and the ESP datapath refuses them.
pub(crate) const MIN_ESP_SPI: u32 = 256;

/// RFC 2407 §4.5: without a Life Duration an IPsec SA lives 28800 seconds.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(28_800);

/// An ESP SA shorter-lived than this is refused, from an offer or a RESPONDER-LIFETIME: a
/// peer could otherwise make us rekey without end.
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// An ESP SA whose kilobyte lifetime (RFC 2407 §4.5) is under this (1 MiB) is refused, for
/// the same reason: a few packets must not end an SA.
pub(crate) const MIN_KILOBYTES: u32 = 1024;

/// Offers more transforms than this are cut: no ESP suite list is longer, and it bounds the
/// work a hostile offer causes.
const MAX_TRANSFORMS: usize = 64;

/// The transforms we offer, in preference order.
pub(crate) fn our_transforms(
    config: &QuickConfig,
    encapsulation: Encapsulation,
    group: Option<DhGroup>,
) -> Vec<Transform> {
    config
        .proposals
        .iter()
        .filter(|p| super::suite::transform_id(p.encryption).is_some())
        .map(|&proposal| Transform {
            proposal,
            encapsulation,
            group,
            lifetime: Some(config.lifetime),
            lifetime_kilobytes: config.lifetime_kilobytes,
            esn: false,
        })
        .collect()
}

/// Our SA payload: one ESP proposal with `spi` holding every transform (alternatives, RFC
/// 2408 §4.2), as strongSwan and iOS send it.
pub(crate) fn offer(transforms: &[Transform], spi: u32) -> SaRepr {
    let transforms = transforms
        .iter()
        .filter_map(Transform::write)
        .take(usize::from(u8::MAX))
        .enumerate()
        .map(|(i, (id, attrs))| to_repr(i, id, &attrs))
        .collect();
    sa_with(ProposalRepr {
        number: 1,
        protocol: ProtocolId::ESP,
        spi: spi.to_be_bytes().to_vec(),
        transforms,
    })
}

fn to_repr(index: usize, id: u8, attrs: &[(u16, u32)]) -> TransformRepr {
    TransformRepr {
        // Numbers count from 1 and the caller keeps them below 256.
        number: u8::try_from(index + 1).unwrap_or(u8::MAX),
        id,
        attributes: attrs
            .iter()
            .map(|&(kind, value)| DataAttribute::integer(kind, u64::from(value)))
            .collect(),
    }
}

fn sa_with(proposal: ProposalRepr) -> SaRepr {
    SaRepr::new(vec![proposal])
}

/// The attributes of a transform as (class, value), refusing any value longer than 32 bits.
fn attributes(t: &TransformRepr) -> Result<Vec<(u16, u32)>, Refusal> {
    t.attributes.iter().map(integer).collect()
}

fn integer(a: &SaAttribute) -> Result<(u16, u32), Refusal> {
    let value = a.value.as_u64().and_then(|v| u32::try_from(v).ok());
    value.map(|v| (a.kind, v)).ok_or(Refusal::BadAttribute(a.kind))
}

/// One ESP proposal with a usable SPI, if `sa` is a single-protocol IPsec offer: proposals
/// sharing a number are combined (AH+ESP, ESP+IPComp) and none of those is done here.
fn esp_proposals(sa: &SaRepr) -> impl Iterator<Item = (&ProposalRepr, u32)> {
    sa.proposals.iter().filter_map(move |p| {
        let alone = sa.proposals.iter().filter(|q| q.number == p.number).count() == 1;
        let spi = <[u8; 4]>::try_from(p.spi.as_slice()).ok().map(u32::from_be_bytes)?;
        (sa.doi == Doi::IPSEC && alone && p.protocol == ProtocolId::ESP && spi >= MIN_ESP_SPI)
            .then_some((p, spi))
    })
}

/// What a responder takes from an initiator's offer.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub transform: Transform,
    /// The initiator's SPI (our outbound).
    pub peer_spi: u32,
    /// The chosen transform exactly as offered, to echo in our answer.
    pub echo: TransformRepr,
}

/// How a responder decides on the initiator's offer.
#[derive(Clone, Copy)]
pub(crate) struct Policy<'a> {
    pub ours: &'a [EspProposal],
    /// ESP in UDP (a NAT was detected), and whether RFC 3947 or a draft was negotiated.
    pub encapsulation: Encapsulation,
    /// Whether the offer carries a KE payload (PFS).
    pub ke_offered: bool,
    /// The group we require (our `QuickConfig::pfs`), if any.
    pub required_group: Option<DhGroup>,
    /// Whether the key exchange provider can do a group.
    pub supports: &'a dyn Fn(DhGroup) -> bool,
}

/// The first transform of the offer (in the peer's order) we accept.
pub(crate) fn choose(sa: &SaRepr, policy: &Policy<'_>) -> Option<Choice> {
    esp_proposals(sa).find_map(|(p, peer_spi)| {
        p.transforms.iter().take(MAX_TRANSFORMS).find_map(|t| {
            let transform = Transform::read(t.id, attributes(t).ok()?).ok()?;
            acceptable(&transform, policy).then(|| Choice { transform, peer_spi, echo: t.clone() })
        })
    })
}

fn acceptable(t: &Transform, policy: &Policy<'_>) -> bool {
    let mode_ok = match (t.encapsulation, policy.encapsulation) {
        (Encapsulation::Tunnel, Encapsulation::Tunnel) => true,
        // Either UDP value is taken once NAT-T is in use: peers mix RFC and draft numbers.
        (Encapsulation::UdpTunnel { .. }, Encapsulation::UdpTunnel { .. }) => true,
        _ => false,
    };
    // A Group Description and a KE payload go together (RFC 2409 §5.5).
    let group_ok = match (t.group, policy.ke_offered, policy.required_group) {
        (None, false, None) => true,
        (Some(g), true, required) => required.is_none_or(|r| r == g) && (policy.supports)(g),
        _ => false,
    };
    let lifetime_ok = t.lifetime.is_none_or(|l| l >= MIN_LIFETIME)
        && t.lifetime_kilobytes.is_none_or(|kb| kb >= MIN_KILOBYTES);
    mode_ok && group_ok && lifetime_ok && policy.ours.contains(&t.proposal)
}

/// Our answer to an offer: the chosen transform with our SPI.
pub(crate) fn answer(choice: &Choice, our_spi: u32) -> SaRepr {
    sa_with(ProposalRepr {
        number: 1,
        protocol: ProtocolId::ESP,
        spi: our_spi.to_be_bytes().to_vec(),
        transforms: vec![choice.echo.clone()],
    })
}

/// Initiator: the responder's answer must hold exactly one ESP proposal with one transform
/// that is one of `offered`. Returns it (with the responder's lifetimes) and the
/// responder's SPI.
pub(crate) fn check_answer(sa: &SaRepr, offered: &[Transform]) -> Option<(Transform, u32)> {
    let [proposal] = sa.proposals.as_slice() else { return None };
    let [t] = proposal.transforms.as_slice() else { return None };
    let (_, spi) = esp_proposals(sa).next()?;
    let chosen = Transform::read(t.id, attributes(t).ok()?).ok()?;
    offered.iter().any(|o| o.answers(&chosen)).then_some((chosen, spi))
}

/// The lifetime attributes of a RESPONDER-LIFETIME notify (RFC 2407 §4.6.3.1): the
/// lifetimes the responder holds the SA to.
pub(crate) fn lifetime_attributes(lifetime: Duration, kilobytes: Option<u32>) -> Vec<SaAttribute> {
    let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
    let mut attrs: Vec<SaAttribute> = vec![
        DataAttribute::basic(super::suite::class::LIFE_TYPE, 1),
        DataAttribute::integer(super::suite::class::LIFE_DURATION, u64::from(secs)),
    ];
    if let Some(kb) = kilobytes {
        attrs.push(DataAttribute::basic(super::suite::class::LIFE_TYPE, 2));
        attrs.push(DataAttribute::integer(super::suite::class::LIFE_DURATION, u64::from(kb)));
    }
    attrs
}

/// Reads a RESPONDER-LIFETIME's attributes into (seconds, kilobytes) limits.
pub(crate) fn read_lifetimes(attrs: &[SaAttribute]) -> (Option<Duration>, Option<u32>) {
    let mut secs = None;
    let mut kb = None;
    let mut life_type = None;
    for a in attrs {
        let Ok((kind, value)) = integer(a) else { continue };
        match kind {
            super::suite::class::LIFE_TYPE => life_type = Some(value),
            super::suite::class::LIFE_DURATION => match life_type.take() {
                Some(1) => secs = Some(Duration::from_secs(u64::from(value))),
                Some(2) => kb = Some(value),
                _ => {}
            },
            _ => {}
        }
    }
    (secs, kb)
}
