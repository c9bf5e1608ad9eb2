//! SA payloads: building our offers, choosing from a peer's offer (responder), and checking
//! a peer's choice (initiator), RFC 7296 §2.7 and §3.3.

use ikeway_codec::{
    DhGroup, EncrAlg, EsnMode, IntegAlg, PrfAlg, ProposalRepr, ProtocolId, SaRepr, Spi,
    TransformRepr, TransformType, Transforms,
};
use ikeway_crypto::{Encryption, Integrity, Prf, Suite};

use crate::config::{EsnPolicy, EspProposal, IkeProposal, MAX_ADDITIONAL_KES};
use crate::provider::KeyExchangeProvider;

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
    /// The method chosen for ADDKE1..ADDKE7 (RFC 9370), [`DhGroup::NONE`] where no additional
    /// key exchange is done.
    pub additional_kes: [DhGroup; MAX_ADDITIONAL_KES],
}

impl IkeSuite {
    /// The additional key exchanges to run, in order (ADDKE1 first, NONE skipped).
    pub fn additional_methods(&self) -> impl Iterator<Item = DhGroup> + '_ {
        methods(&self.additional_kes)
    }
}

fn methods(slots: &[DhGroup; MAX_ADDITIONAL_KES]) -> impl Iterator<Item = DhGroup> + '_ {
    slots.iter().copied().filter(|g| *g != DhGroup::NONE)
}

/// Transform type ADDKE`slot+1` (RFC 9370 §2.2.1).
fn addke_type(slot: usize) -> TransformType {
    // Slots are below MAX_ADDITIONAL_KES (7), so the type stays within 6..=12.
    TransformType(TransformType::ADDKE1.0 + slot as u8)
}

/// What a child SA negotiation settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspSuite {
    pub suite: Suite,
    pub esn: bool,
    /// The PFS group, if a KE accompanies the exchange.
    pub group: Option<DhGroup>,
    /// With PFS, the methods chosen for ADDKE1..ADDKE7 (RFC 9370 §2.2.4): one IKE_FOLLOWUP_KE
    /// exchange each after the CREATE_CHILD_SA, [`DhGroup::NONE`] where none is done.
    pub additional_kes: [DhGroup; MAX_ADDITIONAL_KES],
}

impl EspSuite {
    /// The IKE_FOLLOWUP_KE exchanges to run, in order (ADDKE1 first, NONE skipped).
    pub fn additional_methods(&self) -> impl Iterator<Item = DhGroup> + '_ {
        methods(&self.additional_kes)
    }
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
            let addke: usize = p.additional_kes.iter().take(MAX_ADDITIONAL_KES).map(Vec::len).sum();
            let count = 2 + usize::from(p.integrity.is_some()) + p.groups.len() + addke;
            let mut transforms = Transforms::with_capacity(count);
            transforms.push(encr_transform(p.encryption));
            transforms.push(TransformRepr::prf(PrfAlg(p.prf.iana_id())));
            if let Some(i) = p.integrity {
                transforms.push(integ_transform(i));
            }
            transforms.extend(p.groups.iter().map(|g| TransformRepr::dh(*g)));
            transforms.extend(addke_transforms(&p.additional_kes));
            ProposalRepr {
                number: proposal_number(i),
                protocol: ProtocolId::IKE,
                spi: Spi::from_slice(spi),
                transforms,
            }
        })
        .collect();
    SaRepr { proposals }
}

/// ADDKE`i+1` transforms for each method of slot `i`, in order.
fn addke_transforms(slots: &[Vec<DhGroup>]) -> impl Iterator<Item = TransformRepr> + '_ {
    slots.iter().take(MAX_ADDITIONAL_KES).enumerate().flat_map(|(slot, methods)| {
        methods.iter().map(move |g| TransformRepr::new(addke_type(slot), g.0))
    })
}

