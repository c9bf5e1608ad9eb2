//! The kill switch of Apple's `includeAllNetworks`: while the user wants the VPN, nothing
//! leaves the host but through the tunnel, whatever the tunnel's state (connecting,
//! reasserting, down between On Demand attempts). One nftables table, `inet ikeway` (IPv4 and
//! IPv6 in one), owned by us alone, whose output and forward chains drop everything except:
//! - loopback, and the tunnel's TUN link (what the routes send into the tunnel);
//! - IKE (UDP 500, 4500 for NAT-T and ESP-in-UDP) and ESP (IP protocol 50) to the server,
//!   from the tunnel's own sockets ([`KillSwitchPlan::with_socket_owner`]);
//! - what keeps the outer link up: DHCPv4 requests, DHCPv6 to the all-DHCP-agents group from a
//!   link-local address, IPv6 router and neighbor solicitations and neighbor advertisements
//!   with hop limit 255 (RFC 4861 §7.1: a router never forwards them, so they cannot carry
//!   anything off the link), and MLD reports with hop limit 1 (RFC 3810 §5: without them a
//!   snooping switch stops delivering the solicited-node groups ND needs);
//! - with `excludeLocalNetworks`, the local networks: the host's connected networks when the
//!   switch is planned (engaged, and again on each network change the daemon sees),
//!   link-local unicast, link-scope multicast and the limited broadcast.
//!
//! A [`KillSwitchPlan`] is a pure value: its [`KillSwitchPlan::ruleset`] is the `nft -f` text,
//! unit-tested without root. It is built only from typed values (addresses, prefixes, ports)
//! and a link name that must be one of ours (`ikeway<N>`), so nothing in the text can come
//! from elsewhere. [`KillSwitch`] carries it out with `/usr/sbin/nft` (an absolute path and a
//! fixed environment): it records the table in a [`StateStore`] before making it, replaces it
//! in one nftables transaction (the host is never without it once engaged), deletes exactly
//! that table when lifted, and [`KillSwitch::recover`] deletes it after a crash (or
//! [`KillSwitch::adopt`] takes it over, so the next owner replaces it with no gap).
//!
//! ```
//! use ikeway_tunnel::host::killswitch::KillSwitchPlan;
//!
//! let plan = KillSwitchPlan::new(&["192.0.2.1".parse().unwrap()], &[500], "ikeway0", &[], false)
//!     .unwrap();
//! let text = plan.ruleset();
//! assert!(text.contains("oifname \"ikeway0\" accept"));
//! assert!(text.contains("ip daddr { 192.0.2.1 } udp dport { 500, 4500 } accept"));
//! assert!(text.contains("policy drop;"));
//! ```
//!
//! Why `nft` and not a netlink crate: the Rust nftables crates either bind libnftnl (C, with
//! `unsafe` at the boundary) or build the same JSON/text and run `nft` anyway; a ruleset of a
//! dozen lines in one atomic `nft -f` transaction is smaller than either, and `nft` is what an
//! administrator reads the table back with.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Stdio;

use super::HostError;
use super::netlink::Rtnl;
use super::record::{self, KILL_SWITCH_TABLE, KillSwitchState, Route, StateStore};

/// The `nft` binary, by absolute path: `connect` runs as root and `PATH` is the caller's.
pub const NFT: &str = "/usr/sbin/nft";
/// IKE's port (RFC 7296 §2).
pub const IKE_PORT: u16 = 500;
/// NAT traversal's port, also ESP-in-UDP's (RFC 3948, RFC 7296 §2.23).
pub const NAT_T_PORT: u16 = 4500;
/// More server addresses than a name resolves to in practice.
pub const MAX_SERVERS: usize = 16;
/// More local networks than a host has links for.
pub const MAX_LOCAL_NETWORKS: usize = 256;
/// A bound on what `nft` prints when it refuses a ruleset.
const MAX_NFT_OUTPUT: u64 = 4096;

/// The link-local and link-scope networks that belong to "the local network" with
/// `excludeLocalNetworks`, whatever the host's addresses: IPv4 link-local (RFC 3927),
/// local network control multicast (RFC 5771 §4), the limited broadcast, IPv6 link-local
/// unicast (RFC 4291 §2.5.6) and link-local multicast (RFC 4291 §2.7).
const LINK_SCOPE: [(IpAddr, u8); 5] = [
    (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16),
    (IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)), 24),
    (IpAddr::V4(Ipv4Addr::BROADCAST), 32),
    (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
    (IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0)), 16),
];

