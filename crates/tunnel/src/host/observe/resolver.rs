//! The resolver the host uses now: its servers and search domains, for the DNS criteria of On
//! Demand rules.
//!
//! `/etc/resolv.conf` is read as hostile input (any process able to write it, a DHCP client's
//! hook, a captive network's server via DHCP): at most [`MAX_RESOLV_CONF_BYTES`] of a regular
//! file, [`MAX_SERVERS`] servers and [`MAX_DOMAINS`] domains kept, each one checked
//! (`dns::valid_server`, `dns::valid_domain`), anything else skipped. When it names only
//! systemd-resolved's stub (127.0.0.53, 127.0.0.54), the servers and domains resolved itself
//! uses are in `/run/systemd/resolve/resolv.conf`, which resolved writes for exactly this
//! purpose (the union over links, read the same way).

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::host::dns::{valid_domain, valid_server};
use crate::host::record::MAX_RESOLV_CONF_BYTES;

/// Servers kept: a resolver uses three; a few more cover resolved's union over links.
pub const MAX_SERVERS: usize = 8;
/// Search domains kept.
pub const MAX_DOMAINS: usize = 16;

/// The host's resolver configuration.
pub(crate) const RESOLV_CONF: &str = "/etc/resolv.conf";
/// What systemd-resolved uses upstream, written by it.
pub(crate) const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// The files whose changes change what [`read`] returns.
pub(crate) fn watched_files() -> Vec<PathBuf> {
    vec![PathBuf::from(RESOLV_CONF), PathBuf::from(RESOLVED_UPSTREAM)]
}

/// Servers and search domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolverState {
    /// Name servers, in the file's order.
    pub servers: Vec<IpAddr>,
    /// Search domains, lower case, without a trailing dot.
    pub search_domains: Vec<String>,
}

/// The resolver's state now (empty when nothing can be read).
pub(crate) fn read() -> ResolverState {
    read_from(Path::new(RESOLV_CONF), Path::new(RESOLVED_UPSTREAM))
}

fn read_from(resolv_conf: &Path, upstream: &Path) -> ResolverState {
    let state = read_file(resolv_conf).map(|t| parse(&t)).unwrap_or_default();
    let stub_only = !state.servers.is_empty() && state.servers.iter().all(|s| is_resolved_stub(*s));
    if stub_only && let Some(text) = read_file(upstream) {
        let upstream = parse(&text);
        return ResolverState {
            servers: upstream.servers,
            // The stub's file carries the same search list; resolved's own is the reference.
            search_domains: if upstream.search_domains.is_empty() {
                state.search_domains
            } else {
                upstream.search_domains
            },
        };
    }
    state
}

fn is_resolved_stub(a: IpAddr) -> bool {
    a == IpAddr::from([127, 0, 0, 53]) || a == IpAddr::from([127, 0, 0, 54])
}

/// The first [`MAX_RESOLV_CONF_BYTES`] of a regular file (a symlink to one is followed:
/// `/etc/resolv.conf` is one wherever resolved or resolvconf manage it).
fn read_file(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = Vec::new();
    file.take(MAX_RESOLV_CONF_BYTES as u64).read_to_end(&mut text).ok()?;
    Some(text)
}

