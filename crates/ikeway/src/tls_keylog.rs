//! The EAP-TLS key log: `serve --keylog FILE` also writes the TLS secrets of each EAP-TLS
//! handshake to `FILE.tls` in the NSS key log format Wireshark's `tls.keylog_file` reads
//! (`CLIENT_RANDOM` for TLS 1.2; `CLIENT_HANDSHAKE_TRAFFIC_SECRET` and its siblings for TLS
//! 1.3). The IKE table cannot carry them, so they get their own secret file, created under
//! the same rules (new, 0600, no symlink).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use ikeway_eap::TlsKeyLog;
use zeroize::Zeroizing;

use crate::secret_file;

/// `<keylog>.tls`: where the TLS secrets go for the IKE key log at `keylog`.
pub(crate) fn path_for(keylog: &Path) -> PathBuf {
    let mut name = OsString::from(keylog.as_os_str());
    name.push(".tls");
    PathBuf::from(name)
}

/// The TLS key log next to the `--keylog` file, when there is one.
pub(crate) fn open(keylog: Option<&Path>) -> Result<Option<Arc<dyn TlsKeyLog>>> {
    let Some(keylog) = keylog else { return Ok(None) };
    let file = secret_file::create(&path_for(keylog))?;
    Ok(Some(Arc::new(NssKeyLog { file: Mutex::new(file) })))
}

/// Appends one NSS key log line per secret rustls hands over.
struct NssKeyLog {
    file: Mutex<File>,
}

impl std::fmt::Debug for NssKeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NssKeyLog")
    }
}

impl TlsKeyLog for NssKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = Zeroizing::new(format!(
            "{label} {} {}\n",
            hex::encode(client_random),
            Zeroizing::new(hex::encode(secret)).as_str()
        ));
        // rustls gives the log no way to fail the handshake; a lost line only costs the
        // debugging session, and the error is named without any secret.
        let written = match self.file.lock() {
            Ok(mut f) => f.write_all(line.as_bytes()),
            Err(_) => return,
        };
        if let Err(e) = written {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("warning: writing the TLS key log: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Lines are `LABEL <client random hex> <secret hex>`, in a new 0600 file named after
    /// the IKE key log.
    #[test]
    fn writes_nss_lines_to_a_new_0600_file_named_after_the_ike_key_log() {
        let dir = tempfile::tempdir().unwrap();
        let ike = dir.path().join("keys");
        let log = open(Some(&ike)).unwrap().unwrap();
        log.log("CLIENT_RANDOM", &[0xab; 4], &[0x01, 0x02]);
        log.log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &[0xcd; 2], &[0xff]);
        let tls = dir.path().join("keys.tls");
        assert_eq!(
            std::fs::read_to_string(&tls).unwrap(),
            "CLIENT_RANDOM abababab 0102\nCLIENT_HANDSHAKE_TRAFFIC_SECRET cdcd ff\n"
        );
        let mode = std::fs::symlink_metadata(&tls).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);
        assert!(!ike.exists(), "only the TLS file is created here");
    }

    /// An existing `<keylog>.tls` is refused (the secret file rules), and no --keylog, no
    /// file.
    #[test]
    fn refuses_an_existing_file_and_opens_nothing_without_keylog() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keys.tls"), b"theirs").unwrap();
        let err = open(Some(&dir.path().join("keys"))).unwrap_err().to_string();
        assert!(err.contains("already exists (file or symlink)"), "{err}");
        assert_eq!(std::fs::read(dir.path().join("keys.tls")).unwrap(), b"theirs");
        assert!(open(None).unwrap().is_none());
    }
}
