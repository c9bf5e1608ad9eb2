//! Host changes a connection makes and must undo: routes into the tunnel, the server's own
//! route kept outside it, and DNS (the internal addresses live on the TUN device and go with
//! it). Every change is recorded in `host-state.json` in the runtime directory before it is
//! made, so a crashed connection is cleaned up by the next one (or by `ikeway disconnect`);
//! the record is parsed and validated by `ikeway::host_state` before any of it is undone.

use std::net::IpAddr;
use std::process::Command;

use anyhow::{Context, Result, bail};
use ikeway::host_state::{
    self, HostState, MAX_STATE_BYTES, ROUTE_PROTO, Route, ServerRoute, is_interface_name,
};

use super::dns::{self, Resolver};
use super::runtime_dir::Dir;

const STATE_FILE: &str = "host-state.json";

fn ip(args: &[String]) -> Result<String> {
    let out = Command::new("ip").args(args).output().context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

/// `ip route add|del` arguments of a route into the tunnel: main table, our protocol, so that
/// deleting matches only the route we added.
fn tunnel_route(verb: &str, route: &Route, tun: &str) -> Vec<String> {
    let proto = ROUTE_PROTO.to_string();
    let cidr = route.to_string();
    words(&["route", verb, &cidr, "dev", tun, "table", "main", "proto", &proto])
}

fn server_route(verb: &str, r: &ServerRoute) -> Vec<String> {
    let len = if r.dest.is_ipv4() { 32 } else { 128 };
    let mut args = words(&["route", verb, &format!("{}/{len}", r.dest)]);
    if let Some(via) = r.via {
        args.extend(words(&["via", &via.to_string()]));
    }
    args.extend(words(&["dev", &r.dev, "table", "main", "proto", &ROUTE_PROTO.to_string()]));
    args
}

/// The recorded changes of the running connection, kept on disk as they are made.
#[derive(Debug)]
pub(crate) struct HostChanges<'a> {
    dir: &'a Dir,
    state: HostState,
}

impl<'a> HostChanges<'a> {
    pub(crate) fn new(dir: &'a Dir, tun: &str) -> Result<Self> {
        Ok(Self { dir, state: HostState::new(tun)? })
    }

    fn save(&self) -> Result<()> {
        self.dir.write_atomic(STATE_FILE, &self.state.to_json(), 0o600)
    }

    /// Routes `net/len` into the tunnel; first pins the server's own address to the path it
    /// uses now if the new route would cover it (the server must never be routed into the
    /// tunnel that is carried to it).
    pub(crate) fn add_route(&mut self, net: IpAddr, len: u8, server: IpAddr) -> Result<()> {
        let route =
            Route::masked(net, len).with_context(|| format!("{net}/{len} is not a prefix"))?;
        if covers(net, len, server) && self.state.server_route.is_none() {
            let current = ip(&words(&["route", "get", &server.to_string()]))?;
            // "10.99.0.2 via 10.98.0.1 dev ike0 src ..." or "10.99.0.2 dev ike0 src ...".
            let w: Vec<&str> = current.split_whitespace().collect();
            let after = |key: &str| w.iter().position(|x| *x == key).and_then(|i| w.get(i + 1));
            let dev = after("dev")
                .filter(|d| is_interface_name(d))
                .with_context(|| format!("no device in `ip route get {server}`: {current}"))?;
            let pinned = ServerRoute {
                dest: server,
                via: after("via").and_then(|v| v.parse().ok()),
                dev: (*dev).to_owned(),
            };
            self.state.server_route = Some(pinned.clone());
            self.save()?;
            ip(&server_route("add", &pinned))?;
        }
        self.state.routes.push(route);
        self.save()?;
        ip(&tunnel_route("add", &route, self.state.tun()))?;
        Ok(())
    }

    /// Points the resolver at the tunnel's DNS servers and search domains, as far as they are
    /// valid; returns what was dropped.
    pub(crate) fn set_dns(
        &mut self,
        servers: &[IpAddr],
        domains: &[String],
    ) -> Result<Vec<String>> {
        let checked = dns::check(servers, domains);
        if checked.servers.is_empty() {
            return Ok(checked.dropped);
        }
        let resolver = Resolver::system()?;
        self.state.dns = Some(resolver.backup()?);
        self.save()?;
        resolver.apply(self.state.tun(), &checked)?;
        Ok(checked.dropped)
    }

    pub(crate) fn undo(self) -> Result<()> {
        undo(self.dir, self.state)
    }
}

/// Undoes everything recorded, newest first, and forgets the record. Steps whose object is
/// already gone (the TUN device took its routes with it) are not errors. When DNS cannot be
/// restored the routes are still removed, and the record stays for another try.
pub(crate) fn undo(dir: &Dir, state: HostState) -> Result<()> {
    let dns = match &state.dns {
        Some(change) => Resolver::system().and_then(|r| r.restore(state.tun(), change)),
        None => Ok(()),
    };
    for r in state.routes.iter().rev() {
        let _ = ip(&tunnel_route("del", r, state.tun()));
    }
    if let Some(r) = &state.server_route {
        let _ = ip(&server_route("del", r));
    }
    dns.context("restoring DNS")?;
    dir.remove(STATE_FILE)
}

/// The record left by a connection that did not clean up (it crashed or was killed). A record
/// that does not validate is an error: nothing of it is undone.
pub(crate) fn stale(dir: &Dir) -> Result<Option<HostState>> {
    let Some(bytes) = dir.read(STATE_FILE, MAX_STATE_BYTES)? else { return Ok(None) };
    let state = host_state::parse(&bytes).with_context(|| {
        format!(
            "refusing to undo {}: check it and remove it by hand",
            dir.path().join(STATE_FILE).display()
        )
    })?;
    Ok(Some(state))
}

/// The smallest set of CIDR blocks that covers `start..=end` exactly.
pub(crate) fn range_to_cidrs(start: IpAddr, end: IpAddr) -> Vec<(IpAddr, u8)> {
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
}
