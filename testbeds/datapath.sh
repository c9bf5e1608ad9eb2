#!/usr/bin/env bash
# Datapath throughput: iperf3 across a userspace tunnel between two namespaces, for our pump
# and for the userspace peers, same script, same invocation, same machine.
#
#   +-------------------------------+                      +-------------------------------+
#   | $P-cli                        |   veth ike0 <-> ike0 | $P-srv                        |
#   |  ike0 10.99.0.1/24  ==========|======================|========== ike0 10.99.0.2/24   |
#   |        ^ ESP-in-UDP / WG      |  (outer packets)     |      ESP-in-UDP / WG ^        |
#   |        |                      |                      |                      |        |
#   |  [tunnel process]             |                      |             [tunnel process]  |
#   |        |  TUN (ikw0/ipsec0/wgc)                      |  TUN (.../wgs)       |        |
#   |  10.200.0.1  iperf3 -c  ------------- inner ----------------->  iperf3 -s 10.200.0.2 |
#   +-------------------------------+                      +-------------------------------+
#
# Paths (one tunnel process on each end):
#   veth                 no tunnel: iperf3 straight over the veth (the ceiling)
#   ikeway               ikeway-pump (examples/pump-static, static AES-GCM-128 keys, io_uring)
#   strongswan-libipsec  charon-systemd with kernel-libipsec, IKEv2 PSK, AES-GCM-128, ESP-in-UDP
#   boringtun            boringtun-cli (testbeds/.peers/boringtun/bin)
#   wireguard-go         wireguard-go (Debian), configured with wg
#
# For each path: TCP 1 stream, TCP 4 streams, UDP 1400-byte datagrams unthrottled (goodput at
# the receiver); medians over IKW_DP_RUNS runs of IKW_DP_SECONDS each. Per-packet CPU cost:
# CPU time (user+sys) of every non-iperf3 process in both namespaces during the single-stream
# TCP runs, divided by the packets that crossed the tunnel devices (rx+tx, both ends).
#
# Usage: testbeds/datapath.sh [PATH...]     (default: all five; needs root)
# Env: IKW_DP_SECONDS [5]  IKW_DP_RUNS [3]  IKW_DP_WORKERS [1] (pump workers per end)
#      IKW_DP_BACKEND [auto] (auto|uring|poll)  IKW_PUMP_BIN [target/release/examples/pump-static]
#      IKW_PREFIX [ikwdp]
#
# Interop mode: testbeds/datapath.sh interop OUTDIR IKEWAY_BIN
#   our `ikeway initiate --tun` in $P-cli against a strongSwan responder (kernel-libipsec) in
#   $P-srv with the protected host $P-prot behind it: ping (IPv4, IPv6), iperf3 TCP both ways,
#   a child SA rekey in the middle of an iperf3 run with a ping stream alongside (loss counted).
#   Leaves ours.log, ping4.txt, ping6.txt, iperf-fwd.json, iperf-rev.json, pingstream.txt in
#   OUTDIR for crates/ikeway/tests/datapath_interop.rs to judge.
#
# Output: one line per path, `datapath <path> tcp X Gbit/s udp Y Gbit/s tcp4 Z Gbit/s ns/packet N` (CPU ns per 1400 bytes
# through the tunnel, both ends, during the single-stream TCP runs),
# then `ratio ikeway/<peer> tcp A udp B`. Missing peers are reported as SKIPPED.

set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export IKW_PREFIX="${IKW_PREFIX:-ikwdp}"
# shellcheck source=lib/netns.sh
. "$HERE/lib/netns.sh"
# shellcheck source=lib/strongswan.sh
. "$HERE/lib/strongswan.sh"

SECONDS_PER_RUN="${IKW_DP_SECONDS:-5}"
RUNS="${IKW_DP_RUNS:-3}"
WORKERS="${IKW_DP_WORKERS:-1}"
BACKEND="${IKW_DP_BACKEND:-auto}"
PUMP_BIN="${IKW_PUMP_BIN:-$ROOT/target/release/examples/pump-static}"
BORINGTUN="${IKW_BORINGTUN:-$HERE/.peers/boringtun/bin/boringtun-cli}"
IN_CLI=10.200.0.1 IN_SRV=10.200.0.2

[ "$(id -u)" -eq 0 ] || ikw_die "needs root"
command -v iperf3 >/dev/null || ikw_die "iperf3 missing: testbeds/install-peers.sh"

