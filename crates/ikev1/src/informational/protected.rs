//! The messages an ISAKMP SA protects after phase 1 (quick mode, transaction, informational):
//! encrypted under the phase 1 key with the exchange's own IV chain (RFC 2409 Appendix B),
//! each opened by a HASH payload over what follows it (§5.5, §5.7).
//!
//! Receiving: the ciphertext is decrypted, the chain parsed, and the exchange's handler
//! checks the HASH before anything else; only then does the IV chain move
//! ([`Received::accept`]), so a forged datagram neither changes state nor desynchronises
//! the chain. Sending: the payloads after the HASH are encoded once, hashed, and sent behind
//! their HASH.

use std::time::Instant;

use ikeway_crypto::{Prf, SecretBytes};
use ikeway_isakmp::{
    ExchangeType, HEADER_LEN, HashRepr, HeaderRepr, Payload, PayloadType, chain_to_vec, parse_chain,
};

use crate::engine::Ikev1Sa;
use crate::quick::hash::HashKey;

/// A decrypted message whose chain opens with a HASH; not yet authenticated.
#[derive(Debug)]
pub(crate) struct Received {
    pub exchange: ExchangeType,
    pub message_id: u32,
    /// The HASH payload's data.
    pub hash: Vec<u8>,
    /// The octets after the HASH payload, up to the end of the chain (padding excluded):
    /// what HASH(1), HASH(2) and the informational HASH cover.
    pub rest: Vec<u8>,
    /// The payloads after the HASH.
    pub payloads: Vec<Payload>,
    /// The ciphertext as received, to recognise a retransmission of it.
    pub ciphertext: Vec<u8>,
    /// The IV chain's next value, committed by [`Received::accept`].
    next_iv: Vec<u8>,
}

/// Why a protected message was dropped before any handler saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// No keys yet, or not a whole number of blocks.
    NotDecryptable,
    /// The plaintext is no payload chain, or it does not start with a HASH.
    Malformed,
}

/// Payloads of one message we send after phase 1: [`HashKey`] input and the chain after it.
impl Ikev1Sa {
    /// `SKEYID_a` and the PRF of this ISAKMP SA, if phase 1 has keyed it.
    pub(crate) fn hash_key(&self) -> Option<(Prf, SecretBytes)> {
        let keys = self.keys.as_ref()?;
        Some((keys.hash.prf(), keys.skeyid_a.clone()))
    }

    /// Decrypts and parses a protected message of exchange `header.exchange`.
    pub(crate) fn open_protected(
        &mut self,
        header: &HeaderRepr,
        ciphertext: &[u8],
    ) -> Result<Received, OpenFailure> {
        let crypt = self.crypt.as_mut().ok_or(OpenFailure::NotDecryptable)?;
        let (plain, next_iv) =
            crypt.open(header.message_id, ciphertext).map_err(|_| OpenFailure::NotDecryptable)?;
        if header.next_payload != PayloadType::HASH {
            return Err(OpenFailure::Malformed);
        }
        let chain = parse_chain(PayloadType::HASH, &plain).map_err(|_| OpenFailure::Malformed)?;
        let (Some(Payload::Hash(hash)), Some(span)) = (chain.payloads.first(), chain.spans.first())
        else {
            return Err(OpenFailure::Malformed);
        };
        let hash = hash.data.clone();
        let rest = plain[span.end..chain.used].to_vec();
        let mut payloads = chain.payloads;
        payloads.remove(0);
        Ok(Received {
            exchange: header.exchange,
            message_id: header.message_id,
            hash,
            rest,
            payloads,
            ciphertext: ciphertext.to_vec(),
            next_iv,
        })
    }

    /// The message checked out: its exchange's IV chain moves on (before any answer is
    /// sealed, which continues the chain).
    pub(crate) fn accept(&mut self, received: &Received, now: Instant) {
        if let Some(crypt) = self.crypt.as_mut() {
            crypt.commit(received.message_id, received.next_iv.clone());
        }
        self.informational.dpd_heard(now);
    }

