//! What a tunnel changes on the host, as a pure value: computed from plain routing settings
//! (the manager fills them from its configuration; an embedder fills them itself), the
//! server's configuration reply and the child SA's traffic selectors. Nothing here touches the
//! host, so every routing decision is unit-tested without root; [`super::HostNetwork`] carries
//! the plan out.
//!
//! The rules follow Apple's Personal VPN (`NEVPNProtocol`):
//! - `includeAllNetworks`: everything goes into the tunnel, IPv4 and IPv6 alike (IPv6 also
//!   when the server gave no IPv6 address, so it cannot leak around the tunnel), as two /1
//!   routes per family: more specific than the default route, which stays for the server.
//! - otherwise the included routes of the settings, or the server's INTERNAL_IP4/6_SUBNET when
//!   `useConfigurationAttributeInternalIPSubnet` is set and it sent some, or the child SA's
//!   remote traffic selectors. A /0 becomes two /1s for the same reason as above.
//! - excluded routes are cut out of the included ones (the rest of a covering route is split
//!   into CIDR blocks), so their traffic takes the host's own routes.
//! - local networks stay outside the tunnel with `excludeLocalNetworks` = YES: their connected
//!   routes are more specific than the tunnel's. With NO (Apple's default) and
//!   `includeAllNetworks` or `enforceRoutes`, each local network a tunnel route covers goes into
//!   the tunnel as its two halves, more specific than the connected route (which stays for the
//!   link itself: the kernel resolves a gateway's neighbour on its device, whatever the
//!   routes). More specific routes rather than policy routing: they are main-table routes like
//!   every other the plan makes, recorded and undone the same way, and need no rule that a
//!   crash could leave ahead of the main table. Link-local networks (169.254/16, fe80::/10)
//!   stay on their link; a host route (/32, /128) cannot be outdone and is reported.
//! - the server's address is pinned to the path the host uses now when a route into the
//!   tunnel would cover it (the tunnel must not carry its own packets).
//! - DNS servers and search domains of the settings win over the server's; both are checked
//!   as untrusted input ([`super::dns::check`]). With all traffic in the tunnel its servers
//!   take every query (resolved: routing domain `~.`, DefaultRoute); otherwise the server's
//!   INTERNAL_DNS_DOMAINs (RFC 8598) or the settings' match domains are split DNS: only names
//!   under them go to the tunnel's servers ([`super::dns::plan`]).
//! - the MTU of the settings (the profile's `MTU`), else [`DEFAULT_MTU`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ikeway_sa::ConfigReceived;

use super::dns::{self, Checked, DnsRequest};
use super::record::{MAX_ROUTES, Route};
use crate::Selector;

/// The TUN MTU when the settings give none (what the datapath has always used).
pub const DEFAULT_MTU: u32 = 1400;
/// RFC 791's minimum datagram every IPv4 host takes.
pub const MIN_MTU_V4: u32 = 576;
/// RFC 8200 §5: IPv6 needs links of at least 1280 bytes.
pub const MIN_MTU_V6: u32 = 1280;
/// The largest MTU of a TUN link.
pub const MAX_MTU: u32 = 65535;

