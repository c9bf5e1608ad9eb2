#!/usr/bin/env bash
# The service (`ikeway daemon`) against a strongSwan responder, in the namespaces of
# lib/netns.sh, with users as the kernel sees them (setpriv):
#
#   client ns: ikeway daemon (root),              responder ns: charon-systemd
#   its CLI as root, uid 4242 (the owner),        10.99.0.2 ---- protected ns: 10.77.0.2
#   uid 65534 (anyone)                            (PSK, pool 10.88.0.0/24)
#   10.99.0.1 ---------------- veth ike0 ---------------- 10.99.0.2
#
# uid 4242 created the configurations (`SUDO_UID=4242 ikeway config add`, as through sudo):
# `vpn` (the server's PSK) and `bad` (a wrong PSK). Steps, each recorded in OUT:
#   before.*            status with no daemon
#   daemon1.log         the first daemon (started with `ikeway daemon`)
#   watch-owner.*       uid 4242's `status --watch --json` from before the connect to the end
#   watch-other.*       uid 65534's, refused once a connection of 4242 began
#   connect.*           root `connect vpn`; ping.* through the tunnel; routes.during
#   owner-status.*      uid 4242 status while connected; owner-disconnect.* owner-connect.*
#                       (refused: root only); other-status.* (refused)
#   disconnect.*        root `disconnect`; routes.after; then `config add other` (an event)
#   bad.*               root `connect bad` (strongSwan refuses the PSK)
#   owner-after.*       uid 4242 status after the failure (json and text)
#   state.mode          owner and mode of the state file
#   daemon2.log         the daemon started again after SIGTERM; owner-restart.*, other-restart.*
#   charon.log          strongSwan's log
# Usage: daemon-netns.sh daemon OUTDIR IKEWAY_BINARY; crates/ikeway/tests/daemon_netns.rs judges it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
[ "$SCENARIO" = daemon ] || { echo "unknown scenario $SCENARIO" >&2; exit 2; }
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up direct
# A copy of the binary every uid can run, wherever the build tree is; removed at the end.
BINDIR="$(mktemp -d /tmp/ikeway-daemon-bin.XXXXXX)"
trap 'rc=$?; trap - EXIT INT TERM; rm -rf "$BINDIR"; ikw_topo_down; exit $rc' EXIT
chmod 0755 "$BINDIR"
install -m 0755 "$IKEWAY" "$BINDIR/ikeway"
BIN="$BINDIR/ikeway"
printf '%s\n' "$IKW_SW_DEFAULT_PSK" >"$IKW_WORKDIR/psk"
printf 'not the server key 0123456789\n' >"$IKW_WORKDIR/psk.wrong"
chmod 0600 "$IKW_WORKDIR/psk" "$IKW_WORKDIR/psk.wrong"

SRV="$IKW_WORKDIR/srv-strongswan"
mkdir -p "$SRV"
IKW_SW_POOL6="" ikw_sw_conf_responder "$SRV"
ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run

as() { # UID CMD...: in the client's namespaces, as that user
    local uid="$1"; shift
    ikw_exec cli "${CLIENV[@]}" setpriv --reuid "$uid" --regid "$uid" --clear-groups "$@"
}
step() { # NAME UID CMD...: records NAME.out NAME.err NAME.rc
    local name="$1" uid="$2" rc=0; shift 2
    as "$uid" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null || rc=$?
    echo "$rc" >"$OUT/$name.rc"
}
answers() { as 0 "$BIN" status --json >/dev/null 2>&1; }

step before 0 "$BIN" status --json
for c in "vpn psk" "bad psk.wrong"; do
    set -- $c
    ikw_exec cli "${CLIENV[@]}" env SUDO_UID=4242 "$BIN" config add "$1" --server "$IKW_SRV_ADDR" \
        --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/$2" \
        --child-encryption aes256gcm \
        --yes >"$OUT/add-$1.out" 2>&1
