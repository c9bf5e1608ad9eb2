//! Rekeying the IKE SA itself (RFC 7296 §1.3.2, §2.18).

use super::*;

impl IkeSa {
    pub(super) fn start_rekey_ike(&mut self, now: Instant) -> Result<(), crate::Error> {
        let group = self.crypto.as_ref().map(|c| c.suite.group).ok_or(crate::Error::NotKeyed)?;
        let kex = self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
        let spi = self.random_spi64();
        let ni = self.random_bytes(NONCE_LEN);
        let inner = [
            // With the additional key exchanges this IKE SA has, if any (RFC 9370 §2.2.4).
            Payload::new(PayloadRepr::Sa(proposal::ike_offer(
                &self.rekey_proposals(),
                &spi.to_be_bytes(),
            ))),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.as_slice().into() })),
            Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().into() })),
        ];
        self.send_encrypted_request(
            now,
            ExchangeType::CREATE_CHILD_SA,
            &inner,
            Request::RekeyIke { spi, ni, kex },
        )
    }

    pub(super) fn finish_rekey_ike(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        new_spi_i: u64,
        ni: &[u8],
        kex: Box<dyn ActiveKeyExchange>,
    ) -> Result<(), crate::Error> {
        if first_error(payloads).is_some() {
            // A collision answered TEMPORARY_FAILURE (§2.25): retry after a random 1-3 s, so
            // two peers that collided do not collide again in lockstep.
            let retry = now + self.retry_delay();
            self.timers.set(Timer::IkeRekey, retry);
            self.release_ike_spi(new_spi_i);
            return Ok(());
        }
        let ours = self.rekey_proposals();
        let accepted = find_payload!(payloads, Sa).and_then(|sa| proposal::accept_ike(sa, &ours));
        let nonce = find_payload!(payloads, Nonce).filter(|n| NONCE_RANGE.contains(&n.data.len()));
        let (Some((suite, spi_r)), Some(ke), Some(nonce)) =
            (accepted, find_payload!(payloads, Ke), nonce)
        else {
            self.release_ike_spi(new_spi_i);
            return Ok(());
        };
        // The peer chooses the new SA's responder SPI: any value, even another client's SPI.
        // A responder files SAs under our own SPI (`local_spi`), so that cannot matter.
        let Ok(spi_r) = <[u8; 8]>::try_from(spi_r.as_slice()).map(u64::from_be_bytes) else {
            self.release_ike_spi(new_spi_i);
            return Ok(());
        };
        let Ok(shared) = kex.complete(&ke.data) else {
            self.release_ike_spi(new_spi_i);
            return Ok(());
        };
        let nr = nonce.data.to_vec();
        if suite.additional_methods().next().is_some() {
            // The new SA is made by the IKE_FOLLOWUP_KE exchanges that follow (RFC 9370 §2.2.4).
            let target =
                followup_ke::Target::Ike { suite, ni: ni.to_vec(), nr, spi_i: new_spi_i, spi_r };
            let chain = followup_ke::Chain::new(target, vec![shared]);
            self.continue_followup(now, chain, followup_ke::link(payloads));
            return Ok(());
        }
        self.complete_rekey_ike(now, suite, &[shared], ni, &nr, new_spi_i, spi_r)
    }

    /// Initiator: every key exchange of our rekey done: moves to the new SA and deletes the
    /// old one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete_rekey_ike(
        &mut self,
        now: Instant,
        suite: crate::proposal::IkeSuite,
        secrets: &[SecretBytes],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<(), crate::Error> {
        self.switch_ike(now, suite, secrets, ni, nr, spi_i, spi_r)?;
        // The rekey initiator deletes the old IKE SA (§2.18), sent once with the old keys.
        if let Some(old) = &self.old_sa {
            let mut header = self.header(ExchangeType::INFORMATIONAL, false, self.old_send_mid);
            header.spi_i = old.spi_i;
            header.spi_r = old.spi_r;
            header.flags.initiator = old.side == Side::Initiator;
            let outbound = old.crypto.outbound()?;
            let iv = random_iv(&mut self.rng, outbound.iv_len());
            let inner = [Payload::new(PayloadRepr::Delete(DeleteRepr::ike()))];
            let message = sk::seal(&header, &[], &inner, &outbound, &iv)?;
            self.transmit_all(&[Arc::new(message)]);
        }
        Ok(())
    }

    /// Moves to the new IKE SA after a rekey: new SPIs and keys, message IDs from zero.
    /// `secrets` are g^ir of the CREATE_CHILD_SA then one per IKE_FOLLOWUP_KE (RFC 9370).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn switch_ike(
        &mut self,
        now: Instant,
        suite: crate::proposal::IkeSuite,
        secrets: &[SecretBytes],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<(), crate::Error> {
        let old_crypto = self.crypto.take().ok_or(crate::Error::NotKeyed)?;
        let secrets: Vec<&[u8]> = secrets.iter().map(SecretBytes::expose).collect();
        let seed = keys::rekey_skeyseed_with_secrets(
            old_crypto.suite.prf,
            old_crypto.keys.sk_d.expose(),
            &secrets,
            ni,
            nr,
        );
        // §2.18: whoever started the rekey is the new SA's initiator, whatever the old roles.
        let new_side = if self.rekey_started_by_us { Side::Initiator } else { Side::Responder };
        let crypto = IkeCrypto::derive(new_side, suite, &seed, ni, nr, spi_i, spi_r)?;
        let old_spis = (self.spi_i, self.spi_r);
        self.old_send_mid = self.send_mid;
        // A second rekey within the grace period: the SA before the last one is gone for good.
        self.forget_old_sa();
        self.old_sa = Some(Box::new(OldSa {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            side: self.side,
            crypto: old_crypto,
            recv_mid: self.recv_mid,
            last_response: self.response_cache.take(),
        }));
        self.timers.set(Timer::OldSa, now + OLD_SA_GRACE);
        self.side = new_side;
        self.spi_i = spi_i;
        self.spi_r = spi_r;
        self.crypto = Some(crypto);
        self.send_mid = 0;
        self.recv_mid = 0;
        self.response_cache = None;
        let (rekey, expire) = self.jittered(now, self.config.lifetimes.ike);
        self.timers.set(Timer::IkeRekey, rekey);
        self.timers.set(Timer::IkeExpire, expire);
        self.events.push_back(Event::IkeSaRekeyed { old_spis, new_spis: (spi_i, spi_r) });
        Ok(())
    }

    pub(super) fn handle_old_sa(&mut self, bytes: &[u8], heard: &HeaderRepr) {
        let Some(old) = &self.old_sa else { return };
        if heard.flags.response {
            // The answer to the DELETE we sent on the old SA: it is gone on both sides.
            if heard.message_id == self.old_send_mid
                && old.crypto.inbound().is_ok_and(|k| sk::open(bytes, &k).is_ok())
            {
                self.forget_old_sa();
            } else {
                self.stats.dropped_unexpected += 1;
            }
            return;
        }
        if let Some((mid, cached)) = &old.last_response
            && heard.message_id == *mid
        {
            // The request that made the new SA, again: its answer was lost (§2.1).
            if old.crypto.inbound().is_ok_and(|k| {
                sk::open(bytes, &k).is_ok_and(|o| o.fragment.is_none_or(|f| f.number == 1))
            }) {
                let cached = cached.clone();
                self.stats.replayed_responses += 1;
                self.transmit_all(&cached);
            } else {
                self.stats.dropped_unauthenticated += 1;
            }
            return;
        }
        if heard.message_id != old.recv_mid {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let Ok(opened) =
            old.crypto.inbound().map_err(|_| ()).and_then(|k| sk::open(bytes, &k).map_err(|_| ()))
        else {
            self.stats.dropped_unauthenticated += 1;
            return;
        };
        let Ok(payloads) = opened.payloads() else { return };
        let deletes_ike = payloads
            .iter()
            .any(|p| matches!(&p.body, PayloadRepr::Delete(d) if d.protocol == ProtocolId::IKE));
        if !deletes_ike {
            return;
        }
        let mut header = self.header(ExchangeType::INFORMATIONAL, true, heard.message_id);
        header.spi_i = old.spi_i;
        header.spi_r = old.spi_r;
        // Flags describe the old SA's roles, which `side` may no longer match.
        header.flags.initiator = !heard.flags.initiator;
        let Ok(outbound) = old.crypto.outbound() else { return };
        let iv = random_iv(&mut self.rng, outbound.iv_len());
        if let Ok(reply) = sk::seal(&header, &[], &[], &outbound, &iv) {
            self.transmit_all(&[Arc::new(reply)]);
        }
        self.forget_old_sa();
    }

    pub(super) fn respond_rekey_ike(
        &mut self,
        now: Instant,
        mid: u32,
        payloads: &[Payload],
        ni: &[u8],
        nr: Vec<u8>,
    ) -> Result<(), crate::Error> {
        let refuse = |sa: &mut Self, n: NotifyType| {
            sa.send_response(mid, ExchangeType::CREATE_CHILD_SA, &[notify(n, Vec::new())])
        };
        if matches!(self.outstanding.as_ref().map(|o| &o.kind), Some(Request::RekeyIke { .. }))
            || self.followup_outstanding()
        {
            // A simultaneous IKE rekey, or one that would cut the IKE_FOLLOWUP_KE exchanges of
            // ours short (they run on this SA): let the peer retry after ours (§2.25.2).
            return refuse(self, NotifyType::TEMPORARY_FAILURE);
        }
        let (Some(offer), Some(ke)) = (find_payload!(payloads, Sa), find_payload!(payloads, Ke))
        else {
            return refuse(self, NotifyType::INVALID_SYNTAX);
        };
        let Some(spi_i) = offer
            .proposals
            .iter()
            .find(|p| p.protocol == ProtocolId::IKE)
            .and_then(|p| <[u8; 8]>::try_from(p.spi.as_slice()).ok())
            .map(u64::from_be_bytes)
        else {
            return refuse(self, NotifyType::INVALID_SYNTAX);
        };
        // Ours, unique among the responder's SAs (issue 9 finding 7).
        let spi_r = self.random_spi64();
        let limits = proposal::IkeLimits { group: Some(ke.group), ..proposal::IkeLimits::ANY };
        let Some((suite, sa_reply)) = proposal::choose_ike_within(
            offer,
            &self.rekey_proposals(),
            &limits,
            &spi_r.to_be_bytes(),
        ) else {
            self.release_ike_spi(spi_r);
            return refuse(self, NotifyType::NO_PROPOSAL_CHOSEN);
        };
        // `respond`, not start-then-complete: for a KEM the answer is a ciphertext.
        let (our_public, shared) =
            match self.kex_provider.respond(ke.group, &ke.data, &mut self.rng) {
                Ok(answer) => answer,
                Err(crate::KexError::InvalidPublicValue) => {
                    self.release_ike_spi(spi_r);
                    return refuse(self, NotifyType::INVALID_SYNTAX);
                }
                Err(e) => {
                    self.release_ike_spi(spi_r);
                    return Err(crate::Error::Kex(e));
                }
            };
        let mut reply = vec![
            Payload::new(PayloadRepr::Sa(sa_reply)),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr.as_slice().into() })),
            Payload::new(PayloadRepr::Ke(KeRepr { group: ke.group, data: our_public.into() })),
        ];
        if suite.additional_methods().next().is_some() {
            // The new SA waits for the IKE_FOLLOWUP_KE exchanges (RFC 9370 §2.2.4).
            let target = followup_ke::Target::Ike { suite, ni: ni.to_vec(), nr, spi_i, spi_r };
            let chain = followup_ke::Chain::new(target, vec![shared]);
            reply.push(self.await_followup(now, chain));
            return self.send_response(mid, ExchangeType::CREATE_CHILD_SA, &reply);
        }
        self.send_response(mid, ExchangeType::CREATE_CHILD_SA, &reply)?;
        self.rekey_started_by_us = false;
        self.switch_ike(now, suite, &[shared], ni, &nr, spi_i, spi_r)
    }
}
