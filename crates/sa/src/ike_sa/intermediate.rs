//! Additional key exchanges (RFC 9370 §2.2.2) in IKE_INTERMEDIATE exchanges (RFC 9242), both
//! roles: one exchange per negotiated ADDKE after IKE_SA_INIT, the keys updated after each, and
//! the IntAuth chain that binds every IKE_INTERMEDIATE message into IKE_AUTH's AUTH payloads.
//!
//! ```text
//! HDR, SK {KEi(n)}  -->            (message ID n, keys of step n-1)
//!                   <--  HDR, SK {KEr(n)}
//! SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), then the seven keys as in RFC 7296 §2.14
//! ```

use std::collections::VecDeque;

use ikeway_codec::sk::Opened;
use ikeway_crypto::Prf;

use super::*;

/// Ni, Nr and our IKE_SA_INIT request: what the initiator's IKE_AUTH is built from.
pub(super) type AuthInputs = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Why an additional key exchange failed; carried by [`CloseReason::AdditionalKeyExchange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddKeFailure {
    /// The peer's KE payload was missing or of another method than the one negotiated for
    /// this exchange.
    WrongMethod,
    /// The KE data was refused by the key exchange (a wrong length, an invalid public value).
    InvalidKeyExchange,
    /// An IKE_INTERMEDIATE came when no additional key exchange was left to do.
    NotNegotiated,
    /// IKE_AUTH came before every negotiated additional key exchange was done.
    Incomplete,
    /// The responder chose additional key exchanges without announcing
    /// INTERMEDIATE_EXCHANGE_SUPPORTED.
    IntermediateUnsupported,
    /// A CREATE_CHILD_SA or IKE_FOLLOWUP_KE response that leaves key exchanges to do carried
    /// no usable N(ADDITIONAL_KEY_EXCHANGE) link (RFC 9370 §2.2.4).
    MissingLink,
}

impl core::fmt::Display for AddKeFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::WrongMethod => "the peer's key exchange was not of the negotiated method",
            Self::InvalidKeyExchange => "the peer's key exchange data was invalid",
            Self::NotNegotiated => "an IKE_INTERMEDIATE exchange that was not negotiated",
            Self::Incomplete => "IKE_AUTH before the additional key exchanges were done",
            Self::IntermediateUnsupported => {
                "the responder chose additional key exchanges without IKE_INTERMEDIATE"
            }
            Self::MissingLink => "the peer's answer did not link the next additional key exchange",
        })
    }
}

/// The additional key exchanges of one IKE SA being set up.
#[derive(Debug, Default)]
pub(super) struct Intermediate {
    /// Methods still to run, in order; the first is the one under way.
    pending: VecDeque<DhGroup>,
    /// IntAuth_iN and IntAuth_rN so far (RFC 9242 §3.3.2), empty before the first exchange.
    int_auth_i: Vec<u8>,
    int_auth_r: Vec<u8>,
    /// Responder: the keys that protected the last IKE_INTERMEDIATE request, kept so that a
    /// retransmission of it is still authenticated (and answered from the cache) after the
    /// keys moved on.
    previous: Option<Box<IkeCrypto>>,
    /// The IKE_SA_INIT nonces, which every SKEYSEED(n) takes (RFC 9370 §2.2.2): kept here, so
    /// that only an SA with additional key exchanges holds a second copy of them.
    ni: Vec<u8>,
    nr: Vec<u8>,
}

impl Intermediate {
    fn new(suite: &crate::proposal::IkeSuite) -> Self {
        Self { pending: suite.additional_methods().collect(), ..Self::default() }
    }

    pub(super) fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The keys to authenticate a retransmitted request with, when the last request answered
    /// was an IKE_INTERMEDIATE.
    pub(super) fn previous_keys(&self) -> Option<&IkeCrypto> {
        self.previous.as_deref()
    }

    /// `IntAuth_iN | IntAuth_rN | IKE_AUTH_MID`, what both AUTH payloads cover after the
    /// usual octets (RFC 9242 §3.3.2).
    fn auth_tail(&self, ike_auth_mid: u32) -> Vec<u8> {
        [&self.int_auth_i[..], &self.int_auth_r[..], &ike_auth_mid.to_be_bytes()].concat()
    }
}

/// The octets of an IKE_INTERMEDIATE message that IntAuth covers (RFC 9242 §3.3.2):
/// IntAuth_A, the IKE header and the Encrypted payload's header, then IntAuth_P, the inner
/// payloads in the clear; the length fields count only these octets (no IV, padding or ICV),
/// and a fragmented message counts as the one message it was split from.
///
/// Payloads before the Encrypted payload are not part of it: we never send any, and a peer
/// that does fails AUTH, which is what an implementation that disagrees gets anyway.
pub(crate) fn int_auth_octets(
    header: &HeaderRepr,
    first_inner: PayloadType,
    plaintext: &[u8],
) -> Result<Vec<u8>, ikeway_codec::EmitError> {
    const SK_HEADER_LEN: usize = 4;
    let sk_len = SK_HEADER_LEN + plaintext.len();
    let total = ikeway_codec::HEADER_LEN + sk_len;
    let too_long = |field| ikeway_codec::EmitError::TooLong { field, len: total };
    let mut header = *header;
    header.next_payload = PayloadType::SK;
    header.length = u32::try_from(total).map_err(|_| too_long("IKE message length"))?;
    let mut out = vec![0u8; ikeway_codec::HEADER_LEN];
    header.emit(&mut out)?;
    out.push(first_inner.0);
    out.push(0);
    out.extend_from_slice(
        &u16::try_from(sk_len).map_err(|_| too_long("Encrypted payload length"))?.to_be_bytes(),
    );
    out.extend_from_slice(plaintext);
    Ok(out)
}

/// IntAuth_N = prf(SK_p, IntAuth_N-1 | IntAuth_A | IntAuth_P) (RFC 9242 §3.3.2), keyed with
/// the SK_p of the message's sender that was in force when it was sent.
pub(crate) fn int_auth_step(prf: Prf, sk_p: &[u8], previous: &[u8], octets: &[u8]) -> Vec<u8> {
    prf.compute(sk_p, &[previous, octets]).expose().to_vec()
}

impl IkeSa {
    /// Initiator, after IKE_SA_INIT: when additional key exchanges were negotiated, sends the
    /// first IKE_INTERMEDIATE request and keeps what IKE_AUTH needs later (`None`); otherwise
    /// hands `ni`, `nr` and our IKE_SA_INIT request back for IKE_AUTH now.
    pub(super) fn start_intermediate(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        ni: Vec<u8>,
        nr: Vec<u8>,
        init_request: Vec<u8>,
    ) -> Result<Option<AuthInputs>, crate::Error> {
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let mut intermediate = Intermediate::new(&crypto.suite);
        if intermediate.is_done() {
            return Ok(Some((ni, nr, init_request)));
        }
        intermediate.ni.clone_from(&ni);
        intermediate.nr.clone_from(&nr);
        if find_notify(payloads, NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED).is_none() {
            self.close(CloseReason::AdditionalKeyExchange(AddKeFailure::IntermediateUnsupported));
            return Ok(None);
        }
        self.intermediate = Some(Box::new(intermediate));
        self.state = State::Intermediate { ni, nr, init_request };
        self.send_intermediate(now)?;
        Ok(None)
    }

    /// Initiator: the IKE_INTERMEDIATE request for the next pending method, HDR, SK {KEi(n)}.
    fn send_intermediate(&mut self, now: Instant) -> Result<(), crate::Error> {
        let group = self
            .intermediate
            .as_ref()
            .and_then(|i| i.pending.front().copied())
            .ok_or(crate::Error::NotKeyed)?;
        let kex = self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
        let inner =
            [Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().into() }))];
        let header = self.header(ExchangeType::IKE_INTERMEDIATE, false, self.send_mid);
        self.chain_int_auth(Side::Initiator, &header, first_type(&inner), &chain_to_vec(&inner)?)?;
        self.send_encrypted_request(
            now,
            ExchangeType::IKE_INTERMEDIATE,
            &inner,
            Request::Intermediate { kex },
        )
    }

    /// Adds one message to the IntAuth chain of its sender, with the keys in force now.
    fn chain_int_auth(
        &mut self,
        sender: Side,
        header: &HeaderRepr,
        first_inner: PayloadType,
        plaintext: &[u8],
    ) -> Result<(), crate::Error> {
        let octets = int_auth_octets(header, first_inner, plaintext)?;
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let Some(i) = self.intermediate.as_mut() else { return Err(crate::Error::NotKeyed) };
        let chain = match sender {
            Side::Initiator => &mut i.int_auth_i,
            Side::Responder => &mut i.int_auth_r,
        };
        *chain = int_auth_step(crypto.suite.prf, crypto.sk_p(sender).expose(), chain, &octets);
        Ok(())
    }

    /// SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr) and the seven keys from it (RFC 9370
    /// §2.2.2); the keys before stay with the responder for a retransmitted request.
    fn update_keys(&mut self, shared: &SecretBytes) -> Result<(), crate::Error> {
        let Some(i) = self.intermediate.as_mut() else { return Err(crate::Error::NotKeyed) };
        let old = self.crypto.take().ok_or(crate::Error::NotKeyed)?;
        let seed = keys::intermediate_skeyseed(
            old.suite.prf,
            old.keys.sk_d.expose(),
            shared.expose(),
            &i.ni,
            &i.nr,
        );
        let new =
            IkeCrypto::derive(self.side, old.suite, &seed, &i.ni, &i.nr, self.spi_i, self.spi_r)?;
        self.crypto = Some(new);
        i.pending.pop_front();
        i.previous = (self.side == Side::Responder).then_some(old);
        Ok(())
    }

    /// Once the last exchange is done: what AUTH covers gains the IntAuth tail, with the
    /// message ID IKE_AUTH's request has (or will have).
    fn finish_intermediate(&mut self, ike_auth_mid: u32) {
        let Some(i) = self.intermediate.as_ref().filter(|i| i.is_done()) else { return };
        let tail = i.auth_tail(ike_auth_mid);
        if let Some(c) = self.crypto.as_mut() {
            c.int_auth = tail;
        }
    }

    /// Initiator: the response to our IKE_INTERMEDIATE, HDR, SK {KEr(n)}.
    pub(super) fn handle_intermediate_response(
        &mut self,
        now: Instant,
        header: &HeaderRepr,
        opened: &Opened,
        payloads: &[Payload],
        kex: Box<dyn ActiveKeyExchange>,
    ) -> Result<(), crate::Error> {
        if let Some(error) = first_error(payloads) {
            self.close(CloseReason::PeerError(error));
            return Ok(());
        }
        let shared = match find_payload!(payloads, Ke) {
            Some(ke) if ke.group == kex.group() => match kex.complete(&ke.data) {
                Ok(shared) => shared,
                Err(_) => return self.fail_intermediate(AddKeFailure::InvalidKeyExchange),
            },
            _ => return self.fail_intermediate(AddKeFailure::WrongMethod),
        };
        self.chain_int_auth(Side::Responder, header, opened.first_inner, &opened.plaintext)?;
        self.update_keys(&shared)?;
        if self.intermediate.as_ref().is_some_and(|i| !i.is_done()) {
            return self.send_intermediate(now);
        }
        self.finish_intermediate(self.send_mid);
        self.intermediate = None;
        let State::Intermediate { ni, nr, init_request } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("an IKE_INTERMEDIATE request is only outstanding in this state");
        };
        self.send_auth(now, ni, nr, init_request)
    }

    /// Initiator: ends the handshake on a bad IKE_INTERMEDIATE response, telling the responder
    /// as after a refused AUTH (§2.21.2), so it does not wait out its half-open timer.
    fn fail_intermediate(&mut self, why: AddKeFailure) -> Result<(), crate::Error> {
        self.give_up_handshake(CloseReason::AdditionalKeyExchange(why));
        Ok(())
    }

    /// Responder, IKE_SA_INIT chosen: the additional key exchanges to expect, if any.
    /// Responder, after IKE_SA_INIT: when additional key exchanges were negotiated, keeps the
    /// nonces they are keyed with and waits for them.
    pub(super) fn expect_intermediate(&mut self, ni: &[u8], nr: &[u8]) {
        if let Some(c) = self.crypto.as_ref() {
            let mut i = Intermediate::new(&c.suite);
            if !i.is_done() {
                i.ni = ni.to_vec();
                i.nr = nr.to_vec();
                self.intermediate = Some(Box::new(i));
            }
        }
    }

    /// Whether a responder still waits for additional key exchanges.
    pub(super) fn intermediate_pending(&self) -> bool {
        self.intermediate.as_ref().is_some_and(|i| !i.is_done())
    }

    /// Responder: an IKE_INTERMEDIATE request while half-open. Anything but the KE of the
    /// method due is answered INVALID_SYNTAX and ends the half-open SA.
    pub(super) fn handle_intermediate_request(
        &mut self,
        message_id: u32,
        header: &HeaderRepr,
        opened: &Opened,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let Some(group) = self.intermediate.as_ref().and_then(|i| i.pending.front().copied())
        else {
            return self.refuse_intermediate(message_id, AddKeFailure::NotNegotiated);
        };
        let Some(ke) = find_payload!(payloads, Ke).filter(|ke| ke.group == group) else {
            return self.refuse_intermediate(message_id, AddKeFailure::WrongMethod);
        };
        let (ours, shared) = match self.kex_provider.respond(group, &ke.data, &mut self.rng) {
            Ok(answer) => answer,
            Err(_) => {
                return self.refuse_intermediate(message_id, AddKeFailure::InvalidKeyExchange);
            }
        };
        self.chain_int_auth(Side::Initiator, header, opened.first_inner, &opened.plaintext)?;
        let reply = [Payload::new(PayloadRepr::Ke(KeRepr { group, data: ours.into() }))];
        let response_header = self.header(ExchangeType::IKE_INTERMEDIATE, true, message_id);
        self.chain_int_auth(
            Side::Responder,
            &response_header,
            first_type(&reply),
            &chain_to_vec(&reply)?,
        )?;
        self.send_response(message_id, ExchangeType::IKE_INTERMEDIATE, &reply)?;
        self.update_keys(&shared)?;
        self.finish_intermediate(self.recv_mid);
        // The cache now holds this response instead of the last one: what fragments of the
        // next request may take is what the half-open budget leaves.
        let held = self.held_bytes() - self.reassembler.held_bytes();
        self.reassembler.set_limits(ReassemblyLimits {
            max_len: self.config.half_open_max_bytes.saturating_sub(held),
            ..ReassemblyLimits::default()
        });
        Ok(())
    }

    /// Responder: answers INVALID_SYNTAX and forgets the half-open SA (RFC 7296 §2.21.2 as for
    /// a bad IKE_AUTH: nothing more is to come from this initiator).
    pub(super) fn refuse_intermediate(
        &mut self,
        message_id: u32,
        why: AddKeFailure,
    ) -> Result<(), crate::Error> {
        let exchange = if why == AddKeFailure::Incomplete {
            ExchangeType::IKE_AUTH
        } else {
            ExchangeType::IKE_INTERMEDIATE
        };
        self.send_response(
            message_id,
            exchange,
            &[notify(NotifyType::INVALID_SYNTAX, Vec::new())],
        )?;
        self.close(CloseReason::AdditionalKeyExchange(why));
        Ok(())
    }
}
