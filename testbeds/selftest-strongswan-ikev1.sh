#!/usr/bin/env bash
# Selftest of the IKEv1 testbed (lib/ikev1bed.sh): a strongSwan initiator against the strongSwan
# responder of every IKEv1 case, each exchange captured and decrypted by tshark with the keys
# charon printed (level 4). Proves the harness and makes reference captures; nothing about
# ikeway.
#
# Checks, per client case (lib/ikev1bed.sh):
#   v1-aggr       Aggressive Mode with the group name as KEY_ID and the group PSK, XAUTH as
#                 alice, Mode Config: both sides list the SA (IKEv1, XAUTH identity alice at the
#                 responder), the virtual IP is from the pool, the Cisco Unity split-include
#                 narrowed the child to the protected net, a ping crosses; a quick mode rekey
#                 (new SPIs), DPD R-U-THERE answered, a delete that empties both sides
#   v1-aggr-badpsk  wrong group secret: no SA; the responder cannot verify HASH_I
#   v1-aggr-badpw   wrong XAUTH password: phase 1 up, XAUTH STATUS=0, no SA on either side
#   v1-main-cert  Main Mode with ECDSA certificates both ways, Mode Config, PFS (ECP-256): up,
#                 ping
# and, per case, tshark decrypts its capture with the extracted keys (ikev1_decryption_table):
# the encrypted payloads dissect with no "Malformed" and show what the case must carry.
#
# Usage: testbeds/selftest-strongswan-ikev1.sh [OUT]
#   OUT (optional) receives, per case: CASE.pcapng, CASE.charon.log (the initiator's level 4
#   log), CASE.keys.json and CASE.ikev1_decryption_table (lib/ikev1_keys.py), CASE.tshark.txt
#   (tshark -V with the keys), CASE.srv.log (the responder's log during the case); and
#   srv.charon.log (the responder's log of the whole run), srv.swanctl.conf and
#   srv.strongswan.conf (the responder's configuration).
# Env:   IKW_PREFIX (default ikw), IKW_KEEP_WORKDIR=1 keeps certificates, configs and logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/check.sh"

OUT="${1:-}"
ikw_topo_trap
T0="$(ikw_now_ms)"
ikw_topo_up direct
ikw_pki_eapset "$IKW_WORKDIR/pki"
ikw_v1_addrs_up
KEEP="$IKW_WORKDIR/out"
mkdir -p "$KEEP"

SRV="$IKW_WORKDIR/srv"
CLI="$IKW_WORKDIR/cli"
ikw_v1_sw_responder "$SRV"
IKW_V1_DPD_DELAY=2s ikw_v1_sw_initiator "$CLI" v1-aggr v1-main-cert
export IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity"
IKW_SW_LOGLEVEL=4 IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" ikw_sw_start srv "$SRV"
IKW_SW_LOGLEVEL=4 IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" ikw_sw_start cli "$CLI"
ikw_sw_load "$SRV" >"$SRV/load.out"
ikw_sw_load "$CLI" >"$CLI/load.out"
T_UP="$(ikw_now_ms)"

