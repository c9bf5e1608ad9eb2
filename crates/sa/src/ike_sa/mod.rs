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
use ikeway_codec::smallvec::SmallVec;
use ikeway_codec::{
    ConfigAttribute, ConfigAttributeType, ConfigRepr, ConfigType, DeleteRepr, DhGroup,
    ExchangeType, Flags, HeaderRepr, IdRepr, KeRepr, MessageRepr, NonceRepr, NotifyRepr,
    NotifyType, Payload, PayloadRepr, PayloadType, ProtocolId, Selectors, TsRepr, chain_to_vec,
    first_type,
};
use ikeway_crypto::SecretBytes;
use ikeway_crypto::keys::{self, ChildKeys};
use rand_core::RngCore;

use crate::Side;
use crate::config::Config;
use crate::event::{ChildSaInfo, CloseReason, ConfigReceived, Event, Stats};
use crate::keys::IkeCrypto;
use crate::nat;
use crate::proposal::{self, EspSuite};
use crate::provider::{ActiveKeyExchange, KeyExchangeProvider};
use crate::registry::{Owner, Registry};
use crate::sa_rng::SaRng;
use crate::ts;

/// Nonce length we send: the PRF output size of SHA-512 covers every PRF we offer
/// (RFC 7296 §2.10: at least half the PRF key size, at least 128 bits).
const NONCE_LEN: usize = 32;
/// Nonce Data is 16 to 256 octets (RFC 7296 §3.9); anything else is INVALID_SYNTAX.
const NONCE_RANGE: std::ops::RangeInclusive<usize> = 16..=256;
/// How long a responder keeps a half-open SA waiting for IKE_AUTH.
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long our last response is kept for a retransmission of its request (RFC 7296 §2.1)
/// when no newer request comes first. Retransmissions stop when their sender gives up:
/// after 63 s with our default schedule, 60 s with libreswan's, about 165 s with charon's
/// (5 retransmits from 4 s, factor 1.8); a request repeated later than this finds no answer
/// and is dropped, as its sender has given up on it. Under the DPD interval (10 minutes by
/// default), so an idle established SA holds no copy of its IKE_AUTH response.
const RESPONSE_KEPT: Duration = Duration::from_secs(180);
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
        /// Shared with the outstanding request: given back whole once that is answered.
        request: Datagram,
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
        /// Shared with the response cache, which answers a retransmitted request with it.
        init_response: Datagram,
    },
    /// Initiator: EAP (RFC 7296 §2.16) or a first of two rounds (RFC 4739) under way.
    EapClient(Box<eap::Client>),
    /// Responder: the initiator runs EAP; still half-open.
    EapServer(Box<eap::Server>),
    /// Initiator: additional key exchanges under way (RFC 9370), IKE_AUTH after them.
    Intermediate {
        ni: Vec<u8>,
        nr: Vec<u8>,
        init_request: Vec<u8>,
    },
    Established,
    Closed,
}

/// A request of ours waiting for its response (the window is one message, §2.3).
#[derive(Debug)]
struct Outstanding {
    message_id: u32,
    datagrams: Datagrams,
    attempts: u32,
    kind: Request,
}

#[derive(Debug)]
enum Request {
    Init,
    Auth,
    /// An IKE_INTERMEDIATE with one additional key exchange (RFC 9370 §2.2.2).
    Intermediate {
        kex: Box<dyn ActiveKeyExchange>,
    },
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
    /// One additional key exchange of a CREATE_CHILD_SA of ours (RFC 9370 §2.2.4).
    FollowupKe {
        chain: Box<followup_ke::Chain>,
        kex: Box<dyn ActiveKeyExchange>,
    },
    Dpd,
    DeleteChildren(Vec<u32>),
    DeleteIke,
    /// MOBIKE: UPDATE_SA_ADDRESSES for `path`, with our COOKIE2.
    UpdateAddresses {
        cookie2: Vec<u8>,
        path: mobike::Path,
    },
    /// MOBIKE: a return routability check (RFC 4555 §3.7).
    CheckPath {
        cookie2: Vec<u8>,
        path: mobike::Path,
    },
    /// MOBIKE: our additional addresses announced (§3.6).
    AnnounceAddresses,
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
    /// Responder: send the client elsewhere (RFC 5685 §5).
    Redirect,
    UpdatePath,
    CheckPath,
    AnnounceAddresses,
}

