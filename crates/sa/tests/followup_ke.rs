//! Additional key exchanges in CREATE_CHILD_SA (RFC 9370 §2.2.4): a child with PFS and an IKE
//! rekey on an IKE SA that negotiated ML-KEM run one IKE_FOLLOWUP_KE per additional method,
//! tied by the responder's link; both ends get the same keys, and the follow-up's secret is
//! in them. Every refusal with its exact outcome on both sides: a link that names nothing, no
//! link, a KE of another method or length, a peer that never sends the follow-up, a
//! retransmitted follow-up, and an IKE rekey that would cut a chain short.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::payloads::{ke, notify_data, notify_kinds};
use common::{Pair, To, client_config, server_config};
use ikeway_codec::{
    DhGroup, ExchangeType, HeaderRepr, KeRepr, NotifyRepr, NotifyType, Payload, PayloadRepr,
    TransformType, sk,
};
use ikeway_crypto::{AeadBackend, Protector, SecretBytes};
use ikeway_sa::{
    ActiveKeyExchange, AddKeFailure, CloseReason, Config, DefaultKex, Event, IkeSa, KexError,
    KeyExchangeProvider, Random, SaId,
};

const ML_KEM_768: DhGroup = DhGroup::ML_KEM_768;
const ML_KEM_1024: DhGroup = DhGroup::ML_KEM_1024;

/// The real key exchanges; with `corrupt` set, the answering side's ML-KEM secrets are
/// flipped, as if that side had derived another one.
#[derive(Debug, Default)]
struct Kex {
    corrupt: Arc<AtomicBool>,
}

impl KeyExchangeProvider for Kex {
    fn supports(&self, group: DhGroup) -> bool {
        DefaultKex::default().supports(group)
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        DefaultKex::default().start(group, rng)
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        let (ours, shared) = DefaultKex::default().respond(group, peer_public, rng)?;
        if self.corrupt.load(Ordering::SeqCst) && group == ML_KEM_768 {
            let mut flipped = shared.expose().to_vec();
            flipped[0] ^= 1;
            return Ok((ours, SecretBytes::from_slice(&flipped)));
        }
        Ok((ours, shared))
    }
}

fn configs(slots: &[&[DhGroup]], pfs: bool) -> (Config, Config) {
    let set = |mut c: Config| {
        for p in &mut c.ike_proposals {
            p.additional_kes = slots.iter().map(|s| s.to_vec()).collect();
        }
        for p in &mut c.esp_proposals {
            p.pfs_groups = if pfs { vec![DhGroup::CURVE25519] } else { Vec::new() };
        }
        c
    };
    (set(client_config()), set(server_config()))
}

fn pair(slots: &[&[DhGroup]], seed: u64) -> (Pair, Arc<AtomicBool>) {
    pair_with(configs(slots, true), seed)
}

fn pair_with((client, server): (Config, Config), seed: u64) -> (Pair, Arc<AtomicBool>) {
    let kex = Kex::default();
    let corrupt = Arc::clone(&kex.corrupt);
    let mut pair = Pair::new(client, server, Arc::new(kex), seed);
    pair.establish();
    (pair, corrupt)
}

/// The keys of the initiator's IKE SA now: (to the responder, to the initiator).
fn keys(sa: &IkeSa) -> (Protector, Protector) {
    let k = sa.export_keys_for_debugging().unwrap();
    let s = k.suite.suite;
    let key = |e: &SecretBytes, a: &SecretBytes| {
        s.key(AeadBackend::RustCrypto, e.expose(), a.expose()).unwrap()
    };
    (key(k.sk_ei, k.sk_ai), key(k.sk_er, k.sk_ar))
}

/// One datagram as sent, with its path.
#[derive(Debug, Clone)]
struct Sent {
    local: SocketAddr,
    remote: SocketAddr,
    bytes: Vec<u8>,
}

impl Sent {
    /// The IKE message, after the non-ESP marker on port 4500.
    fn message(&self) -> &[u8] {
        if self.local.port() == 4500 || self.remote.port() == 4500 {
            &self.bytes[4..]
        } else {
            &self.bytes
        }
    }

