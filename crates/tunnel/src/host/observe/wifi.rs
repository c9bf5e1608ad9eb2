//! The SSID of a Wi-Fi interface, asked of the kernel over nl80211 (generic netlink): what
//! `iw dev IFACE info` prints as `ssid`. Two requests: the family id of `nl80211` from the
//! generic netlink controller, then `NL80211_CMD_GET_INTERFACE` for the interface index; the
//! answer carries `NL80211_ATTR_SSID` while the interface is associated as a station.
//!
//! Without cfg80211 in the kernel there is no `nl80211` family: no SSID, not an error. The
//! kernel's answers are parsed as untrusted (bounded, each length checked): an SSID is 1-32
//! bytes (IEEE 802.11 §9.4.2.2); one that is not UTF-8 or holds control characters cannot be
//! matched by a rule's text nor logged safely, and counts as unknown.

use std::io;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};

/// `linux/netlink.h` message types.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
/// `linux/genetlink.h`: the controller and its request for a family by name.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `linux/nl80211.h`.
const NL80211_CMD_GET_INTERFACE: u8 = 5;
const NL80211_CMD_NEW_INTERFACE: u8 = 7;
const NL80211_ATTR_IFINDEX: u16 = 3;
const NL80211_ATTR_SSID: u16 = 52;
/// IEEE 802.11: an SSID is at most 32 octets.
const MAX_SSID: usize = 32;
/// Netlink header (16) and generic netlink header (4).
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
/// Larger answers are not ones to these requests.
const MAX_REPLY: usize = 32 * 1024;
/// The kernel's "no such family" (`ENOENT`) from the controller.
const ENOENT: i32 = 2;

/// The SSID the interface `ifindex` is associated with; `None` when it is not associated,
/// not a Wi-Fi interface or the kernel has no nl80211.
pub(crate) fn ssid(ifindex: u32) -> io::Result<Option<String>> {
    let mut genl = Genl::open()?;
    let Some(family) = genl.family_id("nl80211")? else { return Ok(None) };
    let answers = genl.request(
        family,
        NL80211_CMD_GET_INTERFACE,
        &attribute(NL80211_ATTR_IFINDEX, &ifindex.to_ne_bytes()),
    )?;
    Ok(answers.iter().find_map(|a| ssid_of_interface(a)))
}

/// One generic netlink socket.
struct Genl {
    socket: Socket,
    seq: u32,
}

impl Genl {
    fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(std::time::Duration::from_secs(2)),
        )?;
        Ok(Self { socket, seq: 0 })
    }

    /// The id of the generic netlink family `name`; `None` when the kernel has none.
    fn family_id(&mut self, name: &str) -> io::Result<Option<u16>> {
        let mut value = name.as_bytes().to_vec();
        value.push(0);
        let answers = match self.request(
            GENL_ID_CTRL,
            CTRL_CMD_GETFAMILY,
            &attribute(CTRL_ATTR_FAMILY_NAME, &value),
        ) {
            Ok(a) => a,
            Err(e) if e.raw_os_error() == Some(ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(answers.iter().find_map(|a| family_id_of(a)))
    }

    /// Sends one request and returns the generic netlink payloads (from the command byte on)
    /// of its answers, up to the acknowledgement.
    fn request(&mut self, family: u16, cmd: u8, attrs: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let message = frame(family, NLM_F_REQUEST | NLM_F_ACK, self.seq, cmd, attrs);
        self.socket.send(&message, 0)?;
        let mut answers = Vec::new();
        loop {
            let mut reply = Vec::with_capacity(MAX_REPLY);
            let n = self.socket.recv(&mut reply, 0)?;
            reply.truncate(n);
            for m in split(&reply)? {
                if m.seq != self.seq {
                    continue;
                }
                match m.kind {
                    NLMSG_ERROR => {
                        let code = m
                            .payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .ok_or_else(|| invalid("truncated netlink error"))?;
                        return if code == 0 {
                            Ok(answers)
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    NLMSG_DONE => return Ok(answers),
                    _ if answers.len() < 16 => answers.push(m.payload.to_vec()),
                    _ => {}
                }
            }
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// One netlink attribute: length, type, value, padded to 4 bytes.
fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(4));
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(len.next_multiple_of(4), 0);
    out
}

/// A request: netlink header, generic netlink header (command, version 1), attributes.
fn frame(family: u16, flags: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&family.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[cmd, 1, 0, 0]);
    out.extend_from_slice(attrs);
    out
}

/// One message of a datagram.
struct Message<'a> {
    kind: u16,
    seq: u32,
    /// After the netlink header.
    payload: &'a [u8],
}

/// The messages of one datagram, each length checked.
fn split(datagram: &[u8]) -> io::Result<Vec<Message<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < datagram.len() {
        let rest = &datagram[at..];
        let header = rest.get(..NLMSG_HDRLEN).ok_or_else(|| invalid("truncated netlink header"))?;
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(invalid("netlink message length out of bounds"));
        }
        out.push(Message {
            kind: u16::from_ne_bytes([header[4], header[5]]),
            seq: u32::from_ne_bytes([header[8], header[9], header[10], header[11]]),
            payload: &rest[NLMSG_HDRLEN..len],
        });
        at += len.next_multiple_of(4);
    }
    Ok(out)
}

/// The attributes of a generic netlink payload (after its command byte, version and
/// reserved bytes), stopping at the first malformed one.
fn attributes(payload: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = payload.get(GENL_HDRLEN..).unwrap_or_default();
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*rest.first()?, *rest.get(1)?]));
        let kind = u16::from_ne_bytes([*rest.get(2)?, *rest.get(3)?]);
        // NLA_F_NESTED and NLA_F_NET_BYTEORDER are flags, not part of the type.
        let kind = kind & 0x3fff;
        let value = rest.get(4..len)?;
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((kind, value))
    })
}

