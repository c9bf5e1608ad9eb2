#!/usr/bin/env bash
# VPN On Demand against strongSwan 5.9.8 (kernel-libipsec, `mobike = yes`): `ikeway daemon`
# with a profile whose On Demand rules are, in order,
#   1. Disconnect when a DNS search domain is corp.example   (DNSDomainMatch)
#   2. Disconnect when http://10.99.0.2:8080/trusted says OK  (URLStringProbe: a trusted network)
#   3. Connect on Ethernet                                    (InterfaceTypeMatch)
# brings the tunnel up with no `connect` command, follows the client's network, and is kept
# down by the Disconnect rules.
#
#   +-----------------------------+  ike0-in0   +---------------------+  out0-ike0  +------------------------+
#   | $P-cli  ikeway daemon       |-------------| $P-nat  masquerade  |-------------| $P-srv  charon         |
#   | ike0 10.98.0.2/24           |             | in0 10.98.0.1       |             | ike0 10.99.0.2         |
#   | default via 10.98.0.1       |             | out0 10.99.0.3      |             | HTTP :8080 (phase 4)   |
#   | resolv.conf: /etc/netns/... |             +---------------------+             +-----------+------------+
#   +-----------------------------+                                                             | prot0
#                                                                                   $P-prot 10.77.0.2 (ping target)
#
# Phases, each leaving OUT/<phase>.status.json (the daemon's `status --json` when the phase's
# condition was met or its time ran out) and a line "NAME MS" in OUT/phases.txt (ms the
# condition took, or "timeout"):
#   up         the daemon starts; nothing else is asked: wait for "connected"; ping through it
#   no-route   delete the client's default route (its only route to the server): "reasserting"
#   restored   add it again: "connected"; ping through it
#   corp       resolv.conf gains `search corp.example` (written in place): "disconnected",
#              then still "disconnected" 4 s later (OUT/corp.later.status.json)
#   back       resolv.conf without it: "connected"
#   trusted    an HTTP server on the server's outside address answers OK, and the client's link
#              gains an address (a network change: the rules are evaluated again, the probe
#              runs): "disconnected", still so 4 s later (OUT/trusted.later.status.json)
#   evaluate   a second profile ("Evaluate": one EvaluateConnection rule, ConnectIfNeeded for
#              corp.example) imported and enabled while the daemon runs; a DNS query for
#              www.example.org to the daemon's stub (127.0.0.153:53) starts nothing
#              (OUT/evaluate.other.*), one for git.corp.example (unresolvable outside) makes
#              it connect: "connected" (OUT/evaluate.corp.answer: the stub's answer)
# Then SIGTERM to the daemon: OUT/routes.end, OUT/links.end. Then `connect Roaming
# --foreground` (the probe's server stopped): fg-up "connected", fg-corp (the search domain
# again) "disconnected" with the process still there, fg-back "connected"; SIGTERM:
# OUT/routes.fg-end, OUT/foreground.log.
#
# Usage: testbeds/ondemand-netns.sh OUTDIR IKEWAY_BINARY   (root, strongSwan, python3)
# The Rust test crates/ikeway/tests/ondemand_netns.rs runs this and judges what it left.
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

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"
PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"

ikw_topo_trap
ikw_topo_up nat >/dev/null 2>&1 || ikw_die "topology"
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
# IPv6 stays off the client's legs: the path under test is IPv4.
ip -n "$IKW_NS_CLI" -6 route flush default 2>/dev/null || true

SRV="$IKW_WORKDIR/srv"
# No DNS from the server: resolv.conf stays the network's, which the test rewrites.
IKW_SW_PSK="$PSK" IKW_SW_MOBIKE=yes IKW_SW_POOL6="" IKW_SW_DNS="" IKW_SW_ESP_PROPOSALS=aes256gcm16-noesn \
    ikw_sw_psk_responder "$SRV" /dev/null

