# shellcheck shell=bash
# The certificate testbed shared by testbeds/cert-interop.sh (ikeway against strongSwan) and
# testbeds/selftest-strongswan-certs.sh (strongSwan against strongSwan, the harness's own
# check): one strongSwan responder answering every server-certificate case, each case on its
# own address of the responder namespace, and the strongSwan initiator connections for the
# client-certificate cases. Source lib/netns.sh, lib/strongswan.sh and lib/pki.sh first; the
# certificates come from ikw_pki_testset.
#
# Functions:
#   ikw_cert_server_cases          print the server cases: NAME ADDRESS SERVER_CERT CLIENT
#                                  ANCHOR (CLIENT: psk or the client certificate; ANCHOR: the
#                                  root the client must trust)
#   ikw_cert_client_cases          print the client cases (a strongSwan initiator against a
#                                  certificate responder): NAME TARGET CLIENT (TARGET: the
#                                  responder's address, $IKW_CERT_OPT_ADDR where a client may
#                                  use a PSK or $IKW_CERT_REQ_ADDR where it must show a
#                                  certificate; CLIENT: psk or the client certificate)
#   ikw_cert_sw_cert_responder DIR credentials and swanctl.conf for a strongSwan responder that
#                                  stands where ours does in the client cases (selftest)
#   ikw_cert_server_id NAME ADDRESS  the identity of a server case's server (srv.ikeway.test;
#                                  its address for ip-san)
#   ikw_cert_addrs_up              add every server case's address to the responder's ike0
#   ikw_cert_sw_responder DIR      credentials and swanctl.conf for the strongSwan responder of
#                                  every server case
#   ikw_cert_sw_initiator DIR SERVER_ANCHORS [CASES...]
#                                  credentials and swanctl.conf for a strongSwan initiator with
#                                  one connection per client case (conn and child named after
#                                  the case), its server trusted through SERVER_ANCHORS
#                                  (comma-separated roots); CASES limits them
#
# Env: IKW_SW_PSK (the PSK of the psk cases, default IKW_SW_DEFAULT_PSK).

# Server cases. ec-psk's certificate comes with its intermediate (strongSwan sends it);
# truncated's intermediate (inter-lost) is given to no one, so the chain cannot be completed.
ikw_cert_server_cases() {
    cat <<'CASES'
ec-psk     10.99.0.21 srv-ec        psk     root-ec
rsa-psk    10.99.0.22 srv-rsa       psk     root-rsa
mutual-rsa 10.99.0.23 srv-rsa       cli-rsa root-rsa
mutual-ec  10.99.0.24 srv-p384      cli-ec  root-ec
mutual-ed  10.99.0.25 srv-ed        cli-ed  root-ec
ip-san     10.99.0.27 srv-ip        psk     root-ec
untrusted  10.99.0.31 srv-untrusted psk     root-ec
expired    10.99.0.32 srv-expired   psk     root-ec
future     10.99.0.33 srv-future    psk     root-ec
wrongsan   10.99.0.34 srv-wrongsan  psk     root-ec
revoked    10.99.0.35 srv-revoked   psk     root-ec
eku        10.99.0.36 srv-eku       psk     root-ec
forged     10.99.0.37 srv-forged    psk     root-ec
truncated  10.99.0.38 srv-trunc     psk     root-ec
CASES
}

IKW_CERT_OPT_ADDR=10.99.0.2
IKW_CERT_REQ_ADDR=10.99.0.3

# Client cases against a certificate responder (ours, or strongSwan in the selftest).
ikw_cert_client_cases() {
    cat <<CASES
cli-psk       $IKW_CERT_OPT_ADDR psk
cli-psk-req   $IKW_CERT_REQ_ADDR psk
cli-ec        $IKW_CERT_REQ_ADDR cli-ec
cli-rsa       $IKW_CERT_REQ_ADDR cli-rsa
cli-ed        $IKW_CERT_REQ_ADDR cli-ed
cli-untrusted $IKW_CERT_REQ_ADDR cli-untrusted
cli-expired   $IKW_CERT_REQ_ADDR cli-expired
cli-revoked   $IKW_CERT_REQ_ADDR cli-revoked
CASES
}

# The identity a server case's server has (and its client asks for): its address for ip-san,
# else srv.ikeway.test.
ikw_cert_server_id() { # NAME ADDRESS
    if [ "$1" = ip-san ]; then echo "$2"; else echo srv.ikeway.test; fi
}

ikw_cert_addrs_up() {
    local name addr rest
    while read -r name addr rest; do
        ip -n "$IKW_NS_SRV" addr add "$addr/24" dev ike0
    done < <(ikw_cert_server_cases)
    ip -n "$IKW_NS_SRV" addr add "$IKW_CERT_REQ_ADDR/24" dev ike0
}

