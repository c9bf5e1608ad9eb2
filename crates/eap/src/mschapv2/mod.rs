//! EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2; the MS-CHAP-V2 of RFC 2759 inside EAP).
//!
//! Type-Data: `OpCode (1) | MS-CHAPv2-ID (1) | MS-Length (2) | data`, except the peer's
//! Success and Failure Responses, which are the OpCode alone.
//!
//! ```text
//! server                                   peer
//! Challenge: 16-octet challenge, name  ->
//!                                      <-  Response: peer challenge, NT-Response, user name
//! Success "S=<auth> M=.."  (or Failure "E=691 R=0 C=.. V=3 M=..")  ->
//!                                      <-  Success (or Failure)
//! EAP-Success with the MSK (or EAP-Failure)
//! ```
//!
//! The peer acknowledges success only after checking `S=` (in constant time), so an EAP-Success
//! means the server knew the password too. MS-Length repeats the EAP Length; it is written
//! correctly and not relied on when read (the EAP Length, checked by the codec, is what counts).

mod crypto;

use ikeway_crypto::SecretBytes;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::EapFailure;
use crate::method::{Finished, PeerMethod, ServerMethod, ServerStep};
use crypto::Hash16;

#[cfg(test)]
mod kat;

/// OpCodes (draft-kamath §2).
const CHALLENGE: u8 = 1;
const RESPONSE: u8 = 2;
const SUCCESS: u8 = 3;
const FAILURE: u8 = 4;

/// OpCode, MS-CHAPv2-ID, MS-Length.
const HEADER_LEN: usize = 4;
/// Value-Size of a Challenge (RFC 2759 §3) and of a Response (§4).
const CHALLENGE_LEN: usize = 16;
const RESPONSE_VALUE_LEN: usize = 49;
/// The name in our Challenge (RFC 2759 §3: the authenticator's name; informational).
const SERVER_NAME: &[u8] = b"ikeway";
/// RFC 2759 §6: E=691 is "authentication failure", R=0 "do not retry", V=3 the version.
const WRONG_PASSWORD: u16 = 691;