interop() { # OUTDIR IKEWAY_BIN
    local out="$1" bin="$2"
    mkdir -p "$out"
    ikw_topo_trap
    ikw_topo_up direct >/dev/null 2>&1 || ikw_die "topology"
    local s="$IKW_WORKDIR/sw-srv"
    IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn ikw_sw_conf_responder "$s"
    ikw_sw_start srv "$s" && ikw_sw_load "$s" >/dev/null || ikw_die "strongSwan responder"
    echo "$IKW_SW_DEFAULT_PSK" >"$IKW_WORKDIR/psk"
    ikw_spawn prot "$out/iperf3-prot.log" iperf3 -s
    ikw_spawn cli "$out/ours.log" "$bin" initiate --local "$IKW_CLI_ADDR" --remote "$IKW_SRV_ADDR" \
        --id cli.ikeway.test --remote-id srv.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
        --esp aes128gcm16-noesn --request-config \
        --remote-ts "$IKW_PROT_NET" --remote-ts "$IKW_PROT_NET6" \
        --tun ikw0 --tun-route "$IKW_PROT_NET" --tun-route "$IKW_PROT_NET6" --pump-workers 1 \
        --then rekey-child@8 --linger 12 --timeout 60
    local ours=$IKW_LAST_PID
    ikw_wait_for 15 grep -q datapath_sa_installed "$out/ours.log" || {
        cat "$out/ours.log" >&2; ikw_die "no child SA in the datapath"; }
    sleep 0.5
    ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$out/ping4.txt" 2>&1
    ikw_exec cli ping -6 -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR6" >"$out/ping6.txt" 2>&1
    ikw_exec cli iperf3 -c "$IKW_PROT_ADDR" -t 2 -R -J >"$out/iperf-rev.json" 2>&1
    # The rekey fires 8 s after the child SA: this run and the ping stream span it.
    ikw_exec cli ping -i 0.01 -c 700 -W 2 "$IKW_PROT_ADDR" >"$out/pingstream.txt" 2>&1 &
    local pinger=$!
    ikw_exec cli iperf3 -c "$IKW_PROT_ADDR" -t 8 -J >"$out/iperf-fwd.json" 2>&1
    wait "$pinger"
    ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$out/ping4-after.txt" 2>&1
    ikw_sw_list_sas "$s" >"$out/sas.txt" 2>&1
    wait "$ours"; echo "exit $?" >>"$out/ours.log"
    cp "$IKW_WORKDIR/pump"* "$out/" 2>/dev/null || true
}

if [ "${1:-}" = interop ]; then
    shift
    interop "$@"
    exit 0
fi

PATHS=("$@")
[ ${#PATHS[@]} -eq 0 ] && PATHS=(veth ikeway strongswan-libipsec boringtun wireguard-go)

if pgrep -x rustc >/dev/null || pgrep -x cc1 >/dev/null; then
    ikw_log "WARNING: a compiler is running on this machine: figures will be low and noisy"
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# CPU ticks (user+sys, all threads) of every non-iperf3 process in the two namespaces.
tunnel_ticks() {
    local ns pid total=0 t
    for ns in "$IKW_NS_CLI" "$IKW_NS_SRV"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = iperf3 ] && continue
            t=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null || echo 0)
            total=$((total + ${t:-0}))
        done
    done
    echo "$total"
}

# Bytes through the tunnel devices of both ends (rx + tx). DEV is one name, or CLI,SRV.
# Bytes, not packets: with TSO a device counts one 64 KiB super-packet as one packet, so only
# bytes compare across paths; the cost is reported per 1400 bytes, i.e. per full-size packet.
tunnel_bytes() { # DEV
    local ns total=0 n dev
    for ns in "$IKW_NS_CLI" "$IKW_NS_SRV"; do
        dev="${1%,*}"; [ "$ns" = "$IKW_NS_SRV" ] && dev="${1#*,}"
        n=$(ip -n "$ns" -s -j link show "$dev" 2>/dev/null |
            python3 -c 'import json,sys; l=json.load(sys.stdin)[0]["stats64"]; print(l["rx"]["bytes"]+l["tx"]["bytes"])' 2>/dev/null || echo 0)
        total=$((total + n))
    done
    echo "$total"
}

# iperf3 client run; prints Gbit/s (TCP: received; UDP: goodput at the receiver).
iperf() { # ARGS...
    local out
    out="$(ikw_exec cli iperf3 -c "$IN_SRV" -t "$SECONDS_PER_RUN" -J "$@" 2>/dev/null)" || { echo nan; return; }
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
e = d.get("end", {})
if "sum_received" in e:
    print("%.3f" % (e["sum_received"]["bits_per_second"] / 1e9))
else:
    s = e.get("sum", {})
    # UDP: what the receiver got = sent bytes minus lost datagrams.
    total, lost = s.get("packets", 0), s.get("lost_packets", 0)
    bps = s.get("bits_per_second", 0) * ((total - lost) / total if total else 0)
    print("%.3f" % (bps / 1e9))
' <<<"$out" 2>/dev/null || echo nan
}

