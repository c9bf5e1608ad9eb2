//! A phase 1 the gateway starts toward its connected client. RFC 2409 has no rekey of an
//! ISAKMP SA, so a gateway that renews one negotiates a new ISAKMP SA in full, as initiator:
//! strongSwan does this at its IKE `rekey_time` (4 hours by default; for IKEv1 a "rekey" is a
//! reauthentication, started even for XAUTH and virtual-IP clients, with the ESP SAs moved to
//! the new SA at once), and libreswan's pluto when a responder's ISAKMP SA reaches its
//! replace time. A client that ignores it loses the connection when the gateway deletes the
//! old SA.
//!
//! The client takes such a message 1 only from its gateway's address, in its own phase 1
//! mode, while its ISAKMP SA is up, and answers it as a phase 1 responder with its own
//! configuration: the same identity, secret or certificate and the same checks of the
//! gateway's identity and proof as when it starts phase 1 itself, the authentication method
//! in its XAUTHResp*/HybridResp form (the XAUTH client is now the responder). XAUTH follows
//! as the gateway asks (the Cisco Unity vendor ID left out: see `without_unity`); a client that pulls mode config asks for the address it has (strongSwan
//! gives the new SA the ESP SAs but not the virtual IP, and refuses a later quick mode for
//! that address otherwise), and the answer is not applied: the tunnel keeps its address, as
//! in the client's own renewal. Once up, the runtime moves the ESP SAs to the
//! new SA with [`Ikev1Sa::hand_over`], as after [`Ikev1Sa::renew`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ikeway_isakmp::{ExchangeType, HeaderRepr};

use crate::engine::{Ikev1Sa, Role};
use crate::receive::ike_bytes;
use crate::{KeyExchangeProvider, Phase1Mode};

impl Ikev1Sa {
    /// Client: `datagram` (from `remote` at `local`) carries a cookie none of our ISAKMP SAs
    /// has. If it is a phase 1 message 1 from our gateway (the address this SA talks to,
    /// responder cookie zero, our phase 1 mode) and this SA is up, the new ISAKMP SA that
    /// answers it, having taken the message: drive it like a successor from
    /// [`Ikev1Sa::renew`] and [`Ikev1Sa::hand_over`] the ESP SAs to it once it is up. It may
    /// already be closed (phase 1 refused: its error notify is queued, send it and drop the
    /// SA). Otherwise `None`, nothing kept, counted in [`crate::Stats`]
    /// `gateway_phase1_refused`.
    ///
    /// The runtime keeps at most one such SA under way: a second message 1 while one is
    /// being answered is refused here by not being asked.
    pub fn answer_gateway(
        &mut self,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) -> Option<Ikev1Sa> {
        let Some(cky_i) = self.gateway_phase1_start(remote, local, datagram) else {
            self.stats.gateway_phase1_refused += 1;
            return None;
        };
        let mut new = Self::respond_as(
            without_unity(&self.config),
            kex,
            seed,
            now,
            local,
            remote,
            cky_i,
            Role::Client,
        );
        new.quick.renewing = true;
        new.transaction.reclaim_lease(self.transaction.leased_address());
        new.handle_datagram(now, remote, local, datagram);
        if !new.has_started() {
            // Not a message 1 we could answer (payloads missing or malformed): no state.
            self.stats.gateway_phase1_refused += 1;
            return None;
        }
        Some(new)
    }

    /// The initiator cookie of a phase 1 message 1 this client may answer, if it is one.
    fn gateway_phase1_start(
        &self,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) -> Option<u64> {
        if self.role != Role::Client || !self.is_established() || remote.ip() != self.remote.ip() {
            return None;
        }
        let header = HeaderRepr::parse(ike_bytes(local, remote, datagram)?).ok()?;
        let mode = match self.config.mode {
            Phase1Mode::Main => ExchangeType::MAIN,
            Phase1Mode::Aggressive => ExchangeType::AGGRESSIVE,
        };
        let cky_i = u64::from_be_bytes(header.cookie_i);
        let fresh = header.cookie_r == [0; 8] && cky_i != 0 && cky_i != self.cky_i;
        (fresh && header.exchange == mode && header.message_id == 0).then_some(cky_i)
    }
}

/// The configuration without Cisco Unity for an SA the gateway started. strongSwan 5.9.8's
/// unity plugin narrows the traffic selectors of an IKEv1 SA it started itself as if it were
/// the Unity client: with no split-include of its own, the client's side resolves to nothing
/// and every quick mode under that SA is refused when installed ("no acceptable traffic
/// selectors found", seen live for our rekey after its reauthentication). Without the Unity
/// vendor ID the plugin leaves the SA alone. The Unity extras (banner, split networks) came
/// with the first SA's mode config and are not applied again anyway; successors of this SA
/// go on without Unity too.
fn without_unity(config: &Arc<crate::Config>) -> Arc<crate::Config> {
    if !config.cisco_unity {
        return config.clone();
    }
    let mut c = (**config).clone();
    c.cisco_unity = false;
    Arc::new(c)
}
