//! An initiator and a responder endpoint joined in memory, with deterministic seeds and the
//! insecure key exchange, and a way to seal arbitrary plaintext as an SK (or SKF) payload that
//! one of them will authenticate and then parse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::sk::{self, FragmentInfo};
use ikeway_codec::{ExchangeType, Flags, HEADER_LEN, HeaderRepr, IdRepr, IdValue, PayloadType};
use ikeway_crypto::{AeadBackend, BlockCipher, Encryption, Integrity, Prf, Protector, SecretBytes};
use ikeway_sa::{
    AddressPool, CLIENT_CONFIG_REQUEST, Config, IkeProposal, IkeSa, InsecureKexForFuzzing,
    Responder, Side,
};

const CLIENT: &str = "10.0.0.1:500";
const SERVER: &str = "10.0.0.2:500";

/// Which end receives the fuzzer's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Initiator,
    Responder,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant address")
}

fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"fuzzing pre-shared key")
}

/// The fixed client and server configurations: PSK, AES-GCM (or AES-CBC with HMAC).
pub fn configs(cbc: bool) -> (Config, Config) {
    let mut client = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example")), psk());
    client.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    if cbc {
        // The one non-AEAD suite we offer, so both SK code paths are fuzzed.
        client.ike_proposals = vec![IkeProposal {
            encryption: Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            integrity: Some(Integrity::HmacSha256_128),
            prf: Prf::HmacSha256,
            groups: vec![ikeway_codec::DhGroup::CURVE25519],
            additional_kes: Vec::new(),
        }];
    }
    let server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example")), psk());
    (client, server)
}

/// As the fixed configurations, with one ML-KEM-768 additional key exchange (RFC 9370) on
/// both ends, so that IKE_INTERMEDIATE comes between IKE_SA_INIT and IKE_AUTH, and child SAs
/// with PFS (X25519), so that CREATE_CHILD_SA for a child or an IKE rekey is followed by an
/// IKE_FOLLOWUP_KE exchange (RFC 9370 §2.2.4).
pub fn hybrid_configs(cbc: bool) -> (Config, Config) {
    let (mut client, mut server) = configs(cbc);
    for p in client.ike_proposals.iter_mut().chain(server.ike_proposals.iter_mut()) {
        p.additional_kes = vec![vec![ikeway_codec::DhGroup::ML_KEM_768]];
    }
    for p in client.esp_proposals.iter_mut().chain(server.esp_proposals.iter_mut()) {
        p.pfs_groups = vec![ikeway_codec::DhGroup::CURVE25519];
    }
    (client, server)
}

fn pool() -> AddressPool {
    AddressPool {
        v4: Some(("10.88.0.10".parse().expect("constant"), 8)),
        v6: Some(("fd88::10".parse().expect("constant"), 8)),
        dns: vec!["10.88.0.1".parse().expect("constant")],
        dns_domains: vec!["corp.example".into()],
        subnets: Vec::new(),
    }
}

/// Both ends of one IKE SA, and the datagrams each sent that were not delivered.
#[derive(Debug)]
pub struct Pair {
    pub now: Instant,
    pub initiator: IkeSa,
    pub responder: Responder,
    /// Sent by the initiator, not yet delivered.
    pub to_responder: Vec<Vec<u8>>,
    /// Sent by the responder, not yet delivered.
    pub to_initiator: Vec<Vec<u8>>,
    /// Everything sent since the last [`Pair::take_log`], by whom: delivered or not.
    log: Vec<(End, Vec<u8>)>,
    buf: Vec<u8>,
    iv_counter: u64,
}

impl Pair {
    /// IKE_SA_INIT done: both ends hold the IKE SA's keys; the initiator's IKE_AUTH request
    /// (its IKE_INTERMEDIATE request with additional key exchanges) waits undelivered in
    /// `to_responder`.
    pub fn after_sa_init(cbc: bool) -> Self {
        let (client, server) = configs(cbc);
        Self::after_sa_init_with(client, server)
    }

