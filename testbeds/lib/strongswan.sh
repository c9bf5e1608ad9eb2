# shellcheck shell=bash
# strongSwan (charon-systemd 5.9.8 + swanctl) as an interop peer inside a namespace.
# Source lib/netns.sh first, then this file.
#
# Each instance lives in its own directory DIR (the handle passed to every function):
#   DIR/strongswan.conf   written by ikw_sw_start unless it already exists
#   DIR/swanctl.conf      written by ikw_sw_conf_responder / ikw_sw_conf_initiator (or by you)
#   DIR/charon.vici       the instance's own vici socket
#   DIR/charon.log        charon's filelog (IKE level 2, ms timestamps); DIR/charon.out stdout/err
#   DIR/charon.pid DIR/ns PID and namespace of the running charon
#   DIR/x509 DIR/x509ca DIR/private ...  swanctl credential folders (SWANCTL_DIR=DIR)
#
# Functions:
#   ikw_sw_start ROLE DIR [TIMEOUT_S=10]  start charon-systemd in ROLE's namespace (cli|srv|nat|
#                                 prot or a namespace name), wait until vici answers
#   ikw_sw_conf_responder DIR     write DIR/swanctl.conf: responder (PSK unless the auth env
#                                 below says otherwise)
#   ikw_sw_conf_initiator DIR     write DIR/swanctl.conf: initiator (likewise)
#   ikw_sw_conn_responder / ikw_sw_conn_initiator
#                                 print one connection block of those templates (no
#                                 `connections { }` around it), for files with several
#                                 connections (set IKW_SW_CONN and what differs around each call)
#   ikw_sw_creds DIR KIND NAME... copy $IKW_PKI_DIR/NAME.crt, .key or .crl (lib/pki.sh) into
#                                 DIR/KIND: x509 (own certificates), x509ca, private, x509crl
#   ikw_sw_load DIR [FILE]        swanctl --load-all --file FILE (default DIR/swanctl.conf)
#   ikw_swanctl DIR ARGS...       swanctl ARGS... against this instance (SUBCOMMAND first)
#   ikw_sw_initiate DIR [CHILD=net] [IKE=ikw] [TIMEOUT_S=15]
#                                 swanctl --initiate; sets IKW_SW_INITIATE_MS (wall time of the
#                                 call, i.e. until the child is up or failed); returns its status
#   ikw_sw_list_sas DIR [ARGS...] swanctl --list-sas ARGS (e.g. --raw, --ike ikw)
#   ikw_sw_established DIR [IKE=ikw] [CHILD=net]
#                                 0 if the IKE SA is ESTABLISHED and (unless CHILD is "-") the
#                                 child SA INSTALLED
#   ikw_sw_wait_established DIR TIMEOUT_S [IKE] [CHILD]   poll ikw_sw_established
#   ikw_sw_stop DIR               SIGTERM charon (KILL after 3 s)
#
# Environment for strongswan.conf (read by ikw_sw_start):
#   IKW_SW_PLUGINS      the explicit `load` list (default IKW_SW_DEFAULT_PLUGINS below)
#   IKW_SW_EXTRA_CONF   text appended inside the `charon { }` section
#   IKW_SW_LOGLEVEL     filelog level for ike/cfg/net/enc... (default 2; "default" stays 1)
#   IKW_SW_RETRANSMIT_TRIES  retransmit_tries (default 3: resends 2, 5.6 and 12.1 s after
#                       the first send, gives up at 23.7 s; retransmit_timeout is 2 s)
#
# Environment for the swanctl.conf templates (defaults in brackets):
#   IKW_SW_CONN [ikw]  IKW_SW_CHILD [net]
#   IKW_SW_LOCAL_ADDRS [%any]  IKW_SW_REMOTE_ADDRS [responder: %any; initiator: $IKW_SRV_ADDR]
#   IKW_SW_LOCAL_ID / IKW_SW_REMOTE_ID [responder: srv.ikeway.test / %any;
#                                       initiator: cli.ikeway.test / srv.ikeway.test]
#   IKW_SW_PSK [ikeway-testbed-psk-0123456789]
#   IKW_SW_IKE_PROPOSALS  [IKW_SW_DEFAULT_IKE_PROPOSALS]
#   IKW_SW_ESP_PROPOSALS  [IKW_SW_DEFAULT_ESP_PROPOSALS]
#   IKW_SW_LOCAL_TS  [responder: $IKW_PROT_NET,$IKW_PROT_NET6; initiator: dynamic]
#   IKW_SW_REMOTE_TS [responder: dynamic; initiator: $IKW_PROT_NET,$IKW_PROT_NET6]
#   IKW_SW_POOL4 [10.88.0.0/24]  IKW_SW_POOL6 [fd88::/120]  IKW_SW_DNS [10.77.0.53,fd77::53]
#                                (responder; IKW_SW_POOL4/6="" drops that pool)
#   IKW_SW_DNS_DOMAIN []         (responder: INTERNAL_DNS_DOMAIN sent with pool4's addresses)
#   IKW_SW_VIPS [0.0.0.0,::]     (initiator: virtual IPs requested; "" requests none)
#   IKW_SW_DPD_DELAY [30s]  IKW_SW_DPD_ACTION [clear]
#   IKW_SW_IKE_REKEY [4h]  IKW_SW_CHILD_REKEY [1h]  IKW_SW_MOBIKE [no]  IKW_SW_ENCAP [no]
#   IKW_SW_IKE_OVER, IKW_SW_IKE_RAND (over_time / rand_time; strongSwan's defaults if unset)
#   IKW_SW_VERSION [2]  IKW_SW_START_ACTION [none] (initiator)
#   IKW_SW_AGGRESSIVE [] (IKEv1: "yes" for Aggressive Mode; written only when set)
#   IKW_SW_FRAGMENTATION [yes] (IKE fragmentation: RFC 7383 for IKEv2, the FRAGMENTATION vendor ID
#                        for IKEv1; "no" neither announces nor sends fragments)
#   Authentication (per round; certificate files are names in DIR/x509 and DIR/x509ca):
#   IKW_SW_LOCAL_AUTH [psk] (or pubkey, eap-mschapv2 ...)  IKW_SW_LOCAL_CERTS [] (comma-separated)
#   IKW_SW_REMOTE_AUTH [psk] (or pubkey, eap-...)  IKW_SW_REMOTE_CACERTS [] (comma-separated anchors)
#   IKW_SW_LOCAL_EAP_ID [] (the EAP identity an EAP client uses)
#   IKW_SW_REMOTE_EAP_ID [] (an EAP server: %any asks the client for it with EAP-Identity)
#   IKW_SW_LOCAL2_AUTH / IKW_SW_REMOTE2_AUTH [] a second round (RFC 4739: local-2 / remote-2,
#   e.g. eap-mschapv2 after pubkey), with IKW_SW_LOCAL2_EAP_ID / IKW_SW_REMOTE2_EAP_ID
#   (IKEv1 XAUTH: IKW_SW_LOCAL2_AUTH=xauth with IKW_SW_LOCAL2_XAUTH_ID, the user name;
#   IKW_SW_REMOTE2_AUTH=xauth-generic with IKW_SW_REMOTE2_ID=- : no `id`, any XAUTH user; the
#   second round's ID is otherwise the first round's)
#   IKW_SW_REVOCATION [] (remote: strict|ifuri|relaxed)
#   IKW_SW_SEND_CERTREQ [no]  IKW_SW_SEND_CERT [ifasked] (or always|never)

