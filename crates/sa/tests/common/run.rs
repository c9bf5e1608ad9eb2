//! A lossless driver: an initiator and a responder that deliver to each other until both go
//! quiet, with hooks that rewrite what either sends (opened and sealed again with the
//! initiator's keys, to change encrypted payloads), and the clock moved by hand. The
//! initiator's side can sit behind a NAT (one public address, ports mapped to 40000 + port),
//! lose an address (what is sent from or to it is dropped) or lose the responder.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{ExchangeType, HeaderRepr, Payload, sk};
use ikeway_crypto::AeadBackend;
use ikeway_sa::{CloseReason, Config, Event, Held, IkeSa, InsecureKexForFuzzing, Responder, SaId};

use super::{CLIENT, SERVER, addr, pool};

/// Rewrites a datagram, given the initiator (whose keys open what it protects).
pub(crate) type Tamper = Box<dyn FnMut(&IkeSa, Vec<u8>) -> Vec<u8>>;

/// A datagram as it crossed the simulated network.
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) bytes: Vec<u8>,
}

/// An initiator and a responder on a lossless network; `tamper_*` may rewrite what each
/// side sends.
pub(crate) struct Run {
    pub(crate) now: Instant,
    pub(crate) initiator: IkeSa,
    pub(crate) responder: Responder,
    pub(crate) initiator_events: Vec<Event>,
    pub(crate) responder_events: Vec<Event>,
    pub(crate) tamper_request: Option<Tamper>,
    pub(crate) tamper_response: Option<Tamper>,
    /// Every datagram each side sent, as delivered (after the tamper hooks).
    pub(crate) sent_by_initiator: Vec<Vec<u8>>,
    pub(crate) sent_by_responder: Vec<Vec<u8>>,
    /// The NAT's public address while the initiator is behind it.
    pub(crate) nat: Option<IpAddr>,
    /// Public side -> private side of the NAT's mappings.
    pub(crate) mappings: HashMap<SocketAddr, SocketAddr>,
    /// Initiator addresses that no longer work.
    pub(crate) dead: Vec<IpAddr>,
    /// When false the responder hears nothing.
    pub(crate) responder_reachable: bool,
    /// What the initiator sent that never arrived.
    pub(crate) lost: Vec<Wire>,
    /// What the initiator sent that arrived, as the responder saw it (after the NAT).
    pub(crate) from_initiator: Vec<Wire>,
    /// Everything the responder sent, as it addressed it (before the NAT).
    pub(crate) from_responder: Vec<Wire>,
}

impl Run {
    pub(crate) fn new(client: Config, server: Config) -> Self {
        Self::at(client, server, addr(CLIENT), None)
    }

