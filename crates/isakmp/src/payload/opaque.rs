//! Payloads whose body is one opaque octet string: KE (RFC 2408 §3.7),
//! HASH (§3.11), SIG (§3.12), Nonce (§3.13), Vendor ID (§3.16) and NAT-D
//! (RFC 3947 §3.2).

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};

macro_rules! opaque_payload {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $ty {
            /// The payload's data.
            pub data: Vec<u8>,
        }

        impl $ty {
            /// A payload carrying `data`.
            pub fn new(data: impl Into<Vec<u8>>) -> Self {
                Self { data: data.into() }
            }
        }

        impl Body<crate::error::Ikev1> for $ty {
            fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self { data: c.rest().to_vec() })
            }

            fn body_len(&self) -> usize {
                self.data.len()
            }

            fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
                o.put(&self.data)
            }
        }

        body_api!($ty);
    };
}

opaque_payload! {
    /// Key Exchange: the sender's public Diffie-Hellman value, its group
    /// given by the SA (IKEv1 has no group field here, unlike IKEv2).
    KeRepr
}

opaque_payload! {
    /// Hash: HASH_I / HASH_R of phase 1, HASH(1..3) of quick mode, the
    /// informational and transaction hashes (RFC 2409 §5, §5.5, §5.7).
    HashRepr
}

opaque_payload! {
    /// Signature: SIG_I / SIG_R over HASH_I / HASH_R (RFC 2409 §5.1).
    SigRepr
}

opaque_payload! {
    /// Nonce: 8 to 256 octets by RFC 2409 §5; the length is the
    /// negotiation's to check, not the codec's.
    NonceRepr
}

opaque_payload! {
    /// Vendor ID: usually an MD5 hash naming a capability;
    /// [`VendorIdRepr::known`] recognises the ones IKEv1 peers send.
    VendorIdRepr
}

opaque_payload! {
    /// NAT Discovery: HASH(CKY-I | CKY-R | IP | Port) with the negotiated
    /// hash (RFC 3947 §3.2), under payload type 20 or the draft's 130.
    NatDRepr
}
