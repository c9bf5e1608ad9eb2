#!/usr/bin/env bash
# `cargo xtask bench responder`: IKEv2 responders on the wire, ours and strongSwan's charon in
# the same run, with the same load generator (benches/src/bin/responder_wire.rs).
#
#   +--------------------------------+   veth    +-------------------------------+
#   | $P-cli 10.99.0.1               |-----------| $P-srv 10.99.0.2              |
#   | responder-wire: clients from   |           | ikeway serve (--workers N),   |
#   |   10.99.0.101-132, ports 500   |           |   then charon-systemd         |
#   |   and 4500; spoofed            |           | route 10.200.0.0/16 -> cli    |
#   |   IKE_SA_INIT from 10.200/16   |           |   (answers to the flood)      |
#   +--------------------------------+           +-------------------------------+
#
# Both responders: PSK, X25519, AES-GCM-16-256 (IKE and ESP), an IPv4 address from a pool and
# DNS in CFG_REPLY, one child SA, no datapath (ours: no --tun; charon: kernel-libipsec, the
# only IPsec backend that loads here, with no routes or virtual IPs installed), the same
# half-open limits (cookies above 64 half-open SAs, at most 32 per source and 1024 in all;
# charon would also demand cookies from a fourth half-open SA per address: raised to 64).
#
# Usage: responder-bench.sh OUTDIR IKEWAY_BINARY RESPONDER_WIRE_BINARY [--quick]
# Writes OUTDIR/results.txt (the generator's lines) and the responders' logs; exits non-zero if
# a responder could not start or a generator run failed (a handshake or a quiet probe that did
# not complete).
# At each level of established SAs the generator holds that many under churn (one DELETE per
# completed handshake) and times several windows; see benches/src/bin/responder_wire.rs.
# Env: IKW_BENCH_WORKERS ("1 2" when `ikeway serve` has --workers), IKW_BENCH_SW_TABLE
# (charon's ikesa_table_size, default 32768; strongSwan's own default is 1),
# IKW_BENCH_ONLY (ikeway or charon: measure one of them), IKW_BENCH_LEVELS_OURS and
# IKW_BENCH_LEVELS_SW (comma-separated numbers of established SAs), IKW_BENCH_WINDOWS (timed
# windows per level), IKW_BENCH_WINDOW_MS (their length), IKW_BENCH_WARMUP_MS (churn before
# them), IKW_BENCH_KEY_POOL (the clients' pool of X25519 key pairs, default 4096; 0: a new
# key pair per handshake), IKW_BENCH_CONCURRENCY (handshakes in flight, default 48: under
# the cookie threshold of 64 half-open SAs, and enough to keep both sides busy),
# IKW_BENCH_PERF_DIR (record each responder with perf over each level's windows, NAME-K.data
# in that directory).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"

OUT="$1"
IKEWAY="$2"
WIRE="$3"
QUICK=0
[ "${4:-}" = --quick ] && QUICK=1
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
: >"$OUT/results.txt"

PSK="ikeway-bench-psk-0123456789"
# 32 client addresses: the kernel spreads IKE_SA_INIT over SO_REUSEPORT workers by a hash of
# the addresses and ports, so a few would land unevenly.
SOURCES="$(seq -s, -f '10.99.0.%g' 101 132)"
FLOOD_NET=10.200.0.0
if [ "$QUICK" = 1 ]; then
    LEVELS_OURS=0,200 LEVELS_SW=0,200 WINDOWS=3 WINDOW_MS=500 WARMUP_MS=200 PROBES=20
    PROBE_S=2 FLOOD=2000
else
    LEVELS_OURS=0,1000,10000,100000 LEVELS_SW=0,1000,10000 WINDOWS=5 WINDOW_MS=2000
    WARMUP_MS=1000 PROBES=200 PROBE_S=5 FLOOD=50000
fi
LEVELS_OURS="${IKW_BENCH_LEVELS_OURS:-$LEVELS_OURS}"
LEVELS_SW="${IKW_BENCH_LEVELS_SW:-$LEVELS_SW}"
WINDOWS="${IKW_BENCH_WINDOWS:-$WINDOWS}"
WINDOW_MS="${IKW_BENCH_WINDOW_MS:-$WINDOW_MS}"
WARMUP_MS="${IKW_BENCH_WARMUP_MS:-$WARMUP_MS}"