/// The plain routing settings a plan is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingSettings {
    /// `includeAllNetworks`: route all traffic, both families, into the tunnel.
    pub include_all_networks: bool,
    /// `excludeLocalNetworks`: local networks stay outside the tunnel; NO puts those the
    /// tunnel's routes cover into it (with `includeAllNetworks` or `enforceRoutes`).
    pub exclude_local_networks: bool,
    /// `enforceRoutes`: the tunnel's routes win over the local networks' more specific
    /// connected routes (unless `excludeLocalNetworks`); other more specific routes of the
    /// host are not overridden (the manager says so). As on Apple's platforms it also makes
    /// `excludeLocalNetworks` count, which applies only with it or `includeAllNetworks`.
    pub enforce_routes: bool,
    /// The host's local networks when the tunnel starts (its links' connected networks, the
    /// tunnel's own link left out), for `excludeLocalNetworks` = NO.
    pub local_networks: Vec<Route>,
    /// `useConfigurationAttributeInternalIPSubnet`: route the server's INTERNAL_IP4/6_SUBNET
    /// instead of the traffic selectors.
    pub use_internal_ip_subnet: bool,
    /// Routes into the tunnel chosen by the embedder (`NEIPv4Settings.includedRoutes`); when
    /// empty the server decides.
    pub included_routes: Vec<Route>,
    /// Routes kept outside the tunnel (`excludedRoutes`).
    pub excluded_routes: Vec<Route>,
    /// DNS servers that replace the server's (`NEDNSSettings.servers`).
    pub dns_servers: Vec<IpAddr>,
    /// Search domains that replace the server's (`NEDNSSettings.searchDomains`).
    pub dns_search_domains: Vec<String>,
    /// Names under these go to the settings' servers (`NEDNSSettings.matchDomains`): split
    /// DNS unless all traffic goes into the tunnel.
    pub dns_match_domains: Vec<String>,
    /// `matchDomainsNoSearch`: the match domains are not search domains too.
    pub dns_match_domains_no_search: bool,
    /// The TUN link's MTU (the profile's `MTU`).
    pub mtu: Option<u32>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The MTU is outside what the link and the address families take.
    #[error("MTU {mtu} is outside {min}..={MAX_MTU}")]
    Mtu {
        /// The MTU asked for.
        mtu: u32,
        /// The least this plan's families take.
        min: u32,
    },
    /// More routes than a record holds.
    #[error("{0} routes into the tunnel is more than {MAX_ROUTES}")]
    TooManyRoutes(usize),
}

/// Everything a tunnel changes on the host. Built only by [`TunnelPlan::new`], so its DNS part
/// is always checked and its routes are networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelPlan {
    addresses: Vec<Route>,
    routes: Vec<Route>,
    excluded: Vec<Route>,
    server_route: Option<IpAddr>,
    dns: Checked,
    mtu: u32,
    not_applied: Vec<String>,
}