    fn header(&self) -> HeaderRepr {
        HeaderRepr::parse(self.message()).unwrap()
    }

    fn payloads(&self, p: &Protector) -> Vec<Payload> {
        sk::open(self.message(), p).unwrap().payloads().unwrap()
    }

    /// The same message with other inner payloads, sealed again under `p`.
    fn resealed(&self, inner: &[Payload], p: &Protector) -> Sent {
        let header = self.header();
        let iv = vec![0x5a; p.iv_len()];
        let message = sk::seal(&header, &[], inner, p, &iv).unwrap();
        let mut bytes = self.bytes[..self.bytes.len() - self.message().len()].to_vec();
        bytes.extend_from_slice(&message);
        Sent { local: self.local, remote: self.remote, bytes }
    }
}

/// Hand delivery between the two ends of an established pair, for forging messages.
struct Wire<'a> {
    pair: &'a mut Pair,
    buf: Vec<u8>,
}

impl<'a> Wire<'a> {
    fn new(pair: &'a mut Pair) -> Self {
        Self { pair, buf: vec![0; 65536] }
    }

    fn sent_by_initiator(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(t) = self.pair.initiator.poll_transmit(&mut self.buf) {
            let t = t.unwrap();
            out.push(Sent { local: t.local, remote: t.remote, bytes: self.buf[..t.len].to_vec() });
        }
        out
    }

    fn sent_by_responder(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(t) = self.pair.responder.poll_transmit(&mut self.buf) {
            let t = t.unwrap();
            out.push(Sent { local: t.local, remote: t.remote, bytes: self.buf[..t.len].to_vec() });
        }
        out
    }

    fn deliver_to_responder(&mut self, s: &Sent) {
        self.pair.responder.handle_datagram(self.pair.now, s.local, s.remote, &s.bytes);
    }

    fn deliver_to_initiator(&mut self, s: &Sent) {
        self.pair.initiator.handle_datagram(self.pair.now, s.local, s.remote, &s.bytes);
    }

    /// One request of the initiator's to the responder and its answer back; returns both.
    fn exchange(&mut self) -> (Sent, Sent) {
        let request = one(self.sent_by_initiator());
        self.deliver_to_responder(&request);
        let response = one(self.sent_by_responder());
        self.deliver_to_initiator(&response);
        (request, response)
    }

    fn initiator_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.pair.initiator.poll_event() {
            out.push(e.event);
        }
        out
    }

    fn responder_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.pair.responder.poll_event() {
            out.push(e.event);
        }
        out
    }

    fn responder_sa(&mut self) -> &mut IkeSa {
        let id = SaId::from_spi(self.pair.initiator.spis().1);
        self.pair.responder.sa_mut(id).expect("responder holds the SA")
    }
}

fn one(mut v: Vec<Sent>) -> Sent {
    assert_eq!(v.len(), 1, "exactly one datagram");
    v.remove(0)
}

fn ke_of(payloads: &[Payload]) -> Option<(DhGroup, usize)> {
    ke(payloads).map(|k| (k.group, k.data.len()))
}

/// The ADDKE transforms of the first proposal of the SA payload: (type, method).
fn addke_transforms(payloads: &[Payload]) -> Vec<(u8, u16)> {
    let sa = payloads
        .iter()
        .find_map(|p| match &p.body {
            PayloadRepr::Sa(sa) => Some(sa),
            _ => None,
        })
        .expect("an SA payload");
    sa.proposals[0]
        .transforms
        .iter()
        .filter(|t| (TransformType::ADDKE1.0..=TransformType::ADDKE7.0).contains(&t.kind.0))
        .map(|t| (t.kind.0, t.id))
        .collect()
}

fn link_notify(link: Vec<u8>) -> Payload {
    Payload::new(PayloadRepr::Notify(NotifyRepr::new(NotifyType::ADDITIONAL_KEY_EXCHANGE, link)))
}

fn ke_payload(group: DhGroup, len: usize) -> Payload {
    Payload::new(PayloadRepr::Ke(KeRepr { group, data: vec![7; len].into() }))
}

fn installed(events: &[Event]) -> Vec<&ikeway_sa::ChildSaInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(&**c),
            _ => None,
        })
        .collect()
}

