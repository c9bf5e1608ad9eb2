//! A peer and an authenticator talking through a transcript, as IKE_AUTH would carry them.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_eap::{
    AuthStep, AuthenticatorConfig, EapAuthenticator, EapFailure, EapPeer, EapRepr, Method,
    PeerConfig, PeerStep, Users,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const USERS: &str = "alice : EAP \"correct horse\"\nbob : EAP \"pässwörd\"\n";

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn peer_config(identity: &str, password: Option<&str>, methods: &[Method]) -> Arc<PeerConfig> {
    Arc::new(PeerConfig {
        identity: identity.to_owned(),
        password: password.map(|p| SecretBytes::from_slice(p.as_bytes())),
        tls: None,
        methods: methods.to_vec(),
    })
}

pub fn server_config(methods: &[Method]) -> Arc<AuthenticatorConfig> {
    server_config_with(USERS, methods)
}

pub fn server_config_with(users: &str, methods: &[Method]) -> Arc<AuthenticatorConfig> {
    Arc::new(AuthenticatorConfig {
        methods: methods.to_vec(),
        users: Arc::new(Users::parse(users).expect("test users parse")),
        tls: None,
    })
}

/// The server proved this identity, with this MSK.
pub type Proved = (String, Option<Vec<u8>>);

/// How a conversation ended, on both sides, and every message on the wire in order.
#[derive(Debug)]
pub struct Transcript {
    pub wire: Vec<EapRepr>,
    /// The peer's outcome: the MSK (if any) or why it stopped.
    pub peer: Result<Option<Vec<u8>>, EapFailure>,
    /// The server's outcome: the identity and MSK, or why it failed; `None` when the peer
    /// stopped first.
    pub server: Option<Result<Proved, EapFailure>>,
}

fn bytes(k: Option<SecretBytes>) -> Option<Vec<u8>> {
    k.map(|k| k.expose().to_vec())
}

/// Runs a conversation to its end (both sides use the same seeded generator).
pub fn run(peer: Arc<PeerConfig>, server: Arc<AuthenticatorConfig>, seed: u64) -> Transcript {
    let mut rng = rng(seed);
    let mut peer = EapPeer::new(peer);
    let mut server = EapAuthenticator::new(server);
    let mut wire = Vec::new();
    let mut request = server.start(&mut rng);
    for _ in 0..100 {
        let delivered = on_the_wire(&request);
        wire.push(delivered.clone());
        let response = match peer.handle(&delivered, &mut rng) {
            Ok(PeerStep::Respond(r)) => r,
            Ok(PeerStep::Success { .. }) => panic!("success answered a request"),
            Err(failure) => {
                return Transcript { wire, peer: Err(failure), server: None };
            }
        };
        let response = on_the_wire(&response);
        wire.push(response.clone());
        let (verdict, server_outcome) = match server.handle(&response, &mut rng) {
            AuthStep::Request(next) => {
                request = next;
                continue;
            }
            AuthStep::Success { message, identity, msk } => (message, Ok((identity, bytes(msk)))),
            AuthStep::Failure { message, reason } => (message, Err(reason)),
        };
        let verdict = on_the_wire(&verdict);
        wire.push(verdict.clone());
        let peer_outcome = match peer.handle(&verdict, &mut rng) {
            Ok(PeerStep::Success { msk }) => Ok(bytes(msk)),
            Ok(PeerStep::Respond(r)) => panic!("a response to a verdict: {r:?}"),
            Err(failure) => Err(failure),
        };
        return Transcript { wire, peer: peer_outcome, server: Some(server_outcome) };
    }
    panic!("no end after 100 rounds");
}

/// The message as the other side gets it: emitted and parsed by the codec, as IKE carries it.
pub fn on_the_wire(m: &EapRepr) -> EapRepr {
    let parsed = EapRepr::parse(&emitted(m)).expect("our own messages parse");
    assert_eq!(&parsed, m, "the codec changed a message");
    parsed
}

/// The wire messages as bytes.
pub fn emitted(m: &EapRepr) -> Vec<u8> {
    let mut buf = vec![0; m.buffer_len()];
    let n = m.emit(&mut buf).expect("sized buffer");
    buf.truncate(n);
    buf
}
