//! The local control socket of a running connection: `ikeway status` and `ikeway disconnect`
//! from other processes. A Unix socket in a directory only the owner can enter (0700) and
//! itself 0600, so only the user who connected can ask or stop.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// `$XDG_RUNTIME_DIR/ikeway`, else `/tmp/ikeway-UID`; created 0700.
pub(crate) fn runtime_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("ikeway"),
        None => {
            let uid = std::fs::metadata("/proc/self")
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                .unwrap_or(0);
            std::env::temp_dir().join(format!("ikeway-{uid}"))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

pub(crate) fn socket_path() -> Result<PathBuf> {
    Ok(runtime_dir()?.join("control.sock"))
}

/// What a request asks of the running connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Status,
    Disconnect,
}

/// Serves requests until the process ends: `status` answers `snapshot()`, `disconnect` calls
/// `on_disconnect` and answers with the snapshot at that moment.
pub(crate) fn serve(
    snapshot: Arc<Mutex<Value>>,
    on_disconnect: impl Fn() + Send + 'static,
) -> Result<PathBuf> {
    let path = socket_path()?;
    if UnixStream::connect(&path).is_ok() {
        bail!(
            "another connection is running (its control socket {} answers); `ikeway disconnect` first",
            path.display()
        );
    }
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &snapshot, &on_disconnect);
        }
    })?;
    Ok(path)
}

fn answer(stream: UnixStream, snapshot: &Mutex<Value>, on_disconnect: &dyn Fn()) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    if line.trim() == "disconnect" {
        on_disconnect();
    }
    let reply = snapshot.lock().map(|v| v.clone()).unwrap_or(Value::Null);
    let mut w = &stream;
    writeln!(w, "{reply}")?;
    Ok(())
}

/// Sends one request to the running connection; `None` when no connection is running.
pub(crate) fn ask(request: Request) -> Result<Option<Value>> {
    let path = socket_path()?;
    let Ok(stream) = UnixStream::connect(&path) else { return Ok(None) };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut w = &stream;
    writeln!(
        w,
        "{}",
        match request {
            Request::Status => "status",
            Request::Disconnect => "disconnect",
        }
    )?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(Some(serde_json::from_str(&line).context("reading the connection's answer")?))
}