    /// Encodes `rest`, puts a HASH computed over it by `hash` in front, encrypts the body
    /// for exchange `message_id` and returns the datagram (not yet queued).
    pub(crate) fn seal_protected(
        &mut self,
        exchange: ExchangeType,
        message_id: u32,
        rest: Vec<Payload>,
        hash: impl FnOnce(&HashKey<'_>, &[u8]) -> SecretBytes,
    ) -> Option<Vec<u8>> {
        let (prf, skeyid_a) = self.hash_key()?;
        let rest_bytes = chain_to_vec(&rest).ok()?;
        let digest = hash(&HashKey { prf, skeyid_a: skeyid_a.expose() }, &rest_bytes);
        let mut payloads = Vec::with_capacity(rest.len() + 1);
        payloads.push(Payload::Hash(HashRepr { data: digest.expose().to_vec() }));
        payloads.extend(rest);
        let body = chain_to_vec(&payloads).ok()?;
        let ciphertext = self.crypt.as_mut()?.seal(message_id, &body).ok()?;
        let mut header = HeaderRepr::new(
            self.cky_i.to_be_bytes(),
            self.cky_r.to_be_bytes(),
            exchange,
            message_id,
        );
        header.next_payload = PayloadType::HASH;
        header.flags.encryption = true;
        header.length = u32::try_from(HEADER_LEN + ciphertext.len()).ok()?;
        let mut datagram = vec![0u8; HEADER_LEN + ciphertext.len()];
        header.emit(&mut datagram).ok()?;
        datagram[HEADER_LEN..].copy_from_slice(&ciphertext);
        Some(datagram)
    }

    /// The cookies as the 16-octet SPI of this ISAKMP SA (RFC 2408 §2.4).
    pub(crate) fn cookies_spi(&self) -> [u8; 16] {
        let mut spi = [0u8; 16];
        spi[..8].copy_from_slice(&self.cky_i.to_be_bytes());
        spi[8..].copy_from_slice(&self.cky_r.to_be_bytes());
        spi
    }

    /// A fresh message ID for an exchange we start: random, never zero (RFC 2408 §3.1), and
    /// not one of an exchange in flight.
    pub(crate) fn new_message_id(&mut self) -> u32 {
        use rand_core::RngCore;
        loop {
            let id = self.rng.next_u32();
            if id != 0 && !self.message_id_in_use(id) {
                return id;
            }
        }
    }

    fn message_id_in_use(&self, id: u32) -> bool {
        self.quick.uses(id) || self.transaction.uses(id)
    }
}

#[cfg(feature = "fuzzing")]
impl Ikev1Sa {
    /// Fuzzing only: a message of exchange `exchange` and message ID `message_id` from this
    /// SA to its peer whose plaintext is a HASH payload (`prf(SKEYID_a, M-ID | rest)`, the
    /// HASH(1) form) with Next Payload `first`, then `rest` exactly as given, encrypted under
    /// this SA's IV chain. The peer shares the keys, so the fuzzer's payloads get past the
    /// HASH check into quick mode, transaction and informational handling.
    pub fn seal_for_fuzzing(
        &mut self,
        exchange: u8,
        message_id: u32,
        first: u8,
        rest: &[u8],
    ) -> Option<Vec<u8>> {
        let (prf, skeyid_a) = self.hash_key()?;
        let digest = HashKey { prf, skeyid_a: skeyid_a.expose() }.message(message_id, rest);
        let hash_len = u16::try_from(4 + digest.len()).ok()?;
        let mut body = Vec::with_capacity(usize::from(hash_len) + rest.len());
        body.extend_from_slice(&[first, 0]);
        body.extend_from_slice(&hash_len.to_be_bytes());
        body.extend_from_slice(digest.expose());
        body.extend_from_slice(rest);
        let ciphertext = self.crypt.as_mut()?.seal(message_id, &body).ok()?;
        let mut header = HeaderRepr::new(
            self.cky_i.to_be_bytes(),
            self.cky_r.to_be_bytes(),
            ExchangeType(exchange),
            message_id,
        );
        header.next_payload = PayloadType::HASH;
        header.flags.encryption = true;
        header.length = u32::try_from(HEADER_LEN + ciphertext.len()).ok()?;
        let mut datagram = vec![0u8; HEADER_LEN + ciphertext.len()];
        header.emit(&mut datagram).ok()?;
        datagram[HEADER_LEN..].copy_from_slice(&ciphertext);
        Some(datagram)
    }
}