/// Proposal numbers start at 1 and the codec limits them to one byte; configurations with
/// more than 255 proposals are cut there.
fn proposal_number(index: usize) -> u8 {
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

/// Our ESP offer with our inbound SPI; `with_pfs` adds the PFS groups (CREATE_CHILD_SA only)
/// and the additional key exchanges `additional` (slot `i` is ADDKE`i+1`, RFC 9370 §2.2.4).
pub(crate) fn esp_offer(
    proposals: &[EspProposal],
    spi: u32,
    with_pfs: bool,
    additional: &[Vec<DhGroup>],
) -> SaRepr {
    let proposals = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let esn: &[EsnMode] = match p.esn {
                EsnPolicy::No => &[EsnMode::NO_ESN],
                EsnPolicy::Yes => &[EsnMode::ESN],
                EsnPolicy::Either => &[EsnMode::ESN, EsnMode::NO_ESN],
            };
            let pfs = if with_pfs {
                p.pfs_groups.len()
                    + additional.iter().take(MAX_ADDITIONAL_KES).map(Vec::len).sum::<usize>()
            } else {
                0
            };
            let count = 1 + usize::from(p.integrity.is_some()) + pfs + esn.len();
            let mut transforms = Transforms::with_capacity(count);
            transforms.push(encr_transform(p.encryption));
            if let Some(i) = p.integrity {
                transforms.push(integ_transform(i));
            }
            if with_pfs {
                transforms.extend(p.pfs_groups.iter().map(|g| TransformRepr::dh(*g)));
                transforms.extend(addke_transforms(additional));
            }
            transforms.extend(esn.iter().map(|m| TransformRepr::esn(*m)));
            ProposalRepr {
                number: proposal_number(i),
                protocol: ProtocolId::ESP,
                spi: Spi::from_slice(&spi.to_be_bytes()),
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

/// Which of our configured key-exchange methods an IKE negotiation may pick, applied while
/// matching: a responder used to make two filtered copies of its proposals per IKE_SA_INIT
/// (what the provider supports, then the peer's KE group), 12 allocations of a handshake.
#[derive(Clone, Copy)]
pub(crate) struct IkeLimits<'a> {
    /// Only methods this provider supports (initial groups and additional key exchanges).
    pub(crate) kex: Option<&'a dyn KeyExchangeProvider>,
    /// Only this initial group: the one the peer's KE payload is for.
    pub(crate) group: Option<DhGroup>,
    /// What our additional key exchange slots may give.
    pub(crate) additional: AdditionalLimit,
}

/// How our configured additional key exchanges (RFC 9370) take part in a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdditionalLimit {
    /// As configured.
    AsConfigured,
    /// NONE only, in every slot: for a peer that cannot do IKE_INTERMEDIATE. A slot of ours
    /// without NONE then matches nothing (RFC 9370 §2.2.1: no fallback unless NONE is allowed).
    NoneOnly,
}

impl IkeLimits<'_> {
    /// Our proposals as configured.
    pub(crate) const ANY: IkeLimits<'static> =
        IkeLimits { kex: None, group: None, additional: AdditionalLimit::AsConfigured };

    fn allows_group(&self, g: DhGroup) -> bool {
        self.group.is_none_or(|only| only == g) && self.kex.is_none_or(|k| k.supports(g))
    }

    fn allows_additional(&self, g: DhGroup) -> bool {
        g == DhGroup::NONE
            || (self.additional == AdditionalLimit::AsConfigured
                && self.kex.is_none_or(|k| k.supports(g)))
    }
}

/// Picks the first of our IKE proposals, within `limits`, that the offer's proposal `p` can
/// satisfy.
fn match_ike(p: &ProposalRepr, ours: &[IkeProposal], limits: &IkeLimits<'_>) -> Option<IkeSuite> {
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
            .filter(|g| limits.allows_group(*g))
            .find(|g| offered(p, TransformType::DH).any(|t| t.id == g.0))?;
        let additional_kes =
            match_additional(p, &o.additional_kes, |g| limits.allows_additional(g))?;
        Some(IkeSuite {
            suite: Suite::new(o.encryption, o.integrity).ok()?,
            prf: o.prf,
            group,
            additional_kes,
        })
    })
}

