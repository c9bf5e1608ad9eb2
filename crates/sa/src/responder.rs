//! The responder endpoint: many IKE SAs behind one address, demultiplexed by SPI, with the
//! half-open state bounded and cookies demanded under load (RFC 7296 §2.6).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ikeway_codec::{ExchangeType, MessageRepr, PayloadRepr};
use ikeway_crypto::Prf;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::Transmit;
use crate::config::{AddressPool, Config};
use crate::event::Event;
use crate::ike_sa::{IkeSa, InitReply, ike_bytes};
use crate::pool::AddressAllocator;
use crate::provider::KeyExchangeProvider;

/// What the endpoint dropped before any IKE SA saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub received: u64,
    pub dropped_malformed: u64,
    /// A message for an IKE SA we do not have.
    pub dropped_unknown_spi: u64,
    /// IKE_SA_INIT requests dropped because the half-open limit was reached.
    pub dropped_half_open_limit: u64,
    pub cookies_demanded: u64,
    pub stateless_replies: u64,
}

/// The key of the cookie MAC (RFC 7296 §2.6): whoever learns it can forge cookies, so it is
/// wiped on drop and never printed.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct CookieSecret([u8; 32]);

impl std::fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieSecret(redacted)")
    }
}

/// A responder serving many initiators. Drive it like an [`IkeSa`]; events come tagged with
/// the responder SPI of the IKE SA they concern.
#[derive(Debug)]
pub struct Responder {
    config: Arc<Config>,
    kex: Arc<dyn KeyExchangeProvider>,
    pool: Option<Arc<Mutex<AddressAllocator>>>,
    rng: ChaCha20Rng,
    cookie_secret: CookieSecret,
    sas: BTreeMap<u64, IkeSa>,
    /// Responder SPIs of rekeyed IKE SAs, still answering their DELETE, to their new SPI.
    aliases: HashMap<u64, u64>,
    /// (SPIi, initiator address) of half-open SAs, to answer retransmitted IKE_SA_INIT.
    by_initiator: HashMap<(u64, SocketAddr), u64>,
    stateless: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    stats: EndpointStats,
}

