//! The fuzzer's bytes as the payloads of authenticated IKEv1 messages after phase 1, so quick
//! mode, XAUTH, mode config, informational (Delete, notifies, DPD) handling is reached in
//! both roles: the target brings a client and a gateway up in process (aggressive mode with a
//! group secret, XAUTH, mode config, a first quick mode; fixed seeds, the insecure key
//! exchange), then each message the fuzzer makes is sealed by one end with the keys both
//! share (`Ikev1Sa::seal_for_fuzzing`: a valid HASH over the fuzzer's payload chain, the
//! exchange's IV) and given to the other end.
//!
//! Input: one setup byte (bit 0: PFS with group 19 in quick mode; bit 1: mode config pushed
//! instead of pulled; bit 2: the client's XAUTH password is asked for, not stored, so the
//! gateway's REQUEST is left waiting until op 2 answers it), then operations (first byte
//! modulo 6) until the input ends:
//! - `0` to the gateway, `1` to the client: `[exchange][mid][first payload][len:2][payloads]`;
//!   `exchange` 0 quick mode, 1 transaction, 2 informational, else the value itself; `mid`
//!   255 takes four more bytes, any other value is `mid + 1`
//! - `2` a command to the client `[which]`, `3` to the gateway's SA: rekey, delete or create
//!   an ESP SA, DPD now, delete the ISAKMP SA, answer XAUTH with the right or a wrong password
//! - `4` time `[seconds]`, then both ends talk until quiet
//! - `5` a raw datagram `[to gateway?][len:2][bytes]`, not sealed
//!
//! Checks: nothing panics, and after every operation both ends go quiet within 256 rounds
//! (no exchange answers itself for ever).
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_crypto::SecretBytes;
use ikeway_fuzz::Input;
use ikeway_ikev1::transaction::{ModeConfigClient, ModeConfigServer, XauthCredentials};
use ikeway_ikev1::{
    Config, Event, Identity, Ikev1Responder, Ikev1Sa, InsecureKexForFuzzing, Phase1Mode, SaId,
};
use ikeway_sa::{AddressAllocator, AddressPool};
use libfuzzer_sys::fuzz_target;

const PSK: &[u8] = b"ikeway group secret 42";
const PASSWORD: &[u8] = b"correct horse battery";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

fn configs(setup: u8) -> (Config, Config) {
    let mut c =
        Config::psk(Identity::KeyId(b"ikeway-group".to_vec()), SecretBytes::from_slice(PSK));
    c.mode = Phase1Mode::Aggressive;
    c.xauth = true;
    c.cisco_unity = true;
    let password = (setup & 4 == 0).then(|| SecretBytes::from_slice(PASSWORD));
    c.transaction.xauth_client = Some(XauthCredentials { username: "alice".into(), password });
    let push = setup & 2 != 0;
    c.transaction.mode_config =
        Some(if push { ModeConfigClient::Push } else { ModeConfigClient::Pull });
    if setup & 1 != 0 {
        c.quick.pfs = Some(ikeway_codec::DhGroup(19));
    }
    let pool = AddressPool {
        v4: Some(("10.9.0.10".parse().expect("an address"), 4)),
        dns: vec!["10.9.0.1".parse().expect("an address")],
        dns_domains: vec!["corp.example".into()],
        subnets: vec![("192.168.10.0".parse().expect("an address"), 24)],
        ..Default::default()
    };
    let mut g = Config::psk(
        Identity::Ipv4("10.0.0.2".parse().expect("an address")),
        SecretBytes::from_slice(PSK),
    );
    g.mode = Phase1Mode::Aggressive;
    g.xauth = true;
    g.cisco_unity = true;
    g.transaction.xauth_users = vec![("alice".into(), SecretBytes::from_slice(PASSWORD))];
    g.transaction.mode_config_server = Some(ModeConfigServer {
        pool: Arc::new(AddressAllocator::new(pool)),
        banner: Some("banner".into()),
        split_dns: vec!["lab.example".into()],
        push,
        extra: Vec::new(),
    });
    (c, g)
}

struct Ends {
    client: Ikev1Sa,
    gw: Ikev1Responder,
    gw_sa: Option<SaId>,
    now: Instant,
}

