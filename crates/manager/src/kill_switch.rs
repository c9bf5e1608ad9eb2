//! The owner's side of Apple's `includeAllNetworks` kill switch: what a connection owner (the
//! daemon, or `connect --foreground`) needs when the user starts wanting a configuration, and
//! again when the host's networks change while it is wanted. The rules are
//! [`crate::kill_switch_plan`]'s (pure); this resolves the server (once: the owner passes the
//! address back while its switch is engaged) and reads the host's local networks. The owner
//! engages, replaces and lifts the [`ikeway_tunnel::host::killswitch::KillSwitch`] itself.

use std::net::{IpAddr, ToSocketAddrs};

use ikeway_tunnel::host::killswitch::{self, KillSwitchPlan, MAX_SERVERS};

use crate::VpnConfiguration;
use crate::connection::ProviderError;
use crate::status::DisconnectError;

/// The kill switch of `configuration` for a tunnel on `tun` now, and the server address it
/// lets IKE out to, which the provider must use ([`crate::SessionProvider::pinned_server`]).
/// `known_server`: the address an engaged switch already lets out (no DNS lookup: with the
/// switch on it would not get out); `None` resolves the configuration's server, all of its
/// addresses let out, the first one used. The local networks are read from the host now; IKE
/// and ESP are let out only from this process's sockets.
pub fn plan_kill_switch(
    configuration: &VpnConfiguration,
    tun: &str,
    server_port: Option<u16>,
    known_server: Option<IpAddr>,
) -> Result<(KillSwitchPlan, IpAddr), ProviderError> {
    let name = configuration.server_address().unwrap_or("");
    let mut servers: Vec<IpAddr> = known_server.into_iter().collect();
    if servers.is_empty() {
        let port = server_port.unwrap_or(killswitch::IKE_PORT);
        for a in (name, port).to_socket_addrs().into_iter().flatten() {
            if !servers.contains(&a.ip()) && servers.len() < MAX_SERVERS {
                servers.push(a.ip());
            }
        }
    }
    // The provider connects to the first, as it would have resolved it itself.
    let Some(&server) = servers.first() else {
        return Err(ProviderError {
            error: DisconnectError::ServerAddressResolutionFailed,
            message: format!("{name} does not resolve"),
        });
    };
    let failed = |e: &dyn std::fmt::Display| ProviderError {
        error: DisconnectError::PluginFailed,
        message: format!("includeAllNetworks: the kill switch cannot be planned: {e}"),
    };
    let local = killswitch::local_networks(tun).map_err(|e| failed(&e))?;
    let plan = crate::kill_switch_plan(configuration, &servers, server_port, tun, &local)
        .map_err(|e| failed(&e))?
        .with_socket_owner(killswitch::this_uid());
    Ok((plan, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owner plans the switch of an IPSec (IKEv1) configuration as of an IKEv2 one: its
    /// own server is the one let out (a literal address: no DNS in a unit test).
    #[test]
    fn an_ipsec_configuration_lets_its_own_server_out() {
        let mut ipsec = crate::IpsecProtocol::new("192.0.2.7");
        ipsec.include_all_networks = true;
        let configuration = VpnConfiguration { ipsec: Some(ipsec), ..VpnConfiguration::default() };
        let (plan, server) = plan_kill_switch(&configuration, "ikeway7", None, None).unwrap();
        assert_eq!(server, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert!(plan.ruleset().contains("ip daddr { 192.0.2.7 } udp dport { 500, 4500 }"));
    }
}
