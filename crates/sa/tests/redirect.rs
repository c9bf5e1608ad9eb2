//! IKEv2 redirect (RFC 5685): the exact payloads both sides send, what the initiator follows
//! and what it ignores, and that a responder redirecting in IKE_SA_INIT keeps nothing.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::run::{Run, open_auth, rewrite_auth};
use common::{CLIENT, SERVER, addr, client_config, server_config};
use ikeway_codec::{
    AuthRepr, Flags, Gateway, HeaderRepr, MessageRepr, NotifyRepr, NotifyType, Payload,
    PayloadRepr, PayloadType, RedirectRepr,
};
use ikeway_sa::{
    CloseReason, Config, Event, IkeSa, InsecureKexForFuzzing, RedirectPhase, RedirectPolicy,
    Responder, SaId,
};

const NEXT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);

fn next_gateway() -> Gateway {
    Gateway::V4(NEXT)
}

fn redirecting_server(phase: RedirectPhase, above: usize) -> Config {
    let mut c = server_config();
    c.redirect = Some(RedirectPolicy { gateway: next_gateway(), above, phase });
    c
}

fn supporting_client() -> Config {
    let mut c = client_config();
    c.redirect_supported = true;
    c
}

fn notify_of(payloads: &[Payload], kind: NotifyType) -> Option<&NotifyRepr> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Notify(n) if n.kind == kind => Some(n),
        _ => None,
    })
}

fn nonce_of(message: &MessageRepr) -> Vec<u8> {
    message
        .payloads
        .iter()
        .find_map(|p| match &p.body {
            PayloadRepr::Nonce(n) => Some(n.data.to_vec()),
            _ => None,
        })
        .expect("IKE_SA_INIT request carries Ni")
}

fn redirect_events(events: &[Event]) -> Vec<Gateway> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Redirected { gateway } => Some(gateway.clone()),
            _ => None,
        })
        .collect()
}

/// REDIRECT data: GW Ident Type 1, length 4, 192.0.2.50, then the nonce if any.
fn redirect_data(nonce: Option<&[u8]>) -> Vec<u8> {
    let mut data = vec![1, 4, 192, 0, 2, 50];
    data.extend_from_slice(nonce.unwrap_or_default());
    data
}

#[test]
fn init_redirect_echoes_ni_the_client_follows_and_the_responder_keeps_nothing() {
    let run = Run::new(supporting_client(), redirecting_server(RedirectPhase::Init, 0)).run();

    let request = MessageRepr::parse(&run.sent_by_initiator[0]).unwrap();
    let announced = request.find_notify(NotifyType::REDIRECT_SUPPORTED).expect("announced");
    assert!(announced.data.is_empty());
    assert!(request.find_notify(NotifyType::REDIRECTED_FROM).is_none());

    // §4: HDR(SPIi, 0), N(REDIRECT, type 1, 4, 192.0.2.50, Ni) and nothing else.
    assert_eq!(run.sent_by_responder.len(), 1);
    let reply = MessageRepr::parse(&run.sent_by_responder[0]).unwrap();
    assert_eq!(reply.header.spi_i, request.header.spi_i);
    assert_eq!(reply.header.spi_r, 0);
    assert!(reply.header.flags.response);
    assert_eq!(reply.payload_types(), [PayloadType::NOTIFY]);
    let redirect = reply.find_notify(NotifyType::REDIRECT).unwrap();
    assert_eq!(redirect.data[..], redirect_data(Some(&nonce_of(&request)))[..]);

    assert_eq!(redirect_events(&run.initiator_events), [next_gateway()]);
    assert_eq!(run.initiator_closed(), Some(CloseReason::Redirected));
    assert!(matches!(
        run.initiator_events.as_slice(),
        [Event::Redirected { .. }, Event::IkeSaClosed { reason: CloseReason::Redirected }]
    ));
    // Nothing was keyed, so nothing follows the IKE_SA_INIT request.
    assert_eq!(run.sent_by_initiator.len(), 1);
    assert_eq!(run.responder.stats().redirected_at_init, 1);
    assert!(run.responder_events.is_empty());
    run.assert_responder_empty();
}

