#!/usr/bin/env bash
# Post-quantum preshared keys (RFC 8784) between our Personal VPN client and strongSwan, in
# the namespaces of lib/netns.sh:
#
#   client ns (ikeway connect)                    responder ns (one charon-systemd)
#   10.99.0.1 ----------- veth ike0 ----------- 10.99.0.2, + 10.99.0.61 (ppk-req)
#                                                          + 10.99.0.62 (ppk-opt)
#
# One strongSwan responder answers both server cases, each on its own address: PSK auth, one
# PPK secret (`ppk` in swanctl.conf: PPK_ID qkd-link-1), `ppk_required = yes` on ppk-req and
# `no` on ppk-opt. strongSwan announces USE_PPK because a PPK is loaded (send_use_ppk).
#
# Our client, as a user runs it (`config add ... --ppk-file --ppk-id [--ppk-optional]`, then
# `connect`), once per case NAME SERVER_CASE PPK (right: the server's key under its PPK_ID;
# wrong: another key under that PPK_ID; unknown: the right key under a PPK_ID the server does
# not have; none: no PPK configured) MODE (required|optional):
#   req-right req-wrong req-unknown req-none   against ppk-req (our client required, or none)
#   opt-right opt-wrong opt-unknown opt-none   against ppk-opt (our client optional, or none)
#   mand-opt-server                            our client requires, the server is optional
#
# Scenario `server`: a strongSwan initiator against `ikeway serve --psk-file --ppk ...` on two
# addresses, 10.99.0.2 (PPK optional) and 10.99.0.3 (--ppk-required); our responders know
# qkd-link-1 (the same key as strongSwan) and wrong-link (another key than strongSwan's).
# strongSwan's connections NAME TARGET PPK_ID (`-`: none) REQUIRED:
#   i-right  opt qkd-link-1 yes    i-wrong opt wrong-link yes    i-unknown opt other-link no
#   i-none   opt -          no     i-right-req req qkd-link-1 yes   i-none-req req - no
#
# Usage: ppk-interop.sh client|server OUTDIR IKEWAY_BINARY
# Records per case what lib/ourclient.sh's ikw_client_case records (NAME.connect.rc/.out,
# NAME.status.json, NAME.ping.rc, NAME.sas, NAME.end.sas, NAME.log, NAME.charon.log) and
# NAME.add.out; and charon.log. `server` records per connection NAME: NAME.rc,
# NAME.initiate.out, NAME.sas (strongSwan's SAs right after), NAME.events.jsonl (what our
# responders wrote meanwhile), NAME.charon.log. crates/ikeway/tests/ppk_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/ourclient.sh"
. "$HERE/lib/steps.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"
PSK="$IKW_SW_DEFAULT_PSK"
PPK_ID=qkd-link-1
PPK="ikeway testbed post-quantum preshared key 0123456789"
WRONG_PPK="ikeway testbed another post-quantum key 9876543210"

ikw_topo_trap
ikw_topo_up direct
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
printf '%s\n' "$PPK" >"$IKW_WORKDIR/ppk.right"
printf '%s\n' "$WRONG_PPK" >"$IKW_WORKDIR/ppk.wrong"


ppk_lines() { # PPK_ID REQUIRED: the connection's PPK settings, beside `version`
    if [ "$1" = - ]; then
        sed "s/^\(        version = .*\)$/\1\n        ppk_required = $2/"
    else
        sed "s/^\(        version = .*\)$/\1\n        ppk_id = $1\n        ppk_required = $2/"
    fi
}

