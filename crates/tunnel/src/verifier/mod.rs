//! [`RuntimeVerifier`]: the [`PeerVerifier`] the runtime hands to the sans-IO IKE SA. It adds
//! what `ikeway-pki` leaves out on purpose: the wall clock, and CRLs fetched from the
//! certificates' distribution points when revocation checking is on and the CRLs at hand do
//! not give every certificate's status.
//!
//! The fetch runs on the session thread, inside the IKE_AUTH step that received the chain:
//! it blocks that session's handshake for at most [`FETCH_TIMEOUT`] in all, reads at most
//! [`MAX_CRL_BYTES`] per CRL, and only happens for a chain whose path to an anchor already
//! verified (the URLs come from certificates a trusted CA signed). Fetched CRLs are kept until
//! their nextUpdate, so the next handshake asks nobody.

pub(crate) mod fetch;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ikeway_codec::IdRepr;
use ikeway_pki::{
    CertFailure, Certificate, Crl, PeerVerifier, PkiError, PublicKey, Purpose, Revocation,
    UnixTime, Validator,
};

pub use fetch::{FETCH_TIMEOUT, FetchError, MAX_CRL_BYTES, fetch_crl};

/// Distribution points fetched for one verification at most: a chain naming more does not
/// make the handshake wait for each.
const MAX_FETCHES: usize = 4;

/// Fetched CRLs kept at most (the oldest goes first).
const MAX_CACHED: usize = 16;

/// What decides whether a peer's certificate is acceptable, as configured.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    /// Trust anchors.
    pub anchors: Vec<Certificate>,
    /// Whether the peer is a server (we initiate) or a client (we respond).
    pub purpose: Purpose,
    /// CRLs given with the configuration (PEM or DER each).
    pub crls: Vec<Vec<u8>>,
    /// Apple's enableRevocationCheck / strictRevocationCheck.
    pub revocation: Revocation,
    /// Apple's serverCertificateCommonName.
    pub common_name: Option<String>,
    /// Apple's serverCertificateIssuerCommonName.
    pub issuer_common_name: Option<String>,
}

impl TrustSettings {
    /// Anchors only: no CRL, no revocation check, no common-name check.
    pub fn new(anchors: Vec<Certificate>, purpose: Purpose) -> Self {
        Self {
            anchors,
            purpose,
            crls: Vec::new(),
            revocation: Revocation::Off,
            common_name: None,
            issuer_common_name: None,
        }
    }

    fn validator(&self, revocation: Revocation) -> Result<Validator, PkiError> {
        let crls = self.crls.iter().map(|c| Crl::from_pem_or_der(c)).collect::<Result<_, _>>()?;
        Ok(Validator::new(self.anchors.clone(), self.purpose)
            .with_crls(crls)
            .with_revocation(revocation)
            .with_common_names(self.common_name.clone(), self.issuer_common_name.clone()))
    }
}

/// Fetched CRLs by URL, each until its nextUpdate. `crls[i]` came from `from[i]`.
#[derive(Debug, Default)]
struct Cache {
    crls: Vec<Crl>,
    from: Vec<(String, u64)>,
}

