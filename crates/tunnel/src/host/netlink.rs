//! The rtnetlink requests the host changes need, over a synchronous `NETLINK_ROUTE` socket:
//! what `ip link set`, `ip addr replace`, `ip route add|del` and `ip route get` do, without
//! running `ip`. Every request asks for an acknowledgement, so a refusal is an error here.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkBuffer,
    NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A kernel answer larger than this is not one to the requests made here (one link, address
/// or route each).
const MAX_REPLY: usize = 64 * 1024;
/// Default routes of one family looked at: more is not a host's routing table.
const MAX_DEFAULTS: usize = 64;
/// `rtnetlink.h`: the protocol of a route an administrator made (`ip route`'s default).
const RTPROT_BOOT: u8 = 3;

/// One rtnetlink socket, bound to the caller's network namespace when it was opened.
#[derive(Debug)]
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
}

/// A route as the requests below take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RouteSpec {
    pub(super) dest: IpAddr,
    pub(super) len: u8,
    pub(super) via: Option<IpAddr>,
    pub(super) oif: u32,
    pub(super) protocol: u8,
}

/// Where the kernel sends packets for an address now (`ip route get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Path {
    pub(super) via: Option<IpAddr>,
    pub(super) oif: u32,
    /// The source address the kernel picks for it (RTA_PREFSRC).
    pub(super) src: Option<IpAddr>,
}

