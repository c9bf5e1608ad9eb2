# shellcheck shell=bash
# Network-namespace topologies for the interop testbeds. Source this file; don't run it.
#
# Direct topology (ikw_topo_up direct):
#
#   +-------------------+   veth "ike0"   +-------------------+  veth "prot0"  +----------------+
#   | $P-cli  (client)  |-----------------| $P-srv (responder)|----------------| $P-prot        |
#   | 10.99.0.1/24      |                 | 10.99.0.2/24      | 10.77.0.1/24   | 10.77.0.2/24   |
#   | fd99::1/64        |                 | fd99::2/64        | fd77::1/64     | fd77::2/64     |
#   +-------------------+                 +-------------------+  (forwarding)  | (protected     |
#                                                                              |  host; default |
#                                                                              |  route via srv)|
#                                                                              +----------------+
#
# NAT topology (ikw_topo_up nat): the client sits behind $P-nat, which masquerades (nftables)
# everything leaving its outside leg, IPv4 and IPv6:
#
#   +---------------+ veth ike0-in0 +------------------------+ veth out0-ike0+---------------+
#   | $P-cli  ike0  |---------------| $P-nat                 |---------------| $P-srv  ike0  |-- $P-prot
#   | 10.98.0.2/24  |               | in0  10.98.0.1/24      |               | 10.99.0.2/24  |  (as above)
#   | fd98::2/64    |               |      fd98::1/64        |               | fd99::2/64    |
#   | default via   |               | out0 10.99.0.3/24      |               |               |
#   |   10.98.0.1   |               |      fd99::3/64        |               |               |
#   +---------------+               | masquerade oif out0    |               +---------------+
#                                   +------------------------+
#
# $P is the prefix: IKW_PREFIX (default "ikw"; "auto" picks "ikw<pid>"). Interfaces are created
# directly inside their namespaces, so only namespace names need to be unique between parallel
# runs; addresses are the same in every run (each run has its own namespaces).
#
# Functions:
#   ikw_topo_up [direct|nat]   create the topology; sets and exports the IKW_* variables below
#   ikw_topo_down              kill every process in the namespaces, delete them, remove workdir
#   ikw_topo_trap              install an EXIT/INT/TERM trap that calls ikw_topo_down
#   ikw_ns ROLE                print the namespace name of cli|srv|nat|prot
#   ikw_exec ROLE CMD...       run CMD in ROLE's namespace (foreground)
#   ikw_spawn ROLE LOG CMD...  run CMD in ROLE's namespace in the background, stdout+stderr to
#                              LOG; sets IKW_LAST_PID; records the PID for ikw_topo_down
#   ikw_kill_ns ROLE|NSNAME    TERM (then KILL after 3 s) every process in that namespace
#   ikw_wait_for TIMEOUT_S CMD...  poll CMD every 0.1 s until it succeeds; 1 on timeout, or
#                              at once if CMD returns 255 ("stop polling")
#   ikw_now_ms                 monotonic-ish wall clock in milliseconds
#   ikw_private_run            a private /run and resolv.conf for `ikeway connect` as root in
#                              the client namespace: run it as `ikw_exec cli "${CLIENV[@]}" ...`
#
# Variables set by ikw_topo_up (all exported):
#   IKW_PREFIX IKW_TOPO(direct|nat) IKW_WORKDIR (a fresh temp dir, removed by ikw_topo_down
#   unless IKW_KEEP_WORKDIR=1)
#   IKW_NS_CLI IKW_NS_SRV IKW_NS_PROT IKW_NS_NAT(empty on direct)
#   IKW_CLI_ADDR IKW_CLI_ADDR6   the client's own address (10.99.0.1 / 10.98.0.2)
#   IKW_SRV_ADDR IKW_SRV_ADDR6   the responder's address, what the client connects to (10.99.0.2)
#   IKW_CLI_SEEN IKW_CLI_SEEN6   the client's address as the responder sees it (10.99.0.1 or the
#                                NAT's 10.99.0.3)
#   IKW_PROT_NET IKW_PROT_NET6   protected network behind the responder (10.77.0.0/24, fd77::/64)
#   IKW_PROT_ADDR IKW_PROT_ADDR6 the protected host (10.77.0.2, fd77::2)
#   IKW_PROT_GW IKW_PROT_GW6     the responder's leg on the protected net (10.77.0.1, fd77::1)
# Env read by ikw_topo_up: IKW_PREFIX, IKW_NAT_RANDOM=1 (NAT also rewrites source ports:
#   "masquerade fully-random"), IKW_WORKDIR (use this dir instead of a temp dir).
#
# Requires root, iproute2, nftables (for nat).

