//! The XAUTH, mode config and informational messages of strongSwan's `v1-aggr` capture
//! (see `quick::kat_tests`) read by our code as the testbed configured them.

use ikeway_crypto::SecretBytes;
use ikeway_isakmp::{ExchangeType, NotifyType, Payload};
use ikeway_sa::ConfigReceived;

use super::{modecfg, xauth};
use crate::quick::kat_tests::{Message, capture, hex};

/// The testbed's XAUTH user (`/work/ikev1-data/SOURCES.md`; a made-up test value).
fn users() -> Vec<(String, SecretBytes)> {
    vec![("alice".into(), SecretBytes::from_slice(b"ikeway alice XAUTH pw"))]
}

#[test]
fn the_xauth_mode_config_and_informational_payloads_read_as_configured() {
    let (data, msgs) = capture();
    let attrs = |m: &Message| match &m.payloads[..] {
        [Payload::Attribute(a)] => a.clone(),
        other => panic!("one attribute payload, not {other:?}"),
    };
    let tx: Vec<&Message> =
        msgs.iter().filter(|m| m.header.exchange == ExchangeType::TRANSACTION).collect();
    // Gateway REQUEST, client REPLY, gateway SET (status), client ACK, client REQUEST,
    // gateway REPLY.
    assert_eq!(tx.len(), 6);
    let asked = xauth::read_request(&attrs(tx[0]).attributes);
    assert!(asked.is_some(), "a generic user name and password request");
    assert!(xauth::check_reply(&attrs(tx[1]).attributes, &users()));
    assert_eq!(xauth::status(&attrs(tx[2]).attributes), Some(xauth::STATUS_OK));
    let got = modecfg::read(&attrs(tx[5]).attributes);
    let (config, banner) = (got.config, got.banner);
    // The testbed's pool: 10.88.1.0/24, DNS 10.77.0.53, attributes 28672 (banner) and
    // 28674 (default domain); the split-include comes from the connection's local subnet.
    assert_eq!(
        config,
        ConfigReceived {
            addresses: vec![("10.88.1.1".parse().unwrap(), 32)],
            dns: vec!["10.77.0.53".parse().unwrap()],
            dns_domains: vec!["corp.ikeway.test".into()],
            subnets: vec![("10.77.0.0".parse().unwrap(), 24)],
        }
    );
    assert_eq!(banner.as_deref(), Some("Welcome to the ikeway IKEv1 testbed"));
    // DPD: an R-U-THERE and its ACK with the same number, about this ISAKMP SA.
    let cookies = [hex(&data["icookie"]), hex(&data["rcookie"])].concat();
    let info: Vec<&Message> =
        msgs.iter().filter(|m| m.header.exchange == ExchangeType::INFORMATIONAL).collect();
    let notify = |m: &Message| match &m.payloads[..] {
        [Payload::Notification(n)] => Some(n.clone()),
        _ => None,
    };
    let (ask, ack) = (notify(info[0]).unwrap(), notify(info[1]).unwrap());
    assert_eq!((ask.kind, ack.kind), (NotifyType::R_U_THERE, NotifyType::R_U_THERE_ACK));
    assert_eq!(ask.dpd_sequence(), ack.dpd_sequence());
    assert_eq!(ask.spi, cookies);
}
