//! Fetching a CRL from a certificate's distribution point (RFC 5280 §4.2.1.13) over plain
//! HTTP, bounded in time and size: the handshake waits for it, and the server at the other
//! end is whoever the URL names.

use std::time::Duration;

/// The longest a handshake waits for all its CRL fetches together.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest CRL read: a bigger body is refused, not read further.
pub const MAX_CRL_BYTES: u64 = 1 << 20;

/// Whether `url` is `http://` (any case).
pub(crate) fn is_plain_http(url: &str) -> bool {
    url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

/// The one way this crate speaks HTTP: within `timeout` for connecting, sending and reading
/// together, no proxy, no redirect followed (a redirect comes back as its own status, which
/// the caller checks), no TLS.
pub(crate) fn plain_http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into()
}

/// Why a CRL could not be fetched. Each leaves the status unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Only `http://` is fetched: a CRL is signed, so TLS adds nothing, and an `https`
    /// distribution point would need a second certificate validation inside this one.
    #[error("{0}: only http:// distribution points are fetched")]
    NotHttp(String),
    /// The server answered with a status other than 200.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// Where.
        url: String,
        /// What it answered.
        status: u16,
    },
    /// The body is larger than [`MAX_CRL_BYTES`] (or the limit given).
    #[error("{url}: the CRL is larger than {max} bytes")]
    TooLarge {
        /// Where.
        url: String,
        /// The limit.
        max: u64,
    },
    /// The time given ran out.
    #[error("{0}: no answer in time")]
    Timeout(String),
    /// Anything else (no route, refused, a broken answer).
    #[error("{url}: {message}")]
    Failed {
        /// Where.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Fetches `url` (which must be `http://`) within `timeout` (connecting, sending and reading
/// together), reading at most `max` bytes. No redirect is followed and no proxy is used: the
/// distribution point is asked directly, as the certificate names it.
pub fn fetch_crl(url: &str, timeout: Duration, max: u64) -> Result<Vec<u8>, FetchError> {
    if !is_plain_http(url) {
        return Err(FetchError::NotHttp(url.to_owned()));
    }
    let agent = plain_http_agent(timeout);
    let failed = |e: ureq::Error| match e {
        ureq::Error::StatusCode(status) => FetchError::Status { url: url.to_owned(), status },
        ureq::Error::Timeout(_) => FetchError::Timeout(url.to_owned()),
        ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge { url: url.to_owned(), max },
        other => FetchError::Failed { url: url.to_owned(), message: other.to_string() },
    };
    let mut response = agent.get(url).call().map_err(failed)?;
    // A redirect comes back as itself, since none may be followed.
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status { url: url.to_owned(), status });
    }
    response.body_mut().with_config().limit(max).read_to_vec().map_err(failed)
}
