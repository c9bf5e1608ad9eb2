//! RFC 5685 gateway identities: any identity we can emit parses back to itself, and no input
//! makes the parser panic or accept what it cannot emit again byte for byte.

use std::net::{Ipv4Addr, Ipv6Addr};

use ikeway_codec::{Gateway, RedirectRepr};
use proptest::collection::vec;
use proptest::prelude::*;

fn gateway() -> impl Strategy<Value = Gateway> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Gateway::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| Gateway::V6(Ipv6Addr::from(b))),
        "[a-z0-9.-]{1,255}".prop_map(Gateway::Fqdn),
    ]
}

proptest! {
    #[test]
    fn redirect_round_trips(gateway in gateway(), nonce in proptest::option::of(vec(any::<u8>(), 16..=256))) {
        let r = RedirectRepr { gateway, nonce };
        let bytes = r.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), r.buffer_len());
        prop_assert_eq!(RedirectRepr::parse(&bytes).unwrap(), r);
    }

    #[test]
    fn redirected_from_round_trips(gateway in gateway()) {
        let bytes = gateway.to_vec().unwrap();
        prop_assert_eq!(Gateway::parse(&bytes).unwrap(), gateway);
    }

    #[test]
    fn arbitrary_data_parses_only_to_what_emits_back_identically(data in vec(any::<u8>(), 0..300)) {
        if let Ok(r) = RedirectRepr::parse(&data) {
            prop_assert_eq!(r.to_vec().unwrap(), data.clone());
        }
        if let Ok(g) = Gateway::parse(&data) {
            prop_assert_eq!(g.to_vec().unwrap(), data);
        }
    }
}
