# shellcheck shell=bash
# The IKEv1 ("Cisco IPSec") testbed: strongSwan 5.9.8 as the kind of gateway Apple's IKEv1
# client talks to. Source lib/netns.sh, lib/strongswan.sh and lib/pki.sh first (certificates
# from ikw_pki_eapset), then this file.
#
# Server cases: one strongSwan responder answers all of them, each on its own address of the
# responder's ike0 (a client picks a case by the address it connects to):
#
#   case       address     phase 1                                    then
#   aggr-psk   10.99.0.51  Aggressive Mode, PSK; the client's ID is   XAUTH (xauth-generic, user
#                          the group name as ID_KEY_ID, the server's  alice), Mode Config pull from
#                          its address (ID_IPV4_ADDR)                 pool v1pool: address, DNS,
#                                                                     Cisco Unity banner, default
#                                                                     domain, split-include
#   main-cert  10.99.0.52  Main Mode, certificates both ways          Mode Config (same pool), no
#                          (srv-ec with its intermediate; the client  XAUTH
#                          cli-ec, under root-ec)
#   main-rsa   10.99.0.53  Main Mode, RSA certificates both ways      Mode Config (same pool), no
#                          (v1-srv-rsa; the client v1-cli-rsa, both   XAUTH
#                          under v1-root-rsa; only when ikw_v1_pki_rsa
#                          made them)
#   aggr-hybrid 10.99.0.54 Aggressive Mode, hybrid (HybridInitRSA):   XAUTH (any user with a
#                          the server signs with v1-srv-rsa, the      secret: alice), Mode Config
#                          client sends HASH_I only (any ID; only
#                          when ikw_v1_pki_rsa made the certificates)
#   aggr-split 10.99.0.55  as aggr-psk, its child's local_ts two      as aggr-psk; the split
#                          networks, 10.77.0.0/26 and 10.77.0.128/26  include names both
#                          (the protected host 10.77.0.2 in the       networks
#                          first)
#   main-rsa-xauth 10.99.0.56  Main Mode, RSA certificates both ways  XAUTH (xauth-generic as a
#                          as main-rsa (XAUTHInitRSA: strongSwan's    second round: alice), Mode
#                          `remote { auth = pubkey }` then            Config
#                          `remote-2 { auth = xauth-generic }`)
#   main-rsa-nofrag 10.99.0.57  as main-rsa with `fragmentation = no`: Mode Config, no XAUTH
#                          strongSwan neither announces nor sends
#                          IKEv1 fragments (main-rsa announces them:
#                          swanctl's default, `fragmentation = yes`,
#                          fragments over charon's fragment_size, 1280)
#   main-3des  10.99.0.58  as main-cert (ECDSA certificates), but ESP Mode Config, no XAUTH
#                          3DES-CBC + HMAC-SHA1-96 only (an old
#                          gateway: `esp = 3des-sha1`, with or
#                          without PFS)
#
# Proposals: aggr-psk AES-256-CBC/SHA2-256/MODP-2048 (group 14) for phase 1 (Aggressive Mode
# carries the KE in its first message, so one group), ESP AES-256-CBC + HMAC-SHA2-256 without
# PFS; main-cert AES-128-CBC/SHA2-256/ECP-256 (group 19), ESP AES-128-CBC + HMAC-SHA1 with PFS
# group 19; main-rsa as main-cert with MODP-2048 first. All also accept AES-128/SHA1/MODP-2048
# and 3DES/SHA1/MODP-1024.
#
# Client cases (a strongSwan initiator, ikw_v1_client_cases): NAME SERVER_CASE WHAT
#   v1-aggr        right group secret, right XAUTH password        -> up
#   v1-aggr-badpsk wrong group secret                              -> refused
#   v1-aggr-badpw  right group secret, wrong XAUTH password        -> refused
#   v1-main-cert   cli-ec's certificate                            -> up
#
# Functions:
#   ikw_v1_server_cases           print "NAME ADDRESS" per server case
#   ikw_v1_client_cases           print "NAME SERVER_CASE" per client case
#   ikw_v1_case_addr SERVER_CASE  print its address
#   ikw_v1_addrs_up               add every server case's address to the responder's ike0
#   ikw_v1_pki_rsa                the RSA set in $IKW_PKI_DIR (after ikw_pki_eapset): v1-root-rsa
#                                 (RSA 2048), v1-srv-rsa (RSA 3072, srv.ikeway.test), v1-cli-rsa
#                                 (RSA 2048, cli.ikeway.test), v1-cli-rsa4k (RSA 4096, the
#                                 same name: a Main Mode message 5 of about 2 KB), all signed
#                                 with PKCS#1 v1.5
#   ikw_v1_charon_conf            strongswan.conf lines (for IKW_SW_EXTRA_CONF) every IKEv1
#                                 peer here needs: Aggressive Mode PSK allowed, Cisco Unity on
#   ikw_v1_sw_responder DIR       credentials and swanctl.conf for the responder of every case
#   ikw_v1_sw_initiator DIR [CASES...]
#                                 credentials and swanctl.conf for a strongSwan initiator with
#                                 one connection per client case (conn and child named after
#                                 the case), server certificates trusted through root-ec; the
#                                 secrets are those of the last aggr-psk case named (they share
#                                 IDs), so name one aggr-psk case per load
#   ikw_v1_keys LOG OUT_PREFIX    from a charon log at level 4, write OUT_PREFIX.keys (one
#                                 line per IKE SA: cookies and phase 1 keys, see the function)
#                                 and OUT_PREFIX.ikev1_decryption_table (Wireshark's UAT)
#
# Env: IKW_V1_DPD_DELAY (the initiator's aggr-psk dpd_delay, default 30s), IKW_V1_GROUP, IKW_V1_PSK, IKW_V1_WRONG_PSK, IKW_V1_USER, IKW_V1_PASSWORD,
#      IKW_V1_WRONG_PASSWORD, IKW_V1_BANNER, IKW_V1_DOMAIN (defaults below).