RESOLV="/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_client_resolv 'nameserver 10.99.0.254'

ikw_profile_psk test.ikeway.ondemand Roaming 0B7E3C52-2F4D-4E8A-9C11-5A3D2E6F7B80 \
    1C8F4D63-3A5E-4F9B-8D22-6B4E3F7A8C91 "On Demand profile" >"$IKW_WORKDIR/ondemand.mobileconfig" <<KEYS
    <key>DeadPeerDetectionRate</key><string>Medium</string>
    <key>OnDemandEnabled</key><integer>1</integer>
    <key>OnDemandRules</key><array>
      <dict><key>Action</key><string>Disconnect</string>
            <key>DNSDomainMatch</key><array><string>corp.example</string></array></dict>
      <dict><key>Action</key><string>Disconnect</string>
            <key>URLStringProbe</key><string>http://$IKW_SRV_ADDR:8080/trusted</string></dict>
      <dict><key>Action</key><string>Connect</string>
            <key>InterfaceTypeMatch</key><string>Ethernet</string></dict>
    </array>
$(ikw_profile_sa Child AES-256-GCM SHA2-256 14)
KEYS

profile_evaluate() {
    ikw_profile_psk test.ikeway.evaluate Evaluate 2D9A5E74-4B6F-4A0C-9E33-7C5F4A8B9DA2 \
        3EAB6F85-5C70-4B1D-8F44-8D6A5B9CAEB3 "EvaluateConnection profile" <<KEYS
    <key>OnDemandEnabled</key><integer>1</integer>
    <key>OnDemandRules</key><array>
      <dict><key>Action</key><string>EvaluateConnection</string>
            <key>ActionParameters</key><array>
              <dict><key>Domains</key><array><string>corp.example</string></array>
                    <key>DomainAction</key><string>ConnectIfNeeded</string></dict>
            </array></dict>
    </array>
$(ikw_profile_sa Child AES-256-GCM SHA2-256 14)
KEYS
}

cli() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" "$@"; }
cli profile import "$IKW_WORKDIR/ondemand.mobileconfig" --yes --enable >"$OUT/import.out" 2>&1
ip -n "$IKW_NS_CLI" -4 route show >"$OUT/routes.before"
ikw_exec cli ip -o link show >"$OUT/links.before"

status() { cli status --json 2>/dev/null | tr -d '\n '; }
: >"$OUT/phases.txt"
# Waits up to $2 s for status "$3" and records the phase $1.
phase() { # NAME TIMEOUT_S STATUS
    local t0 st
    t0="$(ikw_now_ms)"
    while :; do
        st="$(status)"
        case "$st" in *"\"status\":\"$3\""*) echo "$1 $(( $(ikw_now_ms) - t0 ))" >>"$OUT/phases.txt"; break ;; esac
        if [ $(( $(ikw_now_ms) - t0 )) -ge $(( $2 * 1000 )) ]; then
            echo "$1 timeout" >>"$OUT/phases.txt"; break
        fi
        sleep 0.2
    done
    cli status --json >"$OUT/$1.status.json" 2>&1 || true
}
ping_prot() { # FILE
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >/dev/null 2>&1 && echo 0 >"$OUT/$1" || echo 1 >"$OUT/$1"
}

ikw_spawn cli "$OUT/daemon.log" "${CLIENV[@]}" "$IKEWAY" daemon
DAEMON=$IKW_LAST_PID

phase up 30 connected
ping_prot up.ping.rc

ip -n "$IKW_NS_CLI" route del default
phase no-route 20 reasserting
ip -n "$IKW_NS_CLI" route add default via 10.98.0.1
phase restored 60 connected
ping_prot restored.ping.rc

# In place (same inode): the bind mount over /etc/resolv.conf shows it.
printf 'nameserver 10.99.0.254\nsearch corp.example\n' >"$RESOLV"
phase corp 20 disconnected
sleep 4
cli status --json >"$OUT/corp.later.status.json" 2>&1 || true
printf 'nameserver 10.99.0.254\n' >"$RESOLV"
phase back 30 connected

