//! The connection's status kept across the tunnel's end and the daemon's restart
//! (`NEVPNConnection`'s status, `connectedDate`, last disconnect error): a small JSON file in
//! the runtime directory, root's, 0600, replaced atomically (`DirFd::write_atomic`: a new
//! temporary file, synced, renamed) on every change and read back when the daemon starts.
//!
//! Read back, it is hostile input like any file a root process finds: opened without
//! following a symlink, only a regular file of the directory's owner, at most [`MAX_STATE`]
//! bytes, every field checked (a known status and error name, a configuration name as the
//! protocol accepts it, a bounded reason without control characters, at most
//! [`MAX_READERS`] uids); anything else is refused whole and the daemon starts without it.

use std::io;

use ikeway_manager::DisconnectError;
use ikeway_tunnel::host::dirfd::DirFd;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::protocol::check_name;

/// The file's name in the runtime directory.
pub const STATE_FILE: &str = "connection-state.json";
/// The largest state file read back.
pub const MAX_STATE: usize = 16 * 1024;
/// The longest disconnect reason kept.
pub const MAX_REASON: usize = 1024;
/// The most users (besides root) a connection's status is shown to.
pub const MAX_READERS: usize = 16;
const VERSION: u32 = 1;

/// Statuses as the snapshot names them (see [`crate::status_name`]).
const STATUSES: [&str; 6] =
    ["invalid", "disconnected", "connecting", "connected", "reasserting", "disconnecting"];

/// What is kept of the last connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    pub version: u32,
    pub configuration: String,
    pub status: String,
    /// Unix seconds.
    pub connected_since: Option<u64>,
    /// Apple's name of the error (`AuthenticationFailed`).
    pub last_disconnect_error: Option<String>,
    pub last_disconnect_reason: Option<String>,
    /// Users besides root who may read it.
    pub readers: Vec<u32>,
}