/// Why the kill switch could not be planned, engaged or lifted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillSwitchError {
    /// The TUN link is not one of ours (`ikeway<N>`).
    #[error("link {0:?} is not one of ours (ikeway followed by 1-9 digits)")]
    NotOurLink(String),
    /// No server address, or one that cannot be a server.
    #[error("server address: {0}")]
    Server(String),
    /// More of something than a plan takes.
    #[error("{what}: {count} is more than {max}")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// How many there were.
        count: usize,
        /// The most a plan takes.
        max: usize,
    },
    /// `nft` could not be run.
    #[error("running {nft}: {source}")]
    Spawn {
        /// The binary.
        nft: String,
        /// Why it did not run.
        source: io::Error,
    },
    /// `nft` refused the change.
    #[error("{nft} refused the kill switch ({status}): {output}")]
    Refused {
        /// The binary.
        nft: String,
        /// Its exit status.
        status: String,
        /// What it printed (bounded).
        output: String,
    },
    /// The record could not be written, read or cleared.
    #[error("kill switch record: {0}")]
    Record(#[from] HostError),
}

/// What the kill switch lets out, as a pure value. Built only by [`KillSwitchPlan::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitchPlan {
    servers: Vec<IpAddr>,
    ports: Vec<u16>,
    tun: String,
    local: Vec<Route>,
    socket_owner: Option<u32>,
}

impl KillSwitchPlan {
    /// A kill switch that lets out IKE on `ports` (plus [`NAT_T_PORT`]) and ESP to `servers`,
    /// everything through the TUN link `tun` (one of ours), loopback, what keeps the outer
    /// link up and, when `allow_local` (`excludeLocalNetworks`), `local_networks` and the
    /// link-scope networks.
    pub fn new(
        servers: &[IpAddr],
        ports: &[u16],
        tun: &str,
        local_networks: &[Route],
        allow_local: bool,
    ) -> Result<Self, KillSwitchError> {
        if !record::is_our_link(tun) {
            return Err(KillSwitchError::NotOurLink(tun.to_owned()));
        }
        if servers.is_empty() {
            return Err(KillSwitchError::Server("none".into()));
        }
        if servers.len() > MAX_SERVERS {
            return Err(KillSwitchError::TooMany {
                what: "server addresses",
                count: servers.len(),
                max: MAX_SERVERS,
            });
        }
        let mut kept = Vec::new();
        for &s in servers {
            // What the rules let out to "the server" must be one host somewhere else.
            let host = match s {
                IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
                IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
            };
            if !host {
                return Err(KillSwitchError::Server(format!("{s} is not one host")));
            }
            if !kept.contains(&s) {
                kept.push(s);
            }
        }
        let mut port_list = Vec::new();
        for &p in ports.iter().chain(&[NAT_T_PORT]) {
            if p == 0 {
                return Err(KillSwitchError::Server("port 0".into()));
            }
            if !port_list.contains(&p) {
                port_list.push(p);
            }
        }
        if port_list.len() > 4 {
            return Err(KillSwitchError::TooMany {
                what: "server ports",
                count: port_list.len(),
                max: 4,
            });
        }
        let mut local = Vec::new();
        if allow_local {
            if local_networks.len() > MAX_LOCAL_NETWORKS {
                return Err(KillSwitchError::TooMany {
                    what: "local networks",
                    count: local_networks.len(),
                    max: MAX_LOCAL_NETWORKS,
                });
            }
            let link_scope = LINK_SCOPE.iter().filter_map(|&(a, l)| Route::new(a, l));
            for r in local_networks.iter().copied().chain(link_scope) {
                // A local "network" of length 0 would be everything: no kill switch at all.
                if r.len > 0 && !local.contains(&r) {
                    local.push(r);
                }
            }
        }
        Ok(Self { servers: kept, ports: port_list, tun: tun.to_owned(), local, socket_owner: None })
    }

    /// Lets IKE and ESP to the server out only from sockets of the user `uid` (ours: the
    /// tunnel's sockets), so another local user cannot send through that opening: without it
    /// any process may send UDP to the server's ports 500 and 4500 in the clear.
    pub fn with_socket_owner(mut self, uid: u32) -> Self {
        self.socket_owner = Some(uid);
        self
    }

    /// The server addresses IKE and ESP may go to.
    pub fn servers(&self) -> &[IpAddr] {
        &self.servers
    }

    /// The local networks let out (empty unless `excludeLocalNetworks`).
    pub fn local_networks(&self) -> &[Route] {
        &self.local
    }