impl Responder {
    pub fn new(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        pool: Option<AddressPool>,
        seed: [u8; 32],
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut cookie_secret = CookieSecret([0u8; 32]);
        rng.fill_bytes(&mut cookie_secret.0);
        Self {
            config,
            kex,
            pool: pool.map(|p| Arc::new(Mutex::new(AddressAllocator::new(p)))),
            rng,
            cookie_secret,
            sas: BTreeMap::new(),
            aliases: HashMap::new(),
            by_initiator: HashMap::new(),
            stateless: VecDeque::new(),
            stats: EndpointStats::default(),
        }
    }

    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Number of IKE SAs held, half-open ones included.
    pub fn len(&self) -> usize {
        self.sas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    pub fn half_open(&self) -> usize {
        self.sas.values().filter(|s| s.is_half_open()).count()
    }

    /// The IKE SA with this responder SPI, to give it commands.
    pub fn sa_mut(&mut self, spi_r: u64) -> Option<&mut IkeSa> {
        let key = self.aliases.get(&spi_r).copied().unwrap_or(spi_r);
        self.sas.get_mut(&key)
    }

    pub fn sas(&self) -> impl Iterator<Item = &IkeSa> {
        self.sas.values()
    }

    /// `Cookie = <version> | HMAC-SHA256(secret, Ni | IPi | SPIi)`, RFC 7296 §2.6.
    fn cookie(&self, ni: &[u8], remote: SocketAddr, spi_i: u64) -> Vec<u8> {
        let ip = match remote.ip() {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        let mac = Prf::HmacSha256.compute(&self.cookie_secret.0, &[ni, &ip, &spi_i.to_be_bytes()]);
        let mut cookie = vec![0u8];
        cookie.extend_from_slice(&mac.expose()[..16]);
        cookie
    }

    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.stats.received += 1;
        let Some(bytes) = ike_bytes(local, remote, datagram) else {
            return; // ESP or keepalive: the datapath's business
        };
        // Only the fixed header is needed to route; the SA parses the rest.
        let Ok(header) = ikeway_codec::HeaderRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if header.spi_r == 0
            && header.exchange == ExchangeType::IKE_SA_INIT
            && !header.flags.response
        {
            self.handle_init(now, remote, local, bytes, header.spi_i, datagram);
            return;
        }
        let key = self.aliases.get(&header.spi_r).copied().unwrap_or(header.spi_r);
        match self.sas.get_mut(&key) {
            Some(sa) => {
                sa.handle_datagram(now, remote, local, datagram);
                self.reindex(key);
            }
            None => self.stats.dropped_unknown_spi += 1,
        }
    }

    fn handle_init(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        spi_i: u64,
        datagram: &[u8],
    ) {
        if let Some(key) = self.by_initiator.get(&(spi_i, remote)).copied()
            && let Some(sa) = self.sas.get_mut(&key)
        {
            sa.handle_datagram(now, remote, local, datagram);
            return;
        }
        let Ok(message) = MessageRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let half_open = self.half_open();
        if half_open >= self.config.half_open_limit {
            self.stats.dropped_half_open_limit += 1;
            return;
        }
        let cookie = (half_open >= self.config.cookie_threshold).then(|| {
            let ni = message
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadRepr::Nonce(n) => Some(n.data.as_slice()),
                    _ => None,
                })
                .unwrap_or_default();
            self.cookie(ni, remote, spi_i)
        });
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let reply = IkeSa::respond_init(
            Arc::clone(&self.config),
            Arc::clone(&self.kex),
            self.pool.clone(),
            seed,
            now,
            local,
            remote,
            bytes,
            &message,
            cookie,
        );
        match reply {
            Ok(InitReply::Accepted(sa)) => {
                let key = sa.spis().1;
                self.by_initiator.insert((spi_i, remote), key);
                self.sas.insert(key, *sa);
            }
            Ok(InitReply::Stateless(reply)) => {
                if reply.len() > 28 && self.config.cookie_threshold <= half_open {
                    self.stats.cookies_demanded += 1;
                }
                self.stats.stateless_replies += 1;
                self.stateless.push_back((local, remote, reply));
            }
            Err(_) => self.stats.dropped_malformed += 1,
        }
    }

    /// Keeps the SPI index right after an IKE SA was rekeyed.
    fn reindex(&mut self, key: u64) {
        let Some(sa) = self.sas.get(&key) else { return };
        let current = sa.spis().1;
        if current != key
            && let Some(sa) = self.sas.remove(&key)
        {
            self.aliases.insert(key, current);
            self.sas.insert(current, sa);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for sa in self.sas.values_mut() {
            if sa.poll_timeout().is_some_and(|t| t <= now) {
                sa.handle_timeout(now);
            }
        }
        let keys: Vec<u64> = self.sas.keys().copied().collect();
        for k in keys {
            self.reindex(k);
        }
        let live: std::collections::HashSet<u64> = self.sas.keys().copied().collect();
        self.aliases.retain(|old, new| {
            live.contains(new) && self.sas[new].old_spis().is_some_and(|(_, r)| r == *old)
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sas.values().filter_map(IkeSa::poll_timeout).min()
    }

    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        if let Some((local, remote, bytes)) = self.stateless.front() {
            if bytes.len() > buf.len() {
                return Some(Err(bytes.len()));
            }
            let t = Transmit { local: *local, remote: *remote, len: bytes.len() };
            buf[..bytes.len()].copy_from_slice(bytes);
            self.stateless.pop_front();
            return Some(Ok(t));
        }
        self.sas.values_mut().find_map(|sa| sa.poll_transmit(buf))
    }

    /// The next event of any IKE SA, with that SA's responder SPI. Closed SAs are dropped
    /// once everything they had to say was taken.
    pub fn poll_event(&mut self) -> Option<(u64, Event)> {
        let found = self.sas.iter_mut().find_map(|(k, sa)| sa.poll_event().map(|e| (*k, e)));
        if found.is_none() {
            let dead: Vec<u64> = self
                .sas
                .iter()
                .filter(|(_, sa)| sa.is_closed() && !sa.has_output())
                .map(|(k, _)| *k)
                .collect();
            for k in dead {
                self.sas.remove(&k);
                self.by_initiator.retain(|_, v| *v != k);
                self.aliases.retain(|_, v| *v != k);
            }
        }
        found
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use crate::DefaultKex;

    /// Issue 9 finding 14: the responder's `Debug` printed its cookie secret (the derived impl
    /// showed the 32 bytes), so a debug log line was enough to forge cookies.
    #[test]
    fn debug_does_not_print_the_cookie_secret() {
        let config = Config::new(
            ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn("responder.example")),
            ikeway_crypto::SecretBytes::from_slice(b"a pre-shared key"),
        );
        let r = Responder::new(Arc::new(config), Arc::new(DefaultKex::default()), None, [7; 32]);
        let secret = r.cookie_secret.0;
        assert_ne!(secret, [0; 32], "the secret was drawn from the seeded generator");
        let shown = format!("{r:?}");
        assert!(shown.contains("CookieSecret(redacted)"), "{shown}");
        let decimal = format!("{secret:?}");
        let decimal_inner = &decimal[1..decimal.len() - 1];
        let hex_lower: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        for needle in [decimal_inner, &hex_lower, &hex_lower.to_uppercase()] {
            assert!(!shown.contains(needle), "Debug shows the secret as {needle}");
        }
    }
}
