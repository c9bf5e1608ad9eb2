//! INVALID_KE_PAYLOAD: the responder asks for another group and the initiator retries with it.

mod common;

use std::sync::Arc;

use common::{Pair, client_config, server_config};
use ikeway_codec::DhGroup;
use ikeway_sa::{Event, InsecureKexForFuzzing};

#[test]
fn initiator_retries_with_the_group_the_responder_asks_for() {
    let mut server = server_config();
    for p in &mut server.ike_proposals {
        p.groups = vec![DhGroup::ECP_384];
    }
    let mut pair = Pair::new(client_config(), server, Arc::new(InsecureKexForFuzzing), 31);
    pair.establish();
    let group = pair.initiator_events.iter().find_map(|e| match e {
        Event::IkeSaUp { suite, .. } => Some(suite.group),
        _ => None,
    });
    assert_eq!(group, Some(DhGroup::ECP_384));
    // The responder answered the first request without keeping state.
    assert_eq!(pair.responder.stats().stateless_replies, 1);
    pair.assert_children_agree();
}
