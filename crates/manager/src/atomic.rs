//! Crash-safe file replacement: write a temporary file in the same directory, fsync it,
//! rename it over the target, fsync the directory.
//!
//! Until the rename the old file is untouched; the rename is atomic (POSIX `rename(2)`), so a
//! reader or a crash sees either the whole old file or the whole new one. The directory fsync
//! makes the rename itself durable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The steps of [`write_atomic`], for failure injection in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    CreateTemp,
    Write,
    SyncFile,
    Rename,
    SyncDir,
}

impl Step {
    #[cfg(test)]
    pub(crate) const ALL: [Step; 5] =
        [Step::CreateTemp, Step::Write, Step::SyncFile, Step::Rename, Step::SyncDir];
}

/// Where a test makes [`write_atomic`] fail. `None` in production.
pub(crate) type FailAt = Option<Step>;

fn check(fail_at: FailAt, step: Step) -> io::Result<()> {
    if fail_at == Some(step) {
        return Err(io::Error::other(format!("injected failure at {step:?}")));
    }
    Ok(())
}

/// Replaces `path` with `bytes`; the new file gets permission bits `mode` from creation on
/// (so a secret is never readable by others, not even briefly).
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    fail_at: FailAt,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::other("path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}.{:016x}", std::process::id(), random_u64()));
    let tmp = dir.join(tmp_name);

    check(fail_at, Step::CreateTemp)?;
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
    let result = (|| {
        check(fail_at, Step::Write)?;
        file.write_all(bytes)?;
        check(fail_at, Step::SyncFile)?;
        file.sync_all()?;
        check(fail_at, Step::Rename)?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file is garbage either way, and never read.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    check(fail_at, Step::SyncDir)?;
    File::open(&dir)?.sync_all()
}

/// 64 random bits for names and references; falls back to the clock if the OS has no
/// randomness to give (names then stay unique per process and time).
pub(crate) fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ u64::from(std::process::id()).rotate_left(32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_and_replaces_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.json");
        write_atomic(&path, b"one", 0o600, None).unwrap();
        write_atomic(&path, b"two", 0o600, None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn failure_at_any_step_keeps_a_whole_file() {
        for step in Step::ALL {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            write_atomic(&path, b"old contents", 0o644, None).unwrap();
            let err = write_atomic(&path, b"new", 0o644, Some(step)).unwrap_err();
            assert!(err.to_string().contains("injected"), "{step:?}: {err}");
            let now = fs::read(&path).unwrap();
            if step == Step::SyncDir {
                // The rename happened; only its durability is unknown.
                assert_eq!(now, b"new");
            } else {
                assert_eq!(now, b"old contents", "{step:?}");
            }
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "{step:?}: temp left");
        }
    }
}
