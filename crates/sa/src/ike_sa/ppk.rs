//! Post-quantum preshared keys (RFC 8784): USE_PPK in IKE_SA_INIT, PPK_IDENTITY and
//! NO_PPK_AUTH in IKE_AUTH, SK_d/SK_pi/SK_pr mixed with the PPK.
//!
//! The mixing ([`crate::keys::IkeCrypto::mix_ppk`]) runs once, where the IKE_AUTH keys are
//! final: by the initiator just before it computes its AUTH, by the responder just before it
//! checks the initiator's, so any earlier key update (IKE_INTERMEDIATE) is already in.
//! Child SAs and IKE rekeys then derive from the mixed SK_d.
//!
//! Only a PSK or certificate first round takes a PPK here. With EAP (RFC 8784 §3 allows it:
//! the PPK then goes with the AUTH that ends EAP, as strongSwan does) or a second round
//! (RFC 4739) we neither send nor answer USE_PPK; a mandatory PPK there ends the handshake
//! with [`CloseReason::PpkUnavailableWithEap`] (initiator) or refuses the client
//! (responder, [`CloseReason::PpkNotSupportedByPeer`]).

use std::borrow::Cow;

use ikeway_codec::{AuthRepr, NotifyType, Payload, PayloadRepr};
use ikeway_crypto::SecretBytes;

use super::{IkeSa, find_notify, notify};
use crate::Side;
use crate::auth::{LocalAuth, PeerAuth};
use crate::event::CloseReason;
use crate::keys::UnmixedKeys;

/// PPK_ID types (RFC 8784 §5.1): an opaque identifier, or one that fixes the PPK (what
/// strongSwan sends and accepts).
const PPK_ID_OPAQUE: u8 = 1;
const PPK_ID_FIXED: u8 = 2;

/// One post-quantum preshared key and the PPK_ID that names it.
#[derive(Debug, Clone)]
pub struct Ppk {
    /// The identifier sent in PPK_IDENTITY (without its type octet).
    pub id: Vec<u8>,
    /// The key itself; wiped on drop, never logged.
    pub key: SecretBytes,
}

/// Our PPKs and whether one must be used (RFC 8784 §3).
#[derive(Debug, Clone)]
pub struct PpkConfig {
    /// An initiator uses the first; a responder accepts any of them by PPK_ID.
    pub keys: Vec<Ppk>,
    /// Without a PPK agreed with the peer, no IKE SA: an initiator sends no NO_PPK_AUTH and
    /// stops when the peer does not use the PPK; a responder refuses a client that does not.
    /// Otherwise both fall back to plain IKEv2 (the initiator offers NO_PPK_AUTH).
    pub mandatory: bool,
}

impl PpkConfig {
    /// One PPK named `id`.
    pub fn single(id: impl Into<Vec<u8>>, key: SecretBytes, mandatory: bool) -> Self {
        Self { keys: vec![Ppk { id: id.into(), key }], mandatory }
    }

    fn find(&self, id: &[u8]) -> Option<&Ppk> {
        self.keys.iter().find(|p| p.id == id)
    }
}

/// Where an IKE SA stands with its PPK.
#[derive(Debug, Default)]
pub(super) enum PpkState {
    /// Not configured, not announced by both, or given up for plain IKEv2.
    #[default]
    Off,
    /// USE_PPK went both ways in IKE_SA_INIT.
    Negotiated,
    /// Initiator: IKE_AUTH sent with the keys mixed; the unmixed ones wait for the answer
    /// (boxed: 72 bytes every IKE SA would carry for one exchange).
    Offered { id: Vec<u8>, unmixed: Box<UnmixedKeys> },
    /// The keys are mixed with the PPK named `id`, and both sides use them.
    Used { id: Vec<u8> },
}

impl IkeSa {
    /// The PPK configuration, when this SA's authentication can take a PPK (a PSK or
    /// certificate round, no RFC 4739 second round).
    fn ppk_config(&self) -> Option<&PpkConfig> {
        let config = &self.config;
        let ppk = config.ppk.as_ref()?;
        let fits = match self.side {
            Side::Initiator => {
                matches!(config.local_auth, LocalAuth::Psk(_) | LocalAuth::Certificate(_))
                    && config.local_auth2.is_none()
            }
            Side::Responder => {
                matches!(config.peer_auth, PeerAuth::Psk(_) | PeerAuth::Certificate(_))
                    && config.peer_auth2.is_none()
            }
        };
        fits.then_some(ppk)
    }