/// `OpCode | MS-CHAPv2-ID | MS-Length | body`.
fn packet(opcode: u8, ms_id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(opcode);
    out.push(ms_id);
    // Bounded by MAX_MESSAGE_LEN for what we build: the name is our own identity or constant.
    let len = u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// `(OpCode, MS-CHAPv2-ID, body)` of a packet with the full header.
fn parse(data: &[u8]) -> Option<(u8, u8, &[u8])> {
    if data.len() < HEADER_LEN {
        return None;
    }
    Some((data[0], data[1], &data[HEADER_LEN..]))
}

fn hex_upper(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// The 20 bytes of an `S=` value (40 hex digits, either case).
fn parse_auth_string(token: &[u8]) -> Option<[u8; 20]> {
    if token.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in token.chunks_exact(2).enumerate() {
        let s = core::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The value of `key` (e.g. `b"S="`) among the space-separated fields of a Success or Failure
/// message (RFC 2759 §5, §6). `M=` is free text and comes last, so the search stops there.
fn field<'a>(message: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    for token in message.split(|&b| b == b' ') {
        if token.starts_with(b"M=") {
            break;
        }
        if let Some(value) = token.strip_prefix(key) {
            return Some(value);
        }
    }
    None
}

/// The `E=` code of a Failure message; 0 when absent or not a number.
fn failure_code(message: &[u8]) -> u16 {
    field(message, b"E=")
        .and_then(|v| core::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

enum PeerState {
    ExpectChallenge,
    /// We answered; the server's `S=` must be this.
    ExpectVerdict {
        auth_response: [u8; 20],
        msk: SecretBytes,
    },
    /// We checked `S=` and acknowledged.
    Done {
        msk: Option<SecretBytes>,
    },
    /// The server's Failure packet, acknowledged.
    Rejected {
        code: u16,
    },
}

/// The peer: proves the password, then checks that the server knows it too.
pub(crate) struct MsChapV2Peer {
    /// The EAP identity, sent as the Name and (without a domain) hashed into the challenge.
    name: Vec<u8>,
    password_hash: Hash16,
    state: PeerState,
}

impl core::fmt::Debug for MsChapV2Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MsChapV2Peer").finish_non_exhaustive()
    }
}

impl MsChapV2Peer {
    /// `None` when the password is not UTF-8 (RFC 2759 hashes its Unicode form).
    pub(crate) fn new(identity: &str, password: &SecretBytes) -> Option<Self> {
        Some(Self {
            name: identity.as_bytes().to_vec(),
            password_hash: crypto::nt_password_hash(password.expose())?,
            state: PeerState::ExpectChallenge,
        })
    }

    fn answer_challenge(
        &mut self,
        ms_id: u8,
        body: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, EapFailure> {
        let (&size, rest) = body.split_first().ok_or(EapFailure::Malformed)?;
        if usize::from(size) != CHALLENGE_LEN || rest.len() < CHALLENGE_LEN {
            return Err(EapFailure::Malformed);
        }
        let auth_challenge: [u8; 16] = rest[..CHALLENGE_LEN].try_into().expect("length checked");
        let mut peer_challenge = [0u8; 16];
        rng.fill_bytes(&mut peer_challenge);
        let user = crypto::challenge_user_name(&self.name);
        let nt_response =
            crypto::nt_response(&auth_challenge, &peer_challenge, user, &self.password_hash);
        let auth_response = crypto::authenticator_response(
            &self.password_hash,
            &nt_response,
            &peer_challenge,
            &auth_challenge,
            user,
        );
        let msk = crypto::msk(&self.password_hash, &nt_response);
        self.state = PeerState::ExpectVerdict { auth_response, msk };

        let mut body = Vec::with_capacity(1 + RESPONSE_VALUE_LEN + self.name.len());
        body.push(RESPONSE_VALUE_LEN as u8);
        body.extend_from_slice(&peer_challenge);
        body.extend_from_slice(&[0; 8]); // Reserved
        body.extend_from_slice(&nt_response);
        body.push(0); // Flags
        body.extend_from_slice(&self.name);
        Ok(packet(RESPONSE, ms_id, &body))
    }
}

impl PeerMethod for MsChapV2Peer {
    fn handle(
        &mut self,
        _identifier: u8,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, EapFailure> {
        let (opcode, ms_id, body) = parse(data).ok_or(EapFailure::Malformed)?;
        match (&self.state, opcode) {
            (PeerState::ExpectChallenge, CHALLENGE) => self.answer_challenge(ms_id, body, rng),
            (PeerState::ExpectVerdict { auth_response, .. }, SUCCESS) => {
                let claimed = field(body, b"S=").and_then(parse_auth_string);
                let proved = claimed.is_some_and(|c| bool::from(c.as_slice().ct_eq(auth_response)));
                if !proved {
                    return Err(EapFailure::ServerNotAuthenticated);
                }
                if let PeerState::ExpectVerdict { msk, .. } =
                    core::mem::replace(&mut self.state, PeerState::Done { msk: None })
                {
                    self.state = PeerState::Done { msk: Some(msk) };
                }
                Ok(vec![SUCCESS])
            }
            (PeerState::ExpectVerdict { .. }, FAILURE) => {
                // RFC 2759 §6: R=1 would allow a retry with another password; we have one
                // password, so we acknowledge and end (the Failure Response of draft-kamath).
                self.state = PeerState::Rejected { code: failure_code(body) };
                Ok(vec![FAILURE])
            }
            _ => Err(EapFailure::Malformed),
        }
    }

    fn finish(&mut self) -> Option<Finished> {
        match &mut self.state {
            PeerState::Done { msk } => Some(Finished { msk: msk.take() }),
            _ => None,
        }
    }

    fn failure(&self) -> EapFailure {
        match self.state {
            PeerState::Rejected { code } => EapFailure::MsChapV2Rejected { code },
            _ => EapFailure::Rejected,
        }
    }
}

enum ServerState {
    /// `start` not called.
    Idle,
    ExpectResponse {
        ms_id: u8,
        challenge: [u8; 16],
    },
    /// We sent Success; the peer's acknowledgement releases the MSK.
    ExpectSuccessAck {
        msk: SecretBytes,
    },
    /// We sent the Failure packet: the outcome is decided, whatever the peer answers.
    ExpectFailureAck,
}

/// The authenticator: checks the NT-Response, proves itself with `S=`.
pub(crate) struct MsChapV2Server {
    /// `None` for an unknown user (or a password that is not UTF-8): replaced in `start` by a
    /// random hash, so the exchange and the work are those of a wrong password.
    password_hash: Option<Hash16>,
    state: ServerState,
}

impl core::fmt::Debug for MsChapV2Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MsChapV2Server").finish_non_exhaustive()
    }
}

impl MsChapV2Server {
    pub(crate) fn new(password: Option<SecretBytes>) -> Self {
        let password_hash = password.and_then(|p| crypto::nt_password_hash(p.expose()));
        Self { password_hash, state: ServerState::Idle }
    }

    fn check_response(
        &mut self,
        ms_id: u8,
        challenge: [u8; 16],
        body: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> ServerStep {
        let Some((&size, rest)) = body.split_first() else {
            return ServerStep::Failure(EapFailure::Malformed);
        };
        if usize::from(size) != RESPONSE_VALUE_LEN || rest.len() < RESPONSE_VALUE_LEN {
            return ServerStep::Failure(EapFailure::Malformed);
        }
        let peer_challenge: [u8; 16] = rest[..16].try_into().expect("length checked");
        let nt_response: [u8; 24] = rest[24..48].try_into().expect("length checked");
        let name = &rest[RESPONSE_VALUE_LEN..];
        let user = crypto::challenge_user_name(name);
        let Some(password_hash) = &self.password_hash else {
            return ServerStep::Failure(EapFailure::Malformed);
        };
        let expected = crypto::nt_response(&challenge, &peer_challenge, user, password_hash);
        // The next challenge is drawn either way, so both outcomes take the same randomness.
        let mut next_challenge = [0u8; 16];
        rng.fill_bytes(&mut next_challenge);
        if bool::from(expected.ct_eq(&nt_response)) {
            let auth = crypto::authenticator_response(
                password_hash,
                &nt_response,
                &peer_challenge,
                &challenge,
                user,
            );
            let msk = crypto::msk(password_hash, &nt_response);
            self.state = ServerState::ExpectSuccessAck { msk };
            let message = format!("S={} M=Welcome", hex_upper(&auth));
            ServerStep::Request(packet(SUCCESS, ms_id, message.as_bytes()))
        } else {
            self.state = ServerState::ExpectFailureAck;
            let message = format!(
                "E={WRONG_PASSWORD} R=0 C={} V=3 M=Authentication failed",
                hex_upper(&next_challenge)
            );
            ServerStep::Request(packet(FAILURE, ms_id, message.as_bytes()))
        }
    }
}

impl ServerMethod for MsChapV2Server {
    fn start(&mut self, identifier: u8, rng: &mut dyn CryptoRng) -> Vec<u8> {
        let mut challenge = [0u8; 16];
        rng.fill_bytes(&mut challenge);
        // Drawn for every user, so a known and an unknown one consume the same randomness.
        let mut dummy = Zeroizing::new([0u8; 16]);
        rng.fill_bytes(dummy.as_mut_slice());
        if self.password_hash.is_none() {
            self.password_hash = Some(dummy);
        }
        // draft-kamath: MS-CHAPv2-ID is echoed by the peer; the EAP identifier is a fine value.
        self.state = ServerState::ExpectResponse { ms_id: identifier, challenge };
        let mut body = Vec::with_capacity(1 + CHALLENGE_LEN + SERVER_NAME.len());
        body.push(CHALLENGE_LEN as u8);
        body.extend_from_slice(&challenge);
        body.extend_from_slice(SERVER_NAME);
        packet(CHALLENGE, identifier, &body)
    }

    fn handle(&mut self, _identifier: u8, data: &[u8], rng: &mut dyn CryptoRng) -> ServerStep {
        let Some(&opcode) = data.first() else {
            return ServerStep::Failure(EapFailure::Malformed);
        };
        match core::mem::replace(&mut self.state, ServerState::ExpectFailureAck) {
            ServerState::ExpectResponse { ms_id, challenge } => match parse(data) {
                Some((RESPONSE, id, body)) if id == ms_id => {
                    self.check_response(ms_id, challenge, body, rng)
                }
                _ => ServerStep::Failure(EapFailure::Malformed),
            },
            ServerState::ExpectSuccessAck { msk } if opcode == SUCCESS => {
                ServerStep::Success { msk: Some(msk) }
            }
            ServerState::ExpectSuccessAck { .. } => ServerStep::Failure(EapFailure::Malformed),
            ServerState::ExpectFailureAck => ServerStep::Failure(EapFailure::Rejected),
            ServerState::Idle => ServerStep::Failure(EapFailure::Malformed),
        }
    }
}