fn refused(events: &[Event]) -> Vec<NotifyType> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect()
}

/// A new child on an ML-KEM IKE SA: CREATE_CHILD_SA with ADDKE1 = ML-KEM-768 and the link,
/// then one IKE_FOLLOWUP_KE quoting it; the child exists at both ends only after it, with
/// the same keys.
#[test]
fn child_with_pfs_takes_one_followup_per_method_and_both_ends_agree() {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], 1);
    let (to_responder, to_initiator) = keys(&pair.initiator);
    pair.initiator.create_child(pair.now);
    let mut w = Wire::new(&mut pair);
    let (request, response) = w.exchange();
    assert_eq!(request.header().exchange, ExchangeType::CREATE_CHILD_SA);
    let req = request.payloads(&to_responder);
    assert_eq!(addke_transforms(&req), [(6, 36)], "ADDKE1 = ML-KEM-768, required");
    assert_eq!(ke_of(&req), Some((DhGroup::CURVE25519, 32)));
    let resp = response.payloads(&to_initiator);
    assert_eq!(addke_transforms(&resp), [(6, 36)]);
    assert_eq!(ke_of(&resp), Some((DhGroup::CURVE25519, 32)));
    let link = notify_data(&resp, NotifyType::ADDITIONAL_KEY_EXCHANGE).expect("a link");
    assert_eq!(link.len(), 16);
    assert!(installed(&w.initiator_events()).is_empty(), "no child before the follow-up");
    assert!(installed(&w.responder_events()).is_empty());

    let (request, response) = w.exchange();
    assert_eq!(request.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
    assert_eq!(request.header().exchange.0, 44);
    let req = request.payloads(&to_responder);
    assert_eq!(ke_of(&req), Some((ML_KEM_768, 1184)));
    assert_eq!(notify_data(&req, NotifyType::ADDITIONAL_KEY_EXCHANGE), Some(link));
    assert_eq!(response.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
    let resp = response.payloads(&to_initiator);
    assert_eq!(ke_of(&resp), Some((ML_KEM_768, 1088)));
    assert!(notify_kinds(&resp).is_empty(), "the last response carries no link");
    let mine = w.initiator_events();
    let theirs = w.responder_events();
    let (mine, theirs) = (installed(&mine), installed(&theirs));
    assert_eq!((mine.len(), theirs.len()), (1, 1));
    let (c, r) = (mine[0], theirs[0]);
    assert_eq!((c.spi_in, c.spi_out), (r.spi_out, r.spi_in));
    assert_eq!(c.suite.additional_kes[0], ML_KEM_768);
    assert_eq!(c.suite, r.suite);
    assert_eq!(c.outbound.encryption.expose(), r.inbound.encryption.expose());
    assert_eq!(c.inbound.encryption.expose(), r.outbound.encryption.expose());
    assert_eq!(c.outbound.integrity.expose(), r.inbound.integrity.expose());
    assert!(w.sent_by_initiator().is_empty() && w.sent_by_responder().is_empty());
}

/// Two additional methods: two IKE_FOLLOWUP_KE exchanges in slot order, the second quoting
/// the link of the first's response.
#[test]
fn two_methods_run_in_order_each_quoting_the_last_link() {
    // Unfragmented, so that each message opens on its own here (fragmentation is tested with
    // IKE_INTERMEDIATE; IKE_FOLLOWUP_KE goes through the same sealing).
    let (mut client, mut server) = configs(&[&[ML_KEM_768], &[ML_KEM_1024]], true);
    client.max_message_len = 4096;
    server.max_message_len = 4096;
    let (mut pair, _) = pair_with((client, server), 2);
    let (to_responder, to_initiator) = keys(&pair.initiator);
    pair.initiator.create_child(pair.now);
    let mut w = Wire::new(&mut pair);
    let (request, response) = w.exchange();
    assert_eq!(addke_transforms(&request.payloads(&to_responder)), [(6, 36), (7, 37)]);
    let mut link =
        notify_data(&response.payloads(&to_initiator), NotifyType::ADDITIONAL_KEY_EXCHANGE);
    for (method, lens) in [(ML_KEM_768, (1184, 1088)), (ML_KEM_1024, (1568, 1568))] {
        let (request, response) = w.exchange();
        assert_eq!(request.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
        let req = request.payloads(&to_responder);
        assert_eq!(ke_of(&req), Some((method, lens.0)));
        assert_eq!(notify_data(&req, NotifyType::ADDITIONAL_KEY_EXCHANGE), link);
        let resp = response.payloads(&to_initiator);
        assert_eq!(ke_of(&resp), Some((method, lens.1)));
        link = notify_data(&resp, NotifyType::ADDITIONAL_KEY_EXCHANGE);
    }
    assert_eq!(link, None, "no link after the last");
    w.pair.step();
    w.pair.assert_children_agree();
    assert_eq!(w.pair.children_up(To::Initiator), 2);
}

/// The follow-up's secret is in KEYMAT: one end deriving another ML-KEM secret gets other
/// ESP keys (everything else equal).
#[test]
fn the_followup_secret_is_in_the_child_keys() {
    let (mut pair, corrupt) = pair(&[&[ML_KEM_768]], 3);
    corrupt.store(true, Ordering::SeqCst);
    pair.initiator.create_child(pair.now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2
        && p.children_up(To::Responder) == 2));
    let last = |events: Vec<&ikeway_sa::ChildSaInfo>| {
        let c = events.last().unwrap();
        (c.spi_in, c.outbound.encryption.expose().to_vec(), c.inbound.encryption.expose().to_vec())
    };
    let (c_in, c_out_key, _) = last(installed(&pair.initiator_events));
    let theirs: Vec<&ikeway_sa::ChildSaInfo> = pair
        .responder_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ChildSaInstalled(c) => Some(&**c),
            _ => None,
        })
        .collect();
    let r = theirs.last().unwrap();
    assert_eq!(r.spi_out, c_in, "the same child");
    assert_ne!(r.inbound.encryption.expose(), c_out_key.as_slice());
}

