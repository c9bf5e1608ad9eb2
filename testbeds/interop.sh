#!/usr/bin/env bash
# Interop scenarios between ikeway and real peers, in network namespaces this script creates.
#
#   +-------------------+   veth    +----------------------+   veth   +-------------+
#   | $P-cli 10.99.0.1  |-----------| $P-srv 10.99.0.2     |----------| $P-prot     |
#   | ikeway initiate   |           | charon (libipsec) or |          | 10.77.0.2   |
#   | or strongSwan     |           | pluto or ikeway serve|          |             |
#   +-------------------+           +----------------------+          +-------------+
#   (scenario "nat" puts $P-nat, an nftables masquerade, between cli and srv: see lib/netns.sh)
#
# Usage: interop.sh SCENARIO OUTDIR IKEWAY_BINARY
# Scenarios: suites lifecycle peer-rekeys nat responder libreswan timing
#
# The script only runs the peers and records what each side saw: ikeway's JSON events
# (OUTDIR/*.jsonl), `swanctl --list-sas --raw` snapshots (OUTDIR/*.sas), exit codes (*.rc) and
# timings. crates/ikeway/tests/interop.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/libreswan.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"

PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"

ikw_topo_trap
if [ "$SCENARIO" = nat ]; then ikw_topo_up nat; else ikw_topo_up direct; fi
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"

# Our initiator in the client namespace; remaining arguments are passed through.
ours_initiate() { # NAME ARGS...
    local name="$1"; shift
    local rc=0
    ikw_exec cli "$IKEWAY" initiate --local "$IKW_CLI_ADDR" --remote "$IKW_SRV_ADDR" \
        --id cli.ikeway.test --remote-id srv.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
        --keylog "$OUT/$name.keys" --timeout 30 "$@" >"$OUT/$name.jsonl" 2>"$OUT/$name.err" || rc=$?
    echo "$rc" >"$OUT/$name.rc"
}

# Starts our initiator in the background; waits until strongSwan (DIR) shows the SAs up, then
# snapshots them, waits for ours to finish and snapshots again.
ours_against_strongswan() { # DIR NAME ARGS...
    local dir="$1" name="$2"; shift 2
    ours_initiate "$name" "$@" &
    local pid=$!
    if ikw_sw_wait_established "$dir" 15 ikw net; then
        ikw_sw_list_sas "$dir" --raw >"$OUT/$name.up.sas"
    else
        echo "not established" >"$OUT/$name.up.sas"
    fi
    wait "$pid" || true
    ikw_sw_list_sas "$dir" --raw >"$OUT/$name.end.sas" || true
}

start_strongswan_responder() {
    SRV="$IKW_WORKDIR/srv-strongswan"
    IKW_SW_PSK="$PSK" IKW_SW_POOL6="" ikw_sw_conf_responder "$SRV"
    ikw_sw_start srv "$SRV"
    ikw_sw_load "$SRV" >"$OUT/srv-load.out"
}

# Captures IKE and ESP on the responder's link, for tshark to dissect with our key log.
start_capture() { # NAME
    ikw_spawn srv "$OUT/$1.tshark.out" tshark -q -i ike0 -w "$OUT/$1.pcapng" -f "udp port 500 or udp port 4500"
    CAPTURE_PID=$IKW_LAST_PID
    ikw_wait_for 10 test -s "$OUT/$1.pcapng" || true
    sleep 0.5
}

stop_capture() {
    sleep 0.5
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
}

case "$SCENARIO" in
suites)
    start_strongswan_responder
    start_capture suites
    i=0
    while read -r ike esp; do
        [ -n "$ike" ] || continue
        i=$((i + 1))
        echo "$ike $esp" >"$OUT/suite-$i.proposal"
        ours_against_strongswan "$SRV" "suite-$i" --ike "$ike" --esp "$esp" --request-config \
            --remote-ts "$IKW_PROT_NET" --then delete@0.5
    done <<'EOF'
aes128gcm16-prfsha256-x25519 aes128gcm16-noesn
aes256gcm16-prfsha384-ecp256 aes256gcm16-noesn
aes256gcm16-prfsha512-ecp384 chacha20poly1305-noesn
aes256-sha256-prfsha256-modp2048 aes128gcm16-noesn
aes128gcm16-prfsha256-modp3072 aes256gcm16-noesn
aes256gcm16-prfsha256-modp4096 aes128gcm16-noesn
aes256-sha256-prfsha256-x25519 aes256gcm16-noesn
EOF
    stop_capture
    cat "$OUT"/suite-*.keys >"$OUT/suites.keys"
    cp "$SRV/charon.log" "$OUT/charon.log"
    ;;
lifecycle)
    start_strongswan_responder
    ours_initiate life --ike aes256gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
        --request-config --remote-ts "$IKW_PROT_NET" \
        --then rekey-child@1 --then rekey-ike@2 --then dpd@3 --then rekey-child@4 --then delete@5 &
    pid=$!
    ikw_sw_wait_established "$SRV" 15 ikw net || true
    sleep 0.5
    ikw_sw_list_sas "$SRV" --raw >"$OUT/life.up.sas"
    sleep 1
    ikw_sw_list_sas "$SRV" --raw >"$OUT/life.after-child-rekey.sas"
    sleep 1
    ikw_sw_list_sas "$SRV" --raw >"$OUT/life.after-ike-rekey.sas"
    wait "$pid" || true
    ikw_sw_list_sas "$SRV" --raw >"$OUT/life.end.sas"
    cp "$SRV/charon.log" "$OUT/charon.log"
    ;;
