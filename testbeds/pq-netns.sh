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
# Usage: pq-netns.sh OUTDIR IKEWAY_BINARY [handshakes|traffic|direct-traffic]
# handshakes (default), on the direct topology:
# Round 1: serve --addke mlkem1024/mlkem768 (required); clients --addke mlkem768 (up),
#   --addke mlkem1024 (up; its 1568-byte key shares go as IKE fragments), no --addke (refused).
# Round 2: serve without --addke; clients --addke mlkem768/none (up, classical fallback) and
#   --addke mlkem768 (refused).
# Round 3: serve and client --addke mlkem768 with PFS (x25519) on child SAs; the client rekeys
#   its child, then the IKE SA, then creates a child on the new IKE SA: each with one
#   IKE_FOLLOWUP_KE (RFC 9370 §2.2.4); then a liveness check on the new IKE SA.
# Records in OUTDIR: serve1.jsonl, serve2.jsonl, serve3.jsonl, c-<name>.jsonl / .err / .rc for
# each client, c-<name>.keys (the client's --keylog), pq.pcapng (every IKE datagram).
# traffic, on the NAT topology, and direct-traffic, on the direct one (our datapath carries ESP
# only UDP-encapsulated, so with a TUN both roles force NAT-T there): serve and initiate --tun
# with --addke mlkem768 and PFS; the client rekeys its child at 2 s and the IKE SA at 3 s while
# a ping stream (25 x 0.2 s) goes to the protected host. Records: serve.jsonl, cli.jsonl,
# cli.keys, ping.txt, pq.pcapng.
# crates/ikeway/tests/pq_netns.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"

OUT="$1"
IKEWAY="$2"
MODE="${3:-handshakes}"
mkdir -p "$OUT"

case "$MODE" in
    handshakes) ikw_topo_up direct ;;
    traffic) ikw_topo_up nat ;;
    direct-traffic) ikw_topo_up direct ;;
    *) ikw_die "unknown mode '$MODE'" ;;
esac
ikw_topo_trap
printf 'pq-netns-psk-0123456789abcdef\n' >"$IKW_WORKDIR/psk"
PFS=aes128gcm16-x25519-noesn

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

stop_capture() {
    # dumpcap stopped by SIGINT drops what the kernel still buffers for it: let it drain first.
    sleep 1
    kill -INT "$DUMPCAP"
    wait "$DUMPCAP" 2>/dev/null || true
}

if [ "$MODE" != handshakes ]; then
    serve "$OUT/serve.jsonl" --addke mlkem768 --esp "$PFS" --subnet "$IKW_PROT_NET" \
        --local-ts "$IKW_PROT_NET" --tun ikw0 --tun-addr 10.88.0.1/32 --tun-route 10.88.0.0/24 \
        --pump-workers 1
    ikw_wait_for 10 sh -c "ip netns exec '$IKW_NS_SRV' ip link show ikw0" ||
        ikw_die "serve did not bring up its TUN device (see $OUT/serve.jsonl)"
    ikw_spawn cli "$OUT/cli.jsonl" "$IKEWAY" initiate --local "$IKW_CLI_ADDR" \
        --remote "$IKW_SRV_ADDR" --id traffic.pq.test --psk-file "$IKW_WORKDIR/psk" \
        --request-config --addke mlkem768 --esp "$PFS" --remote-ts "$IKW_PROT_NET" \
        --tun ikw0 --tun-route "$IKW_PROT_NET" --pump-workers 1 --keylog "$OUT/cli.keys" \
        --then rekey-child@2 --then rekey-ike@3 --linger 3 --timeout 30
    CLIENT=$IKW_LAST_PID
    ikw_wait_for 15 grep -q datapath_sa_installed "$OUT/cli.jsonl" ||
        ikw_die "no child SA in the client's datapath (see $OUT/cli.jsonl)"
    ikw_exec cli ping -c 25 -i 0.2 -W 1 "$IKW_PROT_ADDR" >"$OUT/ping.txt" 2>&1 || true
    wait "$CLIENT" || true
    kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
    stop_capture
    exit 0
fi

serve "$OUT/serve1.jsonl" --addke mlkem1024/mlkem768
client mlkem768 --addke mlkem768
client mlkem1024 --addke mlkem1024
client classical
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

serve "$OUT/serve2.jsonl"
client fallback --addke mlkem768/none
client required --addke mlkem768
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true

serve "$OUT/serve3.jsonl" --addke mlkem768 --esp "$PFS"
client rekeys --addke mlkem768 --esp "$PFS" \
    --then rekey-child@1 --then rekey-ike@2 --then create-child@3 --then dpd@4
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
stop_capture
