//! Informational exchanges (5): Delete, notifications, dead peer detection (RFC 3706).

/// Informational and DPD settings of a [`crate::Config`].
#[derive(Debug, Clone, Default)]
pub struct InformationalConfig {}