    /// As [`Pair::after_sa_init`], with these configurations.
    pub fn after_sa_init_with(client: Config, server: Config) -> Self {
        let mut pair = Self::with_configs(client, server);
        pair.deliver(End::Responder); // IKE_SA_INIT request
        pair.deliver(End::Initiator); // IKE_SA_INIT response; the IKE_AUTH request is queued
        pair
    }

    /// Nothing delivered yet: the initiator's IKE_SA_INIT request waits in `to_responder`.
    pub fn new(cbc: bool) -> Self {
        let (client, server) = configs(cbc);
        Self::with_configs(client, server)
    }

    /// Nothing delivered yet, with these configurations (the client at 10.0.0.1, the server
    /// at 10.0.0.2 with an address pool).
    pub fn with_configs(client: Config, server: Config) -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        let now = Instant::now();
        let initiator = IkeSa::initiate(
            Arc::new(client),
            kex.clone(),
            [1; 32],
            now,
            addr(CLIENT),
            addr(SERVER),
        )
        .expect("the fixed configuration is valid");
        let responder = Responder::new(Arc::new(server), kex, Some(pool()), [2; 32]);
        let mut pair = Self {
            now,
            initiator,
            responder,
            to_responder: Vec::new(),
            to_initiator: Vec::new(),
            log: Vec::new(),
            buf: vec![0; 65536],
            iv_counter: 0,
        };
        pair.collect();
        pair
    }

    /// A complete handshake: IKE SA and first child SA up on both ends.
    pub fn established(cbc: bool) -> Self {
        let (client, server) = configs(cbc);
        Self::established_with(client, server)
    }

    /// As [`Pair::established`], with these configurations.
    pub fn established_with(client: Config, server: Config) -> Self {
        let mut pair = Self::after_sa_init_with(client, server);
        pair.exchange_all();
        assert!(pair.initiator.is_established(), "the fixed handshake completes");
        pair
    }

    /// Moves what both ends want to send into the undelivered queues; events are dropped.
    pub fn collect(&mut self) {
        while let Some(t) = self.initiator.poll_transmit(&mut self.buf) {
            if let Ok(t) = t {
                self.to_responder.push(self.buf[..t.len].to_vec());
                self.log.push((End::Initiator, self.buf[..t.len].to_vec()));
            }
        }
        while self.initiator.poll_event().is_some() {}
        while let Some(t) = self.responder.poll_transmit(&mut self.buf) {
            if let Ok(t) = t {
                self.to_initiator.push(self.buf[..t.len].to_vec());
                self.log.push((End::Responder, self.buf[..t.len].to_vec()));
            }
        }
        while self.responder.poll_event().is_some() {}
    }

    /// Delivers everything queued for `to`.
    pub fn deliver(&mut self, to: End) {
        let queue = match to {
            End::Initiator => std::mem::take(&mut self.to_initiator),
            End::Responder => std::mem::take(&mut self.to_responder),
        };
        for d in queue {
            self.feed(to, &d);
        }
    }

    /// Delivers both ways until both are quiet (bounded: a run of the fuzzer's making may
    /// leave the ends talking past each other).
    pub fn exchange_all(&mut self) {
        for _ in 0..16 {
            self.collect();
            if self.to_initiator.is_empty() && self.to_responder.is_empty() {
                return;
            }
            self.deliver(End::Responder);
            self.deliver(End::Initiator);
        }
    }

    /// Hands `datagram` to `to` as if it came from the other end, then collects what it sent.
    pub fn feed(&mut self, to: End, datagram: &[u8]) {
        match to {
            End::Initiator => {
                self.initiator.handle_datagram(self.now, addr(SERVER), addr(CLIENT), datagram)
            }
            End::Responder => {
                self.responder.handle_datagram(self.now, addr(CLIENT), addr(SERVER), datagram)
            }
        }
        self.collect();
    }

    /// The datagrams `end` sent since the last call.
    pub fn take_log(&mut self, end: End) -> Vec<Vec<u8>> {
        let (mine, others): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.log).into_iter().partition(|(from, _)| *from == end);
        self.log = others;
        mine.into_iter().map(|(_, d)| d).collect()
    }

    /// Forgets what is queued and logged: from here on the fuzzer speaks for both peers.
    pub fn clear(&mut self) {
        self.to_initiator.clear();
        self.to_responder.clear();
        self.log.clear();
    }

    /// Advances the clock and lets both ends act on their timers.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.initiator.handle_timeout(self.now);
        self.responder.handle_timeout(self.now);
        self.collect();
    }

    /// The IKE SA of `end` (the responder's newest live one).
    pub fn sa(&mut self, end: End) -> Option<&mut IkeSa> {
        match end {
            End::Initiator => Some(&mut self.initiator),
            End::Responder => {
                let spi =
                    self.responder.sas().filter(|sa| !sa.is_closed()).map(IkeSa::id).last()?;
                self.responder.sa_mut(spi)
            }
        }
    }

    /// The keys of the IKE SA `to` holds for messages sent by the original initiator, or by
    /// the original responder.
    pub fn protector(
        &mut self,
        to: End,
        by_original_initiator: bool,
    ) -> Option<(HeaderRepr, Protector)> {
        let sa = self.sa(to)?;
        let keys = sa.export_keys_for_debugging()?;
        let (e, a) =
            if by_original_initiator { (keys.sk_ei, keys.sk_ai) } else { (keys.sk_er, keys.sk_ar) };
        let protector =
            keys.suite.suite.key(AeadBackend::default(), e.expose(), a.expose()).ok()?;
        let header = HeaderRepr {
            spi_i: keys.spi_i,
            spi_r: keys.spi_r,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::INFORMATIONAL,
            flags: Flags { initiator: by_original_initiator, version: false, response: false },
            message_id: 0,
            length: HEADER_LEN as u32,
        };
        Some((header, protector))
    }

    fn next_iv(&mut self, len: usize) -> Vec<u8> {
        self.iv_counter += 1;
        let mut iv = vec![0u8; len];
        for (b, c) in iv.iter_mut().rev().zip(self.iv_counter.to_le_bytes()) {
            *b = c;
        }
        iv
    }

    /// Seals `content` as the plaintext of an SK payload (or of one SKF fragment) in a message
    /// from the other end to `to`, with the IKE SA's current keys. `None` once `to` holds no
    /// keys (closed).
    #[allow(clippy::too_many_arguments)]
    pub fn seal_for(
        &mut self,
        to: End,
        exchange: ExchangeType,
        response: bool,
        message_id: u32,
        first_inner: PayloadType,
        fragment: Option<FragmentInfo>,
        content: &[u8],
    ) -> Option<Vec<u8>> {
        let from_original_initiator = self.sa(to)?.side() == Side::Responder;
        let (mut header, protector) = self.protector(to, from_original_initiator)?;
        header.exchange = exchange;
        header.flags.response = response;
        header.message_id = message_id;
        let iv = self.next_iv(protector.iv_len());
        sk::seal_content(&header, &[], first_inner, fragment, content, &protector, &iv).ok()
    }

    /// A message the other end really sent toward `to` (`template`), opened with the IKE SA's
    /// keys, its plaintext changed by `edit`, and sealed again with the same header: the
    /// fuzzer's changes to a well-formed, correctly authenticated exchange. `None` if the
    /// template does not open under the current keys.
    pub fn reseal(
        &mut self,
        to: End,
        template: &[u8],
        edit: impl FnOnce(&mut PayloadType, &mut Vec<u8>),
    ) -> Option<Vec<u8>> {
        let header = HeaderRepr::parse(template).ok()?;
        let (_, protector) = self.protector(to, header.flags.initiator)?;
        let mut opened = sk::open(template, &protector).ok()?;
        edit(&mut opened.first_inner, &mut opened.plaintext);
        let iv = self.next_iv(protector.iv_len());
        sk::seal_content(
            &header,
            &[],
            opened.first_inner,
            opened.fragment,
            &opened.plaintext,
            &protector,
            &iv,
        )
        .ok()
    }
}

/// The header fields of a datagram one end sent, for keeping message IDs in step.
pub fn header_of(datagram: &[u8]) -> Option<HeaderRepr> {
    HeaderRepr::parse(datagram).ok()
}
