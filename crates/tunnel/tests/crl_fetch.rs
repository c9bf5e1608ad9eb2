//! The runtime verifier's CRL fetching, against a tiny HTTP server this test starts on
//! loopback: a CRL that clears or revokes the certificate, a 404, a server that never
//! answers, a body over the size limit; each with best-effort and strict revocation checking.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ikeway_codec::{IdRepr, IdValue};
use ikeway_pki::{CertFailure, Certificate, PeerVerifier, Purpose, Revocation};
use ikeway_tunnel::verifier::{FetchError, RuntimeVerifier, TrustSettings};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    IsCa, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber, date_time_ymd,
};

const SERIAL: u64 = 0x1d;

/// What the test server answers to every request.
#[derive(Clone)]
enum Answer {
    Crl(Vec<u8>),
    NotFound,
    /// Reads the request and never answers.
    Silent,
    Body(usize),
}

/// A loopback listener and the URL of the CRL it will serve.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ca.crl", listener.local_addr().unwrap());
    (listener, url)
}

/// Serves `answer` on `listener` from a thread; returns the count of requests it got.
fn serve_on(listener: TcpListener, answer: Answer) -> Arc<AtomicUsize> {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (answer, counted) = (answer.clone(), Arc::clone(&counted));
            // One thread per request: a silent answer must not hold up the next request.
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let reply = |status: &str, body: &[u8]| {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                };
                let bytes = match &answer {
                    Answer::Crl(der) => reply("200 OK", der),
                    Answer::NotFound => reply("404 Not Found", b"no such CRL"),
                    Answer::Body(n) => reply("200 OK", &vec![0x30; *n]),
                    Answer::Silent => {
                        std::thread::sleep(Duration::from_secs(5));
                        return;
                    }
                };
                let _ = stream.write_all(&bytes);
            });
        }
    });
    hits
}

/// A CA, and a server certificate for vpn.example.com naming `url` as its CRL distribution
/// point.
struct Pki {
    ca: Certificate,
    server: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

fn pki(url: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["vpn.example.com".to_owned()]).unwrap();
    server.serial_number = Some(SerialNumber::from(SERIAL));
    server.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![url.to_owned()] }];
    let server = server.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
    Pki {
        ca: Certificate::from_der(ca_cert.der().to_vec()).unwrap(),
        server: Certificate::from_der(server.der().to_vec()).unwrap(),
        issuer,
    }
}

/// A CRL of the CA, valid from 2026 to 2030, listing `revoked` serials.
fn crl(issuer: &Issuer<'static, KeyPair>, revoked: &[u64]) -> Vec<u8> {
    crl_until(issuer, revoked, 2030)
}

