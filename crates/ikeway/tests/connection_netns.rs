//! Issue 9 findings 2 and 3 on a live connection, as root in a new mount and network namespace
//! (tmpfs over `/tmp` and `/run`, a scratch file bind-mounted over `/etc/resolv.conf`):
//! `ikeway serve` on 127.0.0.2 hands out DNS with a hostile domain and an unusable server
//! address; `sudo`-style `connect` (SUDO_UID=4242) comes up through the daemon it starts; root
//! and uid 4242 read its status, uid 65534 is refused it; only root may disconnect (uid 4242
//! and 65534 are refused with one line); resolv.conf holds only the checked values while
//! connected and is restored afterwards. Then a daemon killed with SIGKILL while connected is
//! cleaned up from its validated record by the next `disconnect`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What every script here starts with: private /tmp, /run and resolv.conf, and a copy of the
/// binary every uid can run, wherever the build tree is. $1 binary, $2 output directory.
const PROLOGUE: &str = r#"
set -eu
BIN_SRC="$1"; OUT="$2"
mount --make-rprivate /
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount --bind "$OUT/resolv.conf" /etc/resolv.conf
ip link set lo up
unset XDG_RUNTIME_DIR SUDO_UID
export XDG_CONFIG_HOME="$OUT/config"
mkdir -m 0755 /tmp/bin
cp "$BIN_SRC" /tmp/bin/ikeway
chmod 0755 /tmp/bin/ikeway
BIN=/tmp/bin/ikeway
"#;

const SCRIPT: &str = r#"
as() { # UID CMD...
    local uid="$1"; shift
    setpriv --reuid "$uid" --regid "$uid" --clear-groups "$@"
}

"$BIN" serve --local 127.0.0.2 --id srv.test --psk-file "$OUT/psk" --pool 10.88.0.10/10 \
    --dns 10.88.0.1 --dns 0.0.0.0 --domain corp.example \
    --domain "$(printf 'evil.example\nnameserver 6.6.6.6')" --duration 60 \
    >"$OUT/serve.jsonl" 2>"$OUT/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
sleep 0.5
"$BIN" config add vpn --server 127.0.0.2 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --child-encryption aes256gcm --yes >"$OUT/add.out" 2>&1

rc=0; SUDO_UID=4242 "$BIN" connect vpn --wait 20 >"$OUT/connect.out" 2>"$OUT/connect.err" || rc=$?
echo "$rc" >"$OUT/connect.rc"
cat /etc/resolv.conf >"$OUT/resolv.during"
ip route show table main proto 77 >"$OUT/routes.during"

run() { # NAME UID CMD...
    local name="$1" uid="$2"; shift 2
    local rc=0
    as "$uid" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
    echo "$rc" >"$OUT/$name.rc"
}
run status-root 0 "$BIN" status --json
run status-starter 4242 "$BIN" status --json
run status-other 65534 "$BIN" status --json
run disconnect-other 65534 "$BIN" disconnect
run disconnect-starter 4242 "$BIN" disconnect
run status-after-other 0 "$BIN" status --json
run disconnect-root 0 "$BIN" disconnect
run status-end 0 "$BIN" status

cat /etc/resolv.conf >"$OUT/resolv.after"
ip route show table main proto 77 >"$OUT/routes.after"
cp /run/ikeway/connection.log "$OUT/connection.log"

# A daemon killed without cleaning up: the next `disconnect` undoes its validated record.
rc=0; "$BIN" connect vpn --wait 20 >"$OUT/connect2.out" 2>"$OUT/connect2.err" || rc=$?
echo "$rc" >"$OUT/connect2.rc"
# Only this test's processes live in this PID namespace.
for pid in $(pgrep -x ikeway); do
    if grep -qa -- daemon "/proc/$pid/cmdline"; then kill -9 "$pid"; fi
done
sleep 0.5
cat /etc/resolv.conf >"$OUT/resolv.crashed"
ls /run/ikeway >"$OUT/run.crashed"
run disconnect-crashed 0 "$BIN" disconnect
cat /etc/resolv.conf >"$OUT/resolv.cleaned"
ip route show table main proto 77 >"$OUT/routes.cleaned"
ls /run/ikeway >"$OUT/run.cleaned"
"#;