measure() { # PATH DEV
    local path="$1" dev="$2" tcp=() tcp4=() udp=() i t0 p0 t1 p1 ticks=0 pkts=0
    ikw_spawn srv "$IKW_WORKDIR/iperf3-srv.log" iperf3 -s -B "$IN_SRV"
    ikw_wait_for 5 ikw_exec cli bash -c "exec 3<>/dev/tcp/$IN_SRV/5201" || {
        ikw_log "$path: iperf3 server unreachable through the tunnel"
        echo "datapath $path FAILED (no connectivity)"
        return 1
    }
    for i in $(seq "$RUNS"); do
        t0=$(tunnel_ticks); p0=$(tunnel_bytes "$dev")
        tcp+=("$(iperf)")
        t1=$(tunnel_ticks); p1=$(tunnel_bytes "$dev")
        ticks=$((ticks + t1 - t0)); pkts=$((pkts + p1 - p0))
        tcp4+=("$(iperf -P 4)")
        udp+=("$(iperf -u -b 0 -l 1400)")
    done
    local ns_pkt="n/a"
    # ticks are 10 ms; per 1400 bytes through the tunnel devices.
    [ "$dev" != "-" ] && [ "$pkts" -gt 0 ] && ns_pkt=$(( ticks * 10000000 * 1400 / pkts ))
    local mt mu m4
    mt=$(printf '%s\n' "${tcp[@]}" | median)
    m4=$(printf '%s\n' "${tcp4[@]}" | median)
    mu=$(printf '%s\n' "${udp[@]}" | median)
    echo "datapath $path tcp $mt Gbit/s udp $mu Gbit/s tcp4 $m4 Gbit/s ns/packet $ns_pkt   (runs: tcp ${tcp[*]} | tcp4 ${tcp4[*]} | udp ${udp[*]})"
    RESULT_TCP[$path]=$mt RESULT_UDP[$path]=$mu
}

inner_addrs() { # CLI_DEV SRV_DEV
    ikw_exec cli ip addr add "$IN_CLI/24" dev "$1"
    ikw_exec srv ip addr add "$IN_SRV/24" dev "$2"
    ikw_exec cli ip link set "$1" up
    ikw_exec srv ip link set "$2" up
}

setup_veth() {
    IN_SRV=10.99.0.2
    DEV=-
}

setup_ikeway() {
    [ -x "$PUMP_BIN" ] || { echo "SKIPPED: $PUMP_BIN missing (cargo build --release -p ikeway-pump --examples)"; return 1; }
    local ka kb
    ka=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
    kb=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
    ikw_spawn cli "$IKW_WORKDIR/pump-cli.log" "$PUMP_BIN" --tun ikw0 --local 10.99.0.1:4500 \
        --remote 10.99.0.2:4500 --addr "$IN_CLI/24" --spi-in 1001 --spi-out 2002 \
        --key-in "$ka" --key-out "$kb" --workers "$WORKERS" --backend "$BACKEND"
    ikw_spawn srv "$IKW_WORKDIR/pump-srv.log" "$PUMP_BIN" --tun ikw0 --local 10.99.0.2:4500 \
        --remote 10.99.0.1:4500 --addr "$IN_SRV/24" --spi-in 2002 --spi-out 1001 \
        --key-in "$kb" --key-out "$ka" --workers "$WORKERS" --backend "$BACKEND"
    ikw_wait_for 5 grep -q '^ready' "$IKW_WORKDIR/pump-cli.log" &&
        ikw_wait_for 5 grep -q '^ready' "$IKW_WORKDIR/pump-srv.log" ||
        { cat "$IKW_WORKDIR"/pump-*.log >&2; return 1; }
    grep -h 'ikeway-pump:' "$IKW_WORKDIR/pump-cli.log" >&2
    DEV=ikw0
}

setup_strongswan-libipsec() {
    command -v charon-systemd >/dev/null || { echo "SKIPPED: charon-systemd missing"; return 1; }
    ikw_exec cli ip addr add "$IN_CLI/32" dev lo
    ikw_exec srv ip addr add "$IN_SRV/32" dev lo
    local s="$IKW_WORKDIR/sw-srv" c="$IKW_WORKDIR/sw-cli"
    IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn IKW_SW_LOCAL_TS="$IN_SRV/32" \
        IKW_SW_REMOTE_TS="$IN_CLI/32" IKW_SW_POOL4="" IKW_SW_POOL6="" ikw_sw_conf_responder "$s"
    IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn IKW_SW_LOCAL_TS="$IN_CLI/32" \
        IKW_SW_REMOTE_TS="$IN_SRV/32" IKW_SW_VIPS="" ikw_sw_conf_initiator "$c"
    ikw_sw_start srv "$s" && ikw_sw_load "$s" >/dev/null &&
        ikw_sw_start cli "$c" && ikw_sw_load "$c" >/dev/null || return 1
    ikw_sw_initiate "$c" >/dev/null || { echo "FAILED: strongSwan initiate"; return 1; }
    DEV=ipsec0
}

