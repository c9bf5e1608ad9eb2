//! A [`Session`] driving an IKEv1 initiator (`Role::Ikev1Initiator`) over loopback UDP on
//! ephemeral ports, against the IKEv1 engine's own responder endpoint on a plain socket (no
//! root, no TUN): the session's event stream reports the ISAKMP SA as it reports an IKEv2 one,
//! and a wrong group secret ends the session with the engine's close reason.

// Only `until` and the constants are used here.
#[allow(dead_code)]
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{HANG, LOOPBACK, until};
use ikeway_crypto::SecretBytes;
use ikeway_ikev1::{CloseReason, Config, DefaultKex, Identity, Ikev1Responder};
use ikeway_tunnel::{EventKind, Ports, Session, SessionOptions, Spi64, Status};

const GROUP: &[u8] = b"ikeway-group";
const SECRET: &[u8] = b"ikeway group secret 42";

/// Our responder endpoint on a loopback socket, answering until `stop` is set.
struct Gateway {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gateway {
    fn start() -> Self {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = socket.local_addr().unwrap();
        let mut config = Config::psk(
            Identity::Ipv4("127.0.0.1".parse().unwrap()),
            SecretBytes::from_slice(SECRET),
        );
        config.remote_id = Some(Identity::KeyId(GROUP.to_vec()));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut endpoint =
                Ikev1Responder::new(Arc::new(config), Arc::new(DefaultKex::default()), [7; 32]);
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    endpoint.handle_datagram(Instant::now(), from, addr, &buf[..n]);
                }
                endpoint.handle_timeout(Instant::now());
                while let Some(Ok(t)) = endpoint.poll_transmit(&mut buf) {
                    let _ = socket.send_to(&buf[..t.len], t.remote);
                }
                while endpoint.poll_event().is_some() {}
            }
        });
        Self { addr, stop, thread: Some(thread) }
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