/// systemd-resolved instead of resolv.conf: a stand-in `resolvectl` records its arguments, laid
/// over this mount namespace's /usr/bin (ikeway runs `/usr/bin/resolvectl`, never one found on
/// PATH), and resolved's socket path exists. $1 binary, $2 output directory.
const RESOLVED_SCRIPT: &str = r#"
printf '#!/bin/sh\necho "$*" >>/tmp/resolvectl.log\n' >/tmp/bin/resolvectl
chmod 0755 /tmp/bin/resolvectl
mount -t overlay overlay -o lowerdir=/tmp/bin:/usr/bin /usr/bin
mkdir -p /run/systemd/resolve
touch /run/systemd/resolve/io.systemd.Resolve

"$BIN" serve --local 127.0.0.2 --id srv.test --psk-file "$OUT/psk" --pool 10.88.0.10/10 \
    --dns 10.88.0.1 --domain corp.example --domain 'bad domain' --duration 60 \
    >"$OUT/serve.jsonl" 2>"$OUT/serve.err" &
sleep 0.5
"$BIN" config add vpn --server 127.0.0.2 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --child-encryption aes256gcm --yes >"$OUT/add.out" 2>&1
rc=0; "$BIN" connect vpn --wait 20 >"$OUT/connect.out" 2>"$OUT/connect.err" || rc=$?
echo "$rc" >"$OUT/connect.rc"
cp /tmp/resolvectl.log "$OUT/resolvectl.during"
"$BIN" disconnect >"$OUT/disconnect.out" 2>&1
cp /tmp/resolvectl.log "$OUT/resolvectl.after"
cat /etc/resolv.conf >"$OUT/resolv.after"
"#;

fn setup(name: &str) -> Option<std::path::PathBuf> {
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(name, "not root (mount and network namespaces need root)");
        return None;
    }
    for tool in ["unshare", "ip", "setpriv", "bash"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(name, &format!("{tool} is not installed"));
            return None;
        }
    }
    if !Path::new("/dev/net/tun").exists() {
        ikeway_testkit::skip(name, "/dev/net/tun is missing");
        return None;
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("resolv.conf"), ORIGINAL_RESOLV_CONF).unwrap();
    std::fs::write(out.join("psk"), "connection-netns-psk\n").unwrap();
    Some(out)
}

fn run_script(script: &str, out: &Path) {
    let status = Command::new("unshare")
        // A PID namespace too: whatever the script leaves running ends with it.
        .args(["--mount", "--net", "--pid", "--fork", "--mount-proc", "--"])
        .args(["bash", "-c", &format!("{PROLOGUE}{script}"), "bash"])
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .arg(out)
        .status()
        .expect("unshare runs");
    assert!(status.success(), "the namespace script failed (output in {})", out.display());
}

const ORIGINAL_RESOLV_CONF: &str = "# the host's\nnameserver 192.0.2.53\n";

