//! MOBIKE in the runtime (RFC 4555): an initiator's session keeps its IKE SA and child SAs
//! when the host's address toward the server changes.
//!
//! ```text
//!  kernel --rtnetlink (addr/route/link, v4+v6)--> watcher thread --wake (channel of 1)--+
//!                                                                                         v
//!  session loop: Mobility::on_change -> `ip route get <server>` -> source address S
//!     S == the SA's address ............ nothing
//!     no route (or only via the TUN) ... Status::Reasserting + PathLost (once)
//!     S new, MOBIKE negotiated ......... IkeSa::update_path(S:port, server) + PathChanging
//!     S new, no MOBIKE ................. PathNotFollowed (once): today's behaviour
//!  IkeSa: UPDATE_SA_ADDRESSES ... confirmed -> Event::PathUpdated{local, remote}
//!     -> Mobility::on_path_updated: PathUpdated, Status::Connected if it was reasserting;
//!        the datapath's outbound SAs go to `remote` (`SaTable::set_peer`), no rekey, the TUN
//!        device and its routes untouched.
//! ```
//!
//! The sockets of a MOBIKE session are bound to the wildcard address (`Session::start`), so
//! the kernel picks each packet's source from the route: the same address the probe reads.
//! Nothing needs re-binding on a move, and datagrams arriving on the wildcard are handed to
//! the SA with the newest path's address ([`Mobility::local_ip`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ikeway_pump::SaTable;
use ikeway_sa::{Event, IkeSa};

use crate::event::{EventKind, Status};

use crate::host::observe::watch as watcher;

/// Where the host would send to the server from now.
pub(crate) trait Probe: Send {
    /// The source address toward `server`; `None` when there is no usable route.
    fn source_toward(&mut self, server: IpAddr) -> io::Result<Option<IpAddr>>;
}

/// The kernel's answer (`ip route get`), a route through the tunnel's own link not counting.
#[derive(Debug)]
pub(crate) struct KernelProbe {
    /// The TUN device's name, its index looked up on each probe (it may come later).
    pub(crate) tun: Option<String>,
}

impl Probe for KernelProbe {
    fn source_toward(&mut self, server: IpAddr) -> io::Result<Option<IpAddr>> {
        let tun = self.tun.as_deref().and_then(|t| crate::host::netlink::link_index(t).ok());
        crate::host::netlink::source_toward(server, tun)
    }
}

