#!/usr/bin/env bash
# Selftest of the certificate testbed (lib/pki.sh, lib/certbed.sh): strongSwan against
# strongSwan, so that the certificates and the swanctl configurations the ikeway scenarios
# (cert-interop.sh) use are known to be right before ikeway takes one side. Proves nothing
# about ikeway.
#
# Checks:
#   1. every defective certificate has exactly its defect, by `openssl verify` (expired, not yet
#      valid, untrusted issuer, forged issuer signature, missing intermediate, revoked, wrong
#      EKU, wrong host name), and the good ones verify;
#   2. a strongSwan initiator against the strongSwan responder of every server case: the good
#      ones (ECDSA and RSA server with client PSK, mutual RSA / ECDSA / Ed25519) come up, the
#      defective ones are refused by strongSwan's own checks (except wrong EKU, which
#      strongSwan does not check: step 1 covers that certificate);
#   3. the strongSwan initiator of every client case against a strongSwan responder standing
#      where ours will: good client certificates come up, defective ones are refused.
#
# Usage: testbeds/selftest-strongswan-certs.sh
# Env:   IKW_PREFIX (default ikw), IKW_KEEP_WORKDIR=1 keeps certificates, configs and logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/certbed.sh"
. "$HERE/lib/check.sh"

ikw_topo_trap
T0="$(ikw_now_ms)"
ikw_topo_up direct
ikw_pki_testset "$IKW_WORKDIR/pki"
T_PKI="$(ikw_now_ms)"
P="$IKW_PKI_DIR"

echo "--- 1. the certificates (openssl verify) ---"
cat "$P/root-ec.crt" "$P/root-rsa.crt" >"$P/anchors.pem"
# CERT PURPOSE HOST CRL EXPECTED ("OK" or openssl's error text)
verify() {
    local cert="$1" purpose="$2" host="$3" crl="$4" want="$5" out
    local args=(-CAfile "$P/anchors.pem" -untrusted "$P/inter-ec.crt" -purpose "$purpose"
        -verify_hostname "$host")
    [ "$crl" = - ] || args+=(-CRLfile "$P/$crl.crl" -crl_check)
    out="$(openssl verify "${args[@]}" "$P/$cert.crt" 2>&1 || true)"
    case "$out" in
    *"$want"*) ok "$cert: $want" ;;
    *) ko "$cert: wanted '$want', got: $(echo "$out" | tr '\n' ' ')" ;;
    esac
}
verify srv-ec sslserver srv.ikeway.test - "srv-ec.crt: OK"
verify srv-p384 sslserver srv.ikeway.test root-ec-empty "srv-p384.crt: OK"
verify srv-rsa sslserver srv.ikeway.test - "srv-rsa.crt: OK"
verify srv-ed sslserver srv.ikeway.test - "srv-ed.crt: OK"
out="$(openssl verify -CAfile "$P/root-ec.crt" -purpose sslserver -verify_ip 10.99.0.27 "$P/srv-ip.crt" 2>&1 || true)"
case "$out" in *"srv-ip.crt: OK"*) ok "srv-ip: IP 10.99.0.27" ;; *) ko "srv-ip: $out" ;; esac
verify srv-expired sslserver srv.ikeway.test - "certificate has expired"
verify srv-future sslserver srv.ikeway.test - "certificate is not yet valid"
verify srv-untrusted sslserver srv.ikeway.test - "unable to get local issuer certificate"
verify srv-trunc sslserver srv.ikeway.test - "unable to get local issuer certificate"
verify srv-revoked sslserver srv.ikeway.test root-ec "certificate revoked"
verify srv-eku sslserver srv.ikeway.test - "unsuitable certificate purpose"
verify srv-wrongsan sslserver srv.ikeway.test - "hostname mismatch"
verify cli-ec sslclient cli.ikeway.test - "cli-ec.crt: OK"
verify cli-rsa sslclient cli.ikeway.test - "cli-rsa.crt: OK"
verify cli-ed sslclient cli.ikeway.test - "cli-ed.crt: OK"
verify cli-untrusted sslclient cli.ikeway.test - "unable to get local issuer certificate"
verify cli-expired sslclient cli.ikeway.test - "certificate has expired"
verify cli-revoked sslclient cli.ikeway.test root-ec "certificate revoked"
# The forged root has root-ec's name but its own key: srv-forged names root-ec as its issuer
# and only root-forged's key verifies it.
subject() { openssl x509 -in "$P/$1.crt" -noout "$2"; }
check "srv-forged: issuer is root-ec's name" \
    test "$(subject srv-forged -issuer | cut -d= -f2-)" = "$(subject root-ec -subject | cut -d= -f2-)"
check "srv-forged: root-forged's key is not root-ec's" \
    test "$(subject root-forged -pubkey)" != "$(subject root-ec -pubkey)"
verify_forged() { openssl verify -CAfile "$P/root-forged.crt" "$P/srv-forged.crt" >/dev/null 2>&1; }
check "srv-forged: signed by root-forged's key" verify_forged
check "cli-ec.p12 opens with its password" \
    openssl pkcs12 -in "$P/cli-ec.p12" -passin pass:ikeway-p12 -noout

