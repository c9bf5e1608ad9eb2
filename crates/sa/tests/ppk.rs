//! Post-quantum preshared keys (RFC 8784) through whole handshakes: mandatory and optional
//! on each side, with the right PPK, a wrong one, an unknown PPK_ID and none; the notifies
//! each message carries, the close reason on both sides, nothing left at a refusing
//! responder, and the keys: SK_d mixed on both sides alike, child SAs and rekeys from it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::payloads::auth_data;
use common::run::{Run, open_auth, rewrite_auth};
use common::{client_config, server_config};
use ikeway_codec::{
    ExchangeType, HeaderRepr, IdRepr, IdValue, MessageRepr, NotifyType, Payload, PayloadRepr,
};
use ikeway_crypto::SecretBytes;
use ikeway_crypto::keys::DirectionKeys;
use ikeway_pki::{
    CertFailure, Certificate, FixedTime, Identity, PrivateKey, Purpose, UnixTime, Validator,
};
use ikeway_sa::{CloseReason, Config, Event, LocalAuth, PeerAuth, PpkConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

const ID: &[u8] = b"qkd-link-1";

fn right() -> SecretBytes {
    SecretBytes::from_slice(b"0123456789abcdef0123456789abcdef post-quantum")
}

fn wrong() -> SecretBytes {
    SecretBytes::from_slice(b"0123456789abcdef0123456789abcdef not the same")
}

#[derive(Clone, Copy, Debug)]
enum Side {
    /// No PPK configured.
    None,
    Optional(Key),
    Mandatory(Key),
}

#[derive(Clone, Copy, Debug)]
enum Key {
    /// The shared PPK under the shared PPK_ID.
    Right,
    /// Another key under the same PPK_ID.
    Wrong,
    /// The shared PPK under another PPK_ID.
    OtherId,
}

fn ppk(side: Side) -> Option<PpkConfig> {
    let (key, mandatory) = match side {
        Side::None => return None,
        Side::Optional(k) => (k, false),
        Side::Mandatory(k) => (k, true),
    };
    Some(match key {
        Key::Right => PpkConfig::single(ID, right(), mandatory),
        Key::Wrong => PpkConfig::single(ID, wrong(), mandatory),
        Key::OtherId => PpkConfig::single(&b"another-link"[..], right(), mandatory),
    })
}

fn configs(client: Side, server: Side) -> (Config, Config) {
    let (mut c, mut s) = (client_config(), server_config());
    c.ppk = ppk(client);
    s.ppk = ppk(server);
    (c, s)
}

fn run(client: Side, server: Side) -> Run {
    let (c, s) = configs(client, server);
    Run::new(c, s).run()
}

/// A notify's type and data.
type Notify = (NotifyType, Vec<u8>);

fn notifies(payloads: &[Payload]) -> Vec<Notify> {
    payloads
        .iter()
        .filter_map(|p| match &p.body {
            PayloadRepr::Notify(n) => Some((n.kind, n.data.to_vec())),
            _ => None,
        })
        .collect()
}

fn ppk_notifies(payloads: &[Payload]) -> Vec<Notify> {
    notifies(payloads)
        .into_iter()
        .filter(|(k, _)| {
            [NotifyType::USE_PPK, NotifyType::PPK_IDENTITY, NotifyType::NO_PPK_AUTH].contains(k)
        })
        .collect()
}

/// The PPK notifies of both IKE_SA_INIT messages (plaintext).
fn init_ppk_notifies(run: &Run) -> (Vec<Notify>, Vec<Notify>) {
    let parse =
        |bytes: &[u8]| ppk_notifies(&MessageRepr::parse(bytes).expect("IKE_SA_INIT").payloads);
    (parse(&run.sent_by_initiator[0]), parse(&run.sent_by_responder[0]))
}

/// The decrypted first IKE_AUTH request and response (if one came).
fn auth_messages(run: &Run) -> (Option<Vec<Payload>>, Option<Vec<Payload>>) {
    let request = run.sent_by_initiator.iter().find_map(|b| open_auth(&run.initiator, b));
    let response = run.sent_by_responder.iter().find_map(|b| open_auth(&run.initiator, b));
    (request, response)
}

fn use_ppk() -> Vec<Notify> {
    vec![(NotifyType::USE_PPK, Vec::new())]
}

fn ppk_identity() -> Notify {
    (NotifyType::PPK_IDENTITY, [&[2u8][..], ID].concat())
}

/// The first child's keys: (initiator outbound, responder inbound, responder outbound,
/// initiator inbound).
fn child_keys(run: &Run) -> [Vec<u8>; 4] {
    let first = |events: &[Event]| {
        events
            .iter()
            .find_map(|e| match e {
                Event::ChildSaInstalled(c) => Some((copy(&c.outbound), copy(&c.inbound))),
                _ => None,
            })
            .expect("a child SA")
    };
    let (io, ii) = first(&run.initiator_events);
    let (ro, ri) = first(&run.responder_events);
    [io, ri, ro, ii]
}

fn copy(k: &DirectionKeys) -> Vec<u8> {
    [k.encryption.expose(), k.integrity.expose()].concat()
}

fn assert_up_with(run: &Run, id: Option<&[u8]>) {
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_eq!(run.initiator.ppk_id(), id);
    let at_responder: Vec<_> =
        run.responder.sas().map(|s| s.ppk_id().map(<[u8]>::to_vec)).collect();
    assert_eq!(at_responder, vec![id.map(<[u8]>::to_vec)]);
    let [io, ri, ro, ii] = child_keys(run);
    assert_eq!(io, ri);
    assert_eq!(ro, ii);
}

fn assert_refused(run: &Run, initiator: CloseReason, responder: CloseReason) {
    assert_eq!(run.initiator_closed(), Some(initiator), "{:?}", run.initiator_events);
    assert_eq!(run.responder_closed(), Some(responder), "{:?}", run.responder_events);
    run.assert_responder_empty();
}

// ----- both sides with the right PPK -----

#[test]
fn optional_both_ways_uses_the_ppk_and_offers_no_ppk_auth() {
    let run = run(Side::Optional(Key::Right), Side::Optional(Key::Right));
    assert_up_with(&run, Some(ID));
    assert_eq!(init_ppk_notifies(&run), (use_ppk(), use_ppk()));
    let (request, response) = auth_messages(&run);
    let (request, response) = (request.unwrap(), response.unwrap());
    let sent = ppk_notifies(&request);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0], ppk_identity());
    assert_eq!(sent[1].0, NotifyType::NO_PPK_AUTH);
    // A PSK MAC without the PPK: as long as the AUTH's, and another value (SK_pi differs).
    let auth = auth_data(&request);
    assert_eq!(sent[1].1.len(), auth.len());
    assert_ne!(sent[1].1, auth);
    assert_eq!(ppk_notifies(&response), vec![(NotifyType::PPK_IDENTITY, Vec::new())]);
}

