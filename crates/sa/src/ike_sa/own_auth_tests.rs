//! A responder whose certificate key cannot sign for its client (RSA, and a client that
//! announced no SIGNATURE_HASH_ALGORITHMS): inside the crate because the client's own AUTH
//! covers its IKE_SA_INIT request, so the announcement can only be taken away from the
//! responder's memory, not from the wire.

use std::net::SocketAddr;

use ikeway_codec::IdValue;
use ikeway_pki::{Certificate, Identity, PrivateKey};

use super::*;
use crate::auth::LocalAuth;
use crate::provider::InsecureKexForFuzzing;
use crate::{Responder, SaId};

/// A self-signed RSA-2048 certificate for `vpn.example.org` and its key.
fn rsa_identity() -> Arc<Identity> {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("aws-lc-rs makes RSA keys");
    let cert = rcgen::CertificateParams::new(vec!["vpn.example.org".to_owned()])
        .expect("a DNS name")
        .self_signed(&key)
        .expect("self-signed");
    let key = PrivateKey::from_der(&key.serialize_der()).expect("PKCS#8");
    let chain = vec![Certificate::from_der(cert.der().to_vec()).expect("DER")];
    Arc::new(Identity::new(key, chain).expect("the key is the certificate's"))
}

#[test]
fn rsa_responder_without_the_clients_hashes_answers_authentication_failed_and_keeps_nothing() {
    let psk = SecretBytes::from_slice(b"the client's pre-shared key");
    let client_addr: SocketAddr = "10.0.0.1:500".parse().unwrap();
    let server_addr: SocketAddr = "10.0.0.2:500".parse().unwrap();
    let client = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example.org")), psk.clone());
    let mut server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example.org")), psk);
    server.local_auth = LocalAuth::Certificate(rsa_identity());
    let kex = Arc::new(InsecureKexForFuzzing);
    let now = Instant::now();
    let mut initiator =
        IkeSa::initiate(Arc::new(client), kex.clone(), [1; 32], now, client_addr, server_addr)
            .expect("initiate");
    let mut responder = Responder::new(Arc::new(server), kex, None, [2; 32]);
    let mut buf = vec![0u8; 65536];
    let mut events = Vec::new();
    for round in 0..4 {
        while let Some(t) = initiator.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
        }
        if round == 0 {
            let id = SaId::from_spi(responder.sas().next().expect("half-open").local_spi());
            let sa = responder.sa_mut(id).expect("held");
            assert!(sa.peer_hashes.is_some(), "our client announced its hashes");
            sa.peer_hashes = None;
        }
        while let Some(t) = responder.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            initiator.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
        }
        while let Some(e) = responder.poll_event() {
            events.push(e.event);
        }
    }
    let closed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaClosed { reason } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [CloseReason::OwnCertificateUnusable]);
    let mut client_closed = None;
    while let Some(e) = initiator.poll_event() {
        if let Event::IkeSaClosed { reason } = e.event {
            client_closed = Some(reason);
        }
    }
    assert_eq!(client_closed, Some(CloseReason::AuthenticationFailed));
    assert!(responder.is_empty());
    assert_eq!(responder.half_open(), 0);
    assert_eq!(responder.held(), crate::Held::default());
}
