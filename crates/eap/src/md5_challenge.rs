//! MD5-Challenge (RFC 3748 §5.4): the CHAP construction of RFC 1994 §4.1 carried in EAP.
//!
//! Request and Response Type-Data: `Value-Size (1) | Value | Name`. The Response's Value is
//! `MD5(Identifier || secret || Challenge)`, the Identifier being the Request's EAP identifier.
//! It proves the password to the server and nothing of the server to us; it makes no MSK.

use ikeway_crypto::SecretBytes;
use md5::{Digest, Md5};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::EapFailure;
use crate::method::{Finished, PeerMethod, ServerMethod, ServerStep};

/// The challenge we send (RFC 1994 §2.3 asks for unpredictable; 16 octets like strongSwan).
const CHALLENGE_LEN: usize = 16;
/// An MD5 digest.
const RESPONSE_LEN: usize = 16;

/// `MD5(identifier || secret || challenge)`.
pub(crate) fn response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; RESPONSE_LEN] {
    let mut h = Md5::new();
    h.update([identifier]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// The Value of `Value-Size | Value | Name`; the Name is ignored (it is informational).
fn value(data: &[u8]) -> Result<&[u8], EapFailure> {
    let (&size, rest) = data.split_first().ok_or(EapFailure::Malformed)?;
    let size = usize::from(size);
    if size == 0 || size > rest.len() {
        return Err(EapFailure::Malformed);
    }
    Ok(&rest[..size])
}

/// The peer: answers each challenge with the password.
#[derive(Debug)]
pub(crate) struct Md5Peer {
    password: SecretBytes,
    answered: bool,
}

impl Md5Peer {
    pub(crate) fn new(password: SecretBytes) -> Self {
        Self { password, answered: false }
    }
}

impl PeerMethod for Md5Peer {
    fn handle(
        &mut self,
        identifier: u8,
        data: &[u8],
        _rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, EapFailure> {
        let challenge = value(data)?;
        let mut out = Vec::with_capacity(1 + RESPONSE_LEN);
        out.push(RESPONSE_LEN as u8);
        out.extend_from_slice(&response(identifier, self.password.expose(), challenge));
        self.answered = true;
        Ok(out)
    }

    fn finish(&mut self) -> Option<Finished> {
        // Nothing of the server to verify: once we answered, EAP-Success is the server's
        // verdict (and the final IKE AUTH, keyed by SK_p, binds it to the IKE SA).
        self.answered.then_some(Finished { msk: None })
    }
}

/// The authenticator: one challenge, one answer.
#[derive(Debug)]
pub(crate) struct Md5Server {
    /// `None` for an unknown user: the answer is checked against a random secret, so the
    /// reply and the work done are those of a wrong password.
    password: Option<SecretBytes>,
    challenge: [u8; CHALLENGE_LEN],
    identifier: u8,
}

impl Md5Server {
    pub(crate) fn new(password: Option<SecretBytes>) -> Self {
        Self { password, challenge: [0; CHALLENGE_LEN], identifier: 0 }
    }
}

impl ServerMethod for Md5Server {
    fn start(&mut self, identifier: u8, rng: &mut dyn CryptoRng) -> Vec<u8> {
        rng.fill_bytes(&mut self.challenge);
        // Drawn for every user, so a known and an unknown one consume the same randomness.
        let mut dummy = SecretBytes::zeroed(16);
        rng.fill_bytes(dummy.expose_mut());
        if self.password.is_none() {
            self.password = Some(dummy);
        }
        self.identifier = identifier;
        let mut out = Vec::with_capacity(1 + CHALLENGE_LEN);
        out.push(CHALLENGE_LEN as u8);
        out.extend_from_slice(&self.challenge);
        out
    }

    fn handle(&mut self, _identifier: u8, data: &[u8], _rng: &mut dyn CryptoRng) -> ServerStep {
        let Ok(value) = value(data) else {
            return ServerStep::Failure(EapFailure::Malformed);
        };
        let Some(password) = &self.password else {
            // `start` always sets it; a response before it is a protocol error.
            return ServerStep::Failure(EapFailure::Malformed);
        };
        let expected = response(self.identifier, password.expose(), &self.challenge);
        if value.len() == RESPONSE_LEN && bool::from(expected.ct_eq(value)) {
            ServerStep::Success { msk: None }
        } else {
            ServerStep::Failure(EapFailure::Rejected)
        }
    }
}