/// A child rekey with PFS on an ML-KEM IKE SA goes the same way: the new child replaces the
/// old only after its IKE_FOLLOWUP_KE, and the old is deleted.
#[test]
fn child_rekey_with_an_additional_key_exchange() {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], 4);
    let (old, _) = pair.initiator.child_spis()[0];
    let start = pair.transcript.len();
    pair.initiator.rekey_child(pair.now, old);
    assert!(pair.run_until(Duration::from_secs(10), |p| {
        p.initiator.child_spis().len() == 1 && p.initiator.child_spis()[0].0 != old
    }));
    pair.run_until(Duration::from_secs(5), |p| {
        p.responder.sas().all(|s| s.child_spis().len() == 1)
    });
    let exchanges: Vec<(u8, bool)> = pair.transcript[start..]
        .iter()
        .map(|d| {
            let h = HeaderRepr::parse(d).unwrap();
            (h.exchange.0, h.flags.response)
        })
        .collect();
    assert_eq!(
        exchanges,
        [(36, false), (36, true), (44, false), (44, true), (37, false), (37, true)]
    );
    let new =
        installed(&pair.initiator_events).last().map(|c| (c.replaces, c.suite.additional_kes[0]));
    assert_eq!(new, Some((Some(old), ML_KEM_768)));
    pair.assert_children_agree();
}

