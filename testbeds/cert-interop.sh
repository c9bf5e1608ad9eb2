#!/usr/bin/env bash
# Certificate interop between ikeway and strongSwan, in the namespaces of lib/netns.sh with
# the certificate cases of lib/certbed.sh (certificates from lib/pki.sh).
#
# Usage: cert-interop.sh SCENARIO OUTDIR IKEWAY_BINARY
# Scenarios:
#   client  our Personal VPN client (`config add` + `connect`, as a user would) against one
#           strongSwan responder answering every server case (lib/certbed.sh), one case after
#           the other; plus `ikeway initiate` with a client certificate and a key log, captured
#           for tshark (mutual-ec)
#   server  a strongSwan initiator with every client case against `ikeway serve --cert --key`:
#           on $IKW_CERT_OPT_ADDR clients may use the PSK, on $IKW_CERT_REQ_ADDR
#           (--require-client-cert) they must show a certificate
#
# Env: IKW_PKI_DIR  a folder made by ikw_pki_testset, shared between runs (default: one is made
#                   in the workdir)
#
# `client` records, per case NAME (certbed's server cases, then revoked-fetched, ec-psk-checked,
# ec-psk-wrong-cn, ec-psk-strict, own-expired and mutual-ec-p12, which reuse a server case's
# connection): NAME.add.out and what lib/ourclient.sh's ikw_client_case records (connect,
# status, ping, strongSwan's SAs, routes and links before and after, logs); and http.out (the CRL server's
# requests), initiate.jsonl/.rc/.err, certs.keys and certs.pcapng, charon.log.
# `server` records, per client case NAME: NAME.rc and NAME.initiate.out (swanctl --initiate),
# NAME.sas (strongSwan's SAs right after), NAME.events.jsonl and NAME.charon.log (what our
# responders and strongSwan logged during the case); and charon.log.
# crates/ikeway/tests/cert_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/certbed.sh"
. "$HERE/lib/ourclient.sh"
. "$HERE/lib/steps.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"
PSK="$IKW_SW_DEFAULT_PSK"

ikw_topo_trap
ikw_topo_up direct
printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
if [ -n "${IKW_PKI_DIR:-}" ] && [ -f "$IKW_PKI_DIR/root-ec.crt" ]; then
    ikw_pki_init "$IKW_PKI_DIR"
else
    ikw_pki_testset "$IKW_WORKDIR/pki"
fi
P="$IKW_PKI_DIR"
ikw_cert_addrs_up

# Our client: a saved configuration for the case, then lib/ourclient.sh connects, looks and
# disconnects. NAME ADDRESS ANCHOR CLIENT [config add options...]; CLIENT: psk, a certificate
# name (its PEM key and certificate), or NAME.p12 (the PKCS#12 bundle, password "ikeway-p12").
ours_connect() {
    local name="$1" addr="$2" anchor="$3" client="$4"
    shift 4
    local auth
    case "$client" in
    psk) auth=(--psk-file "$IKW_WORKDIR/psk") ;;
    *.p12)
        printf 'ikeway-p12\n' >"$IKW_WORKDIR/p12pass"
        auth=(--identity-p12 "$P/$client" --identity-password-file "$IKW_WORKDIR/p12pass")
        ;;
    *) auth=(--identity-key "$P/$client.key" --identity-cert "$P/$client.crt") ;;
    esac
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" --server "$addr" \
        --remote-id "${CASE_RID:-srv.ikeway.test}" --local-id cli.ikeway.test "${auth[@]}" \
        --ca "$P/$anchor.crt" --child-encryption aes256gcm "$@" --yes \
        >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_case "$name" "$SRV" "${CASE_CONN:-$name}"
}

