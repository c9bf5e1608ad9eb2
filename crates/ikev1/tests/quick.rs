//! Quick mode in memory, both roles: main mode then quick mode with PFS, the suites and
//! lifetimes agreed, refusals, rekeys started by either side (and by the clock), a lost
//! message 3, deletes from the peer, and UDP encapsulation behind a NAT.

mod quick_pair;

use std::time::Duration;

use ikeway_codec::DhGroup;
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity, SecretBytes};
use ikeway_ikev1::quick::EspProposal;
use ikeway_ikev1::{Config, Identity, Phase1Mode};
use ikeway_isakmp::ExchangeType;
use ikeway_sa::CloseReason;
use quick_pair::*;

/// Main mode with a shared secret, no XAUTH and no mode config: quick mode between the two
/// IKE addresses.
fn main_client() -> Config {
    let mut c =
        Config::psk(Identity::Ipv4("10.0.0.1".parse().unwrap()), SecretBytes::from_slice(PSK));
    c.mode = Phase1Mode::Main;
    c
}

fn main_gateway(_: std::sync::Arc<ikeway_sa::AddressAllocator>) -> Config {
    let mut c =
        Config::psk(Identity::Ipv4("10.0.0.2".parse().unwrap()), SecretBytes::from_slice(PSK));
    c.mode = Phase1Mode::Main;
    c
}

fn aes_cbc_sha256() -> EspProposal {
    EspProposal {
        encryption: Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
        integrity: Some(Integrity::HmacSha256_128),
    }
}

#[test]
fn main_mode_then_quick_mode_with_pfs_installs_one_sa_with_the_pfs_group() {
    let mut c = main_client();
    c.quick.pfs = Some(DhGroup(19));
    let p = Pair::connected(c, main_gateway);
    let (ci, gi) = (installed(&p.client_events), installed(p.gw_plain_events()));
    assert_eq!((ci.len(), gi.len()), (1, 1));
    assert_mirrored(ci[0], gi[0]);
    assert_eq!(ci[0].suite.group, Some(DhGroup(19)));
    // No client IDs: the SA is for the two IKE addresses.
    assert_eq!(ci[0].local_ts, vec![host_ts("10.0.0.1")]);
    assert_eq!(ci[0].remote_ts, vec![host_ts("10.0.0.2")]);
    // The first suite both have: AES-GCM-16-256 (no integrity key).
    assert_eq!(ci[0].suite.suite.encryption(), Encryption::Aead(AeadAlgorithm::AES256_GCM16));
    assert_eq!(ci[0].inbound.encryption.len(), 36);
    assert!(ci[0].inbound.integrity.is_empty());
    let kinds: Vec<_> = p.wire.iter().filter_map(Sent::exchange).collect();
    assert_eq!(kinds.iter().filter(|k| **k == ExchangeType::MAIN).count(), 6);
    assert_eq!(kinds.iter().filter(|k| **k == ExchangeType::QUICK).count(), 3);
}

#[test]
fn without_pfs_the_keys_differ_from_a_pfs_run_and_no_group_is_reported() {
    let plain = Pair::connected(main_client(), main_gateway);
    let mut c = main_client();
    c.quick.pfs = Some(DhGroup(19));
    let pfs = Pair::connected(c, main_gateway);
    let (a, b) = (installed(&plain.client_events)[0], installed(&pfs.client_events)[0]);
    assert_eq!(a.suite.group, None);
    assert_ne!(a.inbound.encryption.expose(), b.inbound.encryption.expose());
}

#[test]
fn the_gateway_takes_the_first_offered_suite_it_has() {
    let mut c = main_client();
    c.quick.proposals = vec![
        EspProposal {
            encryption: Encryption::Cipher(BlockCipher::TripleDesCbc),
            integrity: Some(Integrity::HmacSha1_96),
        },
        aes_cbc_sha256(),
    ];
    let p = Pair::connected(c, |a| {
        let mut g = main_gateway(a);
        g.quick.proposals = vec![aes_cbc_sha256()];
        g
    });
    let ci = installed(&p.client_events);
    assert_eq!(ci.len(), 1);
    assert_eq!(ci[0].suite.suite.encryption(), aes_cbc_sha256().encryption);
    assert_eq!(ci[0].suite.suite.integrity(), Some(Integrity::HmacSha256_128));
    assert_eq!((ci[0].inbound.encryption.len(), ci[0].inbound.integrity.len()), (16, 32));
    assert_mirrored(ci[0], installed(p.gw_plain_events())[0]);
}