/// An IKE rekey on an ML-KEM IKE SA offers ML-KEM again and runs IKE_FOLLOWUP_KE on the old
/// SA; the new SA has keys both ends agree on (a child made on it comes up), and its suite
/// names the method. With one end's ML-KEM secret flipped, the new SA's keys differ: its
/// first request is not authenticated.
#[test]
fn ike_rekey_with_an_additional_key_exchange() {
    for corrupted in [false, true] {
        let (mut pair, corrupt) = pair(&[&[ML_KEM_768]], 5);
        let old = pair.initiator.spis();
        let (to_responder, to_initiator) = keys(&pair.initiator);
        corrupt.store(corrupted, Ordering::SeqCst);
        pair.initiator.rekey_ike(pair.now);
        let mut w = Wire::new(&mut pair);
        let (request, response) = w.exchange();
        let req = request.payloads(&to_responder);
        assert_eq!(request.header().exchange, ExchangeType::CREATE_CHILD_SA);
        assert_eq!(addke_transforms(&req), [(6, 36)]);
        let resp = response.payloads(&to_initiator);
        assert!(notify_data(&resp, NotifyType::ADDITIONAL_KEY_EXCHANGE).is_some());
        assert_eq!(w.pair.initiator.spis(), old, "not rekeyed before the follow-up");
        let (request, response) = w.exchange();
        assert_eq!((request.header().exchange.0, response.header().exchange.0), (44, 44));
        assert_eq!((request.header().spi_i, request.header().spi_r), old, "on the old SA");
        let new = w.pair.initiator.spis();
        assert_ne!(new, old);
        let ev = w.initiator_events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::IkeSaRekeyed { new_spis, .. } if *new_spis == new))
        );
        let ev = w.responder_events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::IkeSaRekeyed { new_spis, .. } if *new_spis == new))
        );
        // The old SA's DELETE, answered under the old keys.
        let delete = one(w.sent_by_initiator());
        assert_eq!((delete.header().spi_i, delete.header().spi_r), old);
        w.deliver_to_responder(&delete);
        let answer = one(w.sent_by_responder());
        w.deliver_to_initiator(&answer);
        assert_eq!(w.responder_sa().stats().dropped_unauthenticated, 0);
        w.pair.initiator.create_child(w.pair.now);
        let request = one(w.sent_by_initiator());
        w.deliver_to_responder(&request);
        if corrupted {
            assert!(w.sent_by_responder().is_empty(), "not authenticated under other keys");
            assert_eq!(w.responder_sa().stats().dropped_unauthenticated, 1);
        } else {
            let answer = one(w.sent_by_responder());
            w.deliver_to_initiator(&answer);
            // The new SA has ML-KEM too, so its children take a follow-up as well.
            let (followup, _) = w.exchange();
            assert_eq!((followup.header().spi_i, followup.header().spi_r), new);
            assert_eq!(followup.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
            assert_eq!(installed(&w.initiator_events()).len(), 1, "a child on the new SA");
        }
    }
}

/// A classical IKE SA offers no ADDKE in a child with PFS and runs no IKE_FOLLOWUP_KE.
#[test]
fn classical_ike_sa_children_carry_no_additional_key_exchange() {
    let (mut pair, _) = pair(&[], 6);
    let (to_responder, _) = keys(&pair.initiator);
    pair.initiator.create_child(pair.now);
    let mut w = Wire::new(&mut pair);
    let (request, _) = w.exchange();
    assert!(addke_transforms(&request.payloads(&to_responder)).is_empty());
    assert_eq!(installed(&w.initiator_events()).len(), 1, "made by the CREATE_CHILD_SA alone");
    assert!(w.sent_by_initiator().is_empty());
}

/// Runs a child's CREATE_CHILD_SA on an ML-KEM-768 pair and hands back the follow-up
/// request, not delivered yet.
fn to_followup(seed: u64) -> (Pair, Protector, Protector, Sent) {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], seed);
    let (to_responder, to_initiator) = keys(&pair.initiator);
    pair.initiator.create_child(pair.now);
    let mut w = Wire::new(&mut pair);
    w.exchange();
    let followup = one(w.sent_by_initiator());
    assert_eq!(followup.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
    (pair, to_responder, to_initiator, followup)
}

/// The responder's answer to a forged follow-up request, and what the initiator then does.
fn responder_refuses(forged: &[Payload], expect: NotifyType, seed: u64) {
    let (mut pair, to_responder, to_initiator, followup) = to_followup(seed);
    let mut w = Wire::new(&mut pair);
    w.deliver_to_responder(&followup.resealed(forged, &to_responder));
    let answer = one(w.sent_by_responder());
    assert_eq!(answer.header().exchange, ExchangeType::IKE_FOLLOWUP_KE);
    assert_eq!(notify_kinds(&answer.payloads(&to_initiator)), [expect]);
    assert_eq!(w.responder_sa().stats().followups_refused, 1);
    assert!(installed(&w.responder_events()).is_empty());
    w.deliver_to_initiator(&answer);
    assert_eq!(refused(&w.initiator_events()), [expect], "the child is refused");
    assert!(w.pair.initiator.is_established(), "the IKE SA stays");
    assert_eq!(w.pair.initiator.child_spis().len(), 1);
    assert_eq!(w.responder_sa().child_spis().len(), 1);
}

