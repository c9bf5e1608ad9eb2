//! [`HostNetwork`] on Linux: rtnetlink for links, addresses and routes, [`Resolver`] for DNS,
//! and the record in a [`StateStore`] written before every change.

use std::io;
use std::net::IpAddr;

use super::dns::Resolver;
use super::netlink::{RouteSpec, Rtnl};
use super::record::{self, HostState, ROUTE_PROTO, Route, ServerRoute, StateStore};
use super::{HostError, HostNetwork, TunnelPlan};

/// The host changes of one connection through the TUN link it was made for.
///
/// Dropping it undoes nothing: the record stays, exactly as after a crash, and
/// [`LinuxHost::recover`] (or [`HostNetwork::undo`]) takes the changes back.
#[derive(Debug)]
pub struct LinuxHost {
    rtnl: Rtnl,
    store: Box<dyn StateStore>,
    resolver: Option<Resolver>,
    state: HostState,
    applied: bool,
    /// The addresses the last `apply` put on the link: they go with the link, so they are not
    /// recorded nor removed by `undo` (removing a link's last IPv4 address flushes every route
    /// through it, others' too), but a new plan on the same link (after an RFC 5685 redirect)
    /// removes those it does not keep, which the kernel would still pick as sources.
    addresses: Vec<(IpAddr, u8)>,
}

fn netlink(what: String) -> impl FnOnce(io::Error) -> HostError {
    move |source| HostError::Netlink { what, source }
}

/// The object of an undo step is already gone: not an error.
fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(code) if code == rustix::io::Errno::SRCH.raw_os_error()
            || code == rustix::io::Errno::NODEV.raw_os_error())
}

fn host_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

impl LinuxHost {
    /// Host changes through the TUN link `tun` (one of ours: `ikeway<N>`), recorded in
    /// `store`, in the calling thread's network namespace. DNS goes to the system's resolver
    /// ([`Resolver::system`]) unless [`Self::with_resolver`] says otherwise.
    pub fn new(tun: &str, store: Box<dyn StateStore>) -> Result<Self, HostError> {
        let state = HostState::new(tun).map_err(HostError::Link)?;
        Ok(Self {
            rtnl: Rtnl::open()?,
            store,
            resolver: None,
            state,
            applied: false,
            addresses: Vec::new(),
        })
    }

    /// Uses `resolver` for DNS (tests use a scratch resolv.conf directory).
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Undoes what a connection that did not clean up (it crashed or was killed) recorded in
    /// `store`; `Ok(false)` when there was no record. A record that does not validate is an
    /// error, and nothing of it is undone.
    pub fn recover(
        store: Box<dyn StateStore>,
        resolver: Option<Resolver>,
    ) -> Result<bool, HostError> {
        let Some(bytes) = store.load()? else { return Ok(false) };
        let state = record::parse(&bytes)
            .map_err(|source| HostError::Record { place: store.describe(), source })?;
        let mut host = Self {
            rtnl: Rtnl::open()?,
            store,
            resolver,
            state,
            applied: true,
            addresses: Vec::new(),
        };
        host.undo()?;
        Ok(true)
    }

    fn save(&self) -> Result<(), HostError> {
        Ok(self.store.save(&self.state.to_json())?)
    }

    fn resolver(&mut self) -> Result<&Resolver, HostError> {
        if self.resolver.is_none() {
            self.resolver = Some(Resolver::system()?);
        }
        Ok(self.resolver.as_ref().expect("set just above"))
    }

    fn tunnel_route(r: &Route, oif: u32) -> RouteSpec {
        RouteSpec { dest: r.net, len: r.len, via: None, oif, protocol: ROUTE_PROTO }
    }

    /// Pins the server to the path the host uses for it now.
    fn pin_server(&mut self, server: IpAddr, tun_index: u32) -> Result<(), HostError> {
        let path =
            self.rtnl.route_get(server).map_err(netlink(format!("ip route get {server}")))?;
        if path.oif == tun_index {
            return Err(HostError::Netlink {
                what: format!("ip route get {server}"),
                source: io::Error::other("the server is already routed into the tunnel"),
            });
        }
        let dev = self.rtnl.link_name(path.oif).map_err(netlink(format!("link {}", path.oif)))?;
        if !record::is_interface_name(&dev) {
            return Err(HostError::Netlink {
                what: format!("ip route get {server}"),
                source: io::Error::other(format!("device {dev:?} is not an interface name")),
            });
        }
        self.state.server_route = Some(ServerRoute { dest: server, via: path.via, dev });
        self.save()?;
        let spec = RouteSpec {
            dest: server,
            len: host_len(server),
            via: path.via,
            oif: path.oif,
            protocol: ROUTE_PROTO,
        };
        self.rtnl.add_route(&spec).map_err(netlink(format!("ip route add {server}")))
    }
}

