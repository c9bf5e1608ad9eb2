//! Issue 9 finding 1, proved on the real binary as root: another user's `/tmp/ikeway-0` full of
//! symlinks (and a planted host-state record) is never used, and a `/run/ikeway` another user
//! made is refused. Each run is isolated from the host: a new mount and network namespace
//! (`unshare --mount --net`), tmpfs over `/tmp` and `/run`, a scratch file bind-mounted over
//! `/etc/resolv.conf`, and a server address that has no route in the empty namespace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs inside the namespaces: $1 binary, $2 output directory, $3 scenario.
const SCRIPT: &str = r#"
set -eu
BIN="$1"; OUT="$2"; SCENARIO="$3"
mount --make-rprivate /
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount --bind "$OUT/resolv.conf" /etc/resolv.conf
unset XDG_RUNTIME_DIR SUDO_UID
export XDG_CONFIG_HOME="$OUT/config"

# The attacker (uid 65534) prepares what root used to trust.
mkdir -p /tmp/canary
for f in shadow log sock state; do echo "canary $f" >"/tmp/canary/$f"; done
plant() { # DIR
    mkdir -p "$1"
    ln -s /tmp/canary/state "$1/host-state.tmp"
    ln -s /tmp/canary/log "$1/connection.log"
    ln -s /tmp/canary/sock "$1/control.sock"
    ln -s /tmp/canary/shadow "$1/.host-state.json.ikeway-tmp"
    printf '%s' '{"tun":"ikeway0","routes":["10.0.0.0/8"],"server_route":["route","flush"],"resolv_conf":"nameserver 6.6.6.6\n"}' >"$1/host-state.json"
    chown -hR 65534:65534 "$1"
    chmod 0777 "$1"
}
plant /tmp/ikeway-0
if [ "$SCENARIO" = attacker-run-dir ]; then plant /run/ikeway; fi
# A copy any uid can run, wherever the build tree is.
mkdir -m 0755 /tmp/bin && cp "$BIN" /tmp/bin/ikeway && chmod 0755 /tmp/bin/ikeway
touch -h -d '2001-01-01 00:00:00' /tmp/canary/* /tmp/ikeway-0/* /tmp/ikeway-0 /tmp/canary

snapshot() {
    find /tmp -printf '%p %y %U %m %T@ %s %l\n' | sort
    for f in /tmp/canary/*; do echo "$f: $(cat "$f")"; done
    echo "resolv.conf: $(cat /etc/resolv.conf)"
}
snapshot >"$OUT/before"

"$BIN" config add vpn --server 10.255.0.1 --remote-id srv.test --local-id cli.test \
    --psk-file "$OUT/psk" --yes >"$OUT/add.out" 2>&1
rc=0; "$BIN" connect vpn --wait 10 >"$OUT/connect.out" 2>"$OUT/connect.err" || rc=$?
echo "$rc" >"$OUT/connect.rc"
rc=0; "$BIN" disconnect >"$OUT/disconnect.out" 2>"$OUT/disconnect.err" || rc=$?
echo "$rc" >"$OUT/disconnect.rc"

# Another user without XDG_RUNTIME_DIR, while root's daemon runs: the daemon refuses them.
user_connect() { # NAME
    rc=0; setpriv --reuid 65534 --regid 65534 --clear-groups /tmp/bin/ikeway connect vpn \
        >"$OUT/$1.out" 2>"$OUT/$1.err" || rc=$?
    echo "$rc" >"$OUT/$1.rc"
}
user_connect user-connect
if [ -d /run/ikeway ]; then
    stat -c '%U %a %F' /run/ikeway >"$OUT/run-ikeway"
    (cd /run/ikeway && find . -mindepth 1 -printf '%p %y %U %m\n' | sort) >"$OUT/run-ikeway.ls"
fi
# With no daemon to ask, the same user is refused too: no fallback to /tmp. (Only this PID
# namespace's processes are seen: --mount-proc.)
pkill -TERM -x ikeway || true
for _ in $(seq 100); do pgrep -x ikeway >/dev/null || break; sleep 0.1; done
user_connect user-connect-alone

snapshot >"$OUT/after"
"#;

struct Run {
    out: PathBuf,
}

impl Run {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.out.join(file))
            .unwrap_or_else(|e| panic!("{}/{file}: {e}", self.out.display()))
    }
}

fn run(scenario: &str) -> Option<Run> {
    let test = format!("runtime_dir_netns {scenario}");
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(&test, "not root (mount and network namespaces need root)");
        return None;
    }
    for tool in ["unshare", "ip", "bash"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(&test, &format!("{tool} is not installed"));
            return None;
        }
    }
    // Outside /tmp and /run, which the namespace covers with its own tmpfs.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("runtime-dir-{scenario}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    std::fs::write(out.join("psk"), "runtime-dir-test-psk\n").unwrap();
    let status = Command::new("unshare")
        // A PID namespace too: whatever the script leaves running ends with it.
        .args(["--mount", "--net", "--pid", "--fork", "--mount-proc", "--"])
        .args(["bash", "-c", SCRIPT, "bash"])
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .arg(&out)
        .arg(scenario)
        .status()
        .expect("unshare runs");
    assert!(status.success(), "the namespace script failed (output in {})", out.display());
    Some(Run { out })
}

/// The attacker's tree and every canary, byte for byte, with modes, owners and mtimes; and the
/// scratch resolv.conf.
fn assert_untouched(r: &Run) {
    let (before, after) = (r.read("before"), r.read("after"));
    assert!(before.contains("/tmp/ikeway-0/control.sock l 65534 777"), "{before}");
    assert!(before.contains("/tmp/canary/shadow: canary shadow"), "{before}");
    assert_eq!(before, after, "something outside the runtime directory changed");
    assert!(after.contains("resolv.conf: nameserver 192.0.2.53"), "{after}");
}

/// Issue 9 finding 1: root with XDG_RUNTIME_DIR unset ignores another user's `/tmp/ikeway-0`
/// (symlinks to canaries, a planted host-state record that would rewrite resolv.conf and flush
/// routes): it uses a root-owned `/run/ikeway` (0711) for the daemon it starts, `connect` fails
/// only because the server is unreachable, `disconnect` finds nothing to undo, and no file
/// outside changes. A non-root user without XDG_RUNTIME_DIR is refused by root's daemon while
/// it runs, and without it is refused instead of falling back to /tmp.
#[test]
fn root_ignores_another_users_tmp_directory() {
    let Some(r) = run("attacker-tmp") else { return };
    assert_eq!(r.read("connect.rc").trim(), "1", "connect: {}", r.read("connect.err"));
    assert_eq!(
        r.read("connect.err"),
        "ikeway: vpn: starting the tunnel: NoNetworkAvailable: the VPN connection failed: no route to 10.255.0.1: \
         Network is unreachable (os error 101) (log: /run/ikeway/connection.log)\n"
    );
    assert_eq!(r.read("run-ikeway").trim(), "root 711 directory");
    // The daemon `connect` started (its kept status, its log, its socket) and nothing else.
    assert_eq!(
        r.read("run-ikeway.ls"),
        "./connection-state.json f 0 600\n./connection.log f 0 600\n./control.sock s 0 666\n"
    );
    assert_eq!(r.read("disconnect.rc").trim(), "0", "{}", r.read("disconnect.err"));
    assert_eq!(r.read("disconnect.out").trim(), "not connected");
    assert_eq!(r.read("user-connect.rc").trim(), "1");
    assert_eq!(
        r.read("user-connect.err").trim(),
        "ikeway: the running connection (/run/ikeway) refused: uid 65534 is neither root nor a \
         user vpn answers to (nobody else)"
    );
    assert_eq!(r.read("user-connect-alone.rc").trim(), "1");
    assert_eq!(
        r.read("user-connect-alone.err").trim(),
        "ikeway: XDG_RUNTIME_DIR is not set: ikeway keeps its runtime files only there (or in \
         /run/ikeway as root), never in a shared directory such as /tmp"
    );
    assert_untouched(&r);
}

/// Issue 9 finding 1: a `/run/ikeway` that another user made (their symlinks inside) is
/// refused by `connect` and `disconnect` alike, and nothing in or outside it changes.
#[test]
fn root_refuses_a_run_directory_another_user_made() {
    let Some(r) = run("attacker-run-dir") else { return };
    let refusal = "ikeway: /run/ikeway belongs to uid 65534, not 0: refusing to use a directory \
                   another user made";
    assert_eq!(r.read("connect.rc").trim(), "1");
    assert_eq!(r.read("connect.err").trim(), refusal);
    assert_eq!(r.read("disconnect.rc").trim(), "1");
    assert_eq!(r.read("disconnect.err").trim(), refusal);
    assert_eq!(r.read("run-ikeway").trim(), "nobody 777 directory");
    let listing = r.read("run-ikeway.ls");
    assert!(listing.contains("./control.sock l 65534 777"), "{listing}");
    assert_eq!(listing.lines().count(), 5, "{listing}");
    assert_untouched(&r);
}