ikw_cert_sw_responder() { # DIR
    local dir="$1" name addr cert client anchor
    ikw_sw_creds "$dir" x509 srv-ec srv-p384 srv-rsa srv-ed srv-ip srv-untrusted srv-expired \
        srv-future srv-wrongsan srv-revoked srv-eku srv-forged srv-trunc
    ikw_sw_creds "$dir" private srv-ec srv-p384 srv-rsa srv-ed srv-ip srv-untrusted srv-expired \
        srv-future srv-wrongsan srv-revoked srv-eku srv-forged srv-trunc
    # The intermediate strongSwan sends with srv-ec, and the roots of the client certificates.
    ikw_sw_creds "$dir" x509ca inter-ec root-ec root-rsa
    {
        echo "connections {"
        while read -r name addr cert client anchor; do
            if [ "$client" = psk ]; then
                IKW_SW_REMOTE_AUTH=psk IKW_SW_REMOTE_CACERTS="" IKW_SW_REMOTE_ID=%any
            else
                IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS="$anchor.crt"
                IKW_SW_REMOTE_ID=cli.ikeway.test
            fi
            # The wrong-SAN server claims whatever identity the client asks for (IDr), or its
            # address when asked for none: strongSwan does not hold its own ID against its
            # certificate.
            local lid
            lid="$(ikw_cert_server_id "$name" "$addr")"
            [ "$name" = wrongsan ] && lid=%any
            IKW_SW_CONN="$name" IKW_SW_LOCAL_ADDRS="$addr" IKW_SW_LOCAL_AUTH=pubkey \
                IKW_SW_LOCAL_CERTS="$cert.crt" IKW_SW_LOCAL_ID="$lid" IKW_SW_POOL6="" \
                IKW_SW_SEND_CERT=always \
                IKW_SW_REMOTE_AUTH="$IKW_SW_REMOTE_AUTH" \
                IKW_SW_REMOTE_CACERTS="$IKW_SW_REMOTE_CACERTS" \
                IKW_SW_REMOTE_ID="$IKW_SW_REMOTE_ID" ikw_sw_conn_responder
        done < <(ikw_cert_server_cases)
        echo "}"
        IKW_SW_POOL6="" _ikw_sw_pools
        _ikw_sw_secrets cli.ikeway.test %any "${IKW_SW_PSK:-$IKW_SW_DEFAULT_PSK}"
    } >"$dir/swanctl.conf"
}

ikw_cert_sw_initiator() { # DIR SERVER_ANCHORS [CASES...]
    local dir="$1" anchors="$2" name target client certs=() want=" ${*:3} "
    local cacerts="${anchors//,/.crt,}.crt"
    # shellcheck disable=SC2086
    ikw_sw_creds "$dir" x509ca ${anchors//,/ }
    while read -r name target client; do
        [ "$client" = psk ] || certs+=("$client")
    done < <(ikw_cert_client_cases)
    ikw_sw_creds "$dir" x509 "${certs[@]}"
    ikw_sw_creds "$dir" private "${certs[@]}"
    {
        echo "connections {"
        while read -r name target client; do
            [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue
            local auth=pubkey cert="$client.crt"
            [ "$client" = psk ] && auth=psk cert=""
            IKW_SW_CONN="$name" IKW_SW_CHILD="$name" IKW_SW_REMOTE_ADDRS="$target" \
                IKW_SW_LOCAL_AUTH="$auth" IKW_SW_SEND_CERTREQ=yes IKW_SW_SEND_CERT=always \
                IKW_SW_LOCAL_CERTS="$cert" IKW_SW_REMOTE_AUTH=pubkey \
                IKW_SW_REMOTE_CACERTS="$cacerts" IKW_SW_VIPS=0.0.0.0 \
                IKW_SW_REMOTE_TS="$IKW_PROT_NET" ikw_sw_conn_initiator
        done < <(ikw_cert_client_cases)
        echo "}"
        _ikw_sw_secrets cli.ikeway.test srv.ikeway.test "${IKW_SW_PSK:-$IKW_SW_DEFAULT_PSK}"
    } >"$dir/swanctl.conf"
}

ikw_cert_sw_cert_responder() { # DIR
    local dir="$1"
    ikw_sw_creds "$dir" x509 srv-ec
    ikw_sw_creds "$dir" private srv-ec
    ikw_sw_creds "$dir" x509ca inter-ec root-ec root-rsa
    ikw_sw_creds "$dir" x509crl root-ec
    {
        echo "connections {"
        IKW_SW_CONN=opt IKW_SW_LOCAL_ADDRS="$IKW_CERT_OPT_ADDR" IKW_SW_LOCAL_AUTH=pubkey \
            IKW_SW_LOCAL_CERTS=srv-ec.crt IKW_SW_POOL6="" IKW_SW_SEND_CERT=always \
            ikw_sw_conn_responder
        IKW_SW_CONN=req IKW_SW_LOCAL_ADDRS="$IKW_CERT_REQ_ADDR" IKW_SW_LOCAL_AUTH=pubkey \
            IKW_SW_LOCAL_CERTS=srv-ec.crt IKW_SW_POOL6="" IKW_SW_REMOTE_AUTH=pubkey \
            IKW_SW_REMOTE_CACERTS=root-ec.crt,root-rsa.crt IKW_SW_SEND_CERT=always \
            IKW_SW_SEND_CERTREQ=yes ikw_sw_conn_responder
        echo "}"
        IKW_SW_POOL6="" _ikw_sw_pools
        _ikw_sw_secrets cli.ikeway.test %any "${IKW_SW_PSK:-$IKW_SW_DEFAULT_PSK}"
    } >"$dir/swanctl.conf"
}
