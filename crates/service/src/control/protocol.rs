//! The control protocol: one JSON object per line in each direction, on a Unix stream socket.
//!
//! A client sends one request line and reads answers:
//!
//! | request | who may ask | answer |
//! |---|---|---|
//! | `{"request":"status"}` | root, the configuration's owner | one snapshot line |
//! | `{"request":"watch"}` | root, the configuration's owner | a snapshot line now, then one line per change (snapshots and `{"event":...}` lines) until either side closes |
//! | `{"request":"connect","configuration":NAME,...}` | root | one snapshot line (the connection is starting) or an error |
//! | `{"request":"disconnect"}` | root | one snapshot line (the connection is stopping) |
//!
//! Any answer may instead be `{"error":"..."}`: a refusal or a failure, in words. A request
//! line is at most [`MAX_REQUEST`] bytes; everything read from the other side is hostile
//! input, bounded and checked here (the server reads requests from any local user, a client
//! reads answers from whatever listens at the socket's name).

use std::borrow::Cow;
use std::net::IpAddr;

use ikeway_crypto::SecretBytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

/// The longest request line: a connect request with a hex-encoded password of
/// [`ikeway_manager::MAX_PASSWORD`] bytes fits.
pub const MAX_REQUEST: usize = 4096;
/// The longest answer line a client reads: a snapshot with many child SAs still fits.
pub const MAX_REPLY: usize = 1 << 20;
/// The longest configuration name accepted in a request.
pub const MAX_NAME: usize = 256;

/// Why a line is not a request or an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("the line is longer than {0} bytes")]
    TooLong(usize),
    #[error("not a JSON object of the control protocol: {0}")]
    Malformed(String),
    #[error("unknown request {0:?}")]
    UnknownRequest(String),
    #[error("invalid {field}: {why}")]
    Invalid { field: &'static str, why: &'static str },
}

/// What `connect` asks of the daemon.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    /// The configuration's name in the daemon's preferences store.
    pub configuration: String,
    /// The EAP password for this start (`--password-file`, or asked on the terminal): it
    /// takes the place of a stored one.
    pub password: Option<SecretBytes>,
    /// The TUN device (`ikeway` and 1-9 digits); `None`: the daemon's.
    pub tun: Option<String>,
    /// Our address for IKE; `None`: the source address toward the server.
    pub local: Option<IpAddr>,
    /// Who asked, when root was reached through sudo (`SUDO_UID`): that user may read the
    /// connection's status too. Only root may connect, so the value is root's word.
    pub starter: Option<u32>,
}

/// One request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Request {
    Status,
    Watch,
    Connect(ConnectRequest),
    Disconnect,
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    request: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    configuration: Option<Cow<'a, str>>,
    /// Hex, so the secret is never JSON-escaped into copies we cannot wipe.
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    password_hex: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    tun: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    starter: Option<u32>,
}

fn invalid(field: &'static str, why: &'static str) -> ProtocolError {
    ProtocolError::Invalid { field, why }
}

/// A configuration name as the daemon accepts it: 1 to [`MAX_NAME`] bytes, no control
/// characters (it is printed in logs and answers).
pub fn check_name(name: &str) -> Result<(), ProtocolError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(invalid("configuration", "must be 1 to 256 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("configuration", "contains a control character"));
    }
    Ok(())
}

impl Request {
    /// Parses one request line (without or with its newline).
    pub fn parse(line: &[u8]) -> Result<Self, ProtocolError> {
        if line.len() > MAX_REQUEST {
            return Err(ProtocolError::TooLong(MAX_REQUEST));
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut wire: Wire<'_> =
            serde_json::from_slice(line).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        let request = match &*wire.request {
            "status" => Self::Status,
            "watch" => Self::Watch,
            "disconnect" => Self::Disconnect,
            "connect" => Self::Connect(Self::connect(&mut wire)?),
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(ProtocolError::UnknownRequest(shown));
            }
        };
        if let Some(Cow::Owned(p)) = wire.password_hex.as_mut() {
            p.zeroize();
        }
        Ok(request)
    }