/// RFC 9370 §2.2.1, slot by slot: our first method the proposal `p` has for that ADDKE type.
/// A type `p` leaves out, or a slot we do not configure, stands for NONE, so NONE must then be
/// acceptable to the other: that is how a required additional key exchange is refused by a
/// peer that does not do it, and how an optional one falls back.
/// Only our methods that `allowed` accepts take part (a slot left with none matches nothing).
fn match_additional(
    p: &ProposalRepr,
    slots: &[Vec<DhGroup>],
    allowed: impl Fn(DhGroup) -> bool,
) -> Option<[DhGroup; MAX_ADDITIONAL_KES]> {
    const NONE_ONLY: &[DhGroup] = &[DhGroup::NONE];
    let mut chosen = [DhGroup::NONE; MAX_ADDITIONAL_KES];
    for (slot, choice) in chosen.iter_mut().enumerate() {
        let ours = slots.get(slot).map_or(NONE_ONLY, Vec::as_slice);
        let kind = addke_type(slot);
        let none_offered = offered(p, kind).next().is_none();
        let acceptable = |g: &DhGroup| {
            offered(p, kind).any(|t| t.id == g.0) || (none_offered && *g == DhGroup::NONE)
        };
        *choice = ours.iter().copied().filter(|g| allowed(*g)).find(acceptable)?;
    }
    Some(chosen)
}

/// Our proposals without additional key exchanges.
pub(crate) fn classical(proposals: &[IkeProposal]) -> Vec<IkeProposal> {
    proposals
        .iter()
        .cloned()
        .map(|mut p| {
            p.additional_kes.clear();
            p
        })
        .collect()
}

/// Whether any of our proposals has an additional key exchange to offer (RFC 9242 §3: then we
/// announce INTERMEDIATE_EXCHANGE_SUPPORTED).
pub(crate) fn wants_additional(proposals: &[IkeProposal]) -> bool {
    proposals.iter().any(|p| p.additional_kes.iter().flatten().any(|g| *g != DhGroup::NONE))
}

/// `additional` is what the IKE SA allows for additional key exchanges with PFS (slot `i` is
/// ADDKE`i+1`); without PFS there are none.
fn match_esp(
    p: &ProposalRepr,
    ours: &[EspProposal],
    want_pfs: bool,
    additional: &[Vec<DhGroup>],
) -> Option<EspSuite> {
    if p.protocol != ProtocolId::ESP || p.spi.len() != 4 {
        return None;
    }
    ours.iter().find_map(|o| {
        if !(has_encr(p, o.encryption) && has_integ(p, o.integrity)) {
            return None;
        }
        let no_esn_offered = offered(p, TransformType::ESN).next().is_none();
        // A missing ESN transform is read as "no ESN", which is what such peers mean.
        let peer_allows = |m: EsnMode| {
            offered(p, TransformType::ESN).any(|t| t.id == m.0)
                || (no_esn_offered && m == EsnMode::NO_ESN)
        };
        let esn = match o.esn {
            EsnPolicy::Yes => peer_allows(EsnMode::ESN).then_some(true)?,
            EsnPolicy::No => peer_allows(EsnMode::NO_ESN).then_some(false)?,
            EsnPolicy::Either if peer_allows(EsnMode::ESN) => true,
            EsnPolicy::Either => peer_allows(EsnMode::NO_ESN).then_some(false)?,
        };
        let dh = || offered(p, TransformType::DH).map(|t| t.id).filter(|id| *id != 0);
        let dh_offered = dh().next().is_some();
        let pfs_group = || o.pfs_groups.iter().copied().find(|g| dh().any(|id| id == g.0));
        let group = if want_pfs && dh_offered {
            Some(pfs_group()?)
        } else if !dh_offered || offered(p, TransformType::DH).any(|t| t.id == 0) {
            None
        } else {
            // The peer insists on PFS.
            Some(pfs_group()?)
        };
        let additional_kes = match group {
            Some(_) => match_additional(p, additional, |_| true)?,
            None => [DhGroup::NONE; MAX_ADDITIONAL_KES],
        };
        Some(EspSuite {
            suite: Suite::new(o.encryption, o.integrity).ok()?,
            esn,
            group,
            additional_kes,
        })
    })
}

/// One transform for each ADDKE type the initiator offered in `p`, NONE included (§2.2.1).
fn addke_choice<'a>(
    p: &'a ProposalRepr,
    chosen: &'a [DhGroup; MAX_ADDITIONAL_KES],
) -> impl Iterator<Item = TransformRepr> + 'a {
    chosen.iter().enumerate().filter_map(move |(slot, g)| {
        let kind = addke_type(slot);
        offered(p, kind).next().is_some().then(|| TransformRepr::new(kind, g.0))
    })
}

