//! Responder cookies (RFC 7296 §2.6): stateless proof that an initiator receives at the
//! address it claims, from a secret that is replaced every period. Cookies made with the
//! previous secret stay valid for one more period, so a rotation never fails an initiator
//! that is just returning its cookie.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ikeway_crypto::Prf;
use rand_core::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The version byte plus 16 bytes of HMAC-SHA-256.
const COOKIE_LEN: usize = 17;

/// What a presented cookie proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Valid,
    /// None presented: ask for one.
    Missing,
    /// Presented but made by neither the current nor the previous secret (or for another
    /// initiator): ask for a fresh one.
    Invalid,
}

struct Secret {
    version: u8,
    key: Zeroizing<[u8; 32]>,
}

/// The current and previous cookie secrets, wiped on drop and never printed.
pub(crate) struct CookieSecrets {
    current: Secret,
    previous: Option<Secret>,
    /// When `current` took over; set by the first call to [`CookieSecrets::rotate`].
    since: Option<Instant>,
    period: Duration,
}

/// Whoever learns a key can forge cookies: it is shown redacted.
impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieSecret(redacted)")
    }
}

impl core::fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieSecrets")
            .field("version", &self.current.version)
            .field("current", &self.current)
            .field("previous", &self.previous)
            .field("since", &self.since)
            .field("period", &self.period)
            .finish()
    }
}

fn fresh(rng: &mut impl RngCore, version: u8) -> Secret {
    let mut key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(key.as_mut());
    Secret { version, key }
}

impl CookieSecrets {
    pub(crate) fn new(rng: &mut impl RngCore, period: Duration) -> Self {
        Self { current: fresh(rng, 0), previous: None, since: None, period }
    }

    /// Replaces the secret once its period is over; the one it replaces stays acceptable
    /// until the next replacement.
    pub(crate) fn rotate(&mut self, now: Instant, rng: &mut impl RngCore) {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) < self.period {
            return;
        }
        let next = fresh(rng, self.current.version.wrapping_add(1));
        self.previous = Some(std::mem::replace(&mut self.current, next));
        self.since = Some(now);
    }

    #[cfg(test)]
    pub(crate) fn current_key(&self) -> [u8; 32] {
        *self.current.key
    }

    /// `Cookie = <VersionIDofSecret> | HMAC-SHA256(Secret, Ni | IPi | SPIi)[..16]` (§2.6).
    pub(crate) fn make(&self, ni: &[u8], initiator: SocketAddr, spi_i: u64) -> Vec<u8> {
        mac(&self.current, ni, initiator.ip(), spi_i)
    }

    pub(crate) fn check(
        &self,
        presented: Option<&[u8]>,
        ni: &[u8],
        initiator: SocketAddr,
        spi_i: u64,
    ) -> Verdict {
        let Some(presented) = presented else { return Verdict::Missing };
        let Some(&version) = presented.first() else { return Verdict::Invalid };
        let secret = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.version == version);
        let Some(secret) = secret else { return Verdict::Invalid };
        let expected = mac(secret, ni, initiator.ip(), spi_i);
        if presented.len() == expected.len() && bool::from(presented.ct_eq(&expected)) {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

fn mac(secret: &Secret, ni: &[u8], ip: IpAddr, spi_i: u64) -> Vec<u8> {
    let ip = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let mac = Prf::HmacSha256.compute(secret.key.as_ref(), &[ni, &ip, &spi_i.to_be_bytes()]);
    let mut cookie = Vec::with_capacity(COOKIE_LEN);
    cookie.push(secret.version);
    cookie.extend_from_slice(&mac.expose()[..COOKIE_LEN - 1]);
    cookie
}