#[derive(Debug)]
struct Child {
    spi_in: u32,
    spi_out: u32,
    rekey_at: Instant,
    expire_at: Instant,
    /// Set once a rekey of this child started, so it is not started twice.
    rekeying: bool,
    /// The nonces of the exchange that created it, for the collision rule (§2.8.1): inline
    /// for ours and any nonce up to 32 bytes.
    lowest_nonce: SmallVec<[u8; 32]>,
    created_by_us: bool,
    /// Its selectors, proposed again when we rekey it (§2.8: the new SA carries the same).
    local_ts: crate::ts::Narrowed,
    remote_ts: crate::ts::Narrowed,
}

/// The keys of the IKE SA before the last IKE rekey, kept briefly to answer its DELETE.
#[derive(Debug)]
struct OldSa {
    spi_i: u64,
    spi_r: u64,
    /// Our role on the old SA, for the flags of its DELETE.
    side: Side,
    crypto: Box<IkeCrypto>,
    recv_mid: u32,
    /// Our answer to the old SA's last request, which made the new SA: a retransmission of
    /// that request (its answer lost) is answered from here, or its sender would give up.
    last_response: Option<(u32, Datagrams)>,
}

/// One IKE SA, initiator or responder. See the module documentation for the driving loop.
#[derive(Debug)]
pub struct IkeSa {
    side: Side,
    config: Arc<Config>,
    kex_provider: Arc<dyn KeyExchangeProvider>,
    /// Shared with the other SAs of a responder: leases, slots, SPIs in use, remote selectors.
    registry: Option<Arc<Mutex<Registry>>>,
    /// This SA's name in the registry, and its slot (`crate::registry::slot_of`).
    owner: Owner,
    /// Our IKE SPIs in use (current, the old SA's, one for a rekey under way), kept apart.
    /// These three are inline (as small as a Vec) for what an SA holds at once: no
    /// allocation for them in a handshake.
    reserved_ike_spis: SmallVec<[u64; 2]>,
    /// What this SA holds in the registry, released on close or drop at the latest.
    reserved_child_spis: SmallVec<[u32; 4]>,
    /// Every random choice of this SA, from the seed it was made with (48 bytes, not 320).
    rng: SaRng,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    /// IKE and ESP go over port 4500 with the non-ESP marker (RFC 3948).
    nat_t: bool,
    local_behind_nat: bool,
    /// The peer is behind a NAT (RFC 7296 §2.23): a responder follows its mapping.
    remote_behind_nat: bool,
    mobility: mobike::Mobility,
    peer_fragmentation: bool,
    state: State,
    /// Boxed (see `IkeCrypto::derive`).
    crypto: Option<Box<IkeCrypto>>,
    send_mid: u32,
    recv_mid: u32,
    outstanding: Option<Outstanding>,
    response_cache: Option<(u32, Datagrams)>,
    queued: VecDeque<Command>,
    children: Vec<Child>,
    transmits: VecDeque<Queued>,
    events: VecDeque<Event>,
    reassembler: Reassembler,
    last_heard: Instant,
    timers: TimerTable,
    /// Boxed: present only for a moment after an IKE rekey, and 360 bytes.
    old_sa: Option<Box<OldSa>>,
    /// One per address family at most (`config_reply`).
    leases: SmallVec<[std::net::IpAddr; 2]>,
    /// The responder's IKE_SA_INIT response, which the responder's AUTH signs.
    init_response: Option<Vec<u8>>,
    /// The hashes the peer announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4); `None` if
    /// it sent none, and we sign with our key's classic method.
    peer_hashes: Option<crate::auth::AnnouncedHashes>,
    /// The responder announced MULTIPLE_AUTH_SUPPORTED (RFC 4739).
    peer_multiple_auth: bool,
    /// Child rekeys that collided with ours: (old inbound SPI, the peer's new inbound SPI).
    collided_with: Vec<(u32, u32)>,
    /// Next message ID on the IKE SA replaced by a rekey, for its DELETE.
    old_send_mid: u32,
    rekey_started_by_us: bool,
    /// RFC 8784: whether USE_PPK was agreed and the PPK mixed into the keys.
    ppk: ppk::PpkState,
    /// Additional key exchanges (RFC 9370) of the handshake, while they run and until IKE_AUTH.
    intermediate: Option<Box<intermediate::Intermediate>>,
    /// Responder: a CREATE_CHILD_SA whose IKE_FOLLOWUP_KE exchanges are under way (RFC 9370).
    followup: Option<Box<followup_ke::Awaiting>>,
    /// Set once by `close`; the state may be `Closed` earlier, while a handler holds it.
    closed: bool,
    redirect: redirect::RedirectState,
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
// Returned once per request and moved into the responder's slab at once: boxing the SA cost
// an allocation (and a copy) of 1.4 KB per handshake.
#[allow(clippy::large_enum_variant)]
pub(crate) enum InitReply {
    /// A new half-open SA.
    Accepted(IkeSa),
    /// A stateless answer (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN) to send back.
    Stateless(Vec<u8>),
}

fn notify(kind: NotifyType, data: impl Into<ikeway_codec::NotifyData>) -> Payload {
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

// After the macro, so the submodules can use it.
mod child;
#[cfg(test)]
mod cross_client_tests;
mod eap;
mod followup_ke;
mod handshake;
pub(crate) use handshake::{stateless_reply, stateless_reply_into};
mod intermediate;
pub use intermediate::AddKeFailure;
mod mobike;
#[cfg(test)]
mod own_auth_tests;
mod ppk;
pub use ppk::{Ppk, PpkConfig};
mod receive;
mod redirect;
pub(crate) use redirect::decide as redirect_decision;
pub use redirect::{RedirectPhase, RedirectPolicy};
mod rekey_ike;
#[cfg(test)]
mod size_tests;
mod timer;

use timer::{Timer, TimerTable};

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
            registry: None,
            owner: 0,
            reserved_ike_spis: SmallVec::new(),
            reserved_child_spis: SmallVec::new(),
            // Hot until established: the handshake draws a dozen times (see `SaRng`).
            rng: SaRng::hot(seed),
            spi_i: 0,
            spi_r: 0,
            local,
            remote,
            nat_t: local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT,
            local_behind_nat: false,
            remote_behind_nat: false,
            mobility: mobike::Mobility::default(),
            peer_fragmentation: false,
            state: State::Closed,
            crypto: None,
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
            timers: TimerTable::default(),
            old_sa: None,
            leases: SmallVec::new(),
            init_response: None,
            peer_hashes: None,
            peer_multiple_auth: false,
            collided_with: Vec::new(),
            old_send_mid: 0,
            rekey_started_by_us: false,
            ppk: ppk::PpkState::Off,
            intermediate: None,
            followup: None,
            closed: false,
            redirect: redirect::RedirectState::default(),
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

    /// Our own SPI of this IKE SA: the one we chose, which a responder files it under (the
    /// peer chooses the other, so it must never be the key: issue 9 finding 7).
    pub fn local_spi(&self) -> u64 {
        match self.side {
            Side::Initiator => self.spi_i,
            Side::Responder => self.spi_r,
        }
    }

    /// How events and [`crate::Engine::sa_mut`] name this SA: [`IkeSa::local_spi`].
    pub fn id(&self) -> crate::SaId {
        crate::SaId::from_spi(self.local_spi())
    }

    /// Our own SPI of the IKE SA replaced by the last rekey, while it is still kept.
    pub fn old_local_spi(&self) -> Option<u64> {
        self.old_sa.as_deref().map(OldSa::local_spi)
    }

    /// The SPIs of the previous IKE SA while it is still kept after a rekey.
    pub fn old_spis(&self) -> Option<(u64, u64)> {
        self.old_sa.as_ref().map(|o| (o.spi_i, o.spi_r))
    }

    /// Whether the SA is still being set up (IKE_SA_INIT to the last IKE_AUTH).
    fn negotiating(&self) -> bool {
        matches!(
            self.state,
            State::InitSent { .. }
                | State::AuthSent { .. }
                | State::InitReplied { .. }
                | State::EapClient(_)
                | State::EapServer(_)
                | State::Intermediate { .. }
        )
    }

    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Half-open: a responder that answered IKE_SA_INIT and whose initiator is not
    /// authenticated yet (IKE_AUTH awaited, or EAP under way or just failed).
    pub fn is_half_open(&self) -> bool {
        matches!(self.state, State::InitReplied { .. } | State::EapServer(_))
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

    /// Bytes of decrypted fragments held in incomplete reassemblies.
    pub fn reassembly_bytes(&self) -> usize {
        self.reassembler.held_bytes()
    }

    /// Bytes of peer input this SA holds while half-open: the stored IKE_SA_INIT request and
    /// response, while EAP runs the first IKE_AUTH request's SA/TS/CP payloads, the cached
    /// response and the fragments being reassembled. What a responder
    /// bounds per half-open SA and in total.
    pub fn held_bytes(&self) -> usize {
        let init = match &self.state {
            State::InitReplied { init_request, init_response, .. } => {
                init_request.len() + init_response.len()
            }
            State::EapServer(s) => s.held_bytes(),
            _ => 0,
        };
        let cache =
            self.response_cache.as_ref().map_or(0, |(_, d)| d.iter().map(|d| d.len()).sum());
        init + cache + self.reassembler.held_bytes()
    }

    /// Whether datagrams or events are waiting to be polled.
    pub fn has_output(&self) -> bool {
        self.has_transmit() || self.has_event()
    }

    pub(crate) fn has_transmit(&self) -> bool {
        !self.transmits.is_empty()
    }

    pub(crate) fn has_event(&self) -> bool {
        !self.events.is_empty()
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
        let queued = self.transmits.front()?;
        let marker: &[u8] = if queued.marker { &NON_ESP_MARKER } else { &[] };
        let len = marker.len() + queued.bytes.len();
        if len > buf.len() {
            return Some(Err(len));
        }
        let t = crate::Transmit { local: queued.local, remote: queued.remote, len };
        buf[..marker.len()].copy_from_slice(marker);
        buf[marker.len()..len].copy_from_slice(&queued.bytes);
        self.transmits.pop_front();
        release_if_empty(&mut self.transmits);
        self.stats.sent += 1;
        Some(Ok(t))
    }

    /// The next event, named by this SA's [`IkeSa::id`] at the time it is taken (after an IKE
    /// rekey, the new SPI), as a [`crate::Responder`] names it.
    pub fn poll_event(&mut self) -> Option<crate::EngineEvent> {
        let event = self.events.pop_front()?;
        release_if_empty(&mut self.events);
        Some(crate::EngineEvent { sa: self.id(), event })
    }

    /// Takes the next event without the SA's name: what a responder that already knows which
    /// SA it asked needs.
    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        release_if_empty(&mut self.events);
        event
    }

    /// When [`IkeSa::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let child_timers = self.children.iter().flat_map(|c| {
            let rekey = (!c.rekeying).then_some(c.rekey_at);
            rekey.into_iter().chain([c.expire_at])
        });
        [self.timers.next(), self.dpd_deadline(), self.reassembler.deadline()]
            .into_iter()
            .flatten()
            .chain(child_timers)
            .min()
    }

    /// When an idle established SA checks that the peer is alive (§1.4.1): the interval
    /// after the last message heard, while no request of ours is waiting for an answer
    /// (which is a liveness check of its own).
    fn dpd_deadline(&self) -> Option<Instant> {
        match (self.config.dpd_interval, &self.state) {
            (Some(i), State::Established) if self.outstanding.is_none() => {
                Some(self.last_heard + i)
            }
            _ => None,
        }
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
        self.settle_rng();
    }

    /// Ends a burst of draws: an SA that is not negotiating gives up the generator its draws
    /// rebuilt (see `SaRng`). Called where a datagram, a command or a timer has been handled.
    fn settle_rng(&mut self) {
        if !self.negotiating() {
            self.rng.settle();
        }
    }

    fn queue(&mut self, command: Command) {
        if !self.queued.contains(&command) {
            self.queued.push_back(command);
        }
    }

    // ----- randomness -----

    /// A new IKE SPI of ours. A responder's SA draws it with its slot in the low bits (the
    /// responder finds the SA by it, `crate::registry::SLOT_BITS`), so it differs from every
    /// other SA's; it is kept apart from this SA's own SPIs still in use here.
    fn random_spi64(&mut self) -> u64 {
        let owner = self.owner;
        loop {
            let v = self.rng.next_u64();
            let v = self.with_registry(|r| r.ike_spi(owner, v)).unwrap_or(v);
            if v != 0 && !self.reserved_ike_spis.contains(&v) {
                if self.registry.is_some() {
                    self.reserved_ike_spis.push(v);
                }
                return v;
            }
        }
    }

    /// A new inbound ESP SPI, never reserved by IANA and unique among every child of every SA
    /// of a responder (the datapath finds the SA by this SPI alone).
    fn random_spi32(&mut self) -> u32 {
        loop {
            let v = self.rng.next_u32();
            let v = self.with_registry(|r| r.worker().stamp_esp(v)).unwrap_or(v);
            if v >= proposal::MIN_ESP_SPI && self.reserve_child_spi(v) {
                return v;
            }
        }
    }

    // ----- the responder's registry -----

    fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> Option<R> {
        let registry = self.registry.as_ref()?;
        let mut guard = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(f(&mut guard))
    }

    fn reserve_child_spi(&mut self, spi: u32) -> bool {
        match self.with_registry(|r| r.reserve_child_spi(spi)) {
            Some(true) => {
                self.reserved_child_spis.push(spi);
                true
            }
            Some(false) => false,
            None => true,
        }
    }

    fn release_ike_spi(&mut self, spi: u64) {
        if let Some(i) = self.reserved_ike_spis.iter().position(|s| *s == spi) {
            self.reserved_ike_spis.swap_remove(i);
        }
    }

    /// Releases an inbound child SPI and the remote selectors claimed with it (one call: the
    /// registry keeps them together).
    fn release_child_spi(&mut self, spi: u32) {
        if let Some(i) = self.reserved_child_spis.iter().position(|s| *s == spi) {
            self.reserved_child_spis.swap_remove(i);
            self.with_registry(|r| r.release_child_spi(spi));
        }
    }

    /// Gives back everything this SA holds in the registry but its slot (the responder still
    /// files the SA under it until it drops the SA): child SPIs, selectors, leases.
    fn release_all(&mut self) {
        self.reserved_ike_spis = SmallVec::new();
        let children = std::mem::take(&mut self.reserved_child_spis);
        let leases = std::mem::take(&mut self.leases);
        self.with_registry(|r| {
            for spi in children {
                r.release_child_spi(spi);
            }
            if let Some(pool) = r.pool() {
                for a in leases {
                    pool.release(a);
                }
            }
        });
    }

    /// Drops the IKE SA a rekey replaced, and its SPI with it.
    fn forget_old_sa(&mut self) {
        self.timers.stop(Timer::OldSa);
        if let Some(old) = self.old_sa.take() {
            self.release_ike_spi(old.local_spi());
        }
    }

    fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.rng.fill_bytes(&mut v);
        v
    }

    /// 1 to 3 seconds, at random: how long to wait before retrying a refused rekey.
    fn retry_delay(&mut self) -> Duration {
        Duration::from_millis(1000 + self.rng.next_u64() % 2000)
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

    /// Seals `inner` into one message, or into fragments when it is too large and the peer
    /// supports RFC 7383. Returns the messages, framed for their path when sent.
    fn seal(&mut self, header: &HeaderRepr, inner: &[Payload]) -> Result<Datagrams, crate::Error> {
        let outbound = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?.outbound()?;
        let iv = random_iv(&mut self.rng, outbound.iv_len());
        let whole = sk::seal(header, &[], inner, &outbound, &iv)?;
        let limit = self.config.max_message_len;
        let messages = if whole.len() > limit && self.peer_fragmentation {
            let rng = &mut self.rng;
            let fragments =
                sk::seal_fragments(header, inner, &outbound, limit, &mut |iv| rng.fill_bytes(iv))?;
            fragments.into_iter().map(Arc::new).collect()
        } else {
            Datagrams::from_buf([Arc::new(whole)])
        };
        Ok(messages)
    }

    fn transmit_all(&mut self, datagrams: &[Datagram]) {
        let (local, remote) = self.send_path();
        for d in datagrams {
            self.transmits.push_back(Queued::message(local, remote, d));
        }
    }

    fn send_request(&mut self, now: Instant, kind: Request, datagrams: Datagrams) {
        let message_id = self.send_mid;
        self.send_mid = self.send_mid.wrapping_add(1);
        self.transmit_all(&datagrams);
        self.timers.set(Timer::Retransmit, now + self.config.retransmit.timeout(0));
        self.outstanding = Some(Outstanding { message_id, datagrams, attempts: 1, kind });
    }

    /// Ends the wait for our request's answer, and its retransmissions with it.
    fn take_outstanding(&mut self) -> Option<Outstanding> {
        self.timers.stop(Timer::Retransmit);
        self.outstanding.take()
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
        self.send_response_to(None, message_id, exchange, inner)
    }

    /// A response to `to`, or to where we send everything else.
    fn send_response_to(
        &mut self,
        to: Option<mobike::Path>,
        message_id: u32,
        exchange: ExchangeType,
        inner: &[Payload],
    ) -> Result<(), crate::Error> {
        let header = self.header(exchange, true, message_id);
        let datagrams = self.seal(&header, inner)?;
        match to {
            Some((local, remote)) => {
                for d in &datagrams {
                    self.transmits.push_back(Queued::message(local, remote, d));
                }
            }
            None => self.transmit_all(&datagrams),
        }
        self.response_cache = Some((message_id, datagrams));
        // A response answers the request just heard.
        self.timers.set(Timer::ResponseCache, self.last_heard + RESPONSE_KEPT);
        Ok(())
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
                Command::Redirect => self.start_redirect(now)?,
                Command::Dpd => {
                    self.send_encrypted_request(
                        now,
                        ExchangeType::INFORMATIONAL,
                        &[],
                        Request::Dpd,
                    )?;
                }
                Command::UpdatePath => self.start_update(now)?,
                Command::CheckPath => self.start_check(now)?,
                Command::AnnounceAddresses => self.start_announce(now)?,
            }
        }
        Ok(())
    }

    // ----- time -----

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
        self.settle_rng();
    }

    fn run_timers(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        // Queued before a rekey due at the same instant; a close below clears the queue.
        if self.dpd_deadline().is_some_and(|t| now >= t) {
            self.queue(Command::Dpd);
            self.last_heard = now;
        }
        for timer in self.timers.expired(now) {
            match timer {
                Timer::Retransmit => {
                    let Some(out) = &mut self.outstanding else {
                        self.timers.stop(Timer::Retransmit);
                        continue;
                    };
                    if out.attempts >= self.config.retransmit.tries {
                        self.close(CloseReason::PeerUnreachable);
                        return;
                    }
                    let wait = self.config.retransmit.timeout(out.attempts);
                    out.attempts += 1;
                    let datagrams = out.datagrams.clone();
                    self.timers.set(Timer::Retransmit, now + wait);
                    self.stats.retransmits += 1;
                    self.transmit_all(&datagrams);
                }
                Timer::HalfOpen => {
                    let reason = match &self.state {
                        State::EapServer(s) => s.timeout_reason(),
                        _ => CloseReason::HandshakeTimeout,
                    };
                    self.close(reason);
                    return;
                }
                Timer::IkeExpire => {
                    self.close(CloseReason::Expired);
                    return;
                }
                Timer::OldSa => self.forget_old_sa(),
                Timer::Followup => self.followup_expired(),
                Timer::ResponseCache => {
                    self.timers.stop(Timer::ResponseCache);
                    self.response_cache = None;
                }
                Timer::Keepalive => {
                    // RFC 3948 §2.3: a single 0xFF byte keeps the NAT mapping open.
                    let (local, remote) = self.send_path();
                    let bytes = Arc::new(vec![0xff]);
                    self.transmits.push_back(Queued { local, remote, marker: false, bytes });
                    self.timers.set(Timer::Keepalive, now + self.config.nat_keepalive);
                }
                // Not before the SA is up; the timer stays due until it is.
                Timer::IkeRekey if self.is_established() => {
                    self.timers.stop(Timer::IkeRekey);
                    self.rekey_started_by_us = true;
                    self.queue(Command::RekeyIke);
                }
                Timer::IkeRekey => {}
            }
        }
        self.stats.reassemblies_expired += self.reassembler.expire(now) as u64;
        if self.is_established() {
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
        self.release_all();
        self.state = State::Closed;
        self.outstanding = None;
        self.timers.stop_all();
        self.queued.clear();
        self.old_sa = None;
        self.followup = None;
        self.events.push_back(Event::IkeSaClosed { reason });
    }
}

