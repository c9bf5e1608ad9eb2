//! IKEv1 fragmentation (the "FRAGMENTATION" vendor ID, payload 132) in memory: Main Mode with
//! certificates whose messages 5 and 6 exceed the configured size goes in fragments both ways
//! and comes up; every malformed fragment sequence has its exact outcome, counted, and leaves
//! no reassembly behind.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_ikev1::{
    Authentication, Config, DefaultKex, Event, FragmentStats, Identity, Ikev1Responder, Ikev1Sa,
    Phase1Mode, Retransmit, SaId,
};
use ikeway_isakmp::{
    ExchangeType, FragmentRepr, HeaderRepr, KnownVendorId, LAST_FRAGMENT, MessageRepr, Payload,
    PayloadType, VendorIdRepr,
};
use ikeway_pki::{Certificate, FixedTime, PrivateKey, Purpose, UnixTime, Validator};
use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};

const LIMIT: usize = 420;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config(ca: &TestCa, name: &str, purpose: Purpose) -> Config {
    let cert = ca.issue(name, name, &PKCS_ECDSA_P256_SHA256);
    let key = PrivateKey::from_der(&cert.key_der).unwrap();
    let chain = vec![Certificate::from_der(cert.cert_der).unwrap()];
    let own = Arc::new(ikeway_pki::Identity::new(key, chain).unwrap());
    let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    let verifier = Arc::new(FixedTime { validator: Validator::new(vec![anchor], purpose), now });
    let mut c = Config::psk(Identity::Fqdn(name.into()), ikeway_crypto::SecretBytes::default());
    c.mode = Phase1Mode::Main;
    c.auth = Authentication::Certificates { own, verifier };
    c.quick.first_child = false;
    c.informational.dpd = None;
    c.max_message_len = LIMIT;
    // No resend before the reassembly timeout (30 s), so deadlines can be told apart.
    c.retransmit = Retransmit { initial: Duration::from_secs(60), factor: 1, tries: 3 };
    c
}

fn is_fragment(datagram: &[u8]) -> bool {
    MessageRepr::parse(datagram).is_ok_and(|m| m.payload_types() == [PayloadType::FRAGMENT])
}

fn fragment_of(datagram: &[u8]) -> FragmentRepr {
    match MessageRepr::parse(datagram).unwrap().payloads() {
        [Payload::Fragment(f)] => f.clone(),
        other => panic!("not a fragment message: {other:?}"),
    }
}

/// The datagram with its fragment changed by `edit`.
fn edited(datagram: &[u8], edit: impl FnOnce(&mut FragmentRepr)) -> Vec<u8> {
    let mut m = MessageRepr::parse(datagram).unwrap();
    let mut f = fragment_of(datagram);
    edit(&mut f);
    m.body = ikeway_isakmp::Body::Plain(vec![Payload::Fragment(f)]);
    m.to_vec().unwrap()
}

