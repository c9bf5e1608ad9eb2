//! Phase 1 in memory: our initiator against our responder endpoint, main and aggressive mode
//! with a shared secret, and the failures with their exact outcomes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_crypto::{BlockCipher, SecretBytes};
use ikeway_ikev1::{
    CloseReason, Config, DefaultKex, EngineEvent, Event, HashAlg, Identity, Ikev1Responder,
    Ikev1Sa, Phase1Mode, Phase1Proposal,
};
use ikeway_isakmp::{Body, ExchangeType, MessageRepr, NotifyType, Payload};

const GROUP: &[u8] = b"ikeway-group";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn client(mode: Phase1Mode, psk: &[u8]) -> Config {
    let mut c = Config::psk(Identity::KeyId(GROUP.to_vec()), SecretBytes::from_slice(psk));
    c.mode = mode;
    // Phase 1 alone: no quick mode, DPD or INITIAL-CONTACT after it (tests/quick*.rs,
    // dpd.rs and initial_contact.rs run those).
    c.quick.first_child = false;
    c.informational.dpd = None;
    c.informational.initial_contact = false;
    c
}

fn server(mode: Phase1Mode) -> Config {
    let mut c = Config::psk(
        Identity::Ipv4("10.0.0.2".parse().unwrap()),
        SecretBytes::from_slice(b"ikeway group secret 42"),
    );
    c.mode = mode;
    c.remote_id = Some(Identity::KeyId(GROUP.to_vec()));
    c
}

/// One side of the test network: datagrams as they were sent.
#[derive(Debug, Clone)]
struct Sent {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

fn drain_sa(sa: &mut Ikev1Sa) -> Vec<Sent> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(Ok(t)) = sa.poll_transmit(&mut buf) {
        out.push(Sent { from: t.local, to: t.remote, bytes: buf[..t.len].to_vec() });
    }
    out
}

fn drain_resp(r: &mut Ikev1Responder) -> Vec<Sent> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(Ok(t)) = r.poll_transmit(&mut buf) {
        out.push(Sent { from: t.local, to: t.remote, bytes: buf[..t.len].to_vec() });
    }
    out
}

fn events_sa(sa: &mut Ikev1Sa) -> Vec<Event> {
    std::iter::from_fn(|| sa.poll_event()).map(|e: EngineEvent| e.event).collect()
}

fn events_resp(r: &mut Ikev1Responder) -> Vec<Event> {
    std::iter::from_fn(|| r.poll_event()).map(|e| e.event).collect()
}

/// Delivers everything both sides send until both are quiet; a datagram that sees a NAT
/// gets its source (to the responder) and destination (from it) rewritten by `nat`.
fn converse(
    init: &mut Ikev1Sa,
    resp: &mut Ikev1Responder,
    now: Instant,
    nat: &dyn Fn(SocketAddr) -> SocketAddr,
    unnat: &dyn Fn(SocketAddr) -> SocketAddr,
) -> usize {
    let mut rounds = 0;
    loop {
        let a = drain_sa(init);
        for s in &a {
            resp.handle_datagram(now, nat(s.from), s.to, &s.bytes);
        }
        let b = drain_resp(resp);
        for s in &b {
            init.handle_datagram(now, s.from, unnat(s.to), &s.bytes);
        }
        if a.is_empty() && b.is_empty() {
            return rounds;
        }
        rounds += 1;
    }
}

fn direct(a: SocketAddr) -> SocketAddr {
    a
}

fn start(mode: Phase1Mode, psk: &[u8], now: Instant) -> (Ikev1Sa, Ikev1Responder) {
    let kex = Arc::new(DefaultKex::default());
    let init = Ikev1Sa::initiate(
        Arc::new(client(mode, psk)),
        kex.clone(),
        [1; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .unwrap();
    let resp = Ikev1Responder::new(Arc::new(server(mode)), kex, [2; 32]);
    (init, resp)
}

fn up(events: &[Event]) -> Option<(u64, u64, ikeway_sa::IkeSuite)> {
    events.iter().find_map(|e| match e {
        Event::Ike(ikeway_sa::Event::IkeSaUp { spi_i, spi_r, suite }) => {
            Some((*spi_i, *spi_r, *suite))
        }
        _ => None,
    })
}

fn closed(events: &[Event]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Ike(ikeway_sa::Event::IkeSaClosed { reason }) => Some(*reason),
        _ => None,
    })
}

