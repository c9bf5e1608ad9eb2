//! Additional key exchanges (RFC 9370) over IKE_INTERMEDIATE (RFC 9242): both sides up with
//! ML-KEM through the real key exchange, the exact payloads of every message, the keys after
//! each update recomputed here from the exchanged secrets, the IntAuth chain inside the AUTH
//! payloads recomputed here from the messages, fragmentation, retransmission, fallback, and
//! every refusal with its outcome on both sides.

#![allow(clippy::print_stderr)] // the measured half-open peak is printed for PERFORMANCE.md

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::payloads::auth_data;
use common::{CLIENT, Impairments, Pair, SERVER, addr, client_config, psk, server_config};
use ikeway_codec::{
    DhGroup, ExchangeType, HeaderRepr, IdRepr, KeRepr, MessageRepr, NotifyType, Payload,
    PayloadRepr, PayloadType, sk,
};
use ikeway_crypto::keys::{self, IkeKeyLengths, IkeSaKeys};
use ikeway_crypto::{AeadBackend, Prf, Protector, SecretBytes};
use ikeway_sa::{
    ActiveKeyExchange, AddKeFailure, CloseReason, Config, DefaultKex, Event, IkeSa, KexError,
    KeyExchangeProvider, Random, Responder, SaId,
};

const ML_KEM_768: DhGroup = DhGroup::ML_KEM_768;
const ML_KEM_1024: DhGroup = DhGroup::ML_KEM_1024;

/// Every shared secret computed, with its method, in order.
type Secrets = Arc<Mutex<Vec<(DhGroup, Vec<u8>)>>>;

/// [`DefaultKex`] that also writes down every shared secret it computes, in order, so the
/// test can derive the keys itself.
#[derive(Debug, Default)]
struct Recording {
    secrets: Secrets,
}

#[derive(Debug)]
struct RecordingActive {
    inner: Box<dyn ActiveKeyExchange>,
    secrets: Secrets,
}

impl KeyExchangeProvider for Recording {
    fn supports(&self, group: DhGroup) -> bool {
        DefaultKex::default().supports(group)
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        let inner = DefaultKex::default().start(group, rng)?;
        Ok(Box::new(RecordingActive { inner, secrets: Arc::clone(&self.secrets) }))
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        let (ours, shared) = DefaultKex::default().respond(group, peer_public, rng)?;
        self.secrets.lock().unwrap().push((group, shared.expose().to_vec()));
        Ok((ours, shared))
    }
}

impl ActiveKeyExchange for RecordingActive {
    fn group(&self) -> DhGroup {
        self.inner.group()
    }

    fn public_value(&self) -> &[u8] {
        self.inner.public_value()
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        let shared = self.inner.complete(peer_public)?;
        self.secrets.lock().unwrap().push((self.group(), shared.expose().to_vec()));
        Ok(shared)
    }
}

fn with_addke(mut c: Config, slots: &[&[DhGroup]]) -> Config {
    for p in &mut c.ike_proposals {
        p.additional_kes = slots.iter().map(|s| s.to_vec()).collect();
    }
    c
}

/// One IKE message of the transcript, its fragments joined.
#[derive(Debug)]
struct Message {
    header: HeaderRepr,
    datagrams: Vec<Vec<u8>>,
}

fn messages(transcript: &[Vec<u8>]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for d in transcript {
        let h = HeaderRepr::parse(d).expect("our own messages parse");
        match out.last_mut() {
            Some(m)
                if m.header.exchange == h.exchange
                    && m.header.message_id == h.message_id
                    && m.header.flags.response == h.flags.response
                    && h.next_payload == PayloadType::SKF =>
            {
                m.datagrams.push(d.clone())
            }
            _ => out.push(Message { header: h, datagrams: vec![d.clone()] }),
        }
    }
    out
}

/// Decrypts a message (joining its fragments): the first inner payload type and plaintext.
fn open(m: &Message, p: &Protector) -> (PayloadType, Vec<u8>) {
    let mut first = PayloadType::NONE;
    let mut plain = Vec::new();
    for (i, d) in m.datagrams.iter().enumerate() {
        let o = sk::open(d, p).expect("opens with the keys of its step");
        if i == 0 {
            first = o.first_inner;
        }
        plain.extend_from_slice(&o.plaintext);
    }
    (first, plain)
}

