//! The local control socket of a running connection: `ikeway status` and `ikeway disconnect`
//! from other processes.
//!
//! The socket is `control.sock` in the connection's runtime directory (`/run/ikeway` for
//! root). Who may ask is decided per connection by the kernel's `SO_PEERCRED`, which a peer
//! cannot forge: root and the user who started the connection (`SUDO_UID` when root was
//! reached through sudo, else the connecting uid itself) get answers; anyone else gets one
//! refusal line and nothing else. So the socket itself is 0666 in a directory others may only
//! traverse (0711, see `runtime_dir.rs`): a non-root `ikeway status` finds root's connection,
//! and the refusal can say why. Clients check the other way too: the listening process must be
//! root or themselves.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::runtime_dir::{self, Dir};

const SOCKET: &str = "control.sock";
/// A request is one short word; a longer line is not one.
const MAX_REQUEST: u64 = 64;

/// What a request asks of the running connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Status,
    Disconnect,
}

/// The user a connection started by root answers to besides root: the one sudo says ran it.
pub(crate) fn starting_uid() -> u32 {
    let euid = rustix::process::geteuid().as_raw();
    if euid != 0 {
        return euid;
    }
    std::env::var("SUDO_UID").ok().and_then(|u| u.parse().ok()).unwrap_or(0)
}

/// Whether a peer of uid `peer` may ask a connection started by `owner`.
pub(crate) fn allowed(peer: u32, owner: u32) -> bool {
    peer == 0 || peer == owner
}

/// Serves requests until the process ends: `status` answers `snapshot()`, `disconnect` calls
/// `on_disconnect` and answers with the snapshot at that moment. Only root and `owner` are
/// answered.
pub(crate) fn serve(
    dir: &Arc<Dir>,
    owner: u32,
    snapshot: impl Fn() -> Value + Send + 'static,
    on_disconnect: impl Fn() + Send + 'static,
) -> Result<Listening> {
    if ask(Request::Status)?.is_some() {
        bail!(
            "another connection is running (its control socket answers); `ikeway disconnect` first"
        );
    }
    dir.remove(SOCKET)?;
    let path = dir.path().join(SOCKET);
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    // The directory is ours and writable by us alone, so the name still is the socket.
    rustix::fs::chmodat(
        dir.fd(),
        SOCKET,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::AtFlags::empty(),
    )?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, owner, &snapshot, &on_disconnect);
        }
    })?;
    Ok(Listening { dir: Arc::clone(dir) })
}

/// The socket's name, removed when the connection ends, on every way out.
#[derive(Debug)]
pub(crate) struct Listening {
    dir: Arc<Dir>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.dir.remove(SOCKET);
    }
}

fn answer(
    stream: UnixStream,
    owner: u32,
    snapshot: &dyn Fn() -> Value,
    on_disconnect: &dyn Fn(),
) -> Result<()> {
    // Decided before reading anything, so a refused peer cannot hold the thread either.
    let peer = rustix::net::sockopt::socket_peercred(&stream)?.uid.as_raw();
    let mut w = &stream;
    if !allowed(peer, owner) {
        let refusal = format!(
            "refused: uid {peer} is neither root nor uid {owner}, who started this connection"
        );
        writeln!(w, "{}", json!({ "error": refusal }))?;
        return Ok(());
    }
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    if line.trim() == "disconnect" {
        on_disconnect();
    }
    let reply = snapshot();
    // One write of the whole line: `writeln!` on the socket sends a Value token by token, and
    // a connection that exits meanwhile (after a disconnect) left the reader half a reply.
    w.write_all(format!("{reply}\n").as_bytes())?;
    Ok(())
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

/// A connection that accepted a request and closed without a word: it is ending (its control
/// thread goes with the process), which a caller waiting for the end takes as "not yet".
#[derive(Debug, thiserror::Error)]
#[error("the connection closed without answering (it is ending)")]
pub(crate) struct Ending;

/// Sends one request to the running connection; `None` when no connection is running. A
/// refusal by the connection is an error with its reason; no answer at all is [`Ending`].
pub(crate) fn ask(request: Request) -> Result<Option<Value>> {
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
        return exchange(&stream, request).map(Some).map_err(|e| match e.downcast::<Refused>() {
            Ok(Refused(why)) => anyhow!("the running connection ({}) {why}", dir.path().display()),
            Err(e) => e,
        });
    }
    Ok(None)
}

/// The connection's own refusal, as it worded it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// One request and its one-line answer on a connected stream.
fn exchange(stream: &UnixStream, request: Request) -> Result<Value> {
    let mut w = stream;
    let word = match request {
        Request::Status => "status",
        Request::Disconnect => "disconnect",
    };
    // A refusing server has closed its end already; its reason is still to be read.
    let _ = writeln!(w, "{word}");
    let mut line = String::new();
    // A process that exits with our request unread resets the socket instead of closing it.
    match BufReader::new(stream.take(1 << 20)).read_line(&mut line) {
        Ok(0) => return Err(Ending.into()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Err(Ending.into()),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let reply: Value = serde_json::from_str(&line).context("reading the connection's answer")?;
    if let Some(e) = reply.get("error").and_then(Value::as_str) {
        return Err(Refused(e.to_owned()).into());
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that ends while `disconnect` waits for it accepts and closes without a
    /// word (or resets with our request unread): that is [`Ending`], which the waiting loop
    /// takes as "not yet" (it failed `disconnect` with "EOF while parsing a value" before).
    #[test]
    fn a_connection_closing_without_an_answer_is_ending() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        let e = exchange(&ours, Request::Status).unwrap_err();
        assert!(e.is::<Ending>(), "{e:#}");

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"status\": \"conn").unwrap();
        drop(theirs);
        let e = exchange(&ours, Request::Status).unwrap_err();
        assert!(!e.is::<Ending>(), "half an answer is not an ending: {e:#}");
        assert!(format!("{e:#}").starts_with("reading the connection's answer: "), "{e:#}");

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"error\": \"refuses uid 1001\"}\n").unwrap();
        let e = exchange(&ours, Request::Disconnect).unwrap_err();
        assert_eq!(e.downcast::<Refused>().unwrap().0, "refuses uid 1001");

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"status\": \"connected\"}\n").unwrap();
        let reply = exchange(&ours, Request::Status).unwrap();
        assert_eq!(reply["status"], "connected");
        let mut asked = String::new();
        BufReader::new(&theirs).read_line(&mut asked).unwrap();
        assert_eq!(asked, "status\n");
    }

    /// Issue 9 finding 2: root and the starting user are answered, nobody else.
    #[test]
    fn only_root_and_the_starting_user_are_allowed() {
        assert!(allowed(0, 1000));
        assert!(allowed(1000, 1000));
        assert!(!allowed(1001, 1000));
        assert!(!allowed(65534, 0));
        assert!(allowed(0, 0));
    }
}
