//! Child SAs: choosing, checking and installing them, and CREATE_CHILD_SA for new and
//! rekeyed children (RFC 7296 §1.3, §2.8, §2.9, §2.17).

use std::borrow::Cow;

use super::*;

/// A child SA agreed on and not installed yet.
#[derive(Debug)]
pub(super) struct NewChild<'n> {
    pub(super) suite: EspSuite,
    pub(super) spi_in: u32,
    pub(super) spi_out: u32,
    /// The nonces of the exchange that made it: borrowed when the child is installed at once,
    /// owned when a follow-up chain keeps it ([`NewChild::into_owned`]).
    pub(super) ni: Cow<'n, [u8]>,
    pub(super) nr: Cow<'n, [u8]>,
    pub(super) local_ts: ts::Narrowed,
    pub(super) remote_ts: ts::Narrowed,
    /// The inbound SPI of the child it replaces (a rekey).
    pub(super) rekey_of: Option<u32>,
    /// We sent the request that made it (§2.17: its key order).
    pub(super) created_by_us: bool,
}

impl NewChild<'_> {
    /// The same child with nonces of its own, for a follow-up chain to keep.
    pub(super) fn into_owned(self) -> NewChild<'static> {
        NewChild {
            suite: self.suite,
            spi_in: self.spi_in,
            spi_out: self.spi_out,
            ni: Cow::Owned(self.ni.into_owned()),
            nr: Cow::Owned(self.nr.into_owned()),
            local_ts: self.local_ts,
            remote_ts: self.remote_ts,
            rekey_of: self.rekey_of,
            created_by_us: self.created_by_us,
        }
    }
}