impl TunnelPlan {
    /// The plan for a tunnel to `server` with `settings`, after the server's configuration
    /// `reply` and a child SA with `remote_ts` as its remote traffic selectors.
    pub fn new(
        settings: &RoutingSettings,
        reply: &ConfigReceived,
        remote_ts: &[Selector],
        server: IpAddr,
    ) -> Result<Self, PlanError> {
        let mut not_applied = Vec::new();
        let mut addresses = Vec::new();
        for &(addr, _) in &reply.addresses {
            let usable = match addr {
                IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
                IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
            } && !addr.is_loopback();
            // The server's prefix length says nothing about what is on the link: an internal
            // address is a host address, and routes come from the plan.
            let host = Route::new(addr, if addr.is_ipv4() { 32 } else { 128 });
            match host.filter(|h| usable && !addresses.contains(h)) {
                Some(h) => addresses.push(h),
                None => not_applied.push(format!("internal address {addr}")),
            }
        }
        let wanted: Vec<Route> = if settings.include_all_networks {
            vec![everything(false), everything(true)]
        } else if !settings.included_routes.is_empty() {
            settings.included_routes.clone()
        } else if settings.use_internal_ip_subnet && !reply.subnets.is_empty() {
            reply.subnets.iter().filter_map(|&(a, l)| Route::masked(a, l)).collect()
        } else {
            remote_ts
                .iter()
                .filter_map(|t| match *t {
                    Selector::Range { start, end } => Some(range_to_cidrs(start, end)),
                    Selector::Other(_) => None,
                })
                .flatten()
                .filter_map(|(a, l)| Route::new(a, l))
                .collect()
        };
        let mut routes: Vec<Route> = Vec::new();
        for r in wanted.into_iter().flat_map(halves_of_everything) {
            for piece in subtract(r, &settings.excluded_routes) {
                if !routes.contains(&piece) {
                    routes.push(piece);
                }
                if routes.len() > MAX_ROUTES {
                    return Err(PlanError::TooManyRoutes(routes.len()));
                }
            }
        }
        if (settings.include_all_networks || settings.enforce_routes)
            && !settings.exclude_local_networks
        {
            for l in &settings.local_networks {
                let width = if l.net.is_ipv4() { 32 } else { 128 };
                let tunnelled =
                    routes.iter().any(|r| r.len <= l.len && covers(r.net, r.len, l.net));
                if !tunnelled || l.len == 0 || is_link_local(l) || routes.contains(l) {
                    continue;
                }
                if l.len >= width {
                    not_applied.push(format!("local network {l} stays on its link (a host route)"));
                    continue;
                }
                for piece in
                    split(*l).into_iter().flat_map(|h| subtract(h, &settings.excluded_routes))
                {
                    if !routes.contains(&piece) {
                        routes.push(piece);
                    }
                }
                if routes.len() > MAX_ROUTES {
                    return Err(PlanError::TooManyRoutes(routes.len()));
                }
            }
        }
        let server_route = routes.iter().any(|r| covers(r.net, r.len, server)).then_some(server);
        let all_traffic = settings.include_all_networks || takes_everything(&routes);
        let request = if settings.dns_servers.is_empty() {
            // RFC 8598: INTERNAL_DNS_DOMAIN names the domains the server's DNS resolves, not a
            // search list: a server of a split tunnel gets only the names under them.
            DnsRequest {
                servers: &reply.dns,
                search_domains: &[],
                match_domains: &reply.dns_domains,
                match_domains_no_search: !all_traffic,
                all_traffic,
            }
        } else {
            DnsRequest {
                servers: &settings.dns_servers,
                search_domains: &settings.dns_search_domains,
                match_domains: &settings.dns_match_domains,
                match_domains_no_search: settings.dns_match_domains_no_search,
                all_traffic,
            }
        };
        let dns = dns::plan(&request);
        let v6 = routes.iter().chain(&addresses).any(|r| r.net.is_ipv6());
        let min = if v6 { MIN_MTU_V6 } else { MIN_MTU_V4 };
        let mtu = settings.mtu.unwrap_or(DEFAULT_MTU);
        if !(min..=MAX_MTU).contains(&mtu) {
            return Err(PlanError::Mtu { mtu, min });
        }
        Ok(Self {
            addresses,
            routes,
            excluded: settings.excluded_routes.clone(),
            server_route,
            dns,
            mtu,
            not_applied,
        })
    }

    /// The internal addresses for the TUN link, as host (/32, /128) prefixes.
    pub fn addresses(&self) -> &[Route] {
        &self.addresses
    }

    /// The routes into the tunnel, in the order they are added.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes the settings keep outside the tunnel (already cut out of [`Self::routes`]).
    pub fn excluded(&self) -> &[Route] {
        &self.excluded
    }

    /// The server's address when a route into the tunnel covers it: its current path is
    /// pinned with a host route before that route is added.
    pub fn server_route(&self) -> Option<IpAddr> {
        self.server_route
    }

    /// The checked DNS servers, search and routing domains, whether the servers are a default
    /// route (no servers: DNS is left alone), and what was dropped.
    pub fn dns(&self) -> &Checked {
        &self.dns
    }

    /// The TUN link's MTU.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// What the server or the settings asked for that this plan does not do, one line each.
    pub fn not_applied(&self) -> &[String] {
        &self.not_applied
    }
}

/// Whether `routes` send every address of a family into the tunnel (both /1 halves: what
/// `includeAllNetworks` or a server's 0.0.0.0/0 selector gives).
fn takes_everything(routes: &[Route]) -> bool {
    [false, true].into_iter().any(|v6| split(everything(v6)).iter().all(|h| routes.contains(h)))
}

