//! Dead Peer Detection (RFC 3706): an R-U-THERE when the peer has been quiet for the
//! configured interval, resent a configured number of times, and an R-U-THERE-ACK for each
//! of the peer's.
//!
//! "Quiet" means no authenticated IKE message from the peer (RFC 3706 §5.3 leaves the
//! measure of idleness to the implementation; IKEv2's liveness check uses the same). The
//! state is the sequence numbers and one deadline; the caller sends what it is told.

use std::time::{Duration, Instant};

/// How often, and how persistently, to check on a quiet peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdConfig {
    /// Send an R-U-THERE after this long without hearing from the peer.
    pub interval: Duration,
    /// How long to wait for each R-U-THERE-ACK before resending.
    pub retransmit: Duration,
    /// Resends after the first R-U-THERE before the peer is declared unreachable.
    pub retries: u32,
}

impl Default for DpdConfig {
    /// Apple's and strongSwan's usual figures: 30 s of quiet, then 5 tries 5 s apart.
    fn default() -> Self {
        Self { interval: Duration::from_secs(30), retransmit: Duration::from_secs(5), retries: 4 }
    }
}

/// What the caller must do after [`Dpd::handle_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpdAction {
    /// Send an R-U-THERE with this sequence number (a new one, or a resend of the same).
    Send(u32),
    /// Every try went unanswered: close the ISAKMP SA as unreachable.
    PeerDead,
}

/// An R-U-THERE of ours waiting for its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    seq: u32,
    resend_at: Instant,
    /// Sends so far, the first included.
    sent: u32,
}

/// The DPD state of one ISAKMP SA.
#[derive(Debug, Clone)]
pub struct Dpd {
    config: Option<DpdConfig>,
    last_heard: Instant,
    /// The sequence number of our next new R-U-THERE.
    next_seq: u32,
    pending: Option<Pending>,
    /// The peer's last R-U-THERE we answered, to refuse replays of older ones (§5.5).
    peer_seq: Option<u32>,
}

impl Dpd {
    /// `first_seq` is random (RFC 3706 §5.5 starts the count at a random value so an
    /// attacker cannot predict it); `None` turns our checks off, the peer's are still answered.
    pub fn new(config: Option<DpdConfig>, now: Instant, first_seq: u32) -> Self {
        // The top bit is cleared so the count has 2^31 checks before it wraps, and zero is
        // avoided: some peers read it as "no sequence number yet".
        let next_seq = (first_seq & 0x7fff_ffff).max(1);
        Self { config, last_heard: now, next_seq, pending: None, peer_seq: None }
    }