case "$SCENARIO" in
client)
    SRV="$IKW_WORKDIR/srv-strongswan"
    ikw_cert_sw_responder "$SRV"
    { ikw_sw_start srv "$SRV" && ikw_sw_load "$SRV" >"$OUT/srv-load.out"; } || ikw_die "strongSwan responder"
    # The CRL distribution point of srv-revoked, served from the responder's namespace.
    mkdir -p "$IKW_WORKDIR/www"
    cp "$P/root-ec.crl" "$IKW_WORKDIR/www/root-ec.crl"
    ikw_spawn srv "$OUT/http.out" python3 -m http.server 8081 --bind "$IKW_SRV_ADDR" \
        --directory "$IKW_WORKDIR/www"
    ikw_client_resolv 'nameserver 10.99.0.254'

    while read -r name addr cert client anchor; do
        # Revocation is checked only when asked (Apple's enableRevocationCheck); the CRL file
        # is then the status at hand, and nothing is fetched.
        case "$name" in revoked) extra=(--crl "$P/root-ec.crl" --revocation-check) ;; *) extra=() ;; esac
        CASE_RID="$(ikw_cert_server_id "$name" "$addr")" \
            ours_connect "$name" "$addr" "$anchor" "$client" "${extra[@]}"
    done < <(ikw_cert_server_cases)
    # The same revoked server, its CRL fetched from the distribution point.
    CASE_CONN=revoked ours_connect revoked-fetched 10.99.0.35 root-ec psk --revocation-check
    # The good server with a CRL that revokes nothing and with Apple's name checks passing,
    # then with a server name that is not the certificate's.
    CASE_CONN=ec-psk ours_connect ec-psk-checked 10.99.0.21 root-ec psk \
        --crl "$P/root-ec-empty.crl" --revocation-check --server-cert-cn srv.ikeway.test \
        --server-cert-issuer-cn "ikeway test intermediate"
    CASE_CONN=ec-psk ours_connect ec-psk-wrong-cn 10.99.0.21 root-ec psk \
        --server-cert-cn vpn.ikeway.test
    # Strict revocation checking (Apple's strictRevocationCheck) where no CRL is to be had.
    CASE_CONN=ec-psk ours_connect ec-psk-strict 10.99.0.21 root-ec psk --revocation-check \
        --strict-revocation-check
    # Our own certificate has expired: refused before anything is sent.
    CASE_CONN=mutual-ec ours_connect own-expired 10.99.0.24 root-ec cli-expired
    # A PKCS#12 identity, as an enterprise profile gives it.
    CASE_CONN=mutual-ec ours_connect mutual-ec-p12 10.99.0.24 root-ec cli-ec.p12

    # The key log of `initiate` lets tshark decrypt IKE_AUTH with certificates.
    ikw_capture_start certs
    rc=0
    ikw_exec cli "$IKEWAY" initiate --local "$IKW_CLI_ADDR" --remote 10.99.0.24 \
        --id cli.ikeway.test --remote-id srv.ikeway.test --cert "$P/cli-ec.crt" \
        --key "$P/cli-ec.key" --ca "$P/root-ec.crt" --keylog "$OUT/certs.keys" \
        --request-config --remote-ts "$IKW_PROT_NET" --then delete@0.5 --timeout 20 \
        >"$OUT/initiate.jsonl" 2>"$OUT/initiate.err" || rc=$?
    echo "$rc" >"$OUT/initiate.rc"
    ikw_capture_stop
    cp "$SRV/charon.log" "$OUT/charon.log"
    rm -rf "/etc/netns/$IKW_NS_CLI"
    ;;
server)
    # Our responder twice: PSK or certificate clients on one address, certificates only on
    # the other; both authenticate with srv-ec and send its intermediate.
    cat "$P/root-ec.crt" "$P/root-rsa.crt" >"$IKW_WORKDIR/anchors.pem"
    serve() { # NAME ADDRESS POOL OPTIONS...
        local name="$1" addr="$2" pool="$3"
        shift 3
        ikw_spawn srv "$OUT/$name.jsonl" "$IKEWAY" serve --local "$addr" --id srv.ikeway.test \
            --cert "$P/srv-ec.chain.crt" --key "$P/srv-ec.key" --pool "$pool" \
            --dns 10.77.0.53 --subnet "$IKW_PROT_NET" --local-ts "$IKW_PROT_NET" \
            --ike aes128gcm16-prfsha256-x25519-ecp256 --esp aes128gcm16-noesn \
            --duration 40 "$@"
    }
    serve serve-opt "$IKW_CERT_OPT_ADDR" 10.88.0.10/50 --psk-file "$IKW_WORKDIR/psk"
    serve serve-req "$IKW_CERT_REQ_ADDR" 10.88.0.60/50 --require-client-cert \
        --ca "$P/root-ec.crt" --ca "$P/root-rsa.crt" --crl "$P/root-ec.crl"
    CLI="$IKW_WORKDIR/cli-strongswan"
    ikw_cert_sw_initiator "$CLI" root-ec
    # RSASSA-PSS for strongSwan's RSA signatures here (its responder in `client` keeps PKCS#1
    # v1.5), so our responder verifies both RSA schemes.
    IKW_SW_EXTRA_CONF="    rsa_pss = yes" ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    listening() { ikw_exec srv ss -Hlun "src $1:500" | grep -q .; }
    ikw_wait_for 5 listening "$IKW_CERT_OPT_ADDR" || true
    ikw_wait_for 5 listening "$IKW_CERT_REQ_ADDR" || true
    # Each case's share of our responders' events: the lines they wrote while it ran.
    while read -r name target client; do
        ikw_sw_client_case "$name" "$CLI" "$OUT/serve-opt.jsonl" "$OUT/serve-req.jsonl"
    done < <(ikw_cert_client_cases)
    sleep 0.5
    cp "$CLI/charon.log" "$OUT/charon.log"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
