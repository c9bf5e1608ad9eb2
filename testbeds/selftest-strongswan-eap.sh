#!/usr/bin/env bash
# Selftest of the EAP testbed (lib/eapbed.sh): strongSwan against strongSwan, so that the
# certificates, users and swanctl configurations the ikeway EAP scenarios (eap-interop.sh) use
# are known to be right before ikeway takes one side. Proves nothing about ikeway.
#
# Checks, a strongSwan initiator against the strongSwan responder of lib/eapbed.sh:
#   1. EAP-MSCHAPv2 and EAP-MD5 with the right password come up, the server names the EAP
#      identity it authenticated (`swanctl --list-sas`: remote-eap-id) and the method it ran;
#      a ping crosses the tunnel;
#   2. a wrong password (MSCHAPv2, MD5) and an unknown user (MSCHAPv2) are refused, each with the
#      message charon logs for it, and neither side keeps an SA. strongSwan's MSCHAPv2 client
#      answers the server's failure packet with N(AUTH_FAILED) instead of acknowledging it, so
#      the server keeps that SA half-open until its half_open_timeout (5 s here): checked too;
#   3. EAP-TLS with a client certificate comes up with TLS 1.2 and with TLS 1.3 (the initiator's
#      versions bounded, the responder allowing both), the version charon negotiated logged;
#   3b. RFC 4739: a client certificate round, then EAP-MSCHAPv2 (MULTIPLE_AUTH_SUPPORTED,
#      ANOTHER_AUTH_FOLLOWS);
#   4. a server whose certificate nobody trusts is refused before any EAP round: the server
#      never hears the user's EAP identity (and keeps the SA half-open, as in 2).
#
# Usage: testbeds/selftest-strongswan-eap.sh
# Env:   IKW_PREFIX (default ikw), IKW_KEEP_WORKDIR=1 keeps certificates, configs and logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/eapbed.sh"
. "$HERE/lib/check.sh"

ikw_topo_trap
T0="$(ikw_now_ms)"
ikw_topo_up direct
ikw_pki_eapset "$IKW_WORKDIR/pki"
T_PKI="$(ikw_now_ms)"
ikw_eap_addrs_up

SRV="$IKW_WORKDIR/srv"
CLI="$IKW_WORKDIR/cli"
CLI13="$IKW_WORKDIR/cli13"
ikw_eap_sw_responder "$SRV"
ikw_eap_sw_initiator "$CLI" cases
ikw_eap_sw_initiator "$CLI13" cases eap-tls
IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.3)
    half_open_timeout = 5" ikw_sw_start srv "$SRV"
IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.2)" ikw_sw_start cli "$CLI"
ikw_sw_load "$SRV" >"$SRV/load.out"
ikw_sw_load "$CLI" >"$CLI/load.out"
T_UP="$(ikw_now_ms)"

# What a log gained while CMD ran.
since() { tail -n +"$(($1 + 1))" "$2"; }
lines() { wc -l <"$1"; }

# DIR CASE WANT(up|refused) [halfopen]: initiate, judge, keep both logs' share in
# DIR/CASE.cli.log and DIR/CASE.srv.log, tear down; "halfopen": the responder keeps the case's
# SA half-open (CONNECTING) rather than none.
initiate() {
    local dir="$1" name="$2" want="$3" left="${4:-none}" got=refused b_cli b_srv
    b_cli="$(lines "$dir/charon.log")"
    b_srv="$(lines "$SRV/charon.log")"
    ikw_sw_initiate "$dir" "$name" "$name" 10 >"$dir/$name.out" 2>&1 && got=up
    if [ "$got" = "$want" ]; then
        ok "$name: $got (${IKW_SW_INITIATE_MS} ms)"
    else
        ko "$name: wanted $want, got $got"
        sed 's/^/    /' "$dir/$name.out" | tail -n 8
    fi
    ikw_sw_list_sas "$SRV" --raw >"$dir/$name.srv.sas" 2>&1 || true
    if [ "$got" = up ]; then
        local vip
        vip="$(ikw_exec cli ip -4 -o addr show dev ipsec0 | awk '{print $4}' | cut -d/ -f1 | head -n1)"
        check "$name: ping $IKW_PROT_ADDR from $vip through the tunnel" \
            ikw_exec cli ping -c 1 -W 2 -I "$vip" "$IKW_PROT_ADDR"
    fi
    ikw_swanctl "$dir" --terminate --ike "$name" --timeout 5 >/dev/null 2>&1 || true
    # Both sides empty again (a refused SA is dropped at once, a terminated one after DELETE).
    check "$name: no SA left at the initiator" ikw_wait_for 3 no_sas "$dir"
    if [ "$left" = halfopen ]; then
        check "$name: the responder keeps only a half-open SA" ikw_wait_for 3 only_halfopen "$SRV"
    else
        check "$name: no SA left at the responder" ikw_wait_for 3 no_sas "$SRV"
    fi
    since "$b_cli" "$dir/charon.log" >"$dir/$name.cli.log"
    since "$b_srv" "$SRV/charon.log" >"$dir/$name.srv.log"
}
no_sas() { ! ikw_sw_list_sas "$1" --raw 2>/dev/null | grep -q 'list-sa event'; }
only_halfopen() {
    local sas
    sas="$(ikw_sw_list_sas "$1" --raw 2>/dev/null | grep 'list-sa event')" || return 1
    ! echo "$sas" | grep -qv 'state=CONNECTING'
}

