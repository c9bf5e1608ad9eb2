#!/usr/bin/env bash
# IKEv1 ("Cisco IPSec"): what our client starts by itself, against the strongSwan 5.9.8
# responder of lib/ikev1bed.sh (case aggr-psk: Aggressive Mode, group PSK, XAUTH, Mode Config),
# in the namespaces of lib/netns.sh. Timers are shortened with `connect --foreground
# --ikev1-test-timers PHASE1,PHASE2,DPD` (seconds); strongSwan's own DPD is slowed to 300 s
# so that only ours runs.
#
# Usage: ikev1-ours.sh OUTDIR IKEWAY_BINARY
#
# Cases:
#   ours   `connect ours --foreground --keylog ours.keylog --ikev1-test-timers 70,60,2` while
#          dumpcap records the client's IKE/NAT-T traffic (ours.pcapng):
#          ours.status1.json and ours.sas1 once connected; ours.busy.charon.log (strongSwan's
#          log while 6 s of pings run: ESP from the server, no DPD of ours due),
#          ours.idle.charon.log (5 s idle: our R-U-THEREs); our quick mode rekey at half the
#          ESP lifetime: ours.sas2 (strongSwan's SAs once its ESP SA has a new SPI),
#          ours.ping2.rc/.out; our renewal of the ISAKMP SA (half its lifetime): ours.sas3
#          (strongSwan's SAs once the initiator cookie changed and one IKE SA is left),
#          ours.ping3.rc/.out, ours.status3.json; ours.fg.rc/.out (the foreground process, ended
#          by SIGINT), ours.charon.log, ours.keylog
#   restart `connect restart --foreground --ikev1-test-timers 300,300,30`, connected
#          (restart.status1.json, restart.sas1), then SIGKILLed (no Delete: restart.sas2 is
#          what strongSwan still holds), then connected again: restart.status3.json,
#          restart.sas3 (strongSwan's SAs once one is left, 5 s at most), restart.ping3.rc/.out,
#          restart.charon.log (from the second connect on), restart.fg.rc
#   bytes  `connect bytes --foreground --ikev1-test-timers 300,3600,30,2048` (2048 KB offered):
#          bytes.sas1 once connected, bytes.ping1.out (1500 pings of 1400-byte packets, 2.1 MB
#          each way), bytes.sas2 (strongSwan's SAs once its ESP SA has a new SPI, 10 s at
#          most), bytes.ping2.rc/.out, bytes.status2.json, bytes.charon.log, bytes.fg.rc
#   childdel `connect childdel --foreground --ikev1-test-timers 300,300,30`, connected
#          (childdel.status1.json, childdel.sas1, childdel.ping1.rc), then strongSwan deletes the
#          ESP SA (`swanctl --terminate --child aggr-psk`: an ESP Delete to us):
#          childdel.terminate.out, childdel.sas2 (strongSwan's SAs once it holds an ESP SA with
#          another SPI, 10 s at most), childdel.status2.json (ours once the old inbound SPI is
#          gone from its child SAs and datapath SAs, 10 s at most), childdel.ping2.rc/.out,
#          childdel.charon.log, childdel.fg.rc
#   dead   `connect dead --foreground --ikev1-test-timers 300,300,2`, connected and pinged
#          (dead.ping.rc), then strongSwan's charon frozen (SIGSTOP; the kernel's ESP keeps
#          answering, so the tunnel goes idle): dead.fg.rc/.out (the foreground process ends
#          on its own), dead.ms (from the freeze to its end), dead.charon.log
#   prompt an Apple profile whose XAUTH password is asked at each connection
#          (XAuthPasswordEncryption Prompt, no password): prompt.nopw.rc/.out (connect with no
#          password and no terminal), prompt.connect.rc/.out (connect --password-file),
#          prompt.status.json, prompt.ping.rc/.out, prompt.disconnect.out
# and charon.log (the responder's whole log). IKW_V1_OURS_CASES (space-separated names, default
# all) runs only those cases. crates/ikeway/tests/ikev1_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/profile.sh"
. "$HERE/lib/ourclient.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up direct
ikw_pki_eapset "$IKW_WORKDIR/pki"
ikw_v1_addrs_up
SRV="$IKW_WORKDIR/srv-strongswan"
IKW_SW_DPD_DELAY=300s ikw_v1_sw_responder "$SRV"
IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity" IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" \
    ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"

