//! IKEv1 phase 1 under hostile input, on both sides (with the cheap insecure key exchange, so
//! the fuzzer spends its time in parsing and state handling): never panics, and a responder
//! never holds more half-open SAs than its bound.
//!
//! Input: `[mode][steps]` then records `[flags][len_hi][len_lo][datagram...]`. `mode` bit 0
//! picks aggressive over main mode; `steps` is how many honest messages are exchanged first
//! (0-6), so the records land in every phase 1 state. Record `flags`: bit 0 sends to the
//! initiator rather than the responder, bit 1 writes the live SA's cookies into the datagram
//! (so it passes the cookie check and reaches phase 1 processing), bit 2 picks port 4500, bits
//! 3-7 advance the clock by that many seconds (timers: resends, half-open expiry).
//!
//! The client also answers phase 1 from its gateway (`Ikev1Sa::answer_gateway`): a record to
//! the initiator whose cookie no SA of the client has is offered there, and the SA that
//! answers it gets the later records with its cookie. An empty record to the initiator makes
//! the gateway renew honestly (its SA's `renew`: a phase 1 of its own toward the client),
//! answered and run to its end, so later records land on a client SA in the responder role.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_crypto::SecretBytes;
use ikeway_ikev1::{
    Config, Identity, Ikev1Responder, Ikev1Sa, InsecureKexForFuzzing, Phase1Mode, SaId,
};
use libfuzzer_sys::fuzz_target;

const HALF_OPEN_LIMIT: usize = 4;

fn config(mode: Phase1Mode, id: Identity) -> Arc<Config> {
    let mut c = Config::psk(id, SecretBytes::from_slice(b"fuzz group secret"));
    c.mode = mode;
    Arc::new(c)
}

fn drain_sa(sa: &mut Ikev1Sa, buf: &mut [u8]) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(Ok(t)) = sa.poll_transmit(buf) {
        out.push((t.local, t.remote, buf[..t.len].to_vec()));
    }
    while sa.poll_event().is_some() {}
    out
}

fn drain_resp(r: &mut Ikev1Responder, buf: &mut [u8]) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(Ok(t)) = r.poll_transmit(buf) {
        out.push((t.local, t.remote, buf[..t.len].to_vec()));
    }
    while r.poll_event().is_some() {}
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, steps, rest @ ..] = data else { return };
    let mut rest = rest;
    let mode = if mode & 1 == 1 { Phase1Mode::Aggressive } else { Phase1Mode::Main };
    let kex = Arc::new(InsecureKexForFuzzing);
    let client: SocketAddr = "192.0.2.1:500".parse().unwrap();
    let server: SocketAddr = "192.0.2.2:500".parse().unwrap();
    let mut now = Instant::now();
    let Ok(mut init) = Ikev1Sa::initiate(
        config(mode, Identity::KeyId(b"group".to_vec())),
        kex.clone(),
        [1; 32],
        now,
        client,
        server,
    ) else {
        return;
    };
    let mut resp =
        Ikev1Responder::new(config(mode, Identity::Fqdn("vpn".into())), kex.clone(), [2; 32]);
    resp.max_half_open = HALF_OPEN_LIMIT;
    let mut buf = vec![0u8; 65536];
    // The honest part: `steps` messages, alternating from the initiator.
    for step in 0..(*steps % 7) {
        if step % 2 == 0 {
            for (l, r, d) in drain_sa(&mut init, &mut buf) {
                resp.handle_datagram(now, l, r, &d);
            }
        } else {
            for (l, r, d) in drain_resp(&mut resp, &mut buf) {
                init.handle_datagram(now, l, r, &d);
            }
        }
    }
    let (cky_i, cky_r) = init.cookies();
    // The client's SA answering its gateway, and the gateway's renewing SA (honest renewals).
    let mut answer: Option<Ikev1Sa> = None;
    let mut gateway: Option<Ikev1Sa> = None;
    while let [flags, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        let mut datagram = datagram.to_vec();
        let port = if flags & 4 == 4 { 4500 } else { 500 };
        let at = if port == 4500 { 4 } else { 0 };
        if flags & 2 == 2 && datagram.len() >= at + 16 {
            datagram[at..at + 8].copy_from_slice(&cky_i.to_be_bytes());
            datagram[at + 8..at + 16].copy_from_slice(&cky_r.to_be_bytes());
        }
        now += Duration::from_secs(u64::from(flags >> 3));
        let (c, s) = (SocketAddr::new(client.ip(), port), SocketAddr::new(server.ip(), port));
        if flags & 1 == 1 && datagram.is_empty() {
            // An honest renewal by the gateway, answered by the client.
            let Some(mut gw) = resp
                .sa_mut(SaId::from_spi(cky_r))
                .and_then(|sa| sa.renew(kex.clone(), [3; 32], now).ok())
            else {
                continue;
            };
            for (l, r, d) in drain_sa(&mut gw, &mut buf) {
                answer = init.answer_gateway(kex.clone(), [4; 32], now, r, l, &d);
            }
            if let Some(a) = answer.as_mut() {
                assert!(a.is_client());
                for _ in 0..8 {
                    for (l, r, d) in drain_sa(a, &mut buf) {
                        gw.handle_datagram(now, l, r, &d);
                    }
                    for (l, r, d) in drain_sa(&mut gw, &mut buf) {
                        a.handle_datagram(now, l, r, &d);
                    }
                }
            }
            gateway = Some(gw);
        } else if flags & 1 == 1 {
            let cookie = datagram.get(at..at + 8).map(|c| c.to_vec());
            let mine = |sa: &Ikev1Sa| cookie.as_deref() == Some(&sa.cookies().0.to_be_bytes()[..]);
            match answer.as_mut() {
                Some(a) if mine(a) => {
                    a.handle_datagram(now, s, c, &datagram);
                    a.handle_timeout(now);
                    drain_sa(a, &mut buf);
                }
                _ if !mine(&init) => {
                    if let Some(mut a) =
                        init.answer_gateway(kex.clone(), [5; 32], now, s, c, &datagram)
                    {
                        assert!(a.is_client() && a.side() == ikeway_ikev1::Side::Responder);
                        drain_sa(&mut a, &mut buf);
                        answer = Some(a);
                    }
                }
                _ => {
                    init.handle_datagram(now, s, c, &datagram);
                    init.handle_timeout(now);
                    drain_sa(&mut init, &mut buf);
                }
            }
            if let Some(gw) = gateway.as_mut() {
                gw.handle_timeout(now);
                drain_sa(gw, &mut buf);
            }
        } else {
            resp.handle_datagram(now, c, s, &datagram);
            resp.handle_timeout(now);
            drain_resp(&mut resp, &mut buf);
        }
        assert!(resp.len() <= HALF_OPEN_LIMIT + 1, "half-open bound exceeded");
    }
});