IKW_V1_GROUP="${IKW_V1_GROUP:-ikeway-group}"
IKW_V1_PSK="${IKW_V1_PSK:-ikeway group secret 42}"
IKW_V1_WRONG_PSK="${IKW_V1_WRONG_PSK:-not the group secret}"
IKW_V1_USER="${IKW_V1_USER:-alice}"
IKW_V1_PASSWORD="${IKW_V1_PASSWORD:-ikeway alice XAUTH pw}"
IKW_V1_WRONG_PASSWORD="${IKW_V1_WRONG_PASSWORD:-not the password}"
IKW_V1_BANNER="${IKW_V1_BANNER:-Welcome to the ikeway IKEv1 testbed}"
IKW_V1_DOMAIN="${IKW_V1_DOMAIN:-corp.ikeway.test}"
IKW_V1_POOL=10.88.1.0/24
IKW_V1_DNS=10.77.0.53
# A NetBIOS name server (INTERNAL_IP4_NBNS): reported by our client, never used.
IKW_V1_NBNS=10.77.0.54
# aggr-split's networks: two quarters of the protected /24, with 10.77.0.64/26 between them.
IKW_V1_SPLIT_NETS=10.77.0.0/26,10.77.0.128/26

IKW_V1_AGGR_IKE="aes256-sha256-modp2048,aes128-sha1-modp2048,3des-sha1-modp1024"
IKW_V1_AGGR_ESP="aes256-sha256,aes128-sha1,3des-sha1"
IKW_V1_MAIN_IKE="aes128-sha256-ecp256,aes128-sha1-modp2048,3des-sha1-modp1024"
IKW_V1_MAIN_ESP="aes128-sha1-ecp256,aes128-sha1-modp2048,aes256-sha256"

ikw_v1_server_cases() {
    cat <<'CASES'
aggr-psk  10.99.0.51
main-cert 10.99.0.52
main-rsa  10.99.0.53
aggr-hybrid 10.99.0.54
aggr-split 10.99.0.55
main-rsa-xauth 10.99.0.56
main-rsa-nofrag 10.99.0.57
main-3des 10.99.0.58
CASES
}

ikw_v1_pki_rsa() {
    ikw_pki_root v1-root-rsa rsa2048 "ikeway test root RSA IKEv1"
    ikw_pki_issue v1-srv-rsa rsa3072 v1-root-rsa "CN=srv.ikeway.test" --san srv.ikeway.test \
        --flag serverAuth --flag ikeIntermediate
    ikw_pki_issue v1-cli-rsa rsa2048 v1-root-rsa "CN=cli.ikeway.test" --san cli.ikeway.test \
        --flag clientAuth
    ikw_pki_issue v1-cli-rsa4k rsa4096 v1-root-rsa "CN=cli.ikeway.test" --san cli.ikeway.test \
        --flag clientAuth
}

ikw_v1_client_cases() {
    cat <<'CASES'
v1-aggr        aggr-psk
v1-aggr-badpsk aggr-psk
v1-aggr-badpw  aggr-psk
v1-main-cert   main-cert
CASES
}

ikw_v1_case_addr() { # SERVER_CASE
    ikw_v1_server_cases | awk -v c="$1" '$1 == c { print $2 }'
}

