//! Several authenticated clients against one [`Responder`], some of them malicious (issue 9
//! findings 6-8): what one client proposes must never take what another holds.
//!
//! Inside the crate because one attacker needs the IKE keys of its own SA to rewrite a
//! message it sends (finding 7), which the public API rightly does not hand out.

use std::net::{IpAddr, SocketAddr};

use ikeway_codec::{AddrRange, IdValue, TrafficSelector};

use super::*;
use crate::config::{AddressPool, CLIENT_CONFIG_REQUEST};
use crate::provider::InsecureKexForFuzzing;
use crate::{Held, Responder, SaId};

const SERVER: &str = "10.0.0.2:500";

fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"one pre-shared key for every client")
}

fn server_config() -> Config {
    Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example.org")), psk())
}

fn client_config() -> Config {
    let mut c = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example.org")), psk());
    c.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    c
}

fn pool() -> AddressPool {
    AddressPool {
        v4: Some(("10.88.0.10".parse().unwrap(), 100)),
        v6: Some(("fd88::10".parse().unwrap(), 100)),
        ..AddressPool::default()
    }
}

fn host(a: &str) -> TrafficSelector {
    let ip: IpAddr = a.parse().unwrap();
    TrafficSelector::Range(AddrRange::any(ip, ip))
}

fn range(a: &str, b: &str) -> TrafficSelector {
    TrafficSelector::Range(AddrRange::any(a.parse().unwrap(), b.parse().unwrap()))
}

/// A responder and its clients on a lossless network, stepped until quiet.
struct Net {
    now: Instant,
    responder: Responder,
    clients: Vec<IkeSa>,
    client_events: Vec<Vec<Event>>,
    server_events: Vec<(SaId, Event)>,
}

impl Net {
    fn new(server: Config, pool: Option<AddressPool>) -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        Self {
            now: Instant::now(),
            responder: Responder::new(Arc::new(server), kex, pool, [9; 32]),
            clients: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    fn client_addr(i: usize) -> SocketAddr {
        SocketAddr::new(IpAddr::from([10, 0, 0, 10 + i as u8]), 500)
    }

    /// Starts one more client and runs until the network is quiet; returns its index.
    fn connect(&mut self, config: Config) -> usize {
        let i = self.clients.len();
        let kex = Arc::new(InsecureKexForFuzzing);
        let sa = IkeSa::initiate(
            Arc::new(config),
            kex,
            [i as u8 + 1; 32],
            self.now,
            Self::client_addr(i),
            SERVER.parse().unwrap(),
        )
        .expect("initiate");
        self.clients.push(sa);
        self.client_events.push(Vec::new());
        self.run();
        i
    }

    fn run(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..64 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                while let Some(t) = self.clients[i].poll_transmit(&mut buf) {
                    let t = t.expect("64 KiB is enough");
                    self.responder.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
                    moved = true;
                }
                while let Some(e) = self.clients[i].poll_event() {
                    self.client_events[i].push(e.event);
                }
            }
            while let Some(t) = self.responder.poll_transmit(&mut buf) {
                let t = t.expect("64 KiB is enough");
                if let Some(c) = self.clients.iter_mut().find(|c| c.local().ip() == t.remote.ip()) {
                    c.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
                }
                moved = true;
            }
            while let Some(e) = self.responder.poll_event() {
                self.server_events.push((e.sa, e.event));
            }
            if !moved {
                return;
            }
        }
        panic!("the network never went quiet");
    }

    /// The key (our SPI) the responder files client `i`'s IKE SA under.
    fn key_of(&self, i: usize) -> SaId {
        let addr = Self::client_addr(i);
        self.responder
            .sas()
            .find(|sa| sa.remote() == addr && !sa.is_closed())
            .map(IkeSa::id)
            .expect("the client has an IKE SA on the responder")
    }

    fn refusals(&self, i: usize) -> Vec<NotifyType> {
        self.client_events[i]
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaRefused { notify } => Some(*notify),
                _ => None,
            })
            .collect()
    }

    /// Remote selectors of every child the responder installed, by IKE SA key.
    fn installed(&self) -> Vec<(SaId, Vec<TrafficSelector>)> {
        self.server_events
            .iter()
            .filter_map(|(k, e)| match e {
                Event::ChildSaInstalled(c) => Some((*k, c.remote_ts.clone())),
                _ => None,
            })
            .collect()
    }

    fn removed(&self) -> Vec<u32> {
        self.server_events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildSaRemoved { spi_in, .. } => Some(*spi_in),
                _ => None,
            })
            .collect()
    }
}

