//! The transaction exchange (6): XAUTH (draft-beaulieu-ike-xauth-02) and mode config
//! (draft-dukes-ike-mode-cfg).

/// XAUTH and mode config settings of a [`crate::Config`].
#[derive(Debug, Clone, Default)]
pub struct TransactionConfig {}
