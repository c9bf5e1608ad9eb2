//! A configuration's routing, in the plain form the tunnel's host changes take: the manager
//! decides nothing here, it only hands Apple's flags and the profile's MTU to
//! [`ikeway_tunnel::host::TunnelPlan`], where the rules live and are tested.

use ikeway_tunnel::host::RoutingSettings;

use crate::VpnConfiguration;

/// The routing settings of `configuration` (Apple's defaults when it has no protocol).
/// Apple's Personal VPN has no route or DNS lists of its own: routes come from the server's
/// traffic selectors or subnets, DNS from its configuration reply.
pub fn routing_settings(configuration: &VpnConfiguration) -> RoutingSettings {
    let Some(p) = &configuration.protocol else { return RoutingSettings::default() };
    RoutingSettings {
        include_all_networks: p.include_all_networks,
        exclude_local_networks: p.exclude_local_networks,
        enforce_routes: p.enforce_routes,
        use_internal_ip_subnet: p.use_configuration_attribute_internal_ip_subnet,
        mtu: p.mtu,
        ..RoutingSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ikev2Protocol;

    #[test]
    fn maps_apple_flags_and_the_mtu() {
        assert_eq!(routing_settings(&VpnConfiguration::default()), RoutingSettings::default());
        let configuration = VpnConfiguration {
            protocol: Some(Ikev2Protocol {
                include_all_networks: true,
                exclude_local_networks: true,
                enforce_routes: true,
                use_configuration_attribute_internal_ip_subnet: true,
                mtu: Some(1300),
                ..Ikev2Protocol::new("vpn.example.com")
            }),
            ..VpnConfiguration::default()
        };
        assert_eq!(
            routing_settings(&configuration),
            RoutingSettings {
                include_all_networks: true,
                exclude_local_networks: true,
                enforce_routes: true,
                use_internal_ip_subnet: true,
                mtu: Some(1300),
                ..RoutingSettings::default()
            }
        );
        let plain = VpnConfiguration {
            protocol: Some(Ikev2Protocol::new("vpn.example.com")),
            ..VpnConfiguration::default()
        };
        assert_eq!(routing_settings(&plain), RoutingSettings::default());
    }
}