fn decode(bytes: &[u8]) -> MessageRepr {
    MessageRepr::parse(bytes).unwrap()
}

#[test]
fn aggressive_mode_with_a_group_name_and_psk_comes_up_on_both_sides_in_three_messages() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Aggressive, b"ikeway group secret 42", now);
    let m1 = drain_sa(&mut init);
    assert_eq!(m1.len(), 1);
    let msg1 = decode(&m1[0].bytes);
    assert_eq!(msg1.header.exchange, ExchangeType::AGGRESSIVE);
    let Body::Plain(p) = &msg1.body else { panic!("message 1 is in the clear") };
    let kinds: Vec<_> = p.iter().map(Payload::kind).collect();
    use ikeway_isakmp::PayloadType as T;
    assert_eq!(&kinds[..4], &[T::SA, T::KE, T::NONCE, T::ID]);
    let id = p.iter().find_map(|p| if let Payload::Id(i) = p { Some(i) } else { None }).unwrap();
    assert_eq!(id.id_type, ikeway_isakmp::IdType::KEY_ID);
    assert_eq!(id.data, GROUP);
    for s in &m1 {
        resp.handle_datagram(now, s.from, s.to, &s.bytes);
    }
    let m2 = drain_resp(&mut resp);
    assert_eq!(m2.len(), 1);
    for s in &m2 {
        init.handle_datagram(now, s.from, s.to, &s.bytes);
    }
    let m3 = drain_sa(&mut init);
    assert_eq!(m3.len(), 1);
    assert!(decode(&m3[0].bytes).header.flags.encryption, "message 3 is encrypted");
    for s in &m3 {
        resp.handle_datagram(now, s.from, s.to, &s.bytes);
    }
    assert!(drain_resp(&mut resp).is_empty());
    let (ei, er) = (events_sa(&mut init), events_resp(&mut resp));
    let (i_up, r_up) = (up(&ei).expect("initiator up"), up(&er).expect("responder up"));
    assert_eq!((i_up.0, i_up.1), (r_up.0, r_up.1));
    assert_eq!(i_up.0, init.cookies().0);
    assert_ne!(i_up.1, 0);
    let suite = init.phase1_suite().unwrap();
    assert_eq!(suite.cipher, BlockCipher::AesCbc { key_bits: 256 });
    assert_eq!(suite.hash, HashAlg::Sha256);
    assert_eq!(suite.group, ikeway_codec::DhGroup(14));
    assert_eq!(i_up.2, r_up.2);
    // No NAT here: both sides say so.
    assert!(ei.iter().any(|e| matches!(
        e,
        Event::Ike(ikeway_sa::Event::NatDetected {
            local_behind_nat: false,
            remote_behind_nat: false
        })
    )));
    assert!(init.is_established());
    // The key log line is the same on both sides: tshark decrypts the SA with it.
    let line = init.export_keys_for_debugging().unwrap().wireshark_line();
    assert!(line.starts_with(&format!("{:016x},", i_up.0)));
    assert_eq!(line.len(), 16 + 1 + 64);
    let sa = resp.sa_mut(ikeway_sa::SaId::from_spi(r_up.1)).unwrap();
    assert_eq!(sa.export_keys_for_debugging().unwrap().wireshark_line(), line);
    assert!(sa.is_established());
    assert_eq!(sa.peer_id().unwrap().data, GROUP);
}

