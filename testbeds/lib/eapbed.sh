# shellcheck shell=bash
# The EAP testbed: a server that proves itself with a certificate and a user who signs in with
# EAP (RFC 7296 §2.16), as strongSwan road warriors do. Source lib/netns.sh, lib/strongswan.sh
# and lib/pki.sh first (certificates from ikw_pki_eapset), then this file.
#
# Server cases: one strongSwan responder answers all of them, each on its own address of the
# responder's ike0 (so a client picks a case by the address it connects to). Every server
# authenticates with a certificate (sent with its intermediate) and asks the client for its
# EAP identity (EAP-Identity), then runs one method:
#
#   case       address     method        server certificate
#   mschapv2   10.99.0.41  eap-mschapv2  srv-ec (trusted through root-ec)
#   md5        10.99.0.42  eap-md5       srv-ec
#   tls        10.99.0.43  eap-tls       srv-ec; the client's certificate must chain to root-ec
#                                        and name the EAP identity
#   untrusted  10.99.0.44  eap-mschapv2  srv-untrusted (by a root nobody trusts)
#   multi      10.99.0.45  RFC 4739: a client certificate (root-ec), then eap-mschapv2; srv-ec
#
# Users (the server's secrets, the same in strongSwan's swanctl.conf and in the user file of
# `ikeway serve --eap-users`): alice and carol with the passwords below; mallory is unknown.
#
# Client cases (a strongSwan initiator, ikw_eap_client_cases): NAME METHOD USER SERVER_CASE,
# where USER is an EAP identity (its password from the client's own secrets: alice's right,
# carol's wrong, mallory's unknown to the server) or, for eap-tls, a certificate name:
#   eap-mschapv2 eap-mschapv2-wrong eap-mschapv2-unknown eap-md5 eap-md5-wrong eap-tls
#   eap-untrusted (alice, MSCHAPv2, to the untrusted server), eap-multi (cli-ec's certificate,
#   then alice with EAP-MSCHAPv2)
#
# Functions:
#   ikw_eap_server_cases           print "NAME ADDRESS METHOD CERT" per server case
#   ikw_eap_client_cases           print "NAME METHOD USER SERVER_CASE" per client case
#   ikw_eap_case_addr SERVER_CASE  print its address
#   ikw_eap_addrs_up               add every server case's address to the responder's ike0
#   ikw_eap_users_file FILE        the server's users as `user : EAP "password"` lines
#   ikw_eap_sw_responder DIR       credentials and swanctl.conf for the strongSwan responder of
#                                  every server case
#   ikw_eap_sw_initiator DIR TARGET [CASES...]
#                                  credentials and swanctl.conf for a strongSwan initiator with
#                                  one connection per client case (conn and child named after
#                                  the case); TARGET is an address, "cases" to send each to
#                                  its server case's address, or a function printing the
#                                  address for a SERVER_CASE; CASES limits them
#   ikw_eap_tls_conf MIN MAX       strongswan.conf lines (for IKW_SW_EXTRA_CONF) bounding the
#                                  TLS versions of EAP-TLS (1.2, 1.3)
#
# Env: IKW_EAP_PASSWORD, IKW_EAP_CAROL_PASSWORD, IKW_EAP_WRONG_PASSWORD (defaults below).

IKW_EAP_USER=alice
IKW_EAP_PASSWORD="${IKW_EAP_PASSWORD:-ikeway alice EAP pw}"
IKW_EAP_CAROL_PASSWORD="${IKW_EAP_CAROL_PASSWORD:-carol real password}"
# What a client that got the password wrong says, for carol (and for alice in our client's
# wrong-password case).
IKW_EAP_WRONG_PASSWORD="${IKW_EAP_WRONG_PASSWORD:-not the password}"
IKW_EAP_UNKNOWN_USER=mallory

ikw_eap_server_cases() {
    cat <<'CASES'
mschapv2  10.99.0.41 eap-mschapv2 srv-ec
md5       10.99.0.42 eap-md5      srv-ec
tls       10.99.0.43 eap-tls      srv-ec
untrusted 10.99.0.44 eap-mschapv2 srv-untrusted
multi     10.99.0.45 pubkey+eap-mschapv2 srv-ec
CASES
}

ikw_eap_client_cases() {
    cat <<'CASES'
eap-mschapv2         eap-mschapv2 alice   mschapv2
eap-mschapv2-wrong   eap-mschapv2 carol   mschapv2
eap-mschapv2-unknown eap-mschapv2 mallory mschapv2
eap-md5              eap-md5      alice   md5
eap-md5-wrong        eap-md5      carol   md5
eap-tls              eap-tls      cli-ec  tls
eap-untrusted        eap-mschapv2 alice   untrusted
eap-multi            pubkey+eap-mschapv2 alice multi
CASES
}

ikw_eap_case_addr() { # SERVER_CASE: its address
    local name addr rest
    while read -r name addr rest; do
        if [ "$name" = "$1" ]; then
            echo "$addr"
            return
        fi
    done < <(ikw_eap_server_cases)
    ikw_die "no EAP server case $1"
}

ikw_eap_addrs_up() {
    local name addr rest
    while read -r name addr rest; do
        ip -n "$IKW_NS_SRV" addr add "$addr/24" dev ike0
    done < <(ikw_eap_server_cases)
}