#[test]
fn a_client_that_does_not_announce_support_is_served_not_redirected() {
    let run = Run::new(client_config(), redirecting_server(RedirectPhase::Init, 0)).run();
    let request = MessageRepr::parse(&run.sent_by_initiator[0]).unwrap();
    assert!(request.find_notify(NotifyType::REDIRECT_SUPPORTED).is_none());
    assert!(run.both_up());
    assert_eq!(run.responder.stats().redirected_at_init, 0);
    assert!(redirect_events(&run.initiator_events).is_empty());
}

#[test]
fn redirected_from_replaces_redirect_supported_and_still_follows() {
    let mut client = client_config();
    client.redirected_from = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    let run = Run::new(client, redirecting_server(RedirectPhase::Init, 0)).run();
    let request = MessageRepr::parse(&run.sent_by_initiator[0]).unwrap();
    assert!(request.find_notify(NotifyType::REDIRECT_SUPPORTED).is_none());
    let from = request.find_notify(NotifyType::REDIRECTED_FROM).expect("REDIRECTED_FROM");
    assert_eq!(from.data[..], [1, 4, 198, 51, 100, 1]);
    assert_eq!(run.initiator_closed(), Some(CloseReason::Redirected));
}

/// An initiator alone, its IKE_SA_INIT request, and a hand-made response to it.
struct Lone {
    now: Instant,
    sa: IkeSa,
    request: MessageRepr,
}

impl Lone {
    fn new(client: Config) -> Self {
        let now = Instant::now();
        let mut sa = IkeSa::initiate(
            Arc::new(client),
            Arc::new(InsecureKexForFuzzing),
            [3; 32],
            now,
            addr(CLIENT),
            addr(SERVER),
        )
        .unwrap();
        let mut buf = vec![0; 65536];
        let t = sa.poll_transmit(&mut buf).unwrap().unwrap();
        let request = MessageRepr::parse(&buf[..t.len]).unwrap();
        Self { now, sa, request }
    }

    fn answer_with_redirect(&mut self, data: Vec<u8>) {
        let header = HeaderRepr {
            spi_r: 0,
            flags: Flags { initiator: false, response: true, ..Flags::default() },
            ..self.request.header
        };
        let notify = NotifyRepr::new(NotifyType::REDIRECT, data);
        let reply =
            MessageRepr { header, payloads: vec![Payload::new(PayloadRepr::Notify(notify))] };
        self.sa.handle_datagram(self.now, addr(SERVER), addr(CLIENT), &reply.to_vec().unwrap());
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.sa.poll_event().map(|e| e.event)).collect()
    }
}

#[test]
fn init_redirect_with_a_wrong_missing_or_malformed_nonce_is_ignored() {
    let mut lone = Lone::new(supporting_client());
    let ni = nonce_of(&lone.request);
    let mut wrong = ni.clone();
    wrong[0] ^= 1;
    lone.answer_with_redirect(redirect_data(Some(&wrong)));
    lone.answer_with_redirect(redirect_data(None));
    lone.answer_with_redirect(vec![1, 5, 192, 0, 2, 50, 0]);
    assert!(lone.events().is_empty());
    assert!(!lone.sa.is_closed());
    assert_eq!(lone.sa.stats().ignored_redirects, 3);
    // Still waiting: the request goes out again at its retransmission time.
    let mut buf = vec![0; 65536];
    lone.sa.handle_timeout(lone.now + Duration::from_secs(1));
    assert!(lone.sa.poll_transmit(&mut buf).is_some());
    // And the genuine one is followed.
    lone.answer_with_redirect(redirect_data(Some(&ni)));
    assert!(matches!(
        lone.events().as_slice(),
        [Event::Redirected { gateway }, Event::IkeSaClosed { reason: CloseReason::Redirected }]
            if *gateway == next_gateway()
    ));
}

#[test]
fn init_redirect_to_a_client_that_did_not_ask_is_ignored() {
    let mut lone = Lone::new(client_config());
    let ni = nonce_of(&lone.request);
    lone.answer_with_redirect(redirect_data(Some(&ni)));
    assert!(lone.events().is_empty());
    assert!(!lone.sa.is_closed());
    assert_eq!(lone.sa.stats().ignored_redirects, 1);
}