#[test]
fn mandatory_initiator_sends_no_no_ppk_auth() {
    let run = run(Side::Mandatory(Key::Right), Side::Optional(Key::Right));
    assert_up_with(&run, Some(ID));
    let (request, response) = auth_messages(&run);
    assert_eq!(ppk_notifies(&request.unwrap()), vec![ppk_identity()]);
    assert_eq!(ppk_notifies(&response.unwrap()), vec![(NotifyType::PPK_IDENTITY, Vec::new())]);
}

#[test]
fn mandatory_both_ways_uses_the_ppk() {
    let run = run(Side::Mandatory(Key::Right), Side::Mandatory(Key::Right));
    assert_up_with(&run, Some(ID));
}

#[test]
fn mandatory_responder_accepts_an_optional_initiator_with_the_ppk() {
    let run = run(Side::Optional(Key::Right), Side::Mandatory(Key::Right));
    assert_up_with(&run, Some(ID));
}

// ----- a wrong PPK under the right PPK_ID: AUTH fails, never a fallback -----

#[test]
fn wrong_ppk_fails_authentication_even_when_optional() {
    for (client, server) in [
        (Side::Optional(Key::Wrong), Side::Optional(Key::Right)),
        (Side::Mandatory(Key::Wrong), Side::Optional(Key::Right)),
        (Side::Optional(Key::Wrong), Side::Mandatory(Key::Right)),
        (Side::Mandatory(Key::Wrong), Side::Mandatory(Key::Right)),
    ] {
        let run = run(client, server);
        assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::AuthenticationFailed);
        let (_, response) = auth_messages(&run);
        assert_eq!(
            notifies(&response.unwrap()),
            vec![(NotifyType::AUTHENTICATION_FAILED, Vec::new())],
            "{client:?} / {server:?}"
        );
    }
}

