//! Under load the responder demands a COOKIE and keeps no state; the initiator retries with it.

mod common;

use std::sync::Arc;

use common::{Pair, client_config, server_config};
use ikeway_sa::InsecureKexForFuzzing;

#[test]
fn initiator_retries_with_the_cookie_and_completes() {
    let mut server = server_config();
    server.cookie_threshold = 0; // demand cookies from the first request on
    let mut pair = Pair::new(client_config(), server, Arc::new(InsecureKexForFuzzing), 21);
    // The first answer is stateless: nothing is kept for the cookie-less request.
    pair.step();
    pair.step();
    assert_eq!(pair.responder.stats().cookies_demanded, 1);
    pair.establish();
    pair.assert_children_agree();
    assert_eq!(pair.responder.stats().cookies_demanded, 1, "the retry carried the right cookie");
}

#[test]
fn half_open_limit_drops_new_requests_without_state() {
    let mut server = server_config();
    server.half_open_limit = 0;
    let mut pair = Pair::new(client_config(), server, Arc::new(InsecureKexForFuzzing), 22);
    pair.run_until(std::time::Duration::from_secs(5), |_| false);
    assert!(pair.responder.is_empty());
    assert!(pair.responder.stats().dropped_half_open_limit >= 2, "{:?}", pair.responder.stats());
}
