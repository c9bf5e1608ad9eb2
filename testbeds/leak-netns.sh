#!/usr/bin/env bash
# The IncludeAllNetworks kill switch against strongSwan 5.9.8: nothing leaves the client but
# through the tunnel or as IKE/ESP to the server, while the tunnel is up, while it is down
# (server gone, On Demand retrying), and after the connection is SIGKILLed; `disconnect`
# removes the nftables table and the routes; the next start lifts a table a killed
# connection left.
#
#   +---------------------------------+          +-------------------------------+
#   | $P-cli                          |          | $P-srv  charon (libipsec)     |
#   |  ikeway connect (ikeway0)       |  ike0    |  ike0 10.99.0.2  fd99::2      |
#   |  ike0 10.99.0.1/24 fd99::1/64   |----------|  pool 10.88.0.0/24 (no IPv6)  |
#   |  default via 10.99.0.2 / fd99::2|          |  prot0 10.77.0.1  fd77::1     |
#   |  dumpcap on ike0 (outer.pcapng) |          +---------------+---------------+
#   +---------------------------------+                          | prot0
#                                                +---------------+---------------+
#                                                | $P-prot 10.77.0.2  fd77::2    |
#                                                +-------------------------------+
#
# Phases (OUT/phases.txt: "NAME EPOCH_SECONDS"):
#   start      before `connect` (the capture runs from here on)
#   up         connected: routes, nft table, probes (IPv4 through the tunnel works; IPv6,
#              which the tunnel does not carry, must fail without leaving)
#   down       strongSwan deletes the IKE SA and is SIGKILLed: the client goes disconnected,
#              On Demand retries against a dead server; probes again
#   disconnect `ikeway disconnect`: table and routes gone
#   control    the same probes with no VPN: they must appear on the wire (the capture sees
#              them, so their absence before means something)
#   killed     strongSwan again, `connect` again, the connection (the daemon) SIGKILLed: the
#              table stays (fails closed), probes blocked
#   restart    `connect` again: the new daemon takes the table over (no gap), `disconnect`
#              lifts it; then `connect`, SIGKILL, and `disconnect` with nothing running lifts
#              the stale table
#   end
# Probes (probe NAME): ping, UDP (port 9) and TCP (port 80) to 10.99.0.2, 10.77.0.2 and a
# LAN address 10.99.0.9, and the same over IPv6 to fd99::2 and fd77::2; UDP to the server's
# ports 500 and 4500 as user nobody (the kill switch lets only the tunnel's sockets use them).
#
# IKW_LEAK_IKEV1=1 (testbeds/leak-netns-ikev1.sh): the same against lib/ikev1bed.sh's aggr-psk
# gateway (10.99.0.51: Aggressive Mode PSK, XAUTH, Mode Config) with an IPSec ("Cisco IPSec")
# configuration: its IPSec profile carries no IncludeAllNetworks (Apple sets it on
# NEVPNProtocolIPSec from an app), so the bed sets it in the stored configuration, as an app
# saving it would. 10.99.0.2 is then just another address on the LAN.
#
# Usage: testbeds/leak-netns.sh OUTDIR IKEWAY_BINARY   (root, strongSwan, nft, dumpcap, tshark)
# Leaves: phases.txt, outer.pcapng, outer.tsv (tshark fields, see below), client.mac,
# server4 (the server's address), nft.<phase> (`nft list table inet ikeway` or its error), routes4/6.<phase>, status.<phase>.json,
# probe.<phase> (each probe's exit status), connect*.rc/.out, disconnect*.out, connection.log,
# charon.log. crates/ikeway/tests/leak_netns.rs judges them.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export IKW_PREFIX="${IKW_PREFIX:-auto}"
# shellcheck source=lib/netns.sh
. "$HERE/lib/netns.sh"
# shellcheck source=lib/strongswan.sh
. "$HERE/lib/strongswan.sh"
# shellcheck source=lib/profile.sh
. "$HERE/lib/profile.sh"
# shellcheck source=lib/steps.sh
. "$HERE/lib/steps.sh"
IKEV1="${IKW_LEAK_IKEV1:-}"
if [ -n "$IKEV1" ]; then
    # shellcheck source=lib/pki.sh
    . "$HERE/lib/pki.sh"
    # shellcheck source=lib/ikev1bed.sh
    . "$HERE/lib/ikev1bed.sh"
fi

OUT="$1"
IKEWAY="$(realpath "$2")"
mkdir -p "$OUT"
PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"

ikw_topo_trap
ikw_topo_up direct >/dev/null 2>&1 || ikw_die "topology"
# Without the VPN the client reaches everything through the server's namespace, so a probe
# that got out would be on the wire (and answered).
ip -n "$IKW_NS_CLI" route add default via "$IKW_SRV_ADDR"
ip -n "$IKW_NS_CLI" -6 route add default via "$IKW_SRV_ADDR6"
ip -n "$IKW_NS_CLI" -j link show ike0 | sed -n 's/.*"address":"\([0-9a-f:]*\)".*/\1/p' >"$OUT/client.mac"

