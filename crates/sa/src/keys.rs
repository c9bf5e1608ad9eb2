//! Keys of an established IKE SA, the octets AUTH covers and the PSK AUTH computation
//! (RFC 7296 §2.14, §2.15).

use ikeway_codec::smallvec::SmallVec;
use ikeway_codec::{EmitError, IdRepr};
use ikeway_crypto::keys::{self, IkeKeyLengths, IkeSaKeys};
use ikeway_crypto::{AeadKeying, CryptoError, PrfOutput, Protector, SecretBytes};

use crate::Side;
use crate::proposal::IkeSuite;
use crate::psk::PresharedKey;

/// The keyed state of an IKE SA: the seven keys, from which each direction's protector is
/// keyed per message ([`IkeCrypto::outbound`], [`IkeCrypto::inbound`]). Keeping expanded
/// contexts instead cost 1.2 KB per SA with AES-256-GCM (two 624-byte key schedules), for
/// messages that come seconds or minutes apart. Everything secret is wiped on drop.
#[derive(Debug)]
pub(crate) struct IkeCrypto {
    pub(crate) suite: IkeSuite,
    pub(crate) keys: IkeSaKeys,
    /// Our role in the SA these keys belong to: SK_ei/SK_ai protect what the initiator sends.
    side: Side,
    /// `IntAuth_iN | IntAuth_rN | IKE_AUTH_MID` after IKE_INTERMEDIATE exchanges (RFC 9242
    /// §3.3.2), appended to what every AUTH covers; empty without them.
    pub(crate) int_auth: Vec<u8>,
}

/// SK_d, SK_pi and SK_pr as they were before a PPK was mixed in, kept by an initiator until
/// the responder says whether it used the PPK (RFC 8784 §3). Wiped on drop.
#[derive(Debug)]
pub(crate) struct UnmixedKeys {
    sk_d: SecretBytes,
    sk_pi: SecretBytes,
    sk_pr: SecretBytes,
}

