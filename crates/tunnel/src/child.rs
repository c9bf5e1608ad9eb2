//! A negotiated child SA ([`ikeway_sa::ChildSaInfo`]) in the datapath's terms: both ESP
//! directions and the selector policy. One mapping for every datapath (TUN or userspace
//! netstack), so the keys are cut and named in one place.

use ikeway_codec::TrafficSelector;
use ikeway_crypto::keys::DirectionKeys;
use ikeway_esp::{Lifetime, SaConfig};
use ikeway_pump::{ChildSa, Policy, Selector};
use ikeway_sa::ChildSaInfo;

/// The inbound and outbound ESP SAs of a child SA, as the negotiation emitted it (keys already
/// cut from KEYMAT in RFC 7296 §2.17 order). A negotiated byte lifetime (IKEv1 kilobytes) is
/// each direction's hard limit; the soft one, at which the datapath asks for the rekey
/// (`SaEvent::RekeyNeeded`, then `SaTable::poll_rekey`), comes a tenth earlier.
pub fn esp_configs(c: &ChildSaInfo) -> (SaConfig, SaConfig) {
    let lifetime = byte_lifetime(c.lifetime_bytes);
    let sa = |spi, keys: &DirectionKeys| {
        let mut config =
            SaConfig::new(spi, c.suite.suite, keys.encryption.clone(), keys.integrity.clone());
        config.esn = c.suite.esn;
        config.lifetime = lifetime;
        config
    };
    (sa(c.spi_in, &c.inbound), sa(c.spi_out, &c.outbound))
}

/// The ESP lifetime of a negotiated byte limit: hard at the limit, soft a tenth before it.
fn byte_lifetime(bytes: Option<u64>) -> Lifetime {
    bytes.map_or_else(Lifetime::default, Lifetime::bytes)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ikeway_codec::DhGroup;
    use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
    use ikeway_esp::{OutboundSa, SaEvent};
    use ikeway_sa::{EspSuite, MAX_ADDITIONAL_KES};

    use super::*;

    fn child(lifetime_bytes: Option<u64>) -> ChildSaInfo {
        let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
        let keys = || DirectionKeys {
            encryption: SecretBytes::from_slice(&[7; 20]),
            integrity: SecretBytes::default(),
        };
        ChildSaInfo {
            spi_in: 0x1000,
            spi_out: 0x2000,
            suite: EspSuite {
                suite,
                esn: false,
                group: None,
                additional_kes: [DhGroup::NONE; MAX_ADDITIONAL_KES],
            },
            inbound: keys(),
            outbound: keys(),
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            lifetime: Duration::from_secs(3600),
            lifetime_bytes,
            replaces: None,
            remote: "192.0.2.2:4500".parse().unwrap(),
            udp_encapsulation: true,
        }
    }

    /// IKEv1's kilobyte lifetime reaches both ESP directions: the datapath asks for the rekey
    /// once 90% of it crossed, and stops the SA at the limit.
    #[test]
    fn a_negotiated_byte_lifetime_makes_the_datapath_ask_for_the_rekey_before_the_end() {
        let (inbound, outbound) = esp_configs(&child(Some(1024 * 1024)));
        for config in [&inbound, &outbound] {
            assert_eq!(
                config.lifetime,
                Lifetime {
                    soft_bytes: Some(943_719),
                    hard_bytes: Some(1_048_576),
                    ..Lifetime::default()
                }
            );
        }
        let (_, plain) = esp_configs(&child(None));
        assert_eq!(plain.lifetime, Lifetime::default());
        // 1000-byte packets: the rekey is asked for with the packet that crosses 943,719
        // bytes (the 944th), once.
        let mut sa = OutboundSa::new(&outbound).unwrap();
        let mut buf = vec![0u8; 1200];
        let at = sa.headroom();
        let mut asked = Vec::new();
        for n in 1..=1000u32 {
            buf[at..at + 4].copy_from_slice(&[0x45, 0, 0x03, 0xe8]);
            sa.encapsulate(&mut buf, 1000, ikeway_esp::NextHeader::IPV4).unwrap();
            if sa.poll_event() == Some(SaEvent::RekeyNeeded) {
                asked.push(n);
            }
        }
        assert_eq!(asked, [944]);
    }
}