ikw_eap_users_file() { # FILE
    {
        echo "# EAP users of the testbed (testbeds/lib/eapbed.sh); $IKW_EAP_UNKNOWN_USER is unknown."
        echo "$IKW_EAP_USER : EAP \"$IKW_EAP_PASSWORD\""
        echo "carol : EAP \"$IKW_EAP_CAROL_PASSWORD\""
    } >"$1"
}

# swanctl `secrets` entries for EAP users: USER PASSWORD pairs.
_ikw_eap_secrets() {
    while [ "$#" -ge 2 ]; do
        echo "    eap-$1 {"
        echo "        id = $1"
        echo "        secret = \"$2\""
        echo "    }"
        shift 2
    done
}

ikw_eap_tls_conf() { # MIN MAX
    printf '    tls {\n        version_min = %s\n        version_max = %s\n    }\n' "$1" "$2"
}

ikw_eap_sw_responder() { # DIR
    local dir="$1" name addr method cert
    ikw_sw_creds "$dir" x509 srv-ec srv-untrusted
    ikw_sw_creds "$dir" private srv-ec srv-untrusted
    # srv-ec's intermediate (strongSwan sends it), and the root of EAP-TLS client certificates.
    ikw_sw_creds "$dir" x509ca inter-ec root-ec
    {
        echo "connections {"
        while read -r name addr method cert; do
            # "pubkey+eap-X": a certificate round, then EAP (RFC 4739).
            local first="$method" second="" eap_id=%any cacerts=""
            if [[ "$method" == *+* ]]; then
                first="${method%%+*}" second="${method#*+}" eap_id="" cacerts=root-ec.crt
            fi
            IKW_SW_CONN="$name" IKW_SW_LOCAL_ADDRS="$addr" IKW_SW_LOCAL_AUTH=pubkey \
                IKW_SW_LOCAL_CERTS="$cert.crt" IKW_SW_LOCAL_ID=srv.ikeway.test IKW_SW_POOL6="" \
                IKW_SW_SEND_CERT=always IKW_SW_REMOTE_AUTH="$first" IKW_SW_REMOTE_ID=%any \
                IKW_SW_REMOTE_EAP_ID="$eap_id" IKW_SW_REMOTE_CACERTS="$cacerts" \
                IKW_SW_REMOTE2_AUTH="$second" IKW_SW_REMOTE2_EAP_ID="${second:+%any}" \
                IKW_SW_SEND_CERTREQ="${second:+yes}" ikw_sw_conn_responder
        done < <(ikw_eap_server_cases)
        echo "}"
        IKW_SW_POOL6="" _ikw_sw_pools
        echo "secrets {"
        _ikw_eap_secrets "$IKW_EAP_USER" "$IKW_EAP_PASSWORD" carol "$IKW_EAP_CAROL_PASSWORD"
        echo "}"
    } >"$dir/swanctl.conf"
}

ikw_eap_sw_initiator() { # DIR TARGET [CASES...]
    local dir="$1" target="$2" want=" ${*:3} " name method user server
    ikw_sw_creds "$dir" x509ca root-ec
    ikw_sw_creds "$dir" x509 cli-ec
    ikw_sw_creds "$dir" private cli-ec
    {
        echo "connections {"
        while read -r name method user server; do
            [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue
            local addr="$target" certs="" eap_id="$user" first="$method" second=""
            if [ "$target" = cases ]; then
                addr="$(ikw_eap_case_addr "$server")"
            elif declare -F "$target" >/dev/null; then
                addr="$("$target" "$server")"
            fi
            # EAP-TLS: the certificate is the credential, its name the EAP identity.
            [ "$method" = eap-tls ] && certs="$user.crt" eap_id=""
            # "pubkey+eap-X" (RFC 4739): cli-ec's certificate, then EAP as USER.
            if [[ "$method" == *+* ]]; then
                first="${method%%+*}" second="${method#*+}" certs=cli-ec.crt eap_id=""
            fi
            IKW_SW_CONN="$name" IKW_SW_CHILD="$name" IKW_SW_REMOTE_ADDRS="$addr" \
                IKW_SW_LOCAL_AUTH="$first" IKW_SW_LOCAL_CERTS="$certs" \
                IKW_SW_LOCAL_EAP_ID="$eap_id" IKW_SW_LOCAL2_AUTH="$second" \
                IKW_SW_LOCAL2_EAP_ID="${second:+$user}" IKW_SW_REMOTE_AUTH=pubkey \
                IKW_SW_REMOTE_CACERTS=root-ec.crt IKW_SW_VIPS=0.0.0.0 \
                IKW_SW_REMOTE_TS="$IKW_PROT_NET" ikw_sw_conn_initiator
        done < <(ikw_eap_client_cases)
        echo "}"
        echo "secrets {"
        _ikw_eap_secrets "$IKW_EAP_USER" "$IKW_EAP_PASSWORD" carol "$IKW_EAP_WRONG_PASSWORD" \
            "$IKW_EAP_UNKNOWN_USER" "mallory password"
        echo "}"
    } >"$dir/swanctl.conf"
}
