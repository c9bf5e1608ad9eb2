#!/usr/bin/env bash
# Selftest: strongSwan initiator (charon-systemd + kernel-libipsec, ikw-cli) against a
# libreswan 4.10 responder (pluto, ikw-srv, PSK, ikev2=insist).
# Expected on this kernel (no ESP transform): IKE SA established on both sides, child refused
# by pluto with N(TS_UNACCEPTABLE) because it cannot add the kernel SA. Prints what happens.
#
# Usage: testbeds/selftest-libreswan.sh [direct|nat]
# Env:   IKW_PREFIX (default ikw), IKW_KEEP_WORKDIR=1 keeps configs and logs, IKW_LS_DEBUG=all
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/libreswan.sh"

TOPO="${1:-direct}"
. "$HERE/lib/check.sh"

ikw_topo_trap
T0="$(ikw_now_ms)"
ikw_topo_up "$TOPO"
T_TOPO="$(ikw_now_ms)"

SRV="$IKW_WORKDIR/srv-libreswan"
CLI="$IKW_WORKDIR/cli-strongswan"
ikw_ls_conf_responder "$SRV"
# pluto sends no CP when it refuses the child, so ask for no virtual IP: the client's TSi is
# its own address (dynamic), TSr the protected network.
IKW_SW_VIPS="" ikw_sw_conf_initiator "$CLI"

ikw_ls_start srv "$SRV"
T_SRV="$(ikw_now_ms)"
ikw_sw_start cli "$CLI"
T_CLI="$(ikw_now_ms)"
ikw_sw_load "$CLI" >"$CLI/load.out"
T_LOAD="$(ikw_now_ms)"

echo "--- swanctl --initiate (strongSwan client -> pluto) ---"
IKW_SW_INITIATE_MS=-1
if ikw_sw_initiate "$CLI" net ikw 15 >"$CLI/initiate.out" 2>&1; then r=0; else r=$?; fi
sed 's/^/  /' "$CLI/initiate.out"
echo "  (swanctl --initiate exit status $r; non-zero expected: the child is refused)"
T_INIT="$(ikw_now_ms)"

echo "--- swanctl --list-sas (client) ---"
ikw_sw_list_sas "$CLI" | sed 's/^/  /'
echo "--- whack --showstates (pluto) ---"
ikw_whack "$SRV" --showstates | sed 's/^/  /'

check "client: IKE SA ESTABLISHED" ikw_sw_established "$CLI" ikw -
check "client: no child SA installed (refused)" sh -c "! grep -q 'CHILD_SA net{[0-9]*} established' '$CLI/initiate.out'"
check "client: IKE_AUTH response carried N(TS_UNACCEPT)" grep -q 'N(TS_UNACCEPT)' "$CLI/initiate.out"
check "pluto: IKE SA established" ikw_ls_established "$SRV" ikw
echo "--- pluto's reason (pluto.log) ---"
grep -E 'ERROR|setup_half_ipsec_sa|TS_UNACCEPTABLE|established IKE SA|authenticated' "$SRV/pluto.log" |
    sed 's/^/  /' | head -n 8

T_DOWN0="$(ikw_now_ms)"
PIDS="$(cat "$CLI/charon.pid" "$SRV/pluto.pid")"
ikw_sw_stop "$CLI"
ikw_ls_stop "$SRV"
ikw_topo_down
T_DOWN1="$(ikw_now_ms)"
left="$(ip netns list | awk '{print $1}' | grep -E "^$IKW_PREFIX-(cli|srv|nat|prot)$" || true)"
check "teardown: namespaces removed" test -z "$left"
alive=""
for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
check "teardown: charon and pluto exited" test -z "$alive"
check "host /usr/libexec untouched (no overlay, no ipsec dir)" \
    sh -c "! findmnt /usr/libexec >/dev/null && [ ! -e /usr/libexec/ipsec ]"

echo "--- timings (ms) ---"
echo "  topology up:                 $((T_TOPO - T0))"
echo "  pluto start (+NSS db, addconn): $((T_SRV - T_TOPO))"
echo "  charon start initiator:      $((T_CLI - T_SRV))"
echo "  swanctl --load-all:          $((T_LOAD - T_CLI))"
echo "  initiate -> IKE established, child refused: $IKW_SW_INITIATE_MS"
echo "  teardown:                    $((T_DOWN1 - T_DOWN0))"
echo "  total to established:        $((T_INIT - T0))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