if [ "$SCENARIO" = server ]; then
    printf '%s\n' "$WRONG_PPK" >"$IKW_WORKDIR/ppk.ours-for-wrong"
    serve() { # NAME ADDRESS POOL OPTIONS...
        local name="$1" addr="$2" pool="$3"
        shift 3
        ikw_spawn srv "$OUT/$name.jsonl" "$IKEWAY" serve --local "$addr" --id srv.ikeway.test \
            --psk-file "$IKW_WORKDIR/psk" --pool "$pool" --local-ts "$IKW_PROT_NET" \
            --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
            --ppk "$PPK_ID=$IKW_WORKDIR/ppk.right" --ppk "wrong-link=$IKW_WORKDIR/ppk.ours-for-wrong" \
            --duration 40 "$@"
    }
    ip -n "$IKW_NS_SRV" addr add 10.99.0.3/24 dev ike0
    serve serve-opt 10.99.0.2 10.88.0.10/50
    serve serve-req 10.99.0.3 10.88.0.60/50 --ppk-required
    CLI="$IKW_WORKDIR/cli-strongswan"
    mkdir -p "$CLI"
    cases() {
        cat <<'CASES'
i-right     10.99.0.2 qkd-link-1 yes
i-wrong     10.99.0.2 wrong-link yes
i-unknown   10.99.0.2 other-link no
i-none      10.99.0.2 -          no
i-right-req 10.99.0.3 qkd-link-1 yes
i-none-req  10.99.0.3 -          no
CASES
    }
    {
        echo "connections {"
        while read -r name target id required; do
            IKW_SW_CONN="$name" IKW_SW_CHILD="$name" IKW_SW_REMOTE_ADDRS="$target" \
                IKW_SW_VIPS=0.0.0.0 IKW_SW_REMOTE_TS="$IKW_PROT_NET" ikw_sw_conn_initiator |
                ppk_lines "$id" "$required"
        done < <(cases)
        echo "}"
        echo "secrets {"
        echo "    ike-ikw {"
        echo "        id-1 = cli.ikeway.test"
        echo "        id-2 = srv.ikeway.test"
        echo "        secret = \"$PSK\""
        echo "    }"
        echo "    ppk-1 {"
        echo "        id = $PPK_ID"
        echo "        secret = \"$PPK\""
        echo "    }"
        echo "    ppk-2 {"
        echo "        id = wrong-link"
        echo "        secret = \"$PPK\""
        echo "    }"
        echo "    ppk-3 {"
        echo "        id = other-link"
        echo "        secret = \"$PPK\""
        echo "    }"
        echo "}"
    } >"$CLI/swanctl.conf"
    ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    listening() { ikw_exec srv ss -Hlun "src $1:500" | grep -q .; }
    ikw_wait_for 5 listening 10.99.0.2 || true
    ikw_wait_for 5 listening 10.99.0.3 || true
    while read -r name target id required; do
        ikw_sw_client_case "$name" "$CLI" "$OUT/serve-opt.jsonl" "$OUT/serve-req.jsonl"
    done < <(cases)
    cp "$CLI/charon.log" "$OUT/charon.log"
    exit 0
fi
[ "$SCENARIO" = client ] || { echo "unknown scenario $SCENARIO" >&2; exit 2; }

server_cases() {
    cat <<'CASES'
ppk-req 10.99.0.61 yes
ppk-opt 10.99.0.62 no
CASES
}

server_addr() { # CASE
    local name addr rest
    while read -r name addr rest; do
        [ "$name" = "$1" ] && echo "$addr" && return
    done < <(server_cases)
    return 1
}

SRV="$IKW_WORKDIR/srv-strongswan"
mkdir -p "$SRV"
{
    echo "connections {"
    while read -r name addr required; do
        # The PPK settings belong to the connection, beside `version`.
        IKW_SW_CONN="$name" IKW_SW_LOCAL_ADDRS="$addr" IKW_SW_POOL6="" ikw_sw_conn_responder |
            ppk_lines - "$required"
    done < <(server_cases)
    echo "}"
    IKW_SW_POOL6="" _ikw_sw_pools
    echo "secrets {"
    echo "    ike-ikw {"
    echo "        id-1 = srv.ikeway.test"
    echo "        secret = \"$PSK\""
    echo "    }"
    echo "    ppk-1 {"
    echo "        id = $PPK_ID"
    echo "        secret = \"$PPK\""
    echo "    }"
    echo "}"
} >"$SRV/swanctl.conf"
while read -r name addr rest; do
    ip -n "$IKW_NS_SRV" addr add "$addr/24" dev ike0
done < <(server_cases)
ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"
ikw_client_resolv 'nameserver 10.99.0.254'

# NAME SERVER_CASE PPK MODE
client_cases() {
    cat <<'CASES'
req-right       ppk-req right   required
req-wrong       ppk-req wrong   required
req-unknown     ppk-req unknown required
req-none        ppk-req none    -
opt-right       ppk-opt right   optional
opt-wrong       ppk-opt wrong   optional
opt-unknown     ppk-opt unknown optional
opt-none        ppk-opt none    -
mand-opt-server ppk-opt right   required
CASES
}

while read -r name server ppk mode; do
    ppk_args=()
    case "$ppk" in
    right) ppk_args=(--ppk-file "$IKW_WORKDIR/ppk.right" --ppk-id "$PPK_ID") ;;
    wrong) ppk_args=(--ppk-file "$IKW_WORKDIR/ppk.wrong" --ppk-id "$PPK_ID") ;;
    unknown) ppk_args=(--ppk-file "$IKW_WORKDIR/ppk.right" --ppk-id other-link) ;;
    esac
    [ "$mode" = optional ] && ppk_args+=(--ppk-optional)
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" --server "$(server_addr "$server")" \
        --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
        --child-encryption aes256gcm \
        "${ppk_args[@]}" --yes >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_case "$name" "$SRV" "$server"
done < <(client_cases)
cp "$SRV/charon.log" "$OUT/charon.log"
rm -rf "/etc/netns/$IKW_NS_CLI"