SRV="$IKW_WORKDIR/srv"
if [ -n "$IKEV1" ]; then
    ikw_pki_eapset "$IKW_WORKDIR/pki"
    ikw_v1_addrs_up
    ikw_v1_sw_responder "$SRV"
    { IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity" IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" \
        ikw_sw_start srv "$SRV" && ikw_sw_load "$SRV" >/dev/null; } || ikw_die "strongSwan IKEv1"
    SERVER="$(ikw_v1_case_addr aggr-psk)" IKE_SA=aggr-psk
else
    IKW_SW_PSK="$PSK" IKW_SW_POOL6="" ikw_sw_psk_responder "$SRV" /dev/null
    SERVER="$IKW_SRV_ADDR" IKE_SA=ikw
fi
echo "$SERVER" >"$OUT/server4"

phase() { echo "$1 $(date +%s.%N)" >>"$OUT/phases.txt"; }
: >"$OUT/phases.txt"

ikw_spawn cli "$OUT/dumpcap.out" dumpcap -q -i ike0 -w "$OUT/outer.pcapng"
CAPTURE_PID=$IKW_LAST_PID
ikw_wait_for 10 test -s "$OUT/outer.pcapng" || ikw_die "dumpcap did not start"
sleep 0.5

ikw_client_resolv 'nameserver 10.99.0.254'
ikw() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" "$@"; }

# A profile naming the strongSwan responder; $1 the configuration's name, $2 IncludeAllNetworks,
# $3 and $4 the PayloadUUIDs.
# ExcludeLocalNetworks is Apple's default (NO): the LAN waits for the tunnel too.
write_profile() {
    ikw_profile_psk "test.ikeway.leak.$1" "$1" "$3" "$4" >"$IKW_WORKDIR/$1.mobileconfig" <<KEYS
    <key>DeadPeerDetectionRate</key><string>Medium</string>
    <key>OnDemandEnabled</key><integer>1</integer>
    <key>OnDemandRules</key><array><dict><key>Action</key><string>Connect</string></dict></array>
    <key>IncludeAllNetworks</key><integer>$2</integer>
    <key>DisableMOBIKE</key><integer>1</integer>
    <key>DisableRedirect</key><integer>1</integer>
$(ikw_profile_sa IKE AES-256-GCM SHA2-256 31)
$(ikw_profile_sa Child AES-128-GCM SHA2-256 31)
KEYS
    ikw profile import "$IKW_WORKDIR/$1.mobileconfig" --yes >"$OUT/import.$1.out" 2>&1
}
# The IPSec profile of the aggr-psk gateway, with the same On Demand; IncludeAllNetworks is then
# set in the stored configuration (preferences.json), which is where an app's
# NEVPNProtocolIPSec.includeAllNetworks lands.
write_profile_ipsec() {
    ikw_profile_ipsec_group test.ikeway.leak.ipsec All 0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0011 \
        0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0012 "$SERVER" >"$IKW_WORKDIR/All.mobileconfig" <<KEYS
    <key>XAuthPassword</key><string>$IKW_V1_PASSWORD</string>
    <key>OnDemandEnabled</key><integer>1</integer>
    <key>OnDemandRules</key><array><dict><key>Action</key><string>Connect</string></dict></array>
KEYS
    ikw profile import "$IKW_WORKDIR/All.mobileconfig" --yes >"$OUT/import.All.out" 2>&1
    python3 - "$IKW_WORKDIR/xdg/ikeway/preferences.json" <<'PY' >"$OUT/include-all.out" 2>&1
import json, sys
path = sys.argv[1]
prefs = json.load(open(path))
found = []
def visit(node):
    if isinstance(node, dict):
        ipsec = node.get("ipsec")
        if isinstance(ipsec, dict) and "include_all_networks" in ipsec:
            ipsec["include_all_networks"] = True
            found.append(ipsec.get("server_address"))
        for v in node.values():
            visit(v)
    elif isinstance(node, list):
        for v in node:
            visit(v)
visit(prefs)
assert found, "no IPSec configuration in " + path
json.dump(prefs, open(path, "w"), indent=2)
print("includeAllNetworks set for", found)
PY
}
if [ -n "$IKEV1" ]; then
    write_profile_ipsec
else
    write_profile All 1 0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0001 0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0002
    write_profile Plain 0 0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0003 0C6F6A52-1B11-4E0E-9F62-3C1B0A6A0004
fi

snapshot() { # PHASE
    ikw_exec cli nft list table inet ikeway >"$OUT/nft.$1" 2>&1 || true
    ikw_exec cli ip -4 route show >"$OUT/routes4.$1"
    ikw_exec cli ip -6 route show >"$OUT/routes6.$1"
    ikw status --json >"$OUT/status.$1.json" 2>&1 || true
}

