//! The record of host changes a connection made (`host-state.json` in the binary's runtime
//! directory, or wherever the embedder's [`StateStore`] keeps it), written before each change
//! and read back to undo them after a crash. Root carries the record out, so it is parsed into
//! types that can only describe what [`super::LinuxHost`] itself makes: routes into one of our
//! TUN links (`ikeway<N>`) in the main table, one host route that keeps the server outside the
//! tunnel, and the DNS change with a resolv.conf backup that is a plausible resolv.conf. A
//! record that says anything else is refused whole, before any of it is undone.
//!
//! ```
//! use ikeway_tunnel::host::record::{HostState, parse};
//!
//! let state = HostState::new("ikeway0").unwrap();
//! assert_eq!(parse(&state.to_json()).unwrap(), state);
//! assert!(parse(br#"{"tun": "eth0", "routes": []}"#).is_err());
//! ```

use std::io;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::dirfd::DirFd;

/// A record larger than this was not written by us: a full-table route list is a few KiB.
pub const MAX_STATE_BYTES: usize = 256 * 1024;
/// More routes than `connect` ever adds (two /1 routes, or the server's subnets split into
/// CIDR blocks, at most 2 x 128 per selector).
pub const MAX_ROUTES: usize = 4096;
/// glibc reads at most this much of resolv.conf that matters; a larger backup is not one.
pub const MAX_RESOLV_CONF_BYTES: usize = 64 * 1024;
/// Prefix of the TUN links `connect` makes (`ikeway0`, `ikeway1`, ...).
pub const LINK_PREFIX: &str = "ikeway";
/// The `ip route ... proto` of every route `connect` adds, so that undoing deletes only routes
/// we made (the kernel matches the protocol on delete). Not in iproute2's `rt_protos` list.
pub const ROUTE_PROTO: u8 = 77;

/// The record's name in a [`StateFile`]'s directory.
pub const STATE_FILE: &str = "host-state.json";
/// The kill switch's record ([`StateFile::kill_switch`]): apart from the host-state record,
/// because the kill switch outlives each tunnel (it stays while a connection is wanted).
pub const KILL_SWITCH_FILE: &str = "killswitch-state.json";

/// Where the record lives. Written before every change; a crashed connection's record is
/// loaded by the next one (or by `ikeway disconnect`), validated with [`parse`] and undone.
pub trait StateStore: Send + std::fmt::Debug {
    /// The stored record, at most [`MAX_STATE_BYTES`] of it; `None` when there is none.
    fn load(&self) -> io::Result<Option<Vec<u8>>>;
    /// Replaces the record atomically: a crash leaves the old one or the new one whole.
    fn save(&self, bytes: &[u8]) -> io::Result<()>;
    /// Forgets the record (everything in it was undone).
    fn clear(&self) -> io::Result<()>;
    /// Where the record is, for messages.
    fn describe(&self) -> String;
}

/// The record as [`STATE_FILE`] (mode 0600) in a directory opened by the caller, read and
/// written only through the directory fd, never through a symlink.
#[derive(Debug)]
pub struct StateFile {
    dir: DirFd,
    name: &'static str,
}

impl StateFile {
    /// The record in `dir` (the binary passes its checked runtime directory).
    pub fn new(dir: DirFd) -> Self {
        Self { dir, name: STATE_FILE }
    }

    /// The kill switch's record ([`KILL_SWITCH_FILE`]) in `dir`.
    pub fn kill_switch(dir: DirFd) -> Self {
        Self { dir, name: KILL_SWITCH_FILE }
    }
}

impl StateStore for StateFile {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        self.dir.read(self.name, MAX_STATE_BYTES)
    }

    fn save(&self, bytes: &[u8]) -> io::Result<()> {
        self.dir.write_atomic(self.name, bytes, 0o600)
    }

    fn clear(&self) -> io::Result<()> {
        self.dir.remove(self.name)
    }

    fn describe(&self) -> String {
        self.dir.path().join(self.name).display().to_string()
    }
}