#[test]
fn a_link_that_names_no_chain_is_state_not_found() {
    let ke = ke_payload(ML_KEM_768, 1184);
    responder_refuses(&[ke.clone(), link_notify(vec![9; 16])], NotifyType::STATE_NOT_FOUND, 7);
    responder_refuses(std::slice::from_ref(&ke), NotifyType::STATE_NOT_FOUND, 8);
    responder_refuses(&[ke, link_notify(Vec::new())], NotifyType::STATE_NOT_FOUND, 9);
}

#[test]
fn a_key_exchange_of_another_method_or_length_is_invalid_syntax() {
    for (i, ke) in
        [ke_payload(ML_KEM_1024, 1568), ke_payload(ML_KEM_768, 1183)].into_iter().enumerate()
    {
        let (mut pair, to_responder, to_initiator, followup) = to_followup(10 + i as u64);
        let link =
            notify_data(&followup.payloads(&to_responder), NotifyType::ADDITIONAL_KEY_EXCHANGE);
        let mut w = Wire::new(&mut pair);
        w.deliver_to_responder(
            &followup.resealed(&[ke, link_notify(link.unwrap())], &to_responder),
        );
        let answer = one(w.sent_by_responder());
        assert_eq!(notify_kinds(&answer.payloads(&to_initiator)), [NotifyType::INVALID_SYNTAX]);
        w.deliver_to_initiator(&answer);
        assert_eq!(refused(&w.initiator_events()), [NotifyType::INVALID_SYNTAX]);
        assert_eq!(w.responder_sa().stats().followups_refused, 1);
        assert!(installed(&w.responder_events()).is_empty());
        assert_eq!(w.responder_sa().child_spis().len(), 1);
        // The chain is forgotten: the next child runs a chain of its own from the start.
        w.pair.initiator.create_child(w.pair.now);
        w.exchange();
        w.exchange();
        assert_eq!(installed(&w.initiator_events()).len(), 1);
        assert_eq!(installed(&w.responder_events()).len(), 1);
    }
}

#[test]
fn initiator_refuses_a_response_without_a_link() {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], 12);
    let (_, to_initiator) = keys(&pair.initiator);
    pair.initiator.create_child(pair.now);
    let mut w = Wire::new(&mut pair);
    let request = one(w.sent_by_initiator());
    w.deliver_to_responder(&request);
    let response = one(w.sent_by_responder());
    let mut inner = response.payloads(&to_initiator);
    inner.retain(|p| !matches!(&p.body, PayloadRepr::Notify(_)));
    w.deliver_to_initiator(&response.resealed(&inner, &to_initiator));
    assert_eq!(refused(&w.initiator_events()), [NotifyType::INVALID_SYNTAX]);
    assert!(w.sent_by_initiator().is_empty(), "no follow-up without a link");
    assert!(w.pair.initiator.is_established());
}

#[test]
fn initiator_refuses_a_followup_response_of_another_method_or_length() {
    for (i, (ke, expect)) in [
        (ke_payload(ML_KEM_1024, 1568), NotifyType::INVALID_KE_PAYLOAD),
        (ke_payload(ML_KEM_768, 1087), NotifyType::INVALID_SYNTAX),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut pair, _, to_initiator, followup) = to_followup(13 + i as u64);
        let mut w = Wire::new(&mut pair);
        w.deliver_to_responder(&followup);
        let answer = one(w.sent_by_responder());
        w.deliver_to_initiator(&answer.resealed(&[ke], &to_initiator));
        assert_eq!(refused(&w.initiator_events()), [expect]);
        assert_eq!(w.pair.initiator.child_spis().len(), 1, "only the first child");
        assert!(w.pair.initiator.is_established());
    }
}