wg_keys() {
    umask 077
    wg genkey >"$IKW_WORKDIR/cli.key"; wg pubkey <"$IKW_WORKDIR/cli.key" >"$IKW_WORKDIR/cli.pub"
    wg genkey >"$IKW_WORKDIR/srv.key"; wg pubkey <"$IKW_WORKDIR/srv.key" >"$IKW_WORKDIR/srv.pub"
}

# Both WireGuard implementations put their UAPI socket in /var/run/wireguard/NAME.sock, which
# the namespaces share: each end gets its own interface name (wgc, wgs).
wg_configure() {
    ikw_wait_for 5 ikw_exec cli ip link show wgc && ikw_wait_for 5 ikw_exec srv ip link show wgs || return 1
    ikw_exec cli wg set wgc private-key "$IKW_WORKDIR/cli.key" listen-port 51820 \
        peer "$(cat "$IKW_WORKDIR/srv.pub")" endpoint 10.99.0.2:51820 allowed-ips "$IN_SRV/32"
    ikw_exec srv wg set wgs private-key "$IKW_WORKDIR/srv.key" listen-port 51820 \
        peer "$(cat "$IKW_WORKDIR/cli.pub")" endpoint 10.99.0.1:51820 allowed-ips "$IN_CLI/32"
    inner_addrs wgc wgs
    DEV=wgc,wgs
}

setup_wireguard-go() {
    command -v wireguard-go >/dev/null && command -v wg >/dev/null ||
        { echo "SKIPPED: wireguard-go/wg missing (testbeds/install-peers.sh --bench-peers)"; return 1; }
    wg_keys
    ikw_spawn cli "$IKW_WORKDIR/wg-cli.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wgc
    ikw_spawn srv "$IKW_WORKDIR/wg-srv.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wgs
    wg_configure
}

setup_boringtun() {
    [ -x "$BORINGTUN" ] && command -v wg >/dev/null ||
        { echo "SKIPPED: $BORINGTUN or wg missing (testbeds/install-peers.sh --bench-peers)"; return 1; }
    wg_keys
    ikw_spawn cli "$IKW_WORKDIR/bt-cli.log" "$BORINGTUN" --foreground --disable-drop-privileges wgc
    ikw_spawn srv "$IKW_WORKDIR/bt-srv.log" "$BORINGTUN" --foreground --disable-drop-privileges wgs
    wg_configure
}

declare -A RESULT_TCP RESULT_UDP
ikw_log "machine: $(nproc) CPU(s), $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
ikw_log "runs: $RUNS x ${SECONDS_PER_RUN}s per test; pump workers $WORKERS, backend $BACKEND"
ikw_topo_trap
for path in "${PATHS[@]}"; do
    IN_SRV=10.200.0.2
    unset IKW_WORKDIR
    ikw_topo_up direct >/dev/null 2>&1 || { echo "datapath $path FAILED (topology)"; continue; }
    DEV=-
    if "setup_$path" >"$IKW_WORKDIR/setup.out" 2>"$IKW_WORKDIR/setup.err"; then
        measure "$path" "$DEV"
    else
        echo "datapath $path $(tail -1 "$IKW_WORKDIR/setup.out" | grep . || echo FAILED)"
        tail -5 "$IKW_WORKDIR/setup.err" >&2
    fi
    ikw_topo_down
done

ours_t="${RESULT_TCP[ikeway]:-}" ours_u="${RESULT_UDP[ikeway]:-}"
if [ -n "$ours_t" ]; then
    best=0
    for peer in veth strongswan-libipsec boringtun wireguard-go; do
        t="${RESULT_TCP[$peer]:-}"; u="${RESULT_UDP[$peer]:-}"
        [ -n "$t" ] || continue
        echo "ratio ikeway/$peer tcp $(awk -v a="$ours_t" -v b="$t" 'BEGIN{printf (b>0 ? "%.2f" : "n/a"), a/b}') udp $(awk -v a="$ours_u" -v b="$u" 'BEGIN{printf (b>0 ? "%.2f" : "n/a"), a/b}')"
        [ "$peer" != veth ] && best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a>b)?a:b}')
    done
    if [ "$best" != 0 ]; then
        verdict=$(awk -v a="$ours_t" -v b="$best" 'BEGIN{print (a >= 5*b) ? "MET" : "NOT MET"}')
        echo "target ikeway tcp >= 5 x best userspace peer ($best Gbit/s): $verdict"
    fi
fi
