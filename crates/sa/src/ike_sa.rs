//! One IKE SA and its child SAs: the state machine both sides run (RFC 7296).
//!
//! Inputs are datagrams, timeouts and commands; outputs are datagrams, the next timeout and
//! events. After any input, drain [`IkeSa::poll_transmit`], [`IkeSa::poll_event`] and read
//! [`IkeSa::poll_timeout`] before waiting again.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ikeway_codec::sk::{self, Reassembler, Reassembly, ReassemblyLimits};
use ikeway_codec::{
    AuthMethod, AuthRepr, ConfigAttribute, ConfigAttributeType, ConfigRepr, ConfigType, DeleteRepr,
    DhGroup, ExchangeType, Flags, HeaderRepr, IdRepr, KeRepr, MessageRepr, NonceRepr, NotifyRepr,
    NotifyType, Payload, PayloadRepr, PayloadType, ProtocolId, TsRepr,
};
use ikeway_crypto::SecretBytes;
use ikeway_crypto::keys::{self, ChildKeys};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use subtle::ConstantTimeEq;

use crate::Side;
use crate::config::Config;
use crate::event::{ChildSaInfo, CloseReason, ConfigReceived, Event, Stats};
use crate::keys::IkeCrypto;
use crate::nat;
use crate::pool::AddressAllocator;
use crate::proposal::{self, EspSuite};
use crate::provider::{ActiveKeyExchange, KeyExchangeProvider};
use crate::ts;

/// Nonce length we send: the PRF output size of SHA-512 covers every PRF we offer
/// (RFC 7296 §2.10: at least half the PRF key size, at least 128 bits).
const NONCE_LEN: usize = 32;
/// How long a responder keeps a half-open SA waiting for IKE_AUTH.
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the keys of a rekeyed IKE SA stay to answer its DELETE (make before break).
const OLD_SA_GRACE: Duration = Duration::from_secs(10);
/// The non-ESP marker that precedes IKE on port 4500 (RFC 3948 §2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];
pub(crate) const NAT_T_PORT: u16 = 4500;

/// Where a handshake stands. Established SAs run exchanges through [`Outstanding`].
#[derive(Debug)]
enum State {
    /// Initiator: IKE_SA_INIT sent.
    InitSent {
        kex: Box<dyn ActiveKeyExchange>,
        ni: Vec<u8>,
        cookie: Option<Vec<u8>>,
        request: Vec<u8>,
    },
    /// Initiator: IKE_AUTH sent.
    AuthSent {
        ni: Vec<u8>,
        nr: Vec<u8>,
        child_spi: u32,
    },
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    InitReplied {
        ni: Vec<u8>,
        nr: Vec<u8>,
        init_request: Vec<u8>,
        init_response: Vec<u8>,
    },
    Established,
    Closed,
}

/// A request of ours waiting for its response (the window is one message, §2.3).
#[derive(Debug)]
struct Outstanding {
    message_id: u32,
    datagrams: Vec<Vec<u8>>,
    attempts: u32,
    deadline: Instant,
    kind: Request,
}

#[derive(Debug)]
enum Request {
    Init,
    Auth,
    CreateChild {
        spi_in: u32,
        ni: Vec<u8>,
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    },
    RekeyIke {
        spi: u64,
        ni: Vec<u8>,
        kex: Box<dyn ActiveKeyExchange>,
    },
    Dpd,
    DeleteChildren(Vec<u32>),
    DeleteIke,
}

/// Commands waiting for the window to open.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    CreateChild,
    RekeyChild(u32),
    RekeyIke,
    DeleteChild(u32),
    DeleteIke,
    Dpd,
}

#[derive(Debug)]
struct Child {
    spi_in: u32,
    spi_out: u32,
    rekey_at: Instant,
    expire_at: Instant,
    /// Set once a rekey of this child started, so it is not started twice.
    rekeying: bool,
    /// The nonces of the exchange that created it, for the collision rule (§2.8.1).
    lowest_nonce: Vec<u8>,
    created_by_us: bool,
}

/// The keys of the IKE SA before the last IKE rekey, kept briefly to answer its DELETE.
#[derive(Debug)]
struct OldSa {
    spi_i: u64,
    spi_r: u64,
    crypto: IkeCrypto,
    recv_mid: u32,
    until: Instant,
}

/// One IKE SA, initiator or responder. See the module documentation for the driving loop.
#[derive(Debug)]
pub struct IkeSa {
    side: Side,
    config: Arc<Config>,
    kex_provider: Arc<dyn KeyExchangeProvider>,
    pool: Option<Arc<Mutex<AddressAllocator>>>,
    rng: ChaCha20Rng,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    /// IKE and ESP go over port 4500 with the non-ESP marker (RFC 3948).
    nat_t: bool,
    local_behind_nat: bool,
    peer_fragmentation: bool,
    state: State,
    crypto: Option<IkeCrypto>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    send_mid: u32,
    recv_mid: u32,
    outstanding: Option<Outstanding>,
    response_cache: Option<(u32, Vec<Vec<u8>>)>,
    queued: VecDeque<Command>,
    children: Vec<Child>,
    transmits: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    events: VecDeque<Event>,
    reassembler: Reassembler,
    last_heard: Instant,
    next_keepalive: Option<Instant>,
    ike_rekey_at: Option<Instant>,
    ike_expire_at: Option<Instant>,
    half_open_until: Option<Instant>,
    old_sa: Option<OldSa>,
    leases: Vec<std::net::IpAddr>,
    /// The responder's IKE_SA_INIT response, which the responder's AUTH signs.
    init_response: Option<Vec<u8>>,
    /// Child rekeys that collided with ours: (old inbound SPI, the peer's new inbound SPI).
    collided_with: Vec<(u32, u32)>,
    /// Next message ID on the IKE SA replaced by a rekey, for its DELETE.
    old_send_mid: u32,
    rekey_started_by_us: bool,
    /// Set once by `close`; the state may be `Closed` earlier, while a handler holds it.
    closed: bool,
    stats: Stats,
}

/// Keys of an IKE SA as Wireshark's `ikev2_decryption_table` needs them.
#[derive(Debug)]
pub struct KeyExport<'a> {
    pub spi_i: u64,
    pub spi_r: u64,
    pub suite: crate::proposal::IkeSuite,
    pub sk_ei: &'a SecretBytes,
    pub sk_er: &'a SecretBytes,
    pub sk_ai: &'a SecretBytes,
    pub sk_ar: &'a SecretBytes,
}

/// What the responder endpoint does with an IKE_SA_INIT request that creates no state.
#[derive(Debug)]
pub(crate) enum InitReply {
    /// A new half-open SA.
    Accepted(Box<IkeSa>),
    /// A stateless answer (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN) to send back.
    Stateless(Vec<u8>),
}

fn notify(kind: NotifyType, data: Vec<u8>) -> Payload {
    Payload::new(PayloadRepr::Notify(NotifyRepr::new(kind, data)))
}

fn find_notify(payloads: &[Payload], kind: NotifyType) -> Option<&NotifyRepr> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Notify(n) if n.kind == kind => Some(n),
        _ => None,
    })
}

fn first_error(payloads: &[Payload]) -> Option<NotifyType> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Notify(n) if n.kind.is_error() => Some(n.kind),
        _ => None,
    })
}

macro_rules! find_payload {
    ($payloads:expr, $variant:ident) => {
        $payloads.iter().find_map(|p| match &p.body {
            PayloadRepr::$variant(x) => Some(x),
            _ => None,
        })
    };
}