#[test]
fn no_common_suite_is_refused_with_no_proposal_chosen_and_the_isakmp_sa_stays() {
    let mut c = main_client();
    c.quick.proposals = vec![aes_cbc_sha256()];
    let p = Pair::connected(c, |a| {
        let mut g = main_gateway(a);
        g.quick.proposals = vec![EspProposal {
            encryption: Encryption::Aead(AeadAlgorithm::AES256_GCM16),
            integrity: None,
        }];
        g
    });
    let refused: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![ikeway_codec::NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(installed(&p.client_events).is_empty());
    assert!(installed(p.gw_plain_events()).is_empty());
    assert!(p.client.is_established());
    assert!(closed(&p.client_events).is_empty());
}

#[test]
fn a_gateway_requiring_pfs_refuses_a_client_without_it() {
    let p = Pair::connected(main_client(), |a| {
        let mut g = main_gateway(a);
        g.quick.pfs = Some(DhGroup(14));
        g
    });
    assert!(installed(&p.client_events).is_empty());
    assert_eq!(p.client.child_spis(), vec![]);
}

#[test]
fn the_responders_shorter_lifetime_holds_on_both_sides() {
    let p = Pair::connected(main_client(), |a| {
        let mut g = main_gateway(a);
        g.quick.lifetime = Duration::from_secs(900);
        g
    });
    let (ci, gi) = (installed(&p.client_events), installed(p.gw_plain_events()));
    assert_eq!(ci[0].lifetime, Duration::from_secs(900), "RESPONDER-LIFETIME honoured");
    assert_eq!(gi[0].lifetime, Duration::from_secs(900));
}

/// The one rekey: the old SA out, a new one in that names it, on both sides.
fn assert_rekeyed(p: &Pair, old_client: (u32, u32)) {
    let ci = installed(&p.client_events);
    let gi = installed(p.gw_plain_events());
    assert_eq!((ci.len(), gi.len()), (2, 2));
    assert_eq!(ci[1].replaces, Some(old_client.0));
    assert_eq!(gi[1].replaces, Some(old_client.1));
    assert_mirrored(ci[1], gi[1]);
    assert_ne!(ci[1].spi_in, old_client.0);
    assert_eq!(removed(&p.client_events), vec![old_client]);
    assert_eq!(removed(p.gw_plain_events()), vec![(old_client.1, old_client.0)]);
    assert_eq!(p.client.child_spis(), vec![(ci[1].spi_in, ci[1].spi_out)]);
}

#[test]
fn a_rekey_started_by_the_client_replaces_the_sa_on_both_sides() {
    let mut p = Pair::connected(main_client(), main_gateway);
    let old = p.client.child_spis()[0];
    let now = p.now;
    p.client.rekey_child(now, old.0);
    p.run();
    assert_rekeyed(&p, old);
}

#[test]
fn a_rekey_started_by_the_gateway_replaces_the_sa_on_both_sides() {
    let mut p = Pair::connected(main_client(), main_gateway);
    let old = p.client.child_spis()[0];
    assert_eq!(p.gw_sa().child_spis(), vec![(old.1, old.0)]);
    p.gw_command(|gw, now| gw.rekey_child(now, old.1));
    assert_rekeyed(&p, old);
}

#[test]
fn the_client_rekeys_by_itself_before_the_lifetime_ends() {
    let mut c = main_client();
    c.quick.lifetime = Duration::from_secs(600);
    c.quick.rekey_margin = Duration::from_secs(60);
    c.informational.dpd = None;
    let mut p = Pair::connected(c, |a| {
        let mut g = main_gateway(a);
        g.informational.dpd = None;
        g
    });
    let old = p.client.child_spis()[0];
    p.advance(Duration::from_secs(539));
    assert_eq!(installed(&p.client_events).len(), 1, "not yet");
    p.advance(Duration::from_secs(1));
    assert_rekeyed(&p, old);
    // The new SA is rekeyed in turn 540 s later; the ISAKMP SA never went away.
    p.advance(Duration::from_secs(540));
    assert_eq!(installed(&p.client_events).len(), 3);
    assert!(p.client.is_established());
}

#[test]
fn a_lost_message_3_is_sent_again_when_the_gateway_resends_message_2() {
    let mut p = Pair::new(main_client(), main_gateway);
    let mut quick_sent = 0;
    p.filter = Box::new(move |s| {
        // The client's second quick mode message is message 3: drop it, once.
        if s.to_gateway && s.exchange() == Some(ExchangeType::QUICK) {
            quick_sent += 1;
            return quick_sent != 2;
        }
        true
    });
    p.run();
    assert_eq!(installed(&p.client_events).len(), 1, "the client installs on message 2");
    assert!(installed(p.gw_plain_events()).is_empty(), "the gateway waits for message 3");
    p.advance(Duration::from_secs(1));
    assert_eq!(p.client.stats().replayed_responses, 1);
    assert_eq!(installed(p.gw_plain_events()).len(), 1);
    assert_mirrored(installed(&p.client_events)[0], installed(p.gw_plain_events())[0]);
}

/// strongSwan resends message 2 for up to about 90 s (5 tries from 4 s, factor 1.8) and
/// libreswan for up to 60 s: message 3 is kept long enough to answer a late one. Here the
/// gateway's resends of the first 20 s are lost too (1, 3, 7 and 15 s), and its last one, at
/// 31 s, is answered.
#[test]
fn message_3_is_still_sent_again_for_a_message_2_repeated_half_a_minute_later() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut p = Pair::new(main_client(), main_gateway);
    let lossy = Arc::new(AtomicBool::new(true));
    let still_lossy = Arc::clone(&lossy);
    let mut quick_sent = 0;
    p.filter = Box::new(move |s| {
        if s.exchange() != Some(ExchangeType::QUICK) {
            return true;
        }
        if s.to_gateway {
            quick_sent += 1;
            return quick_sent != 2;
        }
        // The gateway's message 2: the first gets through, its resends while lossy do not.
        !still_lossy.load(Ordering::Relaxed) || quick_sent < 2
    });
    p.run();
    assert_eq!(installed(&p.client_events).len(), 1);
    p.advance(Duration::from_secs(20));
    assert!(installed(p.gw_plain_events()).is_empty(), "every repeat so far was lost");
    lossy.store(false, Ordering::Relaxed);
    p.advance(Duration::from_secs(20));
    assert_eq!(p.client.stats().replayed_responses, 1);
    assert_eq!(installed(p.gw_plain_events()).len(), 1);
}