# One case: capture, run CMD..., stop the capture, cut the initiator's log, extract the keys,
# dissect with them.
CAPTURE_PID=""
case_begin() { # CASE
    CASE_LOG_LINE="$(wc -l <"$CLI/charon.log")"
    SRV_LOG_LINE="$(wc -l <"$SRV/charon.log")"
    ikw_spawn srv "$KEEP/$1.tshark.out" tshark -q -i ike0 -w "$KEEP/$1.pcapng" \
        -f "udp port 500 or udp port 4500"
    CAPTURE_PID=$IKW_LAST_PID
    ikw_wait_for 10 test -s "$KEEP/$1.pcapng" || true
}
case_end() { # CASE
    sleep 0.3
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
    tail -n +"$((CASE_LOG_LINE + 1))" "$CLI/charon.log" >"$KEEP/$1.charon.log"
    tail -n +"$((SRV_LOG_LINE + 1))" "$SRV/charon.log" >"$KEEP/$1.srv.log"
    if python3 "$HERE/lib/ikev1_keys.py" "$KEEP/$1.charon.log" "$KEEP/$1"; then
        mkdir -p "$IKW_WORKDIR/ws-$1"
        cp "$KEEP/$1.ikev1_decryption_table" "$IKW_WORKDIR/ws-$1/ikev1_decryption_table"
        WIRESHARK_CONFIG_DIR="$IKW_WORKDIR/ws-$1" tshark -r "$KEEP/$1.pcapng" -V \
            >"$KEEP/$1.tshark.txt" 2>/dev/null || true
    else
        : >"$KEEP/$1.tshark.txt"
    fi
}
# What tshark showed for a case: WHAT PATTERN (grep -E on CASE.tshark.txt)
shows() { # CASE WHAT PATTERN
    if grep -qE "$3" "$KEEP/$1.tshark.txt"; then ok "$1: tshark shows $2"; else ko "$1: tshark: no $2 ($3)"; fi
}
clean_dissection() { # CASE
    local bad
    bad="$(grep -cE 'Malformed|Expert Info \(Warning|Expert Info \(Error' "$KEEP/$1.tshark.txt" || true)"
    check "$1: tshark dissects every message with no warning ($bad)" test "$bad" = 0
    check "$1: tshark decrypted (no undecrypted payloads)" \
        bash -c "! grep -q 'Encrypted payloads' '$KEEP/$1.tshark.txt'"
}
logged() { # FILE WHAT PATTERN
    if grep -qE "$3" "$1"; then ok "$2"; else ko "$2: no '$3' in ${1##*/}"; fi
}
no_sa() { # DIR CONN
    ! ikw_sw_list_sas "$1" --ike "$2" --raw 2>/dev/null | grep -q 'list-sa event'
}
not_established() { # DIR CONN
    ! ikw_sw_list_sas "$1" --ike "$2" --raw 2>/dev/null | grep -q 'state=ESTABLISHED'
}
vip() { ikw_exec cli ip -4 -o addr show dev ipsec0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1; }

echo "--- v1-aggr: Aggressive Mode, group PSK (KEY_ID), XAUTH, Mode Config ---"
case_begin v1-aggr
rc=0; ikw_sw_initiate "$CLI" v1-aggr v1-aggr 15 >"$KEEP/v1-aggr.initiate.out" 2>&1 || rc=$?
check "v1-aggr: swanctl --initiate (${IKW_SW_INITIATE_MS} ms)" test "$rc" = 0
check "v1-aggr: initiator: IKEv1 SA ESTABLISHED, child INSTALLED" ikw_sw_established "$CLI" v1-aggr v1-aggr
check "v1-aggr: responder: ESTABLISHED, INSTALLED" ikw_sw_wait_established "$SRV" 3 aggr-psk aggr-psk
SAS="$(ikw_sw_list_sas "$SRV" --ike aggr-psk --raw)"
check "v1-aggr: responder: version=1" grep -q 'version=1' <<<"$SAS"
check "v1-aggr: responder: remote-id ikeway-group, XAUTH identity alice" \
    grep -qE "remote-id=$IKW_V1_GROUP .*remote-xauth-id=$IKW_V1_USER" <<<"$SAS"
VIP="$(vip)"
check "v1-aggr: virtual IP ${VIP:-none} from $IKW_V1_POOL" test "${VIP#10.88.1.}" != "${VIP:-x}"
logged "$CLI/charon.log" "v1-aggr: split-include narrowed the child to $IKW_PROT_NET" \
    "narrowed CHILD_SA to UNITY_SPLIT_INCLUDE $IKW_PROT_NET"
if ikw_exec cli ping -c 3 -i 0.2 -W 2 -I "$VIP" "$IKW_PROT_ADDR" >"$KEEP/v1-aggr.ping.out" 2>&1; then
    ok "v1-aggr: ping $IKW_PROT_ADDR from $VIP through the tunnel"
else
    ko "v1-aggr: ping $IKW_PROT_ADDR from $VIP"