fn payloads(m: &Message, p: &Protector) -> Vec<Payload> {
    let (first, plain) = open(m, p);
    ikeway_codec::parse_chain(first, &plain).expect("inner payloads decode")
}

struct Keys {
    keys: IkeSaKeys,
    to_responder: Protector,
    to_initiator: Protector,
}

fn derive(
    suite: ikeway_crypto::Suite,
    prf: Prf,
    seed: &SecretBytes,
    ni: &[u8],
    nr: &[u8],
    spis: (u64, u64),
) -> Keys {
    let lengths = IkeKeyLengths {
        integrity: suite.integrity_key_len(),
        encryption: suite.encryption_key_len(),
    };
    let keys = keys::derive_ike_keys(prf, seed.expose(), ni, nr, spis.0, spis.1, lengths).unwrap();
    let key = |e: &SecretBytes, a: &SecretBytes| {
        suite.key(AeadBackend::RustCrypto, e.expose(), a.expose()).unwrap()
    };
    Keys {
        to_responder: key(&keys.sk_ei, &keys.sk_ai),
        to_initiator: key(&keys.sk_er, &keys.sk_ar),
        keys,
    }
}

/// RFC 9242 §3.3.2, written out again here: the IKE header and the Encrypted payload header
/// with lengths counting only themselves and the clear inner payloads, then those payloads.
fn int_auth_data(h: &HeaderRepr, first: PayloadType, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&h.spi_i.to_be_bytes());
    out.extend_from_slice(&h.spi_r.to_be_bytes());
    out.push(46); // SK
    out.push(0x20);
    out.push(h.exchange.0);
    out.push(if h.flags.response { 0x20 } else { 0 } | if h.flags.initiator { 0x08 } else { 0 });
    out.extend_from_slice(&h.message_id.to_be_bytes());
    out.extend_from_slice(&((28 + 4 + plain.len()) as u32).to_be_bytes());
    out.push(first.0);
    out.push(0);
    out.extend_from_slice(&((4 + plain.len()) as u16).to_be_bytes());
    out.extend_from_slice(plain);
    out
}

fn id_body(id: &IdRepr) -> Vec<u8> {
    let mut b = vec![0u8; id.buffer_len()];
    id.emit(&mut b).unwrap();
    b
}

fn nonce(m: &Message) -> Vec<u8> {
    let msg = MessageRepr::parse(&m.datagrams[0]).unwrap();
    msg.payloads
        .iter()
        .find_map(|p| match &p.body {
            PayloadRepr::Nonce(n) => Some(n.data.to_vec()),
            _ => None,
        })
        .expect("IKE_SA_INIT carries a nonce")
}

fn ke(payloads: &[Payload]) -> &KeRepr {
    match payloads {
        [Payload { body: PayloadRepr::Ke(k), .. }] => k,
        other => panic!("expected exactly one KE payload, got {other:?}"),
    }
}