/// A responder forgets a chain whose follow-up never comes; the request, late, names nothing.
#[test]
fn a_followup_that_never_comes_is_forgotten() {
    let (mut pair, _, to_initiator, followup) = to_followup(15);
    let later = pair.now + Duration::from_secs(31);
    pair.responder.handle_timeout(later);
    pair.now = later;
    let mut w = Wire::new(&mut pair);
    assert_eq!(w.responder_sa().stats().followups_expired, 1);
    let _ = w.sent_by_responder(); // whatever the timers sent meanwhile (a liveness check)
    w.deliver_to_responder(&followup);
    let answer = one(w.sent_by_responder());
    assert_eq!(notify_kinds(&answer.payloads(&to_initiator)), [NotifyType::STATE_NOT_FOUND]);
    w.deliver_to_initiator(&answer);
    assert_eq!(refused(&w.initiator_events()), [NotifyType::STATE_NOT_FOUND]);
}

/// A retransmitted follow-up request gets the same response again, from the cache.
#[test]
fn a_retransmitted_followup_is_answered_from_the_cache() {
    let (mut pair, _, _, followup) = to_followup(16);
    let mut w = Wire::new(&mut pair);
    w.deliver_to_responder(&followup);
    let first = one(w.sent_by_responder());
    w.deliver_to_responder(&followup);
    let again = one(w.sent_by_responder());
    assert_eq!(again.bytes, first.bytes, "byte for byte");
    assert_eq!(w.responder_sa().stats().replayed_responses, 1);
    assert_eq!(installed(&w.responder_events()).len(), 1, "installed once");
    w.deliver_to_initiator(&first);
    w.deliver_to_initiator(&again);
    assert_eq!(installed(&w.initiator_events()).len(), 1);
}

/// An IKE rekey whose follow-up response breaks the exchange deletes the IKE SA; one the
/// peer refuses with an error is tried again later.
#[test]
fn a_broken_ike_rekey_followup_closes_and_a_refused_one_is_retried() {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], 17);
    let (_, to_initiator) = keys(&pair.initiator);
    pair.initiator.rekey_ike(pair.now);
    let mut w = Wire::new(&mut pair);
    w.exchange();
    let followup = one(w.sent_by_initiator());
    w.deliver_to_responder(&followup);
    let answer = one(w.sent_by_responder());
    w.deliver_to_initiator(&answer.resealed(&[ke_payload(ML_KEM_1024, 1568)], &to_initiator));
    let closed: Vec<CloseReason> = w
        .initiator_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::IkeSaClosed { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [CloseReason::AdditionalKeyExchange(AddKeFailure::WrongMethod)]);
    let delete = one(w.sent_by_initiator());
    assert_eq!(delete.header().exchange, ExchangeType::INFORMATIONAL);

    // A refusal: the responder's chain is not found; the rekey is tried again in 1-3 s, and
    // the retry's CREATE_CHILD_SA replaces the chain the responder still keeps.
    let (mut pair, _) = self::pair(&[&[ML_KEM_768]], 18);
    let (to_responder, _) = keys(&pair.initiator);
    let old = pair.initiator.spis();
    pair.initiator.rekey_ike(pair.now);
    let mut w = Wire::new(&mut pair);
    w.exchange();
    let followup = one(w.sent_by_initiator());
    let ke = ke_payload(ML_KEM_768, 1184);
    w.deliver_to_responder(&followup.resealed(&[ke, link_notify(vec![1; 16])], &to_responder));
    let answer = one(w.sent_by_responder());
    w.deliver_to_initiator(&answer);
    assert!(w.pair.initiator.is_established());
    assert_eq!(w.pair.initiator.spis(), old);
    let retry = w.pair.initiator.poll_timeout().unwrap();
    assert!(retry <= w.pair.now + Duration::from_secs(3), "retried within 1-3 s");
    assert!(w.pair.run_until(Duration::from_secs(10), |p| p.initiator.spis() != old));
    assert!(w.pair.run_until(Duration::from_secs(10), |p| {
        p.responder.sas().any(|s| s.spis() == p.initiator.spis())
    }));
}