IKW_TESTBEDS_DIR="${IKW_TESTBEDS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export IKW_TESTBEDS_DIR

ikw_log() { echo "[$(date +%H:%M:%S.%3N)] $*" >&2; }
ikw_die() { ikw_log "FATAL: $*"; exit 1; }

ikw_now_ms() { date +%s%3N; }

ikw_wait_for() { # TIMEOUT_S CMD...
    local timeout="$1"; shift
    local deadline=$(( $(ikw_now_ms) + ${timeout%.*} * 1000 ))
    local rc
    while :; do
        rc=0; "$@" >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 0 ] && return 0
        [ "$rc" -eq 255 ] && return 1 # CMD says: give up
        [ "$(ikw_now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

ikw_ns() { # ROLE
    case "$1" in
        cli) echo "$IKW_NS_CLI" ;;
        srv) echo "$IKW_NS_SRV" ;;
        nat) echo "$IKW_NS_NAT" ;;
        prot) echo "$IKW_NS_PROT" ;;
        *) echo "$1" ;; # already a namespace name
    esac
}

ikw_exec() { # ROLE CMD...
    local ns; ns="$(ikw_ns "$1")"; shift
    ip netns exec "$ns" "$@"
}

ikw_spawn() { # ROLE LOG CMD...
    local ns log; ns="$(ikw_ns "$1")"; log="$2"; shift 2
    ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
    IKW_LAST_PID=$!
    echo "$IKW_LAST_PID $ns $*" >>"$IKW_WORKDIR/pids"
}

_ikw_ns_exists() { [ -e "/run/netns/$1" ]; }