fn family(addr: IpAddr) -> AddressFamily {
    if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

impl Rtnl {
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Sends `message` and collects the answers up to the acknowledgement.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut answers = Vec::new();
        self.request_each(message, flags, &mut |m| answers.push(m))?;
        Ok(answers)
    }

    /// Sends `message` and hands each answer to `each` as it arrives, up to the
    /// acknowledgement (or the end of a dump): a dump of a large table is never held whole.
    fn request_each(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        each: &mut dyn FnMut(RouteNetlinkMessage),
    ) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        loop {
            let mut reply = Vec::with_capacity(MAX_REPLY);
            let n = self.socket.recv(&mut reply, 0)?;
            reply.truncate(n);
            let mut at = 0;
            while at < reply.len() {
                let rest = &reply[at..];
                let len = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
                    .length() as usize;
                let one = rest.get(..len).filter(|_| len > 0).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "truncated netlink answer")
                })?;
                // Messages are 4-byte aligned in a datagram.
                at += len.next_multiple_of(4);
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(one)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::InnerMessage(m) => each(m),
                    _ => {}
                }
            }
        }
    }

    /// The index of the link `name`.
    pub(super) fn link_index(&mut self, name: &str) -> io::Result<u32> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        self.request(RouteNetlinkMessage::GetLink(m), 0)?
            .into_iter()
            .find_map(|a| match a {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no link {name}")))
    }

    /// The name of the link with `index`.
    pub(super) fn link_name(&mut self, index: u32) -> io::Result<String> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::GetLink(m), 0)?
            .into_iter()
            .find_map(|a| match a {
                RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no link {index}")))
    }

    /// The networks of every address on the host's links (`ip addr show`), but those of the
    /// link `except` and host-scope ones (loopback): the local networks.
    pub(super) fn local_networks(&mut self, except: Option<u32>) -> io::Result<Vec<(IpAddr, u8)>> {
        let answers =
            self.request(RouteNetlinkMessage::GetAddress(AddressMessage::default()), NLM_F_DUMP)?;
        let mut nets = Vec::new();
        for a in answers {
            let RouteNetlinkMessage::NewAddress(m) = a else { continue };
            if Some(m.header.index) == except || m.header.scope == AddressScope::Host {
                continue;
            }
            // IFA_ADDRESS: the address, or the peer of a point-to-point link, whose network
            // is the one on the other side.
            let addr = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(a) => Some(*a),
                _ => None,
            });
            if let Some(addr) = addr {
                nets.push((addr, m.header.prefix_len));
            }
        }
        Ok(nets)
    }

    /// The links carrying a default route of the main table (`ip route show default`),
    /// best first: IPv4 before IPv6, then the lowest metric. At most [`MAX_DEFAULTS`] per
    /// family are kept, however long the table.
    pub(crate) fn default_route_links(&mut self) -> io::Result<Vec<u32>> {
        let mut links = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut m = RouteMessage::default();
            m.header.address_family = family;
            let mut found: Vec<(u32, u32)> = Vec::new();
            self.request_each(RouteNetlinkMessage::GetRoute(m), NLM_F_DUMP, &mut |a| {
                let RouteNetlinkMessage::NewRoute(r) = a else { return };
                if r.header.destination_prefix_length != 0
                    || r.header.kind != RouteType::Unicast
                    || found.len() >= MAX_DEFAULTS
                {
                    return;
                }
                let mut table = u32::from(r.header.table);
                let (mut metric, mut oif) = (0, None);
                for attr in &r.attributes {
                    match attr {
                        RouteAttribute::Table(t) => table = *t,
                        RouteAttribute::Priority(p) => metric = *p,
                        RouteAttribute::Oif(i) => oif = Some(*i),
                        // A multipath default route: its first hop stands for it.
                        RouteAttribute::MultiPath(hops) => {
                            oif = oif.or(hops.first().map(|h| h.interface_index))
                        }
                        _ => {}
                    }
                }
                if let Some(oif) = oif.filter(|&i| i != 0)
                    && table == u32::from(RouteHeader::RT_TABLE_MAIN)
                {
                    found.push((metric, oif));
                }
            })?;
            found.sort_by_key(|&(metric, _)| metric);
            links.extend(found.into_iter().map(|(_, oif)| oif));
        }
        Ok(links)
    }

    /// The addresses on link `index` (`ip addr show dev`), at most [`MAX_DEFAULTS`], in the
    /// kernel's order.
    pub(crate) fn link_addresses(&mut self, index: u32) -> io::Result<Vec<IpAddr>> {
        let mut found = Vec::new();
        self.request_each(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            &mut |a| {
                let RouteNetlinkMessage::NewAddress(m) = a else { return };
                if m.header.index != index || found.len() >= MAX_DEFAULTS {
                    return;
                }
                found.extend(m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(a) => Some(*a),
                    _ => None,
                }));
            },
        )?;
        Ok(found)
    }

    /// The name and hardware type (`ARPHRD_*`) of the link with `index`.
    pub(crate) fn link_info(&mut self, index: u32) -> io::Result<(String, LinkLayerType)> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::GetLink(m), 0)?
            .into_iter()
            .find_map(|a| match a {
                RouteNetlinkMessage::NewLink(l) => {
                    let kind = l.header.link_layer_type;
                    l.attributes.into_iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some((n, kind)),
                        _ => None,
                    })
                }
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no link {index}")))
    }

    /// `ip link set dev <index> mtu <mtu> up`.
    pub(super) fn set_link_up(&mut self, index: u32, mtu: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::Mtu(mtu));
        self.request(RouteNetlinkMessage::SetLink(m), 0).map(drop)
    }

    /// `ip addr replace <addr>/<len> dev <index>`.
    pub(super) fn replace_address(&mut self, index: u32, addr: IpAddr, len: u8) -> io::Result<()> {
        let m = Self::address_message(index, addr, len);
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_REPLACE).map(drop)
    }

    /// `ip addr del ADDR/LEN dev INDEX`.
    pub(super) fn del_address(&mut self, index: u32, addr: IpAddr, len: u8) -> io::Result<()> {
        let m = Self::address_message(index, addr, len);
        self.request(RouteNetlinkMessage::DelAddress(m), 0).map(drop)
    }

    fn address_message(index: u32, addr: IpAddr, len: u8) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = family(addr);
        m.header.prefix_len = len;
        m.header.index = index;
        m.header.scope = AddressScope::Universe;
        if addr.is_ipv4() {
            m.attributes.push(AddressAttribute::Local(addr));
        }
        m.attributes.push(AddressAttribute::Address(addr));
        m
    }

    fn route_message(r: &RouteSpec, adding: bool) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = family(r.dest);
        m.header.destination_prefix_length = r.len;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::from(r.protocol);
        // As `ip route` does: an IPv4 route without a gateway is on-link; a delete matches
        // any scope.
        m.header.scope = match (adding, r.via, r.dest) {
            (false, _, _) => RouteScope::NoWhere,
            (true, None, IpAddr::V4(_)) => RouteScope::Link,
            (true, _, _) => RouteScope::Universe,
        };
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Destination(r.dest.into()));
        if let Some(via) = r.via {
            m.attributes.push(RouteAttribute::Gateway(via.into()));
        }
        m.attributes.push(RouteAttribute::Oif(r.oif));
        m
    }

    /// `ip route add <dest>/<len> [via <via>] dev <oif> table main proto <protocol>`; an
    /// existing route to the same network is an error (`EEXIST`), never replaced.
    pub(super) fn add_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        let m = Self::route_message(r, true);
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// `ip route replace <dest>/<len> dev <oif>` (protocol `boot`, as `ip` makes it): a route
    /// the caller asked for by hand, not recorded and not undone.
    pub(super) fn replace_route(&mut self, dest: IpAddr, len: u8, oif: u32) -> io::Result<()> {
        let spec = RouteSpec { dest, len, via: None, oif, protocol: RTPROT_BOOT };
        let m = Self::route_message(&spec, true);
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_REPLACE).map(drop)
    }

    /// `ip route del ...` of a route added by [`Self::add_route`]: the kernel matches the
    /// protocol, so a route someone else made to the same network stays.
    pub(super) fn del_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        let m = Self::route_message(r, false);
        self.request(RouteNetlinkMessage::DelRoute(m), 0).map(drop)
    }

    /// `ip route get <addr>`: the gateway and link the kernel uses for it now.
    pub(super) fn route_get(&mut self, addr: IpAddr) -> io::Result<Path> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(addr);
        m.header.destination_prefix_length = if addr.is_ipv4() { 32 } else { 128 };
        m.attributes.push(RouteAttribute::Destination(addr.into()));
        let answer = self
            .request(RouteNetlinkMessage::GetRoute(m), 0)?
            .into_iter()
            .find_map(|a| match a {
                RouteNetlinkMessage::NewRoute(r) => Some(r),
                _ => None,
            })
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no route to {addr}"))
            })?;
        let mut path = Path { via: None, oif: 0, src: None };
        for a in &answer.attributes {
            match a {
                RouteAttribute::Gateway(g) => path.via = route_ip(g),
                RouteAttribute::Oif(i) => path.oif = *i,
                RouteAttribute::PrefSource(a) => path.src = route_ip(a),
                _ => {}
            }
        }
        if path.oif == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the route to {addr} names no device"),
            ));
        }
        Ok(path)
    }
}

/// The source address this host uses toward `server` now, as `ip route get` says it: `None`
/// when there is no route, when the route has no source address, or when it goes out through
/// the link with index `not_via` (the tunnel's own device: a path through the tunnel is no
/// path to the server).
pub(crate) fn source_toward(server: IpAddr, not_via: Option<u32>) -> io::Result<Option<IpAddr>> {
    let mut rtnl = Rtnl::open()?;
    match rtnl.route_get(server) {
        Ok(path) if Some(path.oif) == not_via => Ok(None),
        Ok(path) => Ok(path.src),
        Err(e) if is_no_route(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The index of the link `name`, if there is one.
pub(crate) fn link_index(name: &str) -> io::Result<u32> {
    Rtnl::open()?.link_index(name)
}

fn is_no_route(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(
            e.raw_os_error(),
            Some(code) if code == rustix::io::Errno::NETUNREACH.raw_os_error()
                || code == rustix::io::Errno::HOSTUNREACH.raw_os_error()
                || code == rustix::io::Errno::ADDRNOTAVAIL.raw_os_error()
        )
}
