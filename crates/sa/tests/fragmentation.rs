//! IKE fragmentation (RFC 7383): a small maximum message size forces SKF fragments both ways.

mod common;

use std::sync::Arc;

use common::{Pair, fragmenting_configs};
use ikeway_sa::InsecureKexForFuzzing;

#[test]
fn ike_auth_is_fragmented_and_reassembled() {
    let (client, server) = fragmenting_configs(300);
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), 41);
    pair.establish();
    pair.assert_children_agree();
    // IKE_SA_INIT is never fragmented; IKE_AUTH went as several SKF messages.
    assert!(pair.sent_to_responder >= 4, "{}", pair.sent_to_responder);
    let skf = pair.transcript.iter().filter(|m| m.len() > 16 && m[16] == 53).count();
    assert!(skf >= 3, "{skf} fragments");
    assert!(pair.transcript.iter().all(|m| m.len() <= 200 || m[16] != 53));
}
