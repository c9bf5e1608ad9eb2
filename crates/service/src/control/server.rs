//! The listening side of the control socket: one thread accepts, reads each client's one
//! request line (bounded, with a deadline) and hands it to the daemon's loop as an
//! [`Input::Control`]; the loop decides and answers. Who asks is the kernel's `SO_PEERCRED`,
//! which a peer cannot forge.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use ikeway_tunnel::host::dirfd::DirFd;

use super::protocol::{MAX_REQUEST, Reply, Request};
use crate::Input;

/// The socket's name in the runtime directory.
pub const SOCKET: &str = "control.sock";
/// How long a client may take to send its request: the accepting thread reads requests one
/// at a time, so a silent client delays the others by at most this.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Who sent a request, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub pid: i32,
}

/// One request and the client waiting for its answer.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub peer: Peer,
    stream: UnixStream,
}

impl Call {
    /// Answers and closes.
    pub fn answer(self, reply: &Reply) {
        // A client that went away is no one's problem.
        let _ = (&self.stream).write_all(&reply.to_line());
    }

    /// Keeps the client to push changes to ([`Watcher::push`]), after a first answer.
    pub fn into_watcher(self, first: &Reply) -> Option<Watcher> {
        let mut w = Watcher { stream: self.stream, peer: self.peer };
        // Never block the daemon's loop on a client that does not read: it is dropped.
        w.stream.set_nonblocking(true).ok()?;
        w.push(first).then_some(w)
    }
}

/// A client of `watch`: every change is pushed to it as one line.
#[derive(Debug)]
pub struct Watcher {
    stream: UnixStream,
    pub peer: Peer,
}

impl Watcher {
    /// Sends one line; `false` when the client is gone or does not keep up (a line that does
    /// not fit in the socket's buffer whole), and is to be dropped.
    pub fn push(&mut self, reply: &Reply) -> bool {
        let line = reply.to_line();
        matches!((&self.stream).write(&line), Ok(n) if n == line.len())
    }
}

/// The control socket, listening; its name is removed when this is dropped.
#[derive(Debug)]
pub struct ControlServer {
    dir: Arc<DirFd>,
}

/// Why the control socket could not listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    #[error("another ikeway connection or daemon answers at {0}; `ikeway disconnect` it first")]
    InUse(String),
    #[error("listening at {path}: {source}")]
    Io { path: String, source: io::Error },
}

impl ControlServer {
    /// Listens at [`SOCKET`] in `dir` (the checked runtime directory) and sends every request
    /// to `inputs`. The socket is 0666: who may ask what is decided per request by peer
    /// credentials, so a refused user gets a reason rather than `EACCES`.
    pub fn bind(dir: Arc<DirFd>, inputs: Sender<Input>) -> Result<Self, BindError> {
        let path = dir.path().join(SOCKET);
        let shown = path.display().to_string();
        if UnixStream::connect(&path).is_ok() {
            return Err(BindError::InUse(shown));
        }
        let io = |source| BindError::Io { path: shown.clone(), source };
        dir.remove(SOCKET).map_err(io)?;
        let listener = UnixListener::bind(&path).map_err(io)?;
        // The directory is ours and writable by us alone, so the name still is the socket.
        rustix::fs::chmodat(
            dir.fd(),
            SOCKET,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::AtFlags::empty(),
        )
        .map_err(|e| io(e.into()))?;
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    if let Some(input) = read_call(stream)
                        && inputs.send(input).is_err()
                    {
                        return;
                    }
                }
            })
            .map_err(io)?;
        Ok(Self { dir })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = self.dir.remove(SOCKET);
    }
}

/// The client's request, or `None` after answering a malformed one with its error.
fn read_call(stream: UnixStream) -> Option<Input> {
    let cred = rustix::net::sockopt::socket_peercred(&stream).ok()?;
    let peer = Peer { uid: cred.uid.as_raw(), pid: cred.pid.as_raw_nonzero().get() };
    stream.set_read_timeout(Some(REQUEST_DEADLINE)).ok()?;
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(256));
    // One byte past the limit tells a long line from one that just fits.
    let read = BufReader::new((&stream).take(MAX_REQUEST as u64 + 1)).read_until(b'\n', &mut line);
    if read.is_err() {
        return None;
    }
    match Request::parse(&line) {
        Ok(request) => Some(Input::Control(Call { request, peer, stream })),
        Err(e) => {
            let _ = (&stream).write_all(&Reply::Error(e.to_string()).to_line());
            None
        }
    }
}