ikw_v1_addrs_up() {
    local name addr
    while read -r name addr; do
        ip -n "$IKW_NS_SRV" addr add "$addr/24" dev ike0
    done < <(ikw_v1_server_cases)
}

ikw_v1_charon_conf() {
    cat <<'EOF'
    i_dont_care_about_security_and_use_aggressive_mode_psk = yes
    cisco_unity = yes
EOF
}

# The pool: address, DNS, NBNS and the Cisco Unity attributes by number (UNITY_BANNER 28672,
# UNITY_DEF_DOMAIN 28674; strongSwan sends a value it cannot parse as an address as a string).
# The split-include list (UNITY_SPLIT_INCLUDE 28676) comes from the unity plugin: the child's
# local traffic selector, sent to a peer that announced Cisco Unity.
_ikw_v1_pool() {
    cat <<EOF
pools {
    v1pool {
        addrs = $IKW_V1_POOL
        dns = $IKW_V1_DNS
        nbns = $IKW_V1_NBNS
        28672 = $IKW_V1_BANNER
        28674 = $IKW_V1_DOMAIN
    }
}
EOF
}

ikw_v1_sw_responder() { # DIR
    local dir="$1"
    ikw_sw_creds "$dir" x509 srv-ec
    ikw_sw_creds "$dir" private srv-ec
    ikw_sw_creds "$dir" x509ca inter-ec root-ec
    if [ -f "$IKW_PKI_DIR/v1-srv-rsa.crt" ]; then
        ikw_sw_creds "$dir" x509 v1-srv-rsa
        ikw_sw_creds "$dir" private v1-srv-rsa
        ikw_sw_creds "$dir" x509ca v1-root-rsa
    fi
    {
        echo "connections {"
        IKW_SW_VERSION=1 IKW_SW_AGGRESSIVE=yes IKW_SW_CONN=aggr-psk IKW_SW_CHILD=aggr-psk \
            IKW_SW_IKE_PROPOSALS="$IKW_V1_AGGR_IKE" IKW_SW_ESP_PROPOSALS="$IKW_V1_AGGR_ESP" \
            IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr aggr-psk)" \
            IKW_SW_REMOTE2_AUTH=xauth-generic IKW_SW_REMOTE2_ID=- \
            _ikw_sw_conn_block "IKEv1 aggr-psk: Aggressive Mode, group PSK, XAUTH, Mode Config" \
            %any "pools = v1pool" "$(ikw_v1_case_addr aggr-psk)" "keyid:$IKW_V1_GROUP" \
            "$IKW_PROT_NET" dynamic ""
        IKW_SW_VERSION=1 IKW_SW_AGGRESSIVE=yes IKW_SW_CONN=aggr-split IKW_SW_CHILD=aggr-split \
            IKW_SW_IKE_PROPOSALS="$IKW_V1_AGGR_IKE" IKW_SW_ESP_PROPOSALS="$IKW_V1_AGGR_ESP" \
            IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr aggr-split)" \
            IKW_SW_REMOTE2_AUTH=xauth-generic IKW_SW_REMOTE2_ID=- \
            _ikw_sw_conn_block "IKEv1 aggr-split: as aggr-psk, two split networks" \
            %any "pools = v1pool" "$(ikw_v1_case_addr aggr-split)" "keyid:$IKW_V1_GROUP" \
            "$IKW_V1_SPLIT_NETS" dynamic ""
        IKW_SW_VERSION=1 IKW_SW_CONN=main-cert IKW_SW_CHILD=main-cert \
            IKW_SW_IKE_PROPOSALS="$IKW_V1_MAIN_IKE" IKW_SW_ESP_PROPOSALS="$IKW_V1_MAIN_ESP" \
            IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr main-cert)" \
            IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=srv-ec.crt IKW_SW_SEND_CERT=always \
            IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=root-ec.crt IKW_SW_SEND_CERTREQ=yes \
            _ikw_sw_conn_block "IKEv1 main-cert: Main Mode, certificates, Mode Config" \
            %any "pools = v1pool" srv.ikeway.test cli.ikeway.test \
            "$IKW_PROT_NET" dynamic ""
        IKW_SW_VERSION=1 IKW_SW_CONN=main-3des IKW_SW_CHILD=main-3des \
            IKW_SW_IKE_PROPOSALS="$IKW_V1_MAIN_IKE" \
            IKW_SW_ESP_PROPOSALS="3des-sha1-ecp256,3des-sha1-modp2048,3des-sha1" \
            IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr main-3des)" \
            IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=srv-ec.crt IKW_SW_SEND_CERT=always \
            IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=root-ec.crt IKW_SW_SEND_CERTREQ=yes \
            _ikw_sw_conn_block "IKEv1 main-3des: as main-cert, ESP 3DES + HMAC-SHA1 only" \
            %any "pools = v1pool" srv.ikeway.test cli.ikeway.test \
            "$IKW_PROT_NET" dynamic ""
        if [ -f "$IKW_PKI_DIR/v1-srv-rsa.crt" ]; then
            IKW_SW_VERSION=1 IKW_SW_CONN=main-rsa IKW_SW_CHILD=main-rsa \
                IKW_SW_IKE_PROPOSALS="aes128-sha256-modp2048,$IKW_V1_MAIN_IKE" \
                IKW_SW_ESP_PROPOSALS="$IKW_V1_MAIN_ESP" \
                IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr main-rsa)" \
                IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=v1-srv-rsa.crt IKW_SW_SEND_CERT=always \
                IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=v1-root-rsa.crt \
                IKW_SW_SEND_CERTREQ=yes \
                _ikw_sw_conn_block "IKEv1 main-rsa: Main Mode, RSA certificates, Mode Config" \
                %any "pools = v1pool" srv.ikeway.test cli.ikeway.test \
                "$IKW_PROT_NET" dynamic ""
            IKW_SW_VERSION=1 IKW_SW_AGGRESSIVE=yes IKW_SW_CONN=aggr-hybrid \
                IKW_SW_CHILD=aggr-hybrid IKW_SW_IKE_PROPOSALS="$IKW_V1_AGGR_IKE" \
                IKW_SW_ESP_PROPOSALS="$IKW_V1_AGGR_ESP" \
                IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr aggr-hybrid)" \
                IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=v1-srv-rsa.crt IKW_SW_SEND_CERT=always \
                IKW_SW_REMOTE_AUTH=xauth-generic \
                _ikw_sw_conn_block "IKEv1 aggr-hybrid: Aggressive Mode, hybrid, XAUTH, Mode Config" \
                %any "pools = v1pool" srv.ikeway.test %any "$IKW_PROT_NET" dynamic ""
            IKW_SW_VERSION=1 IKW_SW_CONN=main-rsa-xauth IKW_SW_CHILD=main-rsa-xauth \
                IKW_SW_IKE_PROPOSALS="aes128-sha256-modp2048,$IKW_V1_MAIN_IKE" \
                IKW_SW_ESP_PROPOSALS="$IKW_V1_MAIN_ESP" \
                IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr main-rsa-xauth)" \
                IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=v1-srv-rsa.crt IKW_SW_SEND_CERT=always \
                IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=v1-root-rsa.crt \
                IKW_SW_SEND_CERTREQ=yes IKW_SW_REMOTE2_AUTH=xauth-generic IKW_SW_REMOTE2_ID=- \
                _ikw_sw_conn_block "IKEv1 main-rsa-xauth: Main Mode, RSA certificates, XAUTH, Mode Config" \
                %any "pools = v1pool" srv.ikeway.test cli.ikeway.test \
                "$IKW_PROT_NET" dynamic ""
            IKW_SW_VERSION=1 IKW_SW_CONN=main-rsa-nofrag IKW_SW_CHILD=main-rsa-nofrag \
                IKW_SW_IKE_PROPOSALS="aes128-sha256-modp2048,$IKW_V1_MAIN_IKE" \
                IKW_SW_ESP_PROPOSALS="$IKW_V1_MAIN_ESP" IKW_SW_FRAGMENTATION=no \
                IKW_SW_LOCAL_ADDRS="$(ikw_v1_case_addr main-rsa-nofrag)" \
                IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=v1-srv-rsa.crt IKW_SW_SEND_CERT=always \
                IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=v1-root-rsa.crt \
                IKW_SW_SEND_CERTREQ=yes \
                _ikw_sw_conn_block "IKEv1 main-rsa-nofrag: main-rsa without IKEv1 fragmentation" \
                %any "pools = v1pool" srv.ikeway.test cli.ikeway.test \
                "$IKW_PROT_NET" dynamic ""
        fi
        echo "}"
        _ikw_v1_pool
        echo "secrets {"
        echo "    ike-group {"
        echo "        id-1 = keyid:$IKW_V1_GROUP"
        echo "        secret = \"$IKW_V1_PSK\""
        echo "    }"
        echo "    xauth-alice {"
        echo "        id = $IKW_V1_USER"
        echo "        secret = \"$IKW_V1_PASSWORD\""
        echo "    }"
        echo "}"
    } >"$dir/swanctl.conf"
}