fn family_id_of(payload: &[u8]) -> Option<u16> {
    attributes(payload).find_map(|(kind, value)| match (kind, value) {
        (CTRL_ATTR_FAMILY_ID, [a, b, ..]) => Some(u16::from_ne_bytes([*a, *b])),
        _ => None,
    })
}

/// The SSID of an `NL80211_CMD_NEW_INTERFACE` answer, when it is one a rule can name.
fn ssid_of_interface(payload: &[u8]) -> Option<String> {
    if payload.first() != Some(&NL80211_CMD_NEW_INTERFACE) {
        return None;
    }
    let raw = attributes(payload).find_map(|(k, v)| (k == NL80211_ATTR_SSID).then_some(v))?;
    if raw.is_empty() || raw.len() > MAX_SSID {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    (!text.chars().any(char::is_control)).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as `linux/nl80211.h` lays it out: command NEW_INTERFACE, version 1, then the
    /// attributes the kernel's `nl80211_send_iface` puts first (IFINDEX, IFNAME, IFTYPE,
    /// WDEV, MAC...) and SSID. Built here from the uapi layout: this host has no Wi-Fi
    /// device (no cfg80211) to capture one from.
    fn new_interface(ssid: &[u8]) -> Vec<u8> {
        let mut p = vec![NL80211_CMD_NEW_INTERFACE, 1, 0, 0];
        p.extend(attribute(NL80211_ATTR_IFINDEX, &3u32.to_ne_bytes()));
        p.extend(attribute(4, b"wlan0\0")); // NL80211_ATTR_IFNAME
        p.extend(attribute(5, &2u32.to_ne_bytes())); // NL80211_ATTR_IFTYPE: station
        p.extend(attribute(153, &1u64.to_ne_bytes())); // NL80211_ATTR_WDEV
        p.extend(attribute(6, &[2, 0, 0, 0, 0, 1])); // NL80211_ATTR_MAC
        p.extend(attribute(NL80211_ATTR_SSID, ssid));
        p
    }

    #[test]
    fn reads_the_ssid_of_an_interface_answer() {
        assert_eq!(ssid_of_interface(&new_interface(b"Cafe Wi-Fi")).as_deref(), Some("Cafe Wi-Fi"));
        assert_eq!(ssid_of_interface(&new_interface("Café".as_bytes())).as_deref(), Some("Café"));
    }

    #[test]
    fn refuses_ssids_no_rule_can_name() {
        assert_eq!(ssid_of_interface(&new_interface(b"")), None);
        assert_eq!(ssid_of_interface(&new_interface(&[b'a'; 33])), None);
        assert_eq!(ssid_of_interface(&new_interface(b"\xff\xfe")), None);
        assert_eq!(ssid_of_interface(&new_interface(b"evil\nline")), None);
        // Not an interface answer.
        let mut other = new_interface(b"x");
        other[0] = 6;
        assert_eq!(ssid_of_interface(&other), None);
    }

    #[test]
    fn truncated_or_lying_attributes_never_panic() {
        let whole = new_interface(b"Cafe");
        for cut in 0..whole.len() {
            let _ = ssid_of_interface(&whole[..cut]);
            let _ = family_id_of(&whole[..cut]);
        }
        // An attribute whose length runs past the end.
        let mut lying = vec![NL80211_CMD_NEW_INTERFACE, 1, 0, 0];
        lying.extend_from_slice(&200u16.to_ne_bytes());
        lying.extend_from_slice(&NL80211_ATTR_SSID.to_ne_bytes());
        lying.extend_from_slice(b"Cafe");
        assert_eq!(ssid_of_interface(&lying), None);
    }

    #[test]
    fn splits_a_datagram_and_checks_each_length() {
        let one = frame(0x1c, 0, 7, NL80211_CMD_NEW_INTERFACE, &attribute(3, &[1, 0, 0, 0]));
        let mut two = one.clone();
        two.extend_from_slice(&frame(NLMSG_DONE, 0, 7, 0, &[]));
        let parts = split(&two).expect("well formed");
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].kind, parts[0].seq), (0x1c, 7));
        assert_eq!(parts[1].kind, NLMSG_DONE);
        let mut bad = one.clone();
        bad[0] = 200;
        assert!(split(&bad).is_err());
        assert!(split(&one[..10]).is_err());
    }

    #[test]
    fn the_controllers_answer_gives_the_family_id() {
        let mut p = vec![1, 2, 0, 0]; // CTRL_CMD_NEWFAMILY, version 2
        p.extend(attribute(CTRL_ATTR_FAMILY_NAME, b"nl80211\0"));
        p.extend(attribute(CTRL_ATTR_FAMILY_ID, &0x1cu16.to_ne_bytes()));
        assert_eq!(family_id_of(&p), Some(0x1c));
    }

    /// On this host the kernel answers the controller: either an nl80211 family (then an
    /// unknown interface index is an error, not an SSID) or none, which is no SSID.
    #[test]
    fn asks_the_kernel() {
        let mut genl = Genl::open().expect("generic netlink needs no privilege");
        assert!(genl.family_id("nlctrl").expect("controller").is_some());
        assert_eq!(genl.family_id("ikeway-none").expect("answer"), None);
        if genl.family_id("nl80211").expect("answer").is_none() {
            assert_eq!(ssid(1).expect("no nl80211 is no SSID"), None);
        }
    }
}
