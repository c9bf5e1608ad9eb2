#!/usr/bin/env bash
# Our initiator against our responder with ML-KEM additional key exchanges (RFC 9370 over
# IKE_INTERMEDIATE, RFC 9242) through real UDP: no Debian peer speaks RFC 9370 yet.
#
#   +---------------------------------+   veth ike0   +----------------------------------+
#   | $P-cli  10.99.0.1               |---------------| $P-srv  10.99.0.2                |
#   | ikeway initiate --addke ...     |               | ikeway serve --addke ...         |
#   | dumpcap on ike0 -> pq.pcapng    |               |                                  |
#   +---------------------------------+               +----------------------------------+
#
# Usage: pq-netns.sh OUTDIR IKEWAY_BINARY
# Round 1: serve --addke mlkem1024/mlkem768 (required); clients --addke mlkem768 (up),
#   --addke mlkem1024 (up; its 1568-byte key shares go as IKE fragments), no --addke (refused).
# Round 2: serve without --addke; clients --addke mlkem768/none (up, classical fallback) and
#   --addke mlkem768 (refused).
# Records in OUTDIR: serve1.jsonl, serve2.jsonl, c-<name>.jsonl / .err / .rc for each client,
# c-<name>.keys (the client's --keylog), pq.pcapng (every IKE datagram of both rounds).
# crates/ikeway/tests/pq_netns.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_up direct
ikw_topo_trap
printf 'pq-netns-psk-0123456789abcdef\n' >"$IKW_WORKDIR/psk"

ikw_spawn cli "$OUT/dumpcap.log" dumpcap -i ike0 -q -f "udp port 500 or udp port 4500" \
    -w "$OUT/pq.pcapng"
DUMPCAP=$IKW_LAST_PID
ikw_wait_for 5 grep -q "^File: " "$OUT/dumpcap.log" || ikw_die "dumpcap did not start"

serve() { # LOG ADDKE...
    local log="$1"; shift
    ikw_spawn srv "$log" "$IKEWAY" serve --local "$IKW_SRV_ADDR" --id srv.pq.test \
        --psk-file "$IKW_WORKDIR/psk" --pool 10.88.0.10/20 --duration 40 "$@"
    SERVE=$IKW_LAST_PID
    ikw_wait_for 5 ikw_exec srv sh -c 'ss -Hlun | grep -q ":500 "' || ikw_die "serve did not bind"
}

client() { # NAME ADDKE...
    local name="$1"; shift
    local rc=0
    ikw_exec cli "$IKEWAY" initiate --local "$IKW_CLI_ADDR" --remote "$IKW_SRV_ADDR" \
        --id "$name.pq.test" --psk-file "$IKW_WORKDIR/psk" --request-config --linger 0 \
        --timeout 15 \
        --keylog "$OUT/c-$name.keys" "$@" >"$OUT/c-$name.jsonl" 2>"$OUT/c-$name.err" || rc=$?
    echo "$rc" >"$OUT/c-$name.rc"
}

serve "$OUT/serve1.jsonl" --addke mlkem1024/mlkem768
client mlkem768 --addke mlkem768
client mlkem1024 --addke mlkem1024
client classical
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

serve "$OUT/serve2.jsonl"
client fallback --addke mlkem768/none
client required --addke mlkem768
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

# dumpcap stopped by SIGINT drops what the kernel still buffers for it: let it drain first.
sleep 1
kill -INT "$DUMPCAP"
wait "$DUMPCAP" 2>/dev/null || true