export IKW_PREFIX="${IKW_PREFIX:-auto}"
ikw_topo_trap
ikw_topo_up direct
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
for ip in ${SOURCES//,/ }; do
    ip -n "$IKW_NS_CLI" addr add "$ip/24" dev ike0
done
# The flood's answers go back to the client's link, where nobody holds those addresses.
ip -n "$IKW_NS_SRV" route add "$FLOOD_NET/16" via "$IKW_CLI_ADDR"

# NAME PID LEVELS: the generator against the responder running as PID.
generate() {
    local rc=0
    ikw_exec cli "$WIRE" --name "$1" --pid "$2" --levels "$3" --server "$IKW_SRV_ADDR" \
        --sources "$SOURCES" --psk-file "$IKW_WORKDIR/psk" --windows "$WINDOWS" \
        --window-ms "$WINDOW_MS" --warmup-ms "$WARMUP_MS" \
        --probes "$PROBES" --probe-seconds "$PROBE_S" --flood "$FLOOD" --flood-net "$FLOOD_NET" \
        --key-pool "${IKW_BENCH_KEY_POOL:-4096}" --concurrency "${IKW_BENCH_CONCURRENCY:-48}" \
        ${IKW_BENCH_PERF_DIR:+--perf "$IKW_BENCH_PERF_DIR"} \
        >"$OUT/$1.out" 2>"$OUT/$1.err" || rc=$?
    cat "$OUT/$1.out" >>"$OUT/results.txt"
    cat "$OUT/$1.out"
    [ "$rc" -eq 0 ] || { ikw_log "generator against $1 failed ($rc): $(tail -n 3 "$OUT/$1.err")"; FAILED=1; }
}

udp_bound() { ikw_exec srv ss -Hlun "sport = :$1" | grep -q .; }

# [WORKERS]: ikeway serve with that many workers (none given: the binary's default).
ours() {
    local name=ikeway extra=()
    if [ -n "${1:-}" ]; then name="ikeway-w$1"; extra=(--workers "$1"); fi
    # Events go to /dev/null: one JSON line each would otherwise fill the disk at 100k SAs.
    ikw_spawn srv "$OUT/$name.log" bash -c 'exec "$@" >/dev/null' serve "$IKEWAY" serve \
        --local "$IKW_SRV_ADDR" --id srv.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
        --pool 10.128.0.1/262000 --dns 10.77.0.53 --ike aes256gcm16-prfsha256-x25519 \
        --esp aes256gcm16 --duration 3600 "${extra[@]}"
    local pid=$IKW_LAST_PID
    if ! ikw_wait_for 10 udp_bound 500; then
        ikw_log "ikeway serve did not bind UDP 500: $(tail -n 5 "$OUT/$name.log")"
        FAILED=1
        return
    fi
    generate "$name" "$pid" "$LEVELS_OURS"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

charon() {
    local dir="$IKW_WORKDIR/charon"
    mkdir -p "$dir"
    cat >"$dir/strongswan.conf" <<EOF
# Written by testbeds/responder-bench.sh: a responder doing the same work as ikeway serve.
charon {
    load = random nonce openssl gcm aes sha2 hmac kdf curve25519 pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici
    load_modular = no
    port = 500
    port_nat_t = 4500
    install_routes = no
    install_virtual_ip = no
    ikesa_table_size = ${IKW_BENCH_SW_TABLE:-32768}
    ikesa_table_segments = 16
    cookie_threshold = 64
    cookie_threshold_ip = 64
    block_threshold = 32
    init_limit_half_open = 1024
    plugins {
        vici {
            socket = unix://$dir/charon.vici
        }
    }
    journal {
        default = -1
    }
    syslog {
        daemon {
            default = -1
        }
        auth {
            default = -1
        }
    }
    filelog {
        ikw {
            path = $dir/charon.log
            append = no
            default = ${IKW_BENCH_SW_LOG:-0}
        }
    }
}
EOF
    IKW_SW_PSK="$PSK" IKW_SW_IKE_PROPOSALS=aes256gcm16-prfsha256-x25519 \
        IKW_SW_ESP_PROPOSALS=aes256gcm16 IKW_SW_POOL4=10.128.0.0/14 IKW_SW_POOL6="" \
        IKW_SW_DNS=10.77.0.53 IKW_SW_LOCAL_TS=0.0.0.0/0 IKW_SW_DPD_DELAY=600s \
        ikw_sw_conf_responder "$dir"
    # Every client has its own identity: the secret names none, so it is everyone's.
    sed -i '/^secrets {/,/^}/{/id-[12] = /d}' "$dir/swanctl.conf"
    if ! ikw_sw_start srv "$dir" || ! ikw_sw_load "$dir" >"$OUT/charon-load.out"; then
        FAILED=1
        return
    fi
    generate charon "$(cat "$dir/charon.pid")" "$LEVELS_SW"
    cp "$dir/charon.log" "$OUT/charon.log" 2>/dev/null || true
    ikw_sw_stop "$dir"
}

FAILED=0
if [ "${IKW_BENCH_ONLY:-ikeway}" = ikeway ]; then
    # The whole help first: grep -q would stop reading early, and pipefail count the SIGPIPE.
    HELP="$("$IKEWAY" serve --help)"
    if grep -qE '^ +--workers( |$)' <<<"$HELP"; then
        for w in ${IKW_BENCH_WORKERS:-1 2}; do ours "$w"; done
    else
        ours
    fi
fi
if [ "${IKW_BENCH_ONLY:-charon}" = charon ]; then
    charon
fi
exit "$FAILED"
