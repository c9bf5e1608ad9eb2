# shellcheck shell=bash
# Steps several beds take the same way, written once. Source lib/netns.sh and lib/strongswan.sh
# first. Every function writes its records under $OUT.
#
# Functions:
#   ikw_sw_psk_responder DIR LOAD_OUT
#       write the strongSwan responder's configuration into DIR (ikw_sw_conf_responder: the
#       caller's IKW_SW_* variables apply), start it in the srv namespace and load it (swanctl's
#       output to LOAD_OUT); the bed dies if charon does not start or the load fails.
#   ikw_client_resolv LINE...
#       the client namespace's resolv.conf, one LINE a line, then ikw_private_run (sets CLIENV
#       and RUNPID), so `ikeway connect` as root sees that file and a private /run.
#   ikw_capture_start NAME / ikw_capture_stop
#       tshark on the responder's link (IKE and NAT-T ports) into OUT/NAME.pcapng, for a Rust
#       test to dissect with our key log; start returns once tshark says the capture runs,
#       stop waits for the file to be complete.
#   ikw_sw_client_case NAME SW_DIR EVENTS...
#       the strongSwan initiator in SW_DIR initiates connection NAME (child and IKE SA named
#       alike, 10 s): OUT/NAME.rc (swanctl's exit status), NAME.initiate.out, NAME.sas (its IKE
#       SA as listed), NAME.terminate.out, NAME.events.jsonl (the lines each EVENTS file, our
#       responders' event streams, gained meanwhile) and NAME.charon.log (what charon logged).

ikw_sw_psk_responder() { # DIR LOAD_OUT
    ikw_sw_conf_responder "$1"
    { ikw_sw_start srv "$1" && ikw_sw_load "$1" >"$2"; } || ikw_die "strongSwan responder"
}

ikw_client_resolv() { # LINE...
    mkdir -p "/etc/netns/$IKW_NS_CLI"
    printf '%s\n' "$@" >"/etc/netns/$IKW_NS_CLI/resolv.conf"
    ikw_private_run
}

ikw_capture_start() { # NAME
    ikw_spawn srv "$OUT/$1.tshark.out" tshark -q -i ike0 -w "$OUT/$1.pcapng" -f "udp port 500 or udp port 4500"
    CAPTURE_PID=$IKW_LAST_PID
    # The file's header alone does not say dumpcap listens yet (under load the first messages
    # of a run were missed): tshark logs "Capture started" once it does.
    ikw_wait_for 10 grep -q "Capture started" "$OUT/$1.tshark.out" || true
    ikw_wait_for 10 test -s "$OUT/$1.pcapng" || true
    sleep 0.5
}

ikw_capture_stop() {
    sleep 0.5
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
}

ikw_sw_client_case() { # NAME SW_DIR EVENTS...
    local name="$1" sw="$2" rc=0 charon_before f
    shift 2
    local -a before=()
    for f in "$@"; do before+=("$(wc -l <"$f")"); done
    charon_before="$(wc -l <"$sw/charon.log")"
    ikw_sw_initiate "$sw" "$name" "$name" 10 >"$OUT/$name.initiate.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/$name.rc"
    ikw_sw_list_sas "$sw" --ike "$name" --raw >"$OUT/$name.sas" 2>&1 || true
    ikw_swanctl "$sw" --terminate --ike "$name" --timeout 5 >"$OUT/$name.terminate.out" 2>&1 || true
    sleep 0.3
    local i=0
    for f in "$@"; do
        tail -n +"$((before[i] + 1))" "$f"
        i=$((i + 1))
    done >"$OUT/$name.events.jsonl"
    tail -n +"$((charon_before + 1))" "$sw/charon.log" >"$OUT/$name.charon.log"
}