impl HostNetwork for LinuxHost {
    fn apply(&mut self, plan: &TunnelPlan) -> Result<Vec<String>, HostError> {
        if self.applied {
            return Err(HostError::Io(io::Error::other("the plan was applied already")));
        }
        self.applied = true;
        let tun = self.state.tun().to_owned();
        let index = self.rtnl.link_index(&tun).map_err(netlink(format!("link {tun}")))?;
        // The link's own settings go with the link: nothing to record.
        self.rtnl
            .set_link_up(index, plan.mtu())
            .map_err(netlink(format!("ip link set {tun} mtu {} up", plan.mtu())))?;
        let old = std::mem::take(&mut self.addresses);
        for a in plan.addresses() {
            self.rtnl
                .replace_address(index, a.net, a.len)
                .map_err(netlink(format!("ip addr replace {a} dev {tun}")))?;
            self.addresses.push((a.net, a.len));
        }
        // Only once the new ones are on: the link never goes without an address.
        for (addr, len) in old.into_iter().filter(|a| !self.addresses.contains(a)) {
            self.rtnl
                .del_address(index, addr, len)
                .map_err(netlink(format!("ip addr del {addr}/{len} dev {tun}")))?;
        }
        let dns = plan.dns();
        if !dns.servers.is_empty() {
            let backup = self.resolver()?.backup()?;
            self.state.dns = Some(backup);
            self.save()?;
            self.resolver()?.apply(&tun, dns)?;
        }
        if let Some(server) = plan.server_route() {
            self.pin_server(server, index)?;
        }
        for r in plan.routes() {
            self.state.routes.push(*r);
            self.save()?;
            self.rtnl
                .add_route(&Self::tunnel_route(r, index))
                .map_err(netlink(format!("ip route add {r} dev {tun} proto {ROUTE_PROTO}")))?;
        }
        Ok(dns.dropped.clone())
    }

    fn undo(&mut self) -> Result<(), HostError> {
        if !self.applied {
            return Ok(());
        }
        let mut failed = None;
        let tun = self.state.tun().to_owned();
        // No link: it took its routes with it.
        if let Ok(index) = self.rtnl.link_index(&tun) {
            for r in self.state.routes.iter().rev() {
                match self.rtnl.del_route(&Self::tunnel_route(r, index)) {
                    Err(e) if !gone(&e) => {
                        failed.get_or_insert(HostError::Netlink {
                            what: format!("ip route del {r} dev {tun}"),
                            source: e,
                        });
                    }
                    _ => {}
                }
            }
        }
        if let Some(s) = &self.state.server_route
            && let Ok(oif) = self.rtnl.link_index(&s.dev)
        {
            let spec = RouteSpec {
                dest: s.dest,
                len: host_len(s.dest),
                via: s.via,
                oif,
                protocol: ROUTE_PROTO,
            };
            match self.rtnl.del_route(&spec) {
                Err(e) if !gone(&e) => {
                    failed.get_or_insert(HostError::Netlink {
                        what: format!("ip route del {}", s.dest),
                        source: e,
                    });
                }
                _ => {}
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        self.state.routes.clear();
        self.state.server_route = None;
        if let Some(change) = self.state.dns.clone() {
            // The routes are gone either way; a resolver that cannot be restored keeps its
            // part of the record for another try.
            self.save()?;
            self.resolver()?.restore(&tun, &change)?;
            self.state.dns = None;
        }
        self.store.clear()?;
        self.applied = false;
        Ok(())
    }
}

/// Sets up the link `link` as the caller says, outside any plan and record (all of it goes
/// with the link): up with `mtu`, `addresses` (`ip addr replace`), `routes` into it
/// (`ip route replace`). For a datapath created with fixed options (`ikeway initiate --tun`,
/// `--tun-addr`, `--tun-route`); [`LinuxHost`] does the same for a connection, recorded.
pub fn configure_link(
    link: &str,
    mtu: u32,
    addresses: &[(IpAddr, u8)],
    routes: &[(IpAddr, u8)],
) -> Result<(), HostError> {
    let mut rtnl = Rtnl::open()?;
    let index = rtnl.link_index(link).map_err(netlink(format!("link {link}")))?;
    rtnl.set_link_up(index, mtu).map_err(netlink(format!("ip link set {link} mtu {mtu} up")))?;
    for &(addr, len) in addresses {
        rtnl.replace_address(index, addr, len)
            .map_err(netlink(format!("ip addr replace {addr}/{len} dev {link}")))?;
    }
    for &(net, len) in routes {
        let route = Route::masked(net, len).ok_or_else(|| HostError::Netlink {
            what: format!("ip route replace {net}/{len} dev {link}"),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a prefix"),
        })?;
        rtnl.replace_route(route.net, route.len, index)
            .map_err(netlink(format!("ip route replace {route} dev {link}")))?;
    }
    Ok(())
}

/// Puts `addresses` on the link `link` (`ip addr replace`), outside any plan and record: the
/// addresses go with the link. For a datapath whose routes the caller gave by hand
/// (`ikeway initiate --tun`), which takes the internal addresses of a CFG_REPLY.
pub fn replace_link_addresses(link: &str, addresses: &[(IpAddr, u8)]) -> Result<(), HostError> {
    let mut rtnl = Rtnl::open()?;
    let index = rtnl.link_index(link).map_err(netlink(format!("link {link}")))?;
    for &(addr, len) in addresses {
        rtnl.replace_address(index, addr, len)
            .map_err(netlink(format!("ip addr replace {addr}/{len} dev {link}")))?;
    }
    Ok(())
}
