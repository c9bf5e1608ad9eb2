//! The tunnel's DNS on the host. The server's INTERNAL_IP4/6_DNS and INTERNAL_DNS_DOMAIN are
//! untrusted: only addresses that can be name servers and RFC 1035 names are used, and they are
//! formatted here, never copied. With systemd-resolved running they go on the TUN link
//! (`resolvectl dns/domain`, undone by `resolvectl revert`); otherwise `/etc/resolv.conf` is
//! replaced atomically (temporary file `O_EXCL|O_NOFOLLOW`, fsync, rename; a symlink there is
//! replaced, not followed) and put back the same way.

//!
//! systemd-resolved is reached through `resolvectl`, not D-Bus: the well-kept D-Bus crate
//! (`zbus`) brings an async executor and dozens of crates for the three calls made here, and
//! `resolvectl` is present wherever resolved is.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use rustix::fs::FileType;

use super::HostError;
use super::dirfd::DirFd;
use super::record::{
    DnsChange, MAX_RESOLV_CONF_BYTES, ResolvBackup, check_resolv_conf, check_resolv_symlink,
};

/// glibc uses the first three name servers (MAXNS).
pub const MAX_SERVERS: usize = 3;
/// glibc before 2.26 used at most six search domains (MAXDNSRCH); more is never needed here.
pub const MAX_DOMAINS: usize = 6;
const RESOLV_CONF: &str = "resolv.conf";
/// The first line of every resolv.conf we write: what tells ours from someone else's at
/// restore time.
const WRITTEN_BY_US: &str = "# written by ikeway for the VPN; restored on disconnect\n";
/// systemd-resolved's varlink socket: present while resolved runs.
const RESOLVED_SOCKET: &str = "/run/systemd/resolve/io.systemd.Resolve";
/// `resolvectl`, by absolute path and with a cleared environment as `nft`; it ships with
/// systemd-resolved in `/usr/bin`.
pub const RESOLVECTL: &str = "/usr/bin/resolvectl";

/// A domain name as RFC 1035 §2.3.1 (with RFC 1123's leading digits) spells it: labels of
/// 1-63 letters, digits and hyphens, not starting or ending with a hyphen, 253 characters in
/// all; one trailing dot allowed. Anything else (spaces, newlines, non-ASCII) is refused.
pub fn valid_domain(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An address a resolver can send queries to.
pub fn valid_server(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        // A link-local server would need the zone of an interface the server cannot name.
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast() || a.is_unicast_link_local()),
    }
}

/// The servers and domains worth using, which queries they take, and what was dropped (for
/// the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// At most [`MAX_SERVERS`] distinct servers that can take queries.
    pub servers: Vec<IpAddr>,
    /// Search domains (at most [`MAX_DOMAINS`] distinct RFC 1035 names): appended to short
    /// names, and names under them go to these servers.
    pub domains: Vec<String>,
    /// Routing-only domains (systemd-resolved's `~name`): names under them go to these
    /// servers, nothing is searched; `"."` stands for every name. Distinct from `domains`.
    pub routing_domains: Vec<String>,
    /// Whether names no link's domain claims go to these servers too (resolved's
    /// DefaultRoute).
    pub default_route: bool,
    /// What was left out, one line each.
    pub dropped: Vec<String>,
}

impl Default for Checked {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            domains: Vec::new(),
            routing_domains: Vec::new(),
            default_route: true,
            dropped: Vec::new(),
        }
    }
}

/// Keeps the servers and domains that pass [`valid_server`] and [`valid_domain`], within the
/// resolver's limits; the domains are search domains and the servers a default route.
pub fn check(servers: &[IpAddr], domains: &[String]) -> Checked {
    let mut out = Checked::default();
    for s in servers {
        if valid_server(*s) && out.servers.len() < MAX_SERVERS && !out.servers.contains(s) {
            out.servers.push(*s);
        } else {
            out.dropped.push(format!("name server {s}"));
        }
    }
    out.domains = check_domains(domains, &mut out.dropped);
    out
}

fn check_domains(domains: &[String], dropped: &mut Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        // One spelling per name: resolved and glibc treat `a.b.` and `A.B` as `a.b`.
        let name = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
        if valid_domain(d) && out.len() < MAX_DOMAINS && !out.contains(&name) {
            out.push(name);
        } else {
            dropped.push(format!("domain {d:?}"));
        }
    }
    out
}

/// The DNS of a tunnel: which names its servers take (Apple's `NEDNSSettings`, RFC 8598).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsRequest<'a> {
    /// The name servers.
    pub servers: &'a [IpAddr],
    /// `searchDomains`.
    pub search_domains: &'a [String],
    /// `matchDomains`: names under them go to these servers (the server's
    /// INTERNAL_DNS_DOMAIN, RFC 8598, is one).
    pub match_domains: &'a [String],
    /// `matchDomainsNoSearch`: the match domains are not searched too.
    pub match_domains_no_search: bool,
    /// All traffic goes into the tunnel.
    pub all_traffic: bool,
}

