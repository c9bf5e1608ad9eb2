//! Files that hold secrets (`--keylog`, `profile export --include-secrets`): created new, mode
//! 0600, never through a symlink. Reusing an existing path is refused: a file another user
//! prepared (or a symlink to `/etc/shadow`) would keep its owner and mode, or redirect the
//! write, and the secrets would land where that user can read them.

use std::fs::File;
use std::path::Path;

use anyhow::{Result, bail};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Creates `path` for writing: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600.
pub(crate) fn create(path: &Path) -> Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => Ok(File::from(fd)),
        // O_EXCL reports a dangling symlink as EEXIST too: the final component is never
        // followed.
        Err(Errno::EXIST) => bail!(
            "{} already exists (file or symlink): secrets are only written to a new file; \
             remove it or choose another name",
            path.display()
        ),
        Err(e) => bail!("creating {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Issue 9 finding 4: a secret file is created 0600 whatever the umask allows.
    #[test]
    fn creates_a_new_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        create(&path).unwrap().write_all(b"secret").unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
    }

    /// Issue 9 finding 4: an existing file is refused and left as it was.
    #[test]
    fn refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, b"theirs").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = create(&path).unwrap_err().to_string();
        assert!(err.contains("already exists (file or symlink)"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o644);
    }

    /// Issue 9 finding 4: a symlink is refused, whether its target exists or not, and the
    /// target is neither created nor written.
    #[test]
    fn refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = create(&link).unwrap_err().to_string();
        assert!(err.contains("already exists (file or symlink)"), "{err}");
        assert!(!target.exists(), "a dangling symlink's target must not be created");
        std::fs::write(&target, b"canary").unwrap();
        assert!(create(&link).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"canary");
    }
}
