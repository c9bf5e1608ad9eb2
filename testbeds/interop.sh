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
# Scenarios: suites lifecycle peer-rekeys nat responder libreswan timing session session-nat
# (the session scenarios run IKEWAY_BINARY as `BINARY --client LOCAL SERVER PSK_FILE NETWORK`:
# crates/tunnel/tests/session_strongswan.rs, a program on `ikeway_tunnel::Session` itself)
#
# The script only runs the peers and records what each side saw: ikeway's JSON events
# (OUTDIR/*.jsonl), `swanctl --list-sas --raw` snapshots (OUTDIR/*.sas), exit codes (*.rc) and
# timings. crates/ikeway/tests/interop.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/libreswan.sh"
. "$HERE/lib/profile.sh"
. "$HERE/lib/steps.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"

PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"

ikw_topo_trap
case "$SCENARIO" in
nat | session-nat) ikw_topo_up nat ;;
*) ikw_topo_up direct ;;
esac
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
    IKW_SW_PSK="$PSK" IKW_SW_POOL6="" ikw_sw_psk_responder "$SRV" "$OUT/srv-load.out"
}

# A profile naming the strongSwan responder. $1: DeadPeerDetectionRate, $2: OnDemandEnabled,
# $3: IncludeAllNetworks (0/1), $4: the configuration's name (default Corp).
write_profile() {
    ikw_profile_psk "test.ikeway.corp.${4:-Corp}" "${4:-Corp}" 6E0B1B0E-5E4B-4C4B-9E0B-1B0E5E4B4C4B \
        7F1C2C1F-6F5C-4D5C-AF1C-2C1F6F5C4D5C "Corp profile" >"$IKW_WORKDIR/corp.mobileconfig" <<KEYS
    <key>DeadPeerDetectionRate</key><string>$1</string>
    <key>OnDemandEnabled</key><integer>$2</integer>
    <key>OnDemandRules</key><array><dict><key>Action</key><string>Connect</string></dict></array>
    <key>IncludeAllNetworks</key><integer>${3:-0}</integer>
    <key>ExcludeLocalNetworks</key><integer>1</integer>
    <key>DisableMOBIKE</key><integer>1</integer>
    <key>DisableRedirect</key><integer>1</integer>
    <key>MTU</key><integer>1380</integer>
$(ikw_profile_sa IKE AES-256-GCM SHA2-256 31)
$(ikw_profile_sa Child AES-128-GCM SHA2-256 31)
KEYS
}

case "$SCENARIO" in
suites)
    start_strongswan_responder
    ikw_capture_start suites
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
    ikw_capture_stop
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
    # The responder's options come from a file (`serve --config`), as a server would keep them.
    cat >"$IKW_WORKDIR/serve.toml" <<TOML
local = "$IKW_SRV_ADDR"
id = "srv.ikeway.test"
psk_file = "$IKW_WORKDIR/psk"
pool = "10.88.0.10/100"
dns = ["10.77.0.53"]
domain = ["corp.ikeway.test"]
subnet = ["$IKW_PROT_NET"]
local_ts = ["$IKW_PROT_NET"]
ike = ["aes128gcm16-prfsha256-x25519-ecp256"]
esp = ["aes128gcm16-noesn"]
TOML
    ikw_spawn srv "$OUT/serve.jsonl" "$IKEWAY" serve --config "$IKW_WORKDIR/serve.toml" \
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
connect)
    # The Personal VPN path: import a profile naming the strongSwan responder, connect, use the
    # tunnel, check status, disconnect; routes and DNS must come back exactly.
    IKW_SW_POOL6="" start_strongswan_responder
    ikw_spawn prot "$OUT/iperf3-server.out" iperf3 -s -1
    # `ip netns exec` shows /etc/netns/NS/resolv.conf as /etc/resolv.conf inside the namespace,
    # so the client's DNS changes stay in the client namespace.
    ikw_client_resolv 'nameserver 10.99.0.254'
    write_profile Medium 0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/corp.mobileconfig" --yes >"$OUT/import.out" 2>&1
    ikw_exec cli ip -4 route show >"$OUT/routes.before"
    ikw_exec cli cat /etc/resolv.conf >"$OUT/resolv.before"
    rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect Corp --wait 20 >"$OUT/connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/connect.rc"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/status.json" 2>&1 || true
    ikw_exec cli ip -4 route show >"$OUT/routes.during"
    ikw_exec cli cat /etc/resolv.conf >"$OUT/resolv.during"
    # The profile's MTU on the TUN link.
    ikw_exec cli ip -j link show ikeway0 >"$OUT/link.during" 2>&1 || true
    ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/ping.out" 2>&1 && echo 0 >"$OUT/ping.rc" || echo 1 >"$OUT/ping.rc"
    ikw_exec cli iperf3 -c "$IKW_PROT_ADDR" -t 2 -J >"$OUT/iperf3.json" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status >"$OUT/status.txt" 2>&1 || true
    ikw_sw_list_sas "$SRV" --raw >"$OUT/connect.sas"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/disconnect.out" 2>&1 || true
    sleep 0.3
    ikw_exec cli ip -4 route show >"$OUT/routes.after"
    ikw_exec cli cat /etc/resolv.conf >"$OUT/resolv.after"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/status.after.json" 2>&1 || true
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection.log" 2>/dev/null || true
    # All networks into the tunnel: the server's own address must stay outside it.
    write_profile Medium 0 1 CorpAll
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/corp.mobileconfig" --yes >"$OUT/all.import.out" 2>&1
    rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect CorpAll --wait 20 >"$OUT/all.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/all.connect.rc"
    ikw_exec cli ip -4 route show >"$OUT/all.routes.during"
    ikw_exec cli ip -4 route get "$IKW_SRV_ADDR" >"$OUT/all.server-route" 2>&1 || true
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >/dev/null 2>&1 && echo 0 >"$OUT/all.ping.rc" || echo 1 >"$OUT/all.ping.rc"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/all.disconnect.out" 2>&1 || true
    sleep 0.3
    ikw_exec cli ip -4 route show >"$OUT/all.routes.after"
    rm -rf "/etc/netns/$IKW_NS_CLI"
    ;;