# DIR CASE SIDE(cli|srv) TEXT: the side logged TEXT during the case.
said() {
    if grep -qF -- "$4" "$1/$2.$3.log"; then
        ok "$2: $3 logged '$4'"
    else
        ko "$2: no '$4' in the $3 log"
        sed 's/^/    /' "$1/$2.$3.log" | grep -iE 'eap|tls|auth' | tail -n 12
    fi
}
not_said() {
    if grep -qF -- "$4" "$1/$2.$3.log"; then ko "$2: $3 logged '$4'"; else ok "$2: $3 never logged '$4'"; fi
}
# The server's view of an established case: its remote EAP identity.
eap_id_seen() { # DIR CASE ID
    grep -q "remote-eap-id=$3 " "$1/$2.srv.sas" ||
        grep -q "remote-eap-id=$3\$" "$1/$2.srv.sas"
}

echo "--- 1. password methods, the right password ---"
initiate "$CLI" eap-mschapv2 up
check "eap-mschapv2: the server lists remote-eap-id=alice" eap_id_seen "$CLI" eap-mschapv2 alice
said "$CLI" eap-mschapv2 srv "received EAP identity 'alice'"
said "$CLI" eap-mschapv2 srv "EAP method EAP_MSCHAPV2 succeeded, MSK established"
said "$CLI" eap-mschapv2 cli "EAP method EAP_MSCHAPV2 succeeded, MSK established"
# strongSwan names the IKE identity here; the EAP identity is in remote-eap-id above.
said "$CLI" eap-mschapv2 srv "authentication of 'cli.ikeway.test' with EAP successful"
initiate "$CLI" eap-md5 up
check "eap-md5: the server lists remote-eap-id=alice" eap_id_seen "$CLI" eap-md5 alice
said "$CLI" eap-md5 srv "EAP method EAP_MD5 succeeded, no MSK established"
said "$CLI" eap-md5 cli "EAP method EAP_MD5 succeeded, no MSK established"

echo "--- 2. wrong password, unknown user ---"
initiate "$CLI" eap-md5-wrong refused
said "$CLI" eap-md5-wrong srv "EAP-MD5 verification failed"
said "$CLI" eap-md5-wrong cli "received EAP_FAILURE, EAP authentication failed"
initiate "$CLI" eap-mschapv2-wrong refused halfopen
said "$CLI" eap-mschapv2-wrong srv "EAP-MS-CHAPv2 verification failed"
said "$CLI" eap-mschapv2-wrong cli "EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE"
said "$CLI" eap-mschapv2-wrong cli "generating INFORMATIONAL request 4 [ N(AUTH_FAILED) ]"
initiate "$CLI" eap-mschapv2-unknown refused halfopen
said "$CLI" eap-mschapv2-unknown srv "no EAP key found for hosts 'srv.ikeway.test' - 'mallory'"
said "$CLI" eap-mschapv2-unknown cli "EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE"
# An unknown user is told exactly what a wrong password is told, after the same delay.
said "$CLI" eap-mschapv2-unknown srv "EAP-MS-CHAPv2 verification failed, retry (1)"
check "the responder drops the half-open SAs after half_open_timeout" ikw_wait_for 10 no_sas "$SRV"

echo "--- 3. EAP-TLS with a client certificate, TLS 1.2 (1.3 below) ---"
initiate "$CLI" eap-tls up
# The EAP identity is the certificate's name, which is also the IKE identity: swanctl lists
# it once (remote-id), so the server's log is where it shows.
said "$CLI" eap-tls srv "received EAP identity 'cli.ikeway.test'"
said "$CLI" eap-tls srv "negotiated TLS 1.2"
said "$CLI" eap-tls srv "EAP method EAP_TLS succeeded, MSK established"
echo "--- 3b. RFC 4739: a certificate round, then EAP-MSCHAPv2 ---"
initiate "$CLI" eap-multi up
check "eap-multi: the server lists remote-eap-id=alice" eap_id_seen "$CLI" eap-multi alice
said "$CLI" eap-multi srv "authentication of 'cli.ikeway.test' with ECDSA_WITH_SHA256_DER successful"
said "$CLI" eap-multi srv "EAP method EAP_MSCHAPV2 succeeded, MSK established"
said "$CLI" eap-multi cli "N(MULT_AUTH)"
said "$CLI" eap-multi cli "N(AUTH_FOLLOWS)"
echo "--- 4. a server nobody trusts hears no EAP identity ---"
initiate "$CLI" eap-untrusted refused halfopen
said "$CLI" eap-untrusted cli 'no issuer certificate found for "CN=srv.ikeway.test"'
said "$CLI" eap-untrusted cli "generating INFORMATIONAL request 2 [ N(AUTH_FAILED) ]"
not_said "$CLI" eap-untrusted srv "received EAP identity"
check "the responder drops that half-open SA after half_open_timeout" ikw_wait_for 10 no_sas "$SRV"
echo "--- 3 (continued). EAP-TLS with TLS 1.3 ---"
ikw_sw_stop "$CLI"
IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.3 1.3)" ikw_sw_start cli "$CLI13"
ikw_sw_load "$CLI13" >"$CLI13/load.out"
initiate "$CLI13" eap-tls up
said "$CLI13" eap-tls srv "negotiated TLS 1.3"
said "$CLI13" eap-tls srv "EAP method EAP_TLS succeeded, MSK established"

T_END="$(ikw_now_ms)"

echo "--- timings (ms) ---"
echo "  certificates (ikw_pki_eapset):    $((T_PKI - T0))"
echo "  two charons up and loaded:        $((T_UP - T_PKI))"
echo "  10 cases:                         $((T_END - T_UP))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