/// What the mobility logic needs of the initiator's IKE SA.
pub(crate) trait PathOwner {
    fn is_established(&self) -> bool;
    fn mobike_negotiated(&self) -> bool;
    fn local(&self) -> SocketAddr;
    fn remote(&self) -> SocketAddr;
    /// Updates the SA confirmed so far, a move or not (`Stats::path_updates`).
    fn path_updates(&self) -> u64;
    fn update_path(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(), String>;
}

impl PathOwner for IkeSa {
    fn is_established(&self) -> bool {
        IkeSa::is_established(self) && !self.is_closed()
    }
    fn mobike_negotiated(&self) -> bool {
        IkeSa::mobike_negotiated(self)
    }
    fn local(&self) -> SocketAddr {
        IkeSa::local(self)
    }
    fn remote(&self) -> SocketAddr {
        IkeSa::remote(self)
    }
    fn path_updates(&self) -> u64 {
        self.stats().path_updates
    }
    fn update_path(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(), String> {
        IkeSa::update_path(self, now, local, remote).map_err(|e| e.to_string())
    }
}

/// The address a session's sockets bind: a MOBIKE initiator's the wildcard of `local`'s
/// family, so that the kernel picks each packet's source from the route of the moment;
/// anything else `local` itself.
pub(crate) fn bind_ip(local: IpAddr, mobike: bool) -> IpAddr {
    match (mobike, local) {
        (false, _) => local,
        (true, IpAddr::V4(_)) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        (true, IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// Whether starting failed because a port was taken (another IKE daemon bound to one address
/// keeps us off the wildcard).
pub(crate) fn port_taken(e: &crate::SessionError) -> bool {
    match e {
        crate::SessionError::Bind { source, .. } | crate::SessionError::Datapath { source, .. } => {
            source.kind() == io::ErrorKind::AddrInUse
        }
        _ => false,
    }
}

/// What the session says when it had to bind `local` instead of the wildcard.
pub(crate) fn not_followed_bound(local: IpAddr, e: &crate::SessionError) -> EventKind {
    EventKind::PathNotFollowed {
        local: Some(local),
        reason: format!(
            "IKE's ports are taken on the wildcard address ({e}): bound to {local}, so changes \
             of this host's address are not followed"
        ),
    }
}

/// Whether the kernel sends to `server` from `local`. A wildcard socket's datagrams leave
/// from the kernel's choice of source, so a caller that named another local address (two
/// addresses on one host, a test on 127.0.0.2) would speak from an address its SA does not
/// know: NAT detection then sees a NAT that is not there. Such a session keeps its address.
pub(crate) fn kernel_source_differs(local: IpAddr, server: IpAddr) -> Option<EventKind> {
    match crate::host::netlink::source_toward(server, None) {
        Ok(Some(src)) if src == local => None,
        answer => Some(EventKind::PathNotFollowed {
            local: Some(local),
            reason: match answer {
                Ok(Some(src)) => format!(
                    "the route to the server leaves from {src}, not the configured local address: \
                     bound to {local}, so changes of this host's address are not followed"
                ),
                Ok(None) => format!(
                    "no route to the server yet: bound to {local}, so changes of this host's \
                     address are not followed"
                ),
                Err(e) => format!(
                    "the route to the server could not be read ({e}): bound to {local}, so \
                     changes of this host's address are not followed"
                ),
            },
        }),
    }
}

/// One initiator's path state.
pub(crate) struct Mobility {
    probe: Box<dyn Probe>,
    /// Wakes the session loop on changes; `None` in tests that call `on_change` directly.
    watcher: Option<watcher::Watcher>,
    /// The address an update was last asked for, until the SA confirms it.
    requested: Option<IpAddr>,
    /// No route to the server: the session says `Reasserting` until a path works again.
    lost: bool,
    /// Reasserting with an update out: the SA's confirmed updates when it was asked. An
    /// update back to the same path moves nothing (no `PathUpdated`), so its confirmation is
    /// seen in the count.
    recovering_from: Option<u64>,
    /// The "not followed" line has been said (once per session).
    said_not_followed: bool,
}

impl std::fmt::Debug for Mobility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mobility")
            .field("requested", &self.requested)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl Mobility {
    pub(crate) fn new(probe: Box<dyn Probe>) -> Self {
        Self {
            probe,
            watcher: None,
            requested: None,
            lost: false,
            recovering_from: None,
            said_not_followed: false,
        }
    }

    /// Watches the host (rtnetlink) and asks the kernel for the path; a route through the
    /// TUN device `tun` is no path.
    pub(crate) fn start(tun: Option<String>) -> io::Result<Self> {
        let mut this = Self::new(Box::new(KernelProbe { tun }));
        this.watcher = Some(watcher::Watcher::start()?);
        Ok(this)
    }

    /// Ready when the host's addresses, routes or links changed: the loop then calls
    /// [`Self::on_change`].
    pub(crate) fn wake(&self) -> Option<&crossbeam_channel::Receiver<()>> {
        self.watcher.as_ref().map(watcher::Watcher::wake)
    }

    /// A datagram's local address as the SA is to see it: on a wildcard socket, the newest
    /// path's address.
    pub(crate) fn datagram_local(&self, sa: &impl PathOwner, local: SocketAddr) -> SocketAddr {
        if local.ip().is_unspecified() {
            SocketAddr::new(self.local_ip(sa), local.port())
        } else {
            local
        }
    }

    /// The address to report as ours for a datagram that arrived on a wildcard socket: the
    /// newest path's (an update's answer comes to the address it was sent from).
    pub(crate) fn local_ip(&self, sa: &impl PathOwner) -> IpAddr {
        self.requested.unwrap_or_else(|| sa.local().ip())
    }

    /// The host's addresses or routes changed: reads the path to the server and acts on it.
    /// Returns the events to report.
    pub(crate) fn on_change(&mut self, now: Instant, sa: &mut impl PathOwner) -> Vec<EventKind> {
        let mut events = Vec::new();
        if !sa.is_established() {
            // Before IKE_AUTH completes there is nothing to move (RFC 4555 §3.3 negotiates
            // MOBIKE there); a failing handshake retransmits and times out as today.
            return events;
        }
        let remote = sa.remote();
        let source = match self.probe.source_toward(remote.ip()) {
            Ok(s) => s,
            Err(e) => {
                events.push(EventKind::PathNotFollowed {
                    local: None,
                    reason: format!("asking the kernel for the route to the server: {e}"),
                });
                return events;
            }
        };
        let Some(ip) = source else {
            if !self.lost {
                self.lost = true;
                events.push(EventKind::PathLost { remote });
                events.push(EventKind::Status { status: Status::Reasserting });
            }
            return events;
        };
        let newest = self.requested.unwrap_or_else(|| sa.local().ip());
        if ip == newest && !self.lost {
            return events;
        }
        if !sa.mobike_negotiated() {
            if !self.said_not_followed {
                self.said_not_followed = true;
                events.push(EventKind::PathNotFollowed {
                    local: Some(ip),
                    reason: "MOBIKE was not negotiated with the server: the IKE SA stays on its \
                             address (a reconnect moves it)"
                        .into(),
                });
            }
            if self.lost && ip == sa.local().ip() {
                self.lost = false;
                events.push(EventKind::Status { status: Status::Connected });
            }
            return events;
        }
        let local = SocketAddr::new(ip, sa.local().port());
        let confirmed = sa.path_updates();
        match sa.update_path(now, local, remote) {
            Ok(()) => {
                self.requested = Some(ip);
                if self.lost {
                    self.recovering_from.get_or_insert(confirmed);
                }
                events.push(EventKind::PathChanging { local, remote });
            }
            Err(reason) => events.push(EventKind::PathNotFollowed { local: Some(ip), reason }),
        }
        events
    }

    /// The watcher's thread ended (its socket failed): changes are no longer seen.
    pub(crate) fn watch_ended(&mut self) -> Vec<EventKind> {
        self.watcher = None;
        vec![EventKind::PathNotFollowed {
            local: None,
            reason: "the rtnetlink watch ended; later changes of the host are not seen".into(),
        }]
    }

    /// A negotiation event: once the IKE SA is up, authenticated ESP from a new source moves
    /// the datapath's peer only without MOBIKE (RFC 7296 §2.23; RFC 4555 moves addresses
    /// only by UPDATE_SA_ADDRESSES); a confirmed move sends every child SA's ESP to the
    /// (possibly new) remote, and ends reasserting.
    pub(crate) fn on_event(
        &mut self,
        e: &Event,
        sa: &impl PathOwner,
        table: Option<&SaTable>,
    ) -> Vec<EventKind> {
        match e {
            Event::IkeSaUp { .. } => {
                if let Some(t) = table {
                    t.set_follow_peer(!sa.mobike_negotiated());
                }
                Vec::new()
            }
            Event::PathUpdated { local, remote, .. } => {
                if let Some(t) = table {
                    t.set_peer(*remote);
                }
                self.on_path_updated(*local)
            }
            _ => Vec::new(),
        }
    }

    /// The SA confirmed a move (`Event::PathUpdated`): the session is back on a path.
    fn on_path_updated(&mut self, local: SocketAddr) -> Vec<EventKind> {
        if self.requested == Some(local.ip()) {
            self.requested = None;
        }
        self.recovered()
    }

    /// After the loop's turn: an update while reasserting confirmed the path we were already
    /// on (no move, so no `PathUpdated`): back to `Connected`.
    pub(crate) fn after_turn(&mut self, sa: &impl PathOwner) -> Vec<EventKind> {
        match self.recovering_from {
            Some(base) if sa.path_updates() > base => {
                if self.requested == Some(sa.local().ip()) {
                    self.requested = None;
                }
                self.recovered()
            }
            _ => Vec::new(),
        }
    }

    fn recovered(&mut self) -> Vec<EventKind> {
        self.recovering_from = None;
        if std::mem::take(&mut self.lost) {
            vec![EventKind::Status { status: Status::Connected }]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
