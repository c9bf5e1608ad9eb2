#!/usr/bin/env bash
# IKEv1 ("Cisco IPSec") interop: our Personal VPN client (`config add --type ipsec` +
# `connect`, as a user runs it) against the strongSwan 5.9.8 responder of lib/ikev1bed.sh, case
# aggr-psk (Aggressive Mode, the group name as KEY_ID and the group secret, XAUTH, Mode Config
# with the Cisco Unity attributes) and cases main-cert / main-rsa (Main Mode with ECDSA / RSA
# certificates), in the namespaces of lib/netns.sh.
#
# Usage: ikev1-interop.sh OUTDIR IKEWAY_BINARY
# Env:   IKW_V1_TOPO=direct|nat (default direct: lib/netns.sh's topologies; behind the NAT the
#        client is 10.98.0.2 and strongSwan sees 10.99.0.3)
#
# Cases (each through lib/ourclient.sh's ikw_client_case, which records NAME.connect.rc/.out,
# NAME.status.json, NAME.ping.rc/.out, NAME.sas, NAME.disconnect.out, NAME.status.after.json,
# NAME.end.sas, NAME.routes/links.before/.after, NAME.log, NAME.charon.log; plus NAME.add.out):
#   aggr      the right group secret and XAUTH password: connects, pings the protected host
#   badpsk    a wrong group secret
#   badpw     the right group secret, a wrong XAUTH password
#   cert-ec   Main Mode with ECDSA certificates (cli-ec, `--identity-key/--identity-cert`,
#             `--ca root-ec`) against main-cert: connects, pings (NAME.add.out too)
#   cert-rsa  the same with RSA certificates (v1-cli-rsa, `--ca v1-root-rsa`) against main-rsa
#   cert-3des as cert-ec against main-3des (ESP 3DES + HMAC-SHA1 only): connects, pings
#   cert-rogue  cli-ec with `--ca root-rogue` against main-cert: the server's certificate is
#             from a CA we do not trust
#   hybrid    `--group GROUP[hybrid]` + XAUTH, `--ca v1-root-rsa`, against aggr-hybrid:
#             strongSwan signs, we send HASH_I only and prove ourselves with XAUTH
#   profile   an Apple profile (VPNType IPSec: group name, SharedSecret as data, XAUTH name and
#             password) imported with `profile import`, then connected like the others
#             (profile.import.out)
#   split     (direct topology only) against aggr-split, whose split include names
#             10.77.0.0/26 and 10.77.0.128/26: the protected host gets 10.77.0.130 and 10.77.0.70
#             too, strongSwan's leg 10.77.0.129, and the client namespace a route of its own to 10.77.0.0/24 in the clear
#             through strongSwan's namespace; connected, split.routes (the client's routes),
#             split.get.{2,130,70} (`ip route get`), split.ping.{2,130,70}.rc/.out (3, 2 and 2
#             pings), split.sas (strongSwan's SAs after the pings), then disconnected as the
#             others (split.disconnect.out, split.end.sas, split.status.after.json,
#             split.routes/links.before/.after, split.log, split.charon.log)
#   life      connected as aggr, then strongSwan rekeys the ESP SA (life.sas1, life.sas2:
#             strongSwan's SAs before and after, life.ping2.rc after), DPD runs while idle
#             (strongSwan's dpd_delay is 2 s here; life.charon.log), strongSwan deletes the
#             ISAKMP SA (life.status.after.json: our side once it saw the Delete)
#   lossy     as aggr with 20% of the client's IKE and ESP datagrams dropped each way
#             (nftables `numgen random` in the client namespace): lossy.connect.rc/.out/.ms,
#             lossy.status.json, lossy.installed.ms (until strongSwan had its ESP SA),
#             lossy.ping.out (20 pings), lossy.drops (the rules' counters),
#             lossy.status.after.json, lossy.routes/links.before/.after (the loss is
#             removed before the disconnect: an unacknowledged ISAKMP Delete could be lost)
# and charon.log (the responder's whole log). crates/ikeway/tests/ikev1_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/profile.sh"
. "$HERE/lib/ourclient.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up "${IKW_V1_TOPO:-direct}"
ikw_pki_eapset "$IKW_WORKDIR/pki"
ikw_v1_pki_rsa
ikw_v1_addrs_up
SRV="$IKW_WORKDIR/srv-strongswan"
IKW_SW_DPD_DELAY=2s ikw_v1_sw_responder "$SRV"
# Under the lossy case's loss (20% each way) an exchange strongSwan starts fails when its
# request or our answer is lost on every try: 0.36 per try, 1.7% with the bed's 3 resends. One
# run lost an XAUTH status exchange that way (strongSwan gave up, our connect waited out its
# 60 s). 7 resends growing by 1.4 (2, 4.8, 8.7, 14.2, 21.9, 32.7 and 47.7 s after the first
# send, inside our connect's 60 s) make it 0.03%. strongSwan counts an IKEv1 SA as half open
# until XAUTH is done, so half_open_timeout is 60 s too.
# strongSwan keeps the IVs of its last 3 phase 2 exchanges only (max_ikev1_exchanges): with this
# bed's 2 s DPD (real gateways use tens of seconds) two R-U-THERE exchanges under the lossy
# case's loss can push out a quick mode whose message 3 was lost, and our resent message 3 is
# then decrypted under a regenerated IV and refused (seen once: strongSwan never installed the
# SA). 8 was not enough either: a quick mode message 2 lost four times in a row (answered at
# its 14.2 s resend) sat behind about 7 DPD rounds (14 exchanges) by then, and our resent
# message 3 failed the same way (1 of 7 runs, charon.log read). 32 keeps an IV through all 7
# resends (47.7 s) at this DPD rate. A gateway on a lossy path with a short DPD needs the same
# setting; our client cannot help it: RFC 2409 wants the resend byte-identical.
IKW_SW_RETRANSMIT_TRIES=7 IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity" IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)
    half_open_timeout = 60
    retransmit_base = 1.4
    max_ikev1_exchanges = 32" ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"

