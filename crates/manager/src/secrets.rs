//! The secret store: shared secrets, passwords and PPKs, kept apart from the preferences in a
//! file only its owner can read, and referred to by [`PersistentRef`]s (Apple's keychain
//! persistent references).
//!
//! The file is created with mode 0600 and refused on load if group or others may read or
//! write it. Secrets are [`SecretBytes`] in memory: wiped on drop, never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ikeway_crypto::SecretBytes;
use serde::{Deserialize, Serialize};

use crate::atomic::{self, FailAt};

/// A reference to one secret in a [`SecretStore`]: 128 random bits in hex. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersistentRef(String);

impl PersistentRef {
    fn random() -> Self {
        Self(format!("{:016x}{:016x}", atomic::random_u64(), atomic::random_u64()))
    }

    /// The reference as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersistentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PersistentRef {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Anything that resolves [`PersistentRef`]s to secrets: the [`SecretStore`], or a map in tests.
pub trait SecretSource {
    /// The secret behind `reference`, or `None` if there is none.
    fn secret(&self, reference: &PersistentRef) -> Result<Option<SecretBytes>, SecretError>;
}

impl SecretSource for BTreeMap<PersistentRef, SecretBytes> {
    fn secret(&self, reference: &PersistentRef) -> Result<Option<SecretBytes>, SecretError> {
        Ok(self.get(reference).cloned())
    }
}

/// Errors of the secret store. They name the file and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error(
        "secret store {path} has mode {mode:04o}: group or others may access it; \
         run `chmod 600 {path}` if this is your file"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("secret store {path} is corrupt at line {line}, column {column}: {message}")]
    Corrupt { path: PathBuf, line: usize, column: usize, message: String },
    #[error("secret store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no secret on its first line")]
    Empty { path: PathBuf },
    #[error("{path} is larger than {max} bytes: not a secret file")]
    TooLarge { path: PathBuf, max: usize },
}

/// The largest secret file [`read_secret_file`] reads.
const SECRET_FILE_MAX: usize = 64 * 1024;

/// Reads a pre-shared key file (`--psk-file`): its first line, without the line ending, as
/// bytes (any bytes, not only UTF-8). The file is read into one buffer allocated up front (so
/// no reallocation leaves a copy behind) that is wiped once the key is copied out: the key
/// never sits in a `String`.
pub fn read_secret_file(path: &Path) -> Result<SecretBytes, SecretError> {
    let io = |source| SecretError::Read { path: path.to_owned(), source };
    let file = fs::File::open(path).map_err(io)?;
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(SECRET_FILE_MAX + 1));
    file.take(SECRET_FILE_MAX as u64 + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() > SECRET_FILE_MAX {
        return Err(SecretError::TooLarge { path: path.to_owned(), max: SECRET_FILE_MAX });
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(SecretError::Empty { path: path.to_owned() });
    }
    Ok(SecretBytes::from_slice(line))
}

/// The file format. Values are hex so that the file stays text.
#[derive(Default, Serialize, Deserialize)]
struct SecretFile {
    version: u32,
    secrets: BTreeMap<String, String>,
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for v in self.secrets.values_mut() {
            v.zeroize();
        }
    }
}

/// A per-user file of secrets with mode 0600. Every call reads the file afresh, so several
/// processes see each other's changes; writes are atomic.
#[derive(Debug, Clone)]
pub struct SecretStore {
    path: PathBuf,
    fail_at: FailAt,
}

impl SecretStore {
    /// The store in `path` (which need not exist yet).
    pub fn open(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), fail_at: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub(crate) fn fail_at(&mut self, step: FailAt) {
        self.fail_at = step;
    }

    fn io(&self, source: io::Error) -> SecretError {
        SecretError::Io { path: self.path.clone(), source }
    }

    fn load(&self) -> Result<SecretFile, SecretError> {
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(SecretFile { version: 1, secrets: BTreeMap::new() });
            }
            Err(e) => return Err(self.io(e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::InsecurePermissions { path: self.path.clone(), mode });
        }
        let text = zeroize::Zeroizing::new(fs::read_to_string(&self.path).map_err(|e| self.io(e))?);
        serde_json::from_str(&text).map_err(|e| SecretError::Corrupt {
            path: self.path.clone(),
            line: e.line(),
            column: e.column(),
            // serde_json's messages name the expected token, never the input around it.
            message: e.to_string(),
        })
    }

    fn store(&self, file: &SecretFile) -> Result<(), SecretError> {
        let text = zeroize::Zeroizing::new(
            serde_json::to_string_pretty(file).map_err(|e| self.io(io::Error::other(e)))?,
        );
        atomic::write_atomic(&self.path, text.as_bytes(), 0o600, self.fail_at)
            .map_err(|e| self.io(e))
    }

    /// Stores `secret` under a new random reference.
    pub fn add(&self, secret: &SecretBytes) -> Result<PersistentRef, SecretError> {
        let mut file = self.load()?;
        let reference = loop {
            let r = PersistentRef::random();
            if !file.secrets.contains_key(r.as_str()) {
                break r;
            }
        };
        file.secrets.insert(reference.0.clone(), hex::encode(secret.expose()));
        file.version = 1;
        self.store(&file)?;
        Ok(reference)
    }

    /// Replaces the secret behind an existing or new reference.
    pub fn set(&self, reference: &PersistentRef, secret: &SecretBytes) -> Result<(), SecretError> {
        let mut file = self.load()?;
        file.secrets.insert(reference.0.clone(), hex::encode(secret.expose()));
        file.version = 1;
        self.store(&file)
    }

    /// Removes a secret; `false` if there was none.
    pub fn remove(&self, reference: &PersistentRef) -> Result<bool, SecretError> {
        let mut file = self.load()?;
        let mut old = file.secrets.remove(reference.as_str());
        let found = old.is_some();
        if let Some(v) = old.as_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        if found {
            self.store(&file)?;
        }
        Ok(found)
    }

    /// Every reference in the store.
    pub fn references(&self) -> Result<Vec<PersistentRef>, SecretError> {
        Ok(self.load()?.secrets.keys().map(|k| PersistentRef(k.clone())).collect())
    }
}

