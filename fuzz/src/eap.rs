//! EAP inside IKE_AUTH: the server proves itself with its certificate (as [`crate::certs`]),
//! the client signs in with EAP-MD5 or EAP-MSCHAPv2 as the one user the server knows, so fuzz
//! targets reach both EAP state machines and the AUTH around them inside correctly encrypted
//! IKE_AUTH messages.

use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_eap::{AuthenticatorConfig, Method, PeerConfig, Users};
use ikeway_sa::{Config, LocalAuth, PeerAuth};

/// The user and password both ends know.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// The configurations: the server authenticates with its certificate and requires EAP with
/// `method`; the client verifies the certificate and answers with `method`.
pub fn configs(method: Method) -> (Config, Config) {
    let (mut client, mut server) = crate::certs::configs(true);
    client.local_auth = LocalAuth::Eap(Arc::new(PeerConfig {
        identity: USER.to_owned(),
        password: Some(SecretBytes::from_slice(PASSWORD.as_bytes())),
        tls: None,
        methods: vec![method],
    }));
    let users = Users::parse(&format!("{USER} : EAP \"{PASSWORD}\"\n")).expect("a user file");
    server.peer_auth = PeerAuth::Eap(Arc::new(AuthenticatorConfig {
        methods: vec![method],
        users: Arc::new(users),
        tls: None,
    }));
    (client, server)
}