// ----- a PPK_ID the responder does not know -----

#[test]
fn unknown_ppk_id_falls_back_to_no_ppk_auth_when_both_optional() {
    let run = run(Side::Optional(Key::Right), Side::Optional(Key::OtherId));
    assert_up_with(&run, None);
    let (_, response) = auth_messages(&run);
    assert_eq!(ppk_notifies(&response.unwrap()), vec![]);
}

#[test]
fn unknown_ppk_id_is_refused_by_a_mandatory_responder() {
    let run = run(Side::Optional(Key::Right), Side::Mandatory(Key::OtherId));
    assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::PpkUnknownIdentity);
}

#[test]
fn unknown_ppk_id_without_no_ppk_auth_is_refused() {
    // A mandatory initiator sends no NO_PPK_AUTH: nothing to fall back on.
    let run = run(Side::Mandatory(Key::Right), Side::Optional(Key::OtherId));
    assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::PpkUnknownIdentity);
}

// ----- one side without PPK -----

#[test]
fn optional_responder_serves_a_client_without_ppk() {
    let run = run(Side::None, Side::Optional(Key::Right));
    assert_up_with(&run, None);
    assert_eq!(init_ppk_notifies(&run), (vec![], vec![]));
    let (request, response) = auth_messages(&run);
    assert_eq!(ppk_notifies(&request.unwrap()), vec![]);
    assert_eq!(ppk_notifies(&response.unwrap()), vec![]);
}

#[test]
fn mandatory_responder_refuses_a_client_without_ppk() {
    let run = run(Side::None, Side::Mandatory(Key::Right));
    assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::PpkNotSupportedByPeer);
    assert_eq!(init_ppk_notifies(&run), (vec![], vec![]));
}

#[test]
fn optional_initiator_goes_on_without_ppk_when_the_responder_has_none() {
    let run = run(Side::Optional(Key::Right), Side::None);
    assert_up_with(&run, None);
    assert_eq!(init_ppk_notifies(&run), (use_ppk(), vec![]));
    let (request, _) = auth_messages(&run);
    assert_eq!(ppk_notifies(&request.unwrap()), vec![]);
}

#[test]
fn mandatory_initiator_stops_before_ike_auth_when_the_responder_has_none() {
    let mut run = run(Side::Mandatory(Key::Right), Side::None);
    assert_eq!(run.initiator_closed(), Some(CloseReason::PpkNotSupportedByPeer));
    assert_eq!(init_ppk_notifies(&run), (use_ppk(), vec![]));
    // Only IKE_SA_INIT went out: no IKE_AUTH, not even a notice.
    assert_eq!(run.sent_by_initiator.len(), 1);
    // The responder's half-open SA ends when it times out, and leaves nothing.
    run.advance(Duration::from_secs(31));
    assert_eq!(run.responder_closed(), Some(CloseReason::HandshakeTimeout));
    run.assert_responder_empty();
}

/// A responder that takes the PPK but says nothing (no PPK_IDENTITY in its answer): a
/// mandatory initiator gives up, and tells it.
#[test]
fn mandatory_initiator_gives_up_when_the_answer_has_no_ppk_identity() {
    let (c, s) = configs(Side::Mandatory(Key::Right), Side::Optional(Key::Right));
    let mut run = Run::new(c, s);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |p| {
            p.retain(|p| {
                !matches!(&p.body, PayloadRepr::Notify(n) if n.kind == NotifyType::PPK_IDENTITY)
            });
        })
    }));
    run.deliver();
    assert_eq!(run.initiator_closed(), Some(CloseReason::PpkNotUsedByPeer));
    // Our AUTHENTICATION_FAILED notice (RFC 7296 §2.21.2) deletes the responder's SA.
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// An initiator that announces USE_PPK but sends no PPK_IDENTITY: a mandatory responder
/// refuses it.
#[test]
fn mandatory_responder_refuses_an_ike_auth_without_ppk_identity() {
    let (c, s) = configs(Side::Optional(Key::Right), Side::Mandatory(Key::Right));
    let mut run = Run::new(c, s);
    run.tamper_request = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |p| {
            p.retain(|p| {
                !matches!(&p.body, PayloadRepr::Notify(n)
                if n.kind == NotifyType::PPK_IDENTITY || n.kind == NotifyType::NO_PPK_AUTH)
            });
        })
    }));
    run.deliver();
    assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::PpkNotUsedByPeer);
}

