//! A negotiated child SA ([`ikeway_sa::ChildSaInfo`]) in the datapath's terms: both ESP
//! directions and the selector policy. One mapping for every datapath (TUN or userspace
//! netstack), so the keys are cut and named in one place.

use ikeway_codec::TrafficSelector;
use ikeway_crypto::keys::DirectionKeys;
use ikeway_esp::SaConfig;
use ikeway_pump::{ChildSa, Policy, Selector};
use ikeway_sa::ChildSaInfo;

/// The inbound and outbound ESP SAs of a child SA, as the negotiation emitted it (keys already
/// cut from KEYMAT in RFC 7296 §2.17 order).
pub fn esp_configs(c: &ChildSaInfo) -> (SaConfig, SaConfig) {
    let sa = |spi, keys: &DirectionKeys| {
        let mut config =
            SaConfig::new(spi, c.suite.suite, keys.encryption.clone(), keys.integrity.clone());
        config.esn = c.suite.esn;
        config
    };
    (sa(c.spi_in, &c.inbound), sa(c.spi_out, &c.outbound))
}

/// The datapath's form of a child SA: both ESP directions, the selectors, the peer.
pub fn datapath_child(c: &ChildSaInfo) -> ChildSa {
    let (inbound, outbound) = esp_configs(c);
    ChildSa {
        inbound,
        outbound,
        policy: Policy { local: selectors(&c.local_ts), remote: selectors(&c.remote_ts) },
        remote: c.remote,
    }
}

/// Address ranges become selectors; a selector type we do not know selects nothing.
fn selectors(ts: &[TrafficSelector]) -> Vec<Selector> {
    ts.iter()
        .filter_map(|t| match t {
            TrafficSelector::Range(r) => Some(Selector {
                start: r.start,
                end: r.end,
                protocol: r.ip_protocol,
                start_port: r.start_port,
                end_port: r.end_port,
            }),
            TrafficSelector::Other { .. } => None,
        })
        .collect()
}