/// Issue 9 finding 6: a client that proposes another client's leased address as its TSi was
/// given that address (narrowing fell back to the unnarrowed TSi when the intersection with
/// its own lease was empty), and so received the other client's traffic. It is refused with
/// TS_UNACCEPTABLE; the first client's child is the only one holding the address.
#[test]
fn a_client_proposing_another_clients_leased_address_is_refused() {
    let mut net = Net::new(server_config(), Some(pool()));
    let a = net.connect(client_config());
    assert!(net.clients[a].is_established());
    let a_key = net.key_of(a);
    assert_eq!(net.installed(), [(a_key, vec![host("10.88.0.10"), host("fd88::10")])]);

    let mut evil = client_config();
    evil.local_ts = vec![host("10.88.0.10")];
    let b = net.connect(evil);
    assert!(net.clients[b].is_established(), "the IKE SA stays, only the child is refused");
    assert_eq!(net.refusals(b), [NotifyType::TS_UNACCEPTABLE]);
    assert_eq!(net.installed().len(), 1, "no second child: {:?}", net.installed());
    assert_eq!(net.responder.leased(), 4, "each client holds its own two leases");
    assert_eq!(net.responder.held().remote_selectors, 2, "A's two addresses only");
}

/// Issue 9 finding 6: `0.0.0.0/0` (or `::/0`) from a client with a lease is narrowed to the
/// lease, never kept whole.
#[test]
fn everything_is_narrowed_to_the_lease() {
    let mut net = Net::new(server_config(), Some(pool()));
    let mut c = client_config();
    c.config_request = vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    let a = net.connect(c);
    assert!(net.refusals(a).is_empty());
    assert_eq!(net.installed(), [(net.key_of(a), vec![host("10.88.0.10")])]);
}

/// Issue 9 finding 6: without a CFG_REQUEST nothing was narrowed, so a client proposing
/// `0.0.0.0/0` received every packet of the server. Without a lease a client may name single
/// addresses only (unless `wide_remote_ts`), and never one another IKE SA holds.
#[test]
fn without_a_lease_only_single_unclaimed_addresses_are_accepted() {
    let mut net = Net::new(server_config(), None);
    let no_cp = |ts: Vec<TrafficSelector>| {
        let mut c = client_config();
        c.config_request = Vec::new();
        c.local_ts = ts;
        c
    };
    let wide = net.connect(no_cp(vec![crate::config::any_v4(), crate::config::any_v6()]));
    assert_eq!(net.refusals(wide), [NotifyType::TS_UNACCEPTABLE]);
    let own = net.connect(no_cp(vec![host("10.0.0.11")]));
    assert!(net.refusals(own).is_empty());
    let thief = net.connect(no_cp(vec![host("10.0.0.11")]));
    assert_eq!(net.refusals(thief), [NotifyType::TS_UNACCEPTABLE], "held by another IKE SA");
    assert_eq!(net.installed(), [(net.key_of(own), vec![host("10.0.0.11")])]);

    // A site-to-site server allows networks, still never overlapping another SA's.
    let mut server = server_config();
    server.wide_remote_ts = true;
    let mut net = Net::new(server, None);
    let site = net.connect(no_cp(vec![range("10.1.0.0", "10.1.255.255")]));
    assert!(net.refusals(site).is_empty());
    let inside = net.connect(no_cp(vec![host("10.1.2.3")]));
    assert_eq!(net.refusals(inside), [NotifyType::TS_UNACCEPTABLE]);
    let all = net.connect(no_cp(vec![crate::config::any_v4()]));
    assert_eq!(net.refusals(all), [NotifyType::TS_UNACCEPTABLE]);
    assert_eq!(net.installed().len(), 1);
}

/// Issue 9 finding 6: the claim goes with the child: once the first client is gone, its
/// address may be used by another SA, and nothing is left in the registry.
#[test]
fn claims_and_leases_are_released_with_the_ike_sa() {
    let mut net = Net::new(server_config(), Some(pool()));
    let a = net.connect(client_config());
    let now = net.now;
    net.clients[a].delete_ike(now);
    net.run();
    assert!(net.clients[a].is_closed());
    assert_eq!(net.responder.held(), Held::default(), "nothing leaks");
}