    fn connect(wire: &mut Wire<'_>) -> Result<ConnectRequest, ProtocolError> {
        let configuration =
            wire.configuration.as_deref().ok_or(invalid("configuration", "missing"))?;
        check_name(configuration)?;
        let password = match wire.password_hex.as_deref() {
            None => None,
            Some(hex) => {
                if hex.is_empty() || hex.len() > 2 * ikeway_manager::MAX_PASSWORD {
                    return Err(invalid("password", "must be 1 to 1024 bytes"));
                }
                let bytes =
                    hex::decode(hex).map_err(|_| invalid("password", "is not hexadecimal"))?;
                Some(SecretBytes::new(bytes))
            }
        };
        let tun = match wire.tun.as_deref() {
            None => None,
            Some(t) if ikeway_tunnel::host::record::is_our_link(t) => Some(t.to_owned()),
            Some(_) => return Err(invalid("tun", "must be ikeway followed by 1-9 digits")),
        };
        Ok(ConnectRequest {
            configuration: configuration.to_owned(),
            password,
            tun,
            local: wire.local,
            starter: wire.starter,
        })
    }

    /// The request line, newline included. Wiped when dropped: it may hold a password.
    pub fn to_line(&self) -> Zeroizing<Vec<u8>> {
        let hex = match self {
            Self::Connect(c) => {
                c.password.as_ref().map(|p| Zeroizing::new(hex::encode(p.expose())))
            }
            _ => None,
        };
        let wire = match self {
            Self::Status => Wire::simple("status"),
            Self::Watch => Wire::simple("watch"),
            Self::Disconnect => Wire::simple("disconnect"),
            Self::Connect(c) => Wire {
                configuration: Some(Cow::Borrowed(&c.configuration)),
                password_hex: hex.as_deref().map(|h| Cow::Borrowed(h.as_str())),
                tun: c.tun.as_deref().map(Cow::Borrowed),
                local: c.local,
                starter: c.starter,
                ..Wire::simple("connect")
            },
        };
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_REQUEST));
        // Writing into a Vec cannot fail, and every field serializes.
        let _ = serde_json::to_writer(&mut *out, &wire);
        out.push(b'\n');
        out
    }

    /// Whether only root may ask it: everything that changes the host.
    pub fn needs_root(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::Disconnect)
    }

    /// Its name, for refusals and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Watch => "watch",
            Self::Connect(_) => "connect",
            Self::Disconnect => "disconnect",
        }
    }
}

impl<'a> Wire<'a> {
    fn simple(request: &'a str) -> Self {
        Self {
            request: Cow::Borrowed(request),
            configuration: None,
            password_hex: None,
            tun: None,
            local: None,
            starter: None,
        }
    }
}

/// One answer line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// The connection's status (an object with a `status` string; the rest is shown as is).
    Snapshot(Value),
    /// An event pushed to a watcher (an object with an `event` string), e.g. a configuration
    /// change.
    Event(Value),
    /// A refusal or a failure, in the server's words.
    Error(String),
}

