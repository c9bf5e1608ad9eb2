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
# Usage: ppk-interop.sh client OUTDIR IKEWAY_BINARY (one scenario, `client`, so that the
# shared runner of crates/ikeway/tests/testbed runs it like the other beds)
# Records per case what lib/ourclient.sh's ikw_client_case records (NAME.connect.rc/.out,
# NAME.status.json, NAME.ping.rc, NAME.sas, NAME.end.sas, NAME.log, NAME.charon.log) and
# NAME.add.out; and charon.log. crates/ikeway/tests/ppk_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/ourclient.sh"

[ "$1" = client ] || { echo "unknown scenario $1" >&2; exit 2; }
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
            sed "s/^\(        version = .*\)$/\1\n        ppk_required = $required/"
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
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run

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