/// Runs a whole handshake with `slots` on both sides through the real ML-KEM, then checks
/// every message and key against what RFC 9370 / RFC 9242 say they must be.
fn handshake_checked(slots: &[&[DhGroup]], expect: &[(DhGroup, usize, usize)], max_len: usize) {
    let recording = Recording::default();
    let secrets = Arc::clone(&recording.secrets);
    let mut client = with_addke(client_config(), slots);
    let mut server = with_addke(server_config(), slots);
    client.max_message_len = max_len;
    server.max_message_len = max_len;
    let mut pair = Pair::new(client, server, Arc::new(recording), 90);
    let mut peak_held = 0;
    // What the half-open responder holds at its peak must stay in its budget.
    let ok = pair.run_until(Duration::from_secs(30), |p| {
        for sa in p.responder.sas().filter(|sa| sa.is_half_open()) {
            peak_held = peak_held.max(sa.held_bytes());
        }
        p.initiator.is_established() && p.children_up(common::To::Responder) >= 1
    });
    assert!(ok, "{:?} / {:?}", pair.initiator_events, pair.responder_events);
    pair.assert_children_agree();
    eprintln!("{slots:?}: peak half-open bytes held by the responder {peak_held}");
    assert!(peak_held > 0 && peak_held < server_config().half_open_max_bytes);

    let msgs = messages(&pair.transcript);
    let exchanges: Vec<(u8, u32, bool)> = msgs
        .iter()
        .map(|m| (m.header.exchange.0, m.header.message_id, m.header.flags.response))
        .collect();
    let mut expected = vec![(34, 0, false), (34, 0, true)];
    for (n, _) in expect.iter().enumerate() {
        expected.push((43, n as u32 + 1, false));
        expected.push((43, n as u32 + 1, true));
    }
    let auth_mid = expect.len() as u32 + 1;
    expected.push((35, auth_mid, false));
    expected.push((35, auth_mid, true));
    assert_eq!(exchanges, expected);

    // Both sides announced IKE_INTERMEDIATE in IKE_SA_INIT.
    for m in &msgs[..2] {
        let parsed = MessageRepr::parse(&m.datagrams[0]).unwrap();
        assert!(parsed.payloads.iter().any(|p| matches!(&p.body,
            PayloadRepr::Notify(n) if n.kind == NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED)));
    }
    let ni = nonce(&msgs[0]);
    let nr = nonce(&msgs[1]);
    let spis = (msgs[1].header.spi_i, msgs[1].header.spi_r);
    let export = pair.initiator.export_keys_for_debugging().unwrap();
    let (suite, prf) = (export.suite.suite, export.suite.prf);
    let mut expected_kes = [DhGroup::NONE; 7];
    for (i, (g, _, _)) in expect.iter().enumerate() {
        expected_kes[i] = *g;
    }
    assert_eq!(export.suite.additional_kes, expected_kes);

    // Every secret was computed once on each side, the same on both.
    let recorded = secrets.lock().unwrap().clone();
    assert_eq!(recorded.len(), 2 * (1 + expect.len()));
    let mut distinct: Vec<(DhGroup, Vec<u8>)> = Vec::new();
    for pair_of in recorded.chunks(2) {
        assert_eq!(pair_of[0], pair_of[1], "both sides computed the same secret");
        distinct.push(pair_of[0].clone());
    }
    assert_eq!(distinct[0].0, DhGroup::CURVE25519);

    let mut k = derive(suite, prf, &keys::skeyseed(prf, &ni, &nr, &distinct[0].1), &ni, &nr, spis);
    let (mut int_i, mut int_r) = (Vec::new(), Vec::new());
    for (n, (group, ke_i_len, ke_r_len)) in expect.iter().enumerate() {
        let (req, resp) = (&msgs[2 + 2 * n], &msgs[3 + 2 * n]);
        let req_payloads = payloads(req, &k.to_responder);
        assert_eq!((ke(&req_payloads).group, ke(&req_payloads).data.len()), (*group, *ke_i_len));
        let resp_payloads = payloads(resp, &k.to_initiator);
        assert_eq!((ke(&resp_payloads).group, ke(&resp_payloads).data.len()), (*group, *ke_r_len));
        let (f, p) = open(req, &k.to_responder);
        int_i = prf
            .compute(k.keys.sk_pi.expose(), &[&int_i, &int_auth_data(&req.header, f, &p)])
            .expose()
            .to_vec();
        let (f, p) = open(resp, &k.to_initiator);
        int_r = prf
            .compute(k.keys.sk_pr.expose(), &[&int_r, &int_auth_data(&resp.header, f, &p)])
            .expose()
            .to_vec();
        assert_eq!(distinct[1 + n].0, *group);
        // RFC 9370 §2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr).
        let seed =
            keys::intermediate_skeyseed(prf, k.keys.sk_d.expose(), &distinct[1 + n].1, &ni, &nr);
        k = derive(suite, prf, &seed, &ni, &nr, spis);
    }
    // The keys both sides ended with are the last ones derived here.
    let exported = |e: ikeway_sa::KeyExport<'_>| {
        [e.sk_ei, e.sk_er, e.sk_ai, e.sk_ar].map(|k| k.expose().to_vec())
    };
    let ours =
        [&k.keys.sk_ei, &k.keys.sk_er, &k.keys.sk_ai, &k.keys.sk_ar].map(|k| k.expose().to_vec());
    assert_eq!(exported(pair.initiator.export_keys_for_debugging().unwrap()), ours);
    assert_eq!(exported(pair.responder_sa().export_keys_for_debugging().unwrap()), ours);

    // Both AUTHs cover the IntAuth chain and IKE_AUTH's message ID (RFC 9242 §3.3.2).
    let auth_req = &msgs[2 + 2 * expect.len()];
    let auth_resp = &msgs[3 + 2 * expect.len()];
    let tail = [&int_i[..], &int_r[..], &auth_mid.to_be_bytes()].concat();
    let padded = prf.compute(psk().expose(), &[b"Key Pad for IKEv2"]);
    let init_req = &msgs[0].datagrams[0];
    let init_resp = &msgs[1].datagrams[0];
    let client_id = id_body(&client_config().local_id);
    let server_id = id_body(&server_config().local_id);
    let maced_i = prf.compute(k.keys.sk_pi.expose(), &[&client_id]);
    let auth_i = prf.compute(padded.expose(), &[init_req, &nr, maced_i.expose(), &tail]);
    assert_eq!(auth_data(&payloads(auth_req, &k.to_responder)), auth_i.expose());
    let maced_r = prf.compute(k.keys.sk_pr.expose(), &[&server_id]);
    let auth_r = prf.compute(padded.expose(), &[init_resp, &ni, maced_r.expose(), &tail]);
    assert_eq!(auth_data(&payloads(auth_resp, &k.to_initiator)), auth_r.expose());
}