#[test]
fn main_mode_with_psk_comes_up_in_six_messages_with_the_identities_encrypted() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Main, b"ikeway group secret 42", now);
    let mut seen = Vec::new();
    loop {
        let a = drain_sa(&mut init);
        for s in &a {
            seen.push(decode(&s.bytes));
            resp.handle_datagram(now, s.from, s.to, &s.bytes);
        }
        let b = drain_resp(&mut resp);
        for s in &b {
            seen.push(decode(&s.bytes));
            init.handle_datagram(now, s.from, s.to, &s.bytes);
        }
        if a.is_empty() && b.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|m| m.header.exchange == ExchangeType::MAIN));
    let encrypted: Vec<bool> = seen.iter().map(|m| m.header.flags.encryption).collect();
    assert_eq!(encrypted, [false, false, false, false, true, true]);
    let ei = events_sa(&mut init);
    let er = events_resp(&mut resp);
    assert_eq!(up(&ei).map(|u| (u.0, u.1)), up(&er).map(|u| (u.0, u.1)));
    assert!(up(&ei).is_some());
    // Once up, nothing of phase 1 is resent: the next deadline is the point where a
    // successor should be made (a tenth of the lifetime before its end: helper C's
    // `quick::handover`), then the SA's lifetime.
    assert_eq!(init.poll_timeout(), Some(now + Duration::from_secs(8 * 3600 - 2880)));
    init.handle_timeout(now + Duration::from_secs(600));
    assert!(drain_sa(&mut init).is_empty());
    assert!(init.is_established());
    init.handle_timeout(now + Duration::from_secs(8 * 3600 - 2880));
    assert!(drain_sa(&mut init).is_empty());
    assert_eq!(init.poll_timeout(), Some(now + Duration::from_secs(8 * 3600)));
    // At the end of its lifetime the SA closes as expired.
    init.handle_timeout(now + Duration::from_secs(8 * 3600));
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::Expired));
}

#[test]
fn a_wrong_group_secret_in_aggressive_mode_fails_hash_r_and_both_sides_close() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Aggressive, b"not the group secret", now);
    converse(&mut init, &mut resp, now, &direct, &direct);
    // The initiator checks HASH_R first: it cannot match, so it says so and gives up.
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::AuthenticationFailed));
    assert_eq!(closed(&events_resp(&mut resp)), Some(CloseReason::AuthenticationFailed));
    assert!(!init.is_established());
    assert!(resp.is_empty(), "the responder forgot the failed SA");
}

#[test]
fn a_wrong_group_secret_in_main_mode_is_refused_by_the_responder_with_authentication_failed() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Main, b"not the group secret", now);
    let mut notify = None;
    loop {
        let a = drain_sa(&mut init);
        for s in &a {
            resp.handle_datagram(now, s.from, s.to, &s.bytes);
        }
        let b = drain_resp(&mut resp);
        for s in &b {
            let m = decode(&s.bytes);
            if m.header.exchange == ExchangeType::INFORMATIONAL {
                notify = m.find_notification(NotifyType::AUTHENTICATION_FAILED).map(|n| n.kind);
            }
            init.handle_datagram(now, s.from, s.to, &s.bytes);
        }
        if a.is_empty() && b.is_empty() {
            break;
        }
    }
    assert_eq!(notify, Some(NotifyType::AUTHENTICATION_FAILED));
    assert_eq!(closed(&events_resp(&mut resp)), Some(CloseReason::AuthenticationFailed));
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::AuthenticationFailed));
}

#[test]
fn no_common_proposal_is_answered_with_no_proposal_chosen() {
    let now = Instant::now();
    let kex = Arc::new(DefaultKex::default());
    let mut c = client(Phase1Mode::Main, b"ikeway group secret 42");
    c.proposals = vec![Phase1Proposal {
        cipher: BlockCipher::AesCbc { key_bits: 192 },
        hash: HashAlg::Sha512,
        group: ikeway_codec::DhGroup(20),
    }];
    let mut init = Ikev1Sa::initiate(
        Arc::new(c),
        kex.clone(),
        [1; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .unwrap();
    let mut resp = Ikev1Responder::new(Arc::new(server(Phase1Mode::Main)), kex, [2; 32]);
    for s in drain_sa(&mut init) {
        resp.handle_datagram(now, s.from, s.to, &s.bytes);
    }
    let answer = drain_resp(&mut resp);
    assert_eq!(answer.len(), 1);
    let m = decode(&answer[0].bytes);
    assert_eq!(m.header.exchange, ExchangeType::INFORMATIONAL);
    assert!(m.find_notification(NotifyType::NO_PROPOSAL_CHOSEN).is_some());
    init.handle_datagram(now, answer[0].from, answer[0].to, &answer[0].bytes);
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::NoProposalChosen));
    assert_eq!(closed(&events_resp(&mut resp)), Some(CloseReason::NoProposalChosen));
}