/// Checks a [`DnsRequest`] and decides which queries the servers take:
/// - all traffic in the tunnel: every name (routing domain `"."`, and the link is a default
///   route), so no query leaks to the host's servers; the domains are searched.
/// - match domains and not all traffic (split DNS): only names under them (routing domains;
///   searched as well unless `match_domains_no_search`); not a default route.
/// - neither: the servers are a default route (Apple: with no match domains the servers are
///   the default resolver); search domains searched.
pub fn plan(req: &DnsRequest<'_>) -> Checked {
    let mut out = check(req.servers, req.search_domains);
    let matched = check_domains(req.match_domains, &mut out.dropped);
    if !req.match_domains_no_search {
        for m in &matched {
            if !out.domains.contains(m) && out.domains.len() < MAX_DOMAINS {
                out.domains.push(m.clone());
            }
        }
    }
    if req.all_traffic {
        out.routing_domains = vec![".".to_owned()];
        out.default_route = true;
    } else if !matched.is_empty() {
        out.routing_domains = matched.into_iter().filter(|m| !out.domains.contains(m)).collect();
        out.default_route = false;
    }
    out
}

/// resolv.conf text from checked values only. A resolv.conf cannot route by name: every query
/// goes to these servers, and routing domains are searched like the others.
pub fn resolv_conf_text(c: &Checked) -> String {
    let mut text = String::from(WRITTEN_BY_US);
    for s in &c.servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    let search: Vec<&str> = c
        .domains
        .iter()
        .chain(&c.routing_domains)
        .map(String::as_str)
        .filter(|d| *d != ".")
        .collect();
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    text
}

/// resolvectl's `domain` arguments: search domains as they are, routing-only ones with `~`.
pub fn resolved_domains(c: &Checked) -> Vec<String> {
    let routing = c.routing_domains.iter().map(|d| format!("~{d}"));
    routing.chain(c.domains.iter().cloned()).collect()
}

/// Where the resolver configuration lives.
#[derive(Debug)]
pub enum Resolver {
    /// systemd-resolved, per link.
    Resolved,
    /// A resolv.conf in this directory (`/etc`; a scratch directory in tests).
    ResolvConf(DirFd),
}

impl Resolver {
    /// systemd-resolved when `resolvectl` runs and resolved is up, else `/etc/resolv.conf`.
    pub fn system() -> Result<Self, HostError> {
        let resolvectl = super::system_tool(Path::new(RESOLVECTL))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if resolvectl && Path::new(RESOLVED_SOCKET).exists() {
            return Ok(Self::Resolved);
        }
        Ok(Self::ResolvConf(DirFd::open(Path::new("/etc"))?))
    }

    /// What undoing `apply` needs, to be recorded before `apply` runs.
    pub fn backup(&self) -> Result<DnsChange, HostError> {
        let Self::ResolvConf(dir) = self else { return Ok(DnsChange::Resolved) };
        let path = dir.path().join(RESOLV_CONF);
        let refuse = |why: String| HostError::Dns(format!("not changing DNS: {why}"));
        let backup = match dir.kind(RESOLV_CONF)? {
            None => ResolvBackup::Missing,
            Some(FileType::Symlink) => {
                let target = String::from_utf8(dir.read_link(RESOLV_CONF)?)
                    .map_err(|_| refuse(format!("{}: the symlink is not UTF-8", path.display())))?;
                check_resolv_symlink(&target)
                    .map_err(|e| refuse(format!("{}: {e}", path.display())))?;
                ResolvBackup::Symlink(target)
            }
            Some(_) => {
                let bytes = dir.read(RESOLV_CONF, MAX_RESOLV_CONF_BYTES)?.unwrap_or_default();
                let text = String::from_utf8(bytes)
                    .map_err(|_| refuse(format!("{} is not UTF-8", path.display())))?;
                check_resolv_conf(&text).map_err(|e| refuse(format!("{}: {e}", path.display())))?;
                ResolvBackup::File(text)
            }
        };
        Ok(DnsChange::ResolvConf(backup))
    }

