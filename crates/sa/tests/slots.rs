//! Issue 16: the responder files each IKE SA in the slot that the low 24 bits of every SPI it
//! chooses for the SA name. A message whose SPI names a free slot, a slot past the table, or a
//! slot another SA holds now is dropped as an unknown SPI and changes nothing; a retransmitted
//! IKE_SA_INIT finds its SA only while the SA is half-open.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::run::Run;
use common::{CLIENT, SERVER, addr, client_config, pool, server_config};
use ikeway_sa::{EndpointStats, IkeSa, InsecureKexForFuzzing, Responder, SaId};

/// The bits of our SPIs that name the slot.
const SLOT_MASK: u64 = (1 << 24) - 1;

/// `bytes` (an IKE message) with its responder SPI replaced.
fn with_spi_r(bytes: &[u8], spi_r: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[8..16].copy_from_slice(&spi_r.to_be_bytes());
    out
}

/// Everything the responder has to say now: datagrams, then events.
fn drain(r: &mut Responder) -> (Vec<Vec<u8>>, usize) {
    let mut buf = vec![0u8; 65536];
    let mut sent = Vec::new();
    while let Some(t) = r.poll_transmit(&mut buf) {
        sent.push(buf[..t.expect("64 KiB is enough").len].to_vec());
    }
    let mut events = 0;
    while r.poll_event().is_some() {
        events += 1;
    }
    (sent, events)
}

fn unknown(before: EndpointStats, n: u64) -> EndpointStats {
    EndpointStats {
        received: before.received + n,
        dropped_unknown_spi: before.dropped_unknown_spi + n,
        ..before
    }
}

/// A DPD request of the established SA, sent and answered; its bytes are returned.
fn answered_dpd(run: &mut Run) -> Vec<u8> {
    let sent = run.from_initiator.len();
    run.initiator.dpd(run.now);
    run.deliver();
    assert_eq!(run.from_initiator.len(), sent + 1, "one DPD request");
    run.from_initiator.last().expect("the DPD request").bytes.clone()
}

#[test]
fn a_message_naming_a_free_slot_or_one_past_the_table_is_dropped_and_changes_nothing() {
    let mut run = Run::new(client_config(), server_config()).run();
    assert!(run.both_up());
    let spi_r = run.initiator.spis().1;
    assert_eq!(spi_r & SLOT_MASK, 0, "the first SA takes the first slot");
    let dpd = answered_dpd(&mut run);
    let stats = run.responder.stats();
    let held = run.responder.held();
    let random = spi_r & !SLOT_MASK;
    // Slots 1 and 63: free, in the chunk slot 0 made; 64: the next chunk, not made; the last
    // index (never handed out) and an SPI of all ones.
    for spi in [random | 1, random | 63, random | 64, random | SLOT_MASK, u64::MAX] {
        run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &with_spi_r(&dpd, spi));
    }
    assert_eq!(run.responder.stats(), unknown(stats, 5));
    assert_eq!(drain(&mut run.responder), (Vec::new(), 0), "nothing answered, nothing told");
    assert_eq!((run.responder.len(), run.responder.held()), (1, held));
    for spi in [random | 1, random | 64, random | SLOT_MASK] {
        assert!(run.responder.sa_mut(SaId::from_spi(spi)).is_none(), "{spi:x}");
    }
    // The SA's own SPI still finds it.
    run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &dpd);
    assert_eq!(drain(&mut run.responder).0.len(), 1, "the retransmitted DPD is answered");
}

#[test]
fn a_message_with_the_spi_of_a_slots_previous_sa_is_dropped_and_the_new_sa_keeps_its_state() {
    let mut run = Run::new(client_config(), server_config()).run();
    assert!(run.both_up());
    let old = run.initiator.spis().1;
    let dpd = answered_dpd(&mut run);
    run.initiator.delete_ike(run.now);
    run.deliver();
    run.assert_responder_empty();
    // The next client gets the slot the first one left.
    run.initiator = IkeSa::initiate(
        Arc::new(client_config()),
        Arc::new(InsecureKexForFuzzing),
        [3; 32],
        run.now,
        addr(CLIENT),
        addr(SERVER),
    )
    .expect("initiate");
    run.initiator_events.clear();
    run.responder_events.clear();
    run.deliver();
    assert!(run.both_up());
    let new = run.initiator.spis().1;
    assert_eq!(new & SLOT_MASK, old & SLOT_MASK, "the same slot");
    assert_ne!(new, old, "under another SPI");
    let stats = run.responder.stats();
    let held = run.responder.held();
    let stored = run.responder_sa().stats();
    // The old SA's DPD, replayed: it names the slot, not the SA there now.
    run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &dpd);
    assert_eq!(run.responder.stats(), unknown(stats, 1));
    assert_eq!(drain(&mut run.responder), (Vec::new(), 0));
    assert!(run.responder.sa_mut(SaId::from_spi(old)).is_none());
    assert_eq!(run.responder_sa().stats(), stored, "the new SA never saw it");
    assert!(run.responder_sa().is_established());
    assert_eq!((run.responder.len(), run.responder.held()), (1, held));
    // The new SA answers its own DPD.
    let _ = answered_dpd(&mut run);
    assert!(run.initiator.is_established() && !run.initiator.is_closed());
}