# Loaded in this order. kernel-libipsec must precede kernel-netlink: the first IPsec backend
# wins, and the kernel here has no ESP. kernel-netlink must not be critical ("!"): its
# kernel-ipsec feature fails to load once libipsec has claimed it (it still does routes,
# addresses and interfaces), and a critical failure makes charon exit. Never load resolve (it would rewrite the host's
# /etc/resolv.conf from inside the namespace), farp or dhcp.
IKW_SW_DEFAULT_PLUGINS="random nonce openssl gcm aes sha1 sha2 hmac md5 xcbc cmac ctr ccm curve25519 gmp chapoly x509 pubkey pkcs1 pkcs7 pkcs8 pkcs12 pem revocation constraints kdf eap-identity eap-mschapv2 eap-md5 eap-tls xauth-generic kernel-libipsec! kernel-netlink socket-default! vici! counters"

IKW_SW_DEFAULT_IKE_PROPOSALS="aes128gcm16-aes256gcm16-prfsha256-prfsha384-prfsha512-x25519-ecp256-ecp384-modp2048-modp3072-modp4096,aes256-sha256-prfsha256-prfsha384-prfsha512-x25519-ecp256-ecp384-modp2048-modp3072-modp4096"
IKW_SW_DEFAULT_ESP_PROPOSALS="aes128gcm16-aes256gcm16-chacha20poly1305-noesn-esn"

