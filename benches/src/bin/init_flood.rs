//! `cargo run --release -p ikeway-benches --bin init-flood`: what one spoofed IKE_SA_INIT costs
//! a responder that demands cookies (RFC 7296 §2.6; issue 16, the flood): the same request
//! (X25519, the default proposals, as our initiator sends it) from a new source address each
//! time, without a cookie, answered with a COOKIE notify; and the same with a forged cookie.
//! Each datagram is handled and its reply drained. Prints the fastest and the median of 31
//! batches of about 3 ms, like `responder-quick`.
//!
//! With `--features count-allocations` it also prints the heap allocations per datagram.
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ikeway_benches::batches::per_call;
use ikeway_codec::{IdRepr, IdValue, MessageRepr, NotifyRepr, NotifyType, Payload, PayloadRepr};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{Config, DefaultKex, IkeSa, Responder};

fn config(id: &str) -> Config {
    Config::new(IdRepr::from_value(IdValue::Fqdn(id)), SecretBytes::from_slice(b"flood key"))
}

/// The IKE_SA_INIT request our initiator sends first.
fn init_request(kex: Arc<DefaultKex>, server: SocketAddr) -> Vec<u8> {
    let client: SocketAddr = "10.0.0.1:500".parse().expect("literal");
    let mut sa =
        IkeSa::initiate(Arc::new(config("client")), kex, [1; 32], Instant::now(), client, server)
            .expect("initiate");
    let mut buf = vec![0u8; 65536];
    let t = sa.poll_transmit(&mut buf).expect("a request").expect("fits");
    buf[..t.len].to_vec()
}

/// The request with a COOKIE notify in front that no secret made.
fn with_forged_cookie(request: &[u8]) -> Vec<u8> {
    let mut message = MessageRepr::parse(request).expect("ours parses");
    let cookie = NotifyRepr::new(NotifyType::COOKIE, vec![0; 17]);
    message.payloads.insert(0, Payload::new(PayloadRepr::Notify(cookie)));
    message.to_vec().expect("emits")
}

struct Flood {
    responder: Responder,
    request: Vec<u8>,
    server: SocketAddr,
    next_source: u32,
    buf: Vec<u8>,
    now: Instant,
}

impl Flood {
    fn one(&mut self) {
        self.next_source = self.next_source.wrapping_add(1);
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(self.next_source)), 500);
        self.responder.handle_datagram(self.now, source, self.server, &self.request);
        let reply = self.responder.poll_transmit(&mut self.buf);
        assert!(matches!(reply, Some(Ok(_))), "a COOKIE reply");
    }
}

fn flood(request: Vec<u8>, kex: Arc<DefaultKex>, server: SocketAddr) -> Flood {
    let mut c = config("vpn");
    c.cookie_threshold = 0;
    let responder = Responder::new(Arc::new(c), kex, None, [2; 32]);
    Flood {
        responder,
        request,
        server,
        next_source: 0x0a00_0000,
        buf: vec![0; 65536],
        now: Instant::now(),
    }
}

fn measure(name: &str, f: &mut Flood) {
    let (fastest, median) = per_call(|| f.one());
    let refused = f.responder.stats().cookies_refused;
    let demanded = f.responder.stats().cookies_demanded;
    assert_eq!(f.responder.len(), 0, "a flood leaves no state");
    assert!(demanded > 0);
    print!(
        "init flood, {name}: {fastest} ns per datagram (median {median}); {demanded} cookies demanded, {refused} refused"
    );
    #[cfg(feature = "count-allocations")]
    {
        let info = allocation_counter::measure(|| {
            for _ in 0..1000 {
                f.one();
            }
        });
        print!("; {:.1} allocations per datagram", info.count_total as f64 / 1000.0);
    }
    println!();
}

fn main() {
    let kex = Arc::new(DefaultKex::default());
    let server: SocketAddr = "10.255.0.1:500".parse().expect("literal");
    let request = init_request(kex.clone(), server);
    let forged = with_forged_cookie(&request);
    let mut plain = flood(request, kex.clone(), server);
    let mut forged = flood(forged, kex, server);
    measure("no cookie", &mut plain);
    measure("forged cookie", &mut forged);
}