#[test]
fn a_lost_answer_is_resent_from_the_last_message_when_the_peer_retransmits() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Main, b"ikeway group secret 42", now);
    let m1 = drain_sa(&mut init);
    resp.handle_datagram(now, m1[0].from, m1[0].to, &m1[0].bytes);
    let lost = drain_resp(&mut resp);
    assert_eq!(lost.len(), 1, "message 2, lost on the way");
    // The initiator's timer resends message 1, byte for byte.
    let deadline = init.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(1));
    init.handle_timeout(deadline);
    let again = drain_sa(&mut init);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bytes, m1[0].bytes);
    assert_eq!(init.stats().retransmits, 1);
    // The responder answers from its last message rather than starting over.
    resp.handle_datagram(deadline, again[0].from, again[0].to, &again[0].bytes);
    let resent = drain_resp(&mut resp);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].bytes, lost[0].bytes);
    assert_eq!(resp.len(), 1, "no second SA for the retransmission");
    let sa_id = ikeway_sa::SaId::from_spi(
        decode(&resent[0].bytes).header.cookie_r.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)),
    );
    assert_eq!(resp.sa_mut(sa_id).unwrap().stats().replayed_responses, 1);
    init.handle_datagram(deadline, resent[0].from, resent[0].to, &resent[0].bytes);
    converse(&mut init, &mut resp, deadline, &direct, &direct);
    assert!(up(&events_sa(&mut init)).is_some());
    assert!(init.is_established());
}

#[test]
fn an_initiator_gives_up_when_retransmissions_run_out() {
    let now = Instant::now();
    let (mut init, _resp) = start(Phase1Mode::Aggressive, b"x", now);
    drain_sa(&mut init);
    let mut t = now;
    let mut sends = 1;
    while let Some(deadline) = init.poll_timeout() {
        t = deadline;
        init.handle_timeout(t);
        sends += drain_sa(&mut init).len();
    }
    // 1 + 5 resends at 1, 2, 4, 8, 16 s, then 32 s more without an answer.
    assert_eq!(sends, 6);
    assert_eq!(t, now + Duration::from_secs(63));
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::PeerUnreachable));
}

/// Runs `mode` through a NAT that maps the client's 500 to 192.0.2.7:40500 and its 4500 to
/// 192.0.2.7:44500; returns the ports and markers of the client's datagrams.
fn through_nat(mode: Phase1Mode) -> Vec<(u16, u16, bool)> {
    let now = Instant::now();
    let (mut init, mut resp) = start(mode, b"ikeway group secret 42", now);
    // The NAT maps the client's 500 to 192.0.2.7:40500 and its 4500 to 192.0.2.7:44500.
    let nat = |a: SocketAddr| match a.port() {
        500 => addr("192.0.2.7:40500"),
        _ => addr("192.0.2.7:44500"),
    };
    let unnat = |a: SocketAddr| match a.port() {
        40500 => addr("10.0.0.1:500"),
        _ => addr("10.0.0.1:4500"),
    };
    let mut ports = Vec::new();
    loop {
        let a = drain_sa(&mut init);
        for s in &a {
            ports.push((s.from.port(), s.to.port(), s.bytes[..4] == [0; 4]));
            resp.handle_datagram(now, nat(s.from), s.to, &s.bytes);
        }
        let b = drain_resp(&mut resp);
        for s in &b {
            init.handle_datagram(now, s.from, unnat(s.to), &s.bytes);
        }
        if a.is_empty() && b.is_empty() {
            break;
        }
    }
    let ei = events_sa(&mut init);
    let er = events_resp(&mut resp);
    assert!(ei.iter().any(|e| matches!(
        e,
        Event::Ike(ikeway_sa::Event::NatDetected {
            local_behind_nat: true,
            remote_behind_nat: false
        })
    )));
    assert!(er.iter().any(|e| matches!(
        e,
        Event::Ike(ikeway_sa::Event::NatDetected {
            local_behind_nat: false,
            remote_behind_nat: true
        })
    )));
    assert!(up(&ei).is_some() && up(&er).is_some());
    assert_eq!(init.path(), (addr("10.0.0.1:4500"), addr("10.0.0.2:4500")));
    let r_sa = resp.sa_mut(ikeway_sa::SaId::from_spi(up(&er).unwrap().1)).unwrap();
    assert_eq!(r_sa.path(), (addr("10.0.0.2:4500"), addr("192.0.2.7:44500")));
    // Behind the NAT, the initiator keeps its mapping open with keepalives.
    let k = init.poll_timeout().unwrap();
    assert!(k <= now + Duration::from_secs(20));
    ports
}