#[test]
fn auth_redirect_after_both_authenticated_replaces_the_child_and_the_client_deletes() {
    let run = Run::new(supporting_client(), redirecting_server(RedirectPhase::Auth, 0)).run();
    // §6: HDR, SK {IDr, AUTH, N(REDIRECT)}: no SA, TS or CP, no nonce in the data.
    let response = run.sent_by_responder.iter().find_map(|d| open_auth(&run.initiator, d)).unwrap();
    let types: Vec<_> = response.iter().map(|p| p.kind()).collect();
    assert_eq!(types, [PayloadType::IDR, PayloadType::AUTH, PayloadType::NOTIFY]);
    assert_eq!(
        notify_of(&response, NotifyType::REDIRECT).unwrap().data[..],
        redirect_data(None)[..]
    );

    assert!(matches!(
        run.initiator_events.as_slice(),
        [
            Event::Authenticating { .. },
            Event::Redirected { gateway },
            Event::IkeSaClosed { reason: CloseReason::Redirected },
        ] if *gateway == next_gateway()
    ));
    // The responder reported it, installed nothing, and forgot the SA on the client's DELETE.
    assert_eq!(redirect_events(&run.responder_events), [next_gateway()]);
    assert!(!run.responder_events.iter().any(|e| matches!(
        e,
        Event::ChildSaInstalled(_) | Event::IkeSaUp { .. } | Event::ConfigReceived(_)
    )));
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

#[test]
fn auth_redirect_without_the_clients_delete_expires_at_the_responder() {
    let mut run = Run::new(supporting_client(), redirecting_server(RedirectPhase::Auth, 0));
    // The client's DELETE is lost.
    run.tamper_request = Some(Box::new(|_, bytes| {
        let h = HeaderRepr::parse(&bytes).unwrap();
        if h.exchange == ikeway_codec::ExchangeType::INFORMATIONAL { vec![0; 3] } else { bytes }
    }));
    run.deliver();
    assert_eq!(run.responder.len(), 1);
    run.advance(Duration::from_secs(31));
    assert_eq!(run.responder_closed(), Some(CloseReason::Expired));
    run.assert_responder_empty();
}

#[test]
fn unauthenticated_auth_redirect_is_not_followed() {
    let mut run = Run::new(supporting_client(), server_config());
    // A REDIRECT slipped into an IKE_AUTH response whose AUTH does not verify.
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            for p in payloads.iter_mut() {
                if let PayloadRepr::Auth(AuthRepr { data, .. }) = &mut p.body {
                    data[0] ^= 1;
                }
            }
            let n = NotifyRepr::new(NotifyType::REDIRECT, redirect_data(None));
            payloads.push(Payload::new(PayloadRepr::Notify(n)));
        })
    }));
    run.deliver();
    assert!(redirect_events(&run.initiator_events).is_empty());
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
}

#[test]
fn auth_redirect_to_a_client_that_did_not_ask_or_malformed_is_ignored() {
    for (client, data) in
        [(client_config(), redirect_data(None)), (supporting_client(), vec![2, 4, 192, 0, 2, 50])]
    {
        let mut run = Run::new(client, server_config());
        run.tamper_response = Some(Box::new(move |sa, bytes| {
            rewrite_auth(sa, bytes, |payloads| {
                let n = NotifyRepr::new(NotifyType::REDIRECT, data.clone());
                payloads.push(Payload::new(PayloadRepr::Notify(n)));
            })
        }));
        run.deliver();
        assert!(run.both_up(), "{:?}", run.initiator_events);
        assert!(redirect_events(&run.initiator_events).is_empty());
        assert_eq!(run.initiator.stats().ignored_redirects, 1);
    }
}

fn responder_sa(run: &mut Run) -> &mut IkeSa {
    let id = SaId::from_spi(run.initiator.spis().1);
    run.responder.sa_mut(id).expect("responder holds the SA")
}

