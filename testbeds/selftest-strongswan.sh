#!/usr/bin/env bash
# Selftest: strongSwan initiator (ikw-cli) <-> strongSwan responder (ikw-srv), both
# charon-systemd with kernel-libipsec (userspace ESP over TUN, ESP-in-UDP).
# Checks: IKE SA ESTABLISHED and child INSTALLED on both sides, ping of the protected host
# through the tunnel (from the client's virtual IP), ESP counters moved, clean teardown.
# Prints timings (ms) of every stage.
#
# Usage: testbeds/selftest-strongswan.sh [direct|nat]
# Env:   IKW_PREFIX (default ikw), IKW_KEEP_WORKDIR=1 keeps configs and logs,
#        IKW_SW_IKE_PROPOSALS / IKW_SW_ESP_PROPOSALS for the initiator's proposals.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"

TOPO="${1:-direct}"
. "$HERE/lib/check.sh"

ikw_topo_trap
T0="$(ikw_now_ms)"
ikw_topo_up "$TOPO"
T_TOPO="$(ikw_now_ms)"

SRV="$IKW_WORKDIR/srv-strongswan"
CLI="$IKW_WORKDIR/cli-strongswan"
ikw_sw_conf_responder "$SRV"
ikw_sw_conf_initiator "$CLI"

ikw_sw_start srv "$SRV"
T_SRV="$(ikw_now_ms)"
ikw_sw_start cli "$CLI"
T_CLI="$(ikw_now_ms)"
ikw_sw_load "$SRV" >"$SRV/load.out"
ikw_sw_load "$CLI" >"$CLI/load.out"
T_LOAD="$(ikw_now_ms)"

echo "--- swanctl --initiate (client) ---"
IKW_SW_INITIATE_MS=-1
if ikw_sw_initiate "$CLI" net ikw 15 >"$CLI/initiate.out" 2>&1; then r=0; else r=1; fi
sed 's/^/  /' "$CLI/initiate.out"
if [ "$r" -eq 0 ]; then ok "swanctl --initiate"; else ko "swanctl --initiate"; fi
T_INIT="$(ikw_now_ms)"

echo "--- swanctl --list-sas (client) ---"
ikw_sw_list_sas "$CLI" | sed 's/^/  /'
echo "--- swanctl --list-sas (responder) ---"
ikw_sw_list_sas "$SRV" | sed 's/^/  /'

check "client: IKE SA ESTABLISHED, child net INSTALLED" ikw_sw_established "$CLI" ikw net
check "responder: IKE SA ESTABLISHED, child net INSTALLED" ikw_sw_wait_established "$SRV" 3 ikw net

VIP="$(ikw_exec cli ip -4 -o addr show dev ipsec0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)"
echo "client virtual IP: ${VIP:-none}"
check "client got a virtual IP from 10.88.0.0/24" test -n "$VIP" -a "${VIP#10.88.0.}" != "$VIP"

echo "--- ping $IKW_PROT_ADDR (protected host) through the tunnel ---"
T_P0="$(ikw_now_ms)"
if ikw_exec cli ping -c 3 -i 0.2 -W 2 -I "$VIP" "$IKW_PROT_ADDR" | sed 's/^/  /'; then
    ok "ping protected host $IKW_PROT_ADDR from $VIP"
else
    ko "ping protected host $IKW_PROT_ADDR from $VIP"
fi
T_P1="$(ikw_now_ms)"
VIP6="$(ikw_exec cli ip -6 -o addr show dev ipsec0 scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)"
if [ -n "$VIP6" ] && ikw_exec cli ping -6 -c 2 -i 0.2 -W 2 -I "$VIP6" "$IKW_PROT_ADDR6" >/dev/null; then
    ok "ping6 protected host $IKW_PROT_ADDR6 from $VIP6"
else
    ko "ping6 protected host $IKW_PROT_ADDR6 from ${VIP6:-none}"
fi

PKTS="$(ikw_sw_list_sas "$CLI" --raw | grep -o 'packets-in=[0-9]*' | head -n1 | cut -d= -f2)"
check "client child SA counted ESP packets in (packets-in=${PKTS:-?})" test "${PKTS:-0}" -ge 3
ENC="$(ikw_sw_list_sas "$CLI" --raw | grep -o 'encap=yes' | head -n1)"
check "ESP is UDP-encapsulated (libipsec)" test "$ENC" = encap=yes
if [ "$TOPO" = nat ]; then
    REMOTE="$(ikw_sw_list_sas "$SRV" --raw | grep -o 'remote-host=[^ ]*' | head -n1 | cut -d= -f2)"
    check "responder sees the client at the NAT's address $IKW_CLI_SEEN (got ${REMOTE:-?})" \
        test "$REMOTE" = "$IKW_CLI_SEEN"
fi

T_DOWN0="$(ikw_now_ms)"
PIDS="$(cat "$CLI/charon.pid" "$SRV/charon.pid")"
ikw_sw_stop "$CLI"
ikw_sw_stop "$SRV"
ikw_topo_down
T_DOWN1="$(ikw_now_ms)"
left="$(ip netns list | awk '{print $1}' | grep -E "^$IKW_PREFIX-(cli|srv|nat|prot)$" || true)"
check "teardown: namespaces removed" test -z "$left"
alive=""
for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
check "teardown: both charons exited" test -z "$alive"

echo "--- timings (ms) ---"
echo "  topology up:            $((T_TOPO - T0))"
echo "  charon start responder: $((T_SRV - T_TOPO))"
echo "  charon start initiator: $((T_CLI - T_SRV))"
echo "  swanctl --load-all x2:  $((T_LOAD - T_CLI))"
echo "  initiate -> established (IKE_SA_INIT + IKE_AUTH + child): $IKW_SW_INITIATE_MS"
echo "  3 pings (0.2 s apart):  $((T_P1 - T_P0))"
echo "  teardown:               $((T_DOWN1 - T_DOWN0))"
echo "  total to established:   $((T_INIT - T0))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