#[test]
fn behind_a_nat_main_mode_detects_it_on_both_sides_and_floats_to_4500_for_message_5() {
    let ports = through_nat(Phase1Mode::Main);
    // Messages 1 and 3 on 500; message 5 on 4500 after the non-ESP marker.
    assert_eq!(ports, [(500, 500, false), (500, 500, false), (4500, 4500, true)]);
}

#[test]
fn behind_a_nat_aggressive_mode_detects_it_on_both_sides_and_floats_for_message_3() {
    let ports = through_nat(Phase1Mode::Aggressive);
    assert_eq!(ports, [(500, 500, false), (4500, 4500, true)]);
}

#[test]
fn a_lost_main_mode_message_6_is_sent_again_when_message_5_comes_again() {
    let now = Instant::now();
    let (mut init, mut resp) = start(Phase1Mode::Main, b"ikeway group secret 42", now);
    // Messages 1 to 5 go through; the responder's message 6 is lost.
    let mut last = Vec::new();
    for _ in 0..3 {
        for s in drain_sa(&mut init) {
            resp.handle_datagram(now, s.from, s.to, &s.bytes);
        }
        last = drain_resp(&mut resp);
        if last.len() == 1 && decode(&last[0].bytes).header.flags.encryption {
            break;
        }
        for s in &last {
            init.handle_datagram(now, s.from, s.to, &s.bytes);
        }
    }
    assert!(decode(&last[0].bytes).header.flags.encryption, "message 6 is the one lost");
    assert!(up(&events_resp(&mut resp)).is_some(), "the responder is done after message 6");
    let resend = init.poll_timeout().unwrap();
    init.handle_timeout(resend);
    let again = drain_sa(&mut init);
    assert_eq!(again.len(), 1, "message 5 again");
    resp.handle_datagram(resend, again[0].from, again[0].to, &again[0].bytes);
    let six = drain_resp(&mut resp);
    assert_eq!(six.len(), 1);
    assert_eq!(six[0].bytes, last[0].bytes, "message 6 byte for byte");
    init.handle_datagram(resend, six[0].from, six[0].to, &six[0].bytes);
    assert!(init.is_established());
    assert!(up(&events_sa(&mut init)).is_some());
}

#[test]
fn junk_first_messages_leave_no_state_and_real_ones_are_bounded() {
    let now = Instant::now();
    let kex = Arc::new(DefaultKex::default());
    let mut resp =
        Ikev1Responder::new(Arc::new(server(Phase1Mode::Aggressive)), kex.clone(), [2; 32]);
    resp.max_half_open = 2;
    // A valid ISAKMP header with a zero responder cookie and nothing acceptable after it.
    for i in 0..100u64 {
        let mut junk = vec![0u8; 28];
        junk[..8].copy_from_slice(&(i + 1).to_be_bytes());
        junk[17] = 0x10;
        junk[18] = 4;
        junk[24..28].copy_from_slice(&28u32.to_be_bytes());
        resp.handle_datagram(now, addr("192.0.2.9:500"), addr("10.0.0.2:500"), &junk);
    }
    assert!(resp.is_empty(), "junk left {} SAs", resp.len());
    assert!(drain_resp(&mut resp).is_empty());
    // Real first messages: two are taken, the third waits for a slot.
    let mut inits: Vec<Ikev1Sa> = (0..3u8)
        .map(|i| {
            Ikev1Sa::initiate(
                Arc::new(client(Phase1Mode::Aggressive, b"ikeway group secret 42")),
                kex.clone(),
                [10 + i; 32],
                now,
                addr(&format!("10.0.1.{}:500", i + 1)),
                addr("10.0.0.2:500"),
            )
            .unwrap()
        })
        .collect();
    for init in &mut inits {
        for s in drain_sa(init) {
            resp.handle_datagram(now, s.from, s.to, &s.bytes);
        }
    }
    assert_eq!(resp.len(), 2);
    assert_eq!(resp.refused_half_open, 1);
    assert_eq!(drain_resp(&mut resp).len(), 2);
}