#[test]
fn an_esp_delete_from_the_gateway_removes_the_sa_the_isakmp_sa_stays_and_the_client_makes_it_again()
{
    let mut p = Pair::connected(main_client(), main_gateway);
    let old = p.client.child_spis()[0];
    p.gw_command(|gw, now| gw.delete_child(now, old.1));
    assert_eq!(removed(&p.client_events), vec![old]);
    assert_eq!(removed(p.gw_plain_events()), vec![(old.1, old.0)]);
    // The client makes the connection's SA again (`peer_delete.rs`).
    let new = p.client.child_spis();
    assert_eq!(new.len(), 1);
    assert!(new[0] != old);
    assert!(p.client.is_established());
}

#[test]
fn a_delete_of_the_isakmp_sa_from_the_gateway_closes_the_client_and_its_esp_sas() {
    let mut p = Pair::connected(main_client(), main_gateway);
    let old = p.client.child_spis()[0];
    p.gw_command(|gw, now| gw.delete_ike(now));
    assert_eq!(removed(&p.client_events), vec![old]);
    assert_eq!(closed(&p.client_events), vec![CloseReason::DeletedByPeer]);
    assert_eq!(closed(p.gw_plain_events()), vec![CloseReason::Deleted]);
    assert!(p.client.is_closed());
}

#[test]
fn the_client_deleting_everything_closes_the_gateway_side_too() {
    let mut p = Pair::connected(client(), gateway);
    let now = p.now;
    p.client.delete_ike(now);
    p.run();
    assert_eq!(closed(&p.client_events), vec![CloseReason::Deleted]);
    assert_eq!(closed(p.gw_plain_events()), vec![CloseReason::DeletedByPeer]);
    assert_eq!(removed(p.gw_plain_events()).len(), 1);
    assert_eq!(p.allocator.leased(), 0, "the address went back to the pool");
}