#[test]
fn x25519_plus_mlkem768_keys_payloads_and_int_auth() {
    handshake_checked(&[&[ML_KEM_768]], &[(ML_KEM_768, 1184, 1088)], 1280);
}

#[test]
fn x25519_plus_mlkem1024_fragmented_in_ike_intermediate() {
    handshake_checked(&[&[ML_KEM_1024]], &[(ML_KEM_1024, 1568, 1568)], 1280);
}

#[test]
fn mlkem1024_key_shares_go_as_skf_fragments() {
    let client = with_addke(client_config(), &[&[ML_KEM_1024]]);
    let server = with_addke(server_config(), &[&[ML_KEM_1024]]);
    let mut pair = Pair::new(client, server, Arc::new(DefaultKex::default()), 91);
    pair.establish();
    let msgs = messages(&pair.transcript);
    for m in msgs.iter().filter(|m| m.header.exchange == ExchangeType::IKE_INTERMEDIATE) {
        assert_eq!(m.datagrams.len(), 2, "1568-byte key shares need two fragments of 1280");
        assert!(m.datagrams.iter().all(|d| d.len() <= 1280 && d[16] == 53));
    }
}

#[test]
fn two_additional_key_exchanges_in_order() {
    handshake_checked(
        &[&[ML_KEM_768], &[ML_KEM_1024]],
        &[(ML_KEM_768, 1184, 1088), (ML_KEM_1024, 1568, 1568)],
        1280,
    );
}

#[test]
fn classical_configuration_sends_no_intermediate() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(DefaultKex::default()), 92);
    pair.establish();
    let msgs = messages(&pair.transcript);
    assert_eq!(msgs.len(), 4, "IKE_SA_INIT and IKE_AUTH only");
    for m in &msgs[..2] {
        let parsed = MessageRepr::parse(&m.datagrams[0]).unwrap();
        assert!(!parsed.payloads.iter().any(|p| matches!(&p.body,
            PayloadRepr::Notify(n) if n.kind == NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED)));
    }
}

#[test]
fn optional_slot_falls_back_to_classical_with_a_classical_responder() {
    let client = with_addke(client_config(), &[&[ML_KEM_768, DhGroup::NONE]]);
    let mut pair = Pair::new(client, server_config(), Arc::new(DefaultKex::default()), 93);
    pair.establish();
    assert_eq!(messages(&pair.transcript).len(), 4, "no IKE_INTERMEDIATE");
    assert_eq!(
        pair.initiator.export_keys_for_debugging().unwrap().suite.additional_kes,
        [DhGroup::NONE; 7]
    );
}