/// Why a record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostStateError {
    /// Larger than any record we write.
    #[error("{0} bytes is larger than any record ikeway writes ({MAX_STATE_BYTES})")]
    TooLarge(usize),
    /// Not JSON of the record's shape (unknown fields included).
    #[error("not a host-state record: {0}")]
    Syntax(String),
    /// A link that is not `ikeway<N>`.
    #[error("link {0:?} is not one of ours (ikeway followed by 1-9 digits)")]
    NotOurLink(String),
    /// More routes than a plan makes.
    #[error("{0} routes is more than connect ever adds ({MAX_ROUTES})")]
    TooManyRoutes(usize),
    /// A route that is not a network with a prefix length.
    #[error("route {0:?} is not a network address with a prefix length")]
    BadRoute(String),
    /// A server route that is not one we pin.
    #[error("server route: {0}")]
    BadServerRoute(String),
    /// A resolv.conf backup that is not a resolv.conf.
    #[error("resolv.conf backup: {0}")]
    BadResolvConf(String),
    /// A kill-switch record that names anything but our own nftables table.
    #[error("kill switch: {0}")]
    BadKillSwitch(String),
}

/// A network `net/len` (host bits clear): in the record, a route added into the TUN link,
/// main table, [`ROUTE_PROTO`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The network address.
    pub net: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

impl Route {
    /// A route to `net/len` when `net` is the network address of that prefix.
    pub fn new(net: IpAddr, len: u8) -> Option<Self> {
        let (bits, value) = match net {
            IpAddr::V4(a) => (32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (128, u128::from(a)),
        };
        if u32::from(len) > bits {
            return None;
        }
        let host_bits = bits - u32::from(len);
        let host_mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        (value & host_mask == 0).then_some(Self { net, len })
    }

    /// The route to the network of `addr/len` (host bits cleared), as a server's
    /// INTERNAL_IP4_SUBNET may carry them set.
    pub fn masked(addr: IpAddr, len: u8) -> Option<Self> {
        let net = match addr {
            IpAddr::V4(a) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) if len <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
            _ => return None,
        };
        Self::new(net, len)
    }

    fn parse(s: &str) -> Option<Self> {
        let (net, len) = s.split_once('/')?;
        Self::new(net.parse().ok()?, len.parse().ok()?)
    }
}

/// The host route that keeps the server outside the tunnel: `dest` via the gateway and device
/// the host used for it before the tunnel came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRoute {
    /// The server's address (a /32 or /128 route).
    pub dest: IpAddr,
    /// The gateway the host used for it, if it was not directly connected.
    pub via: Option<IpAddr>,
    /// The device the host used for it.
    pub dev: String,
}

/// What was done to the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsChange {
    /// `/etc/resolv.conf` was replaced; this puts it back.
    ResolvConf(ResolvBackup),
    /// systemd-resolved got per-link DNS on the TUN link (`resolvectl revert` undoes it).
    Resolved,
}

/// `/etc/resolv.conf` as it was before we replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvBackup {
    /// There was none.
    Missing,
    /// A regular file with this text.
    File(String),
    /// A symlink to this target (e.g. `../run/systemd/resolve/stub-resolv.conf`).
    Symlink(String),
}

/// Everything to undo, in the order it was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    tun: String,
    /// Routes into the TUN link, in the order they were added.
    pub routes: Vec<Route>,
    /// The server's pinned host route, added before the first route that covers it.
    pub server_route: Option<ServerRoute>,
    /// The resolver change, made before any route.
    pub dns: Option<DnsChange>,
}

impl HostState {
    /// An empty record for the TUN link `tun`, which must be one of ours.
    pub fn new(tun: &str) -> Result<Self, HostStateError> {
        if !is_our_link(tun) {
            return Err(HostStateError::NotOurLink(tun.to_owned()));
        }
        Ok(Self { tun: tun.to_owned(), routes: Vec::new(), server_route: None, dns: None })
    }

