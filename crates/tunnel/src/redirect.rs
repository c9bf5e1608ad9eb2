//! Following IKEv2 redirects (RFC 5685) in an initiator's session: where the next IKE SA
//! goes, and when to stop.
//!
//! The negotiation reports `Event::Redirected` then closes its IKE SA; the session then starts
//! a new IKE SA to the named gateway with `Config::redirected_from` set to the server that sent
//! it, from the same local address and to the same IKE port. An FQDN gateway is resolved here
//! (the protocol crates do no I/O). At most [`MAX_REDIRECTS`] redirects are followed per
//! connection, and a gateway seen before (the first server included) is a loop: both end the
//! session with [`RedirectFailure`], which the manager reports as Apple's
//! `serverAddressResolutionFailed` (see `RedirectFailure`).

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use ikeway_codec::Gateway;
use ikeway_sa::{Config, IkeSa, KeyExchangeProvider};
use serde::Serialize;

use crate::session::random_seed;

/// Redirects followed per connection at most; the next one ends it (RFC 5685 §10 leaves the
/// bound to the client, and asks for one: "the client MUST ... prevent a redirect loop").
pub const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed; the session ends.
///
/// All three map to Apple's `NEVPNConnectionError.serverAddressResolutionFailed`: the address
/// the configured server led to does not resolve to a gateway that serves us. Apple has no
/// redirect-specific error; `serverDisconnected` would blame a server that did answer, and
/// `negotiationFailed` a proposal mismatch the user would look for in the wrong place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectFailure {
    /// More than [`MAX_REDIRECTS`] redirects in one connection.
    TooManyRedirects,
    /// The gateway was visited before in this connection.
    Loop,
    /// An FQDN gateway did not resolve to an address of our local address's family.
    Unresolvable,
    /// The new IKE SA could not be started (no usable group, no randomness).
    CannotInitiate,
    /// A responder: the client did not announce redirect support, so it was not redirected.
    PeerUnsupported,
}

impl fmt::Display for RedirectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooManyRedirects => "the servers redirected us more than 5 times",
            Self::Loop => "the servers redirected us in a loop",
            Self::Unresolvable => "the gateway the server redirected us to does not resolve",
            Self::CannotInitiate => {
                "the IKE SA to the gateway we were redirected to could not start"
            }
            Self::PeerUnsupported => "the client did not announce that it follows redirects",
        })
    }
}

/// An initiator's redirect bookkeeping for one connection.
#[derive(Debug)]
pub(crate) struct Follower {
    config: Arc<Config>,
    kex: Arc<dyn KeyExchangeProvider>,
    /// The session's fixed seed (tests), from which each new SA's seed is derived.
    seed: Option<[u8; 32]>,
    /// Our IKE socket: every IKE SA of the connection starts from it.
    local: SocketAddr,
    /// The configured server's IKE port: a redirect names an address only, so every gateway
    /// is asked on the same port (500 outside tests).
    port: u16,
    /// The server now, and every gateway before it.
    visited: Vec<IpAddr>,
    /// Set by `Event::Redirected`, taken when the IKE SA closes.
    pending: Option<Gateway>,
}

/// A redirect followed: the new IKE SA and where it goes.
#[derive(Debug)]
pub(crate) struct Hop {
    pub(crate) sa: IkeSa,
    pub(crate) from: IpAddr,
    pub(crate) to: IpAddr,
}

impl Follower {
    pub(crate) fn new(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: Option<[u8; 32]>,
        local: SocketAddr,
        server: SocketAddr,
    ) -> Self {
        let visited = vec![server.ip()];
        Self { config, kex, seed, local, port: server.port(), visited, pending: None }
    }

    /// The negotiation named the next gateway.
    pub(crate) fn redirected(&mut self, gateway: Gateway) {
        self.pending = Some(gateway);
    }

    /// The IKE SA closed with `CloseReason::Redirected`: the next IKE SA, started at `now`
    /// towards the gateway, resolving a name with `resolve`.
    pub(crate) fn follow(
        &mut self,
        now: Instant,
        resolve: impl FnOnce(&str, u16) -> Vec<IpAddr>,
    ) -> Result<Hop, (Option<Gateway>, RedirectFailure)> {
        let Some(gateway) = self.pending.take() else {
            return Err((None, RedirectFailure::CannotInitiate));
        };
        let fail = |f| Err((Some(gateway.clone()), f));
        let port = self.port;
        if self.visited.len() > MAX_REDIRECTS {
            return fail(RedirectFailure::TooManyRedirects);
        }
        let to = match &gateway {
            Gateway::Fqdn(name) => {
                let family = self.local.is_ipv4();
                match resolve(name, port).into_iter().find(|a| a.is_ipv4() == family) {
                    Some(a) => a,
                    None => return fail(RedirectFailure::Unresolvable),
                }
            }
            other => match other.ip() {
                Some(a) if a.is_ipv4() == self.local.is_ipv4() => a,
                _ => return fail(RedirectFailure::Unresolvable),
            },
        };
        if self.visited.contains(&to) {
            return fail(RedirectFailure::Loop);
        }
        let from = *self.visited.last().expect("starts with the configured server");
        let mut config = (*self.config).clone();
        config.redirected_from = Some(from);
        let seed = match self.seed {
            // Each hop its own stream, still reproducible.
            Some(mut s) => {
                s[31] = s[31].wrapping_add(self.visited.len() as u8);
                s
            }
            None => match random_seed() {
                Ok(s) => s,
                Err(_) => return fail(RedirectFailure::CannotInitiate),
            },
        };
        let remote = SocketAddr::new(to, port);
        let sa =
            IkeSa::initiate(Arc::new(config), Arc::clone(&self.kex), seed, now, self.local, remote);
        let Ok(sa) = sa else { return fail(RedirectFailure::CannotInitiate) };
        self.visited.push(to);
        Ok(Hop { sa, from, to })
    }
}