#[test]
fn required_slot_is_not_given_up_for_a_classical_peer() {
    // Our initiator insists; a classical responder has nothing to choose.
    let client = with_addke(client_config(), &[&[ML_KEM_768]]);
    let mut pair = Pair::new(client, server_config(), Arc::new(DefaultKex::default()), 94);
    pair.run_until(Duration::from_secs(10), |p| p.initiator.is_closed());
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::NoProposalChosen }))
    );
    // Our responder insists; a classical initiator is refused.
    let server = with_addke(server_config(), &[&[ML_KEM_768]]);
    let mut pair = Pair::new(client_config(), server, Arc::new(DefaultKex::default()), 95);
    pair.run_until(Duration::from_secs(10), |p| p.initiator.is_closed());
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::NoProposalChosen }))
    );
    assert_eq!(pair.responder.len(), 0, "no state at the responder");
}

/// Seed 101 loses the IKE_SA_INIT response: its retransmitted request must be answered from
/// the responder's cache (it was dropped for its zero SPIr before).
#[test]
fn established_through_loss_and_duplication() {
    for seed in 0..4 {
        let client = with_addke(client_config(), &[&[ML_KEM_768]]);
        let server = with_addke(server_config(), &[&[ML_KEM_768]]);
        let impair = Impairments { loss: 0.25, duplicate: 0.25, ..Impairments::default() };
        let mut pair =
            Pair::with(client, server, Arc::new(DefaultKex::default()), 100 + seed, impair);
        pair.establish();
        pair.assert_children_agree();
    }
}

/// A hand-driven initiator and responder, for forging messages between them.
struct Manual {
    now: std::time::Instant,
    initiator: IkeSa,
    responder: Responder,
    buf: Vec<u8>,
}

impl Manual {
    fn new(client: Config, server: Config) -> Self {
        let now = std::time::Instant::now();
        let kex: Arc<dyn KeyExchangeProvider> = Arc::new(DefaultKex::default());
        let initiator = IkeSa::initiate(
            Arc::new(client),
            Arc::clone(&kex),
            [1; 32],
            now,
            addr(CLIENT),
            addr(SERVER),
        )
        .unwrap();
        let responder = Responder::new(Arc::new(server), kex, Some(common::pool()), [2; 32]);
        Self { now, initiator, responder, buf: vec![0; 65536] }
    }

    fn sent_by_initiator(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(t) = self.initiator.poll_transmit(&mut self.buf) {
            out.push(self.buf[..t.unwrap().len].to_vec());
        }
        out
    }

    fn sent_by_responder(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(t) = self.responder.poll_transmit(&mut self.buf) {
            out.push(self.buf[..t.unwrap().len].to_vec());
        }
        out
    }

    fn deliver_to_responder(&mut self, d: &[u8]) {
        self.responder.handle_datagram(self.now, addr(CLIENT), addr(SERVER), d);
    }

    fn deliver_to_initiator(&mut self, d: &[u8]) {
        self.initiator.handle_datagram(self.now, addr(SERVER), addr(CLIENT), d);
    }

    /// IKE_SA_INIT both ways; returns the initiator's next request (its datagrams).
    fn after_init(&mut self) -> Vec<Vec<u8>> {
        for d in self.sent_by_initiator() {
            self.deliver_to_responder(&d);
        }
        for d in self.sent_by_responder() {
            self.deliver_to_initiator(&d);
        }
        self.sent_by_initiator()
    }

    /// The keys in force at the initiator now: (to the responder, to the initiator).
    fn keys(&self) -> (Protector, Protector) {
        let k = self.initiator.export_keys_for_debugging().unwrap();
        let s = k.suite.suite;
        let key = |e: &SecretBytes, a: &SecretBytes| {
            s.key(AeadBackend::RustCrypto, e.expose(), a.expose()).unwrap()
        };
        (key(k.sk_ei, k.sk_ai), key(k.sk_er, k.sk_ar))
    }

    fn responder_closed(&mut self) -> Vec<CloseReason> {
        let mut out = Vec::new();
        while let Some(e) = self.responder.poll_event() {
            if let Event::IkeSaClosed { reason } = e.event {
                out.push(reason);
            }
        }
        out
    }

