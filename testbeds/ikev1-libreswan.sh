#!/usr/bin/env bash
# IKEv1 ("Cisco IPSec") interop with libreswan 4.10: our Personal VPN client (`config add
# --type ipsec` + `connect`, as a user runs it) against the pluto gateway of lib/ikev1lsbed.sh
# (Aggressive Mode, the group name as KEY_ID and the group secret, XAUTH from a passwd file,
# Mode Config), in the namespaces of lib/netns.sh.
#
# IKE ONLY: this kernel has no ESP transform, so pluto cannot install the IPsec SA quick mode
# asks for and never answers it; no connection reaches "connected" and no packet crosses a
# tunnel here. Each case records what both sides got to before that.
#
# Usage: ikev1-libreswan.sh OUTDIR IKEWAY_BINARY
# Env:   IKW_V1_TOPO=direct|nat (default direct: lib/netns.sh's topologies; behind the NAT the
#        client is 10.98.0.2 and pluto sees 10.99.0.3; only the aggr case runs there:
#        testbeds/ikev1-libreswan-nat.sh)
#
# Cases: NAME SERVER_CASE GROUP_SECRET XAUTH_PASSWORD
#   aggr    ls-aggr   right right   phase 1, XAUTH, Mode Config, quick mode up to pluto's kernel
#                                   install; then `ikeway disconnect`
#   split   ls-split  right right   the same with a split include: our quick mode is for the
#                                   split network 10.77.0.0/24, up to pluto's kernel install;
#                                   then disconnect
#   badpw   ls-aggr   right wrong   XAUTH fails
#   badpsk  ls-aggr   wrong right   phase 1 fails (last: pluto keeps its half-open state)
# and renew (ls-renew): up to quick mode as aggr, then pluto replaces the ISAKMP SA by an
#   Aggressive Mode of its own: renew.status1.json (before), renew.status2.json and
#   renew.states (once pluto logged the replacement and a Delete of the old ISAKMP SA, up to
#   60 s), then disconnect: renew.disconnect.out, renew.end.states, renew.pluto.log.
# Each records NAME.add.out, NAME.connect.rc/.out (the connect runs with --wait 10 in the
# background), NAME.status.json (once mode config gave an address or the connect ended),
# NAME.states / NAME.traffic (pluto's `whack --showstates` / `--trafficstatus` then),
# NAME.disconnect.out (when still connecting), NAME.end.states (pluto's states of the case
# after, waited for to empty, up to 3 s), NAME.status.after.json, NAME.routes/links.before/
# .after, NAME.log (our connection's log), NAME.pluto.log (what pluto logged during the case).
# crates/ikeway/tests/ikev1_libreswan.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/libreswan.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/ikev1lsbed.sh"
. "$HERE/lib/ourclient.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up "${IKW_V1_TOPO:-direct}"
ikw_v1ls_addrs_up
SRV="$IKW_WORKDIR/srv-libreswan"
ikw_v1ls_responder "$SRV"
ikw_v1ls_start "$SRV"