/// Within 169.254.0.0/16 or fe80::/10: a network that exists only on its link.
fn is_link_local(r: &Route) -> bool {
    match r.net {
        IpAddr::V4(a) => r.len >= 16 && a.is_link_local(),
        IpAddr::V6(a) => r.len >= 10 && (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// `0.0.0.0/0` or `::/0`.
fn everything(v6: bool) -> Route {
    let net =
        if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    Route { net, len: 0 }
}

/// A /0 as its two /1 halves: they win over the host's default route without replacing it.
fn halves_of_everything(r: Route) -> Vec<Route> {
    if r.len == 0 { split(r).into() } else { vec![r] }
}

/// The two halves of `r` (`r.len` below the family's width).
fn split(r: Route) -> [Route; 2] {
    let len = r.len + 1;
    let upper = match r.net {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) | (1u32 << (32 - u32::from(len)))).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) | (1u128 << (128 - u32::from(len)))).into()),
    };
    [Route { net: r.net, len }, Route { net: upper, len }]
}

/// `r` without the networks in `cut`: the CIDR blocks that cover exactly the rest.
fn subtract(r: Route, cut: &[Route]) -> Vec<Route> {
    let inside = |outer: &Route, inner: &Route| {
        outer.len <= inner.len && covers(outer.net, outer.len, inner.net)
    };
    if cut.iter().any(|c| inside(c, &r)) {
        return Vec::new();
    }
    if !cut.iter().any(|c| inside(&r, c)) {
        return vec![r];
    }
    // Some excluded network lies strictly inside `r` (so `r` is not a host route).
    split(r).into_iter().flat_map(|half| subtract(half, cut)).collect()
}

/// The smallest set of CIDR blocks that covers `start..=end` exactly.
pub fn range_to_cidrs(start: IpAddr, end: IpAddr) -> Vec<(IpAddr, u8)> {
    fn blocks(mut lo: u128, hi: u128, bits: u32) -> Vec<(u128, u8)> {
        let mut out = Vec::new();
        loop {
            // The largest block of 2^size addresses aligned at `lo` that ends by `hi`.
            let mut size = bits;
            loop {
                let fits = if size == 128 {
                    lo == 0 && hi == u128::MAX
                } else {
                    let span = (1u128 << size) - 1;
                    lo & span == 0 && lo.checked_add(span).is_some_and(|last| last <= hi)
                };
                if fits {
                    break;
                }
                size -= 1;
            }
            out.push((lo, (bits - size) as u8));
            if size == 128 {
                return out;
            }
            let last = lo + ((1u128 << size) - 1);
            if last >= hi {
                return out;
            }
            lo = last + 1;
        }
    }
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            blocks(u128::from(u32::from(s)), u128::from(u32::from(e)), 32)
                .into_iter()
                .map(|(a, l)| (IpAddr::V4((a as u32).into()), l))
                .collect()
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => blocks(u128::from(s), u128::from(e), 128)
            .into_iter()
            .map(|(a, l)| (IpAddr::V6(a.into()), l))
            .collect(),
        _ => Vec::new(),
    }
}