responder-death)
    # The server dies: status goes reasserting, then disconnected with the documented error
    # within the DPD bound; the server comes back and on-demand reconnects.
    IKW_SW_POOL6="" start_strongswan_responder
    ikw_client_resolv 'nameserver 10.99.0.254'
    write_profile High 1
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/corp.mobileconfig" --yes >"$OUT/import.out" 2>&1
    ikw_exec cli ip -4 route show >"$OUT/routes.before"
    rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect Corp --wait 20 >"$OUT/connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/connect.rc"
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >/dev/null 2>&1 && echo 0 >"$OUT/ping1.rc" || echo 1 >"$OUT/ping1.rc"
    kill -9 "$(cat "$SRV/charon.pid")"
    t0="$(ikw_now_ms)"
    : >"$OUT/timeline"
    while :; do
        now="$(ikw_now_ms)"
        st="$(ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json 2>/dev/null | tr -d '\n ')"
        echo "$((now - t0)) $st" >>"$OUT/timeline"
        case "$st" in *'"status":"disconnected"'*) case "$st" in *ServerNotResponding*) break ;; esac ;; esac
        [ $((now - t0)) -lt 100000 ] || break
        sleep 0.5
    done
    echo "$(( $(ikw_now_ms) - t0 ))" >"$OUT/dead.ms"
    rm -f "$SRV/charon.vici" "$SRV/charon.pid"
    ikw_sw_start srv "$SRV"
    ikw_sw_load "$SRV" >"$OUT/srv-reload.out"
    t1="$(ikw_now_ms)"
    while :; do
        st="$(ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json 2>/dev/null | tr -d '\n ')"
        case "$st" in *'"status":"connected"'*) break ;; esac
        [ $(( $(ikw_now_ms) - t1 )) -lt 40000 ] || break
        sleep 0.5
    done
    echo "$(( $(ikw_now_ms) - t1 ))" >"$OUT/reconnect.ms"
    echo "$st" >"$OUT/status.reconnected"
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >/dev/null 2>&1 && echo 0 >"$OUT/ping2.rc" || echo 1 >"$OUT/ping2.rc"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/disconnect.out" 2>&1 || true
    sleep 0.3
    ikw_exec cli ip -4 route show >"$OUT/routes.after"
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/connection.log" 2>/dev/null || true
    rm -rf "/etc/netns/$IKW_NS_CLI"
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
session | session-nat)
    # A client written on `ikeway_tunnel::Session` alone: connect, rekey the child SA, then
    # disconnect with DELETE. Snapshots of strongSwan's SAs while it is up and after.
    start_strongswan_responder
    rc=0
    ikw_exec cli "$IKEWAY" --client "$IKW_CLI_ADDR" "$IKW_SRV_ADDR" "$IKW_WORKDIR/psk" \
        "$IKW_PROT_NET" >"$OUT/session.jsonl" 2>"$OUT/session.err" &
    pid=$!
    if ikw_sw_wait_established "$SRV" 15 ikw net; then
        ikw_sw_list_sas "$SRV" --raw >"$OUT/session.up.sas"
    else
        echo "not established" >"$OUT/session.up.sas"
    fi
    wait "$pid" || rc=$?
    echo "$rc" >"$OUT/session.rc"
    ikw_sw_list_sas "$SRV" --raw >"$OUT/session.end.sas" || true
    echo "$IKW_CLI_SEEN" >"$OUT/session.seen"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
