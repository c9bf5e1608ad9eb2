#!/usr/bin/env bash
# IKEv1 ("Cisco IPSec"): strongSwan 5.9.8 as the gateway renews the ISAKMP SA itself. For
# IKEv1 its IKE `rekey_time` (4 h by default) is a reauthentication: charon starts a new
# Aggressive Mode toward the client as initiator (XAUTHRespPreShared, then XAUTH as the XAUTH
# server), moves the ESP SA to the new IKE SA at once, and deletes the old IKE SA at the end
# of `over_time`. The responder of lib/ikev1bed.sh (case aggr-psk) runs here with
# rekey_time 40 s, over_time 20 s (the 60 s lifetime it offers is our minimum) and no
# jitter; our client (`connect --foreground --ikev1-test-timers 600,100,300`) never renews by
# itself before strongSwan does, and rekeys its ESP SA at 50 s, under strongSwan's new SA.
#
# Usage: ikev1-gateway-renews.sh OUTDIR IKEWAY_BINARY
#
# Cases: gw (Aggressive Mode, group secret, XAUTH, Mode Config: strongSwan's aggr-psk) and
# cert (Main Mode with ECDSA certificates, Mode Config: main-cert). Each records, for NAME:
# NAME.status1.json, NAME.sas1 (connected); NAME.sas2 (strongSwan's SAs once one IKE SA with
# other cookies is left: its own new SA, ours deleted), NAME.ping2.rc/.out; NAME.sas3 (once
# the ESP SA has new SPIs), NAME.ping3.rc/.out, NAME.status3.json; NAME.ping.out (one ping a
# second from the connection to the end), NAME.fg.rc/.out (the foreground process, ended by
# SIGINT), NAME.charon.log. crates/ikeway/tests/ikev1_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/ourclient.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up direct
ikw_pki_eapset "$IKW_WORKDIR/pki"
ikw_v1_addrs_up
SRV="$IKW_WORKDIR/srv-strongswan"
IKW_SW_DPD_DELAY=300s IKW_SW_IKE_REKEY=40s IKW_SW_IKE_OVER=20s IKW_SW_IKE_RAND=0s \
    ikw_v1_sw_responder "$SRV"
IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity" IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" \
    ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"

printf '%s\n' "$IKW_V1_PSK" >"$IKW_WORKDIR/group.psk"
printf '%s\n' "$IKW_V1_PASSWORD" >"$IKW_WORKDIR/alice.pw"
chmod 600 "$IKW_WORKDIR"/*.psk "$IKW_WORKDIR"/*.pw
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run
SERVER="$(ikw_v1_case_addr aggr-psk)"

status_json() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json 2>/dev/null; }
connected() { status_json | grep -q '"status": "connected"'; }
first_value() { grep -o "$1=[0-9a-f]*" | sed -n '1s/^[^=]*=//p'; }
ping_once() { # NAME: two pings through the tunnel, NAME.rc and NAME.out
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/$1.out" 2>&1 &&
        echo 0 >"$OUT/$1.rc" || echo 1 >"$OUT/$1.rc"
}

# One case: our client NAME (already added) against strongSwan's connection CONN, with
# strongSwan's own phase 1 at 40 s and our quick mode rekey at 50 s under it.
renewal_case() { # NAME CONN
    local name="$1" conn="$2" before sas1 rc=0
    sw_sas() { ikw_sw_list_sas "$SRV" --ike "$conn" --raw 2>&1 || true; }
    before="$(wc -l <"$SRV/charon.log")"
    ikw_spawn cli "$OUT/$name.fg.out" "${CLIENV[@]}" "$IKEWAY" connect "$name" --foreground \
        --ikev1-test-timers 600,100,300
    FG_PID=$IKW_LAST_PID
    ikw_wait_for 15 connected || true
    status_json >"$OUT/$name.status1.json" || true
    sas1="$(sw_sas)"
    echo "$sas1" >"$OUT/$name.sas1"
    cky1="$(first_value initiator-spi <<<"$sas1")"
    spi1="$(first_value spi-in <<<"$sas1")"
    ikw_spawn cli "$OUT/$name.ping.out" ping -i 1 -W 1 "$IKW_PROT_ADDR"
    PING_PID=$IKW_LAST_PID

    # strongSwan's own phase 1 at 40 s; the old IKE SA gone once our Delete arrived
    # (here-strings, not pipes, as in ikev1-ours.sh).
    renewed_by_gateway() {
        local s cur
        s="$(sw_sas)"
        cur="$(first_value initiator-spi <<<"$s")"
        [ "$(grep -o 'initiator-spi=' <<<"$s" | wc -l)" = 1 ] && [ -n "$cur" ] &&
            [ -n "$cky1" ] && [ "$cur" != "$cky1" ] && grep -q 'state=ESTABLISHED' <<<"$s"
    }
    ikw_wait_for 60 renewed_by_gateway || true
    sw_sas >"$OUT/$name.sas2"
    ping_once "$name.ping2"

    # Our quick mode rekey (ESP lifetime 100 s: at 50 s), under strongSwan's new IKE SA.
    esp_rekeyed() {
        local s cur
        s="$(sw_sas)"
        cur="$(first_value spi-in <<<"$s")"
        [ "$(grep -o 'spi-in=' <<<"$s" | wc -l)" = 1 ] && [ -n "$cur" ] && [ -n "$spi1" ] &&
            [ "$cur" != "$spi1" ]
    }
    ikw_wait_for 30 esp_rekeyed || true
    sw_sas >"$OUT/$name.sas3"
    ping_once "$name.ping3"
    status_json >"$OUT/$name.status3.json" || true

    kill -INT "$PING_PID" 2>/dev/null || true
    wait "$PING_PID" 2>/dev/null || true
    kill -INT "$FG_PID" 2>/dev/null || true
    wait "$FG_PID" 2>/dev/null || rc=$?
    echo "$rc" >"$OUT/$name.fg.rc"
    tail -n +"$((before + 1))" "$SRV/charon.log" >"$OUT/$name.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove "$name" --yes >/dev/null 2>&1 || true
}

# gw: Aggressive Mode, the group secret, XAUTH, Mode Config (case aggr-psk).
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add gw --type ipsec --server "$SERVER" \
    --group "$IKW_V1_GROUP" --psk-file "$IKW_WORKDIR/group.psk" --extended-auth \
    --username "$IKW_V1_USER" --password-file "$IKW_WORKDIR/alice.pw" --yes \
    >"$OUT/gw.add.out" 2>&1 || true
renewal_case gw aggr-psk

# cert: Main Mode with ECDSA certificates and Mode Config, no XAUTH (case main-cert): strongSwan
# starts Main Mode toward us, signing, and our client proves itself with its certificate.
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add cert --type ipsec \
    --server "$(ikw_v1_case_addr main-cert)" --remote-id srv.ikeway.test \
    --local-id cli.ikeway.test --identity-key "$IKW_PKI_DIR/cli-ec.key" \
    --identity-cert "$IKW_PKI_DIR/cli-ec.crt" --ca "$IKW_PKI_DIR/root-ec.crt" \
    --system-ca false --yes >"$OUT/cert.add.out" 2>&1 || true
renewal_case cert main-cert

rm -rf "/etc/netns/$IKW_NS_CLI"