/// RFC 9370 §2.2.4 with RFC 7296 §2.25: while our IKE_FOLLOWUP_KE exchanges run on the IKE SA,
/// the peer's IKE rekey is answered TEMPORARY_FAILURE; our child still comes up, and the
/// peer's rekey succeeds when tried again.
#[test]
fn an_ike_rekey_during_our_followups_is_told_to_wait() {
    let (mut pair, to_responder, to_initiator, followup) = to_followup(19);
    let old = pair.initiator.spis();
    let now = pair.now;
    let mut w = Wire::new(&mut pair);
    w.responder_sa().rekey_ike(now);
    let rekey = one(w.sent_by_responder());
    w.deliver_to_initiator(&rekey);
    let answer = one(w.sent_by_initiator());
    assert_eq!(answer.header().exchange, ExchangeType::CREATE_CHILD_SA);
    assert_eq!(notify_kinds(&answer.payloads(&to_responder)), [NotifyType::TEMPORARY_FAILURE]);
    w.deliver_to_responder(&answer);
    w.deliver_to_responder(&followup);
    let done = one(w.sent_by_responder());
    assert!(notify_kinds(&done.payloads(&to_initiator)).is_empty());
    w.deliver_to_initiator(&done);
    assert_eq!(installed(&w.initiator_events()).len(), 1, "our child came up");
    assert_eq!(w.pair.initiator.spis(), old);
    assert!(w.pair.run_until(Duration::from_secs(10), |p| p.initiator.spis() != old));
    w.pair.assert_children_agree();
}

/// Both ends rekey the same child at once, each with its IKE_FOLLOWUP_KE: the nonce rule of
/// RFC 7296 §2.8.1 on the CREATE_CHILD_SA nonces, applied once each chain is done, leaves one
/// new child on both sides and deletes the old one and the redundant one.
#[test]
fn simultaneous_child_rekeys_with_followups_keep_one_child() {
    for seed in 20..30 {
        let (mut pair, _) = pair(&[&[ML_KEM_768]], seed);
        let (spi_in, spi_out) = pair.initiator.child_spis()[0];
        pair.initiator.rekey_child(pair.now, spi_in);
        let now = pair.now;
        pair.responder_sa().rekey_child(now, spi_out);
        pair.run_until(Duration::from_secs(20), |_| false);
        let init = pair.initiator.child_spis();
        let resp = pair.responder_sa().child_spis();
        assert_eq!(init.len(), 1, "seed {seed}: initiator kept {init:?}");
        assert_eq!(resp.len(), 1, "seed {seed}: responder kept {resp:?}");
        assert_eq!((init[0].0, init[0].1), (resp[0].1, resp[0].0), "seed {seed}: survivors differ");
        assert_ne!(init[0].0, spi_in, "seed {seed}: the old SA survived");
        assert!(refused(&pair.initiator_events).is_empty(), "seed {seed}");
        pair.assert_children_agree();
    }
}

/// The last IKE_FOLLOWUP_KE of an IKE rekey answered, the answer lost: the responder is on
/// the new SA already, and answers the retransmission from the old SA's cache, so both end
/// on the same new SA instead of the initiator giving up.
#[test]
fn a_lost_last_answer_of_an_ike_rekey_is_sent_again_from_the_old_sa() {
    let (mut pair, _) = pair(&[&[ML_KEM_768]], 31);
    let old = pair.initiator.spis();
    pair.initiator.rekey_ike(pair.now);
    let mut w = Wire::new(&mut pair);
    w.exchange();
    let followup = one(w.sent_by_initiator());
    w.deliver_to_responder(&followup);
    let lost = one(w.sent_by_responder());
    assert_eq!(w.pair.initiator.spis(), old, "the answer never came");
    let later = w.pair.now + Duration::from_secs(2);
    w.pair.now = later;
    w.pair.initiator.handle_timeout(later);
    let again = one(w.sent_by_initiator());
    assert_eq!(again.bytes, followup.bytes, "a retransmission");
    w.deliver_to_responder(&again);
    let answer = one(w.sent_by_responder());
    assert_eq!(answer.bytes, lost.bytes, "the same answer, from the old SA's cache");
    w.deliver_to_initiator(&answer);
    let new = w.pair.initiator.spis();
    assert_ne!(new, old);
    assert!(w.pair.responder.sas().any(|s| s.spis() == new), "both on the same new SA");
}
