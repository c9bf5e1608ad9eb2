//! In-process IKE handshakes for the negotiation benches: our initiator and our responder
//! exchange datagrams in memory, so the measured time is both sides' CPU and nothing else.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ikeway_codec::{ConfigAttributeType, DhGroup, IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, Config, DefaultKex, Event, IkeSa, Responder};

/// The largest datagram the in-memory wire carries.
const WIRE_LEN: usize = 65536;

thread_local! {
    /// The wire's buffer, handed from one [`InProcess`] to the next on this thread: it is the
    /// bench's, not the handshake's (a real endpoint keeps its receive buffer), and zeroing
    /// 64 KiB per handshake cost about 1 % of an X25519 handshake.
    static WIRE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };

    /// The two sides' configurations and the key-exchange provider of the last groups asked
    /// for on this thread. A gateway and a client build their configuration once, not per
    /// handshake; building both (the default proposals, identities, PSKs) took about 25 of
    /// the 351 allocations counted per handshake.
    static SETUP: RefCell<Option<Setup>> = const { RefCell::new(None) };
}

/// What [`InProcess`] handshakes of the same groups share.
#[derive(Clone)]
struct Setup {
    groups: (DhGroup, Vec<DhGroup>),
    client: Arc<Config>,
    server: Arc<Config>,
    kex: Arc<DefaultKex>,
}

impl Setup {
    fn new(group: DhGroup, additional: &[DhGroup]) -> Self {
        let mut client = config("client.example.org", group, additional);
        client.config_request =
            vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS, ConfigAttributeType::INTERNAL_IP4_DNS];
        let server = config("vpn.example.org", group, additional);
        Self {
            groups: (group, additional.to_vec()),
            client: Arc::new(client),
            server: Arc::new(server),
            kex: Arc::new(DefaultKex::default()),
        }
    }

    /// This thread's setup for these groups, made on first use.
    fn for_groups(group: DhGroup, additional: &[DhGroup]) -> Self {
        SETUP.with(|cell| {
            let mut cell = cell.borrow_mut();
            match &*cell {
                Some(s) if s.groups.0 == group && s.groups.1 == additional => s.clone(),
                _ => cell.insert(Self::new(group, additional)).clone(),
            }
        })
    }
}

/// An initiator and a responder joined by an in-memory wire.
#[derive(Debug)]
pub struct InProcess {
    pub initiator: IkeSa,
    pub responder: Responder,
    buf: Vec<u8>,
    now: Instant,
}

fn config(id: &str, group: DhGroup, additional: &[DhGroup]) -> Config {
    let mut c = Config::new(
        IdRepr::from_value(IdValue::Fqdn(id)),
        SecretBytes::from_slice(b"bench pre-shared key"),
    );
    for p in &mut c.ike_proposals {
        p.groups = vec![group];
        p.additional_kes = additional.iter().map(|g| vec![*g]).collect();
    }
    c
}

impl InProcess {
    /// Starts a handshake with PSK and a CFG_REQUEST for an IPv4 address and DNS.
    pub fn start(group: DhGroup, seed: u64) -> Self {
        Self::start_hybrid(group, &[], seed)
    }

    /// As [`InProcess::start`], with these additional key exchanges (RFC 9370, one
    /// IKE_INTERMEDIATE each) after IKE_SA_INIT.
    pub fn start_hybrid(group: DhGroup, additional: &[DhGroup], seed: u64) -> Self {
        let setup = Setup::for_groups(group, additional);
        let pool = AddressPool {
            v4: Some(("10.88.0.10".parse().expect("literal"), 1 << 16)),
            dns: vec!["10.88.0.1".parse().expect("literal")],
            ..AddressPool::default()
        };
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:500".parse().expect("literal"), "10.0.0.2:500".parse().expect("literal"));
        let now = Instant::now();
        let mut s1 = [0u8; 32];
        s1[..8].copy_from_slice(&seed.to_le_bytes());
        let mut s2 = s1;
        s2[31] = 1;
        let initiator =
            IkeSa::initiate(setup.client, setup.kex.clone(), s1, now, a, b).expect("initiate");
        let responder = Responder::new(setup.server, setup.kex, Some(pool), s2);
        let mut buf = WIRE.with(|w| std::mem::take(&mut *w.borrow_mut()));
        if buf.len() < WIRE_LEN {
            buf = vec![0u8; WIRE_LEN];
        }
        Self { initiator, responder, buf, now }
    }

    /// Moves datagrams both ways until neither side has anything to send; returns how many
    /// child SAs the initiator installed meanwhile.
    pub fn pump(&mut self) -> usize {
        let mut children = 0;
        loop {
            let mut moved = false;
            while let Some(Ok(t)) = self.initiator.poll_transmit(&mut self.buf) {
                self.responder.handle_datagram(self.now, t.local, t.remote, &self.buf[..t.len]);
                moved = true;
            }
            while let Some(Ok(t)) = self.responder.poll_transmit(&mut self.buf) {
                self.initiator.handle_datagram(self.now, t.local, t.remote, &self.buf[..t.len]);
                moved = true;
            }
            while let Some(e) = self.initiator.poll_event() {
                children += usize::from(matches!(e.event, Event::ChildSaInstalled(_)));
            }
            while self.responder.poll_event().is_some() {}
            if !moved {
                return children;
            }
        }
    }

    /// A complete IKE_SA_INIT + IKE_AUTH (PSK, CP, first child SA).
    pub fn handshake(group: DhGroup, seed: u64) -> Self {
        Self::handshake_hybrid(group, &[], seed)
    }

    /// A complete IKE_SA_INIT, one IKE_INTERMEDIATE per additional key exchange, IKE_AUTH.
    pub fn handshake_hybrid(group: DhGroup, additional: &[DhGroup], seed: u64) -> Self {
        let mut p = Self::start_hybrid(group, additional, seed);
        let children = p.pump();
        assert!(p.initiator.is_established() && children == 1, "handshake failed");
        p
    }

    /// One CREATE_CHILD_SA rekey of the first child (without PFS), old one deleted.
    pub fn rekey_child(&mut self) {
        let (spi, _) = self.initiator.child_spis()[0];
        self.initiator.rekey_child(self.now, spi);
        let children = self.pump();
        assert_eq!(children, 1, "rekey failed");
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        WIRE.with(|w| *w.borrow_mut() = buf);
    }
}