    fn initiator_closed(&mut self) -> Vec<CloseReason> {
        let mut out = Vec::new();
        while let Some(e) = self.initiator.poll_event() {
            if let Event::IkeSaClosed { reason } = e.event {
                out.push(reason);
            }
        }
        out
    }
}

fn reseal(original: &[u8], exchange: ExchangeType, inner: &[Payload], p: &Protector) -> Vec<u8> {
    let mut header = HeaderRepr::parse(original).unwrap();
    header.exchange = exchange;
    let iv = vec![0x3c; p.iv_len()];
    sk::seal(&header, &[], inner, p, &iv).unwrap()
}

fn notifies(datagram: &[u8], p: &Protector) -> (ExchangeType, Vec<NotifyType>) {
    let header = HeaderRepr::parse(datagram).unwrap();
    let inner = sk::open(datagram, p).unwrap().payloads().unwrap();
    let kinds = inner
        .into_iter()
        .filter_map(|p| match p.body {
            PayloadRepr::Notify(n) => Some(n.kind),
            _ => None,
        })
        .collect();
    (header.exchange, kinds)
}

/// Hands the responder the initiator's first IKE_INTERMEDIATE request with its KE payload
/// replaced by `forged` (sent as `exchange`); returns the answer's exchange and notifies and
/// why the responder closed.
fn responder_refuses(
    client: Config,
    server: Config,
    exchange: ExchangeType,
    forged: Vec<Payload>,
) -> ((ExchangeType, Vec<NotifyType>), Vec<CloseReason>, usize) {
    let mut m = Manual::new(client, server);
    let request = m.after_init();
    let (to_responder, to_initiator) = m.keys();
    let forged = reseal(&request[0], exchange, &forged, &to_responder);
    m.deliver_to_responder(&forged);
    let answer = m.sent_by_responder();
    assert_eq!(answer.len(), 1, "one answer");
    (notifies(&answer[0], &to_initiator), m.responder_closed(), m.responder.len())
}

fn ke_payload(group: DhGroup, len: usize) -> Vec<Payload> {
    vec![Payload::new(PayloadRepr::Ke(KeRepr { group, data: vec![7; len].into() }))]
}

#[test]
fn responder_refuses_a_key_exchange_of_the_wrong_method() {
    let (answer, closed, left) = responder_refuses(
        with_addke(client_config(), &[&[ML_KEM_768]]),
        with_addke(server_config(), &[&[ML_KEM_768]]),
        ExchangeType::IKE_INTERMEDIATE,
        ke_payload(ML_KEM_1024, 1568),
    );
    assert_eq!(answer, (ExchangeType::IKE_INTERMEDIATE, vec![NotifyType::INVALID_SYNTAX]));
    assert_eq!(closed, [CloseReason::AdditionalKeyExchange(AddKeFailure::WrongMethod)]);
    assert_eq!(left, 0);
}

#[test]
fn responder_refuses_a_key_share_of_the_wrong_length() {
    for len in [1183, 1185, 0] {
        let (answer, closed, left) = responder_refuses(
            with_addke(client_config(), &[&[ML_KEM_768]]),
            with_addke(server_config(), &[&[ML_KEM_768]]),
            ExchangeType::IKE_INTERMEDIATE,
            ke_payload(ML_KEM_768, len),
        );
        assert_eq!(answer, (ExchangeType::IKE_INTERMEDIATE, vec![NotifyType::INVALID_SYNTAX]));
        assert_eq!(closed, [CloseReason::AdditionalKeyExchange(AddKeFailure::InvalidKeyExchange)]);
        assert_eq!(left, 0);
    }
}

#[test]
fn responder_refuses_an_intermediate_that_was_not_negotiated() {
    let (answer, closed, left) = responder_refuses(
        client_config(),
        server_config(),
        ExchangeType::IKE_INTERMEDIATE,
        ke_payload(ML_KEM_768, 1184),
    );
    assert_eq!(answer, (ExchangeType::IKE_INTERMEDIATE, vec![NotifyType::INVALID_SYNTAX]));
    assert_eq!(closed, [CloseReason::AdditionalKeyExchange(AddKeFailure::NotNegotiated)]);
    assert_eq!(left, 0);
}