impl IkeSa {
    fn new(
        side: Side,
        config: Arc<Config>,
        kex_provider: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            side,
            config,
            kex_provider,
            pool: None,
            rng: ChaCha20Rng::from_seed(seed),
            spi_i: 0,
            spi_r: 0,
            local,
            remote,
            nat_t: local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT,
            local_behind_nat: false,
            peer_fragmentation: false,
            state: State::Closed,
            crypto: None,
            ni: Vec::new(),
            nr: Vec::new(),
            send_mid: 0,
            recv_mid: 0,
            outstanding: None,
            response_cache: None,
            queued: VecDeque::new(),
            children: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            reassembler: Reassembler::new(ReassemblyLimits::default()),
            last_heard: now,
            next_keepalive: None,
            ike_rekey_at: None,
            ike_expire_at: None,
            half_open_until: None,
            old_sa: None,
            leases: Vec::new(),
            init_response: None,
            collided_with: Vec::new(),
            old_send_mid: 0,
            rekey_started_by_us: false,
            closed: false,
            stats: Stats::default(),
        }
    }

    /// Starts an IKE SA as initiator: the IKE_SA_INIT request is ready in `poll_transmit`.
    ///
    /// `seed` seeds every random choice of this SA (SPIs, nonces, private keys, IVs, jitter),
    /// so the same seed, inputs and times give the same bytes.
    pub fn initiate(
        config: Arc<Config>,
        kex_provider: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Self, crate::Error> {
        let mut sa = Self::new(Side::Initiator, config, kex_provider, seed, now, local, remote);
        sa.spi_i = sa.random_spi64();
        let group = sa
            .config
            .ike_proposals
            .iter()
            .flat_map(|p| p.groups.iter())
            .copied()
            .find(|g| sa.kex_provider.supports(*g))
            .ok_or(crate::Error::NoUsableGroup)?;
        sa.send_init(now, group, None, None)?;
        Ok(sa)
    }

    // ----- accessors -----

    pub fn side(&self) -> Side {
        self.side
    }

    pub fn spis(&self) -> (u64, u64) {
        (self.spi_i, self.spi_r)
    }

    /// The SPIs of the previous IKE SA while it is still kept after a rekey.
    pub fn old_spis(&self) -> Option<(u64, u64)> {
        self.old_sa.as_ref().map(|o| (o.spi_i, o.spi_r))
    }

    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Half-open: a responder that answered IKE_SA_INIT and awaits IKE_AUTH.
    pub fn is_half_open(&self) -> bool {
        matches!(self.state, State::InitReplied { .. })
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The IKE SA's encryption and integrity keys, for a Wireshark key table.
    ///
    /// This hands out secrets: call it only when the user explicitly asked for a key log
    /// (`ikeway ... --keylog FILE`), never for ordinary logging.
    pub fn export_keys_for_debugging(&self) -> Option<KeyExport<'_>> {
        let c = self.crypto.as_ref()?;
        Some(KeyExport {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite: c.suite,
            sk_ei: &c.keys.sk_ei,
            sk_er: &c.keys.sk_er,
            sk_ai: &c.keys.sk_ai,
            sk_ar: &c.keys.sk_ar,
        })
    }

    /// Whether datagrams or events are waiting to be polled.
    pub fn has_output(&self) -> bool {
        !self.transmits.is_empty() || !self.events.is_empty()
    }

    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Inbound SPIs of the installed child SAs.
    pub fn child_spis(&self) -> Vec<(u32, u32)> {
        self.children.iter().map(|c| (c.spi_in, c.spi_out)).collect()
    }

    // ----- outputs -----

    /// The next datagram to send: copies its UDP payload into `buf` and returns its length and
    /// addresses. `buf` should hold 64 KiB; a shorter one that cannot take the datagram gets
    /// `Err` with the size needed, and the datagram stays queued.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<crate::Transmit, usize>> {
        let (local, remote, bytes) = self.transmits.front()?;
        if bytes.len() > buf.len() {
            return Some(Err(bytes.len()));
        }
        let t = crate::Transmit { local: *local, remote: *remote, len: bytes.len() };
        buf[..bytes.len()].copy_from_slice(bytes);
        self.transmits.pop_front();
        self.stats.sent += 1;
        Some(Ok(t))
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`IkeSa::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let dpd = match (self.config.dpd_interval, &self.state) {
            (Some(i), State::Established) if self.outstanding.is_none() => {
                Some(self.last_heard + i)
            }
            _ => None,
        };
        let child_timers = self.children.iter().flat_map(|c| {
            let rekey = (!c.rekeying).then_some(c.rekey_at);
            rekey.into_iter().chain([c.expire_at])
        });
        [
            self.outstanding.as_ref().map(|o| o.deadline),
            dpd,
            self.next_keepalive,
            self.ike_rekey_at,
            self.ike_expire_at,
            self.half_open_until,
            self.old_sa.as_ref().map(|o| o.until),
        ]
        .into_iter()
        .flatten()
        .chain(child_timers)
        .min()
    }

    // ----- commands -----

    /// Negotiates another child SA with the configured selectors (CREATE_CHILD_SA).
    pub fn create_child(&mut self, now: Instant) {
        self.command(now, Command::CreateChild);
    }

    /// Rekeys the child SA with inbound SPI `spi_in` (§1.3.3), make-before-break: the old SA
    /// stays installed until the new one is, then is deleted.
    pub fn rekey_child(&mut self, now: Instant, spi_in: u32) {
        self.command(now, Command::RekeyChild(spi_in));
    }

    /// Rekeys the IKE SA itself (§1.3.2); child SAs move to the new one.
    pub fn rekey_ike(&mut self, now: Instant) {
        self.command(now, Command::RekeyIke);
    }

    pub fn delete_child(&mut self, now: Instant, spi_in: u32) {
        self.command(now, Command::DeleteChild(spi_in));
    }

    /// Deletes the IKE SA and all its child SAs.
    pub fn delete_ike(&mut self, now: Instant) {
        self.command(now, Command::DeleteIke);
    }

    /// Sends a liveness check now (an empty INFORMATIONAL request, §1.4.1).
    pub fn dpd(&mut self, now: Instant) {
        self.command(now, Command::Dpd);
    }

    /// Queues a command and starts it at once if no exchange is in flight.
    fn command(&mut self, now: Instant, command: Command) {
        if matches!(command, Command::RekeyIke) {
            self.rekey_started_by_us = true;
        }
        self.queue(command);
        if self.start_next(now).is_err() {
            self.stats.dropped_malformed += 1;
        }
    }

    fn queue(&mut self, command: Command) {
        if !self.queued.contains(&command) {
            self.queued.push_back(command);
        }
    }

    // ----- randomness -----

    fn random_spi64(&mut self) -> u64 {
        loop {
            let v = self.rng.next_u64();
            if v != 0 {
                return v;
            }
        }
    }

    fn random_spi32(&mut self) -> u32 {
        loop {
            // SPIs 1-255 are reserved by IANA (RFC 4303 §2.1).
            let v = self.rng.next_u32();
            if v > 255 {
                return v;
            }
        }
    }

    fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn jittered(&mut self, now: Instant, lifetime: Duration) -> (Instant, Instant) {
        let l = self.config.lifetimes;
        let jitter_ms = u64::try_from(l.jitter.as_millis()).unwrap_or(u64::MAX);
        let jitter =
            Duration::from_millis(if jitter_ms == 0 { 0 } else { self.rng.next_u64() % jitter_ms });
        let soft = lifetime.saturating_sub(l.rekey_margin).saturating_sub(jitter);
        (now + soft, now + lifetime)
    }

    // ----- sending -----

    fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> HeaderRepr {
        let flags = Flags { initiator: self.side == Side::Initiator, response, ..Flags::default() };
        HeaderRepr {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange,
            flags,
            message_id,
            length: 0,
        }
    }

    fn frame(&self, message: Vec<u8>) -> Vec<u8> {
        if self.nat_t {
            let mut framed = NON_ESP_MARKER.to_vec();
            framed.extend_from_slice(&message);
            framed
        } else {
            message
        }
    }

    /// Seals `inner` into one message, or into fragments when it is too large and the peer
    /// supports RFC 7383. Returns datagrams ready to send.
    fn seal(
        &mut self,
        header: &HeaderRepr,
        inner: &[Payload],
    ) -> Result<Vec<Vec<u8>>, crate::Error> {
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let mut iv = vec![0u8; crypto.outbound.iv_len()];
        self.rng.fill_bytes(&mut iv);
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let whole = sk::seal(header, &[], inner, &crypto.outbound, &iv)?;
        let limit = self.config.max_message_len;
        let messages = if whole.len() > limit && self.peer_fragmentation {
            let rng = &mut self.rng;
            sk::seal_fragments(header, inner, &crypto.outbound, limit, &mut |iv| {
                rng.fill_bytes(iv)
            })?
        } else {
            vec![whole]
        };
        Ok(messages.into_iter().map(|m| self.frame(m)).collect())
    }

    fn transmit_all(&mut self, datagrams: &[Vec<u8>]) {
        for d in datagrams {
            self.transmits.push_back((self.local, self.remote, d.clone()));
        }
    }

    fn send_request(&mut self, now: Instant, kind: Request, datagrams: Vec<Vec<u8>>) {
        let message_id = self.send_mid;
        self.send_mid = self.send_mid.wrapping_add(1);
        self.transmit_all(&datagrams);
        let deadline = now + self.config.retransmit.timeout(0);
        self.outstanding = Some(Outstanding { message_id, datagrams, attempts: 1, deadline, kind });
    }

    fn send_encrypted_request(
        &mut self,
        now: Instant,
        exchange: ExchangeType,
        inner: &[Payload],
        kind: Request,
    ) -> Result<(), crate::Error> {
        let header = self.header(exchange, false, self.send_mid);
        let datagrams = self.seal(&header, inner)?;
        self.send_request(now, kind, datagrams);
        Ok(())
    }

    fn send_response(
        &mut self,
        message_id: u32,
        exchange: ExchangeType,
        inner: &[Payload],
    ) -> Result<(), crate::Error> {
        let header = self.header(exchange, true, message_id);
        let datagrams = self.seal(&header, inner)?;
        self.transmit_all(&datagrams);
        self.response_cache = Some((message_id, datagrams));
        Ok(())
    }

    // ----- IKE_SA_INIT -----

    fn nat_payloads(&self, spi_r: u64) -> [Payload; 2] {
        [
            notify(
                NotifyType::NAT_DETECTION_SOURCE_IP,
                nat::hash(self.spi_i, spi_r, self.local).to_vec(),
            ),
            notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                nat::hash(self.spi_i, spi_r, self.remote).to_vec(),
            ),
        ]
    }

    /// Sends (or re-sends) IKE_SA_INIT. A COOKIE retry must repeat the request unchanged
    /// but for the cookie (§2.6), so the key exchange and nonce can be passed back in.
    fn send_init(
        &mut self,
        now: Instant,
        group: DhGroup,
        cookie: Option<Vec<u8>>,
        reuse: Option<(Box<dyn ActiveKeyExchange>, Vec<u8>)>,
    ) -> Result<(), crate::Error> {
        let (kex, ni) = match reuse {
            Some((kex, ni)) if kex.group() == group => (kex, ni),
            Some((_, ni)) => {
                (self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?, ni)
            }
            None => {
                let kex =
                    self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
                (kex, self.random_bytes(NONCE_LEN))
            }
        };
        let mut payloads = Vec::new();
        if let Some(c) = &cookie {
            // §2.6: the COOKIE notify comes first.
            payloads.push(notify(NotifyType::COOKIE, c.clone()));
        }
        payloads.push(Payload::new(PayloadRepr::Sa(proposal::ike_offer(
            &self.config.ike_proposals,
            &[],
        ))));
        payloads.push(Payload::new(PayloadRepr::Ke(KeRepr {
            group,
            data: kex.public_value().to_vec(),
        })));
        payloads.push(Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.clone() })));
        payloads.extend(self.nat_payloads(0));
        payloads.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        // RFC 7427 §4: SHA2-256, SHA2-384, SHA2-512.
        payloads.push(notify(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0, 2, 0, 3, 0, 4]));
        let header = self.header(ExchangeType::IKE_SA_INIT, false, 0);
        let request = MessageRepr { header, payloads }.to_vec()?;
        self.send_mid = 0;
        self.state = State::InitSent { kex, ni, cookie, request: request.clone() };
        let framed = self.frame(request);
        self.send_request(now, Request::Init, vec![framed]);
        Ok(())
    }

    /// Responder side of IKE_SA_INIT, run by the endpoint for a request without state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond_init(
        config: Arc<Config>,
        kex_provider: Arc<dyn KeyExchangeProvider>,
        pool: Option<Arc<Mutex<AddressAllocator>>>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        request: &[u8],
        message: &MessageRepr,
        cookie_required: Option<Vec<u8>>,
    ) -> Result<InitReply, crate::Error> {
        let mut sa = Self::new(Side::Responder, config, kex_provider, seed, now, local, remote);
        sa.pool = pool;
        sa.spi_i = message.header.spi_i;
        let payloads = &message.payloads;
        let stateless =
            |sa: &Self, kind: NotifyType, data: Vec<u8>| -> Result<InitReply, crate::Error> {
                let mut header = sa.header(ExchangeType::IKE_SA_INIT, true, 0);
                header.spi_r = 0;
                let reply = MessageRepr { header, payloads: vec![notify(kind, data)] }.to_vec()?;
                Ok(InitReply::Stateless(sa.frame(reply)))
            };
        if let Some(cookie) = cookie_required {
            let presented = find_notify(payloads, NotifyType::COOKIE).map(|n| n.data.as_slice());
            if presented != Some(cookie.as_slice()) {
                return stateless(&sa, NotifyType::COOKIE, cookie);
            }
        }
        let (Some(offer), Some(ke), Some(nonce)) = (
            find_payload!(payloads, Sa),
            find_payload!(payloads, Ke),
            find_payload!(payloads, Nonce),
        ) else {
            return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
        };
        if !(16..=256).contains(&nonce.data.len()) {
            return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
        }
        let supported: Vec<_> = sa
            .config
            .ike_proposals
            .iter()
            .cloned()
            .map(|mut p| {
                p.groups.retain(|g| sa.kex_provider.supports(*g));
                p
            })
            .collect();
        let Some((suite, _)) = proposal::choose_ike(offer, &supported, &[]) else {
            return stateless(&sa, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new());
        };
        // §1.2: if the KE is not for the group we would pick but one we accept, ask for ours.
        let offered_groups_ok = supported.iter().any(|p| p.groups.contains(&ke.group));
        let group = if offered_groups_ok
            && proposal::choose_ike(offer, &restrict(&supported, ke.group), &[]).is_some()
        {
            ke.group
        } else {
            return stateless(
                &sa,
                NotifyType::INVALID_KE_PAYLOAD,
                suite.group.0.to_be_bytes().to_vec(),
            );
        };
        let (suite, sa_reply) = proposal::choose_ike(offer, &restrict(&supported, group), &[])
            .expect("checked just above");
        let kex = sa.kex_provider.start(group, &mut sa.rng).map_err(crate::Error::Kex)?;
        let Ok(shared) = kex.complete(&ke.data) else {
            return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
        };
        sa.spi_r = sa.random_spi64();
        let nr = sa.random_bytes(NONCE_LEN);
        sa.peer_fragmentation =
            find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        sa.detect_nat(payloads, message.header.spi_r);

        let mut reply = vec![
            Payload::new(PayloadRepr::Sa(sa_reply)),
            Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().to_vec() })),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr.clone() })),
        ];
        reply.extend(sa.nat_payloads(sa.spi_r));
        reply.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        let header = sa.header(ExchangeType::IKE_SA_INIT, true, 0);
        let response = MessageRepr { header, payloads: reply }.to_vec()?;

        let seed_key = keys::skeyseed(suite.prf, &nonce.data, &nr, shared.expose());
        sa.crypto = Some(IkeCrypto::derive(
            Side::Responder,
            suite,
            &seed_key,
            &nonce.data,
            &nr,
            sa.spi_i,
            sa.spi_r,
        )?);
        sa.ni = nonce.data.clone();
        sa.nr = nr.clone();
        sa.recv_mid = 1;
        let framed = sa.frame(response.clone());
        sa.transmit_all(std::slice::from_ref(&framed));
        sa.response_cache = Some((0, vec![framed]));
        sa.half_open_until = Some(now + HALF_OPEN_TIMEOUT);
        sa.state = State::InitReplied {
            ni: nonce.data.clone(),
            nr,
            init_request: request.to_vec(),
            init_response: response,
        };
        Ok(InitReply::Accepted(Box::new(sa)))
    }

    /// Compares the peer's NAT_DETECTION hashes with what we see (§2.23).
    fn detect_nat(&mut self, payloads: &[Payload], spi_r_in_message: u64) {
        let source = find_notify(payloads, NotifyType::NAT_DETECTION_SOURCE_IP);
        let destination = find_notify(payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
        let (Some(source), Some(destination)) = (source, destination) else { return };
        let remote_behind_nat =
            source.data != nat::hash(self.spi_i, spi_r_in_message, self.remote).as_slice();
        let local_behind_nat =
            destination.data != nat::hash(self.spi_i, spi_r_in_message, self.local).as_slice();
        if remote_behind_nat || local_behind_nat {
            self.local_behind_nat = local_behind_nat;
            self.events.push_back(Event::NatDetected { local_behind_nat, remote_behind_nat });
            if self.side == Side::Initiator && !self.nat_t {
                // §2.23: float to port 4500 from IKE_AUTH on.
                self.nat_t = true;
                self.local.set_port(NAT_T_PORT);
                self.remote.set_port(NAT_T_PORT);
            }
        }
    }

    fn handle_init_response(
        &mut self,
        now: Instant,
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        let State::InitSent { kex, ni, cookie, request } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        let payloads = &message.payloads;
        if let Some(c) = find_notify(payloads, NotifyType::COOKIE) {
            // §2.6: retry with the cookie; only once per distinct cookie to avoid loops.
            if cookie.as_deref() != Some(c.data.as_slice()) {
                self.outstanding = None;
                let group = kex.group();
                return self.send_init(now, group, Some(c.data.clone()), Some((kex, ni)));
            }
        }
        if let Some(n) = find_notify(payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let asked = n.data.get(..2).map(|b| DhGroup(u16::from_be_bytes([b[0], b[1]])));
            let acceptable = asked.filter(|g| {
                *g != kex.group()
                    && self.kex_provider.supports(*g)
                    && self.config.ike_proposals.iter().any(|p| p.groups.contains(g))
            });
            return match acceptable {
                Some(group) => {
                    self.outstanding = None;
                    self.send_init(now, group, cookie, Some((kex, ni)))
                }
                None => {
                    self.close(CloseReason::PeerError(NotifyType::INVALID_KE_PAYLOAD));
                    Ok(())
                }
            };
        }
        if let Some(error) = first_error(payloads) {
            let reason = if error == NotifyType::NO_PROPOSAL_CHOSEN {
                CloseReason::NoProposalChosen
            } else {
                CloseReason::PeerError(error)
            };
            self.close(reason);
            return Ok(());
        }
        let accepted = find_payload!(payloads, Sa)
            .and_then(|sa| proposal::accept_ike(sa, &self.config.ike_proposals));
        let (Some((suite, _)), Some(ke), Some(nonce)) =
            (accepted, find_payload!(payloads, Ke), find_payload!(payloads, Nonce))
        else {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        };
        if ke.group != kex.group()
            || suite.group != kex.group()
            || !(16..=256).contains(&nonce.data.len())
        {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        }
        let Ok(shared) = kex.complete(&ke.data) else {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        };
        self.outstanding = None;
        self.spi_r = message.header.spi_r;
        let nr = nonce.data.clone();
        let seed_key = keys::skeyseed(suite.prf, &ni, &nr, shared.expose());
        self.crypto = Some(IkeCrypto::derive(
            Side::Initiator,
            suite,
            &seed_key,
            &ni,
            &nr,
            self.spi_i,
            self.spi_r,
        )?);
        self.peer_fragmentation =
            find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        self.detect_nat(payloads, self.spi_r);
        self.ni = ni.clone();
        self.nr = nr.clone();
        self.send_auth(now, ni, nr, request)
    }

    // ----- IKE_AUTH -----

    fn send_auth(
        &mut self,
        now: Instant,
        ni: Vec<u8>,
        nr: Vec<u8>,
        init_request: Vec<u8>,
    ) -> Result<(), crate::Error> {
        let config = Arc::clone(&self.config);
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let auth =
            crypto.psk_auth(Side::Initiator, &config.psk, &init_request, &nr, &config.local_id)?;
        let child_spi = self.random_spi32();
        let mut inner = vec![Payload::new(PayloadRepr::IdI(config.local_id.clone()))];
        inner.push(notify(NotifyType::INITIAL_CONTACT, Vec::new()));
        if let Some(id) = &config.remote_id {
            inner.push(Payload::new(PayloadRepr::IdR(id.clone())));
        }
        inner.push(Payload::new(PayloadRepr::Auth(AuthRepr {
            method: AuthMethod::SHARED_KEY_MIC,
            data: auth.expose().to_vec(),
        })));
        if !config.config_request.is_empty() {
            let attributes =
                config.config_request.iter().map(|k| ConfigAttribute::request(*k)).collect();
            inner.push(Payload::new(PayloadRepr::Config(ConfigRepr {
                kind: ConfigType::CFG_REQUEST,
                attributes,
            })));
        }
        inner.push(Payload::new(PayloadRepr::Sa(proposal::esp_offer(
            &config.esp_proposals,
            child_spi,
            false,
        ))));
        inner.push(Payload::new(PayloadRepr::TsI(TsRepr { selectors: config.local_ts.clone() })));
        inner.push(Payload::new(PayloadRepr::TsR(TsRepr { selectors: config.remote_ts.clone() })));
        self.send_mid = 1;
        self.state = State::AuthSent { ni, nr, child_spi };
        self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)
    }

    fn verify_peer_auth(
        &self,
        payloads: &[Payload],
        id_is_initiator: bool,
        real_message: &[u8],
        our_nonce: &[u8],
    ) -> Result<IdRepr, NotifyType> {
        let id = if id_is_initiator {
            find_payload!(payloads, IdI)
        } else {
            find_payload!(payloads, IdR)
        };
        let (Some(id), Some(auth)) = (id, find_payload!(payloads, Auth)) else {
            return Err(NotifyType::INVALID_SYNTAX);
        };
        if auth.method != AuthMethod::SHARED_KEY_MIC {
            return Err(NotifyType::AUTHENTICATION_FAILED);
        }
        if let Some(expected) = &self.config.remote_id
            && expected != id
        {
            return Err(NotifyType::AUTHENTICATION_FAILED);
        }
        let crypto = self.crypto.as_ref().ok_or(NotifyType::INVALID_SYNTAX)?;
        let signer = if id_is_initiator { Side::Initiator } else { Side::Responder };
        let expected = crypto
            .psk_auth(signer, &self.config.psk, real_message, our_nonce, id)
            .map_err(|_| NotifyType::INVALID_SYNTAX)?;
        if bool::from(expected.expose().ct_eq(&auth.data)) {
            Ok(id.clone())
        } else {
            Err(NotifyType::AUTHENTICATION_FAILED)
        }
    }

    fn handle_auth_request(
        &mut self,
        now: Instant,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let State::InitReplied { ni, nr, init_request, init_response } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        if let Err(notify_type) = self.verify_peer_auth(payloads, true, &init_request, &nr) {
            // §2.21.2: answer AUTHENTICATION_FAILED, then forget everything.
            self.send_response(
                message_id,
                ExchangeType::IKE_AUTH,
                &[notify(notify_type, Vec::new())],
            )?;
            self.close(CloseReason::AuthenticationFailed);
            return Ok(());
        }
        let config = Arc::clone(&self.config);
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let auth =
            crypto.psk_auth(Side::Responder, &config.psk, &init_response, &ni, &config.local_id)?;
        let mut reply = vec![
            Payload::new(PayloadRepr::IdR(config.local_id.clone())),
            Payload::new(PayloadRepr::Auth(AuthRepr {
                method: AuthMethod::SHARED_KEY_MIC,
                data: auth.expose().to_vec(),
            })),
        ];
        self.half_open_until = None;
        self.state = State::Established;
        self.established(now);
        if let Some(cp) =
            find_payload!(payloads, Config).filter(|c| c.kind == ConfigType::CFG_REQUEST)
        {
            match self.config_reply(cp) {
                Some(reply_cp) => reply.push(Payload::new(PayloadRepr::Config(reply_cp))),
                None => {
                    // §3.15.4: no address to give: the IKE SA stays, the child is refused.
                    reply.push(notify(NotifyType::INTERNAL_ADDRESS_FAILURE, Vec::new()));
                    self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)?;
                    return Ok(());
                }
            }
        }
        let child = self.respond_child(now, payloads, &ni, &nr, None, None);
        match child {
            Ok(child_payloads) => reply.extend(child_payloads),
            Err(n) => reply.push(notify(n, Vec::new())),
        }
        self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)
    }

    fn handle_auth_response(
        &mut self,
        now: Instant,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let State::AuthSent { ni, nr, child_spi } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        if let Some(NotifyType::AUTHENTICATION_FAILED) = first_error(payloads) {
            self.close(CloseReason::AuthenticationFailed);
            return Ok(());
        }
        // The responder's AUTH covers its IKE_SA_INIT response, kept by the outstanding init.
        let init_response = self.init_response.take().unwrap_or_default();
        if let Err(n) = self.verify_peer_auth(payloads, false, &init_response, &ni) {
            let _ = n;
            self.close(CloseReason::AuthenticationFailed);
            return Ok(());
        }
        self.state = State::Established;
        self.established(now);
        if let Some(cp) =
            find_payload!(payloads, Config).filter(|c| c.kind == ConfigType::CFG_REPLY)
        {
            self.events.push_back(Event::ConfigReceived(config_received(cp)));
        }
        match first_error(payloads) {
            Some(error) => self.events.push_back(Event::ChildSaRefused { notify: error }),
            None => {
                if let Err(n) = self.accept_child(now, payloads, child_spi, &ni, &nr, None, None) {
                    self.events.push_back(Event::ChildSaRefused { notify: n });
                }
            }
        }
        Ok(())
    }

    fn established(&mut self, now: Instant) {
        let suite = self.crypto.as_ref().map(|c| c.suite).expect("keyed before established");
        self.events.push_back(Event::IkeSaUp { spi_i: self.spi_i, spi_r: self.spi_r, suite });
        let (rekey, expire) = self.jittered(now, self.config.lifetimes.ike);
        self.ike_rekey_at = Some(rekey);
        self.ike_expire_at = Some(expire);
        if self.local_behind_nat {
            self.next_keepalive = Some(now + self.config.nat_keepalive);
        }
    }

    fn config_reply(&mut self, request: &ConfigRepr) -> Option<ConfigRepr> {
        let pool = self.pool.clone()?;
        let mut pool = pool.lock().ok()?;
        let mut attributes = Vec::new();
        let mut asked_address = false;
        for a in &request.attributes {
            match a.kind {
                // An address family without a pool is left out; only a request that gets no
                // address at all fails (RFC 7296 §3.15.4).
                ConfigAttributeType::INTERNAL_IP4_ADDRESS => {
                    asked_address = true;
                    if let Some(addr) = pool.lease_v4() {
                        self.leases.push(addr.into());
                        attributes.push(ConfigAttribute::ipv4(a.kind, addr));
                    }
                }
                ConfigAttributeType::INTERNAL_IP6_ADDRESS => {
                    asked_address = true;
                    if let Some(addr) = pool.lease_v6() {
                        self.leases.push(addr.into());
                        attributes.push(ConfigAttribute::ipv6_prefix(a.kind, addr, 128));
                    }
                }
                ConfigAttributeType::INTERNAL_IP4_DNS => {
                    for d in pool.pool().dns.iter().filter_map(|d| match d {
                        std::net::IpAddr::V4(v4) => Some(*v4),
                        _ => None,
                    }) {
                        attributes.push(ConfigAttribute::ipv4(a.kind, d));
                    }
                }
                ConfigAttributeType::INTERNAL_IP6_DNS => {
                    for d in pool.pool().dns.iter().filter_map(|d| match d {
                        std::net::IpAddr::V6(v6) => Some(*v6),
                        _ => None,
                    }) {
                        attributes.push(ConfigAttribute::ipv6(a.kind, d));
                    }
                }
                ConfigAttributeType::INTERNAL_DNS_DOMAIN => {
                    for d in &pool.pool().dns_domains {
                        attributes.push(ConfigAttribute::dns_domain(d));
                    }
                }
                ConfigAttributeType::INTERNAL_IP4_SUBNET
                | ConfigAttributeType::INTERNAL_IP6_SUBNET => {}
                _ => {}
            }
        }
        for (net, len) in &pool.pool().subnets {
            attributes.push(match net {
                std::net::IpAddr::V4(v4) => ConfigAttribute::ipv4_subnet(*v4, prefix_to_mask(*len)),
                std::net::IpAddr::V6(v6) => ConfigAttribute::ipv6_prefix(
                    ConfigAttributeType::INTERNAL_IP6_SUBNET,
                    *v6,
                    *len,
                ),
            });
        }
        if asked_address && self.leases.is_empty() {
            return None;
        }
        Some(ConfigRepr { kind: ConfigType::CFG_REPLY, attributes })
    }

    // ----- child SAs -----

    /// Responder: chooses a child proposal and selectors and installs the child. Returns the
    /// payloads for the response, or the notify that refuses the child.
    fn respond_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        ni: &[u8],
        nr: &[u8],
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    ) -> Result<Vec<Payload>, NotifyType> {
        let config = Arc::clone(&self.config);
        let offer = find_payload!(payloads, Sa).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsi = find_payload!(payloads, TsI).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsr = find_payload!(payloads, TsR).ok_or(NotifyType::INVALID_SYNTAX)?;
        let spi_in = self.random_spi32();
        let want_pfs = kex.is_some();
        let (suite, spi_out, sa_reply) =
            proposal::choose_esp(offer, &config.esp_proposals, spi_in, want_pfs)
                .ok_or(NotifyType::NO_PROPOSAL_CHOSEN)?;
        // Our local side is the responder's (TSr) selectors, narrowed to what we allow (§2.9).
        let remote_ts =
            ts::narrow(&tsi.selectors, &config.remote_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let remote_ts = self.narrow_to_leases(remote_ts);
        let local_ts =
            ts::narrow(&tsr.selectors, &config.local_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let mut reply = vec![Payload::new(PayloadRepr::Sa(sa_reply))];
        let mut shared = None;
        if let Some(kex) = kex {
            let ke = find_payload!(payloads, Ke).ok_or(NotifyType::INVALID_SYNTAX)?;
            shared = Some(kex.complete(&ke.data).map_err(|_| NotifyType::INVALID_SYNTAX)?);
            reply.push(Payload::new(PayloadRepr::Ke(KeRepr {
                group: kex.group(),
                data: kex.public_value().to_vec(),
            })));
        }
        let _ = suite;
        self.install_child(
            now,
            suite,
            spi_in,
            spi_out,
            ni,
            nr,
            shared.as_ref(),
            local_ts.clone(),
            remote_ts.clone(),
            rekey_of,
            false,
        )
        .map_err(|_| NotifyType::NO_PROPOSAL_CHOSEN)?;
        reply.push(Payload::new(PayloadRepr::TsI(TsRepr { selectors: remote_ts })));
        reply.push(Payload::new(PayloadRepr::TsR(TsRepr { selectors: local_ts })));
        Ok(reply)
    }

    /// A client with a leased address gets selectors narrowed to that address (RFC 7296 §2.9).
    fn narrow_to_leases(
        &self,
        selectors: Vec<ikeway_codec::TrafficSelector>,
    ) -> Vec<ikeway_codec::TrafficSelector> {
        if self.leases.is_empty() {
            return selectors;
        }
        let leased: Vec<_> = self
            .leases
            .iter()
            .map(|a| ikeway_codec::TrafficSelector::Range(ikeway_codec::AddrRange::any(*a, *a)))
            .collect();
        ts::narrow(&selectors, &leased).unwrap_or(selectors)
    }

    /// Initiator: checks the responder's child reply and installs the child.
    #[allow(clippy::too_many_arguments)]
    fn accept_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        spi_in: u32,
        ni: &[u8],
        nr: &[u8],
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    ) -> Result<(), NotifyType> {
        let config = Arc::clone(&self.config);
        let reply = find_payload!(payloads, Sa).ok_or(NotifyType::INVALID_SYNTAX)?;
        let (suite, spi_out) = proposal::accept_esp(reply, &config.esp_proposals, kex.is_some())
            .ok_or(NotifyType::NO_PROPOSAL_CHOSEN)?;
        let tsi = find_payload!(payloads, TsI).ok_or(NotifyType::INVALID_SYNTAX)?;
        let tsr = find_payload!(payloads, TsR).ok_or(NotifyType::INVALID_SYNTAX)?;
        // The responder may only narrow what we asked for.
        let local_ts =
            ts::narrow(&tsi.selectors, &config.local_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let remote_ts =
            ts::narrow(&tsr.selectors, &config.remote_ts).ok_or(NotifyType::TS_UNACCEPTABLE)?;
        let shared = match kex {
            Some(kex) => {
                let ke = find_payload!(payloads, Ke).ok_or(NotifyType::INVALID_SYNTAX)?;
                if Some(kex.group()) != suite.group {
                    return Err(NotifyType::INVALID_KE_PAYLOAD);
                }
                Some(kex.complete(&ke.data).map_err(|_| NotifyType::INVALID_SYNTAX)?)
            }
            None => None,
        };
        self.install_child(
            now,
            suite,
            spi_in,
            spi_out,
            ni,
            nr,
            shared.as_ref(),
            local_ts,
            remote_ts,
            rekey_of,
            true,
        )
        .map_err(|_| NotifyType::NO_PROPOSAL_CHOSEN)
    }

    #[allow(clippy::too_many_arguments)]
    fn install_child(
        &mut self,
        now: Instant,
        suite: EspSuite,
        spi_in: u32,
        spi_out: u32,
        ni: &[u8],
        nr: &[u8],
        shared: Option<&SecretBytes>,
        local_ts: Vec<ikeway_codec::TrafficSelector>,
        remote_ts: Vec<ikeway_codec::TrafficSelector>,
        rekey_of: Option<u32>,
        created_by_us: bool,
    ) -> Result<(), crate::Error> {
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let (e, i) = (suite.suite.encryption_key_len(), suite.suite.integrity_key_len());
        let keymat = keys::child_keymat(
            crypto.suite.prf,
            crypto.keys.sk_d.expose(),
            shared.map(SecretBytes::expose),
            ni,
            nr,
            ChildKeys::keymat_len(e, i),
        )?;
        let keys = ChildKeys::split(keymat, e, i);
        let (outbound, inbound) = match self.side {
            Side::Initiator => (keys.initiator_to_responder, keys.responder_to_initiator),
            Side::Responder => (keys.responder_to_initiator, keys.initiator_to_responder),
        };
        let lifetime = self.config.lifetimes.child;
        let (rekey_at, expire_at) = self.jittered(now, lifetime);
        let lowest_nonce = if ni <= nr { ni.to_vec() } else { nr.to_vec() };
        self.children.push(Child {
            spi_in,
            spi_out,
            rekey_at,
            expire_at,
            rekeying: false,
            lowest_nonce,
            created_by_us,
        });
        self.events.push_back(Event::ChildSaInstalled(Box::new(ChildSaInfo {
            spi_in,
            spi_out,
            suite,
            inbound,
            outbound,
            local_ts,
            remote_ts,
            lifetime,
            replaces: rekey_of,
            remote: self.remote,
            udp_encapsulation: self.nat_t,
        })));
        Ok(())
    }

    fn remove_child(&mut self, spi_in: u32) -> Option<u32> {
        let index = self.children.iter().position(|c| c.spi_in == spi_in)?;
        let child = self.children.remove(index);
        self.events
            .push_back(Event::ChildSaRemoved { spi_in: child.spi_in, spi_out: child.spi_out });
        Some(child.spi_out)
    }

    // ----- starting exchanges -----

    fn start_next(&mut self, now: Instant) -> Result<(), crate::Error> {
        while self.outstanding.is_none() && self.is_established() {
            let Some(command) = self.queued.pop_front() else { return Ok(()) };
            match command {
                Command::CreateChild => self.start_create_child(now, None)?,
                Command::RekeyChild(spi) => {
                    if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                        c.rekeying = true;
                        self.start_create_child(now, Some(spi))?;
                    }
                }
                Command::RekeyIke => self.start_rekey_ike(now)?,
                Command::DeleteChild(spi) => {
                    if self.children.iter().any(|c| c.spi_in == spi) {
                        let d = DeleteRepr::esp([spi]);
                        let inner = [Payload::new(PayloadRepr::Delete(d))];
                        self.send_encrypted_request(
                            now,
                            ExchangeType::INFORMATIONAL,
                            &inner,
                            Request::DeleteChildren(vec![spi]),
                        )?;
                    }
                }
                Command::DeleteIke => {
                    let inner = [Payload::new(PayloadRepr::Delete(DeleteRepr::ike()))];
                    self.send_encrypted_request(
                        now,
                        ExchangeType::INFORMATIONAL,
                        &inner,
                        Request::DeleteIke,
                    )?;
                }
                Command::Dpd => {
                    self.send_encrypted_request(
                        now,
                        ExchangeType::INFORMATIONAL,
                        &[],
                        Request::Dpd,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn pfs_kex(&mut self) -> Result<Option<Box<dyn ActiveKeyExchange>>, crate::Error> {
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

    fn start_create_child(
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
                spi: old.to_be_bytes().to_vec(),
                kind: NotifyType::REKEY_SA,
                data: Vec::new(),
            })));
        }
        inner.push(Payload::new(PayloadRepr::Sa(proposal::esp_offer(
            &config.esp_proposals,
            spi_in,
            kex.is_some(),
        ))));
        inner.push(Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.clone() })));
        if let Some(k) = &kex {
            inner.push(Payload::new(PayloadRepr::Ke(KeRepr {
                group: k.group(),
                data: k.public_value().to_vec(),
            })));
        }
        inner.push(Payload::new(PayloadRepr::TsI(TsRepr { selectors: config.local_ts.clone() })));
        inner.push(Payload::new(PayloadRepr::TsR(TsRepr { selectors: config.remote_ts.clone() })));
        let kind = Request::CreateChild { spi_in, ni, kex, rekey_of };
        self.send_encrypted_request(now, ExchangeType::CREATE_CHILD_SA, &inner, kind)
    }

    fn start_rekey_ike(&mut self, now: Instant) -> Result<(), crate::Error> {
        let config = Arc::clone(&self.config);
        let group = self.crypto.as_ref().map(|c| c.suite.group).ok_or(crate::Error::NotKeyed)?;
        let kex = self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
        let spi = self.random_spi64();
        let ni = self.random_bytes(NONCE_LEN);
        let inner = [
            Payload::new(PayloadRepr::Sa(proposal::ike_offer(
                &config.ike_proposals,
                &spi.to_be_bytes(),
            ))),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.clone() })),
            Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().to_vec() })),
        ];
        self.send_encrypted_request(
            now,
            ExchangeType::CREATE_CHILD_SA,
            &inner,
            Request::RekeyIke { spi, ni, kex },
        )
    }

    // ----- receiving -----

    /// Handles one UDP payload from `remote` that arrived on `local`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.stats.received += 1;
        let on_nat_t = local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT;
        let bytes = if on_nat_t {
            match datagram.strip_prefix(&NON_ESP_MARKER) {
                Some(ike) => ike,
                None => {
                    // ESP or a keepalive: not ours to handle.
                    self.stats.dropped_unexpected += 1;
                    return;
                }
            }
        } else {
            datagram
        };
        let Ok(message) = MessageRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let h = message.header;
        if self.is_closed() || h.spi_i != self.spi_i {
            self.stats.dropped_unexpected += 1;
            return;
        }
        if self.old_sa.as_ref().is_some_and(|o| o.spi_r == h.spi_r && o.spi_i == h.spi_i) {
            self.handle_old_sa(now, bytes, &message);
            return;
        }
        let init_response = matches!(self.state, State::InitSent { .. }) && h.flags.response;
        if !init_response && h.spi_r != self.spi_r {
            self.stats.dropped_unexpected += 1;
            return;
        }
        // The sender's role flag must match the other side's role (§3.1).
        if h.flags.initiator == (self.side == Side::Initiator) {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let result = if h.flags.response {
            self.handle_response(now, bytes, &message)
        } else {
            self.handle_request(now, remote, local, on_nat_t, bytes, &message)
        };
        if result.is_err() {
            self.stats.dropped_malformed += 1;
        }
        if let Err(_e) = self.start_next(now) {
            self.stats.dropped_malformed += 1;
        }
    }

    /// Decrypts an SK/SKF message; fragments are held until complete (`Ok(None)`).
    fn open(&mut self, bytes: &[u8], message: &MessageRepr) -> Result<Option<Vec<Payload>>, ()> {
        let Some(crypto) = self.crypto.as_ref() else {
            self.stats.dropped_unexpected += 1;
            return Err(());
        };
        let opened = match sk::open(bytes, &crypto.inbound) {
            Ok(o) => o,
            Err(sk::SkError::Authentication) => {
                self.stats.dropped_unauthenticated += 1;
                return Err(());
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return Err(());
            }
        };
        let whole = match self.reassembler.push(message.header.message_id, opened) {
            Ok(Reassembly::Complete(o)) => o,
            Ok(Reassembly::Pending | Reassembly::Ignored) => return Ok(None),
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return Err(());
            }
        };
        match whole.payloads() {
            Ok(p) => Ok(Some(p)),
            Err(_) => {
                self.stats.dropped_malformed += 1;
                Err(())
            }
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        bytes: &[u8],
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        let Some(out) = &self.outstanding else {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        };
        if out.message_id != message.header.message_id
            || out_exchange(&out.kind) != message.header.exchange
        {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        }
        if matches!(out.kind, Request::Init) {
            self.init_response = Some(bytes.to_vec());
            self.last_heard = now;
            return self.handle_init_response(now, message);
        }
        let Ok(Some(payloads)) = self.open(bytes, message) else { return Ok(()) };
        self.last_heard = now;
        let Some(out) = self.outstanding.take() else { return Ok(()) };
        match out.kind {
            Request::Init => unreachable!("handled above"),
            Request::Auth => self.handle_auth_response(now, &payloads)?,
            Request::CreateChild { spi_in, ni, kex, rekey_of } => {
                self.finish_create_child(now, &payloads, spi_in, &ni, kex, rekey_of);
            }
            Request::RekeyIke { spi, ni, kex } => {
                self.finish_rekey_ike(now, &payloads, spi, &ni, kex)?
            }
            Request::Dpd => {}
            Request::DeleteChildren(spis) => {
                for spi in spis {
                    self.remove_child(spi);
                }
            }
            Request::DeleteIke => self.close(CloseReason::Deleted),
        }
        Ok(())
    }

    fn finish_create_child(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        spi_in: u32,
        ni: &[u8],
        kex: Option<Box<dyn ActiveKeyExchange>>,
        rekey_of: Option<u32>,
    ) {
        if let Some(error) = first_error(payloads) {
            if let Some(old) =
                rekey_of.and_then(|s| self.children.iter_mut().find(|c| c.spi_in == s))
            {
                // Try again later; TEMPORARY_FAILURE means a collision on the peer (§2.25).
                old.rekeying = false;
                old.rekey_at = now + Duration::from_secs(2);
            }
            self.events.push_back(Event::ChildSaRefused { notify: error });
            return;
        }
        let Some(nr) = find_payload!(payloads, Nonce).map(|n| n.data.clone()) else {
            self.events.push_back(Event::ChildSaRefused { notify: NotifyType::INVALID_SYNTAX });
            return;
        };
        if let Err(n) = self.accept_child(now, payloads, spi_in, ni, &nr, kex, rekey_of) {
            self.events.push_back(Event::ChildSaRefused { notify: n });
            return;
        }
        let Some(old) = rekey_of else { return };
        // §2.8.1: if the peer rekeyed the same SA at the same time, the new SA made with the
        // lowest of the four nonces is redundant, and its creator deletes it.
        let ours_lowest = if ni <= nr.as_slice() { ni.to_vec() } else { nr };
        let theirs = self
            .children
            .iter()
            .find(|c| {
                !c.created_by_us
                    && c.spi_in != spi_in
                    && self.collided_with.contains(&(old, c.spi_in))
            })
            .map(|c| (c.spi_in, c.lowest_nonce.clone()));
        match theirs {
            Some((_, their_lowest)) if ours_lowest < their_lowest => {
                // Our new SA is redundant: delete it; the peer deletes the old one.
                self.queue(Command::DeleteChild(spi_in));
            }
            _ => self.queue(Command::DeleteChild(old)),
        }
        self.collided_with.retain(|(o, _)| *o != old);
    }

    fn finish_rekey_ike(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        new_spi_i: u64,
        ni: &[u8],
        kex: Box<dyn ActiveKeyExchange>,
    ) -> Result<(), crate::Error> {
        if let Some(error) = first_error(payloads) {
            self.ike_rekey_at = Some(now + Duration::from_secs(2));
            let _ = error;
            return Ok(());
        }
        let accepted = find_payload!(payloads, Sa)
            .and_then(|sa| proposal::accept_ike(sa, &self.config.ike_proposals));
        let (Some((suite, spi_r)), Some(ke), Some(nonce)) =
            (accepted, find_payload!(payloads, Ke), find_payload!(payloads, Nonce))
        else {
            return Ok(());
        };
        let Ok(spi_r) = <[u8; 8]>::try_from(spi_r.as_slice()).map(u64::from_be_bytes) else {
            return Ok(());
        };
        let Ok(shared) = kex.complete(&ke.data) else { return Ok(()) };
        let nr = nonce.data.clone();
        self.switch_ike(now, suite, &shared, ni, &nr, new_spi_i, spi_r)?;
        // The rekey initiator deletes the old IKE SA (§2.18), sent once with the old keys.
        if let Some(old) = &self.old_sa {
            let mut header = self.header(ExchangeType::INFORMATIONAL, false, self.old_send_mid);
            header.spi_i = old.spi_i;
            header.spi_r = old.spi_r;
            let mut iv = vec![0u8; old.crypto.outbound.iv_len()];
            self.rng.fill_bytes(&mut iv);
            let inner = [Payload::new(PayloadRepr::Delete(DeleteRepr::ike()))];
            let message = sk::seal(&header, &[], &inner, &old.crypto.outbound, &iv)?;
            let framed = self.frame(message);
            self.transmit_all(&[framed]);
        }
        Ok(())
    }

    /// Moves to the new IKE SA after a rekey: new SPIs and keys, message IDs from zero.
    #[allow(clippy::too_many_arguments)]
    fn switch_ike(
        &mut self,
        now: Instant,
        suite: crate::proposal::IkeSuite,
        shared: &SecretBytes,
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<(), crate::Error> {
        let old_crypto = self.crypto.take().ok_or(crate::Error::NotKeyed)?;
        let seed = keys::rekey_skeyseed(
            old_crypto.suite.prf,
            old_crypto.keys.sk_d.expose(),
            shared.expose(),
            ni,
            nr,
        );
        let crypto = IkeCrypto::derive(self.side, suite, &seed, ni, nr, spi_i, spi_r)?;
        let old_spis = (self.spi_i, self.spi_r);
        self.old_send_mid = self.send_mid;
        self.old_sa = Some(OldSa {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            crypto: old_crypto,
            recv_mid: self.recv_mid,
            until: now + OLD_SA_GRACE,
        });
        // §2.18: the new SA's initiator is whoever started the rekey; keep our role name
        // for flags only through `side`, which the rekey may swap.
        self.side = if self.rekey_started_by_us { Side::Initiator } else { Side::Responder };
        self.spi_i = spi_i;
        self.spi_r = spi_r;
        self.crypto = Some(crypto);
        self.ni = ni.to_vec();
        self.nr = nr.to_vec();
        self.send_mid = 0;
        self.recv_mid = 0;
        self.response_cache = None;
        let (rekey, expire) = self.jittered(now, self.config.lifetimes.ike);
        self.ike_rekey_at = Some(rekey);
        self.ike_expire_at = Some(expire);
        self.events.push_back(Event::IkeSaRekeyed { old_spis, new_spis: (spi_i, spi_r) });
        Ok(())
    }

    fn handle_old_sa(&mut self, now: Instant, bytes: &[u8], message: &MessageRepr) {
        let Some(old) = &self.old_sa else { return };
        if message.header.flags.response || message.header.message_id != old.recv_mid {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let Ok(opened) = sk::open(bytes, &old.crypto.inbound) else {
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
        let mut header = self.header(ExchangeType::INFORMATIONAL, true, message.header.message_id);
        header.spi_i = old.spi_i;
        header.spi_r = old.spi_r;
        // Flags describe the old SA's roles, which `side` may no longer match.
        header.flags.initiator = !message.header.flags.initiator;
        let mut iv = vec![0u8; old.crypto.outbound.iv_len()];
        self.rng.fill_bytes(&mut iv);
        let Some(old) = &self.old_sa else { return };
        if let Ok(reply) = sk::seal(&header, &[], &[], &old.crypto.outbound, &iv) {
            let framed = self.frame(reply);
            self.transmit_all(&[framed]);
        }
        self.old_sa = None;
        let _ = now;
    }

    fn handle_request(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        on_nat_t: bool,
        bytes: &[u8],
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        let mid = message.header.message_id;
        if message.header.exchange == ExchangeType::IKE_SA_INIT {
            // A retransmitted IKE_SA_INIT: answer again from the cache (§2.1).
            if let (0, Some((0, cached))) = (mid, &self.response_cache) {
                let cached = cached.clone();
                self.stats.replayed_responses += 1;
                self.transmit_all(&cached);
            } else {
                self.stats.dropped_unexpected += 1;
            }
            return Ok(());
        }
        if mid.wrapping_add(1) == self.recv_mid
            && let Some((cached_mid, cached)) = &self.response_cache
            && *cached_mid == mid
        {
            // Authenticate before answering, so spoofed copies cannot trigger replies.
            let cached = cached.clone();
            if sk::open(bytes, &self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?.inbound).is_ok()
                || message.encrypted_fragment().is_some()
            {
                self.stats.replayed_responses += 1;
                self.transmit_all(&cached);
            }
            return Ok(());
        }
        if mid != self.recv_mid {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        }
        let Ok(Some(payloads)) = self.open(bytes, message) else { return Ok(()) };
        self.last_heard = now;
        if on_nat_t && self.side == Side::Responder {
            // The initiator floated to 4500, possibly through a NAT: answer where it came from.
            self.remote = remote;
            self.local = local;
            self.nat_t = true;
        }
        self.recv_mid = self.recv_mid.wrapping_add(1);
        match (message.header.exchange, &self.state) {
            (ExchangeType::IKE_AUTH, State::InitReplied { .. }) => {
                self.handle_auth_request(now, mid, &payloads)
            }
            (ExchangeType::CREATE_CHILD_SA, State::Established) => {
                self.handle_create_child_request(now, mid, &payloads)
            }
            (ExchangeType::INFORMATIONAL, State::Established) => {
                self.handle_informational_request(mid, &payloads)
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                Ok(())
            }
        }
    }

    fn handle_create_child_request(
        &mut self,
        now: Instant,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let Some(ni) = find_payload!(payloads, Nonce).map(|n| n.data.clone()) else {
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
        let kex = match find_payload!(payloads, Ke) {
            Some(ke) => {
                Some(self.kex_provider.start(ke.group, &mut self.rng).map_err(crate::Error::Kex)?)
            }
            None => None,
        };
        let mut reply = vec![];
        match self.respond_child(now, payloads, &ni, &nr, kex, rekey_of) {
            Ok(child) => {
                reply.extend(child.iter().take(1).cloned());
                reply.push(Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr })));
                reply.extend(child.into_iter().skip(1));
                if let Some(old) = rekey_of {
                    let new_in = self.children.last().map(|c| c.spi_in).expect("just installed");
                    if let Some(c) = self.children.iter().find(|c| c.spi_in == old)
                        && c.rekeying
                    {
                        // We are rekeying the same SA: remember the collision (§2.8.1).
                        self.collided_with.push((old, new_in));
                    }
                }
            }
            Err(n) => reply.push(notify(n, Vec::new())),
        }
        self.send_response(mid, ExchangeType::CREATE_CHILD_SA, &reply)
    }

    fn respond_rekey_ike(
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
        if matches!(self.outstanding.as_ref().map(|o| &o.kind), Some(Request::RekeyIke { .. })) {
            // A simultaneous IKE rekey: let the peer retry after ours (§2.25.2).
            return refuse(self, NotifyType::TEMPORARY_FAILURE);
        }
        let (Some(offer), Some(ke)) = (find_payload!(payloads, Sa), find_payload!(payloads, Ke))
        else {
            return refuse(self, NotifyType::INVALID_SYNTAX);
        };
        let spi_r = self.random_spi64();
        let Some((suite, sa_reply)) = proposal::choose_ike(
            offer,
            &restrict(&self.config.ike_proposals, ke.group),
            &spi_r.to_be_bytes(),
        ) else {
            return refuse(self, NotifyType::NO_PROPOSAL_CHOSEN);
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
        let kex = self.kex_provider.start(ke.group, &mut self.rng).map_err(crate::Error::Kex)?;
        let Ok(shared) = kex.complete(&ke.data) else {
            return refuse(self, NotifyType::INVALID_SYNTAX);
        };
        let reply = [
            Payload::new(PayloadRepr::Sa(sa_reply)),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr.clone() })),
            Payload::new(PayloadRepr::Ke(KeRepr {
                group: ke.group,
                data: kex.public_value().to_vec(),
            })),
        ];
        self.send_response(mid, ExchangeType::CREATE_CHILD_SA, &reply)?;
        self.rekey_started_by_us = false;
        self.switch_ike(now, suite, &shared, ni, &nr, spi_i, spi_r)
    }

    fn handle_informational_request(
        &mut self,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let mut reply = Vec::new();
        let mut close = false;
        for p in payloads {
            let PayloadRepr::Delete(d) = &p.body else { continue };
            if d.protocol == ProtocolId::IKE {
                close = true;
                continue;
            }
            // §1.4.1: answer with the SPIs of our halves of the deleted pairs.
            let mut ours = Vec::new();
            for spi in &d.spis {
                let Ok(their_in) = <[u8; 4]>::try_from(spi.as_slice()).map(u32::from_be_bytes)
                else {
                    continue;
                };
                if let Some(spi_in) =
                    self.children.iter().find(|c| c.spi_out == their_in).map(|c| c.spi_in)
                {
                    self.remove_child(spi_in);
                    ours.push(spi_in);
                }
            }
            if !ours.is_empty() {
                reply.push(Payload::new(PayloadRepr::Delete(DeleteRepr::esp(ours))));
            }
        }
        self.send_response(mid, ExchangeType::INFORMATIONAL, &reply)?;
        if close {
            self.close(CloseReason::DeletedByPeer);
        }
        Ok(())
    }

    // ----- time -----

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if let Some(out) = &mut self.outstanding
            && now >= out.deadline
        {
            if out.attempts >= self.config.retransmit.tries {
                self.close(CloseReason::PeerUnreachable);
                return;
            }
            let wait = self.config.retransmit.timeout(out.attempts);
            out.attempts += 1;
            out.deadline = now + wait;
            let datagrams = out.datagrams.clone();
            self.stats.retransmits += 1;
            self.transmit_all(&datagrams);
        }
        if self.half_open_until.is_some_and(|t| now >= t) {
            self.close(CloseReason::HandshakeTimeout);
            return;
        }
        if self.ike_expire_at.is_some_and(|t| now >= t) {
            self.close(CloseReason::Expired);
            return;
        }
        if self.old_sa.as_ref().is_some_and(|o| now >= o.until) {
            self.old_sa = None;
        }
        if self.next_keepalive.is_some_and(|t| now >= t) {
            // RFC 3948 §2.3: a single 0xFF byte keeps the NAT mapping open.
            self.transmits.push_back((self.local, self.remote, vec![0xff]));
            self.next_keepalive = Some(now + self.config.nat_keepalive);
        }
        if self.is_established() {
            if let Some(i) = self.config.dpd_interval
                && self.outstanding.is_none()
                && now >= self.last_heard + i
            {
                self.queue(Command::Dpd);
                self.last_heard = now;
            }
            if self.ike_rekey_at.is_some_and(|t| now >= t) {
                self.ike_rekey_at = None;
                self.rekey_started_by_us = true;
                self.queue(Command::RekeyIke);
            }
            let expired: Vec<u32> =
                self.children.iter().filter(|c| now >= c.expire_at).map(|c| c.spi_in).collect();
            for spi in expired {
                self.queue(Command::DeleteChild(spi));
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.expire_at = now + Duration::from_secs(3600);
                }
            }
            let due: Vec<u32> = self
                .children
                .iter()
                .filter(|c| !c.rekeying && now >= c.rekey_at)
                .map(|c| c.spi_in)
                .collect();
            for spi in due {
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.rekeying = true;
                }
                self.queued.push_back(Command::RekeyChild(spi));
            }
        }
        let _ = self.start_next(now);
    }

    /// Ends the SA: every child is reported removed, leases are returned, timers stop.
    fn close(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        for c in std::mem::take(&mut self.children) {
            self.events.push_back(Event::ChildSaRemoved { spi_in: c.spi_in, spi_out: c.spi_out });
        }
        if let Some(pool) = &self.pool
            && let Ok(mut pool) = pool.lock()
        {
            for a in self.leases.drain(..) {
                pool.release(a);
            }
        }
        self.state = State::Closed;
        self.outstanding = None;
        self.queued.clear();
        self.old_sa = None;
        self.events.push_back(Event::IkeSaClosed { reason });
    }
}

fn out_exchange(kind: &Request) -> ExchangeType {
    match kind {
        Request::Init => ExchangeType::IKE_SA_INIT,
        Request::Auth => ExchangeType::IKE_AUTH,
        Request::CreateChild { .. } | Request::RekeyIke { .. } => ExchangeType::CREATE_CHILD_SA,
        Request::Dpd | Request::DeleteChildren(_) | Request::DeleteIke => {
            ExchangeType::INFORMATIONAL
        }
    }
}

/// Our proposals limited to one key-exchange group.
fn restrict(
    proposals: &[crate::config::IkeProposal],
    group: DhGroup,
) -> Vec<crate::config::IkeProposal> {
    proposals
        .iter()
        .filter(|p| p.groups.contains(&group))
        .cloned()
        .map(|mut p| {
            p.groups = vec![group];
            p
        })
        .collect()
}

fn prefix_to_mask(len: u8) -> std::net::Ipv4Addr {
    let bits = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
    bits.into()
}

fn config_received(cp: &ConfigRepr) -> ConfigReceived {
    let mut out = ConfigReceived::default();
    for a in &cp.attributes {
        match a.kind {
            ConfigAttributeType::INTERNAL_IP4_ADDRESS => {
                if let Some(v) = a.as_ipv4() {
                    out.addresses.push((v.into(), 32));
                }
            }
            ConfigAttributeType::INTERNAL_IP6_ADDRESS => {
                if let Some((v, len)) = a.as_ipv6_prefix() {
                    out.addresses.push((v.into(), len));
                }
            }
            ConfigAttributeType::INTERNAL_IP4_DNS => {
                if let Some(v) = a.as_ipv4() {
                    out.dns.push(v.into());
                }
            }
            ConfigAttributeType::INTERNAL_IP6_DNS => {
                if let Some(v) = a.as_ipv6() {
                    out.dns.push(v.into());
                }
            }
            ConfigAttributeType::INTERNAL_DNS_DOMAIN => {
                if let Some(v) = a.as_str().filter(|s| !s.is_empty()) {
                    out.dns_domains.push(v.to_owned());
                }
            }
            ConfigAttributeType::INTERNAL_IP4_SUBNET => {
                if let Some((net, mask)) = a.as_ipv4_subnet() {
                    out.subnets.push((net.into(), u32::from(mask).count_ones() as u8));
                }
            }
            ConfigAttributeType::INTERNAL_IP6_SUBNET => {
                if let Some((net, len)) = a.as_ipv6_prefix() {
                    out.subnets.push((net.into(), len));
                }
            }
            _ => {}
        }
    }
    out
}
