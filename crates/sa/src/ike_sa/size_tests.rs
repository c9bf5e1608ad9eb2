//! What an IKE SA costs inline (issue 16: <= 4 KiB per established SA with one child, heap and
//! maps included; the `sa-memory` bench measures the whole). Run with `--nocapture` for the
//! breakdown docs/PERFORMANCE.md quotes; the bound catches a field that grows the SA by
//! accident (boxed handshake state is the way to add large ones).

use std::mem::size_of;

use super::*;

#[test]
#[cfg(target_pointer_width = "64")]
#[allow(clippy::print_stdout)] // the breakdown is this test's output (--nocapture)
fn ike_sa_stays_within_its_inline_budget() {
    let parts = [
        ("IkeSa", size_of::<IkeSa>()),
        ("  State", size_of::<State>()),
        ("  Option<Box<IkeCrypto>>", size_of::<Option<Box<IkeCrypto>>>()),
        ("  SaRng", size_of::<SaRng>()),
        ("  Stats", size_of::<Stats>()),
        ("  TimerTable", size_of::<TimerTable>()),
        ("  mobike::Mobility", size_of::<mobike::Mobility>()),
        ("  Reassembler", size_of::<Reassembler>()),
        ("  Option<Outstanding>", size_of::<Option<Outstanding>>()),
        ("  ppk::PpkState", size_of::<ppk::PpkState>()),
        ("  redirect::RedirectState", size_of::<redirect::RedirectState>()),
        ("Child (each, in a Vec)", size_of::<Child>()),
        ("OldSa (boxed, after an IKE rekey)", size_of::<OldSa>()),
        ("IkeCrypto (boxed, once keyed)", size_of::<IkeCrypto>()),
    ];
    for (name, size) in parts {
        println!("{size:>6} {name}");
    }
    // A responder's slab holds 64 SAs inline per chunk (`responder.rs`), each with about 112
    // bytes of its own: past 1,936 bytes an SA makes a chunk larger than glibc's 128 KiB
    // `mmap` threshold, which the handshake bench (a responder per handshake) paid in page
    // faults, about 13 us per handshake, when the keys went inline in `IkeCrypto` unboxed.
    assert!(size_of::<IkeSa>() <= 1440, "IkeSa grew to {} bytes", size_of::<IkeSa>());
    assert!(size_of::<SaRng>() <= 48);
}

/// The generator is kept whole while the SA negotiates and given up with the datagram that
/// established it, on both sides: an established SA carries only seed and position.
#[test]
fn rng_is_hot_while_negotiating_and_settled_once_established() {
    use crate::provider::InsecureKexForFuzzing;
    use crate::{Responder, SaId};
    use ikeway_codec::IdValue;

    let psk = SecretBytes::from_slice(b"a pre-shared key");
    let (a, b): (SocketAddr, SocketAddr) =
        ("10.0.0.1:500".parse().unwrap(), "10.0.0.2:500".parse().unwrap());
    let client = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example.org")), psk.clone());
    let server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example.org")), psk);
    let kex = Arc::new(InsecureKexForFuzzing);
    let now = Instant::now();
    let mut initiator =
        IkeSa::initiate(Arc::new(client), kex.clone(), [1; 32], now, a, b).expect("initiate");
    let mut responder = Responder::new(Arc::new(server), kex, None, [2; 32]);
    assert!(initiator.rng.is_hot(), "drew its SPI, nonce and key from the hot generator");
    let mut buf = vec![0u8; 65536];
    for round in 0..4 {
        while let Some(t) = initiator.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
        }
        let id = SaId::from_spi(responder.sas().next().expect("held").local_spi());
        let sa = responder.sa_mut(id).expect("held");
        assert_eq!(sa.rng.is_hot(), round == 0, "round {round}: hot only while half-open");
        while let Some(t) = responder.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            initiator.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
        }
        assert_eq!(initiator.rng.is_hot(), !initiator.is_established(), "round {round}");
    }
    assert!(initiator.is_established());
    // An established SA's exchanges draw too (a command's IV; the answer's IV): the draws
    // rebuild the generator, and every call that drew settles it.
    let before = initiator.rng.position();
    initiator.dpd(now);
    assert!(initiator.rng.position() > before, "the DPD request drew its IV");
    assert!(!initiator.rng.is_hot(), "settled when the command returned");
    let id = SaId::from_spi(responder.sas().next().expect("held").local_spi());
    let responder_before = responder.sa_mut(id).expect("held").rng.position();
    while let Some(t) = initiator.poll_transmit(&mut buf) {
        let t = t.expect("64 KiB is enough");
        responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
    }
    let sa = responder.sa_mut(id).expect("held");
    assert!(sa.rng.position() > responder_before, "the DPD answer drew its IV");
    assert!(!sa.rng.is_hot(), "settled when the datagram was handled");
    while let Some(t) = responder.poll_transmit(&mut buf) {
        let t = t.expect("64 KiB is enough");
        initiator.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
    }
    assert!(!initiator.rng.is_hot(), "settled when the answer was handled");
    // A timer's draws likewise (a DPD or a rekey that falls due).
    let before = initiator.rng.position();
    initiator.handle_timeout(now + Duration::from_secs(3600));
    assert!(initiator.rng.position() > before, "a timer's exchange drew");
    assert!(!initiator.rng.is_hot(), "settled when the timers returned");
}