fn read(out: &Path, file: &str) -> String {
    std::fs::read_to_string(out.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", out.display()))
}

fn json(out: &Path, file: &str) -> Value {
    serde_json::from_str(&read(out, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Issue 9 findings 2 and 3 (see the file's doc).
#[test]
fn status_and_disconnect_by_peer_credentials_and_checked_dns() {
    let Some(out) = setup("connection_netns") else { return };
    run_script(SCRIPT, &out);
    let o = out.as_path();

    assert_eq!(read(o, "connect.rc").trim(), "0", "connect: {}", read(o, "connect.err"));
    assert!(read(o, "connect.out").contains("vpn: connected"), "{}", read(o, "connect.out"));

    // Finding 3: only the checked values reach resolv.conf; the rest is reported.
    assert_eq!(
        read(o, "resolv.during"),
        "# written by ikeway for the VPN; restored on disconnect\n\
         nameserver 10.88.0.1\nsearch corp.example\n"
    );
    let log = read(o, "connection.log");
    assert!(
        log.contains(
            r#"not used from the server's configuration: domain "evil.example\nnameserver 6.6.6.6""#
        ),
        "{log}"
    );
    assert!(log.contains("not used from the server's configuration: name server 0.0.0.0"), "{log}");
    assert!(read(o, "routes.during").contains("dev ikeway0"), "{}", read(o, "routes.during"));

    // Finding 2: root and the starting user read the status; anyone else is refused.
    for who in ["status-root", "status-starter"] {
        assert_eq!(
            read(o, &format!("{who}.rc")).trim(),
            "0",
            "{who}: {}",
            read(o, &format!("{who}.err"))
        );
        assert_eq!(json(o, &format!("{who}.out"))["status"], "connected", "{who}");
    }
    let lead = "ikeway: the running connection (/run/ikeway) refused: ";
    for (who, refusal) in [
        ("status-other", "uid 65534 is neither root nor a user vpn answers to (uid 4242)"),
        ("disconnect-other", "disconnect needs root (uid 65534 asked)"),
        ("disconnect-starter", "disconnect needs root (uid 4242 asked)"),
    ] {
        assert_eq!(read(o, &format!("{who}.rc")).trim(), "1", "{who}");
        assert_eq!(read(o, &format!("{who}.err")).trim(), format!("{lead}{refusal}"), "{who}");
        assert_eq!(read(o, &format!("{who}.out")), "", "{who}: nothing but the refusal");
    }
    assert_eq!(json(o, "status-after-other.out")["status"], "connected");
    assert_eq!(read(o, "disconnect-root.rc").trim(), "0", "{}", read(o, "disconnect-root.err"));
    assert_eq!(read(o, "disconnect-root.out").trim(), "disconnected");
    assert_eq!(read(o, "status-end.out").trim(), "disconnected");

    // Undone: the host's resolv.conf byte for byte, none of our routes left.
    assert_eq!(read(o, "resolv.after"), ORIGINAL_RESOLV_CONF);
    assert_eq!(read(o, "routes.after"), "");

    // Finding 1: a crashed connection's record is validated, then undone by `disconnect`.
    assert_eq!(read(o, "connect2.rc").trim(), "0", "{}", read(o, "connect2.err"));
    assert_ne!(
        read(o, "resolv.crashed"),
        ORIGINAL_RESOLV_CONF,
        "the crash left the VPN's DNS behind"
    );
    assert!(read(o, "run.crashed").contains("host-state.json"), "{}", read(o, "run.crashed"));
    assert_eq!(
        read(o, "disconnect-crashed.rc").trim(),
        "0",
        "{}",
        read(o, "disconnect-crashed.err")
    );
    assert_eq!(
        read(o, "disconnect-crashed.out").trim(),
        "not connected; cleaned up what a crashed connection left behind"
    );
    assert_eq!(read(o, "resolv.cleaned"), ORIGINAL_RESOLV_CONF);
    assert_eq!(read(o, "routes.cleaned"), "");
    assert!(!read(o, "run.cleaned").contains("host-state.json"), "{}", read(o, "run.cleaned"));
}

/// Issue 9 finding 3: with systemd-resolved running, the checked DNS goes on the TUN link
/// (`resolvectl dns/domain ikeway0`, the invalid domain left out), `disconnect` reverts the
/// link, and /etc/resolv.conf is never touched. `serve` offers 0.0.0.0/0, so all traffic goes
/// in and so does every name (issue 14: `~.` and the link a DNS default route).
#[test]
fn resolved_gets_per_link_dns_and_resolv_conf_is_untouched() {
    let Some(out) = setup("connection_netns_resolved") else { return };
    run_script(RESOLVED_SCRIPT, &out);
    let o = out.as_path();
    assert_eq!(read(o, "connect.rc").trim(), "0", "connect: {}", read(o, "connect.err"));
    assert_eq!(
        read(o, "resolvectl.during"),
        "--version\ndns ikeway0 10.88.0.1\ndomain ikeway0 ~. corp.example\n\
         default-route ikeway0 yes\n"
    );
    assert_eq!(read(o, "disconnect.out").trim(), "disconnected");
    assert_eq!(
        read(o, "resolvectl.after"),
        // The resolver found when DNS was set is the one restored: no second detection.
        "--version\ndns ikeway0 10.88.0.1\ndomain ikeway0 ~. corp.example\n\
         default-route ikeway0 yes\nrevert ikeway0\n"
    );
    assert_eq!(read(o, "resolv.after"), ORIGINAL_RESOLV_CONF);
}

/// `connect` on a terminal (a pty from `script`) shows its phases on stderr until it is up;
/// with stderr a pipe it prints exactly what it printed before, no progress. $1 binary, $2
/// output directory.
const PROGRESS_SCRIPT: &str = r#"
"$BIN" serve --local 127.0.0.2 --id srv.test --psk-file "$OUT/psk" --pool 10.88.0.10/10 \
    --dns 10.88.0.1 --duration 60 >"$OUT/serve.jsonl" 2>"$OUT/serve.err" &
sleep 0.5
"$BIN" config add vpn --server 127.0.0.2 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --child-encryption aes256gcm --yes >"$OUT/add.out" 2>&1
rc=0; script -qfec "$BIN connect vpn --wait 20" "$OUT/tty.typescript" >/dev/null || rc=$?
echo "$rc" >"$OUT/tty.rc"
"$BIN" disconnect >"$OUT/disconnect.out" 2>&1
rc=0; "$BIN" connect vpn --wait 20 >"$OUT/pipe.out" 2>"$OUT/pipe.err" || rc=$?
echo "$rc" >"$OUT/pipe.rc"
"$BIN" disconnect >>"$OUT/disconnect.out" 2>&1
"#;

#[test]
fn connect_shows_its_phases_on_a_terminal_and_nothing_in_a_pipe() {
    if !ikeway_testkit::have("script") {
        ikeway_testkit::skip("connection_netns_progress", "script (util-linux) is not installed");
        return;
    }
    let Some(out) = setup("connection_netns_progress") else { return };
    run_script(PROGRESS_SCRIPT, &out);
    let o = out.as_path();
    assert_eq!(read(o, "tty.rc").trim(), "0", "connect on a pty: {}", read(o, "tty.typescript"));
    let tty = read(o, "tty.typescript");
    // The first phase is always drawn; later ones may fall between two redraws.
    assert!(tty.contains("vpn [1/5] resolving the server's address"), "{tty}");
    assert!(tty.contains("vpn: connected (log: /run/ikeway/connection.log)"), "{tty}");
    assert_eq!(read(o, "pipe.rc").trim(), "0", "connect in a pipe: {}", read(o, "pipe.err"));
    assert_eq!(read(o, "pipe.out"), "vpn: connected (log: /run/ikeway/connection.log)\n");
    assert_eq!(read(o, "pipe.err"), "", "no progress when stderr is not a terminal");
    assert_eq!(read(o, "disconnect.out"), "disconnected\ndisconnected\n");
}

/// `connect --foreground` stopped by a signal: SIGTERM reaches the connection's main loop at
/// once (it waits on status changes and stop requests together), which sends DELETE, waits for
/// the answer, restores routes and DNS and exits 0. The configuration keeps `config add`'s
/// (Apple's) default proposals, which `serve` accepts by default. $1 binary, $2 output
/// directory.
const SIGNAL_SCRIPT: &str = r#"
"$BIN" serve --local 127.0.0.2 --id srv.test --psk-file "$OUT/psk" --pool 10.88.0.10/10 \
    --dns 10.88.0.1 --duration 60 >"$OUT/serve.jsonl" 2>"$OUT/serve.err" &
sleep 0.5
"$BIN" config add vpn --server 127.0.0.2 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --yes >"$OUT/add.out" 2>&1
"$BIN" connect vpn --foreground >"$OUT/fg.out" 2>"$OUT/fg.err" &
FG=$!
for _ in $(seq 100); do
    "$BIN" status --json 2>/dev/null | grep -q '"status": "connected"' && break
    sleep 0.1
done
"$BIN" status --json >"$OUT/status.during" 2>&1
ip route show table main proto 77 >"$OUT/routes.during"
kill -TERM "$FG"
rc=0; wait "$FG" || rc=$?
echo "$rc" >"$OUT/fg.rc"
ip route show table main proto 77 >"$OUT/routes.after"
cat /etc/resolv.conf >"$OUT/resolv.after"
"$BIN" status >"$OUT/status.after" 2>&1
"#;

/// `connect` to a server that never answers, with a short `--wait`: the command fails with
/// the phase it reached and leaves nothing running (before, the background connection went on
/// trying after "not connected after N s"). $1 binary, $2 output directory.
const TIMEOUT_SCRIPT: &str = r#"
"$BIN" config add vpn --server 127.0.0.2 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --yes >"$OUT/add.out" 2>&1
rc=0; "$BIN" connect vpn --wait 2 >"$OUT/connect.out" 2>"$OUT/connect.err" || rc=$?
echo "$rc" >"$OUT/connect.rc"
"$BIN" status >"$OUT/status.after" 2>&1
for pid in $(pgrep -x ikeway); do tr '\0' ' ' <"/proc/$pid/cmdline"; echo; done >"$OUT/left.running"
# The TUN device goes when the session's last fd closes, just after the status says so.
for _ in $(seq 20); do ip link show ikeway0 >/dev/null 2>&1 || break; sleep 0.1; done
ip -o link show >"$OUT/links.after"
"#;

/// The same with an IPSec (IKEv1) configuration: the phase it reached is named as IKEv1 has
/// it (before, it said "IKE_SA_INIT sent", which IKEv1 never sends). $1 binary, $2 output
/// directory.
const IPSEC_TIMEOUT_SCRIPT: &str = r#"
"$BIN" config add cisco --type ipsec --server 127.0.0.2 --group ikeway-group \
    --psk-file "$OUT/psk" --yes >"$OUT/add.out" 2>&1
rc=0; "$BIN" connect cisco --wait 2 >"$OUT/connect.out" 2>"$OUT/connect.err" || rc=$?
echo "$rc" >"$OUT/connect.rc"
"$BIN" status >"$OUT/status.after" 2>&1
"#;

#[test]
fn an_ipsec_connect_that_times_out_names_the_aggressive_mode_it_sent() {
    let Some(out) = setup("connection_netns_ipsec_timeout") else { return };
    run_script(IPSEC_TIMEOUT_SCRIPT, &out);
    let o = out.as_path();
    assert_eq!(read(o, "add.out"), "saved \"cisco\"\n");
    assert_eq!(read(o, "connect.rc").trim(), "1", "{}", read(o, "connect.err"));
    assert_eq!(
        read(o, "connect.err"),
        "ikeway: not connected after 2 s (last: Aggressive Mode message sent, waiting for the \
         server); stopped it; see /run/ikeway/connection.log\n"
    );
    assert_eq!(read(o, "status.after"), "disconnected\n");
}

#[test]
fn a_connect_that_times_out_leaves_nothing_running() {
    let Some(out) = setup("connection_netns_timeout") else { return };
    run_script(TIMEOUT_SCRIPT, &out);
    let o = out.as_path();
    assert_eq!(read(o, "connect.rc").trim(), "1", "{}", read(o, "connect.err"));
    let err = read(o, "connect.err");
    assert!(
        err.starts_with("ikeway: not connected after 2 s (last: ")
            && err.contains("); stopped it; see /run/ikeway/connection.log"),
        "{err}"
    );
    assert_eq!(read(o, "status.after"), "disconnected\n");
    // The daemon `connect` started stays (it is the service); nothing else runs, and no
    // tunnel link is left (within 2 s).
    assert_eq!(
        read(o, "left.running"),
        "/tmp/bin/ikeway daemon --logged-to /run/ikeway/connection.log \n",
        "a connection process is left behind"
    );
    assert!(!read(o, "links.after").contains("ikeway"), "{}", read(o, "links.after"));
}

#[test]
fn sigterm_disconnects_a_foreground_connection_cleanly() {
    let Some(out) = setup("connection_netns_sigterm") else { return };
    run_script(SIGNAL_SCRIPT, &out);
    let o = out.as_path();
    assert_eq!(json(o, "status.during")["status"], "connected", "{}", read(o, "fg.err"));
    assert!(!read(o, "routes.during").trim().is_empty(), "routes into the tunnel while up");
    assert_eq!(read(o, "fg.rc").trim(), "0", "{}\n{}", read(o, "fg.out"), read(o, "fg.err"));
    let fg = read(o, "fg.out");
    assert!(fg.contains("vpn: Connected -> Disconnecting"), "{fg}");
    assert!(fg.contains("vpn: Disconnecting -> Disconnected"), "{fg}");
    assert_eq!(read(o, "routes.after").trim(), "", "routes restored");
    assert_eq!(read(o, "resolv.after"), ORIGINAL_RESOLV_CONF);
    assert_eq!(read(o, "status.after").trim(), "disconnected", "nothing runs any more");
    // The server heard our DELETE.
    let closed = read(o, "serve.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|e| e["event"] == "ike_sa_closed" && e["reason"] == "DeletedByPeer");
    assert!(closed, "{}", read(o, "serve.jsonl"));
}
