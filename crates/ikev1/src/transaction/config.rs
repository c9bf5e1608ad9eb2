//! What the transaction exchange is configured with: XAUTH credentials (client) or the users
//! it accepts (gateway), and mode config as asked for (client) or handed out (gateway).

use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_sa::AddressAllocator;

/// A client's XAUTH user name and password (draft-beaulieu-ike-xauth-02 §6.1).
#[derive(Debug, Clone)]
pub struct XauthCredentials {
    pub username: String,
    /// `None`: the password is asked for when the gateway requests it
    /// ([`crate::Event::XauthPasswordRequired`], answered with
    /// [`crate::Ikev1Sa::xauth_reply`]), as Apple's "ask every time" profiles do.
    pub password: Option<SecretBytes>,
}

/// How a client gets its mode config (draft-dukes-ike-mode-cfg §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeConfigClient {
    /// The client asks (REQUEST) after XAUTH, the gateway answers (REPLY): what iOS and
    /// strongSwan's default do.
    Pull,
    /// The gateway sends its SET unasked and the client acknowledges it: Cisco's usual way.
    Push,
}

/// What a gateway hands out in mode config, and whether it pushes it.
#[derive(Debug, Clone)]
pub struct ModeConfigServer {
    /// Addresses, DNS servers, domains and split networks; shared by every ISAKMP SA of the
    /// gateway, each lease given back when its SA ends.
    pub pool: Arc<AddressAllocator>,
    /// Cisco UNITY banner shown to the user, if any.
    pub banner: Option<String>,
    /// Cisco UNITY split DNS names: only these domains resolve through the tunnel.
    pub split_dns: Vec<String>,
    /// Send SET after XAUTH instead of waiting for the client's REQUEST.
    pub push: bool,
    /// Attributes added to every answer as they are (a test gateway that says what real
    /// ones do: NBNS, address expiry, Cisco UNITY save-password, PFS, backup servers ...).
    pub extra: Vec<ikeway_isakmp::ConfigAttribute>,
}

/// XAUTH and mode config settings of a [`crate::Config`]. XAUTH itself is switched on by
/// [`crate::Config::xauth`] (it changes the phase 1 authentication method).
#[derive(Debug, Clone, Default)]
pub struct TransactionConfig {
    /// Client: the credentials XAUTH answers with.
    pub xauth_client: Option<XauthCredentials>,
    /// Gateway: the users XAUTH accepts (name and password).
    pub xauth_users: Vec<(String, SecretBytes)>,
    /// Client: mode config, `None` for none.
    pub mode_config: Option<ModeConfigClient>,
    /// Gateway: what mode config hands out, `None` for no mode config.
    pub mode_config_server: Option<ModeConfigServer>,
}