/// A CRL of the CA whose nextUpdate is at the start of `year`.
fn crl_until(issuer: &Issuer<'static, KeyPair>, revoked: &[u64], year: i32) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: date_time_ymd(2020, 1, 1),
        next_update: date_time_ymd(year, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: date_time_ymd(2026, 1, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)
    .unwrap()
    .der()
    .to_vec()
}

fn verifier(p: &Pki, revocation: Revocation) -> RuntimeVerifier {
    let mut settings = TrustSettings::new(vec![p.ca.clone()], Purpose::Server);
    settings.revocation = revocation;
    RuntimeVerifier::new(&settings).unwrap()
}

fn id() -> IdRepr {
    IdRepr::from_value(IdValue::Fqdn("vpn.example.com"))
}

fn verify(v: &RuntimeVerifier, p: &Pki) -> Result<(), CertFailure> {
    v.verify(std::slice::from_ref(&p.server), &id()).map(|_| ())
}

/// A PKI whose server certificate names the test server, which serves the CA's CRL listing
/// `revoked`: the URL must be in the certificate before the CRL is signed, so the listener is
/// bound first.
fn lazily_served(revoked: &[u64]) -> (String, Arc<AtomicUsize>, Pki) {
    let (listener, url) = listen();
    let p = pki(&url);
    let hits = serve_on(listener, Answer::Crl(crl(&p.issuer, revoked)));
    (url, hits, p)
}

#[test]
fn a_fetched_crl_that_does_not_list_the_certificate_passes_and_is_cached() {
    let (url, hits, p) = lazily_served(&[]);
    for revocation in [Revocation::BestEffort, Revocation::Strict] {
        let v = verifier(&p, revocation);
        assert_eq!(verify(&v, &p), Ok(()), "{revocation:?}");
        assert_eq!(v.last_fetch_errors(), [], "{revocation:?}");
        // Until its nextUpdate (2030) the CRL is not asked for again.
        assert_eq!(verify(&v, &p), Ok(()), "{revocation:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one fetch per verifier from {url}");
}

#[test]
fn a_fetched_crl_that_lists_the_certificate_revokes_it() {
    let (_, hits, p) = lazily_served(&[SERIAL]);
    for revocation in [Revocation::BestEffort, Revocation::Strict] {
        assert_eq!(verify(&verifier(&p, revocation), &p), Err(CertFailure::Revoked));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// A CRL already past its nextUpdate still proves what it lists (best effort) but is not
/// kept: the next verification asks again.
#[test]
fn a_stale_fetched_crl_is_used_once_and_not_cached() {
    let (listener, url) = listen();
    let p = pki(&url);
    let hits = serve_on(listener, Answer::Crl(crl_until(&p.issuer, &[SERIAL], 2021)));
    let v = verifier(&p, Revocation::BestEffort);
    assert_eq!(verify(&v, &p), Err(CertFailure::Revoked));
    assert_eq!(verify(&v, &p), Err(CertFailure::Revoked));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn revocation_off_fetches_nothing() {
    let (_, hits, p) = lazily_served(&[SERIAL]);
    assert_eq!(verify(&verifier(&p, Revocation::Off), &p), Ok(()));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[test]
fn a_configured_crl_that_covers_the_chain_needs_no_fetch() {
    let (_, hits, p) = lazily_served(&[SERIAL]);
    let mut settings = TrustSettings::new(vec![p.ca.clone()], Purpose::Server);
    settings.revocation = Revocation::Strict;
    settings.crls = vec![crl(&p.issuer, &[])];
    let v = RuntimeVerifier::new(&settings).unwrap();
    assert_eq!(verify(&v, &p), Ok(()));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

/// Each failed fetch: best effort passes, strict fails with RevocationUnknown, and the
/// verifier says why the fetch failed.
fn unknown_status(answer: Answer, limits: (Duration, u64), expected: impl Fn(&str) -> FetchError) {
    let (listener, url) = listen();
    let hits = serve_on(listener, answer);
    let p = pki(&url);
    for (revocation, outcome) in [
        (Revocation::BestEffort, Ok(())),
        (Revocation::Strict, Err(CertFailure::RevocationUnknown)),
    ] {
        let v = verifier(&p, revocation).with_fetch_limits(limits.0, limits.1);
        let started = Instant::now();
        assert_eq!(verify(&v, &p), outcome, "{revocation:?}");
        assert!(started.elapsed() < limits.0 + Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(v.last_fetch_errors(), [expected(&url)], "{revocation:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn a_404_leaves_the_status_unknown() {
    unknown_status(Answer::NotFound, (Duration::from_secs(3), 1 << 20), |url| FetchError::Status {
        url: url.to_owned(),
        status: 404,
    });
}

#[test]
fn a_server_that_never_answers_is_given_up_on_at_the_timeout() {
    unknown_status(Answer::Silent, (Duration::from_millis(300), 1 << 20), |url| {
        FetchError::Timeout(url.to_owned())
    });
}

#[test]
fn a_body_over_the_size_limit_is_not_read() {
    unknown_status(Answer::Body(4096), (Duration::from_secs(3), 1024), |url| {
        FetchError::TooLarge { url: url.to_owned(), max: 1024 }
    });
}

#[test]
fn only_http_is_fetched() {
    assert_eq!(
        ikeway_tunnel::verifier::fetch_crl("ldap://ldap.example.com/cn=CA", Duration::ZERO, 1),
        Err(FetchError::NotHttp("ldap://ldap.example.com/cn=CA".to_owned()))
    );
}