    /// The `nft -f` text that replaces our table (or makes it) in one transaction: the first
    /// line makes sure there is a table to delete, so the host goes from the old table to
    /// the new one with nothing in between.
    pub fn ruleset(&self) -> String {
        let set = |items: Vec<String>| format!("{{ {} }}", items.join(", "));
        let of = |v6: bool| -> Vec<String> {
            self.servers.iter().filter(|s| s.is_ipv6() == v6).map(ToString::to_string).collect()
        };
        let ports = set(self.ports.iter().map(ToString::to_string).collect());
        let owner = self.socket_owner.map(|uid| format!(" meta skuid {uid}")).unwrap_or_default();
        let mut output =
            vec!["oifname \"lo\" accept".to_owned(), format!("oifname \"{}\" accept", self.tun)];
        for (family, v6) in [("ip", false), ("ip6", true)] {
            let servers = of(v6);
            if servers.is_empty() {
                continue;
            }
            let servers = set(servers);
            output.push(format!("{family} daddr {servers} udp dport {ports}{owner} accept"));
            output.push(format!("{family} daddr {servers} meta l4proto esp{owner} accept"));
        }
        output.extend(
            [
                "udp sport 68 udp dport 67 accept",
                "ip6 saddr fe80::/10 ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept",
                "ip6 hoplimit 255 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, \
                 nd-neighbor-advert } accept",
                "ip6 hoplimit 1 icmpv6 type { mld-listener-report, mld-listener-done, \
                 mld2-listener-report } accept",
            ]
            .map(str::to_owned),
        );
        let mut forward = vec![format!("oifname \"{}\" accept", self.tun)];
        for (family, v6) in [("ip", false), ("ip6", true)] {
            let nets: Vec<String> = self
                .local
                .iter()
                .filter(|r| r.net.is_ipv6() == v6)
                .map(ToString::to_string)
                .collect();
            if !nets.is_empty() {
                let rule = format!("{family} daddr {} accept", set(nets));
                output.push(rule.clone());
                forward.push(rule);
            }
        }
        let chain = |name: &str, hook: &str, rules: &[String]| {
            let mut c = format!(
                "\tchain {name} {{\n\t\ttype filter hook {hook} priority filter; policy drop;\n"
            );
            for r in rules {
                c.push_str(&format!("\t\t{r}\n"));
            }
            c.push_str("\t\tcounter drop\n\t}\n");
            c
        };
        format!(
            "table {KILL_SWITCH_TABLE}\ndelete table {KILL_SWITCH_TABLE}\n\
             table {KILL_SWITCH_TABLE} {{\n{}{}}}\n",
            chain("output", "output", &output),
            chain("forward", "forward", &forward)
        )
    }
}

/// The effective uid of this process, for [`KillSwitchPlan::with_socket_owner`].
pub fn this_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The `nft -f` text that deletes our table, and only it, whether or not it exists.
pub fn lift_ruleset() -> String {
    format!("table {KILL_SWITCH_TABLE}\ndelete table {KILL_SWITCH_TABLE}\n")
}

/// The local networks of this host (network namespace) now: the networks of the addresses on
/// every link but loopback and `tun`, for [`KillSwitchPlan::new`].
pub fn local_networks(tun: &str) -> Result<Vec<Route>, HostError> {
    let mut rtnl = Rtnl::open()?;
    let except = rtnl.link_index(tun).ok();
    let mut nets = Vec::new();
    for (addr, len) in rtnl.local_networks(except)? {
        if let Some(r) = Route::masked(addr, len).filter(|r| !nets.contains(r)) {
            nets.push(r);
        }
    }
    nets.truncate(MAX_LOCAL_NETWORKS);
    Ok(nets)
}

/// Runs `nft -f -` with `input`, by absolute path and with a fixed environment.
#[derive(Debug, Clone)]
pub struct Nft {
    path: PathBuf,
}

impl Default for Nft {
    fn default() -> Self {
        Self { path: PathBuf::from(NFT) }
    }
}

impl Nft {
    /// `nft` at `path` (tests use a stand-in that records what it is given).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn run(&self, input: &str) -> Result<(), KillSwitchError> {
        let nft = self.path.display().to_string();
        let spawn = |source| KillSwitchError::Spawn { nft: nft.clone(), source };
        let mut child = super::system_tool(&self.path)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn)?;
        let written =
            child.stdin.take().map_or(Ok(()), |mut stdin| stdin.write_all(input.as_bytes()));
        let mut output = String::new();
        if let Some(err) = child.stderr.take() {
            let _ = err.take(MAX_NFT_OUTPUT).read_to_string(&mut output);
        }
        if let Some(out) = child.stdout.take() {
            let _ = out.take(MAX_NFT_OUTPUT).read_to_string(&mut output);
        }
        let status = child.wait().map_err(spawn)?;
        written.map_err(spawn)?;
        if !status.success() {
            return Err(KillSwitchError::Refused {
                nft,
                status: status.to_string(),
                output: output.trim().to_owned(),
            });
        }
        Ok(())
    }
}