done
# uid 4242's own store, so that its `connect` gets as far as the daemon.
OWNER_HOME="$IKW_WORKDIR/owner"
mkdir -p "$OWNER_HOME"
cp "$IKW_WORKDIR/psk" "$OWNER_HOME/psk"
chown -R 4242:4242 "$OWNER_HOME"
chmod 0711 "$IKW_WORKDIR"
as 4242 env XDG_CONFIG_HOME="$OWNER_HOME" "$BIN" config add vpn --server "$IKW_SRV_ADDR" \
    --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$OWNER_HOME/psk" \
    --yes >"$OUT/add-owner.out" 2>&1

ikw_spawn cli "$OUT/daemon1.log" "${CLIENV[@]}" "$BIN" daemon
DAEMON=$IKW_LAST_PID
ikw_wait_for 10 answers || ikw_die "the daemon does not answer"
ikw_spawn cli "$OUT/watch-owner.out" "${CLIENV[@]}" setpriv --reuid 4242 --regid 4242 \
    --clear-groups "$BIN" status --watch --json
WATCH_OWNER=$IKW_LAST_PID
ikw_spawn cli "$OUT/watch-other.out" "${CLIENV[@]}" setpriv --reuid 65534 --regid 65534 \
    --clear-groups "$BIN" status --watch --json
WATCH_OTHER=$IKW_LAST_PID
watching() { [ -s "$OUT/watch-owner.out" ] && [ -s "$OUT/watch-other.out" ]; }
ikw_wait_for 5 watching || true

step connect 0 "$BIN" connect vpn --wait 15
ikw_exec cli ip -4 route show >"$OUT/routes.during"
rc=0; ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/ping.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/ping.rc"
step owner-status 4242 "$BIN" status --json
step owner-disconnect 4242 "$BIN" disconnect
step owner-connect 4242 env XDG_CONFIG_HOME="$OWNER_HOME" "$BIN" connect vpn --wait 5
step other-status 65534 "$BIN" status --json
step still-up 0 "$BIN" status --json
step disconnect 0 "$BIN" disconnect
ikw_exec cli ip -4 route show >"$OUT/routes.after"
# A configuration added while watchers listen: one configuration event is pushed.
ikw_exec cli "${CLIENV[@]}" env SUDO_UID=4242 "$BIN" config add other --server 10.99.0.77 \
    --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
    --yes >"$OUT/add-other.out" 2>&1
# (The first event was the daemon enabling `vpn` when asked to connect it.)
told() { [ "$(grep -c '"event":"configuration"' "$OUT/watch-owner.out")" -ge 2 ]; }
ikw_wait_for 5 told || true
step bad 0 "$BIN" connect bad --wait 15
step owner-after 4242 "$BIN" status --json
step owner-after-text 4242 "$BIN" status
ikw_exec cli "${CLIENV[@]}" stat -c '%U %a' /run/ikeway/connection-state.json >"$OUT/state.mode"

# The daemon ends on SIGTERM (its watchers' streams close), and a new one shows what was kept.
kill -TERM "$DAEMON" 2>/dev/null || true
ended() { ! kill -0 "$DAEMON" 2>/dev/null; }
ikw_wait_for 10 ended || ikw_die "the daemon did not end on SIGTERM"
wait "$DAEMON" 2>/dev/null || true
watch_ended() { ! kill -0 "$WATCH_OWNER" 2>/dev/null; }
ikw_wait_for 5 watch_ended || true
rc=0; kill -0 "$WATCH_OWNER" 2>/dev/null && rc=1
echo "$rc" >"$OUT/watch-owner.ended"
rc=0; wait "$WATCH_OWNER" 2>/dev/null || rc=$?
echo "$rc" >"$OUT/watch-owner.rc"
rc=0; wait "$WATCH_OTHER" 2>/dev/null || rc=$?
echo "$rc" >"$OUT/watch-other.rc"
ikw_spawn cli "$OUT/daemon2.log" "${CLIENV[@]}" "$BIN" daemon
ikw_wait_for 10 answers || ikw_die "the second daemon does not answer"
step owner-restart 4242 "$BIN" status --json
step other-restart 65534 "$BIN" status --json
cp "$SRV/charon.log" "$OUT/charon.log"