impl IkeSa {
    /// Responder: chooses a child proposal and selectors and installs the child, or, when
    /// additional key exchanges were chosen (RFC 9370 §2.2.4), hands back the follow-up chain
    /// that installs it later. Appends the payloads for the response (SA, [KE,] TSi, TSr) to
    /// `reply`, the response being built, or leaves it as it was and gives the notify that
    /// refuses the child.
    pub(super) fn respond_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        ni: &[u8],
        nr: &[u8],
        rekey_of: Option<u32>,
        reply: &mut Vec<Payload>,
    ) -> Result<Option<followup_ke::Chain>, NotifyType> {
        let config = Arc::clone(&self.config);
        let offer = find_payload!(payloads, Sa).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsi = find_payload!(payloads, TsI).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsr = find_payload!(payloads, TsR).ok_or(NotifyType::INVALID_SYNTAX)?;
        // The peer's side is the initiator's (TSi) selectors, narrowed to what it may claim;
        // our side is TSr narrowed to what we serve (§2.9).
        let remote_ts = self.allowed_remote_ts(&tsi.selectors)?;
        let local_ts =
            ts::narrow(&tsr.selectors, &config.local_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let spi_in = self.random_spi32();
        let kept = reply.len();
        let result = self.respond_child_with_spi(
            now, payloads, offer, spi_in, ni, nr, rekey_of, local_ts, remote_ts, reply,
        );
        if result.is_err() {
            reply.truncate(kept);
            self.release_child_spi(spi_in);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn respond_child_with_spi(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        offer: &ikeway_codec::SaRepr,
        spi_in: u32,
        ni: &[u8],
        nr: &[u8],
        rekey_of: Option<u32>,
        local_ts: ts::Narrowed,
        remote_ts: ts::Narrowed,
        reply: &mut Vec<Payload>,
    ) -> Result<Option<followup_ke::Chain>, NotifyType> {
        let config = Arc::clone(&self.config);
        // A KE payload asks for PFS (§1.3.1); we answer it as the side that speaks second.
        let peer_ke = find_payload!(payloads, Ke);
        let want_pfs = peer_ke.is_some();
        let additional = self.child_additional();
        let (suite, spi_out, sa_reply) =
            proposal::choose_esp(offer, &config.esp_proposals, spi_in, want_pfs, &additional)
                .ok_or(NotifyType::NO_PROPOSAL_CHOSEN)?;
        self.claim_remote_ts(spi_in, &remote_ts)?;
        // SA, KE, TSi, TSr, into the response itself (no Vec of their own, no move after).
        reply.push(Payload::new(PayloadRepr::Sa(sa_reply)));
        let mut secrets = Vec::new();
        if let Some(ke) = peer_ke {
            // `respond`, not start-then-complete: for a KEM the answer is a ciphertext.
            let (public, secret) = self
                .kex_provider
                .respond(ke.group, &ke.data, &mut self.rng)
                .map_err(|_| NotifyType::INVALID_SYNTAX)?;
            secrets.push(secret);
            reply.push(Payload::new(PayloadRepr::Ke(KeRepr {
                group: ke.group,
                data: public.into(),
            })));
        }
        reply.push(Payload::new(PayloadRepr::TsI(TsRepr {
            selectors: Selectors::from(&remote_ts[..]),
        })));
        reply.push(Payload::new(PayloadRepr::TsR(TsRepr {
            selectors: Selectors::from(&local_ts[..]),
        })));
        let child = NewChild {
            suite,
            spi_in,
            spi_out,
            ni: Cow::Borrowed(ni),
            nr: Cow::Borrowed(nr),
            local_ts,
            remote_ts,
            rekey_of,
            created_by_us: false,
        };
        if suite.additional_methods().next().is_some() {
            let target = followup_ke::Target::Child(child.into_owned());
            let chain = followup_ke::Chain::new(target, secrets);
            return Ok(Some(chain));
        }
        self.install_child(now, child, &secrets).map_err(|_| NotifyType::NO_PROPOSAL_CHOSEN)?;
        Ok(None)
    }

    /// The peer's selectors we accept, narrowed from what it proposed or answered (RFC 7296
    /// §2.9), or the notify that refuses them. Always within `remote_ts`. On a responder's
    /// SA (issue 9 finding 6): a client with a leased address speaks for that address only,
    /// and an empty intersection is TS_UNACCEPTABLE, never the unnarrowed proposal; a client
    /// without a lease may name single addresses only, unless `wide_remote_ts`. That another
    /// client holds them already is checked when the child is claimed (`claim_remote_ts`).
    pub(super) fn allowed_remote_ts(
        &self,
        proposed: &[ikeway_codec::TrafficSelector],
    ) -> Result<ts::Narrowed, NotifyType> {
        let narrowed =
            ts::narrow(proposed, &self.config.remote_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        if self.registry.is_none() {
            return Ok(narrowed);
        }
        let narrowed = if !self.leases.is_empty() {
            ts::narrow(&narrowed, &self.lease_selectors())
        } else if self.config.wide_remote_ts {
            Some(narrowed)
        } else {
            let single: ts::Narrowed = narrowed.into_iter().filter(ts::is_single_address).collect();
            (!single.is_empty()).then_some(single)
        };
        narrowed.filter(|n| n.len() <= ts::MAX_SELECTORS).ok_or(NotifyType::TS_UNACCEPTABLE)
    }

    /// One selector per leased address: inline for the usual one or two (IPv4, IPv6).
    fn lease_selectors(
        &self,
    ) -> ikeway_codec::smallvec::SmallVec<[ikeway_codec::TrafficSelector; 2]> {
        self.leases
            .iter()
            .map(|a| ikeway_codec::TrafficSelector::Range(ikeway_codec::AddrRange::any(*a, *a)))
            .collect()
    }

    /// Records the child's remote selectors in the responder's registry, refusing them with
    /// TS_UNACCEPTABLE if they overlap another IKE SA's: no client may receive or send
    /// another's traffic (issue 9 finding 6).
    fn claim_remote_ts(
        &mut self,
        spi_in: u32,
        remote_ts: &[ikeway_codec::TrafficSelector],
    ) -> Result<(), NotifyType> {
        let owner = self.owner;
        match self.with_registry(|r| r.claim_remote(owner, spi_in, remote_ts)) {
            Some(false) => Err(NotifyType::TS_UNACCEPTABLE),
            Some(true) | None => Ok(()),
        }
    }

    /// The selectors to propose for a new child, or again for the one we rekey.
    fn proposed_ts(
        &self,
        rekey_of: Option<u32>,
    ) -> (Vec<ikeway_codec::TrafficSelector>, Vec<ikeway_codec::TrafficSelector>) {
        if let Some(c) = rekey_of.and_then(|s| self.children.iter().find(|c| c.spi_in == s)) {
            return (c.local_ts.to_vec(), c.remote_ts.to_vec());
        }
        let remote = if self.registry.is_some() && !self.leases.is_empty() {
            self.lease_selectors().into_vec()
        } else {
            self.config.remote_ts.clone()
        };
        (self.config.local_ts.clone(), remote)
    }

    /// Initiator: checks the responder's child reply and installs the child, or hands back
    /// what the IKE_FOLLOWUP_KE exchanges need when additional key exchanges were chosen.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn accept_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        spi_in: u32,
        ni: &[u8],
        nr: &[u8],
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    ) -> Result<Option<followup_ke::Chain>, NotifyType> {
        let config = Arc::clone(&self.config);
        let reply = find_payload!(payloads, Sa).ok_or(NotifyType::INVALID_SYNTAX)?;
        let additional = if kex.is_some() { self.child_additional() } else { Vec::new() };
        let (suite, spi_out) =
            proposal::accept_esp(reply, &config.esp_proposals, kex.is_some(), &additional)
                .ok_or(NotifyType::NO_PROPOSAL_CHOSEN)?;
        let tsi = find_payload!(payloads, TsI).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsr = find_payload!(payloads, TsR).ok_or(NotifyType::INVALID_SYNTAX)?;
        // The responder may only narrow what we asked for.
        let local_ts =
            ts::narrow(&tsi.selectors, &config.local_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let remote_ts = self.allowed_remote_ts(&tsr.selectors)?;
        let mut secrets = Vec::new();
        if let Some(kex) = kex {
            let ke = find_payload!(payloads, Ke).ok_or(NotifyType::INVALID_SYNTAX)?;
            if Some(kex.group()) != suite.group {
                return Err(NotifyType::INVALID_KE_PAYLOAD);
            }
            secrets.push(kex.complete(&ke.data).map_err(|_| NotifyType::INVALID_SYNTAX)?);
        }
        self.claim_remote_ts(spi_in, &remote_ts)?;
        let child = NewChild {
            suite,
            spi_in,
            spi_out,
            ni: Cow::Borrowed(ni),
            nr: Cow::Borrowed(nr),
            local_ts,
            remote_ts,
            rekey_of,
            created_by_us: true,
        };
        if suite.additional_methods().next().is_some() {
            let target = followup_ke::Target::Child(child.into_owned());
            return Ok(Some(followup_ke::Chain::new(target, secrets)));
        }
        self.install_child(now, child, &secrets).map_err(|_| NotifyType::NO_PROPOSAL_CHOSEN)?;
        Ok(None)
    }

    /// Installs a negotiated child. `secrets` are the exchange's shared secrets in order: none
    /// without PFS, g^ir, then one per IKE_FOLLOWUP_KE (RFC 9370 §2.2.4).
    pub(super) fn install_child(
        &mut self,
        now: Instant,
        child: NewChild<'_>,
        secrets: &[SecretBytes],
    ) -> Result<(), crate::Error> {
        let NewChild {
            suite,
            spi_in,
            spi_out,
            ni,
            nr,
            local_ts,
            remote_ts,
            rekey_of,
            created_by_us,
        } = child;
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let (e, i) = (suite.suite.encryption_key_len(), suite.suite.integrity_key_len());
        let secrets: Vec<&[u8]> = secrets.iter().map(SecretBytes::expose).collect();
        let keys = ChildKeys::derive(
            crypto.suite.prf,
            crypto.keys.sk_d.expose(),
            &secrets,
            &ni,
            &nr,
            e,
            i,
        )?;
        // §2.17: the keys of the exchange's initiator -> responder direction come first, and
        // that is whoever sent the request that created this child (a CREATE_CHILD_SA from
        // the original responder included), as Ni | Nr are that exchange's nonces.
        let (outbound, inbound) = if created_by_us {
            (keys.initiator_to_responder, keys.responder_to_initiator)
        } else {
            (keys.responder_to_initiator, keys.initiator_to_responder)
        };
        let lifetime = self.config.lifetimes.child;
        let (rekey_at, expire_at) = self.jittered(now, lifetime);
        // Kept for simultaneous rekeys (§2.8.1): the one copy of a nonce a child makes.
        let lowest_nonce = SmallVec::from_slice(if ni <= nr { &ni[..] } else { &nr[..] });
        // Grown one at a time: most SAs hold one child for life, and a first push would
        // reserve four 120-byte slots.
        self.children.reserve_exact(1);
        self.children.push(Child {
            spi_in,
            spi_out,
            rekey_at,
            expire_at,
            rekeying: false,
            lowest_nonce,
            created_by_us,
            // Inline copies (no allocation for one selector per family); the event below
            // takes the one heap copy each side needs.
            local_ts: local_ts.clone(),
            remote_ts: remote_ts.clone(),
        });
        self.events.push_back(Event::ChildSaInstalled(Box::new(ChildSaInfo {
            spi_in,
            spi_out,
            suite,
            inbound,
            outbound,
            local_ts: local_ts.into_vec(),
            remote_ts: remote_ts.into_vec(),
            lifetime,
            lifetime_bytes: None,
            replaces: rekey_of,
            remote: self.remote,
            udp_encapsulation: self.nat_t,
        })));
        Ok(())
    }

    pub(super) fn remove_child(&mut self, spi_in: u32) -> Option<u32> {
        let index = self.children.iter().position(|c| c.spi_in == spi_in)?;
        let child = self.children.remove(index);
        self.release_child_spi(child.spi_in);
        self.events
            .push_back(Event::ChildSaRemoved { spi_in: child.spi_in, spi_out: child.spi_out });
        Some(child.spi_out)
    }

    pub(super) fn pfs_kex(&mut self) -> Result<Option<Box<dyn ActiveKeyExchange>>, crate::Error> {
        let group = self
            .config
            .esp_proposals
            .iter()
            .flat_map(|p| p.pfs_groups.iter())
            .copied()
            .find(|g| self.kex_provider.supports(*g));
        group
            .map(|g| self.kex_provider.start(g, &mut self.rng).map_err(crate::Error::Kex))
            .transpose()
    }

    pub(super) fn start_create_child(
        &mut self,
        now: Instant,
        rekey_of: Option<u32>,
    ) -> Result<(), crate::Error> {
        let config = Arc::clone(&self.config);
        let spi_in = self.random_spi32();
        let ni = self.random_bytes(NONCE_LEN);
        let kex = self.pfs_kex()?;
        let mut inner = Vec::new();
        if let Some(old) = rekey_of {
            inner.push(Payload::new(PayloadRepr::Notify(NotifyRepr {
                protocol: ProtocolId::ESP,
                spi: ikeway_codec::Spi::from_slice(&old.to_be_bytes()),
                kind: NotifyType::REKEY_SA,
                data: ikeway_codec::NotifyData::new(),
            })));
        }
        let additional = if kex.is_some() { self.child_additional() } else { Vec::new() };
        inner.push(Payload::new(PayloadRepr::Sa(proposal::esp_offer(
            &config.esp_proposals,
            spi_in,
            kex.is_some(),
            &additional,
        ))));
        inner.push(Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.as_slice().into() })));
        if let Some(k) = &kex {
            inner.push(Payload::new(PayloadRepr::Ke(KeRepr {
                group: k.group(),
                data: k.public_value().into(),
            })));
        }
        let (local_ts, remote_ts) = self.proposed_ts(rekey_of);
        inner.push(Payload::new(PayloadRepr::TsI(TsRepr { selectors: local_ts.into() })));
        inner.push(Payload::new(PayloadRepr::TsR(TsRepr { selectors: remote_ts.into() })));
        let kind = Request::CreateChild { spi_in, ni, kex, rekey_of };
        self.send_encrypted_request(now, ExchangeType::CREATE_CHILD_SA, &inner, kind)
    }

    pub(super) fn finish_create_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        spi_in: u32,
        ni: &[u8],
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    ) {
        if let Some(error) = first_error(payloads) {
            let delay = self.retry_delay();
            if let Some(old) =
                rekey_of.and_then(|s| self.children.iter_mut().find(|c| c.spi_in == s))
            {
                // Try again later; TEMPORARY_FAILURE means a collision on the peer (§2.25).
                old.rekeying = false;
                old.rekey_at = now + delay;
            }
            self.release_child_spi(spi_in);
            self.events.push_back(Event::ChildSaRefused { notify: error });
            return;
        }
        let Some(nr) = find_payload!(payloads, Nonce)
            .filter(|n| NONCE_RANGE.contains(&n.data.len()))
            .map(|n| n.data.to_vec())
        else {
            self.release_child_spi(spi_in);
            self.events.push_back(Event::ChildSaRefused { notify: NotifyType::INVALID_SYNTAX });
            return;
        };
        let chain = match self.accept_child(now, payloads, spi_in, ni, &nr, kex, rekey_of) {
            Ok(chain) => chain,
            Err(n) => {
                self.release_child_spi(spi_in);
                self.events.push_back(Event::ChildSaRefused { notify: n });
                return;
            }
        };
        if let Some(chain) = chain {
            // The child is made by the IKE_FOLLOWUP_KE exchanges that follow (RFC 9370 §2.2.4).
            let link = followup_ke::link(payloads);
            self.continue_followup(now, chain, link);
            return;
        }
        if let Some(old) = rekey_of {
            self.settle_own_rekey(old, spi_in, ni, &nr);
        }
    }

    /// After our rekey of `old` made `new_in`: §2.8.1, if the peer rekeyed the same SA at the
    /// same time, the new SA made with the lowest of the four nonces is redundant, and its
    /// creator deletes it.
    pub(super) fn settle_own_rekey(&mut self, old: u32, new_in: u32, ni: &[u8], nr: &[u8]) {
        let ours_lowest = if ni <= nr { ni } else { nr };
        let theirs = self
            .children
            .iter()
            .find(|c| {
                !c.created_by_us
                    && c.spi_in != new_in
                    && self.collided_with.contains(&(old, c.spi_in))
            })
            .map(|c| (c.spi_in, c.lowest_nonce.clone()));
        match theirs {
            Some((_, their_lowest)) if ours_lowest < &their_lowest[..] => {
                // Our new SA is redundant: delete it; the peer deletes the old one.
                self.queue(Command::DeleteChild(new_in));
            }
            _ => self.queue(Command::DeleteChild(old)),
        }
        self.collided_with.retain(|(o, _)| *o != old);
    }

    /// After the peer's rekey of `old` made `new_in`: if we are rekeying the same SA, the
    /// collision is remembered for when ours completes (§2.8.1).
    pub(super) fn note_peer_rekey(&mut self, old: u32, new_in: u32) {
        if self.children.iter().any(|c| c.spi_in == old && c.rekeying) {
            self.collided_with.push((old, new_in));
        }
    }

    pub(super) fn handle_create_child_request(
        &mut self,
        now: Instant,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        // The peer's window is one request: a new CREATE_CHILD_SA means it gave up the
        // IKE_FOLLOWUP_KE exchanges of its last one, if any were left (RFC 9370 §2.2.4).
        self.drop_followup();
        let Some(ni) = find_payload!(payloads, Nonce)
            .filter(|n| NONCE_RANGE.contains(&n.data.len()))
            .map(|n| n.data.to_vec())
        else {
            return self.send_response(
                mid,
                ExchangeType::CREATE_CHILD_SA,
                &[notify(NotifyType::INVALID_SYNTAX, Vec::new())],
            );
        };
        let nr = self.random_bytes(NONCE_LEN);
        let offer = find_payload!(payloads, Sa);
        let is_ike_rekey =
            offer.is_some_and(|sa| sa.proposals.iter().any(|p| p.protocol == ProtocolId::IKE));
        if is_ike_rekey {
            return self.respond_rekey_ike(now, mid, payloads, &ni, nr);
        }
        let rekey_of = find_notify(payloads, NotifyType::REKEY_SA)
            .and_then(|n| <[u8; 4]>::try_from(n.spi.as_slice()).ok())
            .map(u32::from_be_bytes)
            .and_then(|their_old_in| {
                self.children.iter().find(|c| c.spi_out == their_old_in).map(|c| c.spi_in)
            });
        if let Some(old) = rekey_of {
            // The peer rekeys it: a rekey of ours not yet sent would only collide (§2.8).
            self.queued.retain(|c| *c != Command::RekeyChild(old));
        }
        if find_notify(payloads, NotifyType::REKEY_SA).is_some() && rekey_of.is_none() {
            return self.send_response(
                mid,
                ExchangeType::CREATE_CHILD_SA,
                &[notify(NotifyType::CHILD_SA_NOT_FOUND, Vec::new())],
            );
        }
        // Bounded children per IKE SA (issue 9 finding 8); a rekey holds old and new at once
        // until the old is deleted, so rekeys get twice the room.
        let cap = self.config.max_children;
        let room = if rekey_of.is_some() { cap.saturating_mul(2) } else { cap };
        if self.children.len() >= room {
            self.stats.children_refused += 1;
            return self.send_response(
                mid,
                ExchangeType::CREATE_CHILD_SA,
                &[notify(NotifyType::NO_ADDITIONAL_SAS, Vec::new())],
            );
        }
        // SA, Nonce, [KE,] TSi, TSr and a follow-up notify at most.
        let mut reply = Vec::with_capacity(6);
        match self.respond_child(now, payloads, &ni, &nr, rekey_of, &mut reply) {
            Ok(chain) => {
                // §1.3.1 / §1.3.2: the nonce comes right after the SA.
                reply.insert(1, Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr.into() })));
                match chain {
                    Some(chain) => reply.push(self.await_followup(now, chain)),
                    None => {
                        if let Some(old) = rekey_of {
                            let new_in =
                                self.children.last().map(|c| c.spi_in).expect("just installed");
                            self.note_peer_rekey(old, new_in);
                        }
                    }
                }
            }
            Err(n) => reply.push(notify(n, Vec::new())),
        }
        self.send_response(mid, ExchangeType::CREATE_CHILD_SA, &reply)
    }
}
