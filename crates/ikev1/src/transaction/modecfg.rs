//! Mode config attributes (draft-dukes-ike-mode-cfg §3.2, the Cisco UNITY ones): what a
//! client asks for, what a gateway answers, and what a client makes of the answer.
//!
//! The answer comes from the gateway, after phase 1 authenticated it, but it still shapes the
//! client's routes and resolver: every value is checked (addresses of the right family and
//! kind, masks contiguous, names that are DNS names, a banner without control characters)
//! and every list is bounded; what fails a check is left out, not guessed at.

use std::net::{IpAddr, Ipv4Addr};

use ikeway_isakmp::{ConfigAttribute, ConfigAttributeType as T, SplitNetwork};
use ikeway_sa::{AddressPool, ConfigReceived};

/// At most this many DNS servers, domains and networks are taken from an answer.
pub(crate) const MAX_LIST: usize = 16;
/// A banner longer than this (in characters) is cut.
pub(crate) const MAX_BANNER_CHARS: usize = 2048;

/// What a client asks for: the IPv4 essentials, and the UNITY attributes when the gateway is
/// a Cisco-compatible one (`unity`).
pub(crate) fn request(unity: bool) -> Vec<ConfigAttribute> {
    let mut kinds = vec![T::INTERNAL_IP4_ADDRESS, T::INTERNAL_IP4_NETMASK, T::INTERNAL_IP4_DNS];
    if unity {
        kinds.extend([
            T::UNITY_BANNER,
            T::UNITY_DEF_DOMAIN,
            T::UNITY_SPLITDNS_NAME,
            T::UNITY_SPLIT_INCLUDE,
        ]);
    }
    kinds.into_iter().map(ConfigAttribute::request).collect()
}

/// A client's request for the address it already has (INTERNAL_IP4_ADDRESS with its value,
/// draft-dukes-ike-mode-cfg §3.2: the gateway may honour it) and the rest of [`request`].
pub(crate) fn request_address(unity: bool, addr: Ipv4Addr) -> Vec<ConfigAttribute> {
    let mut attributes = request(unity);
    if let Some(a) = attributes.iter_mut().find(|a| a.kind == T::INTERNAL_IP4_ADDRESS) {
        *a = ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, addr);
    }
    attributes
}

/// What mode config gave a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Received {
    pub config: ConfigReceived,
    pub banner: Option<String>,
    pub notes: ModeConfigNotes,
}

/// What a gateway's mode config said that a client reports but never applies: Apple's client
/// has no use for them either (no NetBIOS name service, its own password and PFS policy, one
/// server per configuration), yet a user or an administrator may want to see them. Every
/// value is checked as the applied ones are; what fails a check is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeConfigNotes {
    /// INTERNAL_IP4_NBNS: NetBIOS (WINS) name servers, at most 16.
    pub nbns: Vec<IpAddr>,
    /// INTERNAL_ADDRESS_EXPIRY: seconds the internal address is leased for.
    pub address_expiry_s: Option<u32>,
    /// APPLICATION_VERSION: the gateway's software, control characters removed, at most 256
    /// characters.
    pub application_version: Option<String>,
    /// Cisco UNITY save-password: whether the gateway lets the client store the XAUTH
    /// password.
    pub save_password: Option<bool>,
    /// Cisco UNITY PFS: whether the gateway wants PFS in quick mode.
    pub pfs: Option<bool>,
    /// Cisco UNITY backup servers: addresses or DNS names, at most 16.
    pub backup_servers: Vec<String>,
    /// Cisco UNITY local LAN (split exclude): networks the gateway leaves outside the
    /// tunnel, at most 16.
    pub local_lan: Vec<(IpAddr, u8)>,
}