/// resolv.conf(5): `nameserver ADDRESS` lines add a server; `search` and `domain` lines set
/// the search list (the last one wins). Comments start with `#` or `;`. Lines that are not
/// UTF-8, servers that are not addresses (or a zone index this host cannot check) and names
/// that are not RFC 1035 names are skipped.
pub(crate) fn parse(text: &[u8]) -> ResolverState {
    let mut state = ResolverState::default();
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else { continue };
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("nameserver") => {
                let server = words.next().and_then(|w| w.parse::<IpAddr>().ok());
                if let Some(s) = server.filter(|s| valid_server(*s))
                    && state.servers.len() < MAX_SERVERS
                    && !state.servers.contains(&s)
                {
                    state.servers.push(s);
                }
            }
            Some("search" | "domain") => {
                state.search_domains.clear();
                for d in words.filter(|w| valid_domain(w)) {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    if state.search_domains.len() < MAX_DOMAINS
                        && !state.search_domains.contains(&d)
                    {
                        state.search_domains.push(d);
                    }
                }
            }
            _ => {}
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_servers_and_the_last_search_list() {
        let text = b"# generated\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n\
                     domain old.example\nsearch Corp.Example.COM. lab.example\noptions edns0\n\
                     ; comment\nnameserver 192.0.2.54";
        assert_eq!(
            parse(text),
            ResolverState {
                servers: vec![ip("192.0.2.53"), ip("2001:db8::53"), ip("192.0.2.54")],
                search_domains: vec!["corp.example.com".into(), "lab.example".into()],
            }
        );
    }

    #[test]
    fn hostile_lines_are_skipped() {
        let mut text = b"nameserver 0.0.0.0\nnameserver 224.0.0.1\nnameserver fe80::1%eth0\n\
                         nameserver evil\nnameserver 192.0.2.1 trailing words\n\
                         search ok.example bad_label.example -dash.example \xff\xfe.example\n"
            .to_vec();
        text.extend_from_slice(b"search\tok.example\tx..y \n\xff nameserver 192.0.2.9\n");
        assert_eq!(
            parse(&text),
            ResolverState {
                servers: vec![ip("192.0.2.1")],
                search_domains: vec!["ok.example".into()]
            }
        );
    }

    #[test]
    fn lists_are_bounded() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("nameserver 192.0.2.{i}\n"));
        }
        text.push_str("search");
        for i in 0..200 {
            text.push_str(&format!(" d{i}.example"));
        }
        let state = parse(text.as_bytes());
        assert_eq!(state.servers.len(), MAX_SERVERS);
        assert_eq!(state.search_domains.len(), MAX_DOMAINS);
        assert_eq!(state.search_domains[0], "d0.example");
    }

    #[test]
    fn a_huge_file_is_read_only_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("resolv.conf");
        let mut text = b"nameserver 192.0.2.1\n".to_vec();
        text.resize(MAX_RESOLV_CONF_BYTES + 10, b'#');
        text.extend_from_slice(b"\nnameserver 192.0.2.2\n");
        std::fs::write(&path, &text).expect("write");
        let state = read_from(&path, Path::new("/nonexistent"));
        assert_eq!(state.servers, [ip("192.0.2.1")], "the line past the limit is not read");
    }

    #[test]
    fn a_directory_or_a_missing_file_is_no_resolver() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_from(dir.path(), dir.path()), ResolverState::default());
        assert_eq!(read_from(&dir.path().join("none"), dir.path()), ResolverState::default());
    }

    /// resolved's stub in resolv.conf: the upstream servers are resolved's own.
    #[test]
    fn behind_resolveds_stub_the_upstream_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (stub, upstream) = (dir.path().join("stub"), dir.path().join("upstream"));
        std::fs::write(
            &stub,
            "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n",
        )
        .expect("write");
        std::fs::write(
            &upstream,
            "nameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch corp.example lab.example\n",
        )
        .expect("write");
        assert_eq!(
            read_from(&stub, &upstream),
            ResolverState {
                servers: vec![ip("10.0.0.1"), ip("10.0.0.2")],
                search_domains: vec!["corp.example".into(), "lab.example".into()],
            }
        );
        // Without resolved's file the stub is what there is.
        assert_eq!(read_from(&stub, &dir.path().join("none")).servers, [ip("127.0.0.53")]);
        // A resolv.conf with a real server is believed as it is.
        std::fs::write(&stub, "nameserver 192.0.2.1\n").expect("write");
        assert_eq!(read_from(&stub, &upstream).servers, [ip("192.0.2.1")]);
    }
}