fi
SPI0="$(ikw_sw_list_sas "$CLI" --ike v1-aggr --raw | grep -o 'spi-in=[0-9a-f]*' | head -n1)"
ikw_swanctl "$CLI" --rekey --child v1-aggr >/dev/null 2>&1 || true
ikw_wait_for 5 bash -c "[ \"\$(SWANCTL_DIR='$CLI' swanctl --list-sas --ike v1-aggr --raw --uri unix://$CLI/charon.vici | grep -o 'spi-in=[0-9a-f]*' | grep -vc '$SPI0')\" -ge 1 ]" || true
SPI1="$(ikw_sw_list_sas "$CLI" --ike v1-aggr --raw | grep -o 'spi-in=[0-9a-f]*' | grep -v "$SPI0" | head -n1 || true)"
check "v1-aggr: quick mode rekey: new inbound SPI (${SPI0#spi-in=} -> ${SPI1#spi-in=})" test -n "$SPI1"
# DPD: the initiator's dpd_delay is 2 s; with no traffic it asks R-U-THERE.
ikw_wait_for 8 grep -q "DPD" "$CLI/charon.log" || true
sleep 3
logged "$CLI/charon.log" "v1-aggr: DPD R-U-THERE sent" "generating INFORMATIONAL_V1 request .*N\(DPD\)"
logged "$CLI/charon.log" "v1-aggr: DPD R-U-THERE-ACK received" "parsed INFORMATIONAL_V1 request .*N\(DPD_ACK\)"
ikw_swanctl "$CLI" --terminate --ike v1-aggr --timeout 5 >/dev/null 2>&1 || true
check "v1-aggr: after the delete, no SA at the responder" ikw_wait_for 5 no_sa "$SRV" aggr-psk
check "v1-aggr: after the delete, no SA at the initiator" no_sa "$CLI" v1-aggr
case_end v1-aggr
clean_dissection v1-aggr
shows v1-aggr "the group name as ID_KEY_ID" "ID type: KEY_ID \(11\)"
shows v1-aggr "XAUTH user name alice" "XAUTH USER NAME: $IKW_V1_USER"
shows v1-aggr "XAUTH STATUS OK" "XAUTH_STATUS: Success"
shows v1-aggr "the mode config address" "INTERNAL IP4 ADDRESS: $VIP"
shows v1-aggr "the DNS server" "INTERNAL IP4 DNS: $IKW_V1_DNS"
shows v1-aggr "the Unity banner" "UNITY_BANNER: $IKW_V1_BANNER"
shows v1-aggr "the Unity default domain" "UNITY_DEF_DOMAIN: $IKW_V1_DOMAIN"
shows v1-aggr "the Unity split-include 10.77.0.0/255.255.255.0" \
    "Value: 0a4d0000ffffff00000000000000"
shows v1-aggr "DPD (R-U-THERE)" "R-U-THERE \(36136\)"
shows v1-aggr "a delete" "Payload: Delete"
check "v1-aggr: keys for one IKE SA with cookies" \
    bash -c "grep -c '\"icookie\"' '$KEEP/v1-aggr.keys.json' | grep -qx 1"

echo "--- v1-aggr-badpsk: wrong group secret ---"
ikw_v1_sw_initiator "$CLI" v1-aggr-badpsk
ikw_sw_load "$CLI" >"$CLI/load-badpsk.out"
case_begin v1-aggr-badpsk
rc=0; ikw_sw_initiate "$CLI" v1-aggr-badpsk v1-aggr-badpsk 10 >"$KEEP/v1-aggr-badpsk.initiate.out" 2>&1 || rc=$?
check "v1-aggr-badpsk: refused" test "$rc" != 0
# strongSwan's responder cannot read the initiator's encrypted AUTH_FAILED (it never had the
# right key) and keeps its half-open SA until its retransmissions run out: never established.
sleep 0.5
check "v1-aggr-badpsk: the responder established nothing" not_established "$SRV" aggr-psk
case_end v1-aggr-badpsk
logged "$KEEP/v1-aggr-badpsk.charon.log" "v1-aggr-badpsk: the initiator cannot verify HASH_R" \
    "calculated HASH does not match HASH payload"

echo "--- v1-aggr-badpw: wrong XAUTH password ---"
ikw_v1_sw_initiator "$CLI" v1-aggr-badpw
ikw_sw_load "$CLI" >"$CLI/load-badpw.out"
case_begin v1-aggr-badpw
rc=0; ikw_sw_initiate "$CLI" v1-aggr-badpw v1-aggr-badpw 10 >"$KEEP/v1-aggr-badpw.initiate.out" 2>&1 || rc=$?
check "v1-aggr-badpw: refused" test "$rc" != 0
check "v1-aggr-badpw: the responder established nothing" ikw_wait_for 5 not_established "$SRV" aggr-psk
check "v1-aggr-badpw: no SA at the initiator" no_sa "$CLI" v1-aggr-badpw
case_end v1-aggr-badpw
logged "$KEEP/v1-aggr-badpw.srv.log" "v1-aggr-badpw: the responder refused alice's password" \
    "XAuth authentication of '$IKW_V1_USER' failed"