impl ModeConfigNotes {
    /// Whether the gateway said none of these.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An application version longer than this (in characters) is cut.
pub(crate) const MAX_NOTE_CHARS: usize = 256;

/// Reads a REPLY or SET into what the client applies.
pub(crate) fn read(attributes: &[ConfigAttribute]) -> Received {
    let mut out = Received::default();
    let mut v4: Option<Ipv4Addr> = None;
    let mut v4_prefix = 32;
    let c = &mut out.config;
    for a in attributes {
        match a.kind {
            T::INTERNAL_IP4_ADDRESS if v4.is_none() => {
                v4 = a.as_ipv4().filter(|x| usable(IpAddr::V4(*x)))
            }
            T::INTERNAL_IP4_NETMASK => {
                // A mask of 0.0.0.0 is no on-link network: libreswan sends the mask of its
                // own subnet here, and a gateway for everything (leftsubnet=0.0.0.0/0) would
                // otherwise give us 10.88.2.1/0, a connected route for every destination
                // (the gateway's own address included) through the tunnel.
                if let Some(p) = a
                    .as_ipv4()
                    .and_then(|m| SplitNetwork::new(m, m).prefix_len())
                    .filter(|&p| p > 0)
                {
                    v4_prefix = p;
                }
            }
            T::INTERNAL_IP6_ADDRESS => {
                if let Some((addr, prefix)) = a.as_ipv6() {
                    let prefix = prefix.unwrap_or(128).min(128);
                    if usable(addr.into()) && !c.addresses.iter().any(|(x, _)| x.is_ipv6()) {
                        c.addresses.push((addr.into(), prefix));
                    }
                }
            }
            T::INTERNAL_IP4_DNS => {
                push(&mut c.dns, a.as_ipv4().map(IpAddr::V4).filter(|x| usable(*x)))
            }
            T::INTERNAL_IP6_DNS => {
                push(&mut c.dns, a.as_ipv6().map(|(x, _)| IpAddr::V6(x)).filter(|x| usable(*x)))
            }
            T::INTERNAL_IP4_SUBNET => {
                let net = a.as_ipv4_subnet().and_then(|(addr, mask)| network(addr, mask));
                push(&mut c.subnets, net);
            }
            T::UNITY_SPLIT_INCLUDE => {
                for n in a.split_networks().and_then(Result::ok).unwrap_or_default() {
                    push(&mut c.subnets, network(n.addr, n.mask));
                }
            }
            T::UNITY_DEF_DOMAIN => {
                // The default domain goes first: it is also the search domain.
                if let Some(d) = a.as_str().filter(|d| is_dns_name(d))
                    && !c.dns_domains.iter().any(|x| x == d)
                    && c.dns_domains.len() < MAX_LIST
                {
                    c.dns_domains.insert(0, d.to_owned());
                }
            }
            T::UNITY_SPLITDNS_NAME => {
                for d in a.split_dns().unwrap_or_default() {
                    if is_dns_name(d) && !c.dns_domains.iter().any(|x| x == d) {
                        push(&mut c.dns_domains, Some(d.to_owned()));
                    }
                }
            }
            T::UNITY_BANNER if out.banner.is_none() => out.banner = a.as_str().map(banner),
            T::INTERNAL_IP4_NBNS => {
                push(&mut out.notes.nbns, a.as_ipv4().map(IpAddr::V4).filter(|x| usable(*x)))
            }
            T::INTERNAL_ADDRESS_EXPIRY => {
                out.notes.address_expiry_s = a.value.as_u64().and_then(|v| u32::try_from(v).ok())
            }
            T::APPLICATION_VERSION if out.notes.application_version.is_none() => {
                out.notes.application_version = a.as_str().map(|t| note(t, MAX_NOTE_CHARS))
            }
            T::UNITY_SAVE_PASSWD => out.notes.save_password = flag(a),
            T::UNITY_PFS => out.notes.pfs = flag(a),
            T::UNITY_BACKUP_SERVERS => {
                let names = a.as_str().unwrap_or_default();
                for server in names.split([',', ' ', '\n']).filter(|n| !n.is_empty()) {
                    let valid = server.parse::<IpAddr>().is_ok() || is_dns_name(server);
                    if valid && !out.notes.backup_servers.iter().any(|x| x == server) {
                        push(&mut out.notes.backup_servers, Some(server.to_owned()));
                    }
                }
            }
            T::UNITY_LOCAL_LAN => {
                for n in a.split_networks().and_then(Result::ok).unwrap_or_default() {
                    push(&mut out.notes.local_lan, network(n.addr, n.mask));
                }
            }
            // DHCP, the supported-attributes list and the other UNITY attributes (NAT-T port,
            // firewall type, DDNS host name) say nothing a client reports.
            _ => {}
        }
    }
    if let Some(addr) = v4 {
        out.config.addresses.insert(0, (IpAddr::V4(addr), v4_prefix));
    }
    out
}

fn push<V: PartialEq>(list: &mut Vec<V>, value: Option<V>) {
    if let Some(v) = value
        && list.len() < MAX_LIST
        && !list.contains(&v)
    {
        list.push(v);
    }
}

/// An address a host can be given or use as a server: not unspecified, loopback,
/// multicast or broadcast.
fn usable(addr: IpAddr) -> bool {
    let broadcast = matches!(addr, IpAddr::V4(a) if a.is_broadcast());
    !(addr.is_unspecified() || addr.is_loopback() || addr.is_multicast() || broadcast)
}

/// A network from an address and a contiguous mask, host bits cleared.
fn network(addr: Ipv4Addr, mask: Ipv4Addr) -> Option<(IpAddr, u8)> {
    let prefix = SplitNetwork::new(addr, mask).prefix_len()?;
    let net = Ipv4Addr::from(u32::from(addr) & u32::from(mask));
    Some((IpAddr::V4(net), prefix))
}

/// A DNS name as resolvers take it: 1 to 253 octets of labels of letters, digits, `-` and
/// `_`, 1 to 63 octets each, no empty label (a trailing dot is allowed).
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The banner as it may be shown: control characters other than line breaks and tabs
/// removed (a terminal escape sequence from the gateway must not reach the user's
/// terminal), cut to [`MAX_BANNER_CHARS`].
fn banner(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .take(MAX_BANNER_CHARS)
        .collect()
}

/// A one-line text of the gateway's: every control character removed, cut to `max`.
fn note(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// A Cisco UNITY yes/no attribute (a basic value, 0 or 1); anything else is no answer.
fn flag(a: &ConfigAttribute) -> Option<bool> {
    match a.value.as_basic() {
        Some(0) => Some(false),
        Some(1) => Some(true),
        _ => None,
    }
}

/// What a gateway hands a client: the leased address and, for the attributes the client
/// asked for (all of them in a push), the pool's DNS servers, domains and networks.
pub(crate) struct Offer<'a> {
    pub lease: Option<Ipv4Addr>,
    pub pool: &'a AddressPool,
    pub banner: Option<&'a str>,
    pub split_dns: &'a [String],
}

impl Offer<'_> {
    /// The attributes answering `asked` (`None`: a push, everything we have).
    pub(crate) fn attributes(&self, asked: Option<&[ConfigAttribute]>) -> Vec<ConfigAttribute> {
        let wants = |kind: T| asked.is_none_or(|list| list.iter().any(|a| a.kind == kind));
        let mut out = Vec::new();
        if let Some(addr) = self.lease.filter(|_| wants(T::INTERNAL_IP4_ADDRESS)) {
            out.push(ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, addr));
            if wants(T::INTERNAL_IP4_NETMASK) {
                out.push(ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, Ipv4Addr::BROADCAST));
            }
        }
        if wants(T::INTERNAL_IP4_DNS) {
            for dns in self.pool.dns.iter().filter_map(|d| match d {
                IpAddr::V4(a) => Some(*a),
                IpAddr::V6(_) => None,
            }) {
                out.push(ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, dns));
            }
        }
        if let Some(domain) = self.pool.dns_domains.first().filter(|_| wants(T::UNITY_DEF_DOMAIN)) {
            out.push(ConfigAttribute::text(T::UNITY_DEF_DOMAIN, domain));
        }
        if !self.split_dns.is_empty() && wants(T::UNITY_SPLITDNS_NAME) {
            out.push(ConfigAttribute::text(T::UNITY_SPLITDNS_NAME, &self.split_dns.join(",")));
        }
        let nets: Vec<SplitNetwork> = self
            .pool
            .subnets
            .iter()
            .filter_map(|(addr, prefix)| match addr {
                IpAddr::V4(a) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                    Some(SplitNetwork::new(*a, Ipv4Addr::from(mask)))
                }
                IpAddr::V6(_) => None,
            })
            .collect();
        if !nets.is_empty() && wants(T::UNITY_SPLIT_INCLUDE) {
            out.push(ConfigAttribute::split_include(&nets));
        }
        if let Some(b) = self.banner.filter(|_| wants(T::UNITY_BANNER)) {
            out.push(ConfigAttribute::text(T::UNITY_BANNER, b));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn asking_for_the_address_we_have_names_it_and_asks_the_rest_as_before() {
        let asked = request_address(false, v4("10.9.0.7"));
        assert_eq!(asked.len(), request(false).len());
        assert_eq!(asked[0], ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("10.9.0.7")));
        assert_eq!(asked[1..], request(false)[1..]);
    }

    #[test]
    fn a_unity_reply_becomes_the_config_the_ikev2_side_reports() {
        let reply = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("10.9.0.7")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, v4("255.255.255.0")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, v4("10.9.0.1")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, v4("10.9.0.2")),
            ConfigAttribute::text(T::UNITY_SPLITDNS_NAME, "corp.example, lab.example"),
            ConfigAttribute::text(T::UNITY_DEF_DOMAIN, "corp.example"),
            ConfigAttribute::split_include(&[
                SplitNetwork::new(v4("192.168.10.0"), v4("255.255.255.0")),
                SplitNetwork::new(v4("172.16.0.0"), v4("255.240.0.0")),
            ]),
            ConfigAttribute::text(T::UNITY_BANNER, "Welcome\n\x1b[31mto corp\x07"),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NBNS, v4("10.9.0.3")),
        ];
        let got = read(&reply);
        assert_eq!(
            got.config,
            ConfigReceived {
                addresses: vec![("10.9.0.7".parse().unwrap(), 24)],
                dns: vec!["10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap()],
                dns_domains: vec!["corp.example".into(), "lab.example".into()],
                subnets: vec![
                    ("192.168.10.0".parse().unwrap(), 24),
                    ("172.16.0.0".parse().unwrap(), 12)
                ],
            }
        );
        assert_eq!(got.banner.as_deref(), Some("Welcome\n[31mto corp"));
    }

    /// libreswan 4.10 with leftsubnet=0.0.0.0/0 (its advice for Apple clients) sends the
    /// netmask of that subnet; the address stays a host address (its interop run).
    #[test]
    fn what_is_reported_but_not_applied_is_read_checked_and_bounded() {
        let mut reply = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NBNS, v4("10.9.0.3")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NBNS, v4("127.0.0.1")),
            ConfigAttribute::integer(T::INTERNAL_ADDRESS_EXPIRY, 86_400),
            ConfigAttribute::text(T::APPLICATION_VERSION, "Cisco Systems, Inc ASA5505 \x1b[2J8.4"),
            ConfigAttribute::basic(T::UNITY_SAVE_PASSWD, 1),
            ConfigAttribute::basic(T::UNITY_PFS, 0),
            ConfigAttribute::text(T::UNITY_BACKUP_SERVERS, "vpn2.corp.example, 192.0.2.9 bad;name"),
            ConfigAttribute::variable(T::UNITY_LOCAL_LAN, {
                let nets = [
                    SplitNetwork::new(v4("192.168.1.0"), v4("255.255.255.0")),
                    SplitNetwork::new(v4("10.1.0.0"), v4("255.0.255.0")),
                ];
                SplitNetwork::encode_list(&nets)
            }),
        ];
        for i in 0..40u8 {
            reply.push(ConfigAttribute::ipv4(T::INTERNAL_IP4_NBNS, Ipv4Addr::new(10, 1, 0, i + 1)));
        }
        let got = read(&reply);
        let n = &got.notes;
        assert_eq!(n.nbns.len(), MAX_LIST);
        assert_eq!(n.nbns[0], IpAddr::V4(v4("10.9.0.3")), "loopback left out");
        assert_eq!(n.address_expiry_s, Some(86_400));
        assert_eq!(n.application_version.as_deref(), Some("Cisco Systems, Inc ASA5505 [2J8.4"));
        assert_eq!((n.save_password, n.pfs), (Some(true), Some(false)));
        assert_eq!(n.backup_servers, ["vpn2.corp.example", "192.0.2.9"]);
        assert_eq!(n.local_lan, vec![("192.168.1.0".parse().unwrap(), 24)]);
        // None of it reaches what the client applies.
        assert_eq!(got.config, ConfigReceived::default());
        // A yes/no that is neither, and text over the bound.
        let odd = read(&[
            ConfigAttribute::basic(T::UNITY_PFS, 7),
            ConfigAttribute::text(T::APPLICATION_VERSION, &"v".repeat(1000)),
        ]);
        assert_eq!(odd.notes.pfs, None);
        assert_eq!(odd.notes.application_version.map(|v| v.len()), Some(MAX_NOTE_CHARS));
        assert!(read(&[]).notes.is_empty());
    }

    #[test]
    fn a_netmask_of_everything_leaves_the_address_a_host_address() {
        let reply = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("10.88.2.1")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, v4("0.0.0.0")),
        ];
        assert_eq!(read(&reply).config.addresses, vec![("10.88.2.1".parse().unwrap(), 32)]);
        let reply = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("10.88.2.1")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, v4("255.255.255.0")),
        ];
        assert_eq!(read(&reply).config.addresses, vec![("10.88.2.1".parse().unwrap(), 24)]);
    }

    #[test]
    fn hostile_values_are_left_out() {
        let mut reply = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("255.255.255.255")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, v4("255.0.255.0")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, v4("127.0.0.1")),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, v4("224.0.0.1")),
            ConfigAttribute::text(T::UNITY_DEF_DOMAIN, "bad domain;rm -rf"),
            ConfigAttribute::variable(T::UNITY_SPLIT_INCLUDE, vec![10, 0, 0, 0, 255]),
            ConfigAttribute::split_include(&[SplitNetwork::new(v4("10.1.0.0"), v4("255.0.255.0"))]),
            ConfigAttribute::variable(T::UNITY_BANNER, vec![0xff, 0xfe]),
        ];
        for i in 0..40u8 {
            reply.push(ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, Ipv4Addr::new(10, 0, 0, i + 1)));
        }
        let got = read(&reply);
        assert!(got.config.addresses.is_empty());
        assert_eq!(got.config.dns.len(), MAX_LIST);
        assert_eq!(got.config.dns[0], IpAddr::V4(v4("10.0.0.1")));
        assert!(got.config.dns_domains.is_empty());
        assert!(got.config.subnets.is_empty());
        assert_eq!(got.banner, None);
    }

    #[test]
    fn a_gateway_answers_what_was_asked_and_pushes_everything() {
        let pool = AddressPool {
            v4: Some((v4("10.9.0.10"), 10)),
            dns: vec!["10.9.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
            dns_domains: vec!["corp.example".into()],
            subnets: vec![("192.168.10.0".parse().unwrap(), 24)],
            ..Default::default()
        };
        let split = ["lab.example".to_owned()];
        let offer = Offer {
            lease: Some(v4("10.9.0.10")),
            pool: &pool,
            banner: Some("hi"),
            split_dns: &split,
        };
        let asked = request(false);
        let answer = offer.attributes(Some(&asked));
        assert_eq!(
            answer,
            vec![
                ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, v4("10.9.0.10")),
                ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, v4("255.255.255.255")),
                ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, v4("10.9.0.1")),
            ]
        );
        let pushed = read(&offer.attributes(None));
        assert_eq!(
            pushed.config,
            ConfigReceived {
                addresses: vec![("10.9.0.10".parse().unwrap(), 32)],
                dns: vec!["10.9.0.1".parse().unwrap()],
                dns_domains: vec!["corp.example".into(), "lab.example".into()],
                subnets: vec![("192.168.10.0".parse().unwrap(), 24)],
            }
        );
        assert_eq!(pushed.banner.as_deref(), Some("hi"));
    }
}
