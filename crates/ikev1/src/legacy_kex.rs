//! MODP-1024 (IKE group 2, RFC 2409 §6.2) for IKEv1 configurations that name it, beside the
//! runtime's key-exchange provider.
//!
//! The shared provider (`ikeway_sa::DefaultKex`) serves IKEv2 too and never has group 2:
//! `ikeway_crypto::KexGroup::from_iana_id` leaves it out, so IKEv2 cannot offer or accept it.
//! Old IKEv1 gateways may know nothing stronger, so an IKEv1 SA whose configuration names group
//! 2 (a phase 1 proposal or the quick mode PFS group) gets it here; one that does not name it
//! keeps the provider as given, so a peer cannot talk our gateway's PFS down to group 2.

use std::sync::Arc;

use ikeway_codec::DhGroup;
use ikeway_crypto::{KexBackend, KexGroup, KeyExchange, SecretBytes};
use ikeway_sa::{ActiveKeyExchange, KexError, KeyExchangeProvider, Random};

use crate::Config;

/// IKE group 2.
const MODP_1024: DhGroup = DhGroup(2);

/// `kex`, with MODP-1024 added when `config` names group 2.
pub(crate) fn for_config(
    config: &Config,
    kex: Arc<dyn KeyExchangeProvider>,
) -> Arc<dyn KeyExchangeProvider> {
    let named = config.proposals.iter().any(|p| p.group == MODP_1024)
        || config.quick.pfs == Some(MODP_1024);
    if named && !kex.supports(MODP_1024) { Arc::new(WithModp1024(kex)) } else { kex }
}

/// A provider plus MODP-1024.
#[derive(Debug)]
struct WithModp1024(Arc<dyn KeyExchangeProvider>);

impl KeyExchangeProvider for WithModp1024 {
    fn supports(&self, group: DhGroup) -> bool {
        group == MODP_1024 || self.0.supports(group)
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        if group != MODP_1024 {
            return self.0.start(group, rng);
        }
        let modp = KexGroup::from_ikev1_id(group.0).ok_or(KexError::UnsupportedGroup(group))?;
        let mut fill = |buf: &mut [u8]| rng.fill(buf);
        let kex = KeyExchange::generate(modp, KexBackend::default(), &mut fill)
            .map_err(|_| KexError::UnsupportedGroup(group))?;
        Ok(Box::new(Modp1024Active(kex)))
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        if group != MODP_1024 {
            return self.0.respond(group, peer_public, rng);
        }
        let ours = self.start(group, rng)?;
        let shared = ours.complete(peer_public)?;
        Ok((ours.public_value().to_vec(), shared))
    }
}

#[derive(Debug)]
struct Modp1024Active(KeyExchange);

impl ActiveKeyExchange for Modp1024Active {
    fn group(&self) -> DhGroup {
        MODP_1024
    }

    fn public_value(&self) -> &[u8] {
        self.0.public_value()
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        // Length and 1 < y < p - 1 (RFC 6989) are checked by ikeway-crypto.
        self.0.shared_secret(peer_public).map_err(|_| KexError::InvalidPublicValue)
    }
}
