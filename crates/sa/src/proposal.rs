//! SA payloads: building our offers, choosing from a peer's offer (responder), and checking
//! a peer's choice (initiator), RFC 7296 §2.7 and §3.3.

use ikeway_codec::{
    DhGroup, EncrAlg, EsnMode, IntegAlg, PrfAlg, ProposalRepr, ProtocolId, SaRepr, TransformRepr,
    TransformType,
};
use ikeway_crypto::{Encryption, Integrity, Prf, Suite};

use crate::config::{EsnPolicy, EspProposal, IkeProposal};

/// ESP SPIs 1-255 are reserved by IANA and 0 is never sent (RFC 4303 §2.1): the ESP crate
/// refuses them, so negotiation must refuse them first, or a peer could make installing its
/// child fail after both sides agreed.
pub(crate) const MIN_ESP_SPI: u32 = 256;

/// What an IKE SA negotiation settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkeSuite {
    pub suite: Suite,
    pub prf: Prf,
    pub group: DhGroup,
}

/// What a child SA negotiation settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspSuite {
    pub suite: Suite,
    pub esn: bool,
    /// The PFS group, if a KE accompanies the exchange.
    pub group: Option<DhGroup>,
}

fn encr_transform(e: Encryption) -> TransformRepr {
    TransformRepr::encr(EncrAlg(e.iana_id()), e.key_bits_attribute())
}

fn integ_transform(i: Integrity) -> TransformRepr {
    TransformRepr::integ(IntegAlg(i.iana_id()))
}

/// Our IKE offer. `spi` is empty for IKE_SA_INIT and the new SPI for an IKE rekey (§3.3.1).
pub(crate) fn ike_offer(proposals: &[IkeProposal], spi: &[u8]) -> SaRepr {
    let proposals = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms = vec![encr_transform(p.encryption)];
            transforms.push(TransformRepr::prf(PrfAlg(p.prf.iana_id())));
            if let Some(i) = p.integrity {
                transforms.push(integ_transform(i));
            }
            transforms.extend(p.groups.iter().map(|g| TransformRepr::dh(*g)));
            ProposalRepr {
                number: proposal_number(i),
                protocol: ProtocolId::IKE,
                spi: spi.to_vec(),
                transforms,
            }
        })
        .collect();
    SaRepr { proposals }
}

/// Proposal numbers start at 1 and the codec limits them to one byte; configurations with
/// more than 255 proposals are cut there.
fn proposal_number(index: usize) -> u8 {
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

/// Our ESP offer with our inbound SPI; `with_pfs` adds the PFS groups (CREATE_CHILD_SA only).
pub(crate) fn esp_offer(proposals: &[EspProposal], spi: u32, with_pfs: bool) -> SaRepr {
    let proposals = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms = vec![encr_transform(p.encryption)];
            if let Some(i) = p.integrity {
                transforms.push(integ_transform(i));
            }
            if with_pfs {
                transforms.extend(p.pfs_groups.iter().map(|g| TransformRepr::dh(*g)));
            }
            let esn: &[EsnMode] = match p.esn {
                EsnPolicy::No => &[EsnMode::NO_ESN],
                EsnPolicy::Yes => &[EsnMode::ESN],
                EsnPolicy::Either => &[EsnMode::ESN, EsnMode::NO_ESN],
            };
            transforms.extend(esn.iter().map(|m| TransformRepr::esn(*m)));
            ProposalRepr {
                number: proposal_number(i),
                protocol: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms,
            }
        })
        .collect();
    SaRepr { proposals }
}

fn offered(p: &ProposalRepr, kind: TransformType) -> impl Iterator<Item = &TransformRepr> {
    p.transforms.iter().filter(move |t| t.kind == kind)
}

fn has_encr(p: &ProposalRepr, e: Encryption) -> bool {
    offered(p, TransformType::ENCR).any(|t| Encryption::from_iana(t.id, t.key_length()) == Some(e))
}

/// AEADs carry no integrity transform, or INTEG NONE (RFC 5282 §8).
fn has_integ(p: &ProposalRepr, i: Option<Integrity>) -> bool {
    let mut integ = offered(p, TransformType::INTEG);
    match i {
        Some(i) => integ.any(|t| t.id == i.iana_id()),
        None => offered(p, TransformType::INTEG).all(|t| t.id == 0),
    }
}