/// A PPK_IDENTITY of an unknown type (3) is an unknown identity.
#[test]
fn ppk_identity_of_unknown_type_is_not_ours() {
    let (c, s) = configs(Side::Optional(Key::Right), Side::Mandatory(Key::Right));
    let mut run = Run::new(c, s);
    run.tamper_request = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |p| {
            for p in p.iter_mut() {
                if let PayloadRepr::Notify(n) = &mut p.body
                    && n.kind == NotifyType::PPK_IDENTITY
                {
                    n.data[0] = 3;
                }
            }
        })
    }));
    run.deliver();
    assert_refused(&run, CloseReason::AuthenticationFailed, CloseReason::PpkUnknownIdentity);
}

// ----- keys -----

/// Same seeds, same IKE_SA_INIT bytes: once with the PPK used, once with the responder not
/// knowing its PPK_ID (so NO_PPK_AUTH carries it through unmixed). The children's keys
/// differ, so SK_d was mixed; in each run both ends agree.
#[test]
fn mixed_sk_d_changes_child_keys_and_both_ends_agree() {
    let mixed = run(Side::Optional(Key::Right), Side::Optional(Key::Right));
    let plain = run(Side::Optional(Key::Right), Side::Optional(Key::OtherId));
    assert_eq!(mixed.sent_by_initiator[0], plain.sent_by_initiator[0]);
    assert_eq!(mixed.sent_by_responder[0], plain.sent_by_responder[0]);
    assert_up_with(&mixed, Some(ID));
    assert_up_with(&plain, None);
    let (m, p) = (child_keys(&mixed), child_keys(&plain));
    assert_ne!(m[0], p[0]);
    assert_ne!(m[2], p[2]);
    // The IKE SA's own encryption keys are not touched by the PPK (RFC 8784 §3).
    let (km, kp) = (
        mixed.initiator.export_keys_for_debugging().unwrap(),
        plain.initiator.export_keys_for_debugging().unwrap(),
    );
    assert_eq!(km.sk_ei.expose(), kp.sk_ei.expose());
    assert_eq!(km.sk_er.expose(), kp.sk_er.expose());
}

/// A child rekey (no PFS: its keys come from SK_d alone) and an IKE rekey after a PPK
/// handshake: both derive from the mixed SK_d, and both ends still agree on the keys.
#[test]
fn rekeys_after_a_ppk_handshake_agree() {
    let (c, s) = configs(Side::Mandatory(Key::Right), Side::Mandatory(Key::Right));
    let mut run = Run::new(c, s).run();
    assert_up_with(&run, Some(ID));
    let spi = run.initiator.child_spis()[0].0;
    run.initiator.rekey_child(run.now, spi);
    run.deliver();
    run.initiator.rekey_ike(run.now);
    run.deliver();
    let installed = |events: &[Event]| {
        events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaInstalled(c) => Some((c.spi_in, copy(&c.inbound), copy(&c.outbound))),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (mine, theirs) = (installed(&run.initiator_events), installed(&run.responder_events));
    assert_eq!(mine.len(), 2, "first child and its rekey");
    for (spi_in, inbound, outbound) in &mine {
        let peer = theirs
            .iter()
            .find(|(_, i, _)| i == outbound)
            .unwrap_or_else(|| panic!("responder has our outbound keys of {spi_in:#x}"));
        assert_eq!(&peer.2, inbound);
    }
    assert!(
        run.initiator_events.iter().any(|e| matches!(e, Event::IkeSaRekeyed { .. })),
        "{:?}",
        run.initiator_events
    );
    assert!(run.initiator.is_established());
    assert_eq!(run.initiator.ppk_id(), Some(ID));
}

// ----- certificates -----

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("rcgen makes Ed25519 keys")
}