_ikw_ns_add() { # NAME
    ip netns add "$1" || ikw_die "ip netns add $1 failed"
    ip -n "$1" link set lo up
    # No DAD delay: addresses are usable at once.
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

_ikw_veth() { # NS_A IF_A NS_B IF_B
    ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3" ||
        ikw_die "veth $1/$2 <-> $3/$4 failed"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

ikw_topo_up() { # [direct|nat]
    local topo="${1:-direct}"
    case "$topo" in direct|nat) ;; *) ikw_die "ikw_topo_up: unknown topology '$topo'" ;; esac
    [ "$(id -u)" -eq 0 ] || ikw_die "needs root"

    local p="${IKW_PREFIX:-ikw}"
    [ "$p" = auto ] && p="ikw$$"
    export IKW_PREFIX="$p" IKW_TOPO="$topo"
    export IKW_NS_CLI="$p-cli" IKW_NS_SRV="$p-srv" IKW_NS_PROT="$p-prot" IKW_NS_NAT=""
    [ "$topo" = nat ] && IKW_NS_NAT="$p-nat"

    local ns
    for ns in "$IKW_NS_CLI" "$IKW_NS_SRV" "$IKW_NS_PROT" "$p-nat"; do
        if _ikw_ns_exists "$ns"; then
            ikw_die "namespace $ns already exists (another run, or a stale one: clean it with
    testbeds/cleanup.sh $p   — or pick another IKW_PREFIX)"
        fi
    done

    if [ -n "${IKW_WORKDIR:-}" ]; then
        mkdir -p "$IKW_WORKDIR"; IKW_OWN_WORKDIR=0
    else
        IKW_WORKDIR="$(mktemp -d "/tmp/$p.XXXXXX")"; IKW_OWN_WORKDIR=1
    fi
    export IKW_WORKDIR IKW_OWN_WORKDIR
    : >"$IKW_WORKDIR/pids"
    echo "$IKW_NS_CLI $IKW_NS_SRV $IKW_NS_PROT $IKW_NS_NAT" >"$IKW_WORKDIR/namespaces"

    export IKW_SRV_ADDR=10.99.0.2 IKW_SRV_ADDR6=fd99::2
    export IKW_PROT_NET=10.77.0.0/24 IKW_PROT_NET6=fd77::/64
    export IKW_PROT_ADDR=10.77.0.2 IKW_PROT_ADDR6=fd77::2 IKW_PROT_GW=10.77.0.1 IKW_PROT_GW6=fd77::1

    _ikw_ns_add "$IKW_NS_CLI"
    _ikw_ns_add "$IKW_NS_SRV"
    _ikw_ns_add "$IKW_NS_PROT"

    # responder <-> protected host
    _ikw_veth "$IKW_NS_SRV" prot0 "$IKW_NS_PROT" prot0
    ip -n "$IKW_NS_SRV" addr add 10.77.0.1/24 dev prot0
    ip -n "$IKW_NS_SRV" addr add fd77::1/64 dev prot0 nodad
    ip -n "$IKW_NS_PROT" addr add 10.77.0.2/24 dev prot0
    ip -n "$IKW_NS_PROT" addr add fd77::2/64 dev prot0 nodad
    ip -n "$IKW_NS_PROT" route add default via 10.77.0.1
    ip -n "$IKW_NS_PROT" -6 route add default via fd77::1
    ip netns exec "$IKW_NS_SRV" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

    if [ "$topo" = direct ]; then
        _ikw_veth "$IKW_NS_CLI" ike0 "$IKW_NS_SRV" ike0
        ip -n "$IKW_NS_CLI" addr add 10.99.0.1/24 dev ike0
        ip -n "$IKW_NS_CLI" addr add fd99::1/64 dev ike0 nodad
        export IKW_CLI_ADDR=10.99.0.1 IKW_CLI_ADDR6=fd99::1
        export IKW_CLI_SEEN=10.99.0.1 IKW_CLI_SEEN6=fd99::1
    else
        _ikw_ns_add "$IKW_NS_NAT"
        _ikw_veth "$IKW_NS_CLI" ike0 "$IKW_NS_NAT" in0
        _ikw_veth "$IKW_NS_NAT" out0 "$IKW_NS_SRV" ike0
        ip -n "$IKW_NS_CLI" addr add 10.98.0.2/24 dev ike0
        ip -n "$IKW_NS_CLI" addr add fd98::2/64 dev ike0 nodad
        ip -n "$IKW_NS_CLI" route add default via 10.98.0.1
        ip -n "$IKW_NS_CLI" -6 route add default via fd98::1
        ip -n "$IKW_NS_NAT" addr add 10.98.0.1/24 dev in0
        ip -n "$IKW_NS_NAT" addr add fd98::1/64 dev in0 nodad
        ip -n "$IKW_NS_NAT" addr add 10.99.0.3/24 dev out0
        ip -n "$IKW_NS_NAT" addr add fd99::3/64 dev out0 nodad
        ip netns exec "$IKW_NS_NAT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
        local masq="masquerade"
        [ "${IKW_NAT_RANDOM:-0}" = 1 ] && masq="masquerade fully-random"
        ip netns exec "$IKW_NS_NAT" nft -f - <<EOF || ikw_die "nft NAT rules failed"
table inet ikw_nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "out0" $masq
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "in0" oifname "out0" accept
    }
}
EOF
        export IKW_CLI_ADDR=10.98.0.2 IKW_CLI_ADDR6=fd98::2
        export IKW_CLI_SEEN=10.99.0.3 IKW_CLI_SEEN6=fd99::3
    fi
    ip -n "$IKW_NS_SRV" addr add 10.99.0.2/24 dev ike0
    ip -n "$IKW_NS_SRV" addr add fd99::2/64 dev ike0 nodad

    # Sanity: the client reaches the responder.
    ikw_wait_for 3 ip netns exec "$IKW_NS_CLI" ping -c1 -W1 "$IKW_SRV_ADDR" ||
        ikw_die "topology $topo: client cannot ping $IKW_SRV_ADDR"
    ikw_log "topology '$topo' up: prefix $p, workdir $IKW_WORKDIR"
}

