//! Full handshakes with the real key exchange for every group, and a CREATE_CHILD_SA with PFS.

mod common;

use std::sync::Arc;

use common::{Pair, To, client_config, server_config};
use ikeway_codec::DhGroup;
use ikeway_sa::{DefaultKex, Event};

#[test]
fn handshake_with_each_real_group() {
    for (i, group) in [
        DhGroup::CURVE25519,
        DhGroup::ECP_256,
        DhGroup::ECP_384,
        DhGroup::MODP_2048,
        DhGroup::MODP_3072,
        DhGroup::MODP_4096,
    ]
    .into_iter()
    .enumerate()
    {
        let mut client = client_config();
        for p in &mut client.ike_proposals {
            p.groups = vec![group];
        }
        let mut server = server_config();
        for p in &mut server.ike_proposals {
            p.groups.extend([DhGroup::MODP_3072, DhGroup::MODP_4096]);
        }
        let mut pair = Pair::new(client, server, Arc::new(DefaultKex::default()), 200 + i as u64);
        pair.establish();
        let used = pair.initiator_events.iter().find_map(|e| match e {
            Event::IkeSaUp { suite, .. } => Some(suite.group),
            _ => None,
        });
        assert_eq!(used, Some(group));
        pair.assert_children_agree();
    }
}

#[test]
fn child_with_pfs_uses_a_fresh_key_exchange() {
    let mut client = client_config();
    let mut server = server_config();
    for p in client.esp_proposals.iter_mut().chain(server.esp_proposals.iter_mut()) {
        p.pfs_groups = vec![DhGroup::ECP_256];
    }
    let mut pair = Pair::new(client, server, Arc::new(DefaultKex::default()), 210);
    pair.establish();
    pair.initiator.create_child(pair.now);
    assert!(
        pair.run_until(std::time::Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2)
    );
    let pfs = pair
        .initiator_events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(c.suite.group),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(pfs, vec![None, Some(DhGroup::ECP_256)]);
    pair.assert_children_agree();
}

/// ML-KEM as the IKE_SA_INIT group and as a child's PFS group: the side that answers sends a
/// ciphertext (`KeyExchangeProvider::respond`), not an encapsulation key of its own. ML-KEM-1024
/// is the case that would go wrong silently: its encapsulation key and ciphertext have the
/// same length (1568), so a responder that started its own KEM would produce a KE that parses
/// and keys that differ.
#[test]
fn ml_kem_as_the_ike_group_and_as_a_childs_pfs_group() {
    for (i, group) in [DhGroup::ML_KEM_768, DhGroup::ML_KEM_1024].into_iter().enumerate() {
        let mut client = client_config();
        let mut server = server_config();
        for p in client.ike_proposals.iter_mut().chain(server.ike_proposals.iter_mut()) {
            p.groups = vec![group];
        }
        for p in client.esp_proposals.iter_mut().chain(server.esp_proposals.iter_mut()) {
            p.pfs_groups = vec![group];
        }
        let mut pair = Pair::new(client, server, Arc::new(DefaultKex::default()), 220 + i as u64);
        pair.establish();
        let used = pair.initiator_events.iter().find_map(|e| match e {
            Event::IkeSaUp { suite, .. } => Some(suite.group),
            _ => None,
        });
        assert_eq!(used, Some(group));
        pair.initiator.create_child(pair.now);
        assert!(
            pair.run_until(std::time::Duration::from_secs(10), |p| p.children_up(To::Initiator)
                == 2)
        );
        let pfs: Vec<_> = pair
            .initiator_events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaInstalled(c) => Some(c.suite.group),
                _ => None,
            })
            .collect();
        assert_eq!(pfs, [None, Some(group)]);
        pair.assert_children_agree();
    }
}