#[test]
fn responder_refuses_ike_auth_before_the_additional_key_exchanges() {
    let id = Payload::new(PayloadRepr::IdI(client_config().local_id.clone()));
    let (answer, closed, left) = responder_refuses(
        with_addke(client_config(), &[&[ML_KEM_768]]),
        with_addke(server_config(), &[&[ML_KEM_768]]),
        ExchangeType::IKE_AUTH,
        vec![id],
    );
    assert_eq!(answer, (ExchangeType::IKE_AUTH, vec![NotifyType::INVALID_SYNTAX]));
    assert_eq!(closed, [CloseReason::AdditionalKeyExchange(AddKeFailure::Incomplete)]);
    assert_eq!(left, 0);
}

#[test]
fn initiator_gives_up_on_a_response_of_the_wrong_method_or_length() {
    for (forged, why) in [
        (ke_payload(ML_KEM_1024, 1568), AddKeFailure::WrongMethod),
        (ke_payload(ML_KEM_768, 1087), AddKeFailure::InvalidKeyExchange),
    ] {
        let mut m = Manual::new(
            with_addke(client_config(), &[&[ML_KEM_768]]),
            with_addke(server_config(), &[&[ML_KEM_768]]),
        );
        let request = m.after_init();
        let (to_responder, to_initiator) = m.keys();
        for d in &request {
            m.deliver_to_responder(d);
        }
        let answer = m.sent_by_responder();
        m.deliver_to_initiator(&reseal(
            &answer[0],
            ExchangeType::IKE_INTERMEDIATE,
            &forged,
            &to_initiator,
        ));
        assert_eq!(m.initiator_closed(), [CloseReason::AdditionalKeyExchange(why)]);
        // The responder is told (as after a refused AUTH), once, under the keys it knows.
        let told = m.sent_by_initiator();
        assert_eq!(told.len(), 1);
        assert_eq!(
            notifies(&told[0], &to_responder),
            (ExchangeType::INFORMATIONAL, vec![NotifyType::AUTHENTICATION_FAILED])
        );
    }
}

#[test]
fn initiator_refuses_additional_key_exchanges_without_intermediate_support() {
    let mut m = Manual::new(
        with_addke(client_config(), &[&[ML_KEM_768]]),
        with_addke(server_config(), &[&[ML_KEM_768]]),
    );
    for d in m.sent_by_initiator() {
        m.deliver_to_responder(&d);
    }
    let response = m.sent_by_responder().remove(0);
    let mut parsed = MessageRepr::parse(&response).unwrap();
    parsed.payloads.retain(|p| {
        !matches!(&p.body,
        PayloadRepr::Notify(n) if n.kind == NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED)
    });
    m.deliver_to_initiator(&parsed.to_vec().unwrap());
    assert_eq!(
        m.initiator_closed(),
        [CloseReason::AdditionalKeyExchange(AddKeFailure::IntermediateUnsupported)]
    );
    assert!(m.sent_by_initiator().is_empty(), "no IKE_INTERMEDIATE and no IKE_AUTH");
}

#[test]
fn retransmitted_intermediate_request_is_answered_from_the_cache() {
    let mut m = Manual::new(
        with_addke(client_config(), &[&[ML_KEM_768]]),
        with_addke(server_config(), &[&[ML_KEM_768]]),
    );
    let request = m.after_init();
    m.deliver_to_responder(&request[0]);
    let first = m.sent_by_responder();
    // The responder's keys moved on; the retransmission still comes under the old ones.
    m.deliver_to_responder(&request[0]);
    let again = m.sent_by_responder();
    assert_eq!(again, first, "the same response, byte for byte");
    let id = SaId::from_spi(HeaderRepr::parse(&first[0]).unwrap().spi_r);
    assert_eq!(m.responder.sa_mut(id).unwrap().stats().replayed_responses, 1);
    // And the handshake goes on from there.
    m.deliver_to_initiator(&first[0]);
    for d in m.sent_by_initiator() {
        m.deliver_to_responder(&d);
    }
    for d in m.sent_by_responder() {
        m.deliver_to_initiator(&d);
    }
    assert!(m.initiator.is_established());
}
