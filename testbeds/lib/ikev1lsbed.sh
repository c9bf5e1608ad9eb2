# shellcheck shell=bash
# The IKEv1 ("Cisco IPSec") testbed with libreswan 4.10 (pluto, `ikev2=no`) as the gateway: the
# same group, secrets, XAUTH user, banner and domain as lib/ikev1bed.sh's strongSwan gateway,
# so one client configuration meets both. Source lib/netns.sh, lib/libreswan.sh and
# lib/ikev1bed.sh first, then this file.
#
# Server cases: one pluto answers both, each on its own address of the responder's ike0 (a
# client picks a case by the address it connects to). Both: Aggressive Mode with PSK, the
# client's ID the group name as ID_KEY_ID (rightid=@[group]), pluto's its address; XAUTH
# (xauthby=file: user alice in DIR/passwd, a crypt(3) SHA-512 hash); Mode Config pull with an
# address from 10.88.2.1-10.88.2.254 (and netmask 255.255.255.0), DNS, domain and banner.
#
#   case      address     leftsubnet      so
#   ls-aggr   10.99.0.61  0.0.0.0/0       what libreswan documents for Apple's clients, which
#                                         ask quick mode for 0.0.0.0/0; no split include
#   ls-split  10.99.0.62  10.77.0.0/24    Mode Config carries CISCO_SPLIT_INC 10.77.0.0/24;
#                                         pluto refuses a quick mode for 0.0.0.0/0 (it does
#                                         not narrow in IKEv1) with INVALID_ID_INFORMATION, so
#                                         the client must ask for 10.77.0.0/24 itself
#   ls-renew  10.99.0.63  0.0.0.0/0       as ls-aggr, with rekey=yes, ikelifetime=60s,
#                                         rekeymargin=40s, rekeyfuzz=0%: pluto replaces the
#                                         ISAKMP SA it answered by an Aggressive Mode of its
#                                         own toward the client 40 s after it came up (a
#                                         responder's margin is half the configured one)
#
# Proposals: phase 1 AES-256-CBC/SHA2-256/MODP-2048 (IKE group 14; Aggressive Mode carries the
# KE in its first message, so one group), ESP AES-256-CBC + HMAC-SHA2-256 without PFS: Apple's
# IKEv1 defaults. (pluto 4.10 has no MODP-1024 at all: its DH list starts at MODP-1536.)
#
# No kernel ESP here (lib/libreswan.sh): pluto answers a quick mode only after it installed the
# inbound IPsec SA, which fails ("netlink response for Add SA esp...: Protocol not supported",
# "setup_half_ipsec_sa() hit fail"), so it never answers; quick mode cannot complete with it on
# these machines. What pluto proves is phase 1, XAUTH, Mode Config, that it accepts our quick
# mode request up to the kernel, and Delete. pluto schedules IKEv1 DPD only for an IPsec SA
# (ikev1_dpd.c dpd_init), so it never sends R-U-THERE here either.
#
# Functions:
#   ikw_v1ls_server_cases          print "NAME ADDRESS" per server case
#   ikw_v1ls_case_addr CASE        print its address
#   ikw_v1ls_addrs_up              add every case's address to the responder's ike0 (before
#                                  pluto starts: it listens on the addresses it finds then)
#   ikw_v1ls_responder DIR         ipsec.conf, ipsec.secrets and passwd for every case
#   ikw_v1ls_start DIR             start pluto (lib/libreswan.sh) in the responder namespace
#   ikw_v1ls_states DIR CASE       pluto's states of CASE (`whack --showstates` lines)
#
# Env: IKW_V1LS_DEBUG (plutodebug, default none) and lib/ikev1bed.sh's IKW_V1_* values.

IKW_V1LS_POOL="10.88.2.1-10.88.2.254"
IKW_V1LS_IKE="aes256-sha2_256;modp2048"
IKW_V1LS_ESP="aes256-sha2_256"

ikw_v1ls_server_cases() {
    cat <<'CASES'
ls-aggr  10.99.0.61
ls-split 10.99.0.62
ls-renew 10.99.0.63
CASES
}

ikw_v1ls_case_addr() { # CASE
    ikw_v1ls_server_cases | awk -v c="$1" '$1 == c { print $2 }'
}

ikw_v1ls_addrs_up() {
    local name addr
    while read -r name addr; do
        ip -n "$IKW_NS_SRV" addr add "$addr/24" dev ike0
    done < <(ikw_v1ls_server_cases)
}

# A gateway for XAUTH clients with a Mode Config pool: what both cases share.
_ikw_v1ls_gateway() {
    cat <<EOF
    ikev2=no
    aggressive=yes
    authby=secret
    type=tunnel
    leftxauthserver=yes
    leftmodecfgserver=yes
    right=%any
    rightid=@[$IKW_V1_GROUP]
    rightxauthclient=yes
    rightmodecfgclient=yes
    rightaddresspool=$IKW_V1LS_POOL
    modecfgpull=yes
    modecfgdns=$IKW_V1_DNS
    modecfgdomains=$IKW_V1_DOMAIN
    modecfgbanner="$IKW_V1_BANNER"
    xauthby=file
    cisco-unity=yes
    ike=$IKW_V1LS_IKE
    phase2alg=$IKW_V1LS_ESP
    pfs=no
    auto=add
EOF
}

ikw_v1ls_responder() { # DIR
    local dir="$1" name addr hash
    mkdir -p "$dir"
    {
        echo "# IKEv1 gateway, written by testbeds/lib/ikev1lsbed.sh (ikw_v1ls_responder)"
        ikw_ls_config_setup "$dir" "${IKW_V1LS_DEBUG:-none}" no
        cat <<EOF
    # Debian's 4.10 refuses IKEv1 connections unless the global policy accepts them.
    ikev1-policy=accept
EOF
        while read -r name addr; do
            echo
            echo "conn $name"
            echo "    left=$addr"
            case "$name" in
            ls-aggr | ls-renew) echo "    leftsubnet=0.0.0.0/0" ;;
            *) echo "    leftsubnet=$IKW_PROT_NET" ;;
            esac
            case "$name" in
            ls-renew) printf '    %s\n' rekey=yes ikelifetime=60s rekeymargin=40s rekeyfuzz=0% ;;
            *) echo "    rekey=no" ;;
            esac
            _ikw_v1ls_gateway
        done < <(ikw_v1ls_server_cases)
    } >"$dir/ipsec.conf"
    # The group secret bound to pluto's address and the group name (KEY_ID); the XAUTH user
    # per connection (xauthby=file reads IPSECDIR/passwd: "user:crypt(3) hash:connection").
    hash="$(openssl passwd -6 -salt ikewaytestbed "$IKW_V1_PASSWORD")"
    : >"$dir/ipsec.secrets"
    : >"$dir/passwd"
    chmod 600 "$dir/ipsec.secrets" "$dir/passwd"
    while read -r name addr; do
        echo "$addr @[$IKW_V1_GROUP] : PSK \"$IKW_V1_PSK\"" >>"$dir/ipsec.secrets"
        echo "$IKW_V1_USER:$hash:$name" >>"$dir/passwd"
    done < <(ikw_v1ls_server_cases)
}

ikw_v1ls_start() { # DIR
    IKW_LS_CONN=ls-split ikw_ls_start srv "$1"
}

ikw_v1ls_states() { # DIR CASE
    ikw_whack "$1" --showstates 2>/dev/null | grep -F "\"$2\"" || true
}
