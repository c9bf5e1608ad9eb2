//! `cargo run --release -p ikeway-benches --features count-allocations --bin sa-memory [N]`:
//! the heap a responder holds per established IKE SA with
//! one child SA (issue 16: <= 4 KiB; charon 21.9 KiB). N clients (default 2000) connect one
//! after another to one `Responder` (PSK, X25519, AES-GCM-16-256 for IKE and ESP, an address
//! from the pool, one child), each initiator dropped once its SA is up; the bytes still
//! allocated by the responder afterwards, counted by a counting global allocator
//! (`allocation-counter`), divided by N. The maps' growth is included, as RSS would see it.
//!
//! Then the clock moves on 181 s, past the 3 minutes a response is kept for a retransmission
//! of its request (RFC 7296 §2.1; DPD and rekeys are minutes and hours away), and the
//! responder's timers run: what an idle established SA holds from then on.
//!
//! `responder memory <B> bytes/SA (<N> SAs; IkeSa inline <S> bytes)`
//! `responder memory <B> bytes/SA after the retransmission window (<N> SAs)`
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{ConfigAttributeType, DhGroup, IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, Config, DefaultKex, IkeSa, Responder};

fn config(id: &str) -> Config {
    let mut c = Config::new(
        IdRepr::from_value(IdValue::Fqdn(id)),
        SecretBytes::from_slice(b"bench pre-shared key"),
    );
    for p in &mut c.ike_proposals {
        p.groups = vec![DhGroup::CURVE25519];
    }
    c
}

/// One client's handshake to the end, its initiator then dropped.
fn connect(responder: &mut Responder, client: Arc<Config>, kex: Arc<DefaultKex>, i: u32) {
    let now = Instant::now();
    let a = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 500));
    let b: SocketAddr = "10.255.0.1:500".parse().expect("literal");
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    let mut initiator = IkeSa::initiate(client, kex, seed, now, a, b).expect("initiate");
    let mut buf = vec![0u8; 65536];
    loop {
        let mut moved = false;
        while let Some(Ok(t)) = initiator.poll_transmit(&mut buf) {
            responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while let Some(Ok(t)) = responder.poll_transmit(&mut buf) {
            initiator.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while initiator.poll_event().is_some() {}
        while responder.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    assert!(initiator.is_established(), "client {i} connected");
    assert_eq!(initiator.child_spis().len(), 1, "client {i} has its child SA");
}

fn main() {
    let n: u32 = std::env::args().nth(1).map_or(2000, |a| a.parse().expect("a number of SAs"));
    let mut client = config("client.example.org");
    client.config_request = vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    let client = Arc::new(client);
    let pool = AddressPool {
        v4: Some(("10.88.0.0".parse().expect("literal"), 1 << 20)),
        ..AddressPool::default()
    };
    let kex = Arc::new(DefaultKex::default());
    let mut responder =
        Responder::new(Arc::new(config("vpn.example.org")), kex.clone(), Some(pool), [9; 32]);
    // One client first, so that lazily built state (tables, caches) is not counted per SA.
    connect(&mut responder, Arc::clone(&client), kex.clone(), u32::MAX);
    let info = allocation_counter::measure(|| {
        for i in 0..n {
            connect(&mut responder, Arc::clone(&client), kex.clone(), i);
        }
    });
    assert_eq!(responder.len(), n as usize + 1);
    assert!(responder.sas().all(IkeSa::is_established));
    println!(
        "responder memory {} bytes/SA ({n} SAs; IkeSa inline {} bytes)",
        info.bytes_current / i64::from(n),
        std::mem::size_of::<IkeSa>()
    );
    let later = Instant::now() + Duration::from_secs(181);
    let idle = allocation_counter::measure(|| {
        responder.handle_timeout(later);
        let mut buf = vec![0u8; 65536];
        let mut sent = 0;
        while let Some(Ok(_)) = responder.poll_transmit(&mut buf) {
            sent += 1;
        }
        assert_eq!(sent, 0, "an idle responder sends nothing in the window");
    });
    assert_eq!(responder.len(), n as usize + 1);
    assert!(responder.sas().all(IkeSa::is_established));
    println!(
        "responder memory {} bytes/SA after the retransmission window ({n} SAs)",
        (info.bytes_current + idle.bytes_current) / i64::from(n)
    );
}
