//! A pump datapath holding one inbound child SA whose keys the harness knows, so the fuzzer's
//! bytes can be sealed as ESP inner packets by a matching outbound SA and reach everything the
//! datapath does after the ICV: padding and next header, the inbound selector check, counters,
//! and the receive coalescing before the TUN write.

use std::net::SocketAddr;
use std::sync::Arc;

use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, SecretBytes, Suite,
};
use ikeway_esp::{NextHeader, OutboundSa, SaConfig};
use ikeway_pump::{ChildSa, Counters, Datapath, IkeDatagram, Policy, SaTable, Selector};

pub const SPI_IN: u32 = 0x1000_0001;
const SPI_OUT: u32 = 0x2000_0002;

fn config(spi: u32, pick: u8) -> SaConfig {
    let (encryption, integrity, backend) = match pick % 3 {
        0 => (Encryption::Aead(AeadAlgorithm::AES128_GCM16), None, AeadBackend::Ring),
        1 => (Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None, AeadBackend::RustCrypto),
        _ => (
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
            Some(Integrity::HmacSha256_128),
            AeadBackend::RustCrypto,
        ),
    };
    let suite = Suite::new(encryption, integrity).expect("a suite we offer");
    let enc = SecretBytes::new(vec![0x5a; suite.encryption_key_len()]);
    let int = SecretBytes::new(vec![0xa5; suite.integrity_key_len()]);
    let mut config = SaConfig::new(spi, suite, enc, int);
    config.backend = backend;
    config.esn = pick & 4 != 0;
    config
}

fn datapath(inbound: SaConfig, outbound: SaConfig, policy: Policy, remote: &str) -> Datapath {
    let table = SaTable::new();
    let remote = remote.parse().expect("constant");
    table.install(&ChildSa { inbound, outbound, policy, remote }).expect("a valid SA");
    // The receiver is dropped: IKE datagrams are then counted as dropped (ControlPlane), which
    // is what the datapath does when the control plane is gone.
    let (tx, _) = crossbeam_channel::bounded::<IkeDatagram>(1);
    Datapath::new(
        table,
        Arc::new(Counters::default()),
        tx,
        "192.0.2.2:4500".parse().expect("constant"),
    )
}

/// The narrow policy a server gives a client leased 10.88.0.10 / fd88::10 with the subnets
/// 10.77.0.0/24 and fd77::/64, from the server's point of view.
fn narrow() -> Policy {
    let cidr = |a: &str, p| Selector::cidr(a.parse().expect("constant"), p).expect("valid");
    Policy {
        local: vec![cidr("10.77.0.0", 24), cidr("fd77::", 64)],
        remote: vec![cidr("10.88.0.10", 32), cidr("fd88::10", 128)],
    }
}

/// The server's end of a tunnel (a [`Datapath`]) and the client's outbound SA toward it, which
/// seals anything, IP or not.
#[derive(Debug)]
pub struct Inbound {
    pub server: Datapath,
    pub client: OutboundSa,
    pub client_addr: SocketAddr,
}

impl Inbound {
    /// `pick`: bits 0-1 the suite (AES-GCM, ChaCha20-Poly1305, AES-CBC with HMAC), bit 2 ESN,
    /// bit 3 the narrow policy of a leased client instead of everything.
    pub fn new(pick: u8) -> Self {
        let inbound = config(SPI_IN, pick);
        let client = OutboundSa::new(&inbound).expect("a valid SA");
        let policy = if pick & 8 != 0 { narrow() } else { Policy::any() };
        let server = datapath(inbound, config(SPI_OUT, pick), policy, CLIENT);
        Self { server, client, client_addr: CLIENT.parse().expect("constant") }
    }

    /// `inner` as the client's next ESP packet (the UDP payload), whatever its bytes are.
    /// `None` once the client's sequence numbers are used up.
    pub fn seal(&mut self, inner: &[u8], next_header: NextHeader) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; self.client.buffer_len(inner.len())];
        let at = self.client.headroom();
        buf[at..at + inner.len()].copy_from_slice(inner);
        let esp = self.client.encapsulate(&mut buf, inner.len(), next_header).ok()?;
        Some(esp.to_vec())
    }
}

/// Two datapaths, client and server, with one child SA between them and a policy covering
/// everything: what the client seals, the server opens.
#[derive(Debug)]
pub struct Pair {
    pub client: Datapath,
    pub server: Datapath,
    pub client_addr: SocketAddr,
}

impl Pair {
    pub fn new(pick: u8) -> Self {
        let (c2s, s2c) = (config(SPI_IN, pick), config(SPI_OUT, pick));
        let client = datapath(s2c.clone(), c2s.clone(), Policy::any(), SERVER);
        let server = datapath(c2s, s2c, Policy::any(), CLIENT);
        Self { client, server, client_addr: CLIENT.parse().expect("constant") }
    }
}

const CLIENT: &str = "192.0.2.1:4500";
const SERVER: &str = "192.0.2.2:4500";

/// What the receiver of `inner`, sent in tunnel mode with next header `next_header`, hands to
/// TUN: RFC 4303 §2.7 lets the sender pad an inner packet (TFC padding), so the receiver keeps
/// the length its IP header claims, when that length is plausible. `None`: not IP, dropped.
pub fn delivered(inner: &[u8], next_header: NextHeader) -> Option<&[u8]> {
    let claimed = match next_header {
        NextHeader::IPV4 => inner.get(2..4).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
        NextHeader::IPV6 => {
            inner.get(4..6).map(|b| 40 + usize::from(u16::from_be_bytes([b[0], b[1]])))
        }
        _ => return None,
    };
    let len = claimed.filter(|&n| n > 0 && n <= inner.len()).unwrap_or(inner.len());
    Some(&inner[..len])
}
