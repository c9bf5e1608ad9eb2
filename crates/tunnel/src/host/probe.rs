//! On Demand's probe URLs (`probeURL`, `URLStringProbe`, `RequiredURLStringProbe`): a plain
//! HTTP/1.1 GET within a short time; it succeeds when the answer is status 200 with the body
//! `OK` (surrounding whitespace aside), without a redirect being followed.
//!
//! The server is whoever the network routes the URL to (a captive portal, an attacker on the
//! café's Wi-Fi), so its answer is bounded: headers by the HTTP client's own limit, the body
//! to [`MAX_PROBE_BODY`] bytes, everything to the timeout. `https://` is not supported (no
//! TLS stack in this path, and a probe through one would need certificate validation): such
//! a probe fails, saying why, rather than being fetched over plain HTTP.
//!
//! ```no_run
//! use std::time::Duration;
//! let inside = ikeway_tunnel::host::probe::http_probe("http://10.0.0.1/probe", Duration::from_secs(3));
//! ```

use std::time::Duration;

use crate::verifier::fetch::{is_plain_http, plain_http_agent};

/// How long a probe may take when the caller has no opinion.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest body read: `OK` and some whitespace fit many times over.
pub const MAX_PROBE_BODY: u64 = 1024;

/// Why a probe did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// Not an `http://` URL (`https://` included: not supported here).
    #[error("{0}: only http:// probe URLs are supported")]
    Unsupported(String),
    /// A status other than 200 (a redirect included).
    #[error("HTTP status {0}")]
    Status(u16),
    /// Status 200 with another body than `OK`.
    #[error("the body is not OK")]
    Body,
    /// The body is longer than [`MAX_PROBE_BODY`].
    #[error("the body is larger than {MAX_PROBE_BODY} bytes")]
    TooLarge,
    /// No complete answer in time.
    #[error("no answer in time")]
    Timeout,
    /// Anything else (no route, refused, a broken answer).
    #[error("{0}")]
    Failed(String),
}

/// Fetches `url` and says whether it succeeded, and why not.
pub fn probe(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    if !is_plain_http(url) {
        return Err(ProbeError::Unsupported(url.to_owned()));
    }
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => ProbeError::Timeout,
        ureq::Error::BodyExceedsLimit(_) => ProbeError::TooLarge,
        other => ProbeError::Failed(other.to_string()),
    };
    let mut response = plain_http_agent(timeout).get(url).call().map_err(failed)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(ProbeError::Status(status));
    }
    let body =
        response.body_mut().with_config().limit(MAX_PROBE_BODY).read_to_vec().map_err(failed)?;
    if body.trim_ascii() == b"OK" { Ok(()) } else { Err(ProbeError::Body) }
}

/// [`probe`] as the rule evaluator takes it: success or not.
pub fn http_probe(url: &str, timeout: Duration) -> bool {
    probe(url, timeout).is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    use super::*;

    /// A one-connection HTTP server on loopback answering `answer` (raw bytes) after reading
    /// the request's head; returns the URL to fetch.
    fn serve(answer: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = listener.accept() {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let _ = c.write_all(&answer);
            }
        });
        format!("http://127.0.0.1:{port}/probe")
    }

    fn answer(status: &str, body: &[u8]) -> Vec<u8> {
        let mut a = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        a.extend_from_slice(body);
        a
    }

    const T: Duration = Duration::from_secs(3);

    #[test]
    fn succeeds_on_200_with_ok() {
        assert_eq!(probe(&serve(answer("200 OK", b"OK")), T), Ok(()));
        assert_eq!(probe(&serve(answer("200 OK", b"OK\n")), T), Ok(()));
        assert!(http_probe(&serve(answer("200 OK", b"OK")), T));
    }

    #[test]
    fn other_statuses_and_bodies_fail() {
        assert_eq!(probe(&serve(answer("404 Not Found", b"OK")), T), Err(ProbeError::Status(404)));
        let redirect =
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(probe(&serve(redirect.to_vec()), T), Err(ProbeError::Status(302)));
        assert_eq!(probe(&serve(answer("200 OK", b"not ok")), T), Err(ProbeError::Body));
        assert_eq!(probe(&serve(answer("200 OK", b"")), T), Err(ProbeError::Body));
        assert!(!http_probe(&serve(answer("200 OK", b"ok")), T));
    }

    #[test]
    fn a_huge_body_is_not_read() {
        let body = vec![b'O'; 10 * 1024 * 1024];
        assert_eq!(probe(&serve(answer("200 OK", &body)), T), Err(ProbeError::TooLarge));
    }

    #[test]
    fn a_silent_server_times_out_in_time() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let started = Instant::now();
        assert_eq!(probe(&url, Duration::from_millis(300)), Err(ProbeError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        drop(listener);
    }

    #[test]
    fn https_and_other_schemes_are_unsupported_not_fetched() {
        for url in ["https://probe.example/", "ftp://x/", "probe.example", ""] {
            assert_eq!(probe(url, T), Err(ProbeError::Unsupported(url.to_owned())), "{url}");
        }
    }

    #[test]
    fn nobody_listening_fails() {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("a").port();
        assert!(matches!(
            probe(&format!("http://127.0.0.1:{port}/"), T),
            Err(ProbeError::Failed(_))
        ));
    }
}
