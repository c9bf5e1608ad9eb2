//! A configuration's routing, in the plain form the tunnel's host changes take: the manager
//! decides nothing here, it only hands Apple's flags and the profile's MTU to
//! [`ikeway_tunnel::host::TunnelPlan`], where the rules live and are tested.

use std::net::IpAddr;

use ikeway_tunnel::host::RoutingSettings;
use ikeway_tunnel::host::killswitch::{IKE_PORT, KillSwitchError, KillSwitchPlan};
use ikeway_tunnel::host::record::Route;

use crate::VpnConfiguration;

/// Apple's `includeAllNetworks`: the configuration wants the kill switch while it is wanted.
/// Asked of [`routing_settings`], the one place each protocol's flags are read, so an IKEv2
/// and an IPSec (IKEv1) configuration answer it alike.
pub fn wants_kill_switch(configuration: &VpnConfiguration) -> bool {
    routing_settings(configuration).include_all_networks
}

/// The kill switch of `configuration` for a tunnel on `tun` to `servers` (IKE on
/// `server_port`): the host's `local_networks` are let out only with `excludeLocalNetworks`
/// (Apple's default for it is NO: everything, the local networks too, waits for the tunnel).
pub fn kill_switch_plan(
    configuration: &VpnConfiguration,
    servers: &[IpAddr],
    server_port: Option<u16>,
    tun: &str,
    local_networks: &[Route],
) -> Result<KillSwitchPlan, KillSwitchError> {
    let allow_local = routing_settings(configuration).exclude_local_networks;
    KillSwitchPlan::new(
        servers,
        &[server_port.unwrap_or(IKE_PORT)],
        tun,
        local_networks,
        allow_local,
    )
}

/// The routing settings of `configuration` (Apple's defaults when it has no protocol).
/// Apple's Personal VPN has no route or DNS lists of its own: routes come from the server's
/// traffic selectors or subnets, DNS from its configuration reply.
///
/// An IPSec (IKEv1, "Cisco IPSec") configuration routes the split networks mode config named
/// (Cisco UNITY split include, INTERNAL_IP4_SUBNET), as Cisco clients do: each has its own
/// ESP SA (one quick mode per network, `ikeway-ikev1`), so the first SA's selectors name only
/// one of them. Without a split include the one SA's selectors (everything) are the routes.
pub fn routing_settings(configuration: &VpnConfiguration) -> RoutingSettings {
    if let Some(p) = &configuration.ipsec {
        return RoutingSettings {
            include_all_networks: p.include_all_networks,
            exclude_local_networks: p.exclude_local_networks,
            enforce_routes: p.enforce_routes,
            use_internal_ip_subnet: true,
            ..RoutingSettings::default()
        };
    }
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

    /// The kill switch follows `includeAllNetworks`, lets the local networks out only with
    /// `excludeLocalNetworks`, and takes the server's own IKE port.
    #[test]
    fn the_kill_switch_follows_include_all_networks_and_exclude_local_networks() {
        let mut p = Ikev2Protocol::new("vpn.example.com");
        let c = |p: &Ikev2Protocol| VpnConfiguration {
            protocol: Some(p.clone()),
            ..VpnConfiguration::default()
        };
        assert!(!wants_kill_switch(&c(&p)) && !wants_kill_switch(&VpnConfiguration::default()));
        p.include_all_networks = true;
        assert!(wants_kill_switch(&c(&p)));
        let servers = ["192.0.2.1".parse().unwrap()];
        let lan = [Route::new("192.168.1.0".parse().unwrap(), 24).unwrap()];
        let plan = kill_switch_plan(&c(&p), &servers, None, "ikeway0", &lan).unwrap();
        assert!(plan.local_networks().is_empty());
        assert!(plan.ruleset().contains("udp dport { 500, 4500 }"));
        p.exclude_local_networks = true;
        let plan = kill_switch_plan(&c(&p), &servers, Some(1500), "ikeway0", &lan).unwrap();
        assert_eq!(plan.local_networks()[0], lan[0]);
        assert!(plan.ruleset().contains("udp dport { 1500, 4500 }"));
    }

    /// An IPSec (IKEv1) configuration answers the kill switch's questions from its own flags
    /// as an IKEv2 one does: wanted with `includeAllNetworks`, the local networks let out only
    /// with `excludeLocalNetworks`, IKE (500 and NAT-T 4500) to the server only.
    #[test]
    fn an_ipsec_configuration_wants_the_kill_switch_with_include_all_networks() {
        let mut ipsec = crate::IpsecProtocol::new("vpn.example.com");
        let c = |p: &crate::IpsecProtocol| VpnConfiguration {
            ipsec: Some(p.clone()),
            ..VpnConfiguration::default()
        };
        assert!(!wants_kill_switch(&c(&ipsec)));
        ipsec.exclude_local_networks = true;
        ipsec.enforce_routes = true;
        assert!(!wants_kill_switch(&c(&ipsec)), "only includeAllNetworks engages it");
        ipsec.exclude_local_networks = false;
        ipsec.include_all_networks = true;
        assert!(wants_kill_switch(&c(&ipsec)));
        let servers = ["192.0.2.1".parse().unwrap()];
        let lan = [Route::new("192.168.1.0".parse().unwrap(), 24).unwrap()];
        let plan = kill_switch_plan(&c(&ipsec), &servers, None, "ikeway0", &lan).unwrap();
        assert!(plan.local_networks().is_empty());
        assert!(plan.ruleset().contains("udp dport { 500, 4500 }"));
        assert!(plan.ruleset().contains("192.0.2.1"));
        ipsec.exclude_local_networks = true;
        let plan = kill_switch_plan(&c(&ipsec), &servers, None, "ikeway0", &lan).unwrap();
        assert_eq!(plan.local_networks()[0], lan[0]);
    }

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

    #[test]
    fn an_ipsec_configuration_routes_its_split_networks_with_its_own_flags() {
        let mut ipsec = crate::IpsecProtocol::new("vpn.example.com");
        let c = |p: &crate::IpsecProtocol| VpnConfiguration {
            ipsec: Some(p.clone()),
            ..VpnConfiguration::default()
        };
        let split = RoutingSettings { use_internal_ip_subnet: true, ..RoutingSettings::default() };
        assert_eq!(routing_settings(&c(&ipsec)), split);
        ipsec.include_all_networks = true;
        ipsec.exclude_local_networks = true;
        ipsec.enforce_routes = true;
        assert_eq!(
            routing_settings(&c(&ipsec)),
            RoutingSettings {
                include_all_networks: true,
                exclude_local_networks: true,
                enforce_routes: true,
                ..split
            }
        );
    }
}
