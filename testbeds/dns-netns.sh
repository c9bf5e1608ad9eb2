#!/usr/bin/env bash
# Split DNS through a real systemd-resolved, the profile's MTU on the TUN link and TCP MSS
# clamping, with our Personal VPN client (`config add` / `profile import` + `connect`) against
# strongSwan sending INTERNAL_IP4_DNS and INTERNAL_DNS_DOMAIN (issue 14).
#
#   +------------------------------+  veth ike0   +---------------------+  veth prot0  +----------------+
#   | $P-cli  10.99.0.1            |--------------| $P-srv  10.99.0.2   |--------------| $P-prot        |
#   | private /run (mount ns):     |              | charon (libipsec)   | 10.77.0.1    | 10.77.0.2      |
#   |   dbus-daemon (private bus)  |              | pool 10.88.0.0/24   |              | 10.77.0.53:    |
#   |   systemd-resolved (uid      |              |  DNS 10.77.0.53     |              |  dnsd: A ->    |
#   |     65534, unpacked .deb)    |              |  DNS_DOMAIN         |              |  10.77.0.99    |
#   |   ike0 DNS 10.99.0.2 default |              |  corp.example       |              | mss_probe      |
#   |   ikeway connect -> ikeway0  |              | 10.99.0.2:53 dnsd:  |              |  listen :8080  |
#   +------------------------------+              |  A -> 192.0.2.1     |              +----------------+
#                                                 +---------------------+
#
# Usage: dns-netns.sh OUTDIR IKEWAY_BINARY RESOLVED_DIR
# RESOLVED_DIR: the unpacked systemd-resolved package (testbeds/install-peers.sh puts it in
# testbeds/.peers/systemd-resolved). Cases, each recording CASE.* in OUTDIR:
#   split  `config add --mtu 1300` (traffic selectors: the protected net only): resolved's
#          settings of ikeway0 (CASE.dns, .domain, .default-route), two queries
#          (CASE.query-corp / -other) and what each DNS server was asked (CASE.dnsd-tunnel /
#          -outer), the TUN link (CASE.link, `ip -j`), the SYNs of a TCP connection to the
#          protected host seen on ikeway0 and on the protected host (CASE.mss-cli / -prot);
#          after disconnect: CASE.after-links (resolved's links), CASE.after-query-corp.
#   all    a profile with IncludeAllNetworks: CASE.domain, .default-route, .query-other,
#          .dnsd-tunnel, .dnsd-outer.
# Both: CASE.connect.rc/.out, CASE.log (the connection's log), resolv.before / CASE.resolv.after
# (the mount namespace's /etc/resolv.conf: resolved is in charge, it must not change).
# crates/ikeway/tests/dns_netns.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/profile.sh"
. "$HERE/lib/steps.sh"

OUT="$1"
IKEWAY="$2"
RESOLVED="$(cd "$3" && pwd)"
mkdir -p "$OUT"
PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"
[ -x "$RESOLVED/lib/systemd/systemd-resolved" ] || ikw_die "no systemd-resolved in $RESOLVED"

ikw_topo_up direct
ikw_topo_trap
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"

# The DNS servers: inside the tunnel (on the protected host) and outside it (the server's
# outer address, as a home router's would be).
ip -n "$IKW_NS_PROT" addr add 10.77.0.53/24 dev prot0
ikw_spawn prot "$OUT/dnsd-tunnel.err" python3 "$HERE/lib/dnsd.py" 10.77.0.53 10.77.0.99 "$OUT/dnsd-tunnel.log"
ikw_spawn srv "$OUT/dnsd-outer.err" python3 "$HERE/lib/dnsd.py" "$IKW_SRV_ADDR" 192.0.2.1 "$OUT/dnsd-outer.log"
: >"$OUT/dnsd-tunnel.log"
: >"$OUT/dnsd-outer.log"

SRV="$IKW_WORKDIR/srv-strongswan"
IKW_SW_PSK="$PSK" IKW_SW_POOL6="" IKW_SW_DNS=10.77.0.53 IKW_SW_DNS_DOMAIN=corp.example \
    IKW_SW_LOCAL_TS="$IKW_PROT_NET" ikw_sw_psk_responder "$SRV" "$OUT/sw-load.out"

# The client's private /run, with its own system bus and resolved.
ikw_client_resolv "# the namespace host's" 'nameserver 127.0.0.53'
CLIENV+=(PATH="$RESOLVED/usr/bin:$PATH")
# Our side runs resolvectl by absolute path (/usr/bin/resolvectl, never from PATH: connect runs
# as root): in the client's own mount namespace only, the unpacked package's /usr/bin is laid
# over the host's, read-only.
ikw_exec cli "${CLIENV[@]}" mount -t overlay overlay \
    -o "lowerdir=$RESOLVED/usr/bin:/usr/bin" /usr/bin
ikw_exec cli "${CLIENV[@]}" test -x /usr/bin/resolvectl ||
    { echo "resolvectl not at /usr/bin in the client's mount namespace" >&2; exit 1; }