echo "--- 2. server cases: strongSwan initiator -> strongSwan responder ---"
ikw_cert_addrs_up
SRV="$IKW_WORKDIR/srv"
CLI="$IKW_WORKDIR/cli"
ikw_cert_sw_responder "$SRV"
ikw_sw_creds "$CLI" x509 cli-rsa cli-ec cli-ed
ikw_sw_creds "$CLI" private cli-rsa cli-ec cli-ed
ikw_sw_creds "$CLI" x509ca root-ec root-rsa
ikw_sw_creds "$CLI" x509crl root-ec
{
    echo "connections {"
    while read -r name addr cert client anchor; do
        auth=pubkey certs="$client.crt"
        [ "$client" = psk ] && auth=psk certs=""
        IKW_SW_CONN="$name" IKW_SW_CHILD="$name" IKW_SW_REMOTE_ADDRS="$addr" \
            IKW_SW_REMOTE_ID="$(ikw_cert_server_id "$name" "$addr")" \
            IKW_SW_LOCAL_AUTH="$auth" IKW_SW_LOCAL_CERTS="$certs" IKW_SW_REMOTE_AUTH=pubkey \
            IKW_SW_SEND_CERTREQ=yes IKW_SW_SEND_CERT=always \
            IKW_SW_REMOTE_CACERTS="$anchor.crt" IKW_SW_VIPS=0.0.0.0 \
            IKW_SW_REMOTE_TS="$IKW_PROT_NET" ikw_sw_conn_initiator
    done < <(ikw_cert_server_cases)
    echo "}"
    _ikw_sw_secrets cli.ikeway.test srv.ikeway.test "$IKW_SW_DEFAULT_PSK"
} >"$CLI/swanctl.conf"
ikw_sw_start srv "$SRV"
ikw_sw_start cli "$CLI"
ikw_sw_load "$SRV" >"$SRV/load.out"
ikw_sw_load "$CLI" >"$CLI/load.out"
T_UP="$(ikw_now_ms)"

initiate() { # DIR CASE WANT(up|refused)
    local dir="$1" name="$2" want="$3" got=refused
    ikw_sw_initiate "$dir" "$name" "$name" 10 >"$dir/$name.out" 2>&1 && got=up
    if [ "$got" = "$want" ]; then
        ok "$name: $got (${IKW_SW_INITIATE_MS} ms)"
    else
        ko "$name: wanted $want, got $got"
        sed 's/^/    /' "$dir/$name.out" | tail -n 8
    fi
    ikw_swanctl "$dir" --terminate --ike "$name" --timeout 5 >/dev/null 2>&1 || true
}
for c in ec-psk rsa-psk mutual-rsa mutual-ec mutual-ed ip-san; do initiate "$CLI" "$c" up; done
for c in untrusted expired future wrongsan revoked forged truncated; do
    initiate "$CLI" "$c" refused
done
# Why each was refused, as strongSwan's initiator logged it.
reason() { # CASE TEXT
    if grep -q "<$1|[0-9]*> .*$2" "$CLI/charon.log"; then
        ok "$1 refused: $2"
    else
        ko "$1: no '$2' in the initiator's log"
    fi
}
reason expired "certificate invalid"
reason future "certificate invalid"
reason revoked "certificate was revoked"
reason untrusted "no issuer certificate found"
reason forged "no issuer certificate found"
reason truncated "no issuer certificate found"
# strongSwan's initiator sends no IDr: the server falls back on its address as its identity,
# which its certificate (other.ikeway.test) does not carry; what strongSwan then says depends on
# the certificates it cached from earlier cases, so only the certificate is checked here.
reason wrongsan 'received end entity cert "CN=other.ikeway.test"'
ikw_sw_stop "$CLI"
ikw_sw_stop "$SRV"
T_SERVER="$(ikw_now_ms)"

echo "--- 3. client cases: strongSwan initiator -> strongSwan certificate responder ---"
SRV2="$IKW_WORKDIR/srv2"
CLI2="$IKW_WORKDIR/cli2"
ikw_cert_sw_cert_responder "$SRV2"
ikw_cert_sw_initiator "$CLI2" root-ec
ikw_sw_start srv "$SRV2"
ikw_sw_start cli "$CLI2"
ikw_sw_load "$SRV2" >"$SRV2/load.out"
ikw_sw_load "$CLI2" >"$CLI2/load.out"
for c in cli-psk cli-ec cli-rsa cli-ed; do initiate "$CLI2" "$c" up; done
for c in cli-psk-req cli-untrusted cli-expired cli-revoked; do initiate "$CLI2" "$c" refused; done
T_CLIENT="$(ikw_now_ms)"

echo "--- timings (ms) ---"
echo "  certificates (ikw_pki_testset):   $((T_PKI - T0))"
echo "  two charons up and loaded:        $((T_UP - T_PKI))"
echo "  13 server cases:                  $((T_SERVER - T_UP))"
echo "  8 client cases (charons incl.):   $((T_CLIENT - T_SERVER))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