impl OldSa {
    fn local_spi(&self) -> u64 {
        match self.side {
            Side::Initiator => self.spi_i,
            Side::Responder => self.spi_r,
        }
    }
}

impl Drop for IkeSa {
    /// An SA the responder drops without closing (a failed IKE_SA_INIT) still gives back
    /// what it reserved; every SA gives back its slot here, once nothing files it under it.
    fn drop(&mut self) {
        self.release_all();
        let owner = self.owner;
        self.with_registry(|r| r.free_slot(owner));
    }
}

/// Frees a drained queue's buffer. The output queues fill in bursts (an exchange) minutes
/// apart, and a kept buffer of four slots cost 352 bytes (datagrams) and 384 (events) per SA.
fn release_if_empty<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() {
        *queue = VecDeque::new();
    }
}

/// A fresh IV of `len` octets, on the stack: the ciphers' IVs are 8 or 16 octets (AES-CBC).
fn random_iv(rng: &mut SaRng, len: usize) -> ikeway_codec::smallvec::SmallVec<[u8; 16]> {
    let mut iv = ikeway_codec::smallvec::SmallVec::from_elem(0, len);
    rng.fill_bytes(&mut iv);
    iv
}

/// One IKE message as sealed (or emitted, for IKE_SA_INIT), shared by the transmit queue and
/// what keeps it for a retransmission (the outstanding request, the response cache, the
/// IKE_SA_INIT state): queuing it copies nothing.
type Datagram = Arc<Vec<u8>>;