# Each probe's exit status, one line each: "NAME RC".
probe() { # PHASE
    local p="$OUT/probe.$1" t
    : >"$p"
    for t in "$IKW_SRV_ADDR" "$IKW_PROT_ADDR" 10.99.0.9 "$IKW_SRV_ADDR6" "$IKW_PROT_ADDR6"; do
        ikw_exec cli ping -c 1 -W 1 "$t" >/dev/null 2>&1
        echo "ping $t $?" >>"$p"
        ikw_exec cli timeout 2 bash -c "echo leak-probe >/dev/udp/$t/9" 2>/dev/null
        echo "udp $t $?" >>"$p"
        ikw_exec cli timeout 1 bash -c "echo leak-probe >/dev/tcp/$t/80" 2>/dev/null
        echo "tcp $t $?" >>"$p"
    done
    # Another local user through the opening the kill switch leaves: IKE's ports on the server.
    for port in 500 4500; do
        ikw_exec cli setpriv --reuid 65534 --regid 65534 --clear-groups \
            timeout 2 bash -c "echo leak-probe >/dev/udp/$SERVER/$port" 2>/dev/null
        echo "nobody-udp $SERVER:$port $?" >>"$p"
    done
}

snapshot before
phase start
rc=0
ikw connect All --wait 20 >"$OUT/connect.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/connect.rc"
phase up
snapshot up
ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/tunnel-ping.out" 2>&1
echo $? >"$OUT/tunnel-ping.rc"
probe up

# The server deletes the IKE SA and dies: the client's tunnel ends, its routes go, and On
# Demand keeps trying a server that does not answer.
phase down
ikw_swanctl "$SRV" --terminate --ike "$IKE_SA" --force >/dev/null 2>&1 || true
kill -KILL "$(cat "$SRV/charon.pid")" 2>/dev/null || true
_not_connected() { ! ikw status --json 2>/dev/null | grep -q '"status": "connected"'; }
ikw_wait_for 10 _not_connected || true
sleep 1
snapshot down
probe down
sleep 2
snapshot down2
probe down2

nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection1.log" 2>/dev/null || true
ikw disconnect >"$OUT/disconnect.out" 2>&1 || true
sleep 0.3
phase disconnect
snapshot disconnect
sleep 0.5
phase control
probe control
sleep 1

# A connection SIGKILLed with the kill switch engaged: nothing undoes it but the next start.
rm -f "$SRV/charon.pid"
ikw_sw_start srv "$SRV" && ikw_sw_load "$SRV" >/dev/null || ikw_die "strongSwan again"
rc=0
ikw connect All --wait 20 >"$OUT/connect2.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/connect2.rc"
phase killed
kill_connection() { # FILE: SIGKILL every ikeway process of the client namespace (the daemon)
    local pid
    for pid in $(ip netns pids "$IKW_NS_CLI"); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ikeway ] && kill -KILL "$pid" && echo "$pid" >>"$OUT/$1"
    done
}
kill_connection killed.pids
sleep 1
snapshot killed
probe killed
# The next start: a new daemon takes the table over for the connection (On Demand's or the
# user's), replacing it in one transaction.
phase restart
rc=0
ikw connect All --wait 20 >"$OUT/connect3.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/connect3.rc"
snapshot restart
nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection3.log" 2>/dev/null || true
ikw disconnect >"$OUT/disconnect3.out" 2>&1 || true
sleep 0.3
snapshot restarted-disconnect
# Killed again; this time `ikeway disconnect` (nothing runs) lifts the table.
rc=0
ikw connect All --wait 20 >"$OUT/connect4.rc.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/connect4.rc"
kill_connection killed2.pids
sleep 1
snapshot killed2
ikw disconnect >"$OUT/disconnect4.out" 2>&1 || true
snapshot end
phase end
sleep 0.5

kill -INT "$CAPTURE_PID" 2>/dev/null || true
wait "$CAPTURE_PID" 2>/dev/null || true
# One line per frame: time, source MAC, ethertype, IPv4 src/dst/protocol, IPv6 src/dst/hop
# limit, UDP ports, TCP destination port, ICMPv6 type.
tshark -r "$OUT/outer.pcapng" -T fields -E separator=/t -e frame.time_epoch -e eth.src \
    -e eth.type -e ip.src -e ip.dst -e ip.proto -e ipv6.src -e ipv6.dst -e ipv6.hlim \
    -e udp.srcport -e udp.dstport -e tcp.dstport -e icmpv6.type >"$OUT/outer.tsv" 2>"$OUT/tshark.err"
nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection.log" 2>/dev/null || true
cp "$SRV/charon.log" "$OUT/charon.log" 2>/dev/null || true
rm -rf "/etc/netns/$IKW_NS_CLI"