impl IkeCrypto {
    /// Derives the seven keys from SKEYSEED and keys both directions for `side`.
    ///
    /// Boxed: the seven keys are held inline (`SecretBytes`, 72 bytes each), and an IKE SA
    /// keeps this behind a pointer so that the SA itself stays small; a responder's slab holds
    /// 64 SAs inline per chunk, and past 128 KiB a chunk is an `mmap` of its own.
    pub(crate) fn derive(
        side: Side,
        suite: IkeSuite,
        skeyseed: &SecretBytes,
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<Box<Self>, CryptoError> {
        let lengths = IkeKeyLengths {
            integrity: suite.suite.integrity_key_len(),
            encryption: suite.suite.encryption_key_len(),
        };
        // Checked here so that a suite the backend cannot key fails the derivation, not a
        // message; without keying it (an AES key schedule and an allocation per side and
        // handshake). The keys below have the suite's lengths, so nothing else can refuse them.
        suite.suite.check(suite.suite.fastest_backend(AeadKeying::PerMessage))?;
        let keys =
            keys::derive_ike_keys(suite.prf, skeyseed.expose(), ni, nr, spi_i, spi_r, lengths)?;
        let crypto = Box::new(Self { suite, keys, side, int_auth: Vec::new() });
        Ok(crypto)
    }

    /// What protects the messages we send, keyed for this message.
    pub(crate) fn outbound(&self) -> Result<Protector, CryptoError> {
        self.protector(self.side)
    }

    /// What protects the messages the peer sends, keyed for this message.
    pub(crate) fn inbound(&self) -> Result<Protector, CryptoError> {
        self.protector(match self.side {
            Side::Initiator => Side::Responder,
            Side::Responder => Side::Initiator,
        })
    }

    /// The protector of `sender`'s messages: its SK_e and SK_a, on the AEAD backend measured
    /// faster keyed per message (`Suite::fastest_backend`). The context is
    /// dropped (and wiped) with the message it served.
    fn protector(&self, sender: Side) -> Result<Protector, CryptoError> {
        let (encryption, integrity) = match sender {
            Side::Initiator => (&self.keys.sk_ei, &self.keys.sk_ai),
            Side::Responder => (&self.keys.sk_er, &self.keys.sk_ar),
        };
        let suite = &self.suite.suite;
        suite.key(
            suite.fastest_backend(AeadKeying::PerMessage),
            encryption.expose(),
            integrity.expose(),
        )
    }

    /// RFC 8784 §3: replaces SK_d, SK_pi and SK_pr by their mix with `ppk`
    /// (`SK' = prf+(PPK, SK)`) and returns the keys it replaced, for [`IkeCrypto::unmix_ppk`].
    /// The encryption and integrity keys stay as they are.
    pub(crate) fn mix_ppk(&mut self, ppk: &SecretBytes) -> Result<UnmixedKeys, CryptoError> {
        let prf = self.suite.prf;
        let mut mixed = UnmixedKeys {
            sk_d: keys::ppk_mix(prf, ppk.expose(), self.keys.sk_d.expose())?,
            sk_pi: keys::ppk_mix(prf, ppk.expose(), self.keys.sk_pi.expose())?,
            sk_pr: keys::ppk_mix(prf, ppk.expose(), self.keys.sk_pr.expose())?,
        };
        self.swap_ppk_keys(&mut mixed);
        Ok(mixed)
    }

    /// Puts back the keys [`IkeCrypto::mix_ppk`] replaced: the peer did not use the PPK.
    pub(crate) fn unmix_ppk(&mut self, mut unmixed: UnmixedKeys) {
        self.swap_ppk_keys(&mut unmixed);
    }

    fn swap_ppk_keys(&mut self, other: &mut UnmixedKeys) {
        std::mem::swap(&mut self.keys.sk_d, &mut other.sk_d);
        std::mem::swap(&mut self.keys.sk_pi, &mut other.sk_pi);
        std::mem::swap(&mut self.keys.sk_pr, &mut other.sk_pr);
    }

    /// SK_p of the sender of an AUTH payload (SK_pi for the initiator's).
    pub(crate) fn sk_p(&self, signer: Side) -> &SecretBytes {
        match signer {
            Side::Initiator => &self.keys.sk_pi,
            Side::Responder => &self.keys.sk_pr,
        }
    }

    /// What an AUTH payload of `signer` covers (RFC 7296 §2.15):
    /// `RealMessage | Nonce of the peer | prf(SK_p, ID body)`, then after IKE_INTERMEDIATE
    /// exchanges `| IntAuth_iN | IntAuth_rN | IKE_AUTH_MID` (RFC 9242 §3.3.2). A PSK MACs these
    /// octets, a signature signs them, EAP's final AUTHs MAC them: every way of authenticating
    /// starts here.
    pub(crate) fn signed_octets<'a>(
        &'a self,
        signer: Side,
        real_message: &'a [u8],
        peer_nonce: &'a [u8],
        id: &IdRepr,
    ) -> Result<SignedOctets<'a>, EmitError> {
        // An ID body of up to 128 octets (a name, an address, a key ID) is emitted on the stack.
        let mut id_body = SmallVec::<[u8; 128]>::from_elem(0, id.buffer_len());
        id.emit(&mut id_body)?;
        let maced_id = self.suite.prf.compute_inline(self.sk_p(signer).expose(), &[&id_body]);
        Ok(SignedOctets { real_message, peer_nonce, maced_id, int_auth: &self.int_auth })
    }

    /// The PSK AUTH value over `octets` (RFC 7296 §2.15):
    /// `prf(prf(PSK, "Key Pad for IKEv2"), octets)`, the inner PRF kept with the PSK.
    pub(crate) fn psk_auth(&self, psk: &PresharedKey, octets: &SignedOctets<'_>) -> PrfOutput {
        psk.padded(self.suite.prf).compute_inline(&octets.parts())
    }

    /// The same MIC keyed by a key used once or twice (EAP's MSK, or SK_p when the method made
    /// none: RFC 7296 §2.16), so computed from the key each time.
    pub(crate) fn shared_key_mic(&self, key: &SecretBytes, octets: &SignedOctets<'_>) -> PrfOutput {
        crate::psk::padded(self.suite.prf, key.expose()).compute_inline(&octets.parts())
    }
}

/// The octets an AUTH payload covers ([`IkeCrypto::signed_octets`]), kept as their parts:
/// the MACs (PSK, EAP's final AUTH) read them where they are, and only a signature, which
/// wants them in one piece, has them copied ([`SignedOctets::to_vec`]). The IKE_SA_INIT message
/// among them is hundreds of octets, and a handshake computes four of these.
#[derive(Debug)]
pub(crate) struct SignedOctets<'a> {
    real_message: &'a [u8],
    peer_nonce: &'a [u8],
    /// prf(SK_p, ID body).
    maced_id: PrfOutput,
    int_auth: &'a [u8],
}