cat >"$IKW_WORKDIR/bus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
ikw_exec cli "${CLIENV[@]}" mkdir -p /run/dbus /run/systemd/resolve
ikw_exec cli "${CLIENV[@]}" chown 65534:65534 /run/systemd/resolve
ikw_spawn cli "$OUT/dbus.log" "${CLIENV[@]}" dbus-daemon --config-file="$IKW_WORKDIR/bus.conf" --nofork --nopidfile
ikw_wait_for 5 ikw_exec cli "${CLIENV[@]}" test -S /run/dbus/system_bus_socket ||
    ikw_die "the private D-Bus did not start (see $OUT/dbus.log)"
# Started as root, resolved would switch to the user systemd-resolve, which this host does not
# have: it starts as nobody with the capabilities its unit gives it.
ikw_spawn cli "$OUT/resolved.log" "${CLIENV[@]}" setpriv --reuid 65534 --regid 65534 --clear-groups \
    --inh-caps +net_bind_service,+net_raw,+setpcap --ambient-caps +net_bind_service,+net_raw,+setpcap \
    "$RESOLVED/lib/systemd/systemd-resolved"
ikw_wait_for 5 ikw_exec cli "${CLIENV[@]}" test -S /run/systemd/resolve/io.systemd.Resolve ||
    ikw_die "systemd-resolved did not start (see $OUT/resolved.log)"
resolvectl() { ikw_exec cli "${CLIENV[@]}" resolvectl "$@"; }
resolvectl dns ike0 "$IKW_SRV_ADDR"
resolvectl default-route ike0 yes
ikw_exec cli "${CLIENV[@]}" cat /etc/resolv.conf >"$OUT/resolv.before"

query() { # NAME FILE
    resolvectl query --cache=no --legend=no "$1" >"$2" 2>&1 || true
}

# Everything a connected case records about DNS.
dns_state() { # CASE
    local c="$1"
    resolvectl dns ikeway0 >"$OUT/$c.dns" 2>&1 || true
    resolvectl domain ikeway0 >"$OUT/$c.domain" 2>&1 || true
    resolvectl default-route ikeway0 >"$OUT/$c.default-route" 2>&1 || true
    : >"$OUT/dnsd-tunnel.log"
    : >"$OUT/dnsd-outer.log"
    query www.corp.example "$OUT/$c.query-corp"
    query www.other.example "$OUT/$c.query-other"
    cp "$OUT/dnsd-tunnel.log" "$OUT/$c.dnsd-tunnel"
    cp "$OUT/dnsd-outer.log" "$OUT/$c.dnsd-outer"
}

connect() { # CASE NAME
    local rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect "$2" --wait 20 >"$OUT/$1.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/$1.connect.rc"
}

disconnect() { # CASE NAME
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/$1.disconnect.out" 2>&1 || true
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/$1.log" 2>/dev/null || true
    ikw_exec cli "${CLIENV[@]}" cat /etc/resolv.conf >"$OUT/$1.resolv.after"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove "$2" --yes >/dev/null 2>&1 || true
}

# ---- split: the server's selectors only, INTERNAL_DNS_DOMAIN routes corp.example.
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add split --server "$IKW_SRV_ADDR" \
    --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
    --child-encryption aes128gcm --mtu 1300 --yes >"$OUT/split.add.out" 2>&1
connect split split
if [ "$(cat "$OUT/split.connect.rc")" = 0 ]; then
    dns_state split
    ikw_exec cli ip -j link show ikeway0 >"$OUT/split.link" 2>&1 || true
    ikw_spawn prot "$OUT/split.listen.out" python3 "$HERE/lib/mss_probe.py" listen "$IKW_PROT_ADDR" 8080
    ikw_spawn prot "$OUT/split.mss-prot" python3 "$HERE/lib/mss_probe.py" capture prot0 4
    ikw_spawn cli "$OUT/split.mss-cli" python3 "$HERE/lib/mss_probe.py" capture ikeway0 4
    sleep 0.5
    ikw_exec cli python3 "$HERE/lib/mss_probe.py" connect "$IKW_PROT_ADDR" 8080 >"$OUT/split.tcp.out" 2>&1 || true
    sleep 3
fi
disconnect split split
sleep 0.5
resolvectl domain >"$OUT/split.after-links" 2>&1 || true
query www.corp.example "$OUT/split.after-query-corp"

# ---- all: IncludeAllNetworks, every name to the tunnel's server.
ikw_profile_psk test.ikeway.dns.all all 0A4D1C7E-2B9F-4E51-9C3A-5D7E8F901A2B \
    1B5E2D8F-3CA0-4F62-AD4B-6E8F90A12B3C "DNS test profile" >"$IKW_WORKDIR/all.mobileconfig" <<KEYS
    <key>IncludeAllNetworks</key><integer>1</integer>
    <key>ExcludeLocalNetworks</key><integer>1</integer>
    <key>DisableMOBIKE</key><integer>1</integer>
    <key>DisableRedirect</key><integer>1</integer>
$(ikw_profile_sa Child AES-128-GCM SHA2-256 14)
KEYS
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/all.mobileconfig" --yes >"$OUT/all.import.out" 2>&1
connect all all
if [ "$(cat "$OUT/all.connect.rc")" = 0 ]; then
    dns_state all
fi
disconnect all all
cp "$SRV/charon.log" "$OUT/charon.log" 2>/dev/null || true