/// Resolves an FQDN gateway with the system resolver (blocking the session's thread for as long
/// as the resolver takes: the old IKE SA is closed, nothing else waits on the loop).
pub(crate) fn resolve_system(name: &str, port: u16) -> Vec<IpAddr> {
    (name, port).to_socket_addrs().map(|it| it.map(|a| a.ip()).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ikeway_codec::{IdRepr, IdValue};
    use ikeway_crypto::SecretBytes;
    use ikeway_sa::DefaultKex;

    use super::*;

    fn follower() -> Follower {
        let config = Config::new(
            IdRepr::from_value(IdValue::Fqdn("client.example")),
            SecretBytes::from_slice(b"a pre-shared key"),
        );
        Follower::new(
            Arc::new(config),
            Arc::new(DefaultKex::default()),
            Some([4; 32]),
            "10.0.0.1:500".parse().unwrap(),
            "10.0.0.2:500".parse().unwrap(),
        )
    }

    fn v4(last: u8) -> Gateway {
        Gateway::V4(Ipv4Addr::new(10, 0, 1, last))
    }

    fn no_dns(_: &str, _: u16) -> Vec<IpAddr> {
        panic!("no name to resolve")
    }

    #[test]
    fn follows_five_redirects_with_redirected_from_then_stops() {
        let mut f = follower();
        let now = Instant::now();
        let mut from: IpAddr = "10.0.0.2".parse().unwrap();
        for hop in 1..=5 {
            f.redirected(v4(hop));
            let next = f.follow(now, no_dns).unwrap();
            assert_eq!((next.from, next.to), (from, IpAddr::from([10, 0, 1, hop])));
            assert_eq!(next.sa.remote(), SocketAddr::new(next.to, 500));
            assert_eq!(next.sa.local(), "10.0.0.1:500".parse().unwrap());
            from = next.to;
        }
        f.redirected(v4(6));
        let e = f.follow(now, no_dns).unwrap_err();
        assert_eq!(e, (Some(v4(6)), RedirectFailure::TooManyRedirects));
    }

    #[test]
    fn a_gateway_seen_before_is_a_loop_the_first_server_included() {
        let mut f = follower();
        let now = Instant::now();
        f.redirected(v4(1));
        f.follow(now, no_dns).unwrap();
        f.redirected(Gateway::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(f.follow(now, no_dns).unwrap_err().1, RedirectFailure::Loop);
        let mut f = follower();
        f.redirected(v4(1));
        f.follow(now, no_dns).unwrap();
        f.redirected(v4(1));
        assert_eq!(f.follow(now, no_dns).unwrap_err().1, RedirectFailure::Loop);
    }

    #[test]
    fn fqdn_is_resolved_to_our_family_and_a_name_that_does_not_is_refused() {
        let mut f = follower();
        let now = Instant::now();
        f.redirected(Gateway::Fqdn("vpn2.example".into()));
        let hop = f
            .follow(now, |name, port| {
                assert_eq!((name, port), ("vpn2.example", 500));
                vec!["2001:db8::1".parse().unwrap(), "10.0.1.9".parse().unwrap()]
            })
            .unwrap();
        assert_eq!(hop.to, IpAddr::from([10, 0, 1, 9]));
        f.redirected(Gateway::Fqdn("v6only.example".into()));
        let e = f.follow(now, |_, _| vec!["2001:db8::1".parse().unwrap()]).unwrap_err();
        assert_eq!(e.1, RedirectFailure::Unresolvable);
        f.redirected(Gateway::V6("2001:db8::2".parse().unwrap()));
        assert_eq!(f.follow(now, no_dns).unwrap_err().1, RedirectFailure::Unresolvable);
    }

    #[test]
    fn failures_read_as_sentences() {
        assert_eq!(RedirectFailure::Loop.to_string(), "the servers redirected us in a loop");
        assert_eq!(
            serde_json::to_string(&RedirectFailure::TooManyRedirects).unwrap(),
            "\"too_many_redirects\""
        );
    }
}