/// The kill switch of one wanted connection: engaged by [`KillSwitch::engage`], replaced by
/// [`KillSwitch::update`], lifted by [`KillSwitch::lift`]. Dropping it lifts nothing: the
/// table and the record stay, exactly as after a crash (the host stays closed, never open),
/// and [`KillSwitch::recover`] or [`KillSwitch::adopt`] takes them over. One table serves
/// every owner, so a switch handed from one owner to the next is replaced in one transaction,
/// never lifted in between.
#[derive(Debug)]
pub struct KillSwitch {
    store: Box<dyn StateStore>,
    nft: Nft,
    /// `None`: adopted from a record, the rules unknown until the next update.
    plan: Option<KillSwitchPlan>,
    engaged: bool,
}

impl KillSwitch {
    /// Records the table in `store`, then makes it with the system's `nft`: from the moment
    /// this returns, nothing but what `plan` allows leaves the host.
    pub fn engage(
        plan: KillSwitchPlan,
        store: Box<dyn StateStore>,
    ) -> Result<Self, KillSwitchError> {
        Self::engage_with(plan, store, Nft::default())
    }

    /// [`Self::engage`] with the given `nft`.
    pub fn engage_with(
        plan: KillSwitchPlan,
        store: Box<dyn StateStore>,
        nft: Nft,
    ) -> Result<Self, KillSwitchError> {
        let mut this = Self { store, nft, plan: None, engaged: false };
        if let Err(e) = this.update(plan) {
            // One transaction: a refused ruleset made nothing, but an older table of ours may
            // be there (a crash); lifting removes both it and the record.
            this.engaged = true;
            let _ = this.lift();
            return Err(e);
        }
        Ok(this)
    }

    /// Replaces the table with `plan`'s in one transaction (new local networks, a new
    /// server, another configuration's switch); on an error the old table stays.
    pub fn update(&mut self, plan: KillSwitchPlan) -> Result<(), KillSwitchError> {
        if self.engaged && self.plan.as_ref() == Some(&plan) {
            return Ok(());
        }
        self.store.save(&KillSwitchState.to_json()).map_err(HostError::Io)?;
        self.engaged = true;
        self.nft.run(&plan.ruleset())?;
        self.plan = Some(plan);
        Ok(())
    }

    /// The plan in force (`None` for a switch adopted from a record and not updated yet).
    pub fn plan(&self) -> Option<&KillSwitchPlan> {
        self.plan.as_ref()
    }

    /// Deletes our table (and nothing else), then the record.
    pub fn lift(&mut self) -> Result<(), KillSwitchError> {
        if !self.engaged {
            return Ok(());
        }
        self.nft.run(&lift_ruleset())?;
        self.engaged = false;
        self.plan = None;
        self.store.clear().map_err(HostError::Io)?;
        Ok(())
    }

    /// Takes over the switch a crashed owner recorded in `store` (validated: the record can
    /// only name our table), without touching the table: the next [`Self::update`] replaces
    /// it, [`Self::lift`] deletes it. `Ok(None)` when there is no record.
    pub fn adopt(store: Box<dyn StateStore>) -> Result<Option<Self>, KillSwitchError> {
        Self::adopt_with(store, Nft::default())
    }

    /// [`Self::adopt`] with the given `nft`.
    pub fn adopt_with(
        store: Box<dyn StateStore>,
        nft: Nft,
    ) -> Result<Option<Self>, KillSwitchError> {
        let Some(bytes) = store.load().map_err(HostError::Io)? else { return Ok(None) };
        record::parse_kill_switch(&bytes)
            .map_err(|source| HostError::Record { place: store.describe(), source })?;
        Ok(Some(Self { store, nft, plan: None, engaged: true }))
    }

    /// After a crash: when `store` holds a kill-switch record, deletes the table and the
    /// record. `Ok(false)` when there was none.
    pub fn recover(store: Box<dyn StateStore>) -> Result<bool, KillSwitchError> {
        Self::recover_with(store, &Nft::default())
    }

    /// [`Self::recover`] with the given `nft`.
    pub fn recover_with(store: Box<dyn StateStore>, nft: &Nft) -> Result<bool, KillSwitchError> {
        match Self::adopt_with(store, nft.clone())? {
            Some(mut switch) => switch.lift().map(|()| true),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests;