/// An IKE rekey gives the SA new SPIs in the same slot, and the old SPI keeps reaching it
/// until the old IKE SA is deleted; then the old SPI is unknown.
#[test]
fn an_ike_rekey_keeps_the_slot_and_retires_the_old_spi() {
    let mut run = Run::new(client_config(), server_config()).run();
    assert!(run.both_up());
    let old = run.initiator.spis().1;
    let dpd = answered_dpd(&mut run);
    run.initiator.rekey_ike(run.now);
    run.deliver();
    let new = run.initiator.spis().1;
    assert_ne!(new, old, "rekeyed");
    assert_eq!(new & SLOT_MASK, old & SLOT_MASK, "in the same slot");
    assert!(run.initiator.old_spis().is_none(), "the old IKE SA was deleted");
    let stats = run.responder.stats();
    run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &dpd);
    assert_eq!(run.responder.stats(), unknown(stats, 1));
    assert_eq!(drain(&mut run.responder), (Vec::new(), 0));
    assert_eq!(run.responder.len(), 1);
    let _ = answered_dpd(&mut run);
}

/// RFC 7296 §2.1: a retransmitted IKE_SA_INIT gets the same answer while the initiator may
/// still be waiting for it (the SA is half-open). Once IKE_AUTH established the SA, the
/// initiator has the response; a late copy of the request makes a new half-open SA, which the
/// initiator ignores and which expires.
#[test]
fn ike_sa_init_is_answered_the_same_while_half_open_and_a_late_copy_starts_anew() {
    let kex = Arc::new(InsecureKexForFuzzing);
    let mut r = Responder::new(Arc::new(server_config()), kex.clone(), Some(pool()), [2; 32]);
    let now = Instant::now();
    let client: SocketAddr = addr(CLIENT);
    let mut i = IkeSa::initiate(Arc::new(client_config()), kex, [1; 32], now, client, addr(SERVER))
        .expect("initiate");
    let mut buf = vec![0u8; 65536];
    let t = i.poll_transmit(&mut buf).expect("IKE_SA_INIT").expect("fits");
    let init = buf[..t.len].to_vec();
    r.handle_datagram(now, client, addr(SERVER), &init);
    let (first, _) = drain(&mut r);
    r.handle_datagram(now, client, addr(SERVER), &init);
    let (again, _) = drain(&mut r);
    assert_eq!(first.len(), 1);
    assert_eq!(again, first, "the same answer");
    assert_eq!((r.len(), r.half_open()), (1, 1));
    // The handshake completes.
    let mut to_initiator = first;
    for _ in 0..8 {
        for d in to_initiator.drain(..) {
            i.handle_datagram(now, addr(SERVER), client, &d);
        }
        while let Some(t) = i.poll_transmit(&mut buf) {
            r.handle_datagram(now, client, addr(SERVER), &buf[..t.expect("fits").len]);
        }
        to_initiator = drain(&mut r).0;
        if to_initiator.is_empty() {
            break;
        }
    }
    assert!(i.is_established());
    assert_eq!((r.len(), r.half_open()), (1, 0));
    let established = i.spis().1;
    // A copy of IKE_SA_INIT the network held back arrives now.
    r.handle_datagram(now, client, addr(SERVER), &init);
    let (late, _) = drain(&mut r);
    assert_eq!(late.len(), 1, "answered by a new half-open SA");
    let late_spi_r = u64::from_be_bytes(late[0][8..16].try_into().expect("a header"));
    assert_ne!(late_spi_r, established);
    assert_ne!(late_spi_r & SLOT_MASK, established & SLOT_MASK, "in another slot");
    assert_eq!((r.len(), r.half_open()), (2, 1));
    assert!(r.sa_mut(SaId::from_spi(established)).expect("kept").is_established());
    // The initiator is past IKE_SA_INIT: it ignores the answer and sends nothing.
    i.handle_datagram(now, addr(SERVER), client, &late[0]);
    assert!(i.poll_transmit(&mut buf).is_none());
    assert!(i.is_established());
    // The stray half-open SA expires as any does; the established one stays.
    let deadline = r.poll_timeout().expect("the half-open SA times out");
    assert_eq!(deadline, now + Duration::from_secs(30));
    r.handle_timeout(deadline);
    let _ = drain(&mut r);
    assert_eq!((r.len(), r.half_open()), (1, 0));
    assert!(r.sa_mut(SaId::from_spi(established)).is_some());
}
