//! Finding the control socket of the running daemon (or `connect --foreground`) and asking
//! it; the protocol itself is `ikeway_service::control`'s.
//!
//! The socket is `control.sock` in root's runtime directory (`/run/ikeway`), or in this
//! user's own. Who may ask what is decided by the daemon from the kernel's `SO_PEERCRED`:
//! root may do everything; the configuration's owner may read the status; anyone else gets
//! one refusal line. Clients check the other way too: the listening process must be root or
//! themselves.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use ikeway_service::control::client::{self, Answers, ClientError};
use ikeway_service::control::{Reply, Request, SOCKET};
use serde_json::Value;

use super::runtime_dir::{self, Dir};

/// The user a connection started by root answers to besides root: the one sudo says ran it.
pub(crate) fn starting_uid() -> Option<u32> {
    let euid = rustix::process::geteuid().as_raw();
    if euid != 0 {
        return Some(euid);
    }
    std::env::var("SUDO_UID").ok().and_then(|u| u.parse().ok()).filter(|&u| u != 0)
}

/// The runtime directories a client looks in, first root's, then this user's own.
fn candidates() -> Vec<(PathBuf, u32)> {
    let euid = rustix::process::geteuid().as_raw();
    let mut dirs = vec![(PathBuf::from(runtime_dir::ROOT_DIR), 0)];
    if euid != 0
        && let Ok((parent, _)) = runtime_dir::home_parent()
    {
        dirs.push((parent.join("ikeway"), euid));
    }
    dirs
}

/// A connected control socket and where it is (for messages).
#[derive(Debug)]
pub(crate) struct Socket {
    stream: UnixStream,
    dir: PathBuf,
}

/// The control socket that answers, checked: served by root or by us. `None` when nothing
/// listens.
pub(crate) fn open() -> Result<Option<Socket>> {
    let euid = rustix::process::geteuid().as_raw();
    for (path, owner) in candidates() {
        let Some(dir) = Dir::existing(&path, owner)? else { continue };
        let Ok(stream) = UnixStream::connect(dir.path().join(SOCKET)) else { continue };
        let server = rustix::net::sockopt::socket_peercred(&stream)?.uid.as_raw();
        if server != 0 && server != euid {
            bail!(
                "{} is served by uid {server}, neither root nor us: not talking to it",
                dir.path().join(SOCKET).display()
            );
        }
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        return Ok(Some(Socket { stream, dir: dir.path().to_owned() }));
    }
    Ok(None)
}

impl Socket {
    /// One request and its answer: a snapshot or an event; a refusal is an error in the
    /// daemon's words.
    pub(crate) fn ask(&self, request: &Request) -> Result<Value> {
        match client::exchange(&self.stream, request)? {
            Reply::Snapshot(v) | Reply::Event(v) => Ok(v),
            Reply::Error(why) => Err(self.refused(&why)),
            _ => bail!("an answer this ikeway does not know"),
        }
    }

    fn refused(&self, why: &str) -> anyhow::Error {
        anyhow!("the running connection ({}) {why}", self.dir.display())
    }

    /// Sends `watch`; the answers follow, one per change, until either side closes.
    pub(crate) fn watch(self) -> Result<Watch> {
        use std::io::Write;
        (&self.stream).write_all(&Request::Watch.to_line())?;
        Ok(Watch { dir: self.dir.clone(), answers: Answers::new(self.stream) })
    }
}

/// The pushed answers of a `watch`.
#[derive(Debug)]
pub(crate) struct Watch {
    dir: PathBuf,
    answers: Answers<UnixStream>,
}

impl Watch {
    /// Waits at most `timeout` (`None`: for ever) for the next answer; `Ok(None)` when the
    /// daemon closed the stream (it ended).
    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Reply>> {
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.answers.get_ref().set_read_timeout(timeout)?;
        match self.answers.next_reply() {
            Ok(Some(Reply::Error(why))) => {
                Err(anyhow!("the running connection ({}) {why}", self.dir.display()))
            }
            Ok(r) => Ok(r),
            Err(ClientError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(TimedOut.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// No answer within the time given.
#[derive(Debug, thiserror::Error)]
#[error("no answer in time")]
pub(crate) struct TimedOut;

/// Sends one request to whatever answers; `None` when nothing runs.
pub(crate) fn ask(request: &Request) -> Result<Option<Value>> {
    match open()? {
        Some(socket) => socket.ask(request).map(Some),
        None => Ok(None),
    }
}
