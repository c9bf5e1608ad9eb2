//! IKE fragmentation (RFC 7383): a small maximum message size forces SKF fragments both ways.

mod common;

use std::sync::Arc;

use common::{Pair, client_config, server_config};
use ikeway_codec::{IdRepr, IdValue};
use ikeway_sa::InsecureKexForFuzzing;

#[test]
fn ike_auth_is_fragmented_and_reassembled() {
    let mut client = client_config();
    client.max_message_len = 200;
    // A long identity makes IKE_AUTH larger than 200 bytes.
    let long = format!("{}.example.org", "x".repeat(300));
    client.local_id = IdRepr::from_value(IdValue::Fqdn(&long));
    let mut server = server_config();
    server.max_message_len = 200;
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), 41);
    pair.establish();
    pair.assert_children_agree();
    // IKE_SA_INIT is never fragmented; IKE_AUTH went as several SKF messages.
    assert!(pair.sent_to_responder >= 4, "{}", pair.sent_to_responder);
    let skf = pair.transcript.iter().filter(|m| m.len() > 16 && m[16] == 53).count();
    assert!(skf >= 3, "{skf} fragments");
    assert!(pair.transcript.iter().all(|m| m.len() <= 200 || m[16] != 53));
}