printf '%s\n' "$IKW_V1_PSK" >"$IKW_WORKDIR/group.psk"
printf '%s\n' "$IKW_V1_PASSWORD" >"$IKW_WORKDIR/alice.pw"
chmod 600 "$IKW_WORKDIR"/*.psk "$IKW_WORKDIR"/*.pw
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
ikw_private_run
SERVER="$(ikw_v1_case_addr aggr-psk)"

add_config() { # NAME
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$1" --type ipsec --server "$SERVER" \
        --group "$IKW_V1_GROUP" --psk-file "$IKW_WORKDIR/group.psk" --extended-auth \
        --username "$IKW_V1_USER" --password-file "$IKW_WORKDIR/alice.pw" --yes \
        >"$OUT/$1.add.out" 2>&1 || true
}

status_json() { ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json 2>/dev/null; }
connected() { status_json | grep -q '"status": "connected"'; }
charon_lines() { wc -l <"$SRV/charon.log"; }
charon_since() { tail -n +"$(($1 + 1))" "$SRV/charon.log"; }
sw_sas() { ikw_sw_list_sas "$SRV" --ike aggr-psk --raw 2>&1 || true; }
first_value() { grep -o "$1=[0-9a-f]*" | sed -n '1s/^[^=]*=//p'; }
# OLD_SPI: strongSwan holds exactly one ESP SA of ours again, and its inbound SPI is not OLD_SPI.
sw_one_new_sa() {
    local s cur
    s="$(sw_sas)"
    cur="$(first_value spi-in <<<"$s")"
    [ "$(grep -o 'spi-in=' <<<"$s" | wc -l)" = 1 ] && [ -n "$cur" ] && [ "$cur" != "$1" ]
}
# Two pings to the protected host: OUT/NAME.out, and OUT/NAME.rc 0 when answered, else 1.
ping_twice() { # NAME
    ikw_exec cli ping -c 2 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/$1.out" 2>&1 &&
        echo 0 >"$OUT/$1.rc" || echo 1 >"$OUT/$1.rc"
}

want() { [[ " ${IKW_V1_OURS_CASES:-ours restart bytes childdel dead prompt} " == *" $1 "* ]]; }

# Our foreground client: NAME TIMERS [ARGS...]; FG_PID is its process.
foreground() {
    local name="$1" timers="$2"; shift 2
    ikw_spawn cli "$OUT/$name.fg.out" "${CLIENV[@]}" "$IKEWAY" connect "$name" --foreground \
        --ikev1-test-timers "$timers" "$@"
    FG_PID=$IKW_LAST_PID
}

# The foreground process has ended (a zombie until waited for counts as ended).
fg_gone() {
    local s
    s="$(ps -o stat= -p "$FG_PID" 2>/dev/null || true)"
    [ -z "$s" ] || [ "${s#Z}" != "$s" ]
}

fg_end() { # NAME: SIGINT (a clean disconnect), then its exit status
    local rc=0
    kill -INT "$FG_PID" 2>/dev/null || true
    wait "$FG_PID" 2>/dev/null || rc=$?
    echo "$rc" >"$OUT/$1.fg.rc"
}

# ---- ours: rekey, renewal, DPD only when idle, key log -----------------------------------
ours_case() {
    local before mark sas1 spi1 cky1 rc=0
    add_config ours
    before="$(charon_lines)"
    ikw_spawn cli "$OUT/dumpcap.log" dumpcap -i ike0 -q -f "udp port 500 or udp port 4500" \
        -w "$OUT/ours.pcapng"
    local dumpcap=$IKW_LAST_PID
    ikw_wait_for 5 grep -q "^File: " "$OUT/dumpcap.log" || ikw_die "dumpcap did not start"
    foreground ours 70,60,2 --keylog "$OUT/ours.keylog"
    ikw_wait_for 15 connected || true
    status_json >"$OUT/ours.status1.json" || true
    sas1="$(sw_sas)"
    echo "$sas1" >"$OUT/ours.sas1"
    spi1="$(first_value spi-in <<<"$sas1")"
    cky1="$(first_value initiator-spi <<<"$sas1")"

    # Traffic from the server for 6 s: no R-U-THERE of ours is due (DPD interval 2 s).
    mark="$(charon_lines)"
    ikw_exec cli ping -c 30 -i 0.2 -W 1 "$IKW_PROT_ADDR" >"$OUT/ours.ping1.out" 2>&1 || true
    charon_since "$mark" >"$OUT/ours.busy.charon.log"
    # Idle for 5 s: ours go out and strongSwan acknowledges them.
    mark="$(charon_lines)"
    sleep 5
    charon_since "$mark" >"$OUT/ours.idle.charon.log"

    # Our quick mode rekey (ESP lifetime 60 s: at 30 s), the old ESP SA deleted.
    # (here-strings, not pipes: under `pipefail` a `grep -q` that stops reading early can make
    # the writer's SIGPIPE the pipeline's status)
    rekeyed() {
        local s n cur
        s="$(sw_sas)"
        n="$(grep -o 'spi-in=' <<<"$s" | wc -l)"
        cur="$(first_value spi-in <<<"$s")"
        [ "$n" = 1 ] && [ -n "$cur" ] && [ -n "$spi1" ] && [ "$cur" != "$spi1" ]
    }
    ikw_wait_for 40 rekeyed || true
    sw_sas >"$OUT/ours.sas2"
    ping_twice ours.ping2

    # Our renewal (ISAKMP SA lifetime 70 s: at 35 s): new cookies, the old SA deleted.
    renewed() {
        local s cur
        s="$(sw_sas)"
        cur="$(first_value initiator-spi <<<"$s")"
        [ "$(grep -c 'list-sa event' <<<"$s")" = 1 ] &&
            [ "$(grep -o 'initiator-spi=' <<<"$s" | wc -l)" = 1 ] &&
            [ -n "$cur" ] && [ -n "$cky1" ] && [ "$cur" != "$cky1" ] &&
            grep -q 'state=INSTALLED' <<<"$s"
    }
    ikw_wait_for 40 renewed || true
    sw_sas >"$OUT/ours.sas3"
    ping_twice ours.ping3
    status_json >"$OUT/ours.status3.json" || true

    fg_end ours
    # dumpcap stopped by SIGINT drops what the kernel still buffers for it: let it drain first.
    sleep 1
    kill -INT "$dumpcap" 2>/dev/null || true
    wait "$dumpcap" 2>/dev/null || rc=$?
    charon_since "$before" >"$OUT/ours.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove ours --yes >/dev/null 2>&1 || true
}
want ours && ours_case

# ---- restart: a client killed without a word connects again; INITIAL-CONTACT --------------
restart_case() {
    local mark
    add_config restart
    foreground restart 300,300,30
    ikw_wait_for 15 connected || true
    status_json >"$OUT/restart.status1.json" || true
    sw_sas >"$OUT/restart.sas1"
    # SIGKILL: no Delete reaches strongSwan, whose SAs of that run stay (its DPD is 300 s).
    kill -KILL "$FG_PID" 2>/dev/null || true
    wait "$FG_PID" 2>/dev/null || true
    sw_sas >"$OUT/restart.sas2"
    mark="$(charon_lines)"
    foreground restart 300,300,30
    ikw_wait_for 15 connected || true
    status_json >"$OUT/restart.status3.json" || true
    one_sa() { [ "$(sw_sas | grep -c 'list-sa event')" = 1 ]; }
    ikw_wait_for 5 one_sa || true
    sw_sas >"$OUT/restart.sas3"
    ping_twice restart.ping3
    charon_since "$mark" >"$OUT/restart.charon.log"
    fg_end restart
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove restart --yes >/dev/null 2>&1 || true
}
want restart && restart_case

# ---- bytes: our quick mode rekey when the ESP SA's kilobyte lifetime is nearly used ------
bytes_case() {
    local mark spi1
    add_config bytes
    mark="$(charon_lines)"
    # ESP lifetime 3600 s and 2048 KB offered: our datapath asks for the rekey at 90% of
    # 2 MiB (1,887,437 bytes of inner packets in one direction).
    foreground bytes 300,3600,30,2048
    ikw_wait_for 15 connected || true
    sw_sas >"$OUT/bytes.sas1"
    spi1="$(first_value spi-in <"$OUT/bytes.sas1")"
    # 1500 pings of 1400-byte packets: 2.1 MB each way, past the soft limit, not the hard one
    # before the rekey (the rekey is asked for at the 1349th).
    ikw_exec cli ping -q -c 1500 -i 0.002 -s 1372 -W 1 "$IKW_PROT_ADDR" \
        >"$OUT/bytes.ping1.out" 2>&1 || true
    ikw_wait_for 10 sw_one_new_sa "$spi1" || true
    sw_sas >"$OUT/bytes.sas2"
    ping_twice bytes.ping2
    status_json >"$OUT/bytes.status2.json" || true
    charon_since "$mark" >"$OUT/bytes.charon.log"
    fg_end bytes
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove bytes --yes >/dev/null 2>&1 || true
}
want bytes && bytes_case

# ---- childdel: strongSwan deletes our ESP SA; ours drops it and makes it again -------------
childdel_case() {
    local mark spi1 ours1
    add_config childdel
    foreground childdel 300,300,30
    ikw_wait_for 15 connected || true
    status_json >"$OUT/childdel.status1.json" || true
    ours1="$(grep -o '"spi_in": *"[^"]*"' "$OUT/childdel.status1.json" | head -n 1 || true)"
    sw_sas >"$OUT/childdel.sas1"
    spi1="$(first_value spi-in <"$OUT/childdel.sas1")"
    ping_twice childdel.ping1
    mark="$(charon_lines)"
    ikw_swanctl "$SRV" --terminate --child aggr-psk --timeout 5 \
        >"$OUT/childdel.terminate.out" 2>&1 || true
    ikw_wait_for 10 sw_one_new_sa "$spi1" || true
    sw_sas >"$OUT/childdel.sas2"
    ours_remade() {
        local s
        s="$(status_json || true)"
        # (the SPI is listed under child_sas and under the datapath's sas)
        grep -q '"spi_in"' <<<"$s" && [ -n "$ours1" ] && ! grep -qF "$ours1" <<<"$s"
    }
    ikw_wait_for 10 ours_remade || true
    status_json >"$OUT/childdel.status2.json" || true
    ping_twice childdel.ping2
    charon_since "$mark" >"$OUT/childdel.charon.log"
    fg_end childdel
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove childdel --yes >/dev/null 2>&1 || true
}
want childdel && childdel_case

# ---- dead: our DPD against a frozen strongSwan --------------------------------------------
dead_case() {
    local before t0 charon
    add_config dead
    before="$(charon_lines)"
    foreground dead 300,300,2
    ikw_wait_for 15 connected || true
    ping_twice dead.ping
    charon="$(cat "$SRV/charon.pid")"
    t0="$(ikw_now_ms)"
    kill -STOP "$charon"
    # Idle: 2 s, then R-U-THERE and two resends a second apart, then the server is dead.
    ikw_wait_for 30 fg_gone || true
    echo "$(( $(ikw_now_ms) - t0 ))" >"$OUT/dead.ms"
    fg_end dead
    kill -CONT "$charon"
    sleep 1
    charon_since "$before" >"$OUT/dead.charon.log"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove dead --yes >/dev/null 2>&1 || true
}
want dead && dead_case

# ---- prompt: an "ask every time" profile -------------------------------------------------
prompt_case() {
    local rc=0
    ikw_profile_ipsec_group test.ikeway.ipsec.prompt prompt 5B2C1E30-9D4F-4071-AC8D-1E2F3A4B5C6D \
        6C3D2F41-AE50-4182-BD9E-2F3A4B5C6D7E "$SERVER" "IKEv1 prompt" \
        >"$IKW_WORKDIR/prompt.mobileconfig" <<KEYS
    <key>XAuthPasswordEncryption</key><string>Prompt</string>
KEYS
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/prompt.mobileconfig" \
        --yes >"$OUT/prompt.import.out" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect prompt --wait 15 </dev/null \
        >"$OUT/prompt.nopw.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/prompt.nopw.rc"
    rc=0
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect prompt --wait 15 \
        --password-file "$IKW_WORKDIR/alice.pw" >"$OUT/prompt.connect.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/prompt.connect.rc"
    status_json >"$OUT/prompt.status.json" || true
    ping_twice prompt.ping
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/prompt.disconnect.out" 2>&1 || true
}
want prompt && prompt_case

cp "$SRV/charon.log" "$OUT/charon.log"
rm -rf "/etc/netns/$IKW_NS_CLI"