/// Issue 9 finding 8: every INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS attribute leased one
/// more address. One per family per IKE SA now, however many are asked for.
#[test]
fn many_address_attributes_lease_one_address_per_family() {
    let mut net = Net::new(server_config(), Some(pool()));
    let mut c = client_config();
    c.config_request = [ConfigAttributeType::INTERNAL_IP4_ADDRESS; 20]
        .into_iter()
        .chain([ConfigAttributeType::INTERNAL_IP6_ADDRESS; 20])
        .collect();
    let a = net.connect(c);
    assert!(net.clients[a].is_established());
    assert_eq!(net.responder.leased(), 2);
    let got: Vec<_> = net.client_events[a]
        .iter()
        .filter_map(|e| match e {
            Event::ConfigReceived(c) => Some(c.addresses.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [vec![("10.88.0.10".parse().unwrap(), 32), ("fd88::10".parse().unwrap(), 128)]]
    );
    let now = net.now;
    net.clients[a].delete_ike(now);
    net.run();
    assert_eq!(net.responder.leased(), 0);
}

/// Issue 9 finding 8: children per IKE SA were unbounded. Past `max_children` a
/// CREATE_CHILD_SA is answered NO_ADDITIONAL_SAS (RFC 7296 §3.10.1) and creates nothing.
#[test]
fn children_beyond_the_cap_are_refused_with_no_additional_sas() {
    let mut server = server_config();
    server.max_children = 2;
    let mut net = Net::new(server, Some(pool()));
    let a = net.connect(client_config());
    for _ in 0..3 {
        let now = net.now;
        net.clients[a].create_child(now);
        net.run();
    }
    assert_eq!(net.refusals(a), [NotifyType::NO_ADDITIONAL_SAS; 2]);
    assert_eq!(net.installed().len(), 2);
    let key = net.key_of(a);
    let sa = net.responder.sa_mut(key).expect("A's SA");
    assert_eq!(sa.child_spis().len(), 2);
    assert_eq!(sa.stats().children_refused, 2);
    assert_eq!(net.responder.held().child_spis, 2);
    // A rekey still has room: the old child goes once the new one is up.
    let spi = net.clients[a].child_spis()[0].0;
    let now = net.now;
    net.clients[a].rekey_child(now, spi);
    net.run();
    assert_eq!(net.refusals(a).len(), 2, "the rekey was not refused");
    assert_eq!(net.responder.sa_mut(key).expect("A's SA").child_spis().len(), 2);
    assert_eq!(net.responder.held().child_spis, 2, "the old child's SPI was released");
}

/// Issue 9 finding 7: after an IKE rekey the server started, the peer chooses the new SA's
/// responder SPI, and the responder filed SAs under that SPI without a collision check: a
/// client answering with another client's SPI replaced that client's SA (its leases and
/// datapath SAs leaked, its traffic was cut). SAs are filed under our own SPI now.
#[test]
fn a_rekey_answer_naming_another_clients_spi_takes_nothing() {
    let mut net = Net::new(server_config(), Some(pool()));
    let a = net.connect(client_config());
    let b = net.connect(client_config());
    let (a_key, b_key) = (net.key_of(a), net.key_of(b));
    let a_children = net.responder.sa_mut(a_key).expect("A").child_spis();
    let held = net.responder.held();
    let now = net.now;
    net.responder.sa_mut(b_key).expect("B").rekey_ike(now);

    // The server's rekey request to B, answered by B; B then rewrites its answer so that the
    // new SA's responder SPI is A's SPI, re-sealed under its (old) IKE SA keys.
    let mut buf = vec![0u8; 65536];
    let t = net.responder.poll_transmit(&mut buf).expect("a request").expect("fits");
    net.clients[b].handle_datagram(now, t.local, t.remote, &buf[..t.len]);
    let t = net.clients[b].poll_transmit(&mut buf).expect("an answer").expect("fits");
    let answer = buf[..t.len].to_vec();
    let message = MessageRepr::parse(&answer).expect("B's own answer parses");
    let old = net.clients[b].old_sa.as_ref().expect("B switched to the new SA");
    let mut payloads = sk::open(&answer, &old.crypto.outbound().expect("keys"))
        .expect("B's keys")
        .payloads()
        .expect("parses");
    for p in &mut payloads {
        if let PayloadRepr::Sa(sa) = &mut p.body {
            sa.proposals[0].spi = a_key.spi().to_be_bytes().as_slice().into();
        }
    }
    let mut header = message.header;
    header.length = 0;
    let iv = vec![7u8; old.crypto.outbound().expect("keys").iv_len()];
    let forged = sk::seal(&header, &[], &payloads, &old.crypto.outbound().expect("keys"), &iv)
        .expect("seals");
    net.responder.handle_datagram(now, t.local, t.remote, &forged);
    net.run();
    assert!(
        net.responder
            .sas()
            .any(|sa| sa.spis().1 == a_key.spi() && sa.remote() == Net::client_addr(b)),
        "the server took B's forged answer: B's new SA has A's SPI as its responder SPI"
    );

    let a_sa = net.responder.sa_mut(a_key).expect("A's SA is still filed under its SPI");
    assert_eq!(a_sa.remote(), Net::client_addr(a));
    assert!(a_sa.is_established());
    assert_eq!(a_sa.child_spis(), a_children);
    assert!(a_children.iter().all(|(spi_in, _)| !net.removed().contains(spi_in)));
    assert_eq!(net.responder.len(), 2, "B's rekeyed SA sits beside A's");
    assert_eq!(net.responder.leased(), held.leased_addresses, "no lease leaked or lost");
    // A still talks to the server.
    let now = net.now;
    net.clients[a].dpd(now);
    net.run();
    assert!(net.clients[a].is_established());
    assert_eq!(net.responder.sa_mut(a_key).expect("A").remote(), Net::client_addr(a));
}

/// Issue 9 finding 7: inbound child SPIs are unique across every SA of a responder (the
/// datapath finds an SA by that SPI alone; a duplicate replaced the other client's SA). A
/// client whose SPI draw is already taken gets another.
#[test]
fn inbound_child_spis_are_unique_across_sas() {
    let mut first = Net::new(server_config(), Some(pool()));
    let a = first.connect(client_config());
    let taken = first.responder.sa_mut(first.key_of(a)).expect("A").child_spis()[0].0;
    let mut again = Net::new(server_config(), Some(pool()));
    let a2 = again.connect(client_config());
    let draw = again.responder.sa_mut(again.key_of(a2)).expect("A").child_spis()[0].0;
    assert_eq!(draw, taken, "the same seeds draw the same SPI");
    // The same run again, with the SPI the responder will draw for A already held.
    let mut net = Net::new(server_config(), Some(pool()));
    net.responder.registry().reserve_child_spi(taken);
    let a = net.connect(client_config());
    let got = net.responder.sa_mut(net.key_of(a)).expect("A").child_spis()[0].0;
    assert_ne!(got, taken);
    assert!(got >= crate::proposal::MIN_ESP_SPI);
    assert_eq!(net.responder.held().child_spis, 2);
}

/// Issue 9 finding 9: a client whose IKE_AUTH offers an ESP SPI below 256 got a child the
/// datapath then refused to install, which ended `ikeway serve`. The responder refuses it with
/// NO_PROPOSAL_CHOSEN at negotiation time; the IKE SA stays, nothing is installed or held.
#[test]
fn a_reserved_child_spi_is_refused_with_no_proposal_chosen() {
    let mut net = Net::new(server_config(), Some(pool()));
    let now = net.now;
    let mut c = client_config();
    c.config_request = vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    let client = IkeSa::initiate(
        Arc::new(c),
        Arc::new(InsecureKexForFuzzing),
        [42; 32],
        now,
        Net::client_addr(0),
        SERVER.parse().unwrap(),
    )
    .expect("initiate");
    net.clients.push(client);
    net.client_events.push(Vec::new());
    let mut buf = vec![0u8; 65536];
    // IKE_SA_INIT both ways, by hand, to catch the IKE_AUTH request before it leaves.
    let t = net.clients[0].poll_transmit(&mut buf).expect("init").expect("fits");
    net.responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
    let t = net.responder.poll_transmit(&mut buf).expect("init reply").expect("fits");
    net.clients[0].handle_datagram(now, t.local, t.remote, &buf[..t.len]);
    let t = net.clients[0].poll_transmit(&mut buf).expect("auth").expect("fits");
    let auth = buf[..t.len].to_vec();
    let message = MessageRepr::parse(&auth).expect("our own IKE_AUTH parses");
    let crypto = net.clients[0].crypto.as_ref().expect("keyed");
    let mut payloads = sk::open(&auth, &crypto.outbound().expect("keys"))
        .expect("our keys")
        .payloads()
        .expect("parses");
    for p in &mut payloads {
        if let PayloadRepr::Sa(sa) = &mut p.body {
            for proposal in &mut sa.proposals {
                proposal.spi = 255u32.to_be_bytes().as_slice().into();
            }
        }
    }
    let mut header = message.header;
    header.length = 0;
    let iv = vec![3u8; crypto.outbound().expect("keys").iv_len()];
    let forged =
        sk::seal(&header, &[], &payloads, &crypto.outbound().expect("keys"), &iv).expect("seals");
    net.responder.handle_datagram(now, t.local, t.remote, &forged);
    net.run();

    assert!(net.clients[0].is_established(), "AUTH does not cover the SA payload");
    assert_eq!(net.refusals(0), [NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(net.installed().is_empty());
    let held = net.responder.held();
    assert_eq!((held.child_spis, held.remote_selectors), (0, 0), "nothing held: {held:?}");
    assert_eq!(held.leased_addresses, 1, "the IKE SA keeps its lease");
}