/// Why a state file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    #[error("reading {STATE_FILE}: {0}")]
    Io(#[from] io::Error),
    #[error("{STATE_FILE} is not valid: {0}")]
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> PersistError {
    PersistError::Invalid(why.into())
}

impl Persisted {
    /// What is kept of a connection whose snapshot is `snapshot`, shown to `readers`.
    pub fn of(
        configuration: &str,
        status: &str,
        connected_since: Option<u64>,
        last: Option<(DisconnectError, Option<String>)>,
        readers: &[u32],
    ) -> Self {
        let (error, reason) = match last {
            Some((e, r)) => (Some(format!("{e:?}")), r.map(|r| bounded_reason(&r))),
            None => (None, None),
        };
        Self {
            version: VERSION,
            configuration: configuration.to_owned(),
            status: status.to_owned(),
            connected_since,
            last_disconnect_error: error,
            last_disconnect_reason: reason,
            readers: readers.iter().copied().take(MAX_READERS).collect(),
        }
    }

    /// Parses and checks a state file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, PersistError> {
        if bytes.len() > MAX_STATE {
            return Err(invalid(format!("larger than {MAX_STATE} bytes")));
        }
        let p: Self = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if p.version != VERSION {
            return Err(invalid(format!("version {} (this ikeway writes {VERSION})", p.version)));
        }
        check_name(&p.configuration).map_err(|e| invalid(e.to_string()))?;
        if !STATUSES.contains(&p.status.as_str()) {
            return Err(invalid("an unknown status"));
        }
        if let Some(e) = &p.last_disconnect_error
            && !DisconnectError::ALL.iter().any(|k| format!("{k:?}") == *e)
        {
            return Err(invalid("an unknown disconnect error"));
        }
        if let Some(r) = &p.last_disconnect_reason
            && (r.len() > MAX_REASON || r.chars().any(char::is_control))
        {
            return Err(invalid("a disconnect reason too long or with control characters"));
        }
        if p.last_disconnect_reason.is_some() && p.last_disconnect_error.is_none() {
            return Err(invalid("a disconnect reason without an error"));
        }
        if p.readers.len() > MAX_READERS {
            return Err(invalid(format!("more than {MAX_READERS} readers")));
        }
        Ok(p)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The status snapshot it stands for, once its connection is gone (after a daemon
    /// restart): a connection that was up when the daemon ended is not any more.
    pub fn snapshot(&self) -> Value {
        let status = if matches!(self.status.as_str(), "invalid" | "disconnected") {
            self.status.as_str()
        } else {
            "disconnected"
        };
        json!({
            "configuration": self.configuration,
            "status": status,
            "connected_since": null,
            "last_disconnect_error": self.last_disconnect_error,
            "last_disconnect_reason": self.last_disconnect_reason,
        })
    }

    /// Whether `uid` may read it: root, or one of its readers.
    pub fn may_read(&self, uid: u32) -> bool {
        uid == 0 || self.readers.contains(&uid)
    }
}

/// A reason as kept: control characters replaced, at most [`MAX_REASON`] bytes.
fn bounded_reason(reason: &str) -> String {
    let mut out = String::new();
    for c in reason.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > MAX_REASON {
            break;
        }
        out.push(c);
    }
    out
}

/// Writes `state` (atomically, 0600).
pub fn save(dir: &DirFd, state: &Persisted) -> io::Result<()> {
    dir.write_atomic(STATE_FILE, &state.to_bytes(), 0o600)
}

/// The state file, checked; `None` when there is none.
pub fn load(dir: &DirFd) -> Result<Option<Persisted>, PersistError> {
    match dir.read(STATE_FILE, MAX_STATE)? {
        Some(bytes) => Persisted::parse(&bytes).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample() -> Persisted {
        Persisted::of(
            "office",
            "disconnected",
            None,
            Some((DisconnectError::AuthenticationFailed, Some("wrong\npassword".into()))),
            &[4242],
        )
    }

    #[test]
    fn round_trips_through_the_runtime_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DirFd::open(tmp.path()).unwrap();
        assert!(load(&dir).unwrap().is_none());
        let p = sample();
        assert_eq!(p.last_disconnect_reason.as_deref(), Some("wrong password"));
        save(&dir, &p).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(p.clone()));
        let mode = std::fs::metadata(tmp.path().join(STATE_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            p.snapshot(),
            json!({"configuration": "office", "status": "disconnected", "connected_since": null,
                   "last_disconnect_error": "AuthenticationFailed",
                   "last_disconnect_reason": "wrong password"})
        );
        assert!(p.may_read(0) && p.may_read(4242) && !p.may_read(65534));
        // A connection that was up when the daemon ended shows as down.
        let up = Persisted::of("office", "connected", Some(1_700_000_000), None, &[]);
        assert_eq!(up.snapshot()["status"], "disconnected");
        assert_eq!(up.snapshot()["connected_since"], Value::Null);
    }

    #[test]
    fn a_symlinked_or_huge_state_file_is_refused_and_its_target_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DirFd::open(tmp.path()).unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, sample().to_bytes()).unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join(STATE_FILE)).unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.starts_with("reading connection-state.json: opening "), "{e}");
        // Saving replaces the link, never writes through it.
        save(&dir, &Persisted::of("other", "disconnected", None, None, &[])).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), sample().to_bytes());
        assert_eq!(load(&dir).unwrap().unwrap().configuration, "other");
        std::fs::write(tmp.path().join(STATE_FILE), vec![b' '; MAX_STATE + 1]).unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.ends_with(&format!("is larger than {MAX_STATE} bytes")), "{e}");
    }

    #[test]
    fn rejects_hostile_state_files() {
        let good = serde_json::to_value(sample()).unwrap();
        let with = |field: &str, v: Value| {
            let mut x = good.clone();
            x[field] = v;
            serde_json::to_vec(&x).unwrap()
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not json".to_vec(), "expected ident"),
            (with("version", json!(2)), "version 2"),
            (with("configuration", json!("a\nb")), "control character"),
            (with("configuration", json!("")), "must be 1 to 256 bytes"),
            (with("status", json!("pwned")), "an unknown status"),
            (with("last_disconnect_error", json!("RootShell")), "an unknown disconnect error"),
            (with("last_disconnect_reason", json!("a\u{1b}[2J")), "control characters"),
            (with("last_disconnect_reason", json!("r".repeat(MAX_REASON + 1))), "too long"),
            (with("readers", json!(vec![1; MAX_READERS + 1])), "more than 16 readers"),
            (with("readers", json!([-1])), "invalid value"),
            (with("extra", json!(1)), "unknown field `extra`"),
            (
                serde_json::to_vec(&{
                    let mut x = good.clone();
                    x["last_disconnect_error"] = Value::Null;
                    x
                })
                .unwrap(),
                "a disconnect reason without an error",
            ),
        ];
        for (bytes, why) in cases {
            let e = Persisted::parse(&bytes).unwrap_err().to_string();
            assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(&bytes));
        }
        assert_eq!(Persisted::parse(&serde_json::to_vec(&good).unwrap()).unwrap(), sample());
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_REASON);
        let kept = bounded_reason(&long);
        assert!(kept.len() <= MAX_REASON && kept.len() > MAX_REASON - 2);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