impl Ends {
    /// Delivers what both ends send until neither sends; `false` if they never go quiet.
    fn talk(&mut self) -> bool {
        let mut buf = vec![0u8; 65536];
        for _ in 0..256 {
            let mut moved = false;
            while let Some(Ok(t)) = self.client.poll_transmit(&mut buf) {
                moved = true;
                self.gw.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
            }
            while let Some(Ok(t)) = self.gw.poll_transmit(&mut buf) {
                moved = true;
                self.client.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
            }
            while self.client.poll_event().is_some() {}
            while let Some(e) = self.gw.poll_event() {
                if matches!(e.event, Event::Ike(ikeway_sa::Event::IkeSaUp { .. })) {
                    self.gw_sa = Some(e.sa);
                }
            }
            if !moved {
                return true;
            }
        }
        false
    }

    fn gateway_sa(&mut self) -> Option<&mut Ikev1Sa> {
        self.gw_sa.and_then(|id| self.gw.sa_mut(id))
    }
}

fn exchange(sel: u8) -> u8 {
    match sel {
        0 => 32,
        1 => 6,
        2 => 5,
        other => other,
    }
}

fn message_id(input: &mut Input<'_>) -> u32 {
    match input.byte() {
        255 => u32::from_be_bytes([input.byte(), input.byte(), input.byte(), input.byte()]),
        m => u32::from(m) + 1,
    }
}

fn command(sa: &mut Ikev1Sa, which: u8, now: Instant) {
    let spi = sa.child_spis().first().map(|c| c.0);
    match which % 8 {
        0 => spi.into_iter().for_each(|s| sa.rekey_child(now, s)),
        1 => spi.into_iter().for_each(|s| sa.delete_child(now, s)),
        2 => sa.create_child(now),
        3 => sa.dpd(now),
        4 => sa.delete_ike(now),
        5 => sa.xauth_reply(None, SecretBytes::from_slice(PASSWORD)),
        6 => sa.xauth_reply(None, SecretBytes::from_slice(b"wrong")),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte();
    let (c, g) = configs(setup);
    let kex = Arc::new(InsecureKexForFuzzing);
    let now = Instant::now();
    let Ok(client) = Ikev1Sa::initiate(
        Arc::new(c),
        kex.clone(),
        [1; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    ) else {
        return;
    };
    let gw = Ikev1Responder::new(Arc::new(g), kex, [2; 32]);
    let mut ends = Ends { client, gw, gw_sa: None, now };
    assert!(ends.talk(), "the setup goes quiet");
    while !input.is_empty() {
        match input.byte() % 6 {
            op @ (0 | 1) => {
                let exchange = exchange(input.byte());
                let mid = message_id(&mut input);
                let first = input.byte();
                let rest = input.bytes();
                if op == 0 {
                    if let Some(m) = ends.client.seal_for_fuzzing(exchange, mid, first, rest) {
                        let now = ends.now;
                        ends.gw.handle_datagram(
                            now,
                            addr("10.0.0.1:500"),
                            addr("10.0.0.2:500"),
                            &m,
                        );
                    }
                } else if let Some(sa) = ends.gateway_sa()
                    && let Some(m) = sa.seal_for_fuzzing(exchange, mid, first, rest)
                {
                    let now = ends.now;
                    ends.client.handle_datagram(
                        now,
                        addr("10.0.0.2:500"),
                        addr("10.0.0.1:500"),
                        &m,
                    );
                }
            }
            2 => {
                let (which, now) = (input.byte(), ends.now);
                command(&mut ends.client, which, now);
            }
            3 => {
                let (which, now) = (input.byte(), ends.now);
                if let Some(sa) = ends.gateway_sa() {
                    command(sa, which, now);
                }
            }
            4 => {
                ends.now += Duration::from_secs(u64::from(input.byte()));
                let now = ends.now;
                ends.client.handle_timeout(now);
                ends.gw.handle_timeout(now);
            }
            _ => {
                let to_gateway = input.byte() & 1 == 0;
                let bytes = input.bytes();
                let now = ends.now;
                if to_gateway {
                    ends.gw.handle_datagram(now, addr("10.0.0.1:500"), addr("10.0.0.2:500"), bytes);
                } else {
                    ends.client.handle_datagram(
                        now,
                        addr("10.0.0.2:500"),
                        addr("10.0.0.1:500"),
                        bytes,
                    );
                }
            }
        }
        assert!(ends.talk(), "both ends go quiet");
    }
});