IKW_SW_DEFAULT_PSK="ikeway-testbed-psk-0123456789"

_ikw_sw_uri() { echo "unix://$1/charon.vici"; }

ikw_swanctl() { # DIR ARGS...  (swanctl talks to the unix socket; no namespace needed)
    local dir="$1"; shift
    local sub="$1"; shift
    SWANCTL_DIR="$dir" STRONGSWAN_CONF="$dir/strongswan.conf" \
        swanctl "$sub" "$@" --uri "$(_ikw_sw_uri "$dir")"
}

_ikw_sw_write_strongswan_conf() { # DIR
    local dir="$1"
    local lvl="${IKW_SW_LOGLEVEL:-2}"
    cat >"$dir/strongswan.conf" <<EOF
# Written by testbeds/lib/strongswan.sh. charon-systemd reads "charon-systemd", falling back
# to "charon".
charon {
    load = ${IKW_SW_PLUGINS:-$IKW_SW_DEFAULT_PLUGINS}
    load_modular = no
    port = 500
    port_nat_t = 4500
    install_routes = yes
    install_virtual_ip = yes
    retransmit_timeout = 2.0
    retransmit_tries = ${IKW_SW_RETRANSMIT_TRIES:-3}
    plugins {
        vici {
            socket = $(_ikw_sw_uri "$dir")
        }
    }
    journal {
        default = -1
    }
    syslog {
        daemon {
            default = -1
        }
        auth {
            default = -1
        }
    }
    filelog {
        ikw {
            path = $dir/charon.log
            append = no
            flush_line = yes
            time_format = %H:%M:%S
            time_add_ms = yes
            ike_name = yes
            default = 1
            ike = $lvl
            cfg = $lvl
            chd = $lvl
            net = $lvl
            enc = 1
            esp = $lvl
            knl = $lvl
            tls = $lvl
        }
    }
${IKW_SW_EXTRA_CONF:-}
}
swanctl {
    load = pem pkcs1 pkcs8 pkcs12 x509 openssl random nonce pubkey revocation constraints sha1 sha2 hmac aes gcm curve25519 gmp
}
EOF
}

ikw_sw_start() { # ROLE DIR [TIMEOUT_S]
    local role="$1" dir="$2" timeout="${3:-10}" ns
    ns="$(ikw_ns "$role")"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local d
    for d in x509 x509ca x509aa x509ocsp x509crl x509ac private rsa ecdsa bliss pkcs8 pkcs12 pubkey; do
        mkdir -p "$dir/$d"
    done
    [ -f "$dir/strongswan.conf" ] || _ikw_sw_write_strongswan_conf "$dir"
    rm -f "$dir/charon.vici"
    echo "$ns" >"$dir/ns"
    ip netns exec "$ns" env STRONGSWAN_CONF="$dir/strongswan.conf" charon-systemd \
        </dev/null >"$dir/charon.out" 2>&1 &
    echo $! >"$dir/charon.pid"
    [ -n "${IKW_WORKDIR:-}" ] && echo "$! $ns charon-systemd $dir" >>"$IKW_WORKDIR/pids"
    if ! ikw_wait_for "$timeout" _ikw_sw_ready "$dir"; then
        ikw_log "charon in $ns did not answer on $(_ikw_sw_uri "$dir") within ${timeout}s"
        tail -n 20 "$dir/charon.out" "$dir/charon.log" >&2 2>/dev/null
        return 1
    fi
    if ! kill -0 "$(cat "$dir/charon.pid")" 2>/dev/null; then
        ikw_log "charon in $ns exited"; return 1
    fi
    ikw_log "charon-systemd up in $ns (pid $(cat "$dir/charon.pid"), $dir)"
}