    /// Initiator, IKE_SA_INIT request: N(USE_PPK) when we have a PPK for this authentication.
    pub(super) fn use_ppk_request(&self) -> Option<Payload> {
        self.ppk_config().map(|_| notify(NotifyType::USE_PPK, Vec::new()))
    }

    /// Responder, IKE_SA_INIT: answers N(USE_PPK) to one, when we have PPKs.
    pub(super) fn use_ppk_reply(&mut self, request: &[Payload]) -> Option<Payload> {
        self.ppk_config()?;
        find_notify(request, NotifyType::USE_PPK)?;
        self.ppk = PpkState::Negotiated;
        Some(notify(NotifyType::USE_PPK, Vec::new()))
    }

    /// Initiator, IKE_SA_INIT response: whether the responder announced USE_PPK too.
    pub(super) fn note_use_ppk_response(&mut self, response: &[Payload]) {
        if self.ppk_config().is_some() && find_notify(response, NotifyType::USE_PPK).is_some() {
            self.ppk = PpkState::Negotiated;
        }
    }

    /// Initiator, before its first IKE_AUTH: with USE_PPK agreed, the NO_PPK_AUTH notify (when
    /// the PPK is optional: our AUTH over the unmixed SK_pi) and PPK_IDENTITY, then the keys
    /// mixed so that the AUTH computed next uses SK_pi'. `None` when the handshake ended here:
    /// a mandatory PPK the responder did not announce (nothing is sent, RFC 8784 §3), or
    /// our key cannot sign.
    pub(super) fn ppk_offer(
        &mut self,
        init_request: &[u8],
        nr: &[u8],
    ) -> Result<Option<Vec<Payload>>, crate::Error> {
        let Some(config) = self.config.ppk.clone() else { return Ok(Some(Vec::new())) };
        if self.ppk_config().is_none() {
            if config.mandatory {
                self.close(CloseReason::PpkUnavailableWithEap);
                return Ok(None);
            }
            return Ok(Some(Vec::new()));
        }
        if !matches!(self.ppk, PpkState::Negotiated) {
            if config.mandatory {
                self.close(CloseReason::PpkNotSupportedByPeer);
                return Ok(None);
            }
            return Ok(Some(Vec::new()));
        }
        let Some(ppk) = config.keys.first() else {
            // A configuration without keys announces nothing it could use.
            self.ppk = PpkState::Off;
            return Ok(Some(Vec::new()));
        };
        let mut notifies = vec![notify(NotifyType::PPK_IDENTITY, ppk_identity(&ppk.id))];
        if !config.mandatory {
            let Some(own) = self.own_auth(Side::Initiator, init_request, nr)? else {
                self.close(CloseReason::OwnCertificateUnusable);
                return Ok(None);
            };
            let PayloadRepr::Auth(auth) = own.auth.body else {
                unreachable!("own_auth makes an AUTH payload")
            };
            // strongSwan's reading of §3, which it also expects: the Authentication Data
            // alone, the method being the AUTH payload's.
            notifies.push(notify(NotifyType::NO_PPK_AUTH, auth.data.as_slice()));
        }
        let crypto = self.crypto.as_mut().ok_or(crate::Error::NotKeyed)?;
        let unmixed = crypto.mix_ppk(&ppk.key)?;
        self.ppk = PpkState::Offered { id: ppk.id.clone(), unmixed: Box::new(unmixed) };
        Ok(Some(notifies))
    }

    /// Initiator, the IKE_AUTH response (not an error): a PPK_IDENTITY says the responder
    /// used the PPK; without one, an optional PPK is dropped (the unmixed keys come back to
    /// check its AUTH), a mandatory one ends the handshake.
    pub(super) fn settle_ppk(&mut self, response: &[Payload]) -> Result<(), CloseReason> {
        let PpkState::Offered { id, unmixed } = std::mem::take(&mut self.ppk) else {
            return Ok(());
        };
        if find_notify(response, NotifyType::PPK_IDENTITY).is_some() {
            self.ppk = PpkState::Used { id };
            return Ok(());
        }
        if self.config.ppk.as_ref().is_some_and(|p| p.mandatory) {
            return Err(CloseReason::PpkNotUsedByPeer);
        }
        if let Some(crypto) = self.crypto.as_mut() {
            crypto.unmix_ppk(*unmixed);
        }
        Ok(())
    }