impl SecretSource for SecretStore {
    fn secret(&self, reference: &PersistentRef) -> Result<Option<SecretBytes>, SecretError> {
        let file = self.load()?;
        let Some(text) = file.secrets.get(reference.as_str()) else { return Ok(None) };
        hex::decode(text).map(|b| Some(SecretBytes::new(b))).map_err(|_| SecretError::Corrupt {
            path: self.path.clone(),
            line: 0,
            column: 0,
            message: format!("secret {reference} is not hex"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::Step;

    fn store() -> (tempfile::TempDir, SecretStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SecretStore::open(dir.path().join("secrets.json"));
        (dir, s)
    }

    #[test]
    fn add_get_remove() {
        let (_d, s) = store();
        let r = s.add(&SecretBytes::from_slice(b"hunter2")).unwrap();
        assert_eq!(r.as_str().len(), 32);
        assert_eq!(s.secret(&r).unwrap().unwrap().expose(), b"hunter2");
        s.set(&r, &SecretBytes::from_slice(b"other")).unwrap();
        assert_eq!(s.secret(&r).unwrap().unwrap().expose(), b"other");
        assert_eq!(s.references().unwrap(), vec![r.clone()]);
        assert!(s.remove(&r).unwrap());
        assert!(!s.remove(&r).unwrap());
        assert!(s.secret(&r).unwrap().is_none());
    }

    #[test]
    fn file_is_created_0600() {
        let (_d, s) = store();
        s.add(&SecretBytes::from_slice(b"x")).unwrap();
        let mode = fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn rejects_group_or_world_readable_file() {
        let (_d, s) = store();
        let r = s.add(&SecretBytes::from_slice(b"x")).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            fs::set_permissions(s.path(), fs::Permissions::from_mode(mode)).unwrap();
            let err = s.secret(&r).unwrap_err();
            assert!(matches!(err, SecretError::InsecurePermissions { .. }), "{mode:o}");
            let msg = err.to_string();
            assert!(msg.contains("secrets.json") && msg.contains(&format!("{mode:04o}")), "{msg}");
            // Writes refuse too: nothing is read from or added to an exposed file.
            assert!(s.add(&SecretBytes::from_slice(b"y")).is_err());
        }
    }

    #[test]
    fn corrupt_file_names_line_and_is_kept() {
        let (_d, s) = store();
        fs::write(s.path(), "{\n  \"version\": 1,\n  \"secrets\": {,}\n}").unwrap();
        fs::set_permissions(s.path(), fs::Permissions::from_mode(0o600)).unwrap();
        let err = s.add(&SecretBytes::from_slice(b"x")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("secrets.json") && msg.contains("line 3"), "{msg}");
        assert!(fs::read_to_string(s.path()).unwrap().contains("{,}"));
    }

    #[test]
    fn debug_and_errors_do_not_show_secrets() {
        let (_d, mut s) = store();
        let r = s.add(&SecretBytes::from_slice(b"topsecretvalue")).unwrap();
        let shown = format!("{s:?} {:?}", s.secret(&r).unwrap());
        assert!(
            !shown.contains("topsecretvalue") && !shown.contains(&hex::encode("topsecretvalue"))
        );
        s.fail_at(Some(Step::Write));
        let err = s.add(&SecretBytes::from_slice(b"anothersecret")).unwrap_err().to_string();
        assert!(!err.contains("anothersecret") && !err.contains(&hex::encode("anothersecret")));
    }

    /// Issue 9 finding 14: PSK files were read into a plain `String` (never wiped, and a key
    /// that is not UTF-8 could not be read at all); now they go straight into `SecretBytes`.
    #[test]
    fn secret_file_first_line_as_bytes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("psk");
        for (content, key) in [
            (&b"hunter2\nsecond line\n"[..], &b"hunter2"[..]),
            (b"crlf key\r\nrest", b"crlf key"),
            (b"no newline", b"no newline"),
            (b"\xff\xfe binary \x80\n", b"\xff\xfe binary \x80"),
        ] {
            fs::write(&path, content).unwrap();
            let secret: SecretBytes = read_secret_file(&path).unwrap();
            assert_eq!(secret.expose(), key);
        }
        for empty in [&b""[..], b"\n", b"\r\nkey on the second line"] {
            fs::write(&path, empty).unwrap();
            let err = read_secret_file(&path).unwrap_err();
            assert!(matches!(err, SecretError::Empty { .. }), "{err}");
        }
        fs::write(&path, vec![b'k'; SECRET_FILE_MAX + 1]).unwrap();
        let err = read_secret_file(&path).unwrap_err();
        assert!(matches!(err, SecretError::TooLarge { .. }), "{err}");
        let err = read_secret_file(&d.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn failed_write_keeps_previous_secrets() {
        for step in [Step::CreateTemp, Step::Write, Step::SyncFile, Step::Rename] {
            let (_d, mut s) = store();
            let r = s.add(&SecretBytes::from_slice(b"first")).unwrap();
            s.fail_at(Some(step));
            assert!(s.add(&SecretBytes::from_slice(b"second")).is_err());
            s.fail_at(None);
            assert_eq!(s.references().unwrap(), vec![r.clone()], "{step:?}");
            assert_eq!(s.secret(&r).unwrap().unwrap().expose(), b"first");
        }
    }
}
