//! Responder cookies (RFC 7296 §2.6): stateless proof that an initiator receives at the
//! address it claims, from a secret that is replaced every period. Cookies made with the
//! previous secret stay valid for one more period, so a rotation never fails an initiator
//! that is just returning its cookie.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ikeway_crypto::Prf;
use rand_core::RngCore;
#[cfg(test)]
use rand_core::SeedableRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The version byte plus 16 bytes of HMAC-SHA-256.
const COOKIE_LEN: usize = 17;

/// What a presented cookie proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Valid,
    /// None presented: ask for one.
    Missing,
    /// Presented but made by neither the current nor the previous secret (or for another
    /// initiator): ask for a fresh one.
    Invalid,
}

struct Secret {
    version: u8,
    key: Zeroizing<[u8; 32]>,
}

/// The current and previous cookie secrets, wiped on drop and never printed.
pub(crate) struct CookieSecrets {
    current: Secret,
    previous: Option<Secret>,
    /// When `current` took over; set by the first call to [`CookieSecrets::rotate`].
    since: Option<Instant>,
    period: Duration,
}

/// Whoever learns a key can forge cookies: it is shown redacted.
impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieSecret(redacted)")
    }
}

impl core::fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieSecrets")
            .field("version", &self.current.version)
            .field("current", &self.current)
            .field("previous", &self.previous)
            .field("since", &self.since)
            .field("period", &self.period)
            .finish()
    }
}

fn fresh(rng: &mut impl RngCore, version: u8) -> Secret {
    let mut key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(key.as_mut());
    Secret { version, key }
}

impl CookieSecrets {
    pub(crate) fn new(rng: &mut impl RngCore, period: Duration) -> Self {
        Self { current: fresh(rng, 0), previous: None, since: None, period }
    }

    /// Replaces the secret once its period is over; the one it replaces stays acceptable
    /// until the next replacement.
    pub(crate) fn rotate(&mut self, now: Instant, rng: &mut impl RngCore) {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) < self.period {
            return;
        }
        let next = fresh(rng, self.current.version.wrapping_add(1));
        self.previous = Some(std::mem::replace(&mut self.current, next));
        self.since = Some(now);
    }

    #[cfg(test)]
    pub(crate) fn current_key(&self) -> [u8; 32] {
        *self.current.key
    }

    /// `Cookie = <VersionIDofSecret> | HMAC-SHA256(Secret, Ni | IPi | SPIi)[..16]` (§2.6).
    pub(crate) fn make(&self, ni: &[u8], initiator: SocketAddr, spi_i: u64) -> [u8; COOKIE_LEN] {
        mac(&self.current, ni, initiator.ip(), spi_i)
    }

    pub(crate) fn check(
        &self,
        presented: Option<&[u8]>,
        ni: &[u8],
        initiator: SocketAddr,
        spi_i: u64,
    ) -> Verdict {
        let Some(presented) = presented else { return Verdict::Missing };
        let Some(&version) = presented.first() else { return Verdict::Invalid };
        let secret = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.version == version);
        let Some(secret) = secret else { return Verdict::Invalid };
        let expected = mac(secret, ni, initiator.ip(), spi_i);
        if presented.len() == expected.len() && bool::from(presented.ct_eq(&expected)) {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

/// Computed for every IKE_SA_INIT of a flood, so on the stack: no heap allocation.
fn mac(secret: &Secret, ni: &[u8], ip: IpAddr, spi_i: u64) -> [u8; COOKIE_LEN] {
    let (v4, v6);
    let ip: &[u8] = match ip {
        IpAddr::V4(a) => {
            v4 = a.octets();
            &v4
        }
        IpAddr::V6(a) => {
            v6 = a.octets();
            &v6
        }
    };
    let mut cookie = [0u8; COOKIE_LEN];
    cookie[0] = secret.version;
    Prf::HmacSha256.compute_into(
        secret.key.as_ref(),
        &[ni, ip, &spi_i.to_be_bytes()],
        &mut cookie[1..],
    );
    cookie
}

/// What the cookie check needs of an IKE_SA_INIT request: the COOKIE notify's data, if any,
/// and the nonce (empty without one), found by walking the generic payload headers alone.
/// Under a flood most requests stop at the cookie, so no payload body is decoded for them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InitCookieFields<'a> {
    pub(crate) cookie: Option<&'a [u8]>,
    pub(crate) nonce: &'a [u8],
}

/// The payload chain of `message` (a whole IKE message whose header parsed) must end exactly
/// where the header's Length says and the message does; a chain that does not is malformed,
/// as [`ikeway_codec::MessageRepr::parse`] would find. The framing is the decoder's own
/// (`check_message_length`, `Reader::payload_header`); only the bodies are left undecoded.
pub(crate) fn init_cookie_fields(message: &[u8]) -> Option<InitCookieFields<'_>> {
    use ikeway_codec::wire::Reader;
    use ikeway_codec::{HEADER_LEN, HeaderRepr, Ikev2, NotifyType, PayloadType};
    let header = HeaderRepr::parse(message).ok()?;
    ikeway_codec::header::Packet::new_unchecked(message).check_message_length().ok()?;
    let mut fields = InitCookieFields { cookie: None, nonce: &[] };
    let mut chain = Reader::<Ikev2>::with_base(&message[HEADER_LEN..], HEADER_LEN);
    let mut kind = header.next_payload;
    while kind != PayloadType::NONE {
        let payload = chain.payload_header(kind).ok()?;
        let body = payload.body.peek_rest();
        if kind == PayloadType::NONCE && fields.nonce.is_empty() {
            fields.nonce = body;
        }
        // Notify body: protocol, SPI size, type, SPI, data (RFC 7296 §3.10).
        if kind == PayloadType::NOTIFY && fields.cookie.is_none() && body.len() >= 4 {
            let notify = NotifyType(u16::from_be_bytes([body[2], body[3]]));
            if notify == NotifyType::COOKIE {
                fields.cookie = Some(body.get(4 + usize::from(body[1])..)?);
            }
        }
        kind = payload.next;
    }
    chain.is_empty().then_some(fields)
}