_ikw_sw_ready() { # DIR: 0 when vici answers; 255 (stop polling) if charon died
    kill -0 "$(cat "$1/charon.pid")" 2>/dev/null || return 255
    ikw_swanctl "$1" --stats
}

ikw_sw_load() { # DIR [FILE]
    local dir="$1" file="${2:-$1/swanctl.conf}"
    ikw_swanctl "$dir" --load-all --noprompt --file "$file"
}

ikw_sw_initiate() { # DIR [CHILD] [IKE] [TIMEOUT_S]
    local dir="$1" child="${2:-net}" ike="${3:-ikw}" timeout="${4:-15}" t0 rc=0
    t0="$(ikw_now_ms)"
    if [ "$child" = - ]; then
        ikw_swanctl "$dir" --initiate --ike "$ike" --timeout "$timeout" || rc=$?
    else
        ikw_swanctl "$dir" --initiate --child "$child" --ike "$ike" --timeout "$timeout" || rc=$?
    fi
    IKW_SW_INITIATE_MS=$(( $(ikw_now_ms) - t0 ))
    export IKW_SW_INITIATE_MS
    return "$rc"
}

ikw_sw_list_sas() { # DIR [ARGS...]
    local dir="$1"; shift
    ikw_swanctl "$dir" --list-sas "$@"
}

ikw_sw_established() { # DIR [IKE] [CHILD]
    local dir="$1" ike="${2:-ikw}" child="${3:-net}" out
    out="$(ikw_swanctl "$dir" --list-sas --ike "$ike" --raw 2>/dev/null)" || return 1
    echo "$out" | grep -q 'state=ESTABLISHED' || return 1
    [ "$child" = - ] && return 0
    echo "$out" | grep -qE "name=${child} [^}]*state=INSTALLED"
}

ikw_sw_wait_established() { # DIR TIMEOUT_S [IKE] [CHILD]
    ikw_wait_for "$2" ikw_sw_established "$1" "${3:-ikw}" "${4:-net}"
}

ikw_sw_stop() { # DIR
    local dir="$1" pid
    [ -f "$dir/charon.pid" ] || return 0
    pid="$(cat "$dir/charon.pid")"
    kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/charon.pid"; return 0; }
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/charon.pid"
}

# ---- credentials -----------------------------------------------------------------------

ikw_sw_creds() { # DIR KIND NAME...  copy $IKW_PKI_DIR/NAME.{crt,key,crl} into DIR/KIND
    local dir="$1" kind="$2" name ext
    shift 2
    case "$kind" in
    x509 | x509ca) ext=crt ;;
    private) ext=key ;;
    x509crl) ext=crl ;;
    *) ikw_die "ikw_sw_creds: unknown folder '$kind'" ;;
    esac
    mkdir -p "$dir/$kind"
    for name in "$@"; do
        cp "$IKW_PKI_DIR/$name.$ext" "$dir/$kind/$name.$ext" || ikw_die "ikw_sw_creds: no $name.$ext"
    done
}

# ---- swanctl.conf templates ------------------------------------------------------------

_ikw_sw_secrets() { # LOCAL_ID REMOTE_ID PSK
    echo "secrets {"
    echo "    ike-ikw {"
    echo "        id-1 = $1"
    [ "$2" != "%any" ] && echo "        id-2 = $2"
    echo "        secret = \"$3\""
    echo "    }"
    echo "}"
}

# One `local` or `remote` round: ROUND AUTH ID CERTS CACERTS [EAP_ID [XAUTH_ID]] (ID "-": none;
# CERTS/CACERTS:
# comma-separated file names in DIR/x509 / DIR/x509ca; CERTS, CACERTS, EAP_ID and XAUTH_ID are
# written only when non-empty).
_ikw_sw_auth_round() {
    echo "        $1 {"
    echo "            auth = $2"
    if [ "$3" != - ]; then echo "            id = $3"; fi
    if [ -n "$4" ]; then echo "            certs = $4"; fi
    if [ -n "$5" ]; then echo "            cacerts = $5"; fi
    if [ -n "${6:-}" ]; then echo "            eap_id = $6"; fi
    if [ -n "${7:-}" ]; then echo "            xauth_id = $7"; fi
    if [ "$1" = remote ] && [ -n "${IKW_SW_REVOCATION:-}" ]; then
        echo "            revocation = $IKW_SW_REVOCATION"
    fi
    echo "        }"
}