fn covers(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_become_exact_cidrs() {
        assert_eq!(range_to_cidrs(v4("10.77.0.0"), v4("10.77.0.255")), vec![(v4("10.77.0.0"), 24)]);
        assert_eq!(range_to_cidrs(v4("10.0.0.1"), v4("10.0.0.1")), vec![(v4("10.0.0.1"), 32)]);
        assert_eq!(range_to_cidrs(v4("0.0.0.0"), v4("255.255.255.255")), vec![(v4("0.0.0.0"), 0)]);
        assert_eq!(
            range_to_cidrs(v4("10.0.0.1"), v4("10.0.0.6")),
            vec![
                (v4("10.0.0.1"), 32),
                (v4("10.0.0.2"), 31),
                (v4("10.0.0.4"), 31),
                (v4("10.0.0.6"), 32)
            ]
        );
        let all6 = range_to_cidrs(
            "::".parse().unwrap(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        );
        assert_eq!(all6, vec![("::".parse().unwrap(), 0)]);
    }

    #[test]
    fn covers_checks_the_prefix() {
        assert!(covers(v4("0.0.0.0"), 0, v4("10.99.0.2")));
        assert!(covers(v4("10.99.0.0"), 24, v4("10.99.0.2")));
        assert!(!covers(v4("10.77.0.0"), 24, v4("10.99.0.2")));
    }

    fn routes(plan: &TunnelPlan) -> Vec<String> {
        plan.routes().iter().map(ToString::to_string).collect()
    }

    fn net(s: &str) -> Route {
        let (a, l) = s.split_once('/').unwrap();
        Route::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
    }

    fn ts(start: &str, end: &str) -> Selector {
        Selector::Range { start: start.parse().unwrap(), end: end.parse().unwrap() }
    }

    fn reply() -> ConfigReceived {
        ConfigReceived {
            addresses: vec![(v4("10.88.0.2"), 24)],
            dns: vec![v4("10.88.0.1")],
            dns_domains: vec!["corp.example".into()],
            subnets: vec![(v4("10.77.1.9"), 16)],
        }
    }

    const SERVER: &str = "192.0.2.1";

    fn plan(settings: &RoutingSettings, ts: &[Selector]) -> TunnelPlan {
        TunnelPlan::new(settings, &reply(), ts, v4(SERVER)).unwrap()
    }

    /// Apple `includeAllNetworks`: both families into the tunnel as /1 halves (IPv6 too when
    /// the server gave no IPv6 address, so it cannot leak), the server pinned outside.
    #[test]
    fn include_all_networks_routes_both_families_and_pins_the_server() {
        let s = RoutingSettings { include_all_networks: true, ..RoutingSettings::default() };
        let p = plan(&s, &[ts("10.77.0.0", "10.77.0.255")]);
        assert_eq!(routes(&p), ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
        assert_eq!(p.server_route(), Some(v4(SERVER)));
        assert!(p.not_applied().is_empty(), "{:?}", p.not_applied());
    }

    /// `excludeLocalNetworks` = NO: each local network the tunnel covers goes in as its two
    /// halves (more specific than the connected route); link-local ones and, with YES, all of
    /// them stay out; a host route is reported; a server on the LAN is pinned.
    #[test]
    fn local_networks_go_into_the_tunnel_unless_excluded() {
        let local = vec![
            net("192.0.2.0/24"),
            net("2001:db8:1::/64"),
            net("169.254.0.0/16"),
            net("fe80::/64"),
            net("198.51.100.7/32"),
        ];
        let all = RoutingSettings {
            include_all_networks: true,
            local_networks: local.clone(),
            ..RoutingSettings::default()
        };
        let p = plan(&all, &[]);
        assert_eq!(
            routes(&p),
            [
                "0.0.0.0/1",
                "128.0.0.0/1",
                "::/1",
                "8000::/1",
                "192.0.2.0/25",
                "192.0.2.128/25",
                "2001:db8:1::/65",
                "2001:db8:1:0:8000::/65"
            ]
        );
        assert_eq!(p.server_route(), Some(v4(SERVER)), "the server is on the LAN: pinned");
        assert_eq!(
            p.not_applied(),
            ["local network 198.51.100.7/32 stays on its link (a host route)"]
        );
        let yes = RoutingSettings { exclude_local_networks: true, ..all.clone() };
        assert_eq!(routes(&plan(&yes, &[])), ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
        // An excluded route is cut out of the halves too.
        let cut = RoutingSettings { excluded_routes: vec![net("192.0.2.0/26")], ..all.clone() };
        let r = routes(&plan(&cut, &[]));
        assert!(
            r.contains(&"192.0.2.64/26".to_owned())
                && !r.iter().any(|x| x.starts_with("192.0.2.0/")),
            "{r:?}"
        );
        // Neither flag: the local networks are left alone (Apple applies the flag only with
        // includeAllNetworks or enforceRoutes).
        let plain = RoutingSettings { local_networks: local.clone(), ..RoutingSettings::default() };
        assert_eq!(routes(&plan(&plain, &[ts("192.0.0.0", "192.0.255.255")])), ["192.0.0.0/16"]);
        // enforceRoutes: only local networks a tunnel route covers, and only with NO.
        let enforce = RoutingSettings { enforce_routes: true, ..plain };
        assert_eq!(
            routes(&plan(&enforce, &[ts("192.0.0.0", "192.0.255.255")])),
            ["192.0.0.0/16", "192.0.2.0/25", "192.0.2.128/25"]
        );
        let enforce_yes = RoutingSettings { exclude_local_networks: true, ..enforce };
        assert_eq!(
            routes(&plan(&enforce_yes, &[ts("192.0.0.0", "192.0.255.255")])),
            ["192.0.0.0/16"]
        );
    }

    /// Without includeAllNetworks the server's traffic selectors decide; a server outside
    /// them needs no pinned route; a full-range selector becomes two /1 halves.
    #[test]
    fn traffic_selectors_route_split_tunnels() {
        let s = RoutingSettings::default();
        let p = plan(&s, &[ts("10.77.0.0", "10.77.0.255"), ts("10.0.0.1", "10.0.0.6")]);
        assert_eq!(
            routes(&p),
            ["10.77.0.0/24", "10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(p.server_route(), None);
        let p = plan(&s, &[ts("0.0.0.0", "255.255.255.255")]);
        assert_eq!(routes(&p), ["0.0.0.0/1", "128.0.0.0/1"]);
        assert_eq!(p.server_route(), Some(v4(SERVER)));
        assert!(plan(&s, &[]).routes().is_empty());
    }

    /// `useConfigurationAttributeInternalIPSubnet`: the server's subnets (host bits cleared)
    /// instead of the selectors, when it sent any; the selectors otherwise.
    #[test]
    fn internal_subnets_replace_selectors_when_asked_for() {
        let s = RoutingSettings { use_internal_ip_subnet: true, ..RoutingSettings::default() };
        let t = [ts("10.66.0.0", "10.66.255.255")];
        assert_eq!(routes(&plan(&s, &t)), ["10.77.0.0/16"]);
        let no_subnets = ConfigReceived { subnets: Vec::new(), ..reply() };
        let p = TunnelPlan::new(&s, &no_subnets, &t, v4(SERVER)).unwrap();
        assert_eq!(routes(&p), ["10.66.0.0/16"]);
        assert_eq!(routes(&plan(&RoutingSettings::default(), &t)), ["10.66.0.0/16"]);
    }

    /// Included routes of the settings win over the server's choice; one that covers the
    /// server pins it.
    #[test]
    fn included_routes_win_and_a_covered_server_is_pinned() {
        let s = RoutingSettings {
            included_routes: vec![net("10.5.0.0/16"), net("192.0.2.0/24")],
            ..RoutingSettings::default()
        };
        let p = plan(&s, &[ts("10.77.0.0", "10.77.0.255")]);
        assert_eq!(routes(&p), ["10.5.0.0/16", "192.0.2.0/24"]);
        assert_eq!(p.server_route(), Some(v4(SERVER)));
    }

    /// Excluded routes are cut out of the included ones exactly; an excluded server needs no
    /// pinned route.
    #[test]
    fn excluded_routes_are_cut_out() {
        let s = RoutingSettings {
            included_routes: vec![net("10.0.0.0/8")],
            excluded_routes: vec![net("10.1.0.0/16"), net("172.16.0.0/12")],
            ..RoutingSettings::default()
        };
        let p = plan(&s, &[]);
        assert_eq!(
            routes(&p),
            [
                "10.0.0.0/16",
                "10.2.0.0/15",
                "10.4.0.0/14",
                "10.8.0.0/13",
                "10.16.0.0/12",
                "10.32.0.0/11",
                "10.64.0.0/10",
                "10.128.0.0/9"
            ]
        );
        assert_eq!(p.excluded(), [net("10.1.0.0/16"), net("172.16.0.0/12")]);
        let s = RoutingSettings {
            include_all_networks: true,
            excluded_routes: vec![net("192.0.2.0/24"), net("::/0")],
            ..RoutingSettings::default()
        };
        let p = plan(&s, &[]);
        assert_eq!(p.server_route(), None);
        assert!(p.routes().iter().all(|r| r.net.is_ipv4()), "{:?}", p.routes());
        assert_eq!(p.routes().len(), 24, "{:?}", p.routes());
        assert!(!p.routes().iter().any(|r| covers(r.net, r.len, v4("192.0.2.200"))));
        assert!(p.routes().iter().any(|r| covers(r.net, r.len, v4("192.0.3.1"))));
        let s = RoutingSettings {
            included_routes: vec![net("10.0.0.0/8")],
            excluded_routes: vec![net("0.0.0.0/0")],
            ..RoutingSettings::default()
        };
        assert!(plan(&s, &[]).routes().is_empty());
    }

    /// IPv6 present: its address and selectors are used, and the MTU must be one IPv6 takes;
    /// IPv6 absent: an IPv4-only plan takes smaller MTUs.
    #[test]
    fn ipv6_present_or_absent() {
        let r6 = ConfigReceived {
            addresses: vec![(v4("10.88.0.2"), 24), ("2001:db8:88::2".parse().unwrap(), 64)],
            ..reply()
        };
        let s = RoutingSettings { mtu: Some(1280), ..RoutingSettings::default() };
        let t = [ts("10.77.0.0", "10.77.0.255"), ts("2001:db8:77::", "2001:db8:77::ffff")];
        let p = TunnelPlan::new(&s, &r6, &t, v4(SERVER)).unwrap();
        let addrs: Vec<String> = p.addresses().iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["10.88.0.2/32", "2001:db8:88::2/128"]);
        assert_eq!(routes(&p), ["10.77.0.0/24", "2001:db8:77::/112"]);
        assert_eq!(p.mtu(), 1280);
        let low = RoutingSettings { mtu: Some(1000), ..RoutingSettings::default() };
        assert_eq!(
            TunnelPlan::new(&low, &r6, &t, v4(SERVER)),
            Err(PlanError::Mtu { mtu: 1000, min: MIN_MTU_V6 })
        );
        let p = plan(&low, &t[..1]);
        assert_eq!(p.mtu(), 1000);
        assert_eq!(routes(&p), ["10.77.0.0/24"]);
        assert_eq!(plan(&RoutingSettings::default(), &[]).mtu(), DEFAULT_MTU);
        let huge = RoutingSettings { mtu: Some(70000), ..RoutingSettings::default() };
        assert!(matches!(
            TunnelPlan::new(&huge, &reply(), &[], v4(SERVER)),
            Err(PlanError::Mtu { .. })
        ));
    }

    /// DNS from the server, unless the settings name servers; both checked (issue 9 finding
    /// 3); internal addresses that cannot be ours are not applied.
    #[test]
    fn dns_from_the_server_or_the_settings() {
        let p = plan(&RoutingSettings::default(), &[]);
        assert_eq!(p.dns().servers, [v4("10.88.0.1")]);
        assert!(p.dns().domains.is_empty());
        assert_eq!(p.dns().routing_domains, ["corp.example"]);
        let s = RoutingSettings {
            dns_servers: vec![v4("10.9.9.9"), v4("0.0.0.0")],
            dns_search_domains: vec!["mine.example".into(), "x\nnameserver 6.6.6.6".into()],
            ..RoutingSettings::default()
        };
        let p = plan(&s, &[]);
        assert_eq!(p.dns().servers, [v4("10.9.9.9")]);
        assert_eq!(p.dns().domains, ["mine.example"]);
        assert_eq!(p.dns().dropped.len(), 2, "{:?}", p.dns().dropped);
        let hostile = ConfigReceived {
            addresses: vec![(v4("224.0.0.1"), 32), (v4("127.0.0.1"), 8), (v4("10.88.0.2"), 32)],
            dns: vec!["ff02::1".parse().unwrap()],
            ..reply()
        };
        let p = TunnelPlan::new(&RoutingSettings::default(), &hostile, &[], v4(SERVER)).unwrap();
        assert_eq!(p.addresses(), [net("10.88.0.2/32")]);
        assert_eq!(p.not_applied(), ["internal address 224.0.0.1", "internal address 127.0.0.1"]);
        assert!(p.dns().servers.is_empty());
    }

    /// Split DNS (RFC 8598, Apple's match domains): with part of the traffic in the tunnel, the
    /// server's INTERNAL_DNS_DOMAIN is a routing-only domain and the link no default route;
    /// with all of it (includeAllNetworks, or a 0.0.0.0/0 selector) the servers take every
    /// name (`~.`, DefaultRoute) and the domain is searched; no domain at all: a default route.
    #[test]
    fn split_dns_follows_what_goes_into_the_tunnel() {
        let split = plan(&RoutingSettings::default(), &[ts("10.77.0.0", "10.77.255.255")]);
        let d = split.dns();
        assert_eq!(
            (d.domains.len(), d.routing_domains.as_slice()),
            (0, &["corp.example".into()][..])
        );
        assert!(!d.default_route);
        assert_eq!(dns::resolved_domains(d), ["~corp.example"]);
        assert_eq!(
            dns::resolv_conf_text(d),
            "# written by ikeway for the VPN; restored on disconnect\n\
             nameserver 10.88.0.1\nsearch corp.example\n"
        );

        let all = RoutingSettings { include_all_networks: true, ..RoutingSettings::default() };
        for p in [
            plan(&all, &[]),
            plan(&RoutingSettings::default(), &[ts("0.0.0.0", "255.255.255.255")]),
        ] {
            let d = p.dns();
            assert_eq!(d.domains, ["corp.example"]);
            assert_eq!(d.routing_domains, ["."]);
            assert!(d.default_route);
            assert_eq!(dns::resolved_domains(d), ["~.", "corp.example"]);
        }

        let no_domain = ConfigReceived { dns_domains: Vec::new(), ..reply() };
        let p = TunnelPlan::new(&RoutingSettings::default(), &no_domain, &[], v4(SERVER)).unwrap();
        assert!(p.dns().default_route);
        assert!(p.dns().routing_domains.is_empty() && p.dns().domains.is_empty());

        // The settings' own: search domains searched, match domains routed and (by default)
        // searched; with matchDomainsNoSearch routed only; without match domains a default
        // route.
        let mine = RoutingSettings {
            dns_servers: vec![v4("10.9.9.9")],
            dns_search_domains: vec!["mine.example".into()],
            dns_match_domains: vec![
                "Corp.Example.".into(),
                "lab.example".into(),
                "x\nnameserver 6.6.6.6".into(),
                "corp.example".into(),
            ],
            ..RoutingSettings::default()
        };
        let d = plan(&mine, &[]).dns().clone();
        assert_eq!(d.dropped, [r#"domain "x\nnameserver 6.6.6.6""#, r#"domain "corp.example""#]);
        assert_eq!(d.domains, ["mine.example", "corp.example", "lab.example"]);
        assert!(d.routing_domains.is_empty());
        assert!(!d.default_route);
        let no_search = RoutingSettings { dns_match_domains_no_search: true, ..mine.clone() };
        let d = plan(&no_search, &[]).dns().clone();
        assert_eq!(d.domains, ["mine.example"]);
        assert_eq!(d.routing_domains, ["corp.example", "lab.example"]);
        assert_eq!(dns::resolved_domains(&d), ["~corp.example", "~lab.example", "mine.example"]);
        let search_only = RoutingSettings { dns_match_domains: Vec::new(), ..mine };
        assert!(plan(&search_only, &[]).dns().default_route);
    }

    /// A plan never holds more routes than a record takes.
    #[test]
    fn route_count_is_bounded() {
        let many: Vec<Selector> = (0..=MAX_ROUTES)
            .map(|i| {
                ts(
                    &format!("10.{}.{}.1", i / 256, i % 256),
                    &format!("10.{}.{}.1", i / 256, i % 256),
                )
            })
            .collect();
        assert_eq!(
            TunnelPlan::new(&RoutingSettings::default(), &reply(), &many, v4(SERVER)),
            Err(PlanError::TooManyRoutes(MAX_ROUTES + 1))
        );
    }
}