    /// Points the resolver at the tunnel's checked servers and domains.
    pub fn apply(&self, tun: &str, c: &Checked) -> Result<(), HostError> {
        match self {
            Self::Resolved => {
                let mut dns = vec!["dns".to_owned(), tun.to_owned()];
                dns.extend(c.servers.iter().map(ToString::to_string));
                resolvectl(&dns)?;
                let domains = resolved_domains(c);
                if !domains.is_empty() {
                    let mut domain = vec!["domain".to_owned(), tun.to_owned()];
                    domain.extend(domains);
                    resolvectl(&domain)?;
                }
                let default_route = if c.default_route { "yes" } else { "no" };
                resolvectl(&["default-route".to_owned(), tun.to_owned(), default_route.to_owned()])
            }
            Self::ResolvConf(dir) => Ok(replace(dir, resolv_conf_text(c).as_bytes())?),
        }
    }

    /// Undoes `apply` from its recorded backup. Returns `false` when the resolv.conf there
    /// now is not the one we wrote (someone replaced it while the tunnel was up: a DHCP client,
    /// resolvconf, an administrator): theirs is newer than our backup and stays; putting the
    /// backup back would undo their change.
    pub fn restore(&self, tun: &str, change: &DnsChange) -> Result<bool, HostError> {
        match (self, change) {
            // The link may be gone already, and with it resolved's settings.
            (_, DnsChange::Resolved) => {
                let _ = resolvectl(&["revert".to_owned(), tun.to_owned()]);
                Ok(true)
            }
            (Self::Resolved, DnsChange::ResolvConf(_)) => Err(HostError::Dns(
                "a resolv.conf backup to restore, but systemd-resolved manages DNS now".into(),
            )),
            (Self::ResolvConf(dir), DnsChange::ResolvConf(backup)) => {
                if !written_by_us(dir)? {
                    return Ok(false);
                }
                match backup {
                    ResolvBackup::Missing => dir.remove(RESOLV_CONF)?,
                    ResolvBackup::File(text) => replace(dir, text.as_bytes())?,
                    ResolvBackup::Symlink(target) => dir.symlink_atomic(RESOLV_CONF, target)?,
                }
                Ok(true)
            }
        }
    }
}

/// Whether the resolv.conf in `dir` is a regular file we wrote (never following a symlink).
fn written_by_us(dir: &DirFd) -> Result<bool, HostError> {
    if !matches!(dir.kind(RESOLV_CONF)?, Some(FileType::RegularFile)) {
        return Ok(false);
    }
    let bytes = dir.read(RESOLV_CONF, MAX_RESOLV_CONF_BYTES)?.unwrap_or_default();
    Ok(bytes.starts_with(WRITTEN_BY_US.as_bytes()))
}

/// Atomic replacement; where resolv.conf is a mount point (containers bind-mount it) rename
/// cannot replace it, and the file is rewritten in place, still without following a symlink.
fn replace(dir: &DirFd, bytes: &[u8]) -> io::Result<()> {
    match dir.write_atomic(RESOLV_CONF, bytes, 0o644) {
        Err(e) if e.kind() == io::ErrorKind::ResourceBusy => dir.overwrite(RESOLV_CONF, bytes),
        other => other,
    }
}

