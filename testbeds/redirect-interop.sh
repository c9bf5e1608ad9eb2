#!/usr/bin/env bash
# IKEv2 redirect (RFC 5685) interop between ikeway and strongSwan 5.9.8, in the direct topology
# of lib/netns.sh with a second responder address, B = 10.99.0.5, on the responder's ike0:
#
#   +-------------------+   veth "ike0"   +---------------------------+     +---------------+
#   | $P-cli  (client)  |-----------------| $P-srv                    |-----| $P-prot       |
#   | 10.99.0.1/24      |                 | A 10.99.0.2/24 (redirects)|     | 10.77.0.2     |
#   |                   |                 | B 10.99.0.5/24 (serves)   |     |               |
#   +-------------------+                 +---------------------------+     +---------------+
#
# Usage: redirect-interop.sh SCENARIO OUTDIR IKEWAY_BINARY
# Scenarios:
#   client  (a) our Personal VPN client (`config add` + `connect`) to strongSwan's connection
#           `a` on A; `swanctl --redirect --ike a --gateway 10.99.0.5` sends the established
#           SA to B (strongSwan's connection `b`, pool 10.88.1.0/24); ping through B.
#   server  (b) strongSwan's initiator (cli) to `ikeway serve --redirect-to 10.99.0.5` on A,
#           which redirects it in IKE_SA_INIT to `ikeway serve` on B (pool 10.88.1.10/50);
#           (c) our `ikeway connect` to A, redirected in IKE_SA_INIT to B (strongSwan has no
#           redirect provider in Debian's build, so A is ours); then A with
#           `--redirect-in auth` (the client authenticated first): our client (c2) and
#           strongSwan's initiator (b2).
#
# `client` records: a.add.out, a.connect.rc/.out, a.status.json (before the redirect),
# a.redirect.out (swanctl --redirect), a.b-up.rc (0: strongSwan's `b` SA came up),
# a.status.redirected.json, a.ping.rc/.out, a.sas-a / a.sas-b (strongSwan's SAs of each
# connection after the redirect), a.disconnect.out, a.status.after.json, a.log (our
# connection's log), charon.log.
# `server` records: serve-a.jsonl, serve-b.jsonl (our responders' events; A with
# --redirect-in init), serve-a2.jsonl (A with --redirect-in auth); for strongSwan's cases
# (b, b2) NAME.rc, NAME.initiate.out, NAME.sas (its SAs right after), NAME.charon.log,
# NAME.charon.out; for our client's (c, c2) NAME.add.out, NAME.connect.rc/.out,
# NAME.status.json, NAME.log.
# crates/ikeway/tests/redirect_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"

B=10.99.0.5
ikw_topo_trap
ikw_topo_up direct
ip -n "$IKW_NS_SRV" addr add "$B/24" dev ike0
printf '%s\n' "$IKW_SW_DEFAULT_PSK" >"$IKW_WORKDIR/psk"
chmod 600 "$IKW_WORKDIR/psk"
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run

# A saved configuration for our client: PSK, redirect on (Apple's default).
ours_add() { # NAME SERVER
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$1" --server "$2" \
        --remote-id srv.ikeway.test --local-id cli.ikeway.test --psk-file "$IKW_WORKDIR/psk" \
        --child-encryption aes256gcm --yes >"$OUT/$1.add.out" 2>&1 || true
}

ours_status() { # FILE
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/$1" 2>&1 || true
}

ours_log() { # NAME
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/$1.log" 2>/dev/null || true
}