# Root keeps a connection's runtime files in /run/ikeway. Each Personal VPN scenario gets its
# own: a mount namespace held by a sleeping process, with a fresh tmpfs over /run and the
# client namespace's resolv.conf (/etc/netns/$IKW_NS_CLI/resolv.conf, which the caller writes
# first) over /etc/resolv.conf, and /etc/netns/$IKW_NS_CLI/hosts over /etc/hosts when the
# caller wrote one, entered (after `ip netns exec`) by the commands in $CLIENV.
# Concurrent scenarios never share one, and the host's /run is untouched. The process is
# recorded for ikw_topo_down; RUNPID is its PID.
ikw_private_run() { # sets CLIENV and RUNPID
    local ready="$IKW_WORKDIR/private-run.ready"
    unshare --mount --propagation private -- bash -c '
        mount -t tmpfs -o mode=0755 tmpfs /run &&
        mount --bind "/etc/netns/$1/resolv.conf" /etc/resolv.conf &&
        { [ ! -e "/etc/netns/$1/hosts" ] || mount --bind "/etc/netns/$1/hosts" /etc/hosts; } &&
        touch "$2" &&
        exec sleep 3600' bash "$IKW_NS_CLI" "$ready" </dev/null >/dev/null 2>&1 &
    RUNPID=$!
    echo "$RUNPID private-run" >>"$IKW_WORKDIR/pids"
    local i
    for i in $(seq 50); do [ -e "$ready" ] && break; sleep 0.1; done
    CLIENV=(nsenter --target "$RUNPID" --mount -- env XDG_CONFIG_HOME="$IKW_WORKDIR/xdg")
}

ikw_kill_ns() { # ROLE|NSNAME
    local ns pids
    ns="$(ikw_ns "$1")"
    [ -n "$ns" ] && _ikw_ns_exists "$ns" || return 0
    pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    [ -n "${pids// /}" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 30); do
        pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
        [ -n "${pids// /}" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
}

ikw_topo_down() {
    local ns p="${IKW_PREFIX:-ikw}"
    local list="${IKW_NS_CLI:-$p-cli} ${IKW_NS_SRV:-$p-srv} ${IKW_NS_PROT:-$p-prot} $p-nat"
    # Processes recorded by ikw_spawn whose ip-netns-exec wrapper is still around.
    local recorded=""
    if [ -n "${IKW_WORKDIR:-}" ] && [ -f "$IKW_WORKDIR/pids" ]; then
        local pid rest
        while read -r pid rest; do
            recorded="$recorded $pid"
            kill -TERM "$pid" 2>/dev/null || true
        done <"$IKW_WORKDIR/pids"
    fi
    for ns in $list; do ikw_kill_ns "$ns"; done
    for ns in $list; do
        _ikw_ns_exists "$ns" && { ip netns del "$ns" 2>/dev/null || ikw_log "could not delete $ns"; }
        # A scenario's resolv.conf for the namespace (ip netns exec shows it as
        # /etc/resolv.conf); gone with the namespace even when the scenario failed half-way.
        rm -rf "/etc/netns/$ns"
    done
    if [ "${IKW_OWN_WORKDIR:-0}" = 1 ] && [ "${IKW_KEEP_WORKDIR:-0}" != 1 ] && [ -d "${IKW_WORKDIR:-}" ]; then
        rm -rf "$IKW_WORKDIR"
    fi
    # Reap our own background children among them (never a bare `wait`: the caller may have
    # other jobs running).
    for pid in $recorded; do wait "$pid" 2>/dev/null || true; done
}

ikw_topo_trap() {
    trap 'rc=$?; trap - EXIT INT TERM; ikw_topo_down; exit $rc' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