ikw_v1_sw_initiator() { # DIR [CASES...]
    local dir="$1" name server want=" ${*:2} "
    ikw_sw_creds "$dir" x509 cli-ec
    ikw_sw_creds "$dir" private cli-ec
    ikw_sw_creds "$dir" x509ca root-ec
    {
        echo "connections {"
        while read -r name server; do
            [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue
            local addr
            addr="$(ikw_v1_case_addr "$server")"
            case "$server" in
            aggr-psk)
                # The case's own group secret and XAUTH user are bound to its own IDs below.
                IKW_SW_VERSION=1 IKW_SW_AGGRESSIVE=yes IKW_SW_CONN="$name" IKW_SW_CHILD="$name" \
                    IKW_SW_DPD_DELAY="${IKW_V1_DPD_DELAY:-30s}" \
                    IKW_SW_IKE_PROPOSALS="${IKW_V1_AGGR_IKE%%,*}" \
                    IKW_SW_ESP_PROPOSALS="${IKW_V1_AGGR_ESP%%,*}" \
                    IKW_SW_LOCAL2_AUTH=xauth IKW_SW_LOCAL2_XAUTH_ID="$IKW_V1_USER" \
                    _ikw_sw_conn_block "IKEv1 $name -> aggr-psk" "$addr" "vips = 0.0.0.0" \
                    "keyid:$IKW_V1_GROUP" "$addr" dynamic "$IKW_PROT_NET" \
                    "start_action = none"
                ;;
            main-cert)
                IKW_SW_VERSION=1 IKW_SW_CONN="$name" IKW_SW_CHILD="$name" \
                    IKW_SW_IKE_PROPOSALS="${IKW_V1_MAIN_IKE%%,*}" \
                    IKW_SW_ESP_PROPOSALS="${IKW_V1_MAIN_ESP%%,*}" \
                    IKW_SW_LOCAL_AUTH=pubkey IKW_SW_LOCAL_CERTS=cli-ec.crt IKW_SW_SEND_CERT=always \
                    IKW_SW_REMOTE_AUTH=pubkey IKW_SW_REMOTE_CACERTS=root-ec.crt \
                    IKW_SW_SEND_CERTREQ=yes \
                    _ikw_sw_conn_block "IKEv1 $name -> main-cert" "$addr" "vips = 0.0.0.0" \
                    cli.ikeway.test srv.ikeway.test dynamic "$IKW_PROT_NET" "start_action = none"
                ;;
            esac
        done < <(ikw_v1_client_cases)
        echo "}"
        # The group secret and the XAUTH password of the last aggr-psk case named: strongSwan
        # picks a secret by ID, and the cases share the group name and the user (their secrets
        # differ), so the failing cases are loaded one at a time. The section names stay the
        # same, so a reload (swanctl --load-creds) replaces them.
        local psk="" pw=""
        while read -r name server; do
            [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue
            [ "$server" = aggr-psk ] || continue
            psk="$(_ikw_v1_psk "$name")" pw="$(_ikw_v1_password "$name")"
        done < <(ikw_v1_client_cases)
        echo "secrets {"
        if [ -n "$psk" ]; then
            echo "    ike-group {"
            echo "        id-1 = keyid:$IKW_V1_GROUP"
            echo "        secret = \"$psk\""
            echo "    }"
            echo "    xauth-user {"
            echo "        id = $IKW_V1_USER"
            echo "        secret = \"$pw\""
            echo "    }"
        fi
        echo "}"
    } >"$dir/swanctl.conf"
}

# The initiator's secrets per case: badpsk presents the group with a wrong secret, badpw the
# user with a wrong password.
_ikw_v1_psk() { # CASE
    case "$1" in v1-aggr-badpsk) echo "$IKW_V1_WRONG_PSK" ;; *) echo "$IKW_V1_PSK" ;; esac
}
_ikw_v1_password() { # CASE
    case "$1" in v1-aggr-badpw) echo "$IKW_V1_WRONG_PASSWORD" ;; *) echo "$IKW_V1_PASSWORD" ;; esac
}

# Phase 1 keys of every IKE SA in a charon log written at level 4 ("ike = 4"): OUT_PREFIX.keys
# gets one line per IKE SA, "name=... icookie=... rcookie=... skeyid=... skeyid_d=...
# skeyid_a=... skeyid_e=... enc_key=... iv=..." (hex, as charon printed them), and
# OUT_PREFIX.ikev1_decryption_table the "icookie,enc_key" lines Wireshark's
# ikev1_decryption_table UAT takes.
ikw_v1_keys() { # LOG OUT_PREFIX
    python3 "$IKW_TESTBEDS_DIR/lib/ikev1_keys.py" "$1" "$2"
}