    /// As [`Run::new`], the initiator on `local`, behind a NAT with public address `nat`.
    pub(crate) fn at(
        client: Config,
        server: Config,
        local: SocketAddr,
        nat: Option<IpAddr>,
    ) -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        let now = Instant::now();
        let initiator =
            IkeSa::initiate(Arc::new(client), kex.clone(), [1; 32], now, local, addr(SERVER))
                .expect("initiate");
        let responder = Responder::new(Arc::new(server), kex, Some(pool()), [2; 32]);
        Self {
            now,
            initiator,
            responder,
            initiator_events: Vec::new(),
            responder_events: Vec::new(),
            tamper_request: None,
            tamper_response: None,
            sent_by_initiator: Vec::new(),
            sent_by_responder: Vec::new(),
            nat,
            mappings: HashMap::new(),
            dead: Vec::new(),
            responder_reachable: true,
            lost: Vec::new(),
            from_initiator: Vec::new(),
            from_responder: Vec::new(),
        }
    }

    /// Where the NAT makes `private` appear, remembering the mapping.
    fn outside(&mut self, private: SocketAddr) -> SocketAddr {
        let Some(public) = self.nat else { return private };
        let mapped = SocketAddr::new(public, 40000 + private.port());
        self.mappings.insert(mapped, private);
        mapped
    }

    /// Delivers both ways until neither end has anything more to say.
    pub(crate) fn run(mut self) -> Self {
        self.deliver();
        self
    }

    /// As [`Run::run`], in place.
    pub(crate) fn deliver(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..256 {
            let mut moved = false;
            while let Some(t) = self.initiator.poll_transmit(&mut buf) {
                let t = t.expect("64 KiB is enough");
                moved = true;
                let mut bytes = buf[..t.len].to_vec();
                if let Some(tamper) = &mut self.tamper_request {
                    bytes = tamper(&self.initiator, bytes);
                }
                if self.dead.contains(&t.local.ip()) || !self.responder_reachable {
                    self.lost.push(Wire { from: t.local, to: t.remote, bytes });
                    continue;
                }
                let from = self.outside(t.local);
                self.responder.handle_datagram(self.now, from, t.remote, &bytes);
                self.from_initiator.push(Wire { from, to: t.remote, bytes: bytes.clone() });
                self.sent_by_initiator.push(bytes);
            }
            while let Some(t) = self.responder.poll_transmit(&mut buf) {
                let t = t.expect("64 KiB is enough");
                moved = true;
                let mut bytes = buf[..t.len].to_vec();
                if let Some(tamper) = &mut self.tamper_response {
                    bytes = tamper(&self.initiator, bytes);
                }
                self.from_responder.push(Wire {
                    from: t.local,
                    to: t.remote,
                    bytes: bytes.clone(),
                });
                let to = self.mappings.get(&t.remote).copied().unwrap_or(t.remote);
                if !self.dead.contains(&to.ip()) {
                    self.initiator.handle_datagram(self.now, t.local, to, &bytes);
                }
                self.sent_by_responder.push(bytes);
            }
            while let Some(e) = self.initiator.poll_event() {
                self.initiator_events.push(e.event);
            }
            while let Some(e) = self.responder.poll_event() {
                self.responder_events.push(e.event);
            }
            if !moved {
                return;
            }
        }
        panic!("the two ends never went quiet");
    }

    /// Moves the clock on by `by`, runs both sides' due timers, and delivers what follows.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.initiator.handle_timeout(self.now);
        self.responder.handle_timeout(self.now);
        self.deliver();
    }

    /// The responder's SA, filed under the SPI it chose.
    pub(crate) fn responder_sa(&mut self) -> &mut IkeSa {
        let id = SaId::from_spi(self.initiator.spis().1);
        self.responder.sa_mut(id).expect("responder holds the SA")
    }

    /// Both sides' events so far, taken.
    pub(crate) fn take_events(&mut self) -> (Vec<Event>, Vec<Event>) {
        (std::mem::take(&mut self.initiator_events), std::mem::take(&mut self.responder_events))
    }

    pub(crate) fn both_up(&self) -> bool {
        let child =
            |events: &[Event]| events.iter().any(|e| matches!(e, Event::ChildSaInstalled(_)));
        self.initiator.is_established()
            && child(&self.initiator_events)
            && child(&self.responder_events)
    }

    fn closed(events: &[Event]) -> Option<CloseReason> {
        events.iter().find_map(|e| match e {
            Event::IkeSaClosed { reason } => Some(*reason),
            _ => None,
        })
    }

    pub(crate) fn initiator_closed(&self) -> Option<CloseReason> {
        Self::closed(&self.initiator_events)
    }

    pub(crate) fn responder_closed(&self) -> Option<CloseReason> {
        Self::closed(&self.responder_events)
    }

    /// The responder holds nothing: no SA, nothing half-open, no lease, SPI or selector.
    pub(crate) fn assert_responder_empty(&self) {
        assert_eq!(self.responder.len(), 0, "an IKE SA is left");
        assert_eq!(self.responder.half_open(), 0);
        assert_eq!(self.responder.half_open_bytes(), 0);
        assert_eq!(self.responder.leased(), 0);
        assert_eq!(self.responder.held(), Held::default());
    }
}

/// The protector of what one side sends, from the initiator's exported keys.
pub(crate) fn protector(sa: &IkeSa, by_initiator: bool) -> ikeway_crypto::Protector {
    let keys = sa.export_keys_for_debugging().expect("keyed");
    let (e, a) = if by_initiator { (keys.sk_ei, keys.sk_ai) } else { (keys.sk_er, keys.sk_ar) };
    keys.suite.suite.key(AeadBackend::default(), e.expose(), a.expose()).expect("keys")
}

/// The payloads of an IKE_AUTH message, or `None` for other messages.
pub(crate) fn open_auth(sa: &IkeSa, bytes: &[u8]) -> Option<Vec<Payload>> {
    let header = HeaderRepr::parse(bytes).ok()?;
    if header.exchange != ExchangeType::IKE_AUTH {
        return None;
    }
    let opened = sk::open(bytes, &protector(sa, header.flags.initiator)).ok()?;
    assert!(opened.fragment.is_none(), "tests that open IKE_AUTH send it whole");
    Some(opened.payloads().expect("our own IKE_AUTH parses"))
}

/// Seals `payloads` under `header` with the keys of the side the header's flags name.
pub(crate) fn seal(sa: &IkeSa, header: &HeaderRepr, payloads: &[Payload]) -> Vec<u8> {
    let p = protector(sa, header.flags.initiator);
    let iv = vec![7u8; p.iv_len()];
    sk::seal(header, &[], payloads, &p, &iv).expect("reseal")
}

/// Rewrites the payloads of an IKE_AUTH message, sealed again with the same header.
pub(crate) fn rewrite_auth(
    sa: &IkeSa,
    bytes: Vec<u8>,
    edit: impl FnOnce(&mut Vec<Payload>),
) -> Vec<u8> {
    let Some(mut payloads) = open_auth(sa, &bytes) else { return bytes };
    let header = HeaderRepr::parse(&bytes).expect("parsed above");
    edit(&mut payloads);
    seal(sa, &header, &payloads)
}
