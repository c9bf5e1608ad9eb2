//! XAUTH (draft-beaulieu-ike-xauth-02): the gateway asks for a user name and password in a
//! REQUEST, the client answers them in a REPLY, the gateway says OK or FAIL in a SET with
//! XAUTH-STATUS and the client acknowledges it (ACK). Only the generic type (a name and a
//! password) is done: RADIUS-CHAP, OTP and S/KEY challenges are refused.

use ikeway_crypto::SecretBytes;
use ikeway_isakmp::{AttributeValue, ConfigAttribute, ConfigAttributeType as T, XauthType};
use subtle::ConstantTimeEq;

/// XAUTH-STATUS values (§6.2).
pub(crate) const STATUS_FAIL: u16 = 0;
pub(crate) const STATUS_OK: u16 = 1;

/// Longest user name and password taken from a REPLY (RADIUS, behind most gateways, allows
/// 128 octets for a password, RFC 2865 §5.2).
const MAX_CREDENTIAL: usize = 128;

/// What a gateway's REQUEST asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    /// Whether XAUTH-TYPE was sent (it is echoed in the REPLY).
    pub typed: bool,
    /// XAUTH-MESSAGE: text for the user, shown when the password is prompted for.
    pub message: Option<String>,
}

/// Reads a gateway's REQUEST: `None` unless it is a generic XAUTH request for a user name
/// and password.
pub(crate) fn read_request(attributes: &[ConfigAttribute]) -> Option<Asked> {
    let has = |kind| attributes.iter().any(|a| a.kind == kind);
    let xauth_type = attributes.iter().find(|a| a.kind == T::XAUTH_TYPE);
    if xauth_type.is_some_and(|a| a.value.as_u64() != Some(u64::from(XauthType::GENERIC.0))) {
        return None;
    }
    if !has(T::XAUTH_USER_NAME) || !has(T::XAUTH_USER_PASSWORD) {
        return None;
    }
    let message = attributes
        .iter()
        .find(|a| a.kind == T::XAUTH_MESSAGE)
        .and_then(ConfigAttribute::as_str)
        .map(|m| m.chars().filter(|c| !c.is_control()).take(256).collect());
    Some(Asked { typed: xauth_type.is_some(), message })
}

/// The gateway's REQUEST: generic type, user name and password, both empty.
pub(crate) fn request() -> Vec<ConfigAttribute> {
    vec![
        ConfigAttribute::basic(T::XAUTH_TYPE, XauthType::GENERIC.0),
        ConfigAttribute::request(T::XAUTH_USER_NAME),
        ConfigAttribute::request(T::XAUTH_USER_PASSWORD),
    ]
}

/// The client's REPLY. The password travels in an attribute that is wiped on drop.
pub(crate) fn reply(asked: &Asked, username: &str, password: &SecretBytes) -> Vec<ConfigAttribute> {
    let mut out = Vec::with_capacity(3);
    if asked.typed {
        out.push(ConfigAttribute::basic(T::XAUTH_TYPE, XauthType::GENERIC.0));
    }
    out.push(ConfigAttribute::text(T::XAUTH_USER_NAME, username));
    out.push(ConfigAttribute::variable(T::XAUTH_USER_PASSWORD, password.expose().to_vec()));
    out
}

/// The gateway's check of a REPLY against its users: the name must be known and the password
/// equal, compared in constant time.
pub(crate) fn check_reply(attributes: &[ConfigAttribute], users: &[(String, SecretBytes)]) -> bool {
    let value = |kind| {
        attributes
            .iter()
            .find(|a| a.kind == kind)
            .and_then(|a| a.value.as_bytes())
            .filter(|b| b.len() <= MAX_CREDENTIAL)
    };
    let (Some(name), Some(password)) = (value(T::XAUTH_USER_NAME), value(T::XAUTH_USER_PASSWORD))
    else {
        return false;
    };
    // Every user is compared, so the time taken does not tell which names exist.
    users.iter().fold(false, |found, (user, secret)| {
        let name_ok = user.as_bytes().ct_eq(name);
        let password_ok = secret.expose().ct_eq(password);
        found | bool::from(name_ok & password_ok)
    })
}