/// A message's datagrams: the message, or its fragments (RFC 7383).
type Datagrams = ikeway_codec::smallvec::SmallVec<[Datagram; 1]>;

/// A datagram waiting in `poll_transmit`'s queue.
#[derive(Debug)]
struct Queued {
    local: SocketAddr,
    remote: SocketAddr,
    /// The non-ESP marker goes first (RFC 3948 §2.2).
    marker: bool,
    bytes: Datagram,
}

impl Queued {
    /// An IKE message as it goes on `local` -> `remote`: after the non-ESP marker on port
    /// 4500. Framed when sent rather than when sealed, since a request in flight may be resent
    /// on another path (RFC 4555 §3.5), from port 500 then 4500.
    fn message(local: SocketAddr, remote: SocketAddr, bytes: &Datagram) -> Self {
        Self { local, remote, marker: on_nat_t_port(local, remote), bytes: Arc::clone(bytes) }
    }
}

fn on_nat_t_port(local: SocketAddr, remote: SocketAddr) -> bool {
    local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT
}

/// The IKE message in a UDP payload: as is on port 500; on port 4500 only after the non-ESP
/// marker, anything else there being ESP or a keepalive (RFC 3948 §2).
pub(crate) fn ike_bytes(local: SocketAddr, remote: SocketAddr, datagram: &[u8]) -> Option<&[u8]> {
    if on_nat_t_port(local, remote) {
        datagram.strip_prefix(&NON_ESP_MARKER)
    } else {
        Some(datagram)
    }
}

fn out_exchange(kind: &Request) -> ExchangeType {
    match kind {
        Request::Init => ExchangeType::IKE_SA_INIT,
        Request::Auth => ExchangeType::IKE_AUTH,
        Request::Intermediate { .. } => ExchangeType::IKE_INTERMEDIATE,
        Request::CreateChild { .. } | Request::RekeyIke { .. } => ExchangeType::CREATE_CHILD_SA,
        Request::FollowupKe { .. } => ExchangeType::IKE_FOLLOWUP_KE,
        Request::Dpd
        | Request::DeleteChildren(_)
        | Request::DeleteIke
        | Request::UpdateAddresses { .. }
        | Request::CheckPath { .. }
        | Request::AnnounceAddresses => ExchangeType::INFORMATIONAL,
    }
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