impl SignedOctets<'_> {
    /// The parts in order; their concatenation is what is signed or MACed.
    pub(crate) fn parts(&self) -> [&[u8]; 4] {
        [self.real_message, self.peer_nonce, self.maced_id.expose(), self.int_auth]
    }

    /// The octets in one piece, for a signature.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        self.parts().concat()
    }
}

#[cfg(test)]
mod tests {
    use ikeway_codec::DhGroup;
    use ikeway_crypto::{AeadAlgorithm, Encryption, Prf, Suite};

    use super::*;

    /// AES-256-GCM-16 under `prf`, X25519: what the tests below key an SA with.
    fn aes256_gcm_suite(prf: Prf) -> IkeSuite {
        IkeSuite {
            suite: Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap(),
            prf,
            group: DhGroup::CURVE25519,
            additional_kes: [DhGroup::NONE; 7],
        }
    }

    /// RFC 7296 §2.15: `RealMessage | Nonce | prf(SK_p, ID body)`, then RFC 9242's IntAuth
    /// octets; the ID body (type, three reserved octets, data) emitted the codec's way, short or
    /// longer than the 128 octets kept on the stack.
    #[test]
    fn signed_octets_are_message_nonce_maced_id_and_int_auth() {
        use ikeway_codec::IdValue;
        let suite = aes256_gcm_suite(Prf::HmacSha256);
        let seed = SecretBytes::from_slice(&[3; 32]);
        let mut crypto =
            IkeCrypto::derive(Side::Responder, suite, &seed, b"ni", b"nr", 5, 6).unwrap();
        crypto.int_auth = b"IntAuth_i | IntAuth_r | MID".to_vec();
        let long_dn = [0x30; 300];
        for (id, body) in [
            (IdRepr::from_value(IdValue::Fqdn("vpn.example")), [&[2, 0, 0, 0][..], b"vpn.example"]),
            (IdRepr::from_value(IdValue::DerAsn1Dn(&long_dn)), [&[9, 0, 0, 0][..], &long_dn[..]]),
        ] {
            for signer in [Side::Initiator, Side::Responder] {
                let octets = crypto.signed_octets(signer, b"IKE_SA_INIT", b"nonce", &id).unwrap();
                let maced = Prf::HmacSha256.compute(crypto.sk_p(signer).expose(), &body);
                let expected =
                    [&b"IKE_SA_INIT"[..], b"nonce", maced.expose(), &crypto.int_auth].concat();
                assert_eq!(octets.to_vec(), expected);
                assert_eq!(octets.parts().concat(), expected);
            }
        }
    }

    /// RFC 8784 §3 inside an IKE SA: SK_d, SK_pi, SK_pr become `prf+(PPK, SK)`, the other keys
    /// stay, and unmixing gives the keys back as they were.
    #[test]
    fn mix_ppk_replaces_sk_d_sk_pi_sk_pr_and_unmix_restores_them() {
        let suite = aes256_gcm_suite(Prf::HmacSha384);
        let seed = SecretBytes::from_slice(&[7; 48]);
        let mut crypto =
            IkeCrypto::derive(Side::Initiator, suite, &seed, b"ni", b"nr", 1, 2).unwrap();
        let before = crypto.keys.clone();
        let ppk = SecretBytes::from_slice(b"a post-quantum preshared key");
        let unmixed = crypto.mix_ppk(&ppk).unwrap();
        let mixed = |k: &SecretBytes| keys::ppk_mix(Prf::HmacSha384, ppk.expose(), k.expose());
        assert_eq!(crypto.keys.sk_d.expose(), mixed(&before.sk_d).unwrap().expose());
        assert_eq!(crypto.keys.sk_pi.expose(), mixed(&before.sk_pi).unwrap().expose());
        assert_eq!(crypto.keys.sk_pr.expose(), mixed(&before.sk_pr).unwrap().expose());
        assert_eq!(crypto.keys.sk_d.len(), 48);
        assert_eq!(crypto.keys.sk_ei.expose(), before.sk_ei.expose());
        assert_eq!(crypto.keys.sk_er.expose(), before.sk_er.expose());
        crypto.unmix_ppk(unmixed);
        for (now, then) in [
            (&crypto.keys.sk_d, &before.sk_d),
            (&crypto.keys.sk_pi, &before.sk_pi),
            (&crypto.keys.sk_pr, &before.sk_pr),
        ] {
            assert_eq!(now.expose(), then.expose());
        }
    }
}