#[test]
fn established_redirect_is_answered_then_the_client_deletes_and_leaves() {
    let mut run = Run::new(supporting_client(), server_config()).run();
    assert!(run.both_up());
    let leased = run.responder.leased();
    assert!(leased > 0);
    let now = run.now;
    let fqdn = Gateway::Fqdn("vpn2.example.org".into());
    responder_sa(&mut run).redirect(now, fqdn.clone()).unwrap();
    let sent_before = run.sent_by_responder.len();
    run.deliver();

    // §5: an INFORMATIONAL request whose only payload is N(REDIRECT, type 3, FQDN).
    let request = &run.sent_by_responder[sent_before];
    let header = HeaderRepr::parse(request).unwrap();
    assert_eq!(header.exchange, ikeway_codec::ExchangeType::INFORMATIONAL);
    assert!(!header.flags.response);
    let opened = ikeway_codec::sk::open(request, &common::run::protector(&run.initiator, false))
        .unwrap()
        .payloads()
        .unwrap();
    assert_eq!(opened.len(), 1);
    let data = &notify_of(&opened, NotifyType::REDIRECT).unwrap().data;
    assert_eq!(data.as_slice(), b"\x03\x10vpn2.example.org");
    assert_eq!(RedirectRepr::parse(data).unwrap().gateway, fqdn);

    let tail: Vec<_> = run
        .initiator_events
        .iter()
        .skip_while(|e| !matches!(e, Event::Redirected { .. }))
        .collect();
    assert!(matches!(
        tail.as_slice(),
        [Event::Redirected { gateway }, Event::ChildSaRemoved { .. }, Event::IkeSaClosed {
            reason: CloseReason::Redirected
        }] if *gateway == fqdn
    ));
    assert_eq!(redirect_events(&run.responder_events), [fqdn]);
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

#[test]
fn established_redirect_needs_a_client_that_announced_support_and_a_responder() {
    let mut run = Run::new(client_config(), server_config()).run();
    let now = run.now;
    assert_eq!(
        responder_sa(&mut run).redirect(now, next_gateway()),
        Err(ikeway_sa::Error::PeerCannotBeRedirected)
    );
    let mut run = Run::new(supporting_client(), server_config()).run();
    assert_eq!(
        run.initiator.redirect(now, next_gateway()),
        Err(ikeway_sa::Error::PeerCannotBeRedirected)
    );
    assert_eq!(
        responder_sa(&mut run).redirect(now, Gateway::Fqdn("bad name".into())),
        Err(ikeway_sa::Error::Emit(ikeway_codec::EmitError::Inconsistent(
            "FQDN gateway not 1-255 printable ASCII"
        )))
    );
    run.deliver();
    assert!(run.initiator.is_established());
}

/// Shuttles datagrams between `sa` and `responder` until both are quiet.
fn exchange(now: Instant, sa: &mut IkeSa, responder: &mut Responder) -> Vec<Event> {
    let mut buf = vec![0u8; 65536];
    let mut events = Vec::new();
    for _ in 0..64 {
        let mut moved = false;
        while let Some(t) = sa.poll_transmit(&mut buf) {
            let t = t.unwrap();
            responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while let Some(t) = responder.poll_transmit(&mut buf) {
            let t = t.unwrap();
            sa.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        events.extend(std::iter::from_fn(|| sa.poll_event().map(|e| e.event)));
        while responder.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    events
}

#[test]
fn threshold_serves_the_first_clients_and_redirects_the_rest() {
    let run = Run::new(supporting_client(), redirecting_server(RedirectPhase::Init, 1)).run();
    assert!(run.both_up(), "the first client is served");
    let mut responder = run.responder;
    let second = IkeSa::initiate(
        Arc::new(supporting_client()),
        Arc::new(InsecureKexForFuzzing),
        [9; 32],
        run.now,
        addr("10.0.0.3:500"),
        addr(SERVER),
    );
    let mut second = second.unwrap();
    let events = exchange(run.now, &mut second, &mut responder);
    assert_eq!(redirect_events(&events), [next_gateway()]);
    assert_eq!(responder.stats().redirected_at_init, 1);
    assert_eq!(responder.len(), 1, "only the first client's SA is held");
}
