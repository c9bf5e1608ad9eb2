# shellcheck shell=bash
# libreswan 4.10 (pluto), unpacked by install-peers.sh into testbeds/.peers/libreswan, as an
# interop peer inside a namespace. Source lib/netns.sh first, then this file.
#
# libreswan conflicts with strongSwan as a Debian package, so it is never installed: pluto runs
# from the unpacked tree. pluto execs /usr/libexec/ipsec/addconn (a compiled-in path) to load
# the connections; each pluto gets a private mount namespace (unshare -m inside
# `ip netns exec`) where a read-only overlay puts the unpacked usr/libexec over /usr/libexec.
# The host's /usr/libexec is never touched.
#
# Without kernel ESP (no CONFIG_INET_ESP here) pluto completes IKE_SA_INIT and IKE_AUTH but
# cannot install the child: it answers IKE_AUTH with N(TS_UNACCEPTABLE) and no CP. Test only
# the IKE side against it.
#
# Instance directory DIR (the handle):
#   DIR/ipsec.conf DIR/ipsec.secrets   written by ikw_ls_conf_responder (or by you)
#   DIR/nss/                           NSS db (certutil -N --empty-password)
#   DIR/run/pluto.ctl                  whack control socket
#   DIR/pluto.log                      pluto's log; DIR/pluto.out its stdout/stderr
#   DIR/pluto.pid DIR/ns
#
# Functions:
#   ikw_ls_config_setup DIR DEBUG UNIQUEIDS  print the `config setup` section (log in DIR)
#   ikw_ls_conf_responder DIR      write ipsec.conf + ipsec.secrets: PSK responder (env below)
#   ikw_ls_start ROLE DIR [TIMEOUT_S=10]  start pluto in ROLE's namespace, wait for whack,
#                                  (connections with auto=add are loaded by pluto via addconn)
#   ikw_whack DIR ARGS...          run whack against this pluto (e.g. --status, --showstates,
#                                  --trafficstatus, --listen)
#   ikw_ls_addconn DIR NAME        (re)load connection NAME from DIR/ipsec.conf
#   ikw_ls_established DIR [CONN=ikw]  0 once an IKE SA of CONN is established
#   ikw_ls_stop DIR                whack --shutdown, then SIGTERM/SIGKILL
#
# Environment (defaults in brackets):
#   IKW_LS_ROOT          [$IKW_TESTBEDS_DIR/.peers/libreswan]
#   IKW_LS_CONN          [ikw]
#   IKW_LS_LOCAL_ADDR    [$IKW_SRV_ADDR]       IKW_LS_REMOTE_ADDR [%any]
#   IKW_LS_LOCAL_ID      [@srv.ikeway.test]    IKW_LS_REMOTE_ID   [@cli.ikeway.test]
#   IKW_LS_PSK           [ikeway-testbed-psk-0123456789]
#   IKW_LS_LOCAL_SUBNET  [$IKW_PROT_NET]       IKW_LS_REMOTE_SUBNET [unset: the peer's address]
#   IKW_LS_IKE           [aes_gcm128-sha2_256;dh31+dh19+dh20+modp2048,aes_gcm256-sha2_512;dh31
#                         +dh19+dh20+modp2048,aes256-sha2_256;dh31+dh19+dh20+modp2048;
#                         "" = pluto's defaults]
#   IKW_LS_ESP           [aes_gcm128,aes_gcm256,chacha20_poly1305]
#   IKW_LS_POOL          [10.88.0.1-10.88.0.254; "" = no address pool/CP]
#   IKW_LS_DNS           [10.77.0.53]
#   IKW_LS_DPD_DELAY     [30]                  IKW_LS_DEBUG [none] (plutodebug, e.g. "all")
#   IKW_LS_EXTRA         [] lines appended to the conn section

IKW_LS_DEFAULT_PSK="ikeway-testbed-psk-0123456789"

_ikw_ls_root() { echo "${IKW_LS_ROOT:-$IKW_TESTBEDS_DIR/.peers/libreswan}"; }

ikw_whack() { # DIR ARGS...
    local dir="$1"; shift
    "$(_ikw_ls_root)/usr/libexec/ipsec/whack" --ctlsocket "$dir/run/pluto.ctl" "$@"
}

# The `config setup` section of a pluto whose files are in DIR: its log there (timestamps, not
# appended), the given plutodebug and uniqueids.
ikw_ls_config_setup() { # DIR DEBUG UNIQUEIDS
    cat <<EOF
config setup
    logfile=$1/pluto.log
    logappend=no
    logtime=yes
    plutodebug=$2
    dumpdir=$1/run
    uniqueids=$3
EOF
}

