//! What the in-process session tests share: a responder and an initiator on loopback, and
//! waiting for an event.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crossbeam_channel::Receiver;
use ikeway_sa::{AddressPool, Config};
use ikeway_tunnel::{EventKind, Ports, Role, Session, SessionEvent, SessionOptions};

pub(crate) const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Only a guard against a hang: every wait here ends on an event long before.
pub(crate) const HANG: Duration = Duration::from_secs(30);

/// A responder on loopback and an initiator pointed at it, both on ephemeral ports; `server`
/// and `client` add what a test needs (a datapath, ...) to each side's options.
pub(crate) fn start_pair(
    (client, server, pool): (Config, Config, AddressPool),
    with_server: impl FnOnce(SessionOptions) -> SessionOptions,
    with_client: impl FnOnce(SessionOptions) -> SessionOptions,
) -> (Session, Session) {
    let responder = Session::start(with_server(
        SessionOptions::responder(LOOPBACK, server, Some(pool)).with_ports(Ports::ephemeral()),
    ))
    .expect("responder starts");
    let mut options = with_client(
        SessionOptions::initiator(LOOPBACK, LOOPBACK, client).with_ports(Ports::ephemeral()),
    );
    options.role = Role::Initiator { remote: responder.local_addr() };
    let initiator = Session::start(options).expect("initiator starts");
    (responder, initiator)
}

/// Events up to and including the first that `done` accepts.
pub(crate) fn until(
    events: &Receiver<SessionEvent>,
    done: impl Fn(&EventKind) -> bool,
) -> Vec<EventKind> {
    let mut seen = Vec::new();
    loop {
        let e = events.recv_timeout(HANG).unwrap_or_else(|_| panic!("no such event in {seen:#?}"));
        let last = done(&e.kind);
        seen.push(e.kind);
        if last {
            return seen;
        }
    }
}