logged "$KEEP/v1-aggr-badpw.charon.log" "v1-aggr-badpw: the initiator was told" \
    "XAuth authentication of '$IKW_V1_USER' \(myself\) failed"
clean_dissection v1-aggr-badpw
shows v1-aggr-badpw "XAUTH STATUS FAIL" "XAUTH STATUS: Fail"

echo "--- v1-main-cert: Main Mode, ECDSA certificates, Mode Config, PFS ---"
ikw_v1_sw_initiator "$CLI" v1-main-cert
ikw_sw_load "$CLI" >"$CLI/load-cert.out"
case_begin v1-main-cert
rc=0; ikw_sw_initiate "$CLI" v1-main-cert v1-main-cert 15 >"$KEEP/v1-main-cert.initiate.out" 2>&1 || rc=$?
check "v1-main-cert: swanctl --initiate (${IKW_SW_INITIATE_MS} ms)" test "$rc" = 0
check "v1-main-cert: responder: ESTABLISHED, INSTALLED" ikw_sw_wait_established "$SRV" 3 main-cert main-cert
SAS="$(ikw_sw_list_sas "$SRV" --ike main-cert --raw)"
check "v1-main-cert: responder: version=1, remote-id cli.ikeway.test" \
    grep -qE "version=1 .*remote-id=cli.ikeway.test" <<<"$SAS"
check "v1-main-cert: PFS group ECP_256 in the child" grep -qE "dh-group=ECP_256" <<<"$SAS"
VIP="$(vip)"
if ikw_exec cli ping -c 3 -i 0.2 -W 2 -I "$VIP" "$IKW_PROT_ADDR" >"$KEEP/v1-main-cert.ping.out" 2>&1; then
    ok "v1-main-cert: ping $IKW_PROT_ADDR from $VIP through the tunnel"
else
    ko "v1-main-cert: ping $IKW_PROT_ADDR from ${VIP:-none}"
fi
ikw_swanctl "$CLI" --terminate --ike v1-main-cert --timeout 5 >/dev/null 2>&1 || true
check "v1-main-cert: after the delete, no SA at the responder" ikw_wait_for 5 no_sa "$SRV" main-cert
case_end v1-main-cert
clean_dissection v1-main-cert
shows v1-main-cert "Main Mode" "Identity Protection \(Main Mode\)"
shows v1-main-cert "the client's certificate" "Certificate Encoding: X.509 Certificate - Signature"
shows v1-main-cert "a signature payload" "Payload: Signature"
# PFS: both quick mode messages that carry an SA also carry a KE (payload 4).
qm_ke="$(WIRESHARK_CONFIG_DIR="$IKW_WORKDIR/ws-v1-main-cert" tshark -r "$KEEP/v1-main-cert.pcapng" \
    -Y "isakmp.exchangetype == 32" -T fields -e isakmp.typepayload 2>/dev/null |
    grep -c '^8,1,2,.*\b4\b' || true)"
check "v1-main-cert: both quick mode SA messages carry a KE (PFS; $qm_ke)" test "$qm_ke" = 2
T_END="$(ikw_now_ms)"

cp "$SRV/charon.log" "$KEEP/srv.charon.log"
if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp "$KEEP"/*.pcapng "$KEEP"/*.charon.log "$KEEP"/*.keys.json "$KEEP"/*.ikev1_decryption_table \
        "$KEEP"/*.tshark.txt "$OUT"/
    cp "$SRV/swanctl.conf" "$OUT/srv.swanctl.conf"
    cp "$SRV/strongswan.conf" "$OUT/srv.strongswan.conf"
fi

echo "--- timings (ms) ---"
echo "  topology, certificates, two charons: $((T_UP - T0))"
echo "  four cases (captures included):      $((T_END - T_UP))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