printf '%s\n' "$IKW_V1_PSK" >"$IKW_WORKDIR/group.psk"
printf '%s\n' "$IKW_V1_WRONG_PSK" >"$IKW_WORKDIR/wrong.psk"
printf '%s\n' "$IKW_V1_PASSWORD" >"$IKW_WORKDIR/alice.pw"
printf '%s\n' "$IKW_V1_WRONG_PASSWORD" >"$IKW_WORKDIR/wrong.pw"
chmod 600 "$IKW_WORKDIR"/*.psk "$IKW_WORKDIR"/*.pw
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run

# Our client against aggr-psk: NAME PSK_FILE PASSWORD_FILE
ours_connect() {
    local name="$1" psk="$2" pw="$3"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" --type ipsec \
        --server "$(ikw_v1_case_addr aggr-psk)" --group "$IKW_V1_GROUP" \
        --psk-file "$IKW_WORKDIR/$psk" --extended-auth --username "$IKW_V1_USER" \
        --password-file "$IKW_WORKDIR/$pw" --yes >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_case "$name" "$SRV" aggr-psk
}

ours_connect aggr group.psk alice.pw
ours_connect badpw group.psk wrong.pw

# Our client with a certificate (Main Mode, signatures; `config add --type ipsec` with an
# identity): NAME SERVER_CASE IDENTITY CA (files of lib/pki.sh's set)
ours_cert() {
    local name="$1" server="$2" identity="$3" ca="$4"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" --type ipsec \
        --server "$(ikw_v1_case_addr "$server")" --remote-id srv.ikeway.test \
        --local-id cli.ikeway.test --identity-key "$IKW_PKI_DIR/$identity.key" \
        --identity-cert "$IKW_PKI_DIR/$identity.crt" --ca "$IKW_PKI_DIR/$ca.crt" \
        --system-ca false --yes >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_case "$name" "$SRV" "$server"
}
ours_cert cert-ec main-cert cli-ec root-ec
ours_cert cert-rsa main-rsa v1-cli-rsa v1-root-rsa
# The server's certificate is from another CA than the one configured.
ours_cert cert-rogue main-cert cli-ec root-rogue
# A gateway that allows only 3DES-CBC + HMAC-SHA1-96 for ESP.
ours_cert cert-3des main-3des cli-ec root-ec

# Hybrid (the group name with [hybrid]): strongSwan signs with v1-srv-rsa, we prove ourselves
# with XAUTH only; no group secret, no identity.
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add hybrid --type ipsec \
    --server "$(ikw_v1_case_addr aggr-hybrid)" --remote-id srv.ikeway.test \
    --group "$IKW_V1_GROUP[hybrid]" --auth shared-secret --ca "$IKW_PKI_DIR/v1-root-rsa.crt" \
    --system-ca false --extended-auth --username "$IKW_V1_USER" \
    --password-file "$IKW_WORKDIR/alice.pw" --yes >"$OUT/hybrid.add.out" 2>&1 || true
ikw_client_case hybrid "$SRV" aggr-hybrid

# The Apple profile an administrator of a Cisco-style gateway hands out.
ikw_profile_ipsec_group test.ikeway.ipsec profile 3F0A9C1E-7B2D-4E5F-8A6B-9C0D1E2F3A4B \
    4A1B0D2F-8C3E-4F60-9B7C-0D1E2F3A4B5C "$(ikw_v1_case_addr aggr-psk)" "IKEv1 testbed" \
    >"$IKW_WORKDIR/cisco.mobileconfig" <<KEYS
    <key>XAuthPassword</key><string>$IKW_V1_PASSWORD</string>
KEYS
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/cisco.mobileconfig" --yes \
    >"$OUT/profile.import.out" 2>&1 || true
ikw_client_case profile "$SRV" aggr-psk

# A split tunnel: one quick mode per network of the split include, traffic elsewhere outside.
split_case() {
    local rc=0 before h
    before="$(wc -l <"$SRV/charon.log")"
    ikw_exec prot ip addr add 10.77.0.130/24 dev prot0
    ikw_exec prot ip addr add 10.77.0.70/24 dev prot0
    # kernel-libipsec routes a child's traffic from an address of its own inside the local
    # traffic selector ("error installing route with policy 10.77.0.128/26 === ..." and the
    # child deleted without one): strongSwan's leg gets one in the second network too.
    ikw_exec srv ip addr add 10.77.0.129/24 dev prot0
    ikw_exec cli ip route add 10.77.0.0/24 via "$IKW_SRV_ADDR"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add split --type ipsec \
        --server "$(ikw_v1_case_addr aggr-split)" --group "$IKW_V1_GROUP" \
        --psk-file "$IKW_WORKDIR/group.psk" --extended-auth --username "$IKW_V1_USER" \
        --password-file "$IKW_WORKDIR/alice.pw" --yes >"$OUT/split.add.out" 2>&1 || true
    ikw_client_state split before
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect split --wait 15 >"$OUT/split.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/split.connect.rc"
    # `connect` returns once the first ESP SA is up; the second network's quick mode follows.
    two_children() { [ "$(ikw_sw_list_sas "$SRV" --ike aggr-split --raw | grep -o 'spi-in=' | wc -l)" = 2 ]; }
    ikw_wait_for 10 two_children || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/split.status.json" 2>&1 || true
    ikw_exec cli ip -4 route show table main >"$OUT/split.routes" 2>&1 || true
    for h in 2 130 70; do
        ikw_exec cli ip -4 route get "10.77.0.$h" >"$OUT/split.get.$h" 2>&1 || true
    done
    for h in 2:3 130:2 70:2; do
        ikw_exec cli ping -n -c "${h#*:}" -i 0.2 -W 2 "10.77.0.${h%:*}" >"$OUT/split.ping.${h%:*}.out" 2>&1 &&
            echo 0 >"$OUT/split.ping.${h%:*}.rc" || echo 1 >"$OUT/split.ping.${h%:*}.rc"
    done
    ikw_sw_list_sas "$SRV" --ike aggr-split --raw >"$OUT/split.sas" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/split.disconnect.out" 2>&1 || true
    ikw_wait_for 3 _ikw_client_no_sa "$SRV" aggr-split || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/split.status.after.json" 2>&1 || true
    ikw_client_state split after
    ikw_sw_list_sas "$SRV" --ike aggr-split --raw >"$OUT/split.end.sas" 2>&1 || true
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/split.log" 2>/dev/null || true
    tail -n +"$((before + 1))" "$SRV/charon.log" >"$OUT/split.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove split --yes >/dev/null 2>&1 || true
    ikw_exec cli ip route del 10.77.0.0/24 via "$IKW_SRV_ADDR" || true
    ikw_exec prot ip addr del 10.77.0.130/24 dev prot0 || true
    ikw_exec prot ip addr del 10.77.0.70/24 dev prot0 || true
    ikw_exec srv ip addr del 10.77.0.129/24 dev prot0 || true
}
if [ "${IKW_V1_TOPO:-direct}" = direct ]; then split_case; fi

# The life cycle of one connection, driven from strongSwan's side.
life_case() {
    local before rc=0
    before="$(wc -l <"$SRV/charon.log")"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add life --type ipsec \
        --server "$(ikw_v1_case_addr aggr-psk)" --group "$IKW_V1_GROUP" \
        --psk-file "$IKW_WORKDIR/group.psk" --extended-auth --username "$IKW_V1_USER" \
        --password-file "$IKW_WORKDIR/alice.pw" --yes >"$OUT/life.add.out" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect life --wait 15 >"$OUT/life.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/life.connect.rc"
    ikw_sw_list_sas "$SRV" --ike aggr-psk --raw >"$OUT/life.sas1" 2>&1 || true
    ikw_swanctl "$SRV" --rekey --child aggr-psk >"$OUT/life.rekey.out" 2>&1 || true
    rekeyed() { [ "$(ikw_sw_list_sas "$SRV" --ike aggr-psk --raw | grep -o 'spi-in=' | wc -l)" = 1 ] &&
        ! ikw_sw_list_sas "$SRV" --ike aggr-psk --raw | grep -q "$(grep -o 'spi-in=[0-9a-f]*' "$OUT/life.sas1" | head -n1)"; }
    ikw_wait_for 5 rekeyed || true
    ikw_sw_list_sas "$SRV" --ike aggr-psk --raw >"$OUT/life.sas2" 2>&1 || true
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/life.ping2.out" 2>&1 &&
        echo 0 >"$OUT/life.ping2.rc" || echo 1 >"$OUT/life.ping2.rc"
    # Idle for longer than strongSwan's dpd_delay: it asks R-U-THERE, we answer.
    sleep 3.5
    ikw_swanctl "$SRV" --terminate --ike aggr-psk --timeout 5 >"$OUT/life.terminate.out" 2>&1 || true
    gone() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json 2>/dev/null | grep -q '"status": "disconnected"'; }
    ikw_wait_for 10 gone || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/life.status.after.json" 2>&1 || true
    tail -n +"$((before + 1))" "$SRV/charon.log" >"$OUT/life.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >/dev/null 2>&1 || true
}
life_case

# 20% loss each way on the client's IKE/NAT-T ports (ESP rides on 4500 too).
lossy_case() {
    local rc=0 t0
    ikw_exec cli nft -f - <<'NFT'
table inet ikw_loss {
    chain out {
        type filter hook output priority filter; policy accept;
        udp dport { 500, 4500 } numgen random mod 100 < 20 counter drop
    }
    chain in {
        type filter hook input priority filter; policy accept;
        udp sport { 500, 4500 } numgen random mod 100 < 20 counter drop
    }
}
NFT
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add lossy --type ipsec \
        --server "$(ikw_v1_case_addr aggr-psk)" --group "$IKW_V1_GROUP" \
        --psk-file "$IKW_WORKDIR/group.psk" --extended-auth --username "$IKW_V1_USER" \
        --password-file "$IKW_WORKDIR/alice.pw" --yes >"$OUT/lossy.add.out" 2>&1 || true
    ikw_client_state lossy before
    t0="$(ikw_now_ms)"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect lossy --wait 60 >"$OUT/lossy.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/lossy.connect.rc"
    echo "$(( $(ikw_now_ms) - t0 ))" >"$OUT/lossy.connect.ms"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/lossy.status.json" 2>&1 || true
    # Quick mode message 3 is never acknowledged in IKEv1: when it is lost, strongSwan installs
    # its ESP SA only once its resent message 2 gets our message 3 again (seconds later).
    t0="$(ikw_now_ms)"
    ikw_wait_for 20 ikw_sw_established "$SRV" aggr-psk aggr-psk || true
    echo "$(( $(ikw_now_ms) - t0 ))" >"$OUT/lossy.installed.ms"
    ikw_exec cli ping -c 20 -i 0.2 -W 1 "$IKW_PROT_ADDR" >"$OUT/lossy.ping.out" 2>&1 || true
    # The loss ends before the disconnect: IKEv1's Deletes are never acknowledged nor resent,
    # so a lost ISAKMP Delete left strongSwan an established SA that the badpsk case (after
    # this one) then found.
    ikw_exec cli nft list table inet ikw_loss >"$OUT/lossy.drops" 2>&1 || true
    ikw_exec cli nft delete table inet ikw_loss || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/lossy.disconnect.out" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/lossy.status.after.json" 2>&1 || true
    ikw_client_state lossy after
}
lossy_case

# Last: strongSwan keeps this one's half-open SA for half_open_timeout.
ours_connect badpsk wrong.psk alice.pw

cp "$SRV/charon.log" "$OUT/charon.log"
rm -rf "/etc/netns/$IKW_NS_CLI"
