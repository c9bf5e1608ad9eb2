//! A [`Session`] driving an IKEv1 initiator (`Role::Ikev1Initiator`) over loopback UDP on
//! ephemeral ports, against the IKEv1 engine's own responder endpoint on a plain socket (no
//! root, no TUN): the session's event stream reports the ISAKMP SA as it reports an IKEv2 one,
//! and a wrong group secret ends the session with the engine's close reason.

// Only `until` and the constants are used here.
#[allow(dead_code)]
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{HANG, LOOPBACK, until};
use ikeway_crypto::SecretBytes;
use ikeway_ikev1::transaction::{ModeConfigClient, ModeConfigServer, XauthCredentials};
use ikeway_ikev1::{CloseReason, Config, DefaultKex, Event, Identity, Ikev1Responder};
use ikeway_sa::{AddressAllocator, AddressPool};
use ikeway_tunnel::{EventKind, Ports, Session, SessionOptions, Spi64, Status};

const GROUP: &[u8] = b"ikeway-group";
const SECRET: &[u8] = b"ikeway group secret 42";

/// Our responder endpoint on a loopback socket, answering until `stop` is set.
struct Gateway {
    addr: SocketAddr,
    /// ESP SAs the gateway installed so far.
    installed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gateway {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// The gateway with `more` configured (XAUTH, mode config).
    fn start_with(more: impl FnOnce(&mut Config)) -> Self {
        Self::start_lossy(more, |_| true)
    }

    /// As [`Gateway::start_with`], taking only the datagrams from the client that `keep`
    /// lets through (a lossy path into the gateway).
    fn start_lossy(
        more: impl FnOnce(&mut Config),
        mut keep: impl FnMut(&[u8]) -> bool + Send + 'static,
    ) -> Self {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = socket.local_addr().unwrap();
        let mut config = Config::psk(
            Identity::Ipv4("127.0.0.1".parse().unwrap()),
            SecretBytes::from_slice(SECRET),
        );
        config.remote_id = Some(Identity::KeyId(GROUP.to_vec()));
        more(&mut config);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let installed = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&installed);
        let thread = std::thread::spawn(move || {
            let mut endpoint =
                Ikev1Responder::new(Arc::new(config), Arc::new(DefaultKex::default()), [7; 32]);
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf)
                    && keep(&buf[..n])
                {
                    endpoint.handle_datagram(Instant::now(), from, addr, &buf[..n]);
                }
                endpoint.handle_timeout(Instant::now());
                while let Some(Ok(t)) = endpoint.poll_transmit(&mut buf) {
                    let _ = socket.send_to(&buf[..t.len], t.remote);
                }
                while let Some(e) = endpoint.poll_event() {
                    if matches!(e.event, Event::Ike(ikeway_sa::Event::ChildSaInstalled(_))) {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Self { addr, installed, stop, thread: Some(thread) }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const USER: &str = "alice";
const PASSWORD: &[u8] = b"alice's password";
const BANNER: &str = "Authorised use only.\nAll access is logged.";

/// Apple's IPSec client: aggressive mode with the group name, XAUTH, mode config pulled.
fn xauth_client() -> Config {
    let mut c = Config::psk(Identity::KeyId(GROUP.to_vec()), SecretBytes::from_slice(SECRET));
    c.xauth = true;
    c.cisco_unity = true;
    c.transaction.xauth_client = Some(XauthCredentials {
        username: USER.into(),
        password: Some(SecretBytes::from_slice(PASSWORD)),
    });
    c.transaction.mode_config = Some(ModeConfigClient::Pull);
    c
}

/// The gateway side of [`xauth_client`]: its user, a pool, a banner.
fn xauth_gateway(c: &mut Config) {
    c.xauth = true;
    c.cisco_unity = true;
    c.transaction.xauth_users = vec![(USER.into(), SecretBytes::from_slice(PASSWORD))];
    let pool = AddressPool { v4: Some(("10.9.0.10".parse().unwrap(), 4)), ..Default::default() };
    c.transaction.mode_config_server = Some(ModeConfigServer {
        pool: Arc::new(AddressAllocator::new(pool)),
        banner: Some(BANNER.into()),
        split_dns: Vec::new(),
        push: false,
        extra: Vec::new(),
    });
}

fn client(secret: &[u8], gateway: SocketAddr) -> Session {
    let config = Config::psk(Identity::KeyId(GROUP.to_vec()), SecretBytes::from_slice(secret));
    let options =
        SessionOptions::ikev1_initiator(LOOPBACK, gateway, config).with_ports(Ports::ephemeral());
    Session::start(options).expect("the session starts")
}

#[test]
fn a_session_brings_up_an_ikev1_isakmp_sa_and_reports_it_as_ike_sa_up() {
    let gateway = Gateway::start();
    let session = client(SECRET, gateway.addr);
    let seen = until(session.events(), |e| matches!(e, EventKind::IkeSaUp { .. }));
    assert_eq!(seen[0], EventKind::Status { status: Status::Connecting });
    let Some(EventKind::IkeSaUp { spi_i, spi_r, encryption, .. }) = seen.last() else {
        unreachable!()
    };
    // The cookies stand for the SPIs; ours (the initiator's) is never zero, nor is the
    // responder's once it answered.
    assert_ne!(*spi_i, Spi64(0));
    assert_ne!(*spi_r, Spi64(0));
    // Apple's first suite: AES-256-CBC.
    assert_eq!(encryption, "ENCR_AES_CBC-256");
    session.handle().shutdown().unwrap();
}

#[test]
fn a_wrong_group_secret_ends_the_ikev1_session_as_authentication_failed() {
    let gateway = Gateway::start();
    let session = client(b"not the group secret", gateway.addr);
    let seen = until(session.events(), |e| matches!(e, EventKind::IkeSaClosed { .. }));
    assert!(!seen.iter().any(|e| matches!(e, EventKind::IkeSaUp { .. })), "{seen:#?}");
    let Some(EventKind::IkeSaClosed { reason }) = seen.last() else { unreachable!() };
    assert_eq!(*reason, CloseReason::AuthenticationFailed, "{seen:#?}");
    let end = until(session.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(!end.is_empty());
    // The session's thread ends on its own once the SA is closed.
    let waited = Instant::now();
    session.wait().expect("the session ends without an error");
    assert!(waited.elapsed() < HANG);
}

/// The ISAKMP SA's SPIs (cookies) of an `IkeSaUp`.
fn cookies(e: &EventKind) -> Option<(Spi64, Spi64)> {
    match e {
        EventKind::IkeSaUp { spi_i, spi_r, .. } => Some((*spi_i, *spi_r)),
        _ => None,
    }
}

/// RFC 2409 has no rekey of an ISAKMP SA: the session negotiates a successor beside it, hands
/// the ESP SAs over and deletes the old one, and the connection never leaves `Connected`.
#[test]
fn renewing_the_isakmp_sa_hands_the_esp_sas_to_a_new_one_and_the_session_stays_up() {
    let gateway = Gateway::start_with(xauth_gateway);
    let options = SessionOptions::ikev1_initiator(LOOPBACK, gateway.addr, xauth_client())
        .with_ports(Ports::ephemeral());
    let session = Session::start(options).expect("the session starts");
    let up = until(session.events(), |e| matches!(e, EventKind::ChildSaInstalled { .. }));
    // Cisco Unity's banner reaches the session's events.
    assert!(
        up.contains(&EventKind::Banner { text: BANNER.into() }),
        "the banner of mode config: {up:#?}"
    );
    let first = up.iter().find_map(cookies).expect("IkeSaUp before the ESP SA");
    let Some(EventKind::ChildSaInstalled { spi_in, .. }) = up.last() else { unreachable!() };
    let esp = *spi_in;
    until(session.events(), |e| *e == EventKind::Status { status: Status::Connected });

    session.handle().act(ikeway_tunnel::Action::RekeyIke).unwrap();
    let renewal = until(session.events(), |e| matches!(e, EventKind::IkeSaRekeyed { .. }));
    let second = renewal.iter().find_map(cookies).expect("the successor's IkeSaUp");
    assert_ne!(second.0, first.0, "{renewal:#?}");
    assert_ne!(second.1, Spi64(0), "{renewal:#?}");
    assert_eq!(
        renewal.last(),
        Some(&EventKind::IkeSaRekeyed { old: [first.0, first.1], new: [second.0, second.1] })
    );
    // Nothing else changed: no status, no ESP SA removed or made, no close (the new SA's
    // phase 1 reports its NAT detection again).
    for e in &renewal {
        assert!(
            matches!(
                e,
                EventKind::IkeSaUp { .. }
                    | EventKind::IkeSaRekeyed { .. }
                    | EventKind::NatDetected { .. }
            ),
            "{renewal:#?}"
        );
    }
    // The ESP SA now belongs to the new ISAKMP SA: deleting it goes through that one.
    session.handle().act(ikeway_tunnel::Action::DeleteChild(None)).unwrap();
    let removed = until(session.events(), |e| matches!(e, EventKind::ChildSaRemoved { .. }));
    let Some(EventKind::ChildSaRemoved { spi_in, .. }) = removed.last() else { unreachable!() };
    assert_eq!(*spi_in, esp);
    assert!(!removed.iter().any(|e| matches!(e, EventKind::IkeSaClosed { .. })), "{removed:#?}");
    session.handle().disconnect(Duration::from_secs(2)).unwrap();
    let end = until(session.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(
        end.contains(&EventKind::IkeSaClosed { reason: CloseReason::Deleted }),
        "the successor is the SA the disconnect deletes: {end:#?}"
    );
    session.wait().expect("the session ends without an error");
}

/// An XAUTH gateway asking a client that has no password: the session ends naming what is
/// missing, rather than waiting for an answer nobody can give.
#[test]
fn an_xauth_prompt_without_a_password_ends_the_session_naming_what_is_missing() {
    let gateway = Gateway::start_with(xauth_gateway);
    let mut config = xauth_client();
    if let Some(x) = config.transaction.xauth_client.as_mut() {
        x.password = None;
    }
    let options = SessionOptions::ikev1_initiator(LOOPBACK, gateway.addr, config)
        .with_ports(Ports::ephemeral());
    let session = Session::start(options).expect("the session starts");
    let seen = until(session.events(), |e| matches!(e, EventKind::Error { .. }));
    assert_eq!(
        seen.last(),
        Some(&EventKind::Error {
            error: "the server asks for the XAUTH password of \"alice\" and none was given to \
                    start (store one, or give it with the start: --password-file, \
                    startVPNTunnel(options:))"
                .into()
        }),
        "{seen:#?}"
    );
    let err = session.wait().expect_err("the session ends on the error");
    assert!(matches!(err, ikeway_tunnel::SessionError::XauthPasswordMissing { .. }), "{err}");
}

/// RFC 2409 has no acknowledgement of quick mode message 3: the client installs its ESP SA
/// (and the session says connected) on message 2, the gateway only on message 3. When that
/// is lost the gateway sends message 2 again, and the client answers it with message 3 again
/// (what strongSwan and libreswan as responders rely on), so the gateway installs too.
#[test]
fn a_lost_quick_mode_message_3_is_sent_again_when_the_gateway_repeats_message_2() {
    const QUICK: u8 = 32;
    let mut quick_from_client = 0;
    let gateway = Gateway::start_lossy(xauth_gateway, move |d| {
        // The ISAKMP header's exchange type (no NAT-T here: no non-ESP marker); the
        // client's second quick mode datagram is message 3.
        if d.get(18) == Some(&QUICK) {
            quick_from_client += 1;
            return quick_from_client != 2;
        }
        true
    });
    let options = SessionOptions::ikev1_initiator(LOOPBACK, gateway.addr, xauth_client())
        .with_ports(Ports::ephemeral());
    let session = Session::start(options).expect("the session starts");
    until(session.events(), |e| *e == EventKind::Status { status: Status::Connected });
    // Connected on our side; the gateway installs once its resent message 2 got its answer.
    let waited = Instant::now();
    while gateway.installed.load(Ordering::Relaxed) == 0 {
        assert!(waited.elapsed() < HANG, "the gateway never installed its ESP SA");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(gateway.installed.load(Ordering::Relaxed), 1);
    session.handle().request_stats().unwrap();
    let stats = until(session.events(), |e| matches!(e, EventKind::Stats(_)));
    let Some(EventKind::Stats(s)) = stats.last() else { unreachable!() };
    let ike = s.ike.as_deref().unwrap_or_default();
    assert!(ike.contains("replayed_responses: 1"), "message 3 sent again once: {ike}");
    session.handle().shutdown().unwrap();
}