/// A root, and end entities for the client and the server issued by it.
fn certificate_configs(client: Side, server: Side) -> (Config, Config) {
    let root_key = key();
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "PPK Test Root");
    let root = params.self_signed(&root_key).expect("root").der().to_vec();
    let issuer = Issuer::new(params, root_key);
    let identity = |dns: &str| {
        let key = key();
        let mut p = CertificateParams::new(vec![dns.to_owned()]).expect("a DNS name");
        p.distinguished_name.push(DnType::CommonName, dns);
        let der = p.signed_by(&key, &issuer).expect("end entity").der().to_vec();
        let key = PrivateKey::from_der(&key.serialize_der()).expect("PKCS#8");
        let chain = vec![Certificate::from_der(der).expect("DER")];
        LocalAuth::Certificate(Arc::new(Identity::new(key, chain).expect("key matches")))
    };
    let verifier = |purpose| {
        let anchor = Certificate::from_der(root.clone()).expect("DER");
        let validator = Validator::new(vec![anchor], purpose);
        let now = UnixTime::since_unix_epoch(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap(),
        );
        PeerAuth::Certificate(Arc::new(FixedTime { validator, now }))
    };
    let (mut c, mut s) = configs(client, server);
    c.local_id = IdRepr::from_value(IdValue::Fqdn("client.example.org"));
    c.local_auth = identity("client.example.org");
    c.peer_auth = verifier(Purpose::Server);
    s.local_id = IdRepr::from_value(IdValue::Fqdn("vpn.example.org"));
    s.local_auth = identity("vpn.example.org");
    s.peer_auth = verifier(Purpose::Client);
    (c, s)
}

#[test]
fn certificates_with_the_ppk() {
    let (c, s) = certificate_configs(Side::Optional(Key::Right), Side::Optional(Key::Right));
    let run = Run::new(c, s).run();
    assert_up_with(&run, Some(ID));
    let (request, _) = auth_messages(&run);
    let request = request.unwrap();
    let sent = ppk_notifies(&request);
    assert_eq!(sent[0], ppk_identity());
    // A second signature, over the octets with the unmixed SK_pi.
    assert_eq!(sent[1].0, NotifyType::NO_PPK_AUTH);
    assert_ne!(sent[1].1, auth_data(&request));
}

#[test]
fn certificates_fall_back_to_the_signature_in_no_ppk_auth() {
    let (c, s) = certificate_configs(Side::Optional(Key::Right), Side::Optional(Key::OtherId));
    let run = Run::new(c, s).run();
    assert_up_with(&run, None);
}

#[test]
fn certificates_with_a_wrong_ppk_fail() {
    let (c, s) = certificate_configs(Side::Optional(Key::Wrong), Side::Mandatory(Key::Right));
    let run = Run::new(c, s).run();
    // The responder checks the signature over octets with SK_pi' from its PPK: it fails
    // like any bad signature.
    assert_refused(
        &run,
        CloseReason::AuthenticationFailed,
        CloseReason::PeerCertificate(CertFailure::BadSignature),
    );
}

// ----- EAP -----

#[test]
fn mandatory_ppk_with_eap_stops_before_ike_auth() {
    let (mut c, s) = configs(Side::Mandatory(Key::Right), Side::Mandatory(Key::Right));
    c.local_auth = LocalAuth::Eap(Arc::new(ikeway_eap::PeerConfig {
        identity: "alice".into(),
        password: Some(SecretBytes::from_slice(b"password")),
        tls: None,
        methods: vec![ikeway_eap::Method::MsChapV2],
    }));
    let run = Run::new(c, s).run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::PpkUnavailableWithEap));
    // Not even USE_PPK: this authentication takes no PPK.
    assert_eq!(init_ppk_notifies(&run), (vec![], vec![]));
    assert_eq!(run.sent_by_initiator.len(), 1);
    let header = HeaderRepr::parse(&run.sent_by_initiator[0]).expect("our header");
    assert_eq!(header.exchange, ExchangeType::IKE_SA_INIT);
}