struct Bed {
    t0: Instant,
    init: Ikev1Sa,
    resp: Ikev1Responder,
    /// Everything the initiator and the responder sent, in order.
    sent_i: Vec<Vec<u8>>,
    sent_r: Vec<Vec<u8>>,
    /// The responder's message 6, held back in its fragments.
    held: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl Bed {
    /// Main Mode with ECDSA certificates up to the responder's message 6, which is held back
    /// (messages 1-4 fit in [`LIMIT`], 5 and 6 do not).
    fn new(client: Config, server: Config) -> Self {
        let t0 = Instant::now();
        let kex = Arc::new(DefaultKex::default());
        let client_addr = addr("10.0.0.1:500");
        let init = Ikev1Sa::initiate(
            Arc::new(client),
            kex.clone(),
            [3; 32],
            t0,
            client_addr,
            addr("10.0.0.2:500"),
        )
        .unwrap();
        let resp = Ikev1Responder::new(Arc::new(server), kex, [4; 32]);
        let mut bed = Self {
            t0,
            init,
            resp,
            sent_i: Vec::new(),
            sent_r: Vec::new(),
            held: Vec::new(),
            buf: vec![0; 65536],
        };
        bed.run(true);
        bed
    }

    /// Delivers both ways until nothing moves; with `hold`, the responder's fragments are
    /// kept in `held` instead of delivered.
    fn run(&mut self, hold: bool) {
        loop {
            let mut moved = false;
            while let Some(Ok(t)) = self.init.poll_transmit(&mut self.buf) {
                let d = self.buf[..t.len].to_vec();
                self.resp.handle_datagram(self.t0, t.local, t.remote, &d);
                self.sent_i.push(d);
                moved = true;
            }
            while let Some(Ok(t)) = self.resp.poll_transmit(&mut self.buf) {
                let d = self.buf[..t.len].to_vec();
                self.sent_r.push(d.clone());
                if hold && is_fragment(&d) {
                    self.held.push(d);
                } else {
                    self.init.handle_datagram(self.t0, t.remote, t.local, &d);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn give(&mut self, datagram: &[u8]) {
        self.give_at(0, datagram);
    }

    fn give_at(&mut self, secs: u64, datagram: &[u8]) {
        let at = self.t0 + Duration::from_secs(secs);
        self.init.handle_datagram(at, addr("10.0.0.2:500"), addr("10.0.0.1:500"), datagram);
    }

    fn give_all_held(&mut self) {
        for d in self.held.clone() {
            self.give(&d);
        }
    }

    fn frags(&self) -> FragmentStats {
        self.init.stats().fragments
    }

    fn up(&mut self) -> bool {
        std::iter::from_fn(|| self.init.poll_event())
            .any(|e| matches!(e.event, Event::Ike(ikeway_sa::Event::IkeSaUp { .. })))
    }

    /// The initiator holds no reassembly: its next deadline is the resend of message 5.
    fn holds_nothing(&self) -> bool {
        self.init.poll_timeout() == Some(self.t0 + Duration::from_secs(60))
    }
}

fn pair() -> (Config, Config) {
    let ca = TestCa::new("ikeway test CA");
    let client = config(&ca, "client.ikeway.test", Purpose::Server);
    let server = config(&ca, "vpn.ikeway.test", Purpose::Client);
    (client, server)
}

fn bed() -> Bed {
    let (client, server) = pair();
    Bed::new(client, server)
}

#[test]
fn main_mode_with_certificates_goes_in_fragments_both_ways_and_comes_up() {
    let mut b = bed();
    // Messages 5 and 6 (492 and 476 octets) are over 420 octets with a certificate and a signature: both went in
    // fragments no longer than the limit, each side announced FRAGMENTATION in messages 1/2.
    assert!(b.held.len() >= 2, "{}", b.held.len());
    for d in b.sent_i.iter().chain(&b.sent_r) {
        assert!(d.len() <= LIMIT, "{} octets", d.len());
    }
    for first in [&b.sent_i[0], &b.sent_r[0]] {
        let m = MessageRepr::parse(first).unwrap();
        let fragmentation = VendorIdRepr::from_known(KnownVendorId::Fragmentation);
        assert!(m.payloads().contains(&Payload::VendorId(fragmentation)));
    }
    let pieces: Vec<_> = b.held.iter().map(|d| fragment_of(d)).collect();
    let numbers: Vec<_> = pieces.iter().map(|f| (f.id, f.number, f.is_last())).collect();
    let n = u8::try_from(pieces.len()).unwrap();
    let expected: Vec<_> = (1..=n).map(|i| (1, i, i == n)).collect();
    assert_eq!(numbers, expected);
    // Fragments travel as Main Mode messages with message ID 0, in the clear.
    let m = MessageRepr::parse(&b.held[0]).unwrap();
    assert_eq!((m.header.exchange, m.header.message_id), (ExchangeType::MAIN, 0));
    assert!(!m.header.flags.encryption);
    assert_eq!(b.init.stats().sent_fragmented, 1);

    // The responder joined message 5.
    let (_, cky_r) = b.init.cookies();
    let server = b.resp.sa_mut(SaId::from_spi(cky_r)).unwrap().stats();
    assert_eq!(server.fragments.reassembled, 1);
    assert_eq!(server.sent_fragmented, 1);

    // Delivered last first, message 6 still joins.
    for d in b.held.clone().iter().rev() {
        b.give(d);
    }
    assert!(b.up());
    assert!(b.init.is_established());
    assert_eq!(
        b.frags(),
        FragmentStats { received: u64::from(n), reassembled: 1, ..Default::default() }
    );
}

#[test]
fn a_peer_that_does_not_announce_fragmentation_gets_whole_messages() {
    let (mut client, server) = pair();
    client.fragmentation = false;
    let mut b = Bed::new(client, server);
    assert!(b.held.is_empty());
    let m = MessageRepr::parse(&b.sent_i[0]).unwrap();
    assert!(!m.payloads().iter().any(|p| matches!(p, Payload::VendorId(v)
        if v.known() == Some(KnownVendorId::Fragmentation))));
    // The responder announced nothing back and sent message 6 whole, over the size.
    let m2 = MessageRepr::parse(&b.sent_r[0]).unwrap();
    assert!(!m2.payloads().iter().any(|p| matches!(p, Payload::VendorId(v)
        if v.known() == Some(KnownVendorId::Fragmentation))));
    assert!(b.sent_r.last().unwrap().len() > LIMIT);
    assert!(b.up());
    assert_eq!(b.init.stats().sent_fragmented, 0);
}

#[test]
fn fragments_to_an_sa_that_did_not_announce_fragmentation_are_dropped() {
    let (mut client, server) = pair();
    client.fragmentation = false;
    let mut b = Bed::new(client, server);
    let cookies = b.init.cookies();
    let header =
        HeaderRepr::new(cookies.0.to_be_bytes(), cookies.1.to_be_bytes(), ExchangeType::MAIN, 0);
    let f = FragmentRepr { id: 1, number: 1, flags: LAST_FRAGMENT, data: b"x".to_vec() };
    let d = MessageRepr::plain(header, vec![Payload::Fragment(f)]).to_vec().unwrap();
    b.give(&d);
    assert_eq!(b.frags(), FragmentStats { unexpected: 1, ..Default::default() });
}

#[test]
fn a_duplicate_fragment_is_ignored() {
    let mut b = bed();
    let first = b.held[0].clone();
    b.give(&first);
    b.give_all_held();
    assert!(b.up());
    assert_eq!(b.frags().duplicates, 1);
    assert_eq!(b.frags().reassembled, 1);
}

#[test]
fn a_conflicting_duplicate_drops_the_reassembly_and_the_resend_completes_it() {
    let mut b = bed();
    let first = b.held[0].clone();
    b.give(&first);
    b.give(&edited(&first, |f| f.data[0] ^= 1));
    assert_eq!(b.frags().conflicting, 1);
    assert!(b.holds_nothing());
    // The rest of the pieces alone lack the first: nothing completes.
    let rest = b.held[1..].to_vec();
    for d in &rest {
        b.give(d);
    }
    assert!(!b.init.is_established());
    // The peer's resend of every piece does.
    b.give_all_held();
    assert!(b.up());
}

#[test]
fn a_fragment_numbered_beyond_the_limit_drops_the_reassembly() {
    let mut b = bed();
    let first = b.held[0].clone();
    b.give(&first);
    b.give(&edited(&b.held[1].clone(), |f| f.number = 33));
    assert_eq!(b.frags().too_many, 1);
    assert!(b.holds_nothing());
    b.give_all_held();
    assert!(b.up());
}

#[test]
fn more_data_than_the_limit_drops_the_reassembly() {
    let (mut client, server) = pair();
    // Message 6 is 476 octets; its first piece, 384, fits.
    client.fragment_limits.max_len = 400;
    let mut b = Bed::new(client, server);
    b.give_all_held();
    assert!(!b.init.is_established());
    assert_eq!(b.frags().too_large, 1);
    assert!(b.holds_nothing());
}

#[test]
fn two_last_fragments_are_inconsistent() {
    let mut b = bed();
    let last = b.held.len() - 1;
    b.give(&b.held[last].clone());
    b.give(&edited(&b.held[0].clone(), |f| f.flags = LAST_FRAGMENT));
    assert_eq!(b.frags().inconsistent, 1);
    assert!(b.holds_nothing());
    b.give_all_held();
    assert!(b.up());
}

#[test]
fn a_new_fragment_id_supersedes_the_unfinished_message() {
    let mut b = bed();
    b.give(&edited(&b.held[0].clone(), |f| f.id = 9));
    b.give_all_held();
    assert_eq!(b.frags().superseded, 1);
    assert!(b.up());
}

#[test]
fn an_unfinished_message_expires_and_its_deadline_is_polled() {
    let mut b = bed();
    b.give(&b.held[0].clone());
    assert_eq!(b.init.poll_timeout(), Some(b.t0 + Duration::from_secs(30)));
    b.init.handle_timeout(b.t0 + Duration::from_secs(30));
    assert_eq!(b.frags().timed_out, 1);
    assert!(b.holds_nothing());
    // The rest, late, does not complete the old message.
    let rest = b.held[1..].to_vec();
    for d in &rest {
        b.give_at(31, d);
    }
    assert!(!b.init.is_established());
}

#[test]
fn a_joined_message_that_is_no_isakmp_message_is_dropped_and_the_sa_waits_on() {
    let mut b = bed();
    let last = b.held.len() - 1;
    let mut forged = b.held.clone();
    forged[last] = edited(&forged[last], |f| {
        f.data.pop();
    });
    for d in &forged {
        b.give(d);
    }
    assert_eq!(b.frags().not_a_message, 1);
    assert_eq!(b.frags().reassembled, 1);
    assert!(!b.init.is_closed());
    assert!(b.holds_nothing());
    b.give_all_held();
    assert!(b.up());
}

#[test]
fn a_fragment_beside_other_payloads_or_inside_a_joined_message_is_unexpected() {
    let mut b = bed();
    let cookies = b.init.cookies();
    let header =
        HeaderRepr::new(cookies.0.to_be_bytes(), cookies.1.to_be_bytes(), ExchangeType::MAIN, 0);
    let piece = |data: Vec<u8>| FragmentRepr { id: 5, number: 1, flags: LAST_FRAGMENT, data };
    let with_vid = MessageRepr::plain(
        header,
        vec![
            Payload::Fragment(piece(b"x".to_vec())),
            Payload::VendorId(VendorIdRepr::from_known(KnownVendorId::Dpd)),
        ],
    );
    b.give(&with_vid.to_vec().unwrap());
    assert_eq!(b.frags().unexpected, 1);
    // A fragment whose whole message is itself a fragment.
    let inner = MessageRepr::plain(header, vec![Payload::Fragment(piece(b"y".to_vec()))]);
    let outer = MessageRepr::plain(header, vec![Payload::Fragment(piece(inner.to_vec().unwrap()))]);
    b.give(&outer.to_vec().unwrap());
    assert_eq!(b.frags().reassembled, 1);
    assert_eq!(b.frags().unexpected, 2);
    assert!(b.holds_nothing());
    b.give_all_held();
    assert!(b.up());
}

#[test]
fn fragments_with_other_cookies_are_not_taken() {
    let mut b = bed();
    let mut d = b.held[0].clone();
    d[0] ^= 1;
    b.give(&d);
    assert_eq!(b.frags(), FragmentStats::default());
    assert_eq!(b.init.stats().dropped_unexpected, 1);
}

#[test]
fn a_copy_of_message_6_in_fragments_is_joined_and_dropped_without_an_answer() {
    let mut b = bed();
    b.give_all_held();
    assert!(b.up());
    while b.init.poll_transmit(&mut b.buf).is_some() {}
    // Nothing of ours answers message 6: the copy is recognised (the digest of the joined
    // message) and nothing goes out; answering with message 5 would make the responder send
    // message 6 again, and so on.
    b.give_all_held();
    assert_eq!(b.frags().reassembled, 2);
    assert_eq!(b.init.stats().replayed_responses, 0);
    assert!(b.init.poll_transmit(&mut b.buf).is_none());
    assert!(b.init.is_established());
}

#[test]
fn a_lost_message_6_brings_message_5_again_in_the_same_fragments_and_message_6_again() {
    let mut b = bed();
    while b.init.poll_transmit(&mut b.buf).is_some() {}
    let message_5: Vec<_> = b.sent_i.iter().filter(|d| is_fragment(d)).cloned().collect();
    assert_eq!(message_5.len(), 2);
    // Message 6 was lost (held): the initiator resends message 5, piece for piece.
    b.init.handle_timeout(b.t0 + Duration::from_secs(60));
    let mut again = Vec::new();
    while let Some(Ok(t)) = b.init.poll_transmit(&mut b.buf) {
        again.push(b.buf[..t.len].to_vec());
    }
    assert_eq!(again, message_5);
    assert_eq!(b.init.stats().retransmits, 1);
    // The responder joins it, knows it, and answers with message 6 again, in its fragments.
    for d in &again {
        b.resp.handle_datagram(b.t0, addr("10.0.0.1:500"), addr("10.0.0.2:500"), d);
    }
    let mut six = Vec::new();
    while let Some(Ok(t)) = b.resp.poll_transmit(&mut b.buf) {
        six.push(b.buf[..t.len].to_vec());
    }
    assert_eq!(six, b.held);
    let (_, cky_r) = b.init.cookies();
    let server = b.resp.sa_mut(SaId::from_spi(cky_r)).unwrap().stats();
    assert_eq!((server.replayed_responses, server.fragments.reassembled), (1, 2));
    for d in &six {
        b.give(d);
    }
    assert!(b.up());
}