    /// The TUN link the changes belong to.
    pub fn tun(&self) -> &str {
        &self.tun
    }

    /// The record as [`parse`] reads it back.
    pub fn to_json(&self) -> Vec<u8> {
        let raw = Raw {
            tun: self.tun.clone(),
            routes: self.routes.iter().map(ToString::to_string).collect(),
            server_route: self.server_route.as_ref().map(|r| RawServerRoute {
                dest: r.dest,
                via: r.via,
                dev: r.dev.clone(),
            }),
            dns: self.dns.as_ref().map(|d| match d {
                DnsChange::Resolved => RawDns::Resolved,
                DnsChange::ResolvConf(ResolvBackup::Missing) => RawDns::ResolvConfMissing,
                DnsChange::ResolvConf(ResolvBackup::File(t)) => RawDns::ResolvConfFile(t.clone()),
                DnsChange::ResolvConf(ResolvBackup::Symlink(t)) => {
                    RawDns::ResolvConfSymlink(t.clone())
                }
            }),
        };
        serde_json::to_vec_pretty(&raw).expect("plain strings and numbers always serialize")
    }
}

/// `ikeway` followed by 1-9 digits: the only links `connect` makes (and accepts for `--tun`).
pub fn is_our_link(name: &str) -> bool {
    name.strip_prefix(LINK_PREFIX)
        .is_some_and(|n| (1..=9).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A Linux interface name (`dev_valid_name`): 1-15 bytes, no `/`, `:` or whitespace, not `.`
/// or `..`; and, because it becomes an `ip` argument, not starting with `-`.
pub fn is_interface_name(name: &str) -> bool {
    (1..16).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// Checks a resolv.conf backup before it is written back: bounded, text, and made only of
/// comments and the directives resolv.conf(5) knows, with addresses that parse.
pub fn check_resolv_conf(text: &str) -> Result<(), HostStateError> {
    let bad = |why: String| Err(HostStateError::BadResolvConf(why));
    if text.len() > MAX_RESOLV_CONF_BYTES {
        return bad(format!("{} bytes is larger than {MAX_RESOLV_CONF_BYTES}", text.len()));
    }
    for (n, line) in text.lines().enumerate() {
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return bad(format!("line {}: control character", n + 1));
        }
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some(w) if w.starts_with('#') || w.starts_with(';') => {}
            Some("nameserver") => {
                let addr = words.next().unwrap_or_default();
                // A link-local IPv6 server may carry its zone: fe80::1%eth0.
                let bare = addr.split_once('%').map_or(addr, |(a, _)| a);
                if bare.parse::<IpAddr>().is_err() {
                    return bad(format!("line {}: nameserver {addr:?} is not an address", n + 1));
                }
            }
            Some("domain" | "search" | "options" | "sortlist" | "lookup" | "family") => {}
            Some(other) => return bad(format!("line {}: unknown directive {other:?}", n + 1)),
        }
    }
    Ok(())
}

/// A symlink target to restore: a path whose last component ends in `resolv.conf`, as every
/// resolver manager's is (`../run/systemd/resolve/stub-resolv.conf`,
/// `/run/resolvconf/resolv.conf`, `/run/NetworkManager/resolv.conf`).
pub fn check_resolv_symlink(target: &str) -> Result<(), HostStateError> {
    let last = target.rsplit('/').next().unwrap_or_default();
    if target.len() > 4095 || target.chars().any(char::is_control) || !last.ends_with("resolv.conf")
    {
        return Err(HostStateError::BadResolvConf(format!(
            "symlink target {target:?} is not a resolv.conf"
        )));
    }
    Ok(())
}

/// Parses and validates a record; nothing in it is trusted before this returns `Ok`.
pub fn parse(bytes: &[u8]) -> Result<HostState, HostStateError> {
    if bytes.len() > MAX_STATE_BYTES {
        return Err(HostStateError::TooLarge(bytes.len()));
    }
    let raw: Raw =
        serde_json::from_slice(bytes).map_err(|e| HostStateError::Syntax(e.to_string()))?;
    let mut state = HostState::new(&raw.tun)?;
    if raw.routes.len() > MAX_ROUTES {
        return Err(HostStateError::TooManyRoutes(raw.routes.len()));
    }
    for r in &raw.routes {
        state.routes.push(Route::parse(r).ok_or_else(|| HostStateError::BadRoute(r.clone()))?);
    }
    if let Some(r) = raw.server_route {
        let bad = |why: String| HostStateError::BadServerRoute(why);
        if !is_interface_name(&r.dev) {
            return Err(bad(format!("device {:?} is not an interface name", r.dev)));
        }
        if r.via.is_some_and(|via| via.is_ipv4() != r.dest.is_ipv4()) {
            return Err(bad("gateway and destination are of different families".into()));
        }
        state.server_route = Some(ServerRoute { dest: r.dest, via: r.via, dev: r.dev });
    }
    state.dns = match raw.dns {
        None => None,
        Some(RawDns::Resolved) => Some(DnsChange::Resolved),
        Some(RawDns::ResolvConfMissing) => Some(DnsChange::ResolvConf(ResolvBackup::Missing)),
        Some(RawDns::ResolvConfFile(text)) => {
            check_resolv_conf(&text)?;
            Some(DnsChange::ResolvConf(ResolvBackup::File(text)))
        }
        Some(RawDns::ResolvConfSymlink(target)) => {
            check_resolv_symlink(&target)?;
            Some(DnsChange::ResolvConf(ResolvBackup::Symlink(target)))
        }
    };
    Ok(state)
}

/// The kill switch's record: the one nftables table it made. Its only field can only name
/// `inet ikeway`, so undoing a record, whatever its bytes, can only ever delete our own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillSwitchState;

/// The table a [`KillSwitchState`] names, as `nft` spells it.
pub const KILL_SWITCH_TABLE: &str = "inet ikeway";

impl KillSwitchState {
    /// The record as [`parse_kill_switch`] reads it back.
    pub fn to_json(self) -> Vec<u8> {
        let raw = RawKillSwitch { table: KILL_SWITCH_TABLE.to_owned() };
        serde_json::to_vec(&raw).expect("one string always serializes")
    }
}

/// Parses and validates a kill-switch record: exactly `{"table": "inet ikeway"}`.
pub fn parse_kill_switch(bytes: &[u8]) -> Result<KillSwitchState, HostStateError> {
    if bytes.len() > MAX_STATE_BYTES {
        return Err(HostStateError::TooLarge(bytes.len()));
    }
    let raw: RawKillSwitch =
        serde_json::from_slice(bytes).map_err(|e| HostStateError::Syntax(e.to_string()))?;
    if raw.table != KILL_SWITCH_TABLE {
        return Err(HostStateError::BadKillSwitch(format!(
            "table {:?} is not ours ({KILL_SWITCH_TABLE:?})",
            raw.table
        )));
    }
    Ok(KillSwitchState)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKillSwitch {
    table: String,
}

/// The file's shape. Unknown fields are refused: a record we did not write is not undone.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    tun: String,
    routes: Vec<String>,
    #[serde(default)]
    server_route: Option<RawServerRoute>,
    #[serde(default)]
    dns: Option<RawDns>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServerRoute {
    dest: IpAddr,
    via: Option<IpAddr>,
    dev: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawDns {
    Resolved,
    ResolvConfMissing,
    ResolvConfFile(String),
    ResolvConfSymlink(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HostState {
        let mut s = HostState::new("ikeway0").unwrap();
        s.routes.push(Route::new("0.0.0.0".parse().unwrap(), 1).unwrap());
        s.routes.push(Route::new("128.0.0.0".parse().unwrap(), 1).unwrap());
        s.routes.push(Route::new("2001:db8::".parse().unwrap(), 32).unwrap());
        s.server_route = Some(ServerRoute {
            dest: "192.0.2.1".parse().unwrap(),
            via: Some("198.51.100.1".parse().unwrap()),
            dev: "eth0".into(),
        });
        s.dns = Some(DnsChange::ResolvConf(ResolvBackup::File(
            "# local\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nsearch lan\noptions edns0\n"
                .into(),
        )));
        s
    }

    #[test]
    fn round_trips() {
        let s = full();
        assert_eq!(parse(&s.to_json()).unwrap(), s);
        for dns in [
            DnsChange::Resolved,
            DnsChange::ResolvConf(ResolvBackup::Missing),
            DnsChange::ResolvConf(ResolvBackup::Symlink(
                "../run/systemd/resolve/stub-resolv.conf".into(),
            )),
        ] {
            let s = HostState { dns: Some(dns), ..full() };
            assert_eq!(parse(&s.to_json()).unwrap(), s);
        }
    }

    fn refused(json: &str) -> HostStateError {
        parse(json.as_bytes()).expect_err(json)
    }

    /// Issue 9 finding 1: a record describing anything but what `connect` makes is refused
    /// whole: another link, a route that is not a network, arbitrary `ip` words, an unknown
    /// field, a resolv.conf backup with foreign text.
    #[test]
    fn refuses_what_connect_never_makes() {
        assert_eq!(
            refused(r#"{"tun": "eth0", "routes": []}"#),
            HostStateError::NotOurLink("eth0".into())
        );
        for tun in ["ikeway", "ikeway0 x", "ikeway-1", "ikeway0123456789", "-ikeway0", ""] {
            let json = format!(r#"{{"tun": {tun:?}, "routes": []}}"#);
            assert_eq!(refused(&json), HostStateError::NotOurLink(tun.into()));
        }
        for route in ["10.0.0.1/24", "10.0.0.0", "10.0.0.0/33", "::/129", "default", "-f/0"] {
            let json = format!(r#"{{"tun": "ikeway0", "routes": [{route:?}]}}"#);
            assert_eq!(refused(&json), HostStateError::BadRoute(route.into()));
        }
        // The old format: arbitrary `ip` arguments.
        assert!(matches!(
            refused(
                r#"{"tun": "ikeway0", "routes": [], "server_route": ["route", "flush", "all"]}"#
            ),
            HostStateError::Syntax(_)
        ));
        assert!(matches!(
            refused(r#"{"tun": "ikeway0", "routes": [], "resolv_conf": "nameserver 6.6.6.6"}"#),
            HostStateError::Syntax(_)
        ));
        for dev in ["-batch", "a/b", "", "x y", "sixteen-chars-xx"] {
            let json = format!(
                r#"{{"tun": "ikeway0", "routes": [], "server_route": {{"dest": "192.0.2.1", "via": null, "dev": {dev:?}}}}}"#
            );
            assert!(matches!(refused(&json), HostStateError::BadServerRoute(_)), "{dev:?}");
        }
        let mixed = r#"{"tun": "ikeway0", "routes": [], "server_route": {"dest": "192.0.2.1", "via": "fe80::1", "dev": "eth0"}}"#;
        assert!(matches!(refused(mixed), HostStateError::BadServerRoute(_)));
        for text in [
            "nameserver 6.6.6.6\n/bin/sh -c id\n",
            "nameserver evil.example\n",
            "nameserver 1.1.1.1\0\n",
        ] {
            let json = format!(
                r#"{{"tun": "ikeway0", "routes": [], "dns": {{"resolv_conf_file": {}}}}}"#,
                serde_json::to_string(text).unwrap()
            );
            assert!(matches!(refused(&json), HostStateError::BadResolvConf(_)), "{text:?}");
        }
        for target in ["/etc/shadow", "../../etc/passwd", "resolv.conf\nx"] {
            let json = format!(
                r#"{{"tun": "ikeway0", "routes": [], "dns": {{"resolv_conf_symlink": {}}}}}"#,
                serde_json::to_string(target).unwrap()
            );
            assert!(matches!(refused(&json), HostStateError::BadResolvConf(_)), "{target:?}");
        }
    }

    /// Issue 9 finding 1: short, empty, truncated and oversized records are errors, never
    /// panics (the old undo indexed `server_route[1]` of whatever list it found).
    #[test]
    fn malformed_records_are_errors_not_panics() {
        let good = full().to_json();
        for n in 0..good.len() {
            assert!(parse(&good[..n]).is_err(), "prefix of {n} bytes");
        }
        for json in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"tun": "ikeway0"}"#,
            r#"{"tun": "ikeway0", "routes": [], "server_route": []}"#,
            r#"{"tun": "ikeway0", "routes": [], "server_route": ["route"]}"#,
            r#"{"tun": "ikeway0", "routes": [1]}"#,
        ] {
            assert!(parse(json.as_bytes()).is_err(), "{json}");
        }
        let huge = vec![b' '; MAX_STATE_BYTES + 1];
        assert_eq!(parse(&huge), Err(HostStateError::TooLarge(MAX_STATE_BYTES + 1)));
        let many: Vec<String> =
            (0..=MAX_ROUTES).map(|i| format!("\"10.{}.{}.0/24\"", i / 256, i % 256)).collect();
        let json = format!(r#"{{"tun": "ikeway0", "routes": [{}]}}"#, many.join(","));
        assert_eq!(refused(&json), HostStateError::TooManyRoutes(MAX_ROUTES + 1));
    }

    /// A kill-switch record can only name our own table: anything else, extra fields
    /// included, is refused before `nft` runs.
    #[test]
    fn a_kill_switch_record_names_only_our_table() {
        let json = KillSwitchState.to_json();
        assert_eq!(json, br#"{"table":"inet ikeway"}"#);
        assert_eq!(parse_kill_switch(&json), Ok(KillSwitchState));
        for bad in [
            r#"{"table": "inet filter"}"#,
            r#"{"table": "ip nat"}"#,
            r#"{"table": "inet ikeway; flush ruleset"}"#,
            r#"{"table": "inet ikeway\nflush ruleset"}"#,
            r#"{"table": "inet ikeway ", "x": 1}"#,
            r#"{"table": "inet ikeway", "rules": "flush ruleset"}"#,
            r#"{}"#,
            "",
            "[]",
        ] {
            assert!(parse_kill_switch(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_kill_switch(br#"{"table": "inet filter"}"#),
            Err(HostStateError::BadKillSwitch(_))
        ));
        let huge = vec![b' '; MAX_STATE_BYTES + 1];
        assert_eq!(parse_kill_switch(&huge), Err(HostStateError::TooLarge(MAX_STATE_BYTES + 1)));
    }

    #[test]
    fn masked_routes_clear_host_bits() {
        let r = Route::masked("10.1.2.3".parse().unwrap(), 16).unwrap();
        assert_eq!(r.to_string(), "10.1.0.0/16");
        assert_eq!(Route::masked("10.1.2.3".parse().unwrap(), 0).unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(
            Route::masked("2001:db8::1".parse().unwrap(), 128).unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert!(Route::masked("10.1.2.3".parse().unwrap(), 33).is_none());
    }

    #[test]
    fn link_and_interface_names() {
        assert!(is_our_link("ikeway0") && is_our_link("ikeway123456789"));
        assert!(!is_our_link("ikeway1234567890") && !is_our_link("ikewayx"));
        assert!(
            is_interface_name("eth0") && is_interface_name("wlp0s20f3") && is_interface_name("lo")
        );
        assert!(!is_interface_name("..") && !is_interface_name("eth0:1"));
    }
}