#[test]
fn behind_a_nat_esp_is_udp_encapsulated_on_port_4500() {
    let mut p = Pair::new(main_client(), main_gateway);
    p.nat = Some(("10.0.0.1".parse().unwrap(), "192.0.2.7".parse().unwrap()));
    p.run();
    let (ci, gi) = (installed(&p.client_events), installed(p.gw_plain_events()));
    assert_eq!((ci.len(), gi.len()), (1, 1));
    assert!(ci[0].udp_encapsulation && gi[0].udp_encapsulation);
    assert_eq!(ci[0].remote, addr("10.0.0.2:4500"));
    assert_eq!(gi[0].remote, addr("192.0.2.7:14500"));
    // Without client IDs each side names the addresses it sees: the NAT's outside one on
    // the gateway.
    assert_eq!(ci[0].local_ts, vec![host_ts("10.0.0.1")]);
    assert_eq!(gi[0].remote_ts, vec![host_ts("192.0.2.7")]);
    assert_eq!((ci[0].spi_in, ci[0].spi_out), (gi[0].spi_out, gi[0].spi_in));
    assert_eq!(ci[0].inbound.encryption.expose(), gi[0].outbound.encryption.expose());
    assert_eq!(ci[0].outbound.encryption.expose(), gi[0].inbound.encryption.expose());
}

fn refusals(p: &Pair) -> Vec<ikeway_codec::NotifyType> {
    p.client_events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect()
}

#[test]
fn lifetimes_under_a_minute_are_refused_from_either_side() {
    // The client offers 30 s: the gateway finds no acceptable transform.
    let mut c = main_client();
    c.quick.lifetime = Duration::from_secs(30);
    let p = Pair::connected(c, main_gateway);
    assert_eq!(refusals(&p), vec![ikeway_codec::NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(installed(p.gw_plain_events()).is_empty());
    // The gateway answers with a RESPONDER-LIFETIME of 30 s: the client does not take it
    // and sends no message 3, so neither side installs anything.
    let p = Pair::connected(main_client(), |a| {
        let mut g = main_gateway(a);
        g.quick.lifetime = Duration::from_secs(30);
        g
    });
    assert_eq!(refusals(&p), vec![ikeway_codec::NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(installed(&p.client_events).is_empty());
    assert!(installed(p.gw_plain_events()).is_empty());
    assert!(p.client.is_established());
}

#[test]
fn the_gateway_rekeys_the_sa_of_a_client_with_a_mode_config_address() {
    // The gateway's quick mode names its side first (IDci 192.168.10.0/24, the split
    // network the client asked for) and the client's address second (IDcr 10.9.0.10/32):
    // the client takes it as the rekey of its SA.
    let mut p = Pair::connected(client(), gateway);
    let old = p.client.child_spis()[0];
    p.gw_command(|gw, now| gw.rekey_child(now, old.1));
    assert_rekeyed(&p, old);
    let fresh = installed(&p.client_events)[1];
    assert_eq!(fresh.local_ts, vec![host_ts("10.9.0.10")]);
    assert_eq!(fresh.remote_ts, vec![net_ts("192.168.10.0", "192.168.10.255")]);
    assert!(p.client.stats().dropped_unexpected == 0);
}

#[test]
fn a_quick_mode_from_the_gateway_for_another_client_address_is_refused() {
    // The gateway starts a quick mode naming an address that is not the client's lease (a
    // misconfigured or hostile gateway): INVALID-ID-INFORMATION, nothing installed.
    let mut p = Pair::connected(client(), |a| {
        let mut g = gateway(a);
        g.quick.remote = Some(ikeway_ikev1::quick::Subnet::host("10.9.0.99".parse().unwrap()));
        g
    });
    // The client's own first quick mode (for its lease, 10.9.0.10) is up.
    assert_eq!(installed(&p.client_events).len(), 1);
    p.gw_command(|gw, now| gw.create_child(now));
    assert_eq!(installed(&p.client_events).len(), 1, "nothing more installed");
    let refused: Vec<_> = p
        .gw_plain_events()
        .into_iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect();
    // INVALID-ID-INFORMATION (18) has no IKEv2 name; the number is the same registry slot.
    assert_eq!(refused, vec![ikeway_codec::NotifyType(18)]);
}