/// Responder: chooses an IKE proposal from `offer`; returns the suite and the SA payload to
/// answer with (one proposal, one transform of each type, the offer's proposal number).
#[cfg(test)]
pub(crate) fn choose_ike(
    offer: &SaRepr,
    ours: &[IkeProposal],
    our_spi: &[u8],
) -> Option<(IkeSuite, SaRepr)> {
    choose_ike_within(offer, ours, &IkeLimits::ANY, our_spi)
}

/// [`choose_ike`] with our proposals limited by `limits`.
pub(crate) fn choose_ike_within(
    offer: &SaRepr,
    ours: &[IkeProposal],
    limits: &IkeLimits<'_>,
    our_spi: &[u8],
) -> Option<(IkeSuite, SaRepr)> {
    offer.proposals.iter().find_map(|p| {
        let chosen = match_ike(p, ours, limits)?;
        let addke =
            (0..MAX_ADDITIONAL_KES).filter(|s| offered(p, addke_type(*s)).next().is_some()).count();
        let mut transforms = Transforms::with_capacity(4 + addke);
        transforms.push(encr_transform(chosen.suite.encryption()));
        transforms.push(TransformRepr::prf(PrfAlg(chosen.prf.iana_id())));
        if let Some(i) = chosen.suite.integrity() {
            transforms.push(integ_transform(i));
        }
        transforms.push(TransformRepr::dh(chosen.group));
        transforms.extend(addke_choice(p, &chosen.additional_kes));
        let reply = ProposalRepr {
            number: p.number,
            protocol: ProtocolId::IKE,
            spi: Spi::from_slice(our_spi),
            transforms,
        };
        Some((chosen, SaRepr { proposals: vec![reply] }))
    })
}

/// The suite [`choose_ike_within`] would choose, without building the reply.
pub(crate) fn ike_suite_within(
    offer: &SaRepr,
    ours: &[IkeProposal],
    limits: &IkeLimits<'_>,
) -> Option<IkeSuite> {
    offer.proposals.iter().find_map(|p| match_ike(p, ours, limits))
}

