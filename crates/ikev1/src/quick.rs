//! Quick mode (RFC 2409 §5.5, exchange 32): ESP SAs under an ISAKMP SA.

/// Quick mode settings of a [`crate::Config`].
#[derive(Debug, Clone, Default)]
pub struct QuickConfig {}