# One named connection (no `connections { }` around it), shared by both templates:
# TITLE REMOTE_ADDRS CONN_EXTRA LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS CHILD_EXTRA
# (the *_EXTRA lines are written only when non-empty).
_ikw_sw_conn_block() {
    local title="$1" remote_addrs="$2" conn_extra="$3" lid="$4" rid="$5"
    local local_ts="$6" remote_ts="$7" child_extra="$8"
    local conn="${IKW_SW_CONN:-ikw}" child="${IKW_SW_CHILD:-net}"
    cat <<CONN
    # $title, written by testbeds/lib/strongswan.sh
    $conn {
        version = ${IKW_SW_VERSION:-2}
        local_addrs = ${IKW_SW_LOCAL_ADDRS:-%any}
        remote_addrs = $remote_addrs
        proposals = ${IKW_SW_IKE_PROPOSALS:-$IKW_SW_DEFAULT_IKE_PROPOSALS}
        mobike = ${IKW_SW_MOBIKE:-no}
        encap = ${IKW_SW_ENCAP:-no}
        fragmentation = ${IKW_SW_FRAGMENTATION:-yes}
        send_certreq = ${IKW_SW_SEND_CERTREQ:-no}
        send_cert = ${IKW_SW_SEND_CERT:-ifasked}
        dpd_delay = ${IKW_SW_DPD_DELAY:-30s}
        rekey_time = ${IKW_SW_IKE_REKEY:-4h}
CONN
    if [ -n "${IKW_SW_IKE_OVER:-}" ]; then echo "        over_time = $IKW_SW_IKE_OVER"; fi
    if [ -n "${IKW_SW_IKE_RAND:-}" ]; then echo "        rand_time = $IKW_SW_IKE_RAND"; fi
    if [ -n "${IKW_SW_AGGRESSIVE:-}" ]; then echo "        aggressive = $IKW_SW_AGGRESSIVE"; fi
    if [ -n "$conn_extra" ]; then echo "        $conn_extra"; fi
    _ikw_sw_auth_round local "${IKW_SW_LOCAL_AUTH:-psk}" "$lid" "${IKW_SW_LOCAL_CERTS:-}" "" \
        "${IKW_SW_LOCAL_EAP_ID:-}"
    _ikw_sw_auth_round remote "${IKW_SW_REMOTE_AUTH:-psk}" "$rid" "" "${IKW_SW_REMOTE_CACERTS:-}" \
        "${IKW_SW_REMOTE_EAP_ID:-}"
    # A second round (RFC 4739), EAP after the first: same identity.
    if [ -n "${IKW_SW_LOCAL2_AUTH:-}" ]; then
        _ikw_sw_auth_round local-2 "$IKW_SW_LOCAL2_AUTH" "$lid" "" "" "${IKW_SW_LOCAL2_EAP_ID:-}" \
            "${IKW_SW_LOCAL2_XAUTH_ID:-}"
    fi
    if [ -n "${IKW_SW_REMOTE2_AUTH:-}" ]; then
        _ikw_sw_auth_round remote-2 "$IKW_SW_REMOTE2_AUTH" "${IKW_SW_REMOTE2_ID:-$rid}" "" "" "${IKW_SW_REMOTE2_EAP_ID:-}"
    fi
    cat <<CONN
        children {
            $child {
                local_ts = $local_ts
                remote_ts = $remote_ts
                esp_proposals = ${IKW_SW_ESP_PROPOSALS:-$IKW_SW_DEFAULT_ESP_PROPOSALS}
                rekey_time = ${IKW_SW_CHILD_REKEY:-1h}
                dpd_action = ${IKW_SW_DPD_ACTION:-clear}
CONN
    if [ -n "$child_extra" ]; then echo "                $child_extra"; fi
    cat <<CONN
            }
        }
    }
CONN
}