ikw_ls_conf_responder() { # DIR
    local dir="$1"
    local conn="${IKW_LS_CONN:-ikw}"
    local ike="${IKW_LS_IKE-aes_gcm128-sha2_256;dh31+dh19+dh20+modp2048,aes_gcm256-sha2_512;dh31+dh19+dh20+modp2048,aes256-sha2_256;dh31+dh19+dh20+modp2048}"
    local pool="${IKW_LS_POOL-10.88.0.1-10.88.0.254}"
    mkdir -p "$dir"
    {
        echo "# PSK responder, written by testbeds/lib/libreswan.sh (ikw_ls_conf_responder)"
        ikw_ls_config_setup "$dir" "${IKW_LS_DEBUG:-none}" yes
        cat <<EOF

conn $conn
    ikev2=insist
    authby=secret
    type=tunnel
    left=${IKW_LS_LOCAL_ADDR:-$IKW_SRV_ADDR}
    leftid=${IKW_LS_LOCAL_ID:-@srv.ikeway.test}
    leftsubnet=${IKW_LS_LOCAL_SUBNET:-$IKW_PROT_NET}
    right=${IKW_LS_REMOTE_ADDR:-%any}
    rightid=${IKW_LS_REMOTE_ID:-@cli.ikeway.test}
    esp=${IKW_LS_ESP:-aes_gcm128,aes_gcm256,chacha20_poly1305}
    dpddelay=${IKW_LS_DPD_DELAY:-30}
    fragmentation=yes
    auto=add
EOF
        [ -n "$ike" ] && echo "    ike=$ike"
        [ -n "${IKW_LS_REMOTE_SUBNET:-}" ] && echo "    rightsubnet=$IKW_LS_REMOTE_SUBNET"
        if [ -n "$pool" ]; then
            echo "    rightaddresspool=$pool"
            echo "    modecfgdns=${IKW_LS_DNS:-10.77.0.53}"
        fi
        [ -n "${IKW_LS_EXTRA:-}" ] && echo "$IKW_LS_EXTRA"
    } >"$dir/ipsec.conf"
    echo "${IKW_LS_LOCAL_ID:-@srv.ikeway.test} ${IKW_LS_REMOTE_ID:-@cli.ikeway.test} : PSK \"${IKW_LS_PSK:-$IKW_LS_DEFAULT_PSK}\"" \
        >"$dir/ipsec.secrets"
    chmod 600 "$dir/ipsec.secrets"
}

_ikw_ls_ready() { # DIR
    kill -0 "$(cat "$1/pluto.pid")" 2>/dev/null || return 255
    [ -S "$1/run/pluto.ctl" ] && ikw_whack "$1" --status
}

ikw_ls_start() { # ROLE DIR [TIMEOUT_S]
    local role="$1" dir="$2" timeout="${3:-10}" ns root
    ns="$(ikw_ns "$role")"
    root="$(_ikw_ls_root)"
    [ -x "$root/usr/libexec/ipsec/pluto" ] ||
        { ikw_log "pluto not found under $root: run testbeds/install-peers.sh"; return 1; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    mkdir -p "$dir/run" "$dir/nss" "$dir/policies"
    [ -f "$dir/ipsec.conf" ] || ikw_ls_conf_responder "$dir"
    if [ ! -f "$dir/nss/cert9.db" ]; then
        certutil -N -d "sql:$dir/nss" --empty-password >/dev/null ||
            { ikw_log "certutil -N failed for $dir/nss"; return 1; }
    fi
    rm -f "$dir/run/pluto.ctl" "$dir/run/pluto.pid"
    echo "$ns" >"$dir/ns"
    # Private mount namespace: overlay the unpacked libexec over /usr/libexec (read-only,
    # two lower layers, nothing written), then exec pluto in the foreground.
    ip netns exec "$ns" unshare -m --propagation private sh -c '
        root="$1"; shift
        mount -t overlay ikw-libreswan -o "lowerdir=$root/usr/libexec:/usr/libexec" /usr/libexec ||
            mount --bind "$root/usr/libexec" /usr/libexec || exit 97
        exec "$root/usr/libexec/ipsec/pluto" "$@"
    ' sh "$root" \
        --nofork --config "$dir/ipsec.conf" --secretsfile "$dir/ipsec.secrets" \
        --ipsecdir "$dir" --nssdir "$dir/nss" --rundir "$dir/run" --dumpdir "$dir/run" \
        --logfile "$dir/pluto.log" --no-dnssec \
        </dev/null >"$dir/pluto.out" 2>&1 &
    echo $! >"$dir/pluto.pid"
    [ -n "${IKW_WORKDIR:-}" ] && echo "$! $ns pluto $dir" >>"$IKW_WORKDIR/pids"
    if ! ikw_wait_for "$timeout" _ikw_ls_ready "$dir"; then
        ikw_log "pluto in $ns not ready within ${timeout}s"
        tail -n 20 "$dir/pluto.out" "$dir/pluto.log" >&2 2>/dev/null
        return 1
    fi
    # addconn runs asynchronously after startup: wait until the connection is known.
    local conn="${IKW_LS_CONN:-ikw}"
    if ! ikw_wait_for "$timeout" sh -c "'$(_ikw_ls_root)/usr/libexec/ipsec/whack' --ctlsocket '$dir/run/pluto.ctl' --status | grep -q '\"$conn\":'"; then
        ikw_log "pluto in $ns: connection $conn not loaded"
        tail -n 20 "$dir/pluto.log" >&2
        return 1
    fi
    ikw_log "pluto up in $ns (pid $(cat "$dir/pluto.pid"), $dir)"
}

ikw_ls_addconn() { # DIR NAME
    local dir="$1" name="$2"
    ip netns exec "$(cat "$dir/ns")" unshare -m --propagation private sh -c '
        root="$1"; shift
        mount -t overlay ikw-libreswan -o "lowerdir=$root/usr/libexec:/usr/libexec" /usr/libexec ||
            mount --bind "$root/usr/libexec" /usr/libexec || exit 97
        exec "$root/usr/libexec/ipsec/addconn" "$@"
    ' sh "$(_ikw_ls_root)" --ctlsocket "$dir/run/pluto.ctl" --config "$dir/ipsec.conf" "$name"
}

ikw_ls_established() { # DIR [CONN]
    ikw_whack "$1" --showstates 2>/dev/null | grep -E "\"${2:-ikw}\"" | grep -qE 'ESTABLISHED_IKE_SA|established IKE SA'
}

ikw_ls_stop() { # DIR
    local dir="$1" pid
    [ -f "$dir/pluto.pid" ] || return 0
    pid="$(cat "$dir/pluto.pid")"
    ikw_whack "$dir" --shutdown >/dev/null 2>&1 || true
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null && sleep 0.3
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pluto.pid"
}