printf '%s\n' "$IKW_V1_PSK" >"$IKW_WORKDIR/right.psk"
printf '%s\n' "$IKW_V1_WRONG_PSK" >"$IKW_WORKDIR/wrong.psk"
printf '%s\n' "$IKW_V1_PASSWORD" >"$IKW_WORKDIR/right.pw"
printf '%s\n' "$IKW_V1_WRONG_PASSWORD" >"$IKW_WORKDIR/wrong.pw"
chmod 600 "$IKW_WORKDIR"/*.psk "$IKW_WORKDIR"/*.pw
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run

ours() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" "$@"; }

# 0 once mode config gave NAME an address (the status is NAME's, not the last case's) or the
# connect ended.
_configured_or_done() { # NAME
    local now
    [ -e "$OUT/$1.connect.rc" ] && return 0
    now="$(ours status --json 2>/dev/null)" || return 1
    grep -q "\"configuration\": \"$1\"" <<<"$now" && grep -q '"internal_addresses": \[$' <<<"$now"
}

# 0 once pluto logged its answer to our quick mode (since line FROM of its log).
_quick_mode_met() { # FROM
    tail -n +"$1" "$SRV/pluto.log" |
        grep -qE 'setup_half_ipsec_sa\(\) hit fail|cannot respond to IPsec SA request'
}

_pluto_empty() { # CASE
    [ -z "$(ikw_v1ls_states "$SRV" "$1")" ]
}

ls_case() { # NAME SERVER_CASE PSK PASSWORD
    local name="$1" server="$2" psk="$3" pw="$4" before cpid
    ours config add "$name" --type ipsec --server "$(ikw_v1ls_case_addr "$server")" \
        --group "$IKW_V1_GROUP" --psk-file "$IKW_WORKDIR/$psk.psk" --extended-auth \
        --username "$IKW_V1_USER" --password-file "$IKW_WORKDIR/$pw.pw" --yes \
        >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_state "$name" before
    before="$(($(wc -l <"$SRV/pluto.log") + 1))"
    (
        rc=0
        ours connect "$name" --wait 10 >"$OUT/$name.connect.out" 2>&1 || rc=$?
        echo "$rc" >"$OUT/$name.connect.rc.tmp" && mv "$OUT/$name.connect.rc.tmp" "$OUT/$name.connect.rc"
    ) &
    cpid=$!
    ikw_wait_for 10 _configured_or_done "$name" || true
    ours status --json >"$OUT/$name.status.json" 2>&1 || true
    ikw_whack "$SRV" --showstates >"$OUT/$name.states" 2>&1 || true
    ikw_whack "$SRV" --trafficstatus >"$OUT/$name.traffic" 2>&1 || true
    if [ ! -e "$OUT/$name.connect.rc" ]; then
        ikw_wait_for 5 _quick_mode_met "$before" || true
        ours disconnect >"$OUT/$name.disconnect.out" 2>&1 || true
    fi
    wait "$cpid" || true
    ikw_wait_for 3 _pluto_empty "$server" || true
    ikw_v1ls_states "$SRV" "$server" >"$OUT/$name.end.states"
    ours status --json >"$OUT/$name.status.after.json" 2>&1 || true
    ikw_client_state "$name" after
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/$name.log" 2>/dev/null || true
    tail -n +"$before" "$SRV/pluto.log" >"$OUT/$name.pluto.log"
    ours config remove "$name" --yes >/dev/null 2>&1 || true
}

# 0 once pluto replaced an ISAKMP SA and deleted the old one on our Delete (since line FROM).
_pluto_renewed() { # FROM
    local log
    log="$(tail -n +"$1" "$SRV/pluto.log")"
    grep -q "to replace #" <<<"$log" &&
        grep -q "received Delete SA payload: self-deleting ISAKMP State" <<<"$log"
}

renew_case() {
    local before cpid
    ours config add renew --type ipsec --server "$(ikw_v1ls_case_addr ls-renew)" \
        --group "$IKW_V1_GROUP" --psk-file "$IKW_WORKDIR/right.psk" --extended-auth \
        --username "$IKW_V1_USER" --password-file "$IKW_WORKDIR/right.pw" --yes \
        >"$OUT/renew.add.out" 2>&1 || true
    before="$(($(wc -l <"$SRV/pluto.log") + 1))"
    # No quick mode completes here, so the connection is never up: the connect waits longer
    # than pluto's replacement takes (40 s), and the disconnect below ends it.
    (ours connect renew --wait 70 >"$OUT/renew.connect.out" 2>&1 || true) &
    cpid=$!
    ikw_wait_for 10 _configured_or_done renew || true
    ours status --json >"$OUT/renew.status1.json" 2>&1 || true
    ikw_wait_for 60 _pluto_renewed "$before" || true
    ours status --json >"$OUT/renew.status2.json" 2>&1 || true
    ikw_whack "$SRV" --showstates >"$OUT/renew.states" 2>&1 || true
    ours disconnect >"$OUT/renew.disconnect.out" 2>&1 || true
    wait "$cpid" || true
    ikw_wait_for 3 _pluto_empty ls-renew || true
    ikw_v1ls_states "$SRV" ls-renew >"$OUT/renew.end.states"
    tail -n +"$before" "$SRV/pluto.log" >"$OUT/renew.pluto.log"
    ours config remove renew --yes >/dev/null 2>&1 || true
}

ls_case aggr ls-aggr right right
# Behind the NAT the question is only NAT-T (detection, the float to 4500, the encapsulated
# quick mode proposal); the other cases do not depend on the path.
if [ "${IKW_V1_TOPO:-direct}" = direct ]; then
    ls_case split ls-split right right
    renew_case
    ls_case badpw ls-aggr right wrong
    # Last: pluto keeps this one's half-open state until its own timeout.
    ls_case badpsk ls-aggr wrong right
fi

cp "$SRV/pluto.log" "$OUT/pluto.log"
rm -rf "/etc/netns/$IKW_NS_CLI"