# The responder's pools section, from IKW_SW_POOL4 / IKW_SW_POOL6 / IKW_SW_DNS; with "names",
# only their names (for `pools = ...`).
_ikw_sw_pools() { # [names]
    local pool4="${IKW_SW_POOL4-10.88.0.0/24}" pool6="${IKW_SW_POOL6-fd88::/120}"
    local dns="${IKW_SW_DNS-10.77.0.53,fd77::53}"
    if [ "${1:-}" = names ]; then
        local pools=""
        [ -n "$pool4" ] && pools="pool4"
        [ -n "$pool6" ] && pools="${pools:+$pools,}pool6"
        echo "$pools"
        return
    fi
    local p4dns="" p6dns="" d
    for d in ${dns//,/ }; do
        case "$d" in *:*) p6dns="${p6dns:+$p6dns,}$d" ;; *) p4dns="${p4dns:+$p4dns,}$d" ;; esac
    done
    echo "pools {"
    if [ -n "$pool4" ]; then
        echo "    pool4 {"
        echo "        addrs = $pool4"
        [ -n "$p4dns" ] && echo "        dns = $p4dns"
        # INTERNAL_DNS_DOMAIN (25, RFC 8598) as a custom attribute: strongSwan sends the string.
        [ -n "${IKW_SW_DNS_DOMAIN:-}" ] && echo "        25 = $IKW_SW_DNS_DOMAIN"
        echo "    }"
    fi
    if [ -n "$pool6" ]; then
        echo "    pool6 {"
        echo "        addrs = $pool6"
        [ -n "$p6dns" ] && echo "        dns = $p6dns"
        echo "    }"
    fi
    echo "}"
}

# One responder connection (what ikw_sw_conf_responder writes inside `connections { }`), for
# files with several: set IKW_SW_CONN and what differs per connection around each call.
ikw_sw_conn_responder() {
    local pools
    pools="$(_ikw_sw_pools names)"
    _ikw_sw_conn_block "responder ${IKW_SW_CONN:-ikw} (ikw_sw_conn_responder)" \
        "${IKW_SW_REMOTE_ADDRS:-%any}" "${pools:+pools = $pools}" \
        "${IKW_SW_LOCAL_ID:-srv.ikeway.test}" "${IKW_SW_REMOTE_ID:-%any}" \
        "${IKW_SW_LOCAL_TS:-$IKW_PROT_NET,$IKW_PROT_NET6}" "${IKW_SW_REMOTE_TS:-dynamic}" ""
}

# One initiator connection (what ikw_sw_conf_initiator writes inside `connections { }`).
ikw_sw_conn_initiator() {
    local vips="${IKW_SW_VIPS-0.0.0.0,::}"
    _ikw_sw_conn_block "initiator ${IKW_SW_CONN:-ikw} (ikw_sw_conn_initiator)" \
        "${IKW_SW_REMOTE_ADDRS:-$IKW_SRV_ADDR}" "${vips:+vips = $vips}" \
        "${IKW_SW_LOCAL_ID:-cli.ikeway.test}" "${IKW_SW_REMOTE_ID:-srv.ikeway.test}" \
        "${IKW_SW_LOCAL_TS:-dynamic}" "${IKW_SW_REMOTE_TS:-$IKW_PROT_NET,$IKW_PROT_NET6}" \
        "start_action = ${IKW_SW_START_ACTION:-none}"
}

ikw_sw_conf_responder() { # DIR
    local dir="$1"
    local lid="${IKW_SW_LOCAL_ID:-srv.ikeway.test}" rid="${IKW_SW_REMOTE_ID:-%any}"
    mkdir -p "$dir"
    {
        echo "connections {"
        ikw_sw_conn_responder
        echo "}"
        _ikw_sw_pools
        _ikw_sw_secrets "$lid" "$rid" "${IKW_SW_PSK:-$IKW_SW_DEFAULT_PSK}"
    } >"$dir/swanctl.conf"
}

ikw_sw_conf_initiator() { # DIR
    local dir="$1"
    local lid="${IKW_SW_LOCAL_ID:-cli.ikeway.test}" rid="${IKW_SW_REMOTE_ID:-srv.ikeway.test}"
    mkdir -p "$dir"
    {
        echo "connections {"
        ikw_sw_conn_initiator
        echo "}"
        _ikw_sw_secrets "$lid" "$rid" "${IKW_SW_PSK:-$IKW_SW_DEFAULT_PSK}"
    } >"$dir/swanctl.conf"
}