fn resolvectl(args: &[String]) -> Result<(), HostError> {
    let out = super::system_tool(Path::new(RESOLVECTL)).args(args).output()?;
    if !out.status.success() {
        return Err(HostError::Dns(format!(
            "resolvectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Issue 9 finding 3: hostile domain names are refused: newline injection of directives,
    /// spaces, over-long labels and names, non-ASCII, empty labels.
    #[test]
    fn domain_validator_refuses_hostile_names() {
        for good in ["corp.example.org", "corp.example.org.", "a", "1x.example", "a-b.c"] {
            assert!(valid_domain(good), "{good:?}");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        assert!(valid_domain(&"a".repeat(63)));
        assert!(valid_domain(&["abcdefghi"; 25].join(".")));
        for bad in [
            "evil.example\nnameserver 6.6.6.6",
            "evil.example nameserver 6.6.6.6",
            "nameserver 6.6.6.6",
            "options ndots:15",
            "evil.example\r",
            "evil.example\0",
            "bücher.example",
            "ex\u{430}mple.org",
            "",
            ".",
            "a..b",
            ".a",
            "-a.example",
            "a-.example",
            "a_b.example",
            "a/b",
            "#comment",
            &long_label,
            &long_name,
        ] {
            assert!(!valid_domain(bad), "{bad:?}");
        }
    }

    /// Issue 9 finding 3: what reaches resolv.conf is formatted from checked values: a hostile
    /// domain is dropped (and reported), never written.
    #[test]
    fn resolv_conf_holds_only_checked_values() {
        let servers: Vec<IpAddr> = ["10.88.0.1", "0.0.0.0", "224.0.0.1", "fe80::1", "2001:db8::53"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let domains = vec![
            "corp.example.org".to_owned(),
            "x\nnameserver 6.6.6.6".to_owned(),
            "y search evil".to_owned(),
        ];
        let c = check(&servers, &domains);
        assert_eq!(
            resolv_conf_text(&c),
            "# written by ikeway for the VPN; restored on disconnect\n\
             nameserver 10.88.0.1\nnameserver 2001:db8::53\nsearch corp.example.org\n"
        );
        assert_eq!(c.dropped.len(), 5, "{:?}", c.dropped);
        assert!(check_resolv_conf(&resolv_conf_text(&c)).is_ok());
        let many: Vec<IpAddr> = (1..=5).map(|i| format!("10.0.0.{i}").parse().unwrap()).collect();
        assert_eq!(check(&many, &[]).servers.len(), MAX_SERVERS);
    }

    fn scratch() -> (tempfile::TempDir, Resolver) {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = DirFd::open(t.path()).unwrap();
        (t, Resolver::ResolvConf(dir))
    }

    /// Issue 9 finding 3: resolv.conf is replaced and restored without following a symlink
    /// at its name: the link's target is never written, and the link comes back as it was.
    #[test]
    fn replaces_and_restores_without_following_symlinks() {
        let (t, r) = scratch();
        let target = t.path().join("stub-resolv.conf");
        std::fs::write(&target, "nameserver 127.0.0.53\n").unwrap();
        std::os::unix::fs::symlink("stub-resolv.conf", t.path().join(RESOLV_CONF)).unwrap();
        let backup = r.backup().unwrap();
        assert_eq!(backup, DnsChange::ResolvConf(ResolvBackup::Symlink("stub-resolv.conf".into())));
        let c = check(&["10.88.0.1".parse().unwrap()], &["corp.example".into()]);
        r.apply("ikeway0", &c).unwrap();
        let path = t.path().join(RESOLV_CONF);
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), resolv_conf_text(&c));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "nameserver 127.0.0.53\n");
        r.restore("ikeway0", &backup).unwrap();
        assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("stub-resolv.conf"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "nameserver 127.0.0.53\n");
    }

    /// A resolv.conf someone else replaced while the tunnel was up (a DHCP client, an
    /// administrator; a regular file or a symlink) is newer than our backup: it stays, byte
    /// for byte, and `restore` says so. Ours is restored byte for byte, also when the backup
    /// holds odd but valid text (no final newline, comments, blank lines).
    #[test]
    fn leaves_a_resolv_conf_someone_else_wrote_meanwhile() {
        let (t, r) = scratch();
        let path = t.path().join(RESOLV_CONF);
        let original = "# mine\n\nnameserver 192.0.2.53\noptions edns0 trust-ad\nsearch lan";
        std::fs::write(&path, original).unwrap();
        let backup = r.backup().unwrap();
        let c = check(&["10.88.0.1".parse().unwrap()], &[]);
        r.apply("ikeway0", &c).unwrap();
        let theirs = "# from dhclient\nnameserver 198.51.100.53\n";
        std::fs::write(&path, theirs).unwrap();
        assert!(!r.restore("ikeway0", &backup).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), theirs.as_bytes());
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("stub-resolv.conf", &path).unwrap();
        assert!(!r.restore("ikeway0", &backup).unwrap());
        assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("stub-resolv.conf"));
        std::fs::remove_file(&path).unwrap();
        assert!(!r.restore("ikeway0", &backup).unwrap(), "gone meanwhile: nothing to put back");
        assert!(!path.exists());

        r.apply("ikeway0", &c).unwrap();
        assert!(r.restore("ikeway0", &backup).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), original.as_bytes());
    }

    /// Issue 9 finding 3: a regular resolv.conf is restored byte for byte, mode 0644; a missing
    /// one is removed again; a backup that is not a resolv.conf is refused before any change.
    #[test]
    fn restores_files_and_refuses_foreign_backups() {
        let (t, r) = scratch();
        let path = t.path().join(RESOLV_CONF);
        assert_eq!(r.backup().unwrap(), DnsChange::ResolvConf(ResolvBackup::Missing));
        let original = "# mine\nnameserver 192.0.2.53\nsearch lan\n";
        std::fs::write(&path, original).unwrap();
        let backup = r.backup().unwrap();
        r.apply("ikeway0", &check(&["10.88.0.1".parse().unwrap()], &[])).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o644);
        r.restore("ikeway0", &backup).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        r.apply("ikeway0", &check(&["10.88.0.1".parse().unwrap()], &[])).unwrap();
        assert!(r.restore("ikeway0", &DnsChange::ResolvConf(ResolvBackup::Missing)).unwrap());
        assert!(!path.exists());
        std::os::unix::fs::symlink("/etc/shadow", &path).unwrap();
        let err = r.backup().unwrap_err();
        assert!(err.to_string().contains("not changing DNS"), "{err}");
    }
}