mkdir -p "$IKW_WORKDIR/www"
printf 'OK' >"$IKW_WORKDIR/www/trusted"
ikw_spawn srv "$OUT/http.log" python3 -m http.server 8080 --bind "$IKW_SRV_ADDR" --directory "$IKW_WORKDIR/www"
HTTP=$IKW_LAST_PID
ikw_wait_for 10 ikw_exec cli python3 -c "import urllib.request as u; u.urlopen('http://$IKW_SRV_ADDR:8080/trusted', timeout=1)" || true
ip -n "$IKW_NS_CLI" addr add 10.98.0.9/24 dev ike0
phase trusted 20 disconnected
sleep 4
cli status --json >"$OUT/trusted.later.status.json" 2>&1 || true

# EvaluateConnection: a second profile, enabled in its place (the daemon follows the
# configuration change), decides per name. A query for git.corp.example to the daemon's DNS
# stub does not resolve outside (nobody answers at 10.99.0.254), so the stub asks for the
# tunnel before answering; a query for www.example.org asks for nothing.
profile_evaluate >"$IKW_WORKDIR/evaluate.mobileconfig"
cli profile import "$IKW_WORKDIR/evaluate.mobileconfig" --yes --enable >"$OUT/import-evaluate.out" 2>&1
ikw_wait_for 10 grep -q "Evaluate: on demand: DNS stub on 127.0.0.153:53" "$OUT/daemon.log" || true
sleep 1
cli status --json >"$OUT/evaluate.before.status.json" 2>&1 || true
dns_query() { # NAME ID -> prints the answer's RCODE, or "none"
    ikw_exec cli python3 - "$1" "$2" <<'PY'
import socket, struct, sys
name, qid = sys.argv[1], int(sys.argv[2])
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(30)
s.sendto(q, ("127.0.0.153", 53))
try:
    a = s.recv(4096)
    print("id=%d rcode=%d" % (struct.unpack(">H", a[:2])[0], a[3] & 0xF))
except socket.timeout:
    print("none")
PY
}
dns_query www.example.org 4660 >"$OUT/evaluate.other.answer" 2>&1
cli status --json >"$OUT/evaluate.other.status.json" 2>&1 || true
dns_query git.corp.example 4661 >"$OUT/evaluate.corp.answer" 2>&1 &
QUERY=$!
phase evaluate 40 connected
wait "$QUERY" || true

kill -TERM "$DAEMON" 2>/dev/null || true
ikw_wait_for 10 sh -c "! kill -0 $DAEMON" || true
ip -n "$IKW_NS_CLI" -4 route show >"$OUT/routes.end"
ikw_exec cli ip -o link show >"$OUT/links.end"

# `connect --foreground` runs the same On Demand: the trusted network's server gone, the
# search domain comes and goes under a foreground connection of Roaming.
kill -TERM "$HTTP" 2>/dev/null || true
ikw_spawn cli "$OUT/foreground.log" "${CLIENV[@]}" "$IKEWAY" connect Roaming --foreground
FG=$IKW_LAST_PID
phase fg-up 30 connected
printf 'nameserver 10.99.0.254\nsearch corp.example\n' >"$RESOLV"
phase fg-corp 20 disconnected
printf 'nameserver 10.99.0.254\n' >"$RESOLV"
phase fg-back 30 connected
kill -TERM "$FG" 2>/dev/null || true
ikw_wait_for 10 sh -c "! kill -0 $FG" || true
ip -n "$IKW_NS_CLI" -4 route show >"$OUT/routes.fg-end"
cp "$SRV/charon.log" "$OUT/charon.log" 2>/dev/null || true
rm -rf "/etc/netns/$IKW_NS_CLI"
exit 0
