#!/usr/bin/env bash
# MOBIKE (RFC 4555) against strongSwan 5.9.8 (kernel-libipsec, `mobike = yes`): our Personal
# VPN client (`ikeway config add` + `ikeway connect`) keeps its tunnel while the client's
# address and path change under a running iperf3 and a 10 ms ping stream.
#
#                        +---------------------------+
#   direct path          | $P-cli                    |  dir0 10.97.0.2/24 (then .3)
#   (dir0, no NAT)  +----|  ikeway connect (ikeway0) |----------------------------+
#                   |    |  ike0 10.98.0.2/24        |                            |
#                   |    +------------+--------------+                            |
#                   |                 | ike0 <-> in0                              |
#                   |    +------------+--------------+                            |
#                   |    | $P-nat  masquerade        |                            |
#   NAT path        |    | in0 10.98.0.1  out0 10.99.0.3                          |
#   (default route) |    +------------+--------------+                            |
#                   |                 | out0 <-> ike0                             |
#                   |    +------------+--------------+  dir0 10.97.0.1/24         |
#                   |    | $P-srv  charon (libipsec) |----------------------------+
#                   |    | ike0 10.99.0.2 (the server's address on both paths)    |
#                   |    +------------+--------------+
#                   |                 | prot0
#                   |    +------------+--------------+
#                   |    | $P-prot 10.77.0.2 iperf3 -s, ping target               |
#                   |    +---------------------------+
#
# The client reaches 10.99.0.2 directly while its host route `10.99.0.2/32 via 10.97.0.1 dev
# dir0` exists, else through the NAT (default route). Phases, each logged in OUT/phases.txt as
# "NAME START_MS" (wall clock, ms):
#   address   add 10.97.0.3/24 to dir0, delete 10.97.0.2 (promote_secondaries keeps the new one)
#   to-nat    delete the direct host route: the path goes through the NAT (10.99.0.3 seen)
#   to-direct add the direct host route again: 10.97.0.3 seen, no NAT
#   no-path   delete the default route and the direct host route: no path at all for 2 s
#   recover   add the default route again (NAT path)
# After each phase: `swanctl --list-sas --raw` (OUT/<phase>.sas) and `ikeway status --json`
# (OUT/<phase>.status.json; no-path also mid-way: OUT/no-path.during.json).
#
# Usage: testbeds/mobike-interop.sh OUTDIR IKEWAY_BINARY     (needs root, strongSwan, iperf3)
# Leaves: ping.txt (ping -D -i 0.01 through the tunnel), iperf3.json, phases.txt, *.sas,
# *.status.json, connection.log, charon.log, connect.rc/.out, disconnect.out. The Rust test
# crates/ikeway/tests/mobike_interop.rs runs this and judges the results.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export IKW_PREFIX="${IKW_PREFIX:-auto}"
# shellcheck source=lib/netns.sh
. "$HERE/lib/netns.sh"
# shellcheck source=lib/strongswan.sh
. "$HERE/lib/strongswan.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"
PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"
PHASE_S="${IKW_MOBIKE_PHASE_S:-3}"

ikw_topo_trap
ikw_topo_up nat >/dev/null 2>&1 || ikw_die "topology"
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"

# The direct leg, and the client's route to the server over it.
ip link add name dir0 netns "$IKW_NS_CLI" type veth peer name dir0 netns "$IKW_NS_SRV"
ip -n "$IKW_NS_CLI" link set dir0 up
ip -n "$IKW_NS_SRV" link set dir0 up
# Deleting a primary address would take the same-subnet secondaries with it.
ikw_exec cli sysctl -qw net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.dir0.promote_secondaries=1
ip -n "$IKW_NS_CLI" addr add 10.97.0.2/24 dev dir0
ip -n "$IKW_NS_SRV" addr add 10.97.0.1/24 dev dir0
direct_route() { ip -n "$IKW_NS_CLI" route "$1" "$IKW_SRV_ADDR/32" via 10.97.0.1 dev dir0; }
direct_route add
# IPv6 stays off the client's legs: the path under test is IPv4.
ip -n "$IKW_NS_CLI" -6 route flush default 2>/dev/null || true

SRV="$IKW_WORKDIR/srv"
# kernel-libipsec cannot install an ESN SA: after each update strongSwan rekeys the child SA
# (libipsec cannot move an SA), and our side, answering, prefers ESN when it is offered.
IKW_SW_MOBIKE=yes IKW_SW_POOL6="" IKW_SW_ESP_PROPOSALS=aes256gcm16-noesn ikw_sw_conf_responder "$SRV"
ikw_sw_start srv "$SRV" && ikw_sw_load "$SRV" >/dev/null || ikw_die "strongSwan responder"

mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add Mobile --server "$IKW_SRV_ADDR" \
    --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
    --child-encryption aes256gcm --yes >"$OUT/add.out" 2>&1
rc=0
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect Mobile --wait 20 >"$OUT/connect.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/connect.rc"
status() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/$1" 2>&1 || true; }
status connected.status.json
ikw_sw_list_sas "$SRV" --raw >"$OUT/start.sas" 2>&1 || true

if [ "$rc" = 0 ]; then
    ikw_spawn prot "$OUT/iperf3-server.out" iperf3 -s -1
    sleep 0.3
    total=$(( PHASE_S * 5 + 3 ))
    ikw_exec cli ping -D -i 0.01 -W 1 -w "$total" "$IKW_PROT_ADDR" >"$OUT/ping.txt" 2>&1 &
    pinger=$!
    ikw_exec cli timeout $(( total + 10 )) iperf3 -c "$IKW_PROT_ADDR" -t "$total" -i 0.5 -J >"$OUT/iperf3.json" 2>&1 &
    iperf=$!
    : >"$OUT/phases.txt"
    phase() { echo "$1 $(ikw_now_ms)" >>"$OUT/phases.txt"; }
    settle() { sleep "$PHASE_S"; ikw_sw_list_sas "$SRV" --raw >"$OUT/$1.sas" 2>&1 || true; status "$1.status.json"; }
    sleep 1.5

    phase address
    ip -n "$IKW_NS_CLI" addr add 10.97.0.3/24 dev dir0
    ip -n "$IKW_NS_CLI" addr del 10.97.0.2/24 dev dir0
    settle address

    phase to-nat
    direct_route del
    settle to-nat

    phase to-direct
    direct_route add
    settle to-direct

    # The default route first: the path stays direct until the direct route goes too.
    phase no-path
    ip -n "$IKW_NS_CLI" route del default
    direct_route del
    sleep 1
    status no-path.during.json
    sleep 1
    phase recover
    ip -n "$IKW_NS_CLI" route add default via 10.98.0.1
    settle recover

    wait "$iperf" || true
    wait "$pinger" || true
    ip -n "$IKW_NS_CLI" -4 route show >"$OUT/routes.end"
    ikw_exec cli ip -o addr show >"$OUT/addrs.end"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/disconnect.out" 2>&1 || true
fi
nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection.log" 2>/dev/null || true
cp "$SRV/charon.log" "$OUT/charon.log" 2>/dev/null || true
rm -rf "/etc/netns/$IKW_NS_CLI"