    /// Responder, the first IKE_AUTH request with an AUTH: decides whether the PPK is used and
    /// mixes the keys if so. Gives the payloads to verify: as received, or with the AUTH data
    /// taken from NO_PPK_AUTH when we continue without the PPK. `Err` is the reason to refuse
    /// the initiator with.
    pub(super) fn accept_ppk<'p>(
        &mut self,
        request: &'p [Payload],
    ) -> Result<Cow<'p, [Payload]>, CloseReason> {
        let Some(config) = self.config.ppk.clone() else { return Ok(Cow::Borrowed(request)) };
        if config.mandatory && self.ppk_config().is_none() {
            return Err(CloseReason::PpkUnavailableWithEap);
        }
        if !matches!(self.ppk, PpkState::Negotiated) {
            return if config.mandatory {
                Err(CloseReason::PpkNotSupportedByPeer)
            } else {
                Ok(Cow::Borrowed(request))
            };
        }
        self.ppk = PpkState::Off;
        let no_ppk_auth = find_notify(request, NotifyType::NO_PPK_AUTH);
        let Some(identity) = find_notify(request, NotifyType::PPK_IDENTITY) else {
            // USE_PPK agreed, but the initiator uses no PPK: plain IKEv2 unless we insist.
            return if config.mandatory {
                Err(CloseReason::PpkNotUsedByPeer)
            } else {
                Ok(Cow::Borrowed(request))
            };
        };
        let known = parse_ppk_identity(&identity.data).and_then(|id| config.find(id));
        match (known, no_ppk_auth) {
            (Some(ppk), _) => {
                // We have it: the AUTH must verify with it, never with NO_PPK_AUTH instead.
                let crypto = self.crypto.as_mut().ok_or(CloseReason::AuthenticationFailed)?;
                crypto.mix_ppk(&ppk.key).map_err(|_| CloseReason::AuthenticationFailed)?;
                self.ppk = PpkState::Used { id: ppk.id.clone() };
                Ok(Cow::Borrowed(request))
            }
            (None, _) if config.mandatory => Err(CloseReason::PpkUnknownIdentity),
            (None, Some(no_ppk)) => Ok(Cow::Owned(with_auth_data(request, &no_ppk.data))),
            (None, None) => Err(CloseReason::PpkUnknownIdentity),
        }
    }

    /// Responder, the IKE_AUTH response: an empty PPK_IDENTITY when the PPK is used (§3).
    pub(super) fn ppk_confirmation(&self) -> Option<Payload> {
        matches!(self.ppk, PpkState::Used { .. })
            .then(|| notify(NotifyType::PPK_IDENTITY, Vec::new()))
    }

    /// The PPK_ID whose PPK is mixed into this IKE SA's keys, once both sides use it.
    pub fn ppk_id(&self) -> Option<&[u8]> {
        match &self.ppk {
            PpkState::Used { id } => Some(id),
            _ => None,
        }
    }
}

/// PPK_IDENTITY notification data: the PPK_ID type, then the identifier (RFC 8784 §5.1).
fn ppk_identity(id: &[u8]) -> Vec<u8> {
    [&[PPK_ID_FIXED][..], id].concat()
}

/// The identifier in PPK_IDENTITY data of either type; `None` for an empty identifier or an
/// unknown type.
fn parse_ppk_identity(data: &[u8]) -> Option<&[u8]> {
    match data.split_first()? {
        (&(PPK_ID_OPAQUE | PPK_ID_FIXED), id) if !id.is_empty() => Some(id),
        _ => None,
    }
}

/// `request` with the Authentication Data of its AUTH payload replaced by `data`.
fn with_auth_data(request: &[Payload], data: &[u8]) -> Vec<Payload> {
    request
        .iter()
        .map(|p| match &p.body {
            PayloadRepr::Auth(a) => {
                Payload::new(PayloadRepr::Auth(AuthRepr { method: a.method, data: data.into() }))
            }
            _ => p.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppk_identity_is_fixed_type_then_the_identifier() {
        assert_eq!(ppk_identity(b"qkd-1"), b"\x02qkd-1");
        assert_eq!(parse_ppk_identity(b"\x02qkd-1"), Some(&b"qkd-1"[..]));
        assert_eq!(parse_ppk_identity(b"\x01opaque"), Some(&b"opaque"[..]));
    }

    #[test]
    fn rejects_ppk_identity_of_unknown_type_or_empty() {
        assert_eq!(parse_ppk_identity(b""), None);
        assert_eq!(parse_ppk_identity(b"\x02"), None);
        assert_eq!(parse_ppk_identity(b"\x03qkd-1"), None);
        assert_eq!(parse_ppk_identity(b"\x00qkd-1"), None);
    }
}
