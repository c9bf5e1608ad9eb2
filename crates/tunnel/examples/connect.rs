//! A PSK client: connect, print every event, disconnect after a while.
//!
//! ```text
//! cargo run -p ikeway-tunnel --example connect -- LOCAL SERVER ID REMOTE_ID PSK_FILE [SECONDS]
//! ```
//! Prints one JSON line per event with `IKEWAY_JSON=1`. Needs CAP_NET_BIND_SERVICE (UDP 500).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{CLIENT_CONFIG_REQUEST, Config};
use ikeway_tunnel::{EventKind, Session, SessionOptions, Status};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [local, server, id, remote_id, psk_file, rest @ ..] = args.as_slice() else {
        return Err("usage: connect LOCAL SERVER ID REMOTE_ID PSK_FILE [SECONDS]".into());
    };
    let seconds: u64 = rest.first().map_or(Ok(5), |s| s.parse())?;
    let psk = std::fs::read_to_string(psk_file)?;
    let psk = SecretBytes::from_slice(psk.lines().next().unwrap_or_default().as_bytes());
    let mut config = Config::new(IdRepr::from_value(IdValue::Fqdn(id)), psk);
    config.remote_id = Some(IdRepr::from_value(IdValue::Fqdn(remote_id)));
    config.config_request = CLIENT_CONFIG_REQUEST.to_vec();

    let session =
        Session::start(SessionOptions::initiator(local.parse()?, server.parse()?, config))?;
    let json = std::env::var_os("IKEWAY_JSON").is_some();
    let mut connected = false;
    loop {
        let event = match session.events().recv_timeout(Duration::from_secs(seconds)) {
            Ok(event) => event,
            Err(_) if connected => {
                session.handle().disconnect(Duration::from_secs(3))?;
                continue;
            }
            Err(_) => return Err("no connection".into()),
        };
        println!("{}", if json { event.to_json() } else { event.to_string() });
        match event.kind {
            EventKind::Status { status: Status::Connected } => connected = true,
            EventKind::Status { status: Status::Disconnected } => break,
            _ => {}
        }
    }
    Ok(session.wait()?)
}
