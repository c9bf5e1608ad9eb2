//! Sleep and resume (`disconnectOnSleep`): logind's `PrepareForSleep(true)` before the system
//! sleeps and `PrepareForSleep(false)` after it resumed, read from the system bus with zbus's
//! blocking API on a thread of its own, each one an [`Input::Sleep`] for the daemon.
//!
//! Only logind's own signal counts: the match rule names the sender
//! `org.freedesktop.login1`, which the bus delivers from the owner of that name alone (on the
//! system bus, logind; the bus policy lets no one else own it), so a local user cannot make
//! the daemon drop the VPN by sending a look-alike signal.
//!
//! The system sleeps once every delay inhibitor is released (at most logind's
//! `InhibitDelayMaxSec`, 5 s by default): the watch holds one (`Inhibit("sleep", ...,
//! "delay")`) while awake and releases it once the daemon says the tunnel is down
//! ([`SleepWatch::done`]), or after [`RELEASE_AFTER`] at the latest; it takes a new one on
//! resume. A bus without logind (the inhibitor refused) still gets the signals.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::OwnedFd;

use crate::Input;

const LOGIND: &str = "org.freedesktop.login1";
const LOGIND_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
/// The longest sleep is held up for the tunnel to go down: the DELETE's grace and a margin.
pub const RELEASE_AFTER: Duration = Duration::from_secs(4);

/// Which bus to watch.
#[derive(Debug, Clone)]
pub enum Bus {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else its standard socket).
    System,
    /// A bus at this address (tests: a private `dbus-daemon`).
    Address(String),
}

/// The running watch: tell it when the tunnel is down so the system may sleep.
#[derive(Debug, Clone)]
pub struct SleepWatch {
    done: Sender<()>,
}

impl SleepWatch {
    /// The tunnel is down (or had nothing to do): release the sleep inhibitor now.
    pub fn done(&self) {
        let _ = self.done.try_send(());
    }
}

/// Starts watching `bus` for logind's `PrepareForSleep`, sending [`Input::Sleep`] to `inputs`.
pub fn watch(bus: &Bus, inputs: Sender<Input>) -> Result<SleepWatch, zbus::Error> {
    let conn = match bus {
        Bus::System => Connection::system()?,
        Bus::Address(a) => zbus::blocking::connection::Builder::address(a.as_str())?.build()?,
    };
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(LOGIND)?
        .path(LOGIND_PATH)?
        .interface(MANAGER)?
        .member("PrepareForSleep")?
        .build();
    let signals = MessageIterator::for_match_rule(rule, &conn, Some(16))?;
    let (done, released) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("sleep-watch".into())
        .spawn(move || run(&conn, signals, &inputs, &released))
        .map_err(|e| zbus::Error::InputOutput(std::sync::Arc::new(e)))?;
    Ok(SleepWatch { done })
}

fn run(conn: &Connection, signals: MessageIterator, inputs: &Sender<Input>, done: &Receiver<()>) {
    let mut inhibitor = inhibit(conn);
    for message in signals {
        let Ok(message) = message else { continue };
        // A signal whose body is not one boolean is not logind's: ignored.
        let Ok(going) = message.body().deserialize::<bool>() else { continue };
        // A `done` left over from an earlier sleep is not this one's.
        while done.try_recv().is_ok() {}
        if inputs.send(Input::Sleep(going)).is_err() {
            return;
        }
        if going {
            let _ = done.recv_timeout(RELEASE_AFTER);
            inhibitor = None;
        } else if inhibitor.is_none() {
            inhibitor = inhibit(conn);
        }
    }
    drop(inhibitor);
}

/// A delay inhibitor for sleep, while logind grants one.
fn inhibit(conn: &Connection) -> Option<OwnedFd> {
    let reply = conn
        .call_method(
            Some(LOGIND),
            LOGIND_PATH,
            Some(MANAGER),
            "Inhibit",
            &("sleep", "ikeway", "disconnecting the VPN before sleep (disconnectOnSleep)", "delay"),
        )
        .ok()?;
    reply.body().deserialize::<OwnedFd>().ok()
}