#[test]
fn the_engines_can_move_to_the_runtimes_thread() {
    fn send<T: Send + 'static>() {}
    send::<Ikev1Sa>();
    send::<Ikev1Responder>();
}

/// IKE group 2 (MODP-1024, RFC 2409 §6.2) for old gateways: it comes up where both
/// configurations name it (with 3DES and SHA1, as such gateways offer), with 128-octet KE
/// payloads; the provider IKEv2 shares never has it, and a gateway that does not name it
/// refuses it with NO-PROPOSAL-CHOSEN.
#[test]
fn modp1024_is_negotiated_only_where_a_configuration_names_it() {
    use ikeway_codec::DhGroup;
    use ikeway_ikev1::KeyExchangeProvider;
    let now = Instant::now();
    let kex = Arc::new(DefaultKex::default());
    assert!(!kex.supports(DhGroup(2)), "the provider IKEv2 uses has no group 2");
    let legacy = vec![Phase1Proposal {
        cipher: BlockCipher::TripleDesCbc,
        hash: HashAlg::Sha1,
        group: DhGroup(2),
    }];
    let mut c = client(Phase1Mode::Main, b"ikeway group secret 42");
    c.proposals = legacy.clone();
    let c = Arc::new(c);
    let mut s = server(Phase1Mode::Main);
    s.proposals = legacy;
    let (from, to) = (addr("10.0.0.1:500"), addr("10.0.0.2:500"));

    let mut init = Ikev1Sa::initiate(c.clone(), kex.clone(), [1; 32], now, from, to).unwrap();
    let mut resp = Ikev1Responder::new(Arc::new(s), kex.clone(), [2; 32]);
    let mut kes = Vec::new();
    loop {
        let a = drain_sa(&mut init);
        let b_count = {
            for m in &a {
                let msg = decode(&m.bytes);
                if let Some(Payload::Ke(k)) = msg.find(ikeway_isakmp::PayloadType::KE) {
                    kes.push(k.data.len());
                }
                resp.handle_datagram(now, m.from, m.to, &m.bytes);
            }
            let b = drain_resp(&mut resp);
            for m in &b {
                let msg = decode(&m.bytes);
                if let Some(Payload::Ke(k)) = msg.find(ikeway_isakmp::PayloadType::KE) {
                    kes.push(k.data.len());
                }
                init.handle_datagram(now, m.from, m.to, &m.bytes);
            }
            b.len()
        };
        if a.is_empty() && b_count == 0 {
            break;
        }
    }
    assert_eq!(kes, [128, 128], "one KE each way, the 1024-bit prime's length");
    let ei = events_sa(&mut init);
    let (spi_i, spi_r, suite) = up(&ei).expect("up with group 2");
    assert_eq!(suite.group, DhGroup(2));
    assert_eq!(up(&events_resp(&mut resp)).map(|u| (u.0, u.1)), Some((spi_i, spi_r)));

    // A gateway with the default proposals (group 14 and stronger) does not take group 2.
    let mut init = Ikev1Sa::initiate(c, kex.clone(), [3; 32], now, from, to).unwrap();
    let mut resp = Ikev1Responder::new(Arc::new(server(Phase1Mode::Main)), kex, [4; 32]);
    converse(&mut init, &mut resp, now, &direct, &direct);
    assert_eq!(closed(&events_sa(&mut init)), Some(CloseReason::NoProposalChosen));
    assert_eq!(closed(&events_resp(&mut resp)), Some(CloseReason::NoProposalChosen));
}