#[cfg(test)]
mod tests {
    use ikeway_codec::{
        ExchangeType, Flags, HeaderRepr, MessageRepr, NonceRepr, NotifyRepr, NotifyType, Payload,
        PayloadRepr, PayloadType,
    };

    use super::*;

    fn init_request(payloads: Vec<Payload>) -> Vec<u8> {
        let header = HeaderRepr {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags { initiator: true, ..Flags::default() },
            message_id: 0,
            length: 0,
        };
        MessageRepr { header, payloads }.to_vec().unwrap()
    }

    fn notify(kind: NotifyType, data: &[u8]) -> Payload {
        Payload::new(PayloadRepr::Notify(NotifyRepr::new(kind, data.to_vec())))
    }

    fn nonce(data: &[u8]) -> Payload {
        Payload::new(PayloadRepr::Nonce(NonceRepr { data: data.into() }))
    }

    /// The walk over generic headers finds what decoding the whole message finds: the COOKIE
    /// notify's data and the nonce, after other notifies; nothing where there is none.
    #[test]
    fn cookie_fields_are_found_without_decoding_bodies() {
        let with = init_request(vec![
            notify(NotifyType::COOKIE, b"\x00sixteen bytes..."),
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, &[1; 20]),
            nonce(&[9; 32]),
            notify(NotifyType::COOKIE, b"a second cookie"),
        ]);
        assert_eq!(
            init_cookie_fields(&with),
            Some(InitCookieFields { cookie: Some(b"\x00sixteen bytes..."), nonce: &[9; 32] })
        );
        let without = init_request(vec![
            nonce(&[5; 16]),
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, &[1; 20]),
        ]);
        assert_eq!(
            init_cookie_fields(&without),
            Some(InitCookieFields { cookie: None, nonce: &[5; 16] })
        );
        assert_eq!(
            init_cookie_fields(&init_request(Vec::new())),
            Some(InitCookieFields { cookie: None, nonce: &[] })
        );
    }

    /// What `MessageRepr::parse` refuses for its framing is refused here too: a chain cut
    /// short, bytes after the chain, a Length that is not the message's, a payload length
    /// under its header; so a malformed flood is dropped before any MAC is computed.
    #[test]
    fn malformed_framing_gives_no_fields() {
        let good = init_request(vec![notify(NotifyType::COOKIE, &[0; 17]), nonce(&[9; 32])]);
        let mut cut = good[..good.len() - 1].to_vec();
        let len = u32::try_from(cut.len()).unwrap().to_be_bytes();
        cut[24..28].copy_from_slice(&len);
        let mut trailing = good.clone();
        trailing.push(0);
        let len = u32::try_from(trailing.len()).unwrap().to_be_bytes();
        trailing[24..28].copy_from_slice(&len);
        let mut long_claim = good.clone();
        long_claim.push(0);
        let mut short_payload = good.clone();
        short_payload[28 + 2..28 + 4].copy_from_slice(&3u16.to_be_bytes());
        for (name, bytes) in [
            ("cut", cut),
            ("trailing", trailing),
            ("length not the message's", long_claim),
            ("payload length 3", short_payload),
        ] {
            assert!(MessageRepr::parse(&bytes).is_err(), "{name}: the decoder refuses it too");
            assert_eq!(init_cookie_fields(&bytes), None, "{name}");
        }
        assert!(init_cookie_fields(&good).is_some());
    }

    /// A cookie is the secret's version and 16 bytes of HMAC-SHA-256 over Ni | IPi | SPIi
    /// (RFC 7296 §2.6), checked against either secret and refused for another address.
    #[test]
    fn cookie_is_version_and_truncated_hmac() {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
        let secrets = CookieSecrets::new(&mut rng, Duration::from_secs(60));
        let from: SocketAddr = "192.0.2.7:500".parse().unwrap();
        let cookie = secrets.make(b"nonce", from, 42);
        let key = secrets.current_key();
        let mac = Prf::HmacSha256.compute(&key, &[b"nonce", &[192, 0, 2, 7], &42u64.to_be_bytes()]);
        assert_eq!(cookie[0], 0);
        assert_eq!(&cookie[1..], &mac.expose()[..16]);
        assert_eq!(secrets.check(Some(&cookie), b"nonce", from, 42), Verdict::Valid);
        let elsewhere: SocketAddr = "192.0.2.8:500".parse().unwrap();
        assert_eq!(secrets.check(Some(&cookie), b"nonce", elsewhere, 42), Verdict::Invalid);
    }
}
