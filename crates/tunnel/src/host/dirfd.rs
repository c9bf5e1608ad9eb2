//! File operations root may do in a directory it does not fully trust (`/etc`, the runtime
//! directory): every one relative to an open directory fd, never through a symlink, new files
//! with `O_EXCL`, replacements through a temporary file, `fsync` and `renameat`. The binary's
//! runtime directory (which checks owner and mode when it opens the directory) and the
//! resolver's `/etc` both use these.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// An open directory and the path it was opened by (for messages only: every operation goes
/// through the fd).
#[derive(Debug)]
pub struct DirFd {
    fd: OwnedFd,
    path: PathBuf,
}

fn err(e: impl Into<io::Error>, what: String) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl DirFd {
    /// Wraps a directory fd the caller opened (and checked as it needs).
    pub fn new(fd: OwnedFd, path: PathBuf) -> Self {
        Self { fd, path }
    }

    /// Opens the directory at `path` (following symlinks in the path: `/etc` is trusted to be
    /// root's; the names inside it are not).
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(e, format!("opening {}", path.display())))?;
        Ok(Self::new(fd, path.to_owned()))
    }

    /// Another fd of the same directory.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self { fd: self.fd.try_clone()?, path: self.path.clone() })
    }

    /// The path the directory was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's fd, for `*at` calls.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn name(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    /// Reads the regular file `name` (not a symlink, owned by the directory's owner), at most
    /// `max` bytes; `None` when it does not exist.
    pub fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        let fd = match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(err(e, format!("opening {}", self.name(name)))),
        };
        let st = rustix::fs::fstat(&fd)?;
        let dir_owner = rustix::fs::fstat(&self.fd)?.st_uid;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_uid != dir_owner {
            return Err(io::Error::other(format!(
                "{} is not a regular file of the directory's owner",
                self.name(name)
            )));
        }
        let mut bytes = Vec::new();
        File::from(fd).take(max as u64 + 1).read_to_end(&mut bytes)?;
        if bytes.len() > max {
            return Err(io::Error::other(format!(
                "{} is larger than {max} bytes",
                self.name(name)
            )));
        }
        Ok(Some(bytes))
    }

    /// Creates `name` anew (`O_CREAT|O_EXCL|O_NOFOLLOW`, `mode`), removing what had the name.
    pub fn create_new(&self, name: &str, mode: u32) -> io::Result<File> {
        self.remove(name)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| err(e, format!("creating {}", self.name(name))))?;
        // The umask may have taken bits the mode asks for (never added any).
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Replaces `name` with `bytes` atomically: a new temporary file, synced, renamed over it.
    /// A symlink at `name` is replaced, never followed. A `name` that is a mount point fails
    /// with [`io::ErrorKind::ResourceBusy`].
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let tmp = format!(".{name}.ikeway-tmp");
        let mut f = self.create_new(&tmp, mode)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            err(e, format!("replacing {}", self.name(name)))
        })
    }

    /// Rewrites the existing regular file `name` in place (for a file that is a mount point,
    /// which `rename` cannot replace); never through a symlink, never creating one.
    pub fn overwrite(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| err(e, format!("opening {}", self.name(name))))?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(io::Error::other(format!("{} is not a regular file", self.name(name))));
        }
        let mut f = File::from(fd);
        f.write_all(bytes)?;
        f.sync_all()
    }

    /// Replaces `name` with a symlink to `target`, atomically (`symlinkat` + `renameat`).
    pub fn symlink_atomic(&self, name: &str, target: &str) -> io::Result<()> {
        let tmp = format!(".{name}.ikeway-link");
        self.remove(&tmp)?;
        rustix::fs::symlinkat(target, &self.fd, tmp.as_str())
            .map_err(|e| err(e, format!("creating {}", self.name(&tmp))))?;
        rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)
            .map_err(|e| err(e, format!("replacing {}", self.name(name))))
    }

    /// What `name` is, without following it: `None` when it does not exist.
    pub fn kind(&self, name: &str) -> io::Result<Option<FileType>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(err(e, self.name(name))),
        }
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &str) -> io::Result<Vec<u8>> {
        let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())
            .map_err(|e| err(e, format!("reading the link {}", self.name(name))))?;
        Ok(target.into_bytes())
    }

    /// Removes `name` (the link itself, if it is one); a missing name is not an error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(err(e, format!("removing {}", self.name(name)))),
        }
    }
}