impl Reply {
    /// Parses one answer line (the reader bounds it to [`MAX_REPLY`]).
    pub fn parse(line: &[u8]) -> Result<Self, ProtocolError> {
        if line.len() > MAX_REPLY {
            return Err(ProtocolError::TooLong(MAX_REPLY));
        }
        let value: Value =
            serde_json::from_slice(line).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(ProtocolError::Malformed("not an object".into()));
        };
        if let Some(e) = map.get("error") {
            let e = e.as_str().ok_or(invalid("error", "is not a string"))?;
            return Ok(Self::Error(e.to_owned()));
        }
        if map.get("event").is_some_and(Value::is_string) {
            return Ok(Self::Event(value));
        }
        if map.get("status").is_some_and(Value::is_string) {
            return Ok(Self::Snapshot(value));
        }
        Err(ProtocolError::Malformed("neither a status, an event nor an error".into()))
    }

    /// The answer line, newline included: written whole, in one `write`.
    pub fn to_line(&self) -> Vec<u8> {
        let value = match self {
            Self::Snapshot(v) | Self::Event(v) => v.clone(),
            Self::Error(e) => serde_json::json!({ "error": e }),
        };
        let mut out = value.to_string().into_bytes();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(line: &str) -> ConnectRequest {
        match Request::parse(line.as_bytes()).unwrap() {
            Request::Connect(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_round_trip() {
        for r in [Request::Status, Request::Watch, Request::Disconnect] {
            let line = r.to_line();
            assert_eq!(Request::parse(&line).unwrap().name(), r.name());
        }
        assert_eq!(&**Request::Status.to_line(), b"{\"request\":\"status\"}\n");
        let c = ConnectRequest {
            configuration: "office \"vpn\"".into(),
            password: Some(SecretBytes::from_slice(b"pa\"ss\n\xff")),
            tun: Some("ikeway7".into()),
            local: Some("10.0.0.1".parse().unwrap()),
            starter: Some(4242),
        };
        let line = Request::Connect(c).to_line();
        let text = String::from_utf8_lossy(&line);
        assert!(text.contains(r#""password_hex":"7061227373"#), "{text}");
        let back = connect(&text);
        assert_eq!(back.configuration, "office \"vpn\"");
        assert_eq!(back.password.unwrap().expose(), b"pa\"ss\n\xff");
        assert_eq!(back.tun.as_deref(), Some("ikeway7"));
        assert_eq!(back.local, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(back.starter, Some(4242));
        assert!(Request::Connect(ConnectRequest::default()).needs_root());
        assert!(Request::Disconnect.needs_root());
        assert!(!Request::Status.needs_root() && !Request::Watch.needs_root());
    }

    #[test]
    fn rejects_hostile_requests() {
        let too_long = format!(r#"{{"request":"status","x":"{}"}}"#, "a".repeat(MAX_REQUEST));
        assert_eq!(
            Request::parse(too_long.as_bytes()).unwrap_err(),
            ProtocolError::TooLong(MAX_REQUEST)
        );
        let cases: &[(&str, &str)] = &[
            ("status", "not a JSON object of the control protocol: "),
            ("", "not a JSON object of the control protocol: "),
            ("[]", "not a JSON object of the control protocol: "),
            (r#"{"request":"status"} trailing"#, "not a JSON object of the control protocol: "),
            (r#"{"request":"reboot"}"#, "unknown request \"reboot\""),
            (r#"{"request":"connect"}"#, "invalid configuration: missing"),
            (r#"{"request":"connect","configuration":""}"#, "invalid configuration: must be"),
            (
                r#"{"request":"connect","configuration":"a\nb"}"#,
                "invalid configuration: contains a control character",
            ),
            (
                r#"{"request":"connect","configuration":"a","tun":"eth0"}"#,
                "invalid tun: must be ikeway followed by 1-9 digits",
            ),
            (
                r#"{"request":"connect","configuration":"a","password_hex":"zz"}"#,
                "invalid password: is not hexadecimal",
            ),
            (
                r#"{"request":"connect","configuration":"a","password_hex":""}"#,
                "invalid password: must be 1 to 1024 bytes",
            ),
            (
                r#"{"request":"connect","configuration":"a","local":"not an address"}"#,
                "not a JSON object of the control protocol: ",
            ),
            (
                r#"{"request":"connect","configuration":"a","starter":-1}"#,
                "not a JSON object of the control protocol: ",
            ),
        ];
        for (line, why) in cases {
            let e = Request::parse(line.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with(why), "{line:?}: {e}");
        }
        let name = "n".repeat(MAX_NAME + 1);
        let long = format!(r#"{{"request":"connect","configuration":"{name}"}}"#);
        assert!(Request::parse(long.as_bytes()).is_err());
        let long_password = "00".repeat(ikeway_manager::MAX_PASSWORD + 1);
        let line = format!(
            r#"{{"request":"connect","configuration":"a","password_hex":"{long_password}"}}"#
        );
        assert!(Request::parse(line.as_bytes()).is_err());
        // An unknown request's name is shown bounded.
        let line = format!(r#"{{"request":"{}"}}"#, "x".repeat(1000));
        assert_eq!(
            Request::parse(line.as_bytes()).unwrap_err(),
            ProtocolError::UnknownRequest("x".repeat(32))
        );
    }

    #[test]
    fn replies_round_trip_and_reject_what_is_not_one() {
        let snap = serde_json::json!({"status": "connected", "configuration": "vpn"});
        let line = Reply::Snapshot(snap.clone()).to_line();
        assert_eq!(Reply::parse(&line).unwrap(), Reply::Snapshot(snap));
        let line = Reply::Error("refused: \"x\"\n".into()).to_line();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        assert_eq!(Reply::parse(&line).unwrap(), Reply::Error("refused: \"x\"\n".into()));
        let event = serde_json::json!({"event": "configuration", "change": "saved"});
        assert_eq!(
            Reply::parse(&Reply::Event(event.clone()).to_line()).unwrap(),
            Reply::Event(event)
        );
        for bad in [&b"{}"[..], b"[1]", b"{\"status\": 3}", b"{\"error\": 3}", b"\xff", b""] {
            assert!(Reply::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            Reply::parse(&vec![b' '; MAX_REPLY + 1]).unwrap_err(),
            ProtocolError::TooLong(MAX_REPLY)
        );
    }
}