peer-rekeys)
    start_strongswan_responder
    ours_initiate peer --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
        --request-config --remote-ts "$IKW_PROT_NET" --linger 8 &
    pid=$!
    ikw_sw_wait_established "$SRV" 15 ikw net || true
    ikw_sw_list_sas "$SRV" --raw >"$OUT/peer.up.sas"
    ikw_swanctl "$SRV" --rekey --child net >"$OUT/peer.rekey-child.out" 2>&1 || true
    sleep 1
    ikw_sw_list_sas "$SRV" --raw >"$OUT/peer.after-child-rekey.sas"
    ikw_swanctl "$SRV" --rekey --ike ikw >"$OUT/peer.rekey-ike.out" 2>&1 || true
    sleep 1
    ikw_sw_list_sas "$SRV" --raw >"$OUT/peer.after-ike-rekey.sas"
    ikw_swanctl "$SRV" --terminate --ike ikw --timeout 5 >"$OUT/peer.terminate.out" 2>&1 || true
    wait "$pid" || true
    ikw_sw_list_sas "$SRV" --raw >"$OUT/peer.end.sas"
    cp "$SRV/charon.log" "$OUT/charon.log"
    ;;
nat)
    start_strongswan_responder
    ours_against_strongswan "$SRV" natted --ike aes128gcm16-prfsha256-x25519 \
        --esp aes128gcm16-noesn --request-config --remote-ts "$IKW_PROT_NET" --then delete@0.5
    echo "$IKW_CLI_SEEN" >"$OUT/nat.seen"
    ;;
responder)
    # strongSwan initiates; ikeway answers.
    printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
    ikw_spawn srv "$OUT/serve.jsonl" "$IKEWAY" serve --local "$IKW_SRV_ADDR" --id srv.ikeway.test \
        --psk-file "$IKW_WORKDIR/psk" --pool 10.88.0.10/100 --dns 10.77.0.53 \
        --domain corp.ikeway.test --subnet "$IKW_PROT_NET" --local-ts "$IKW_PROT_NET" \
        --ike aes128gcm16-prfsha256-x25519-ecp256 --esp aes128gcm16-noesn \
        --keylog "$OUT/serve.keys" --duration 12
    CLI="$IKW_WORKDIR/cli-strongswan"
    IKW_SW_PSK="$PSK" IKW_SW_VIPS="0.0.0.0" IKW_SW_REMOTE_TS="$IKW_PROT_NET" ikw_sw_conf_initiator "$CLI"
    ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    sleep 0.3
    rc=0
    ikw_sw_initiate "$CLI" net ikw 15 >"$OUT/sw-initiate.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/sw-initiate.rc"
    ikw_sw_list_sas "$CLI" --raw >"$OUT/sw.up.sas" || true
    ikw_swanctl "$CLI" --rekey --child net >"$OUT/sw.rekey-child.out" 2>&1 || true
    sleep 1
    ikw_sw_list_sas "$CLI" --raw >"$OUT/sw.after-child-rekey.sas" || true
    ikw_swanctl "$CLI" --rekey --ike ikw >"$OUT/sw.rekey-ike.out" 2>&1 || true
    sleep 1
    ikw_sw_list_sas "$CLI" --raw >"$OUT/sw.after-ike-rekey.sas" || true
    ikw_swanctl "$CLI" --terminate --ike ikw --timeout 5 >"$OUT/sw.terminate.out" 2>&1 || true
    sleep 0.5
    cp "$CLI/charon.log" "$OUT/charon.log"
    ;;
libreswan)
    LS="$IKW_WORKDIR/srv-libreswan"
    IKW_LS_PSK="$PSK" IKW_LS_POOL="" ikw_ls_conf_responder "$LS"
    ikw_ls_start srv "$LS"
    ours_initiate ls --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
        --remote-ts "$IKW_PROT_NET" --then delete@0.5
    ikw_whack "$LS" --trafficstatus >"$OUT/ls.status" 2>&1 || true
    cp "$LS"/pluto.log "$OUT/pluto.log" 2>/dev/null || true
    ;;
timing)
    start_strongswan_responder
    for i in 1 2 3 4 5 6; do
        ours_initiate "ours-$i" --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
            --request-config --remote-ts "$IKW_PROT_NET" --then delete@0.1 --linger 0
    done
    CLI="$IKW_WORKDIR/cli-strongswan"
    IKW_SW_PSK="$PSK" IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 \
        IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn IKW_SW_VIPS="0.0.0.0" ikw_sw_conf_initiator "$CLI"
    ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    for i in 1 2 3 4 5 6; do
        ikw_sw_initiate "$CLI" net ikw 15 >"$OUT/sw-$i.out" 2>&1 || true
        echo "$IKW_SW_INITIATE_MS" >"$OUT/sw-$i.ms"
        ikw_swanctl "$CLI" --terminate --ike ikw --timeout 5 >/dev/null 2>&1 || true
        sleep 0.2
    done
    cp "$CLI/charon.log" "$OUT/cli-charon.log"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
