//! The runtime directory of a connection (host-state record, log, control socket), checked
//! after opening; the file operations in it are `ikeway_tunnel::host::dirfd`'s: every one
//! relative to the directory fd, never through a symlink, new files with `O_EXCL`,
//! replacements through a temporary file and `renameat`.
//!
//! Root uses `/run/ikeway` (mode 0711: other users may reach the control socket by name, see
//! `control.rs`, but neither list nor create anything); any other user
//! `$XDG_RUNTIME_DIR/ikeway` (0700). There is no fallback to a shared directory such as
//! `/tmp`, where another user can create the directory first.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ikeway_tunnel::host::dirfd::DirFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Root's runtime directory.
pub(crate) const ROOT_DIR: &str = "/run/ikeway";
/// Root's directory lets others reach the control socket by name, nothing else.
pub(crate) const ROOT_MODE: u32 = 0o711;
pub(crate) const USER_MODE: u32 = 0o700;

/// An open directory, checked once, and the path it was opened by (for messages).
#[derive(Debug)]
pub(crate) struct Dir {
    files: DirFd,
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn open_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

impl Dir {
    /// This user's runtime directory, created if missing: root's `/run/ikeway`, anyone
    /// else's `$XDG_RUNTIME_DIR/ikeway`.
    pub(crate) fn for_connection() -> Result<Self> {
        let (parent, mode) = home_parent()?;
        Self::create_in(&parent, "ikeway", euid(), mode)
    }

    /// Creates `parent/name` with `mkdir` (or opens the one there) and checks it: a directory,
    /// not a symlink, owned by `owner`, writable by nobody else; then sets `mode` exactly.
    pub(crate) fn create_in(parent: &Path, name: &str, owner: u32, mode: u32) -> Result<Self> {
        let path = parent.join(name);
        let parent_fd = rustix::fs::open(parent, open_flags() & !OFlags::NOFOLLOW, Mode::empty())
            .with_context(|| format!("opening {}", parent.display()))?;
        let created = match rustix::fs::mkdirat(&parent_fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => bail!("creating {}: {e}", path.display()),
        };
        let fd = open_checked(&parent_fd, name, &path, owner, OFlags::RDONLY)?;
        if created || rustix::fs::fstat(&fd)?.st_mode & 0o7777 != mode {
            // mkdir's mode went through the umask; an older ikeway made it 0700.
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
        Ok(Self { files: DirFd::new(fd, path) })
    }

    /// An existing directory at `path`, checked as in [`Self::create_in`]; `None` when there
    /// is none. Opened `O_PATH`: a client of root's 0711 directory may search it, not read it.
    pub(crate) fn existing(path: &Path, owner: u32) -> Result<Option<Self>> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            bail!("{} is not a directory path", path.display())
        };
        let parent_fd =
            match rustix::fs::open(parent, open_flags() & !OFlags::NOFOLLOW, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => bail!("opening {}: {e}", parent.display()),
            };
        match open_checked(&parent_fd, name, path, owner, OFlags::PATH) {
            Ok(fd) => Ok(Some(Self { files: DirFd::new(fd, path.to_owned()) })),
            Err(e) if e.downcast_ref::<Errno>() == Some(&Errno::NOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.files.path()
    }

    /// The directory's fd-relative file operations (never through a symlink).
    pub(crate) fn files(&self) -> &DirFd {
        &self.files
    }

    /// Reads the regular file `name` (not a symlink, owned by the directory's owner), at most
    /// `max` bytes; `None` when it does not exist.
    pub(crate) fn read(&self, name: &str, max: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.files.read(name, max)?)
    }

    /// Creates `name` anew (`O_CREAT|O_EXCL|O_NOFOLLOW`, `mode`), removing what had the name.
    pub(crate) fn create_new(&self, name: &str, mode: u32) -> Result<File> {
        Ok(self.files.create_new(name, mode)?)
    }
}

/// This user's runtime directory if it exists (checked), without creating it.
pub(crate) fn home_existing() -> Result<Option<Dir>> {
    let (parent, _) = home_parent()?;
    Dir::existing(&parent.join("ikeway"), euid())
}

/// Where this user's runtime directory goes (its parent) and its mode.
pub(crate) fn home_parent() -> Result<(PathBuf, u32)> {
    if euid() == 0 {
        return Ok((PathBuf::from("/run"), ROOT_MODE));
    }
    let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) else {
        bail!(
            "XDG_RUNTIME_DIR is not set: ikeway keeps its runtime files only there (or in \
             {ROOT_DIR} as root), never in a shared directory such as /tmp"
        );
    };
    let xdg = PathBuf::from(xdg);
    if !xdg.is_absolute() {
        bail!("XDG_RUNTIME_DIR {} is not an absolute path", xdg.display());
    }
    let st =
        rustix::fs::stat(&xdg).with_context(|| format!("XDG_RUNTIME_DIR {}", xdg.display()))?;
    if st.st_uid != euid() {
        bail!("XDG_RUNTIME_DIR {} belongs to uid {}, not to us", xdg.display(), st.st_uid);
    }
    Ok((xdg, USER_MODE))
}