    /// An authenticated message came from the peer: it is alive, whatever it was.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = self.last_heard.max(now);
    }

    /// When [`Dpd::handle_timeout`] must run next.
    pub fn deadline(&self) -> Option<Instant> {
        let config = self.config?;
        Some(match self.pending {
            Some(p) => p.resend_at,
            None => self.last_heard + config.interval,
        })
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<DpdAction> {
        let config = self.config?;
        match self.pending {
            Some(p) if now >= p.resend_at => {
                if p.sent > config.retries {
                    self.pending = None;
                    return Some(DpdAction::PeerDead);
                }
                self.pending =
                    Some(Pending { resend_at: now + config.retransmit, sent: p.sent + 1, ..p });
                Some(DpdAction::Send(p.seq))
            }
            None if now >= self.last_heard + config.interval => Some(self.start(now, config)),
            _ => None,
        }
    }

    /// Starts a check now, idle or not, unless one is under way (a command).
    pub fn check_now(&mut self, now: Instant) -> Option<DpdAction> {
        let config = self.config?;
        self.pending.is_none().then(|| self.start(now, config))
    }

    fn start(&mut self, now: Instant, config: DpdConfig) -> DpdAction {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        self.pending = Some(Pending { seq, resend_at: now + config.retransmit, sent: 1 });
        DpdAction::Send(seq)
    }

    /// The peer's R-U-THERE-ACK: `true` if it answers our outstanding R-U-THERE (an ACK of
    /// any other number is stale or forged and changes nothing).
    pub fn handle_ack(&mut self, seq: u32, now: Instant) -> bool {
        match self.pending {
            Some(p) if p.seq == seq => {
                self.pending = None;
                self.heard(now);
                true
            }
            _ => false,
        }
    }

    /// The peer's R-U-THERE: `true` if it is to be acknowledged (with the same number). One
    /// that is not newer than the last answered, in serial number arithmetic (RFC 1982), is
    /// a replay and gets no answer.
    pub fn handle_request(&mut self, seq: u32) -> bool {
        let newer = match self.peer_seq {
            None => true,
            Some(last) => {
                let ahead = seq.wrapping_sub(last);
                ahead != 0 && ahead < 0x8000_0000
            }
        };
        if newer {
            self.peer_seq = Some(seq);
        }
        newer
    }

    /// Whether an R-U-THERE of ours is waiting for its answer.
    pub fn is_checking(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DpdConfig {
        DpdConfig {
            interval: Duration::from_secs(30),
            retransmit: Duration::from_secs(5),
            retries: 2,
        }
    }

    fn secs(base: Instant, s: u64) -> Instant {
        base + Duration::from_secs(s)
    }

    #[test]
    fn nothing_is_sent_while_the_peer_is_heard_from() {
        let t0 = Instant::now();
        let mut dpd = Dpd::new(Some(config()), t0, 100);
        assert_eq!(dpd.deadline(), Some(secs(t0, 30)));
        dpd.heard(secs(t0, 20));
        assert_eq!(dpd.handle_timeout(secs(t0, 30)), None);
        assert_eq!(dpd.deadline(), Some(secs(t0, 50)));
        assert_eq!(dpd.handle_timeout(secs(t0, 50)), Some(DpdAction::Send(100)));
    }

    #[test]
    fn an_ack_of_the_outstanding_number_ends_the_check_and_the_next_uses_the_next_number() {
        let t0 = Instant::now();
        let mut dpd = Dpd::new(Some(config()), t0, 100);
        assert_eq!(dpd.handle_timeout(secs(t0, 30)), Some(DpdAction::Send(100)));
        assert!(!dpd.handle_ack(99, secs(t0, 31)), "a stale ACK answers nothing");
        assert!(dpd.is_checking());
        assert!(dpd.handle_ack(100, secs(t0, 31)));
        assert!(!dpd.is_checking());
        assert_eq!(dpd.deadline(), Some(secs(t0, 61)));
        assert_eq!(dpd.handle_timeout(secs(t0, 61)), Some(DpdAction::Send(101)));
    }

    #[test]
    fn unanswered_checks_are_resent_then_the_peer_is_dead() {
        let t0 = Instant::now();
        let mut dpd = Dpd::new(Some(config()), t0, 7);
        assert_eq!(dpd.handle_timeout(secs(t0, 30)), Some(DpdAction::Send(7)));
        assert_eq!(dpd.handle_timeout(secs(t0, 34)), None, "not yet due");
        assert_eq!(dpd.handle_timeout(secs(t0, 35)), Some(DpdAction::Send(7)));
        assert_eq!(dpd.handle_timeout(secs(t0, 40)), Some(DpdAction::Send(7)));
        assert_eq!(dpd.handle_timeout(secs(t0, 45)), Some(DpdAction::PeerDead));
    }

    #[test]
    fn the_peers_checks_are_answered_once_each_and_replays_are_not() {
        let mut dpd = Dpd::new(None, Instant::now(), 1);
        assert!(dpd.handle_request(0xffff_fffe));
        assert!(!dpd.handle_request(0xffff_fffe), "the same number again is a replay");
        assert!(dpd.handle_request(3), "newer across the wrap");
        assert!(!dpd.handle_request(0xffff_ffff), "older than the last answered");
    }

    #[test]
    fn without_a_configuration_we_never_check() {
        let t0 = Instant::now();
        let mut dpd = Dpd::new(None, t0, 5);
        assert_eq!(dpd.deadline(), None);
        assert_eq!(dpd.handle_timeout(secs(t0, 1_000_000)), None);
    }

    #[test]
    fn the_first_number_is_never_zero() {
        let t0 = Instant::now();
        let mut dpd = Dpd::new(Some(config()), t0, 0);
        assert_eq!(dpd.handle_timeout(secs(t0, 30)), Some(DpdAction::Send(1)));
    }
}
