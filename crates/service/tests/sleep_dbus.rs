//! Sleep and resume against a real (private) `dbus-daemon`: logind's `PrepareForSleep`
//! signal, sent by a connection that owns `org.freedesktop.login1` as logind does, reaches
//! the daemon's loop as `Input::Sleep(true)` then `Input::Sleep(false)`; the same signal from
//! a connection that does not own the name, or with a body that is not one boolean, does not.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ikeway_service::Input;
use ikeway_service::sleep::{Bus, watch};

struct Private(Child);

impl Drop for Private {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `dbus-daemon` of its own (session policy: anyone may own any name), and its address.
fn private_bus(dir: &std::path::Path) -> (Private, String) {
    let mut child = Command::new("dbus-daemon")
        .arg("--session")
        .arg("--nofork")
        .arg("--nopidfile")
        .arg(format!("--address=unix:path={}", dir.join("bus").display()))
        .arg("--print-address=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Private(child), line.trim().to_owned())
}

fn emit(
    conn: &zbus::blocking::Connection,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) {
    conn.emit_signal(
        None::<()>,
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
        "PrepareForSleep",
        body,
    )
    .unwrap();
}

fn sleep_input(rx: &crossbeam_channel::Receiver<Input>, wait: Duration) -> Option<bool> {
    match rx.recv_timeout(wait) {
        Ok(Input::Sleep(going)) => Some(going),
        Ok(other) => panic!("not a sleep input: {other:?}"),
        Err(_) => None,
    }
}

#[test]
fn prepare_for_sleep_from_logind_only_reaches_the_loop() {
    if !ikeway_testkit::have("dbus-daemon") {
        ikeway_testkit::skip("sleep_dbus", "dbus-daemon is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_bus, address) = private_bus(dir.path());
    let (tx, rx) = crossbeam_channel::unbounded();
    let sleep = watch(&Bus::Address(address.clone()), tx).expect("watching the bus");

    let connect =
        || zbus::blocking::connection::Builder::address(address.as_str()).unwrap().build().unwrap();
    // Anyone on the bus sending logind's signal: not delivered (the rule names logind).
    let spoofer = connect();
    emit(&spoofer, &true);
    assert_eq!(sleep_input(&rx, Duration::from_millis(500)), None, "a look-alike was taken");

    let logind = connect();
    logind.request_name("org.freedesktop.login1").unwrap();
    // logind's name with a body that is not one boolean: ignored.
    emit(&logind, &"sleep");
    assert_eq!(sleep_input(&rx, Duration::from_millis(300)), None);
    emit(&logind, &true);
    assert_eq!(sleep_input(&rx, Duration::from_secs(5)), Some(true));
    // The daemon says the tunnel is down; then the system resumes.
    sleep.done();
    emit(&logind, &false);
    assert_eq!(sleep_input(&rx, Duration::from_secs(5)), Some(false));
    emit(&spoofer, &true);
    assert_eq!(sleep_input(&rx, Duration::from_millis(300)), None);
}
