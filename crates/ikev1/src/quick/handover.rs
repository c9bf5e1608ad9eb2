//! A new phase 1 before the ISAKMP SA's lifetime ends (RFC 2409 has no rekey of an ISAKMP
//! SA): a second ISAKMP SA is negotiated in full (phase 1 and XAUTH again, mode config not:
//! the client keeps its address), then the ESP SAs move to it, untouched in the datapath,
//! and the old ISAKMP SA is deleted.
//!
//! The client: [`Event::RenewalDue`] when the time has come, then [`Ikev1Sa::renew`] makes
//! the new SA and, once it is up, [`Ikev1Sa::hand_over`] moves the ESP SAs and deletes the old
//! one. The gateway: the client's Delete of the old ISAKMP SA leaves its ESP SAs (and the
//! client's address) waiting ([`Ikev1Sa::take_orphans`]) and the endpoint gives them to the
//! client's newer ISAKMP SA ([`Ikev1Sa::adopt`]); with none, they are removed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_sa::{AddressAllocator, CloseReason, Event as SaEvent, KeyExchangeProvider};

use super::Child;
use crate::engine::{Ikev1Sa, Role};

/// How long before the ISAKMP SA's end its successor is negotiated: a tenth of its lifetime,
/// at least a minute (phase 1 with XAUTH needs the user's password again only when it is not
/// stored).
fn renew_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).max(Duration::from_secs(60))
}

/// What an ISAKMP SA leaves behind for its successor: its ESP SAs and the client's address.
#[derive(Debug, Default)]
pub(crate) struct Orphans {
    children: Vec<Child>,
    lease: Option<(IpAddr, Option<Arc<AddressAllocator>>)>,
    cookies: (u64, u64),
    /// Who left them: only an SA of the same peer takes them (see [`Ikev1Sa::can_adopt`]).
    peer: Option<(IpAddr, ikeway_isakmp::IdRepr, Option<String>)>,
}

impl Ikev1Sa {
    /// When the client should start the new ISAKMP SA; `None` on the gateway side, before
    /// phase 1 is done, and once asked.
    pub(crate) fn renew_deadline(&self) -> Option<Instant> {
        if self.role != Role::Client || self.quick.renewal_reported {
            return None;
        }
        let expire = self.timers.get(crate::timer::Timer::Phase1Expire)?;
        let lifetime = self.suite?.lifetime;
        Some(expire - renew_margin(lifetime).min(lifetime / 2))
    }

    pub(crate) fn handle_renew_timeout(&mut self, now: Instant) {
        if self.renew_deadline().is_some_and(|t| now >= t) {
            self.quick.renewal_reported = true;
            self.events.push_back(crate::Event::RenewalDue);
        }
    }

    /// The client's new ISAKMP SA to the same gateway, for [`Ikev1Sa::hand_over`]: phase 1
    /// (from port 500 again) and XAUTH as configured; no mode config and no first quick mode,
    /// since the address and the ESP SAs come from this SA.
    pub fn renew(
        &self,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Ikev1Sa, crate::Error> {
        let local = SocketAddr::new(self.local.ip(), 500);
        let remote = SocketAddr::new(self.remote.ip(), 500);
        self.renew_on(kex, seed, now, local, remote)
    }

    /// [`Ikev1Sa::renew`] from `local` to `remote`: the path this SA started on, for a
    /// runtime whose IKE port is not 500 (the successor floats to NAT-T itself).
    pub fn renew_on(
        &self,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Ikev1Sa, crate::Error> {
        let mut new =
            Ikev1Sa::initiate_as(self.config.clone(), kex, seed, now, local, remote, self.role)?;
        new.quick.renewing = true;
        if self.role == Role::Client {
            new.transaction.inherit_lease(self.transaction.leased_address());
        }
        Ok(new)
    }

    /// Moves this SA's ESP SAs to `new` (up, XAUTH done) and deletes this ISAKMP SA: the peer
    /// is told with a Delete for the ISAKMP SA only, `new` reports `IkeSaRekeyed`, this SA
    /// closes with [`CloseReason::Rekeyed`] and no `ChildSaRemoved` (the datapath keeps the
    /// ESP SAs). `false`, and nothing done, while `new` is not ready.
    pub fn hand_over(&mut self, new: &mut Ikev1Sa, now: Instant) -> bool {
        let ready = match new.role {
            Role::Client => new.transaction.allows_quick(),
            // A gateway's new SA (it renewed toward the client) waits for no mode config.
            Role::Gateway => new.transaction.allows_quick_from_peer(),
        };
        if !self.is_established() || !new.is_established() || !ready || new.role != self.role {
            return false;
        }
        // The gateway's lease of the client's address goes along; the client's is kept by
        // its new SA already.
        let lease = match self.role {
            Role::Gateway => self.transaction.take_lease(),
            Role::Client => None,
        };
        let orphans = Orphans {
            children: std::mem::take(&mut self.quick.children),
            lease,
            cookies: self.cookies(),
            peer: None,
        };
        new.adopt(orphans);
        let cookies = self.cookies_spi();
        self.send_delete_isakmp(cookies);
        self.shut_down(now, CloseReason::Rekeyed);
        true
    }

    /// Gateway: the peer deleted this ISAKMP SA; its ESP SAs and the client's address wait
    /// for the client's newer SA instead of going with it.
    pub(crate) fn orphan_children(&mut self) {
        let lease = self.transaction.take_lease();
        let peer = self
            .peer_id
            .clone()
            .map(|id| (self.remote.ip(), id, self.transaction.xauth_user().map(str::to_owned)));
        self.quick.orphans = Some(Orphans {
            children: std::mem::take(&mut self.quick.children),
            lease,
            cookies: self.cookies(),
            peer,
        });
    }

    pub(crate) fn keep_orphans(&mut self, orphans: Orphans) {
        self.quick.orphans = Some(orphans);
    }

    /// What a closed ISAKMP SA left for a successor (gateway side).
    pub(crate) fn take_orphans(&mut self) -> Option<Orphans> {
        self.quick.orphans.take().filter(|o| !o.children.is_empty() || o.lease.is_some())
    }

    /// Takes over a predecessor's ESP SAs (and the client's address), reporting
    /// `IkeSaRekeyed`.
    pub(crate) fn adopt(&mut self, orphans: Orphans) {
        self.quick.children.extend(orphans.children);
        if let Some((addr, pool)) = orphans.lease {
            self.transaction.adopt_lease(addr, pool);
        }
        self.emit(SaEvent::IkeSaRekeyed { old_spis: orphans.cookies, new_spis: self.cookies() });
    }

    /// Orphans nobody took: the ESP SAs are removed and the address goes back.
    pub(crate) fn abandon(&mut self, orphans: Orphans) {
        for c in orphans.children {
            self.emit(SaEvent::ChildSaRemoved { spi_in: c.spi_in, spi_out: c.spi_out });
        }
        if let Some((addr, Some(pool))) = orphans.lease {
            pool.release(addr);
        }
    }

    /// Whether this SA may take `orphans`: established, another SA than theirs, from the
    /// same address with the same phase 1 identity and, with XAUTH, the same user (with a
    /// group secret every client has the same identity; the user tells them apart).
    pub(crate) fn can_adopt(&self, orphans: &Orphans) -> bool {
        let Some((ip, id, user)) = &orphans.peer else { return false };
        self.is_established()
            && self.transaction.allows_quick_from_peer()
            && self.cookies() != orphans.cookies
            && self.remote.ip() == *ip
            && self.peer_id.as_ref() == Some(id)
            && self.transaction.xauth_user() == user.as_deref()
    }
}