/// Opens `parent/name` as a directory without following a symlink, and checks the opened
/// directory itself (`fstat`, so no one can swap it between the check and the use).
fn open_checked(
    parent: &OwnedFd,
    name: impl AsRef<Path>,
    path: &Path,
    owner: u32,
    access: OFlags,
) -> Result<OwnedFd> {
    let fd = match rustix::fs::openat(parent, name.as_ref(), open_flags() | access, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Err(anyhow::Error::new(Errno::NOENT)),
        Err(Errno::LOOP | Errno::NOTDIR) => bail!(
            "{} is not a directory (a symlink or a file): refusing to use it; remove it",
            path.display()
        ),
        Err(e) => bail!("opening {}: {e}", path.display()),
    };
    let st = rustix::fs::fstat(&fd)?;
    if st.st_uid != owner {
        bail!(
            "{} belongs to uid {}, not {owner}: refusing to use a directory another user made",
            path.display(),
            st.st_uid
        );
    }
    if st.st_mode & 0o022 != 0 {
        bail!(
            "{} is writable by others (mode {:o}): refusing to use it",
            path.display(),
            st.st_mode & 0o7777
        );
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// Issue 9 finding 1: the directory is made with mkdir and its mode set exactly.
    #[test]
    fn creates_the_directory_with_its_mode() {
        let parent = tempfile::tempdir().unwrap();
        let d = Dir::create_in(parent.path(), "ikeway", euid(), 0o700).unwrap();
        assert_eq!(mode(d.path()), 0o700);
        // An older ikeway's 0700 directory becomes root's 0711.
        let d = Dir::create_in(parent.path(), "ikeway", euid(), 0o711).unwrap();
        assert_eq!(mode(d.path()), 0o711);
    }

    /// Issue 9 finding 1: a symlink where the directory should be is refused, even when it
    /// points at a directory we own.
    #[test]
    fn refuses_a_symlinked_directory() {
        let parent = tempfile::tempdir().unwrap();
        let elsewhere = parent.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, parent.path().join("ikeway")).unwrap();
        let err = Dir::create_in(parent.path(), "ikeway", euid(), 0o700).unwrap_err();
        assert!(err.to_string().contains("is not a directory (a symlink or a file)"), "{err}");
        assert!(Dir::existing(&parent.path().join("ikeway"), euid()).is_err());
    }

    /// Issue 9 finding 1: a directory another user made, or one others may write, is refused.
    #[test]
    fn refuses_a_directory_of_another_owner_or_writable_by_others() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("ikeway");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Dir::create_in(parent.path(), "ikeway", euid(), 0o700).unwrap_err();
        assert!(err.to_string().contains("is writable by others (mode 777)"), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let other = euid() + 1;
        let err = Dir::create_in(parent.path(), "ikeway", other, 0o700).unwrap_err();
        assert!(
            err.to_string().contains(&format!("belongs to uid {}, not {other}", euid())),
            "{err}"
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), euid());
    }

    /// Issue 9 finding 1: files are never opened through a symlink: reading one is refused,
    /// and creating or atomically replacing one replaces the link, not its target.
    #[test]
    fn files_are_never_opened_through_symlinks() {
        let parent = tempfile::tempdir().unwrap();
        let d = Dir::create_in(parent.path(), "ikeway", euid(), 0o700).unwrap();
        let canary = parent.path().join("canary");
        std::fs::write(&canary, "canary").unwrap();
        for name in ["host-state.json", ".host-state.json.ikeway-tmp", "connection.log"] {
            std::os::unix::fs::symlink(&canary, d.path().join(name)).unwrap();
        }
        let err = d.read("host-state.json", 1024).unwrap_err();
        assert!(err.to_string().contains("opening"), "{err}");
        d.files().write_atomic("host-state.json", b"{}", 0o600).unwrap();
        d.create_new("connection.log", 0o600).unwrap().write_all(b"log").unwrap();
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
        assert_eq!(d.read("host-state.json", 1024).unwrap().unwrap(), b"{}");
        assert_eq!(mode(&d.path().join("host-state.json")), 0o600);
        assert!(!d.path().join(".host-state.json.ikeway-tmp").exists());
        assert_eq!(std::fs::read_to_string(d.path().join("connection.log")).unwrap(), "log");
        assert_eq!(d.read("missing", 10).unwrap(), None);
        assert!(d.read("host-state.json", 1).unwrap_err().to_string().contains("larger than 1"));
    }
}
