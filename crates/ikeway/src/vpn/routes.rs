//! Host changes a connection makes and must undo: the internal address on the TUN device,
//! routes into the tunnel, the server's own route kept outside it, and DNS. Every change is
//! recorded in a state file before it is made, so a crashed connection is cleaned up by the
//! next one (or by `ikeway disconnect`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Everything to undo, in the order it was done.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct HostState {
    pub(crate) tun: String,
    pub(crate) routes: Vec<String>,
    /// `ip route` arguments of the host route that keeps the server outside the tunnel.
    pub(crate) server_route: Option<Vec<String>>,
    /// The resolv.conf we replaced, byte for byte.
    pub(crate) resolv_conf: Option<String>,
}

fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip").args(args).output().context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

impl HostState {
    pub(crate) fn path(dir: &Path) -> PathBuf {
        dir.join("host-state.json")
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    /// Routes `net/len` into the tunnel; first pins the server's own address to the path it
    /// uses now if the new route would cover it (the server must never be routed into the
    /// tunnel that is carried to it).
    pub(crate) fn add_route(
        &mut self,
        dir: &Path,
        net: IpAddr,
        len: u8,
        server: IpAddr,
    ) -> Result<()> {
        if covers(net, len, server) && self.server_route.is_none() {
            let current = ip(&["route", "get", &server.to_string()])?;
            // "10.99.0.2 via 10.98.0.1 dev ike0 src ..." or "10.99.0.2 dev ike0 src ...".
            let words: Vec<&str> = current.split_whitespace().collect();
            let mut args = vec!["route".to_owned(), "add".to_owned(), server.to_string()];
            for key in ["via", "dev"] {
                if let Some(i) = words.iter().position(|w| *w == key) {
                    args.push(key.to_owned());
                    args.push(words.get(i + 1).copied().unwrap_or_default().to_owned());
                }
            }
            self.server_route = Some(args.clone());
            self.save(dir)?;
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ip(&refs)?;
        }
        let cidr = format!("{net}/{len}");
        self.routes.push(cidr.clone());
        self.save(dir)?;
        ip(&["route", "add", &cidr, "dev", &self.tun])?;
        Ok(())
    }

    /// Points the resolver at the tunnel's DNS servers and search domains.
    pub(crate) fn set_dns(
        &mut self,
        dir: &Path,
        servers: &[IpAddr],
        domains: &[String],
    ) -> Result<()> {
        if servers.is_empty() {
            return Ok(());
        }
        let old = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
        self.resolv_conf = Some(old);
        self.save(dir)?;
        let mut text = String::from("# written by ikeway for the VPN; restored on disconnect\n");
        for s in servers {
            text.push_str(&format!("nameserver {s}\n"));
        }
        if !domains.is_empty() {
            text.push_str(&format!("search {}\n", domains.join(" ")));
        }
        std::fs::write(RESOLV_CONF, text).context("writing /etc/resolv.conf")?;
        Ok(())
    }

    /// Undoes everything recorded, newest first, and forgets the state file. Steps whose
    /// object is already gone (the TUN device took its routes with it) are not errors.
    pub(crate) fn undo(self, dir: &Path) -> Result<()> {
        if let Some(old) = &self.resolv_conf {
            std::fs::write(RESOLV_CONF, old).context("restoring /etc/resolv.conf")?;
        }
        for r in self.routes.iter().rev() {
            let _ = ip(&["route", "del", r, "dev", &self.tun]);
        }
        if let Some(args) = &self.server_route {
            let mut del: Vec<&str> = args.iter().map(String::as_str).collect();
            del[1] = "del";
            let _ = ip(&del);
        }
        let _ = std::fs::remove_file(Self::path(dir));
        Ok(())
    }

    /// State left by a connection that did not clean up (it crashed or was killed).
    pub(crate) fn stale(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
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
