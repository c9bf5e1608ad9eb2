# shellcheck shell=bash
# Our Personal VPN client (`ikeway connect` of a saved configuration, as a user runs it) in the
# client namespace, one case at a time, against a strongSwan responder; what each side saw is
# recorded for the Rust test that judges it. Source lib/netns.sh and lib/strongswan.sh first.
#
# Needs, set by the caller: OUT (the output folder), IKEWAY (our binary), CLIENV and RUNPID
# (from ikw_private_run, after writing /etc/netns/$IKW_NS_CLI/resolv.conf).
#
# Functions:
#   ikw_client_case NAME SW_DIR SW_CONN
#       connect the saved configuration NAME (the caller made it, with `config add` or
#       `profile import`), and record: NAME.routes.before/.after, NAME.links.before/.after,
#       NAME.connect.rc/.out, NAME.status.json (right after connect), NAME.ping.rc/.out (when
#       connected: the protected host through the tunnel), NAME.sas (strongSwan's IKE SAs of
#       connection SW_CONN while connected), NAME.disconnect.out, NAME.status.after.json,
#       NAME.end.sas (strongSwan's SAs of SW_CONN at the end: waited for to empty, up to 3 s),
#       NAME.log (the connection's log), NAME.charon.log (what strongSwan logged during the
#       case); then removes the configuration.
#   ikw_client_state NAME WHEN     routes and links of the client namespace (WHEN: before|after)

ikw_client_state() { # NAME WHEN
    ikw_exec cli ip -4 route show >"$OUT/$1.routes.$2"
    ikw_exec cli ip -o link show >"$OUT/$1.links.$2"
}

_ikw_client_no_sa() { # SW_DIR SW_CONN
    ! ikw_sw_list_sas "$1" --ike "$2" --raw 2>/dev/null | grep -q 'list-sa event'
}

ikw_client_case() { # NAME SW_DIR SW_CONN
    local name="$1" sw="$2" conn="$3" rc=0 before
    before="$(wc -l <"$sw/charon.log")"
    ikw_client_state "$name" before
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect "$name" --wait 15 \
        >"$OUT/$name.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/$name.connect.rc"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/$name.status.json" 2>&1 || true
    if [ "$rc" = 0 ]; then
        ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/$name.ping.out" 2>&1 &&
            echo 0 >"$OUT/$name.ping.rc" || echo 1 >"$OUT/$name.ping.rc"
        ikw_sw_list_sas "$sw" --ike "$conn" --raw >"$OUT/$name.sas" 2>&1 || true
        ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/$name.disconnect.out" 2>&1 || true
    fi
    # strongSwan drops an SA when told (AUTHENTICATION_FAILED, EAP-Failure or DELETE): wait for
    # that message to arrive, then record what is left.
    ikw_wait_for 3 _ikw_client_no_sa "$sw" "$conn" || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/$name.status.after.json" 2>&1 || true
    ikw_client_state "$name" after
    ikw_sw_list_sas "$sw" --ike "$conn" --raw >"$OUT/$name.end.sas" 2>&1 || true
    nsenter --target "$RUNPID" --mount -- cat /run/ikeway/connection.log >"$OUT/$name.log" 2>/dev/null || true
    tail -n +"$((before + 1))" "$sw/charon.log" >"$OUT/$name.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove "$name" --yes >/dev/null 2>&1 || true
}