impl Cache {
    fn expire(&mut self, now: u64) {
        let mut i = 0;
        while i < self.crls.len() {
            if self.from[i].1 <= now {
                self.crls.remove(i);
                self.from.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn has(&self, url: &str) -> bool {
        self.from.iter().any(|(u, _)| u == url)
    }

    fn insert(&mut self, url: String, crl: Crl, until: u64) {
        if self.crls.len() == MAX_CACHED {
            self.crls.remove(0);
            self.from.remove(0);
        }
        self.crls.push(crl);
        self.from.push((url, until));
    }
}

/// A [`Validator`] at the wall clock's time, fetching CRLs when revocation checking needs them.
#[derive(Debug)]
pub struct RuntimeVerifier {
    validator: Validator,
    /// The same rules with strict revocation, when revocation is checked: its
    /// `RevocationUnknown` says that the CRLs at hand leave a certificate's status open.
    probe: Option<Validator>,
    timeout: Duration,
    max_bytes: u64,
    cache: Mutex<Cache>,
    errors: Mutex<Vec<FetchError>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_seconds(t: UnixTime) -> u64 {
    t.as_secs()
}

impl RuntimeVerifier {
    /// A verifier for `settings`; fails when a configured CRL does not parse.
    pub fn new(settings: &TrustSettings) -> Result<Self, PkiError> {
        let probe = match settings.revocation {
            Revocation::Off => None,
            Revocation::BestEffort | Revocation::Strict => {
                Some(settings.validator(Revocation::Strict)?)
            }
        };
        Ok(Self {
            validator: settings.validator(settings.revocation)?,
            probe,
            timeout: FETCH_TIMEOUT,
            max_bytes: MAX_CRL_BYTES,
            cache: Mutex::default(),
            errors: Mutex::default(),
        })
    }

    /// Other bounds for the CRL fetches than [`FETCH_TIMEOUT`] and [`MAX_CRL_BYTES`].
    pub fn with_fetch_limits(mut self, timeout: Duration, max_bytes: u64) -> Self {
        self.timeout = timeout;
        self.max_bytes = max_bytes;
        self
    }

    /// Why the fetches of the last verification that fetched failed (empty if none did).
    pub fn last_fetch_errors(&self) -> Vec<FetchError> {
        lock(&self.errors).clone()
    }

    /// Validates `chain` for `peer_id` at `now`, fetching CRLs if revocation checking needs
    /// them.
    pub fn verify_at(
        &self,
        chain: &[Certificate],
        peer_id: &IdRepr,
        now: UnixTime,
    ) -> Result<PublicKey, CertFailure> {
        let Some(probe) = &self.probe else {
            return self.validator.verify(chain, peer_id, now, &[]);
        };
        let urls = {
            let mut cache = lock(&self.cache);
            cache.expire(unix_seconds(now));
            if probe.verify(chain, peer_id, now, &cache.crls) != Err(CertFailure::RevocationUnknown)
            {
                return self.validator.verify(chain, peer_id, now, &cache.crls);
            }
            let mut urls: Vec<String> = Vec::new();
            for url in chain.iter().flat_map(Certificate::crl_urls) {
                if !cache.has(&url) && !urls.contains(&url) && urls.len() < MAX_FETCHES {
                    urls.push(url);
                }
            }
            urls
        };
        // Fetched without the lock: another session's verification need not wait for it.
        let fetched = self.fetch_all(&urls);
        let mut cache = lock(&self.cache);
        let mut once = Vec::new();
        for (url, crl) in fetched {
            let until = unix_seconds(crl.next_update());
            if until > unix_seconds(now) {
                cache.insert(url, crl, until);
            } else {
                // Already past its nextUpdate: good for this verification only.
                once.push(crl);
            }
        }
        // The single-use ones join the cached ones for this verification, then go.
        let cached = cache.crls.len();
        let mut all = std::mem::take(&mut cache.crls);
        all.extend(once);
        let result = self.validator.verify(chain, peer_id, now, &all);
        all.truncate(cached);
        cache.crls = all;
        result
    }

    /// Fetches each URL within what is left of one [`FETCH_TIMEOUT`]; a CRL that does not
    /// parse counts as not fetched.
    fn fetch_all(&self, urls: &[String]) -> Vec<(String, Crl)> {
        let deadline = Instant::now() + self.timeout;
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for url in urls {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                errors.push(FetchError::Timeout(url.clone()));
                continue;
            }
            match fetch_crl(url, left, self.max_bytes) {
                Ok(bytes) => match Crl::from_pem_or_der(&bytes) {
                    Ok(crl) => out.push((url.clone(), crl)),
                    Err(e) => {
                        errors.push(FetchError::Failed { url: url.clone(), message: e.to_string() })
                    }
                },
                Err(e) => errors.push(e),
            }
        }
        *lock(&self.errors) = errors;
        out
    }
}

impl PeerVerifier for RuntimeVerifier {
    fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.validator.ca_key_hashes()
    }

    fn verify(&self, chain: &[Certificate], peer_id: &IdRepr) -> Result<PublicKey, CertFailure> {
        // A clock before 1970 is a broken clock: every certificate is then not valid yet.
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.verify_at(chain, peer_id, UnixTime::since_unix_epoch(since_epoch))
    }
}
