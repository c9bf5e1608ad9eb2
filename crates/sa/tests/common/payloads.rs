//! Reading inner payloads in the tests: the AUTH payload, notifies and KE payloads of one
//! message, the same in every suite.

use ikeway_codec::{AuthMethod, AuthRepr, KeRepr, NotifyType, Payload, PayloadRepr};

/// The message's AUTH payload, if any.
pub(crate) fn auth(payloads: &[Payload]) -> Option<&AuthRepr> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Auth(a) => Some(a),
        _ => None,
    })
}

/// The method of the message's AUTH payload, if it has one.
pub(crate) fn auth_method(payloads: &[Payload]) -> Option<AuthMethod> {
    auth(payloads).map(|a| a.method)
}

/// The Authentication Data of the message's AUTH payload, which it must have.
pub(crate) fn auth_data(payloads: &[Payload]) -> Vec<u8> {
    auth(payloads).expect("an AUTH payload").data.to_vec()
}

/// The data of the first notify of `kind`, if any.
pub(crate) fn notify_data(payloads: &[Payload], kind: NotifyType) -> Option<Vec<u8>> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Notify(n) if n.kind == kind => Some(n.data.to_vec()),
        _ => None,
    })
}

/// The kinds of every notify, in order.
pub(crate) fn notify_kinds(payloads: &[Payload]) -> Vec<NotifyType> {
    payloads
        .iter()
        .filter_map(|p| match &p.body {
            PayloadRepr::Notify(n) => Some(n.kind),
            _ => None,
        })
        .collect()
}

/// The message's KE payload, if any.
pub(crate) fn ke(payloads: &[Payload]) -> Option<&KeRepr> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Ke(k) => Some(k),
        _ => None,
    })
}