/// Picks the first of our IKE proposals that the offer's proposal `p` can satisfy.
fn match_ike(p: &ProposalRepr, ours: &[IkeProposal]) -> Option<IkeSuite> {
    if p.protocol != ProtocolId::IKE {
        return None;
    }
    ours.iter().find_map(|o| {
        let prf_ok = offered(p, TransformType::PRF).any(|t| t.id == o.prf.iana_id());
        if !(has_encr(p, o.encryption) && has_integ(p, o.integrity) && prf_ok) {
            return None;
        }
        let group = o
            .groups
            .iter()
            .copied()
            .find(|g| offered(p, TransformType::DH).any(|t| t.id == g.0))?;
        Some(IkeSuite { suite: Suite::new(o.encryption, o.integrity).ok()?, prf: o.prf, group })
    })
}

fn match_esp(p: &ProposalRepr, ours: &[EspProposal], want_pfs: bool) -> Option<EspSuite> {
    if p.protocol != ProtocolId::ESP || p.spi.len() != 4 {
        return None;
    }
    ours.iter().find_map(|o| {
        if !(has_encr(p, o.encryption) && has_integ(p, o.integrity)) {
            return None;
        }
        let offered_esn: Vec<u16> = offered(p, TransformType::ESN).map(|t| t.id).collect();
        // A missing ESN transform is read as "no ESN", which is what such peers mean.
        let peer_allows = |m: EsnMode| {
            offered_esn.contains(&m.0) || (offered_esn.is_empty() && m == EsnMode::NO_ESN)
        };
        let esn = match o.esn {
            EsnPolicy::Yes => peer_allows(EsnMode::ESN).then_some(true)?,
            EsnPolicy::No => peer_allows(EsnMode::NO_ESN).then_some(false)?,
            EsnPolicy::Either if peer_allows(EsnMode::ESN) => true,
            EsnPolicy::Either => peer_allows(EsnMode::NO_ESN).then_some(false)?,
        };
        let dh: Vec<u16> =
            offered(p, TransformType::DH).map(|t| t.id).filter(|id| *id != 0).collect();
        let group = if want_pfs && !dh.is_empty() {
            Some(o.pfs_groups.iter().copied().find(|g| dh.contains(&g.0))?)
        } else if dh.is_empty() || offered(p, TransformType::DH).any(|t| t.id == 0) {
            None
        } else {
            // The peer insists on PFS.
            Some(o.pfs_groups.iter().copied().find(|g| dh.contains(&g.0))?)
        };
        Some(EspSuite { suite: Suite::new(o.encryption, o.integrity).ok()?, esn, group })
    })
}

/// Responder: chooses an IKE proposal from `offer`; returns the suite and the SA payload to
/// answer with (one proposal, one transform of each type, the offer's proposal number).
pub(crate) fn choose_ike(
    offer: &SaRepr,
    ours: &[IkeProposal],
    our_spi: &[u8],
) -> Option<(IkeSuite, SaRepr)> {
    offer.proposals.iter().find_map(|p| {
        let chosen = match_ike(p, ours)?;
        let mut transforms = vec![encr_transform(chosen.suite.encryption())];
        transforms.push(TransformRepr::prf(PrfAlg(chosen.prf.iana_id())));
        if let Some(i) = chosen.suite.integrity() {
            transforms.push(integ_transform(i));
        }
        transforms.push(TransformRepr::dh(chosen.group));
        let reply = ProposalRepr {
            number: p.number,
            protocol: ProtocolId::IKE,
            spi: our_spi.to_vec(),
            transforms,
        };
        Some((chosen, SaRepr { proposals: vec![reply] }))
    })
}

/// Responder: chooses an ESP proposal; returns the suite, the peer's SPI and our answer.
pub(crate) fn choose_esp(
    offer: &SaRepr,
    ours: &[EspProposal],
    our_spi: u32,
    want_pfs: bool,
) -> Option<(EspSuite, u32, SaRepr)> {
    offer.proposals.iter().find_map(|p| {
        let chosen = match_esp(p, ours, want_pfs)?;
        let peer_spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
        if peer_spi < MIN_ESP_SPI {
            return None;
        }
        let mut transforms = vec![encr_transform(chosen.suite.encryption())];
        if let Some(i) = chosen.suite.integrity() {
            transforms.push(integ_transform(i));
        }
        if let Some(g) = chosen.group {
            transforms.push(TransformRepr::dh(g));
        }
        let esn = if chosen.esn { EsnMode::ESN } else { EsnMode::NO_ESN };
        transforms.push(TransformRepr::esn(esn));
        let reply = ProposalRepr {
            number: p.number,
            protocol: ProtocolId::ESP,
            spi: our_spi.to_be_bytes().to_vec(),
            transforms,
        };
        Some((chosen, peer_spi, SaRepr { proposals: vec![reply] }))
    })
}

