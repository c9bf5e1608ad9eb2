//! Simultaneous child rekeys resolved by the nonce rule (RFC 7296 §2.8.1): one new SA
//! survives on both sides, the redundant one and the old one are deleted.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Pair, client_config, server_config};
use ikeway_sa::InsecureKexForFuzzing;

#[test]
fn both_sides_rekey_the_same_child_at_once() {
    for seed in 60..70 {
        let mut pair =
            Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), seed);
        pair.establish();
        let (spi_in, spi_out) = pair.initiator.child_spis()[0];
        pair.initiator.rekey_child(pair.now, spi_in);
        let now = pair.now;
        pair.responder_sa().rekey_child(now, spi_out);
        pair.run_until(Duration::from_secs(20), |_| false);
        let init = pair.initiator.child_spis();
        let resp = pair.responder_sa().child_spis();
        assert_eq!(init.len(), 1, "seed {seed}: initiator kept {init:?}");
        assert_eq!(resp.len(), 1, "seed {seed}: responder kept {resp:?}");
        assert_eq!(
            (init[0].0, init[0].1),
            (resp[0].1, resp[0].0),
            "seed {seed}: the survivors differ"
        );
        assert_ne!(init[0].0, spi_in, "seed {seed}: the old SA survived");
    }
}
