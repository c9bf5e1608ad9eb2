//! Phase 1: main mode (RFC 2409 §5, exchange 2) and aggressive mode (§5, exchange 4), both
//! roles, with a shared secret or signatures; NAT-T detection (RFC 3947) and the vendor IDs.

/// Where an ISAKMP SA's phase 1 stands.
#[derive(Debug, Default)]
pub(crate) enum State {
    /// Nothing sent or received yet.
    #[default]
    Start,
    /// Phase 1 is complete: keys and IV chains are in [`crate::engine::Ikev1Sa`]'s `crypt`.
    Established,
    /// Phase 1 failed or the SA was deleted; everything further is dropped.
    Closed,
}