/// The reply holds exactly one proposal with at most one transform of each type.
fn single_choice(reply: &SaRepr) -> Option<&ProposalRepr> {
    let [p] = reply.proposals.as_slice() else { return None };
    let types = [
        TransformType::ENCR,
        TransformType::PRF,
        TransformType::INTEG,
        TransformType::DH,
        TransformType::ESN,
    ];
    types.iter().all(|k| offered(p, *k).count() <= 1).then_some(p)
}

/// Initiator: checks the responder's IKE choice against what we offered.
pub(crate) fn accept_ike(reply: &SaRepr, ours: &[IkeProposal]) -> Option<(IkeSuite, Vec<u8>)> {
    let p = single_choice(reply)?;
    match_ike(p, ours).map(|s| (s, p.spi.clone()))
}

/// Initiator: checks the responder's ESP choice; returns the suite and the responder's SPI.
pub(crate) fn accept_esp(
    reply: &SaRepr,
    ours: &[EspProposal],
    offered_pfs: bool,
) -> Option<(EspSuite, u32)> {
    let p = single_choice(reply)?;
    let suite = match_esp(p, ours, offered_pfs)?;
    let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
    (spi >= MIN_ESP_SPI).then_some((suite, spi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use ikeway_codec::IdRepr;

    fn config() -> Config {
        Config::new(IdRepr::from_value(ikeway_codec::IdValue::Fqdn("a")), Default::default())
    }

    #[test]
    fn responder_choice_is_accepted_by_initiator() {
        let c = config();
        let offer = ike_offer(&c.ike_proposals, &[]);
        let (chosen, reply) = choose_ike(&offer, &c.ike_proposals, &[]).unwrap();
        assert_eq!(chosen.group, DhGroup::CURVE25519);
        let (accepted, spi) = accept_ike(&reply, &c.ike_proposals).unwrap();
        assert_eq!(accepted, chosen);
        assert!(spi.is_empty());

        let offer = esp_offer(&c.esp_proposals, 0x1234, false);
        let (esp, peer_spi, reply) = choose_esp(&offer, &c.esp_proposals, 0x5678, false).unwrap();
        assert_eq!(peer_spi, 0x1234);
        assert!(esp.esn, "ESN preferred when both allow it");
        assert_eq!(accept_esp(&reply, &c.esp_proposals, false), Some((esp, 0x5678)));
    }

    /// Issue 9 finding 9: a peer SPI below 256 passed negotiation, then `OutboundSa::new`
    /// refused it and the error ended `ikeway serve` for every client. Both directions of
    /// the negotiation now refuse it (the caller answers NO_PROPOSAL_CHOSEN).
    #[test]
    fn rejects_reserved_esp_spis() {
        let c = config();
        for reserved in [0u32, 1, 255] {
            let offer = esp_offer(&c.esp_proposals, reserved, false);
            assert!(choose_esp(&offer, &c.esp_proposals, 0x5678, false).is_none(), "{reserved}");
            let (_, _, reply) = choose_esp(
                &esp_offer(&c.esp_proposals, 0x1234, false),
                &c.esp_proposals,
                reserved,
                false,
            )
            .expect("our offer is acceptable");
            assert_eq!(accept_esp(&reply, &c.esp_proposals, false), None, "{reserved}");
        }
        let offer = esp_offer(&c.esp_proposals, MIN_ESP_SPI, false);
        assert_eq!(choose_esp(&offer, &c.esp_proposals, 0x5678, false).map(|c| c.1), Some(256));
    }

    #[test]
    fn rejects_reply_with_two_choices() {
        let c = config();
        let offer = ike_offer(&c.ike_proposals[..1], &[]);
        assert!(
            accept_ike(&offer, &c.ike_proposals).is_none(),
            "an offer with 4 groups is not a choice"
        );
    }

    #[test]
    fn no_overlap_means_no_choice() {
        let c = config();
        let mut theirs = c.ike_proposals.clone();
        for p in &mut theirs {
            p.groups = vec![DhGroup::MODP_1024];
        }
        assert!(choose_ike(&ike_offer(&theirs, &[]), &c.ike_proposals, &[]).is_none());
    }
}