case "$SCENARIO" in
client)
    SRV="$IKW_WORKDIR/srv-strongswan"
    mkdir -p "$SRV"
    # One charon, two connections told apart by the local address; B hands out its own pool.
    {
        echo "connections {"
        IKW_SW_CONN=a IKW_SW_LOCAL_ADDRS="$IKW_SRV_ADDR" IKW_SW_POOL6="" ikw_sw_conn_responder
        IKW_SW_CONN=b IKW_SW_LOCAL_ADDRS="$B" IKW_SW_POOL6="" ikw_sw_conn_responder |
            sed 's/pools = pool4/pools = poolb/'
        echo "}"
        echo "pools {"
        echo "    pool4 { addrs = 10.88.0.0/24 }"
        echo "    poolb { addrs = 10.88.1.0/24 }"
        echo "}"
        _ikw_sw_secrets srv.ikeway.test cli.ikeway.test "$IKW_SW_DEFAULT_PSK"
    } >"$SRV/swanctl.conf"
    ikw_sw_start srv "$SRV"
    ikw_sw_load "$SRV" >"$OUT/srv-load.out"

    ours_add a "$IKW_SRV_ADDR"
    rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect a --wait 15 >"$OUT/a.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/a.connect.rc"
    ours_status a.status.json
    ikw_exec cli ip -4 route show >"$OUT/a.routes.connected"
    ikw_exec cli ip -4 -o addr show >"$OUT/a.addrs.connected"
    ikw_swanctl "$SRV" --redirect --ike a --gateway "$B" >"$OUT/a.redirect.out" 2>&1 || true
    rc=0
    ikw_sw_wait_established "$SRV" 10 b net || rc=$?
    echo "$rc" >"$OUT/a.b-up.rc"
    # Our side follows at once; give its status the moment to show the new child.
    sleep 0.5
    ours_status a.status.redirected.json
    ikw_exec cli ip -4 route show >"$OUT/a.routes.redirected"
    ikw_exec cli ip -4 -o addr show >"$OUT/a.addrs.redirected"
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/a.ping.out" 2>&1 &&
        echo 0 >"$OUT/a.ping.rc" || echo 1 >"$OUT/a.ping.rc"
    ikw_sw_list_sas "$SRV" --ike a --raw >"$OUT/a.sas-a" 2>&1 || true
    ikw_sw_list_sas "$SRV" --ike b --raw >"$OUT/a.sas-b" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/a.disconnect.out" 2>&1 || true
    ours_status a.status.after.json
    ours_log a
    cp "$SRV/charon.log" "$OUT/charon.log"
    ;;
server)
    serve() { # NAME ADDRESS POOL OPTIONS...
        local name="$1" addr="$2" pool="$3"
        shift 3
        # No ESN: strongSwan's kernel-libipsec has none.
        ikw_spawn srv "$OUT/$name.jsonl" "$IKEWAY" serve --local "$addr" --id srv.ikeway.test \
            --psk-file "$IKW_WORKDIR/psk" --pool "$pool" --subnet "$IKW_PROT_NET" \
            --local-ts "$IKW_PROT_NET" --esp aes256gcm16-noesn --duration 60 "$@"
        SERVE_PID=$IKW_LAST_PID
        ikw_wait_for 5 listening "$addr" || true
    }
    listening() { ikw_exec srv ss -Hlun "src $1:500" | grep -q .; }
    serve serve-a "$IKW_SRV_ADDR" 10.88.0.10/50 --redirect-to "$B"
    A_PID=$SERVE_PID
    serve serve-b "$B" 10.88.1.10/50

    CLI="$IKW_WORKDIR/cli-strongswan"
    IKW_SW_VIPS=0.0.0.0 ikw_sw_conf_initiator "$CLI"
    sw_initiate() { # NAME
        local rc=0 before
        ikw_sw_start cli "$CLI"
        ikw_sw_load "$CLI" >"$OUT/$1.load.out"
        before="$(wc -l <"$CLI/charon.log")"
        ikw_sw_initiate "$CLI" net ikw 15 >"$OUT/$1.initiate.out" 2>&1 || rc=$?
        echo "$rc" >"$OUT/$1.rc"
        ikw_sw_list_sas "$CLI" --ike ikw --raw >"$OUT/$1.sas" 2>&1 || true
        ikw_swanctl "$CLI" --terminate --ike ikw --timeout 5 >/dev/null 2>&1 || true
        tail -n +"$((before + 1))" "$CLI/charon.log" >"$OUT/$1.charon.log"
        cp "$CLI/charon.out" "$OUT/$1.charon.out" 2>/dev/null || true
        # Our client binds the same ports in this namespace.
        ikw_sw_stop "$CLI"
    }
    ours_connect() { # NAME
        local rc=0
        ours_add "$1" "$IKW_SRV_ADDR"
        ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect "$1" --wait 15 >"$OUT/$1.connect.out" 2>&1 || rc=$?
        echo "$rc" >"$OUT/$1.connect.rc"
        ours_status "$1.status.json"
        # No ping here: B is `serve` without a datapath; traffic through a redirect is (a)'s.
        ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/$1.disconnect.out" 2>&1 || true
        ours_log "$1"
        ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove "$1" --yes >/dev/null 2>&1 || true
    }
    # A redirects in IKE_SA_INIT: strongSwan's initiator (b), then our client (c).
    sw_initiate b
    ours_connect c
    # A redirects in IKE_AUTH, once the client authenticated: our client (c2), then
    # strongSwan's initiator (b2).
    kill -TERM "$A_PID" 2>/dev/null || true
    wait "$A_PID" 2>/dev/null || true
    serve serve-a2 "$IKW_SRV_ADDR" 10.88.0.10/50 --redirect-to "$B" --redirect-in auth
    ours_connect c2
    sw_initiate b2
    sleep 0.3
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
