//! The owner's side of Apple's `includeAllNetworks` kill switch: what a connection owner (the
//! daemon, or `connect --foreground`) calls when the user starts wanting a configuration, and
//! keeps until the user stops wanting it, across every tunnel of that time. The rules are
//! [`crate::kill_switch_plan`]'s (pure); this resolves the server once, reads the host's local
//! networks and engages the switch before the first packet of the connection.

use std::net::{IpAddr, ToSocketAddrs};

use ikeway_tunnel::host::StateStore;
use ikeway_tunnel::host::killswitch::{self, KillSwitch, MAX_SERVERS};

use crate::VpnConfiguration;
use crate::connection::ProviderError;
use crate::status::DisconnectError;

/// An engaged kill switch and the server address it lets IKE out to, which the provider
/// must use ([`crate::ProviderOptions::server`]): with the switch on, a new DNS lookup of the
/// server's name would not get out.
#[derive(Debug)]
pub struct EngagedKillSwitch {
    /// The switch; lifted by [`KillSwitch::lift`] or when dropped.
    pub switch: KillSwitch,
    /// The server's address the tunnel uses.
    pub server: IpAddr,
}

/// Resolves the server of `configuration` (its last DNS lookup until the switch is lifted),
/// reads the host's local networks (for `excludeLocalNetworks`) and engages the switch for a
/// tunnel on `tun`, recorded in `store`. With an `existing` switch (the previous owner's, or
/// one a crashed owner left and [`KillSwitch::adopt`] took over) its table is replaced in one
/// transaction, so there is no gap between the two; when this fails, `existing` is lifted (a
/// connection that did not start is not wanted).
pub fn engage_kill_switch(
    configuration: &VpnConfiguration,
    tun: &str,
    server_port: Option<u16>,
    store: Box<dyn StateStore>,
    existing: Option<KillSwitch>,
) -> Result<EngagedKillSwitch, ProviderError> {
    let mut existing = existing;
    let engaged = engage(configuration, tun, server_port, store, &mut existing);
    if engaged.is_err()
        && let Some(mut old) = existing
    {
        let _ = old.lift();
    }
    engaged
}

fn engage(
    configuration: &VpnConfiguration,
    tun: &str,
    server_port: Option<u16>,
    store: Box<dyn StateStore>,
    existing: &mut Option<KillSwitch>,
) -> Result<EngagedKillSwitch, ProviderError> {
    let name = configuration.protocol.as_ref().map(|p| p.server_address.as_str()).unwrap_or("");
    let mut servers: Vec<IpAddr> = Vec::new();
    for a in
        (name, server_port.unwrap_or(killswitch::IKE_PORT)).to_socket_addrs().into_iter().flatten()
    {
        if !servers.contains(&a.ip()) && servers.len() < MAX_SERVERS {
            servers.push(a.ip());
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
        message: format!("includeAllNetworks: the kill switch could not be engaged: {e}"),
    };
    let local = killswitch::local_networks(tun).map_err(|e| failed(&e))?;
    // Only this process's sockets (the tunnel's) may use the opening to the server.
    let plan = crate::kill_switch_plan(configuration, &servers, server_port, tun, &local)
        .map_err(|e| failed(&e))?
        .with_socket_owner(killswitch::this_uid());
    let switch = match existing.take() {
        Some(mut switch) => match switch.update(plan) {
            Ok(()) => switch,
            Err(e) => {
                *existing = Some(switch);
                return Err(failed(&e));
            }
        },
        None => KillSwitch::engage(plan, store).map_err(|e| failed(&e))?,
    };
    Ok(EngagedKillSwitch { switch, server })
}