/// The user name of a REPLY, as text.
pub(crate) fn user_name(attributes: &[ConfigAttribute]) -> Option<String> {
    attributes.iter().find(|a| a.kind == T::XAUTH_USER_NAME)?.as_str().map(str::to_owned)
}

/// The XAUTH-STATUS of a SET, if it has one.
pub(crate) fn status(attributes: &[ConfigAttribute]) -> Option<u16> {
    let a = attributes.iter().find(|a| a.kind == T::XAUTH_STATUS)?;
    match a.value {
        AttributeValue::Basic(v) => Some(v),
        AttributeValue::Variable(_) => a.value.as_u64().and_then(|v| u16::try_from(v).ok()),
    }
}

/// The SET that ends XAUTH.
pub(crate) fn status_set(ok: bool) -> Vec<ConfigAttribute> {
    vec![ConfigAttribute::basic(T::XAUTH_STATUS, if ok { STATUS_OK } else { STATUS_FAIL })]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<(String, SecretBytes)> {
        vec![
            ("alice".into(), SecretBytes::from_slice(b"correct horse")),
            ("bob".into(), SecretBytes::from_slice(b"battery staple")),
        ]
    }

    #[test]
    fn a_generic_request_is_answered_with_name_and_password() {
        let asked = read_request(&request()).unwrap();
        assert_eq!(asked, Asked { typed: true, message: None });
        let answer = reply(&asked, "alice", &SecretBytes::from_slice(b"correct horse"));
        assert_eq!(answer[0], ConfigAttribute::basic(T::XAUTH_TYPE, 0));
        assert_eq!(answer[1], ConfigAttribute::text(T::XAUTH_USER_NAME, "alice"));
        assert!(check_reply(&answer, &users()));
    }

    #[test]
    fn wrong_password_unknown_user_or_a_missing_field_fail() {
        let asked = Asked { typed: false, message: None };
        let wrong = reply(&asked, "alice", &SecretBytes::from_slice(b"battery staple"));
        assert!(!check_reply(&wrong, &users()));
        let unknown = reply(&asked, "mallory", &SecretBytes::from_slice(b"correct horse"));
        assert!(!check_reply(&unknown, &users()));
        assert!(!check_reply(&wrong[..1], &users()));
        let prefix = reply(&asked, "alice", &SecretBytes::from_slice(b"correct"));
        assert!(!check_reply(&prefix, &users()));
    }

    #[test]
    fn challenge_types_and_requests_without_a_password_are_refused() {
        let otp = vec![
            ConfigAttribute::basic(T::XAUTH_TYPE, XauthType::OTP.0),
            ConfigAttribute::request(T::XAUTH_USER_NAME),
            ConfigAttribute::request(T::XAUTH_USER_PASSWORD),
        ];
        assert_eq!(read_request(&otp), None);
        assert_eq!(read_request(&[ConfigAttribute::request(T::XAUTH_USER_NAME)]), None);
        let with_message = vec![
            ConfigAttribute::request(T::XAUTH_USER_NAME),
            ConfigAttribute::request(T::XAUTH_USER_PASSWORD),
            ConfigAttribute::text(T::XAUTH_MESSAGE, "Enter your\x1b PIN"),
        ];
        let asked = read_request(&with_message).unwrap();
        assert_eq!(asked, Asked { typed: false, message: Some("Enter your PIN".into()) });
    }

    #[test]
    fn status_reads_either_form() {
        assert_eq!(status(&status_set(true)), Some(STATUS_OK));
        assert_eq!(status(&status_set(false)), Some(STATUS_FAIL));
        assert_eq!(status(&[ConfigAttribute::variable(T::XAUTH_STATUS, vec![0, 1])]), Some(1));
        assert_eq!(status(&[]), None);
    }
}