/// Responder: chooses an ESP proposal; returns the suite, the peer's SPI and our answer.
pub(crate) fn choose_esp(
    offer: &SaRepr,
    ours: &[EspProposal],
    our_spi: u32,
    want_pfs: bool,
    additional: &[Vec<DhGroup>],
) -> Option<(EspSuite, u32, SaRepr)> {
    offer.proposals.iter().find_map(|p| {
        let chosen = match_esp(p, ours, want_pfs, additional)?;
        let peer_spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
        if peer_spi < MIN_ESP_SPI {
            return None;
        }
        let mut transforms = Transforms::new();
        transforms.push(encr_transform(chosen.suite.encryption()));
        if let Some(i) = chosen.suite.integrity() {
            transforms.push(integ_transform(i));
        }
        if let Some(g) = chosen.group {
            transforms.push(TransformRepr::dh(g));
            transforms.extend(addke_choice(p, &chosen.additional_kes));
        }
        let esn = if chosen.esn { EsnMode::ESN } else { EsnMode::NO_ESN };
        transforms.push(TransformRepr::esn(esn));
        let reply = ProposalRepr {
            number: p.number,
            protocol: ProtocolId::ESP,
            spi: Spi::from_slice(&our_spi.to_be_bytes()),
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
    let addke = (0..MAX_ADDITIONAL_KES).map(addke_type);
    types.into_iter().chain(addke).all(|k| offered(p, k).count() <= 1).then_some(p)
}

/// Initiator: checks the responder's IKE choice against what we offered.
pub(crate) fn accept_ike(reply: &SaRepr, ours: &[IkeProposal]) -> Option<(IkeSuite, Spi)> {
    let p = single_choice(reply)?;
    match_ike(p, ours, &IkeLimits::ANY).map(|s| (s, p.spi.clone()))
}

/// Initiator: checks the responder's ESP choice; returns the suite and the responder's SPI.
pub(crate) fn accept_esp(
    reply: &SaRepr,
    ours: &[EspProposal],
    offered_pfs: bool,
    additional: &[Vec<DhGroup>],
) -> Option<(EspSuite, u32)> {
    let p = single_choice(reply)?;
    let suite = match_esp(p, ours, offered_pfs, additional)?;
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

        let offer = esp_offer(&c.esp_proposals, 0x1234, false, &[]);
        let (esp, peer_spi, reply) =
            choose_esp(&offer, &c.esp_proposals, 0x5678, false, &[]).unwrap();
        assert_eq!(peer_spi, 0x1234);
        assert!(esp.esn, "ESN preferred when both allow it");
        assert_eq!(accept_esp(&reply, &c.esp_proposals, false, &[]), Some((esp, 0x5678)));
    }

    /// Issue 9 finding 9: a peer SPI below 256 passed negotiation, then `OutboundSa::new`
    /// refused it and the error ended `ikeway serve` for every client. Both directions of
    /// the negotiation now refuse it (the caller answers NO_PROPOSAL_CHOSEN).
    #[test]
    fn rejects_reserved_esp_spis() {
        let c = config();
        for reserved in [0u32, 1, 255] {
            let offer = esp_offer(&c.esp_proposals, reserved, false, &[]);
            assert!(
                choose_esp(&offer, &c.esp_proposals, 0x5678, false, &[]).is_none(),
                "{reserved}"
            );
            let (_, _, reply) = choose_esp(
                &esp_offer(&c.esp_proposals, 0x1234, false, &[]),
                &c.esp_proposals,
                reserved,
                false,
                &[],
            )
            .expect("our offer is acceptable");
            assert_eq!(accept_esp(&reply, &c.esp_proposals, false, &[]), None, "{reserved}");
        }
        let offer = esp_offer(&c.esp_proposals, MIN_ESP_SPI, false, &[]);
        assert_eq!(
            choose_esp(&offer, &c.esp_proposals, 0x5678, false, &[]).map(|c| c.1),
            Some(256)
        );
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

    fn with_addke(slots: &[&[DhGroup]]) -> Vec<IkeProposal> {
        let mut ours = config().ike_proposals;
        for p in &mut ours {
            p.additional_kes = slots.iter().map(|s| s.to_vec()).collect();
        }
        ours
    }

    /// The limits a responder applies while matching give what the filtered copies of its
    /// proposals gave: NONE only for a peer without IKE_INTERMEDIATE (a required slot then
    /// matches nothing), and only the group of the peer's KE payload.
    #[test]
    fn limits_act_like_filtered_proposals() {
        let none_only = IkeLimits { additional: AdditionalLimit::NoneOnly, ..IkeLimits::ANY };
        let optional = with_addke(&[MLKEM_OR_NONE]);
        let offer = ike_offer(&optional, &[]);
        let (chosen, _) = choose_ike_within(&offer, &optional, &none_only, &[]).unwrap();
        assert_eq!(chosen.additional_kes, [DhGroup::NONE; MAX_ADDITIONAL_KES]);
        let required = with_addke(&[MLKEM]);
        assert!(ike_suite_within(&ike_offer(&required, &[]), &required, &IkeLimits::ANY).is_some());
        assert!(ike_suite_within(&ike_offer(&required, &[]), &required, &none_only).is_none());

        let c = config();
        let offer = ike_offer(&c.ike_proposals, &[]);
        let p256 = IkeLimits { group: Some(DhGroup::ECP_256), ..IkeLimits::ANY };
        let (chosen, reply) = choose_ike_within(&offer, &c.ike_proposals, &p256, &[]).unwrap();
        assert_eq!(chosen.group, DhGroup::ECP_256, "not X25519, our first choice");
        assert_eq!(accept_ike(&reply, &c.ike_proposals).map(|a| a.0), Some(chosen));
        let modp1024 = IkeLimits { group: Some(DhGroup::MODP_1024), ..IkeLimits::ANY };
        assert!(ike_suite_within(&offer, &c.ike_proposals, &modp1024).is_none());
    }

    fn addke_ids(sa: &SaRepr, slot: usize) -> Vec<u16> {
        offered(&sa.proposals[0], addke_type(slot)).map(|t| t.id).collect()
    }

    const MLKEM: &[DhGroup] = &[DhGroup::ML_KEM_768, DhGroup::ML_KEM_1024];
    const MLKEM_OR_NONE: &[DhGroup] = &[DhGroup::ML_KEM_1024, DhGroup::NONE];

    #[test]
    fn offers_addke_transforms_per_slot_in_order() {
        let offer = ike_offer(&with_addke(&[MLKEM, MLKEM_OR_NONE]), &[]);
        assert_eq!(addke_ids(&offer, 0), [36, 37]);
        assert_eq!(addke_ids(&offer, 1), [37, 0]);
        assert!(addke_ids(&offer, 2).is_empty());
        // Transform types 6 and 7 follow the DH transforms.
        let kinds: Vec<u8> = offer.proposals[0].transforms.iter().map(|t| t.kind.0).collect();
        assert_eq!(kinds, [1, 2, 4, 4, 4, 4, 6, 6, 7, 7]);
        let classical = ike_offer(&config().ike_proposals, &[]);
        assert!(classical.proposals.iter().flat_map(|p| &p.transforms).all(|t| t.kind.0 <= 5));
        assert!(!wants_additional(&config().ike_proposals));
        assert!(wants_additional(&with_addke(&[MLKEM])));
        assert!(!wants_additional(&with_addke(&[&[DhGroup::NONE]])));
    }

    #[test]
    fn chooses_addke_and_initiator_accepts_it() {
        let ours = with_addke(&[MLKEM, MLKEM_OR_NONE]);
        let theirs = with_addke(&[&[DhGroup::ML_KEM_1024, DhGroup::ML_KEM_768], &[DhGroup::NONE]]);
        let (chosen, reply) = choose_ike(&ike_offer(&ours, &[]), &theirs, &[]).unwrap();
        // The responder's preference wins in each slot.
        let mut expected = [DhGroup::NONE; MAX_ADDITIONAL_KES];
        expected[0] = DhGroup::ML_KEM_1024;
        assert_eq!(chosen.additional_kes, expected);
        assert_eq!(chosen.additional_methods().collect::<Vec<_>>(), [DhGroup::ML_KEM_1024]);
        assert_eq!(addke_ids(&reply, 0), [37]);
        assert_eq!(addke_ids(&reply, 1), [0], "NONE is answered for an offered optional slot");
        assert_eq!(accept_ike(&reply, &ours).map(|a| a.0), Some(chosen));
    }

    #[test]
    fn required_addke_is_refused_by_a_classical_peer_and_optional_falls_back() {
        let classical = config().ike_proposals;
        // Initiator requires ML-KEM, responder does none: no proposal.
        assert!(choose_ike(&ike_offer(&with_addke(&[MLKEM]), &[]), &classical, &[]).is_none());
        // Responder requires ML-KEM, initiator offers none: no proposal.
        assert!(choose_ike(&ike_offer(&classical, &[]), &with_addke(&[MLKEM]), &[]).is_none());
        // Optional at the initiator: the classical responder picks NONE.
        let optional = with_addke(&[MLKEM_OR_NONE]);
        let (chosen, reply) = choose_ike(&ike_offer(&optional, &[]), &classical, &[]).unwrap();
        assert_eq!(chosen.additional_kes, [DhGroup::NONE; MAX_ADDITIONAL_KES]);
        assert_eq!(addke_ids(&reply, 0), [0]);
        assert_eq!(accept_ike(&reply, &optional).map(|a| a.0), Some(chosen));
        // A reply that leaves the type out is NONE too: fine when optional, refused when not.
        let (_, bare) =
            choose_ike(&ike_offer(&classical, &[]), &classical, &[]).expect("classical match");
        assert!(accept_ike(&bare, &optional).is_some());
        assert!(accept_ike(&bare, &with_addke(&[MLKEM])).is_none());
        // A reply naming a method we did not offer, or two in one slot, is refused.
        let (_, mut odd) =
            choose_ike(&ike_offer(&with_addke(&[MLKEM]), &[]), &with_addke(&[MLKEM]), &[]).unwrap();
        odd.proposals[0].transforms.push(TransformRepr::new(TransformType::ADDKE1, 37));
        assert!(accept_ike(&odd, &with_addke(&[MLKEM])).is_none(), "two ADDKE1 choices");
        let (_, mut other) =
            choose_ike(&ike_offer(&with_addke(&[MLKEM]), &[]), &with_addke(&[MLKEM]), &[]).unwrap();
        for t in &mut other.proposals[0].transforms {
            if t.kind == TransformType::ADDKE1 {
                t.id = DhGroup::ML_KEM_512.0;
            }
        }
        assert!(accept_ike(&other, &with_addke(&[MLKEM])).is_none(), "not offered");
    }
}
