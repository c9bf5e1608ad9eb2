#!/usr/bin/env bash
# EAP interop between ikeway and strongSwan, in the namespaces of lib/netns.sh with the EAP
# cases of lib/eapbed.sh (certificates from ikw_pki_eapset).
#
# Usage: eap-interop.sh SCENARIO OUTDIR IKEWAY_BINARY
# Scenarios:
#   client  our Personal VPN client (`config add --extended-auth ...` + `connect`, and a
#           `profile import` of an Apple profile) against one strongSwan responder answering
#           every EAP server case, one case after the other
#   timing  sign-in times (initiate -> child SA) per authentication, ours and strongSwan's
#           initiator, against the same strongSwan responder: PSK, EAP-MSCHAPv2, EAP-MD5,
#           EAP-TLS (strongSwan only: `initiate` has no EAP-TLS), RFC 4739; OUT/timing.txt
#   server  a strongSwan EAP initiator against `ikeway serve --cert --key --eap-users` (EAP
#           alone on 10.99.0.2; a client certificate then EAP on 10.99.0.3, RFC 4739),
#           captured for tshark with our responder's key log; then a strongSwan initiator
#           limited to TLS 1.3 against `serve --eap-tls13-draft` on 10.99.0.4 (case eap-tls13)
#
# Env: IKW_PKI_DIR  a folder made by ikw_pki_eapset (or ikw_pki_testset), shared between runs
#                   (default: one is made in the workdir)
#
# `client` records, per case NAME: NAME.add.out (or NAME.import.out) and what lib/ourclient.sh's
# ikw_client_case records (connect, status, ping, strongSwan's SAs, routes and links before and
# after, logs); and charon.log. Cases (server case in brackets): mschapv2, mschapv2-wrong,
# mschapv2-unknown [mschapv2], md5, md5-wrong [md5], tls12 (TLS at most 1.2), tls13 [tls],
# multi [multi: certificate round, then EAP-MSCHAPv2], untrusted [untrusted], nopassword
# [mschapv2: no password stored, no terminal], profile [mschapv2, from a .mobileconfig]
# (profile.import.out, profile.show.out: `config show`); initiate.jsonl/.rc/.err,
# client-eap.keys and client-eap.pcapng (`initiate` with EAP-MSCHAPv2 and a key log, captured);
# final.sas (strongSwan's SAs at the end, once its 5 s half-open timeout has run).
# `server` records, per client case NAME (eap-mschapv2, eap-mschapv2-wrong,
# eap-mschapv2-unknown, eap-md5, eap-tls, eap-multi, eap-tls13): NAME.rc and
# NAME.initiate.out (swanctl --initiate), NAME.sas (strongSwan's SAs right after), NAME.events.jsonl and NAME.charon.log
# (what our responder and strongSwan logged during the case); serve.jsonl, serve.keys,
# serve.keys.tls (the EAP-TLS secrets of the eap-tls case, for tshark's tls.keylog_file),
# serve-multi.jsonl, serve-multi.keys, serve-tls13.jsonl, serve-tls13.keys, eap.pcapng,
# charon.log.
# crates/ikeway/tests/eap_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/eapbed.sh"
. "$HERE/lib/ourclient.sh"

SCENARIO="$1"
OUT="$2"
IKEWAY="$3"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up direct
if [ -n "${IKW_PKI_DIR:-}" ] && [ -f "$IKW_PKI_DIR/root-ec.crt" ]; then
    ikw_pki_init "$IKW_PKI_DIR"
else
    ikw_pki_eapset "$IKW_WORKDIR/pki"
fi
P="$IKW_PKI_DIR"
printf '%s\n' "$IKW_EAP_PASSWORD" >"$IKW_WORKDIR/alice.pw"
printf '%s\n' "$IKW_EAP_WRONG_PASSWORD" >"$IKW_WORKDIR/wrong.pw"
chmod 600 "$IKW_WORKDIR"/*.pw

# An Apple profile as an administrator would hand it out for a server certificate + EAP-MSCHAPv2
# VPN: the root CA as a com.apple.security.root payload, AuthenticationMethod None,
# ExtendedAuthEnabled, AuthName/AuthPassword, ServerCertificateCommonName.
write_profile() { # FILE NAME ADDRESS
    cat >"$1" <<PROFILE
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>test.ikeway.eap</string>
<key>PayloadUUID</key><string>0C5E3A8E-2B1D-4F7A-9C3E-5A8E2B1D4F7A</string>
<key>PayloadDisplayName</key><string>EAP profile</string>
<key>PayloadContent</key><array>
<dict>
  <key>PayloadType</key><string>com.apple.security.root</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>test.ikeway.eap.root</string>
  <key>PayloadUUID</key><string>1D6F4B9F-3C2E-4A8B-8D4F-6B9F3C2E4A8B</string>
  <key>PayloadCertificateFileName</key><string>root-ec.cer</string>
  <key>PayloadContent</key><data>$(openssl x509 -in "$P/root-ec.crt" -outform der | base64 -w0)</data>
</dict>
<dict>
  <key>PayloadType</key><string>com.apple.vpn.managed</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>test.ikeway.eap.vpn</string>
  <key>PayloadUUID</key><string>2E7A5CA0-4D3F-4B9C-9E5A-7CA04D3F4B9C</string>
  <key>UserDefinedName</key><string>$2</string>
  <key>VPNType</key><string>IKEv2</string>
  <key>IKEv2</key><dict>
    <key>RemoteAddress</key><string>$3</string>
    <key>RemoteIdentifier</key><string>srv.ikeway.test</string>
    <key>LocalIdentifier</key><string>cli.ikeway.test</string>
    <key>AuthenticationMethod</key><string>None</string>
    <key>ExtendedAuthEnabled</key><integer>1</integer>
    <key>AuthName</key><string>$IKW_EAP_USER</string>
    <key>AuthPassword</key><string>$IKW_EAP_PASSWORD</string>
    <key>ServerCertificateCommonName</key><string>srv.ikeway.test</string>
    <key>DisableMOBIKE</key><integer>1</integer>
    <key>DisableRedirect</key><integer>1</integer>
    <key>IKESecurityAssociationParameters</key><dict>
      <key>EncryptionAlgorithm</key><string>AES-256-GCM</string>
      <key>IntegrityAlgorithm</key><string>SHA2-256</string>
      <key>DiffieHellmanGroup</key><integer>19</integer>
    </dict>
    <key>ChildSecurityAssociationParameters</key><dict>
      <key>EncryptionAlgorithm</key><string>AES-256-GCM</string>
      <key>IntegrityAlgorithm</key><string>SHA2-256</string>
      <key>DiffieHellmanGroup</key><integer>19</integer>
    </dict>
  </dict>
</dict>
</array>
</dict></plist>
PROFILE
}

# Our client against one server case: NAME SERVER_CASE [config add options...].
ours_connect() {
    local name="$1" server="$2"
    shift 2
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" \
        --server "$(ikw_eap_case_addr "$server")" --remote-id srv.ikeway.test \
        --local-id cli.ikeway.test --ca "$P/root-ec.crt" --child-encryption aes256gcm \
        "$@" --yes >"$OUT/$name.add.out" 2>&1 || true
    ikw_client_case "$name" "$SRV" "$server"
}

# Captures IKE on the responder's link (NAME.pcapng), for tshark with our key log.
start_capture() { # NAME
    ikw_spawn srv "$OUT/$1.tshark.out" tshark -q -i ike0 -w "$OUT/$1.pcapng" -f "udp port 500 or udp port 4500"
    CAPTURE_PID=$IKW_LAST_PID
    ikw_wait_for 10 test -s "$OUT/$1.pcapng" || true
}

stop_capture() {
    # The last packet written before tshark stops.
    sleep 0.3
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
}

case "$SCENARIO" in
client)
    ikw_eap_addrs_up
    SRV="$IKW_WORKDIR/srv-strongswan"
    ikw_eap_sw_responder "$SRV"
    # strongSwan keeps an SA half-open when its client refuses it mid-way (untrusted below):
    # 5 s instead of 30 lets the run see it go.
    IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.3)
    half_open_timeout = 5" ikw_sw_start srv "$SRV"
    ikw_sw_load "$SRV" >"$OUT/srv-load.out"
    mkdir -p "/etc/netns/$IKW_NS_CLI"
    printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
    ikw_private_run
    alice=(--extended-auth --username "$IKW_EAP_USER")

    ours_connect mschapv2 mschapv2 "${alice[@]}" --password-file "$IKW_WORKDIR/alice.pw"
    # The untrusted server early: strongSwan keeps its half-open SA for half_open_timeout, which
    # runs out while the other cases run (final.sas).
    ours_connect untrusted untrusted "${alice[@]}" --password-file "$IKW_WORKDIR/alice.pw"
    ours_connect mschapv2-wrong mschapv2 "${alice[@]}" --password-file "$IKW_WORKDIR/wrong.pw"
    ours_connect mschapv2-unknown mschapv2 --extended-auth --username "$IKW_EAP_UNKNOWN_USER" \
        --password-file "$IKW_WORKDIR/alice.pw"
    ours_connect md5 md5 "${alice[@]}" --password-file "$IKW_WORKDIR/alice.pw" --eap-methods md5
    ours_connect md5-wrong md5 "${alice[@]}" --password-file "$IKW_WORKDIR/wrong.pw" \
        --eap-methods md5
    # EAP-TLS as the only proof of the client (auth none): the certificate, no user name.
    cert=(--identity-key "$P/cli-ec.key" --identity-cert "$P/cli-ec.crt")
    tls=("${cert[@]}" --auth none --extended-auth --eap-methods tls)
    ours_connect tls12 tls "${tls[@]}" --tls-max 1.2
    # strongSwan allows 1.3 and so do we: the highest both speak. strongSwan 5.9.8's EAP-TLS 1.3
    # is draft-era (no success indication, the "client EAP encryption" exporter MSK), which our
    # client accepts inside IKE: it connects and pings.
    ours_connect tls13 tls "${tls[@]}" --tls-max 1.3
    # RFC 4739: our certificate, then EAP-MSCHAPv2 as alice.
    ours_connect multi multi "${cert[@]}" "${alice[@]}" --password-file "$IKW_WORKDIR/alice.pw"
    # No password anywhere and no terminal to ask on: a clear error, nothing sent.
    ours_connect nopassword mschapv2 "${alice[@]}"
    # The Apple profile.
    write_profile "$IKW_WORKDIR/eap.mobileconfig" "EAP Corp" "$(ikw_eap_case_addr mschapv2)"
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/eap.mobileconfig" --yes \
        >"$OUT/profile.import.out" 2>&1 || true
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config show "EAP Corp" >"$OUT/profile.show.out" 2>&1 || true
    ikw_client_case "EAP Corp" "$SRV" mschapv2
    for f in "$OUT"/EAP\ Corp.*; do mv "$f" "$OUT/profile.${f##*/EAP Corp.}"; done
    # `initiate` with a key log, captured: tshark reads our side of an EAP-MSCHAPv2 sign-in.
    start_capture client-eap
    rc=0
    ikw_exec cli "$IKEWAY" initiate --local "$IKW_CLI_ADDR" --remote "$(ikw_eap_case_addr mschapv2)" \
        --id cli.ikeway.test --remote-id srv.ikeway.test --ca "$P/root-ec.crt" \
        --username "$IKW_EAP_USER" --password-file "$IKW_WORKDIR/alice.pw" \
        --eap-methods mschapv2 --keylog "$OUT/client-eap.keys" --request-config \
        --remote-ts "$IKW_PROT_NET" --then delete@0.2 --timeout 15 \
        >"$OUT/initiate.jsonl" 2>"$OUT/initiate.err" || rc=$?
    echo "$rc" >"$OUT/initiate.rc"
    stop_capture
    # Nothing left at strongSwan once its half-open timeout has run.
    no_sas() { ! ikw_sw_list_sas "$SRV" --raw 2>/dev/null | grep -q 'list-sa event'; }
    ikw_wait_for 10 no_sas || true
    ikw_sw_list_sas "$SRV" --raw >"$OUT/final.sas" 2>&1 || true
    cp "$SRV/charon.log" "$OUT/charon.log"
    rm -rf "/etc/netns/$IKW_NS_CLI"
    ;;
server)
    ikw_eap_users_file "$IKW_WORKDIR/users"
    chmod 600 "$IKW_WORKDIR/users"
    start_capture eap
    # Our responder twice, both proving themselves with srv-ec: EAP alone on 10.99.0.2
    # (MSCHAPv2 first; MD5 or EAP-TLS, client certificates under root-ec, for a client that
    # Naks it), and on 10.99.0.3 a client certificate first, then EAP (RFC 4739).
    serve() { # NAME ADDRESS POOL OPTIONS...
        local name="$1" addr="$2" pool="$3"
        shift 3
        ikw_spawn srv "$OUT/$name.jsonl" "$IKEWAY" serve --local "$addr" \
            --id srv.ikeway.test --cert "$P/srv-ec.chain.crt" --key "$P/srv-ec.key" \
            --eap-users "$IKW_WORKDIR/users" --pool "$pool" --dns 10.77.0.53 \
            --subnet "$IKW_PROT_NET" --local-ts "$IKW_PROT_NET" \
            --ike aes128gcm16-prfsha256-x25519-ecp256 --esp aes128gcm16-noesn \
            --keylog "$OUT/$name.keys" --duration 60 "$@"
        SERVE_PIDS+=("$IKW_LAST_PID")
    }
    SERVE_PIDS=()
    ip -n "$IKW_NS_SRV" addr add 10.99.0.3/24 dev ike0
    serve serve "$IKW_SRV_ADDR" 10.88.0.10/50 --eap-methods mschapv2,md5,tls --ca "$P/root-ec.crt"
    serve serve-multi 10.99.0.3 10.88.0.60/50 --require-client-cert --ca "$P/root-ec.crt" \
        --eap-methods mschapv2
    ours_addr() { if [ "$1" = multi ]; then echo 10.99.0.3; else echo "$IKW_SRV_ADDR"; fi; }
    CASES=(eap-mschapv2 eap-mschapv2-wrong eap-mschapv2-unknown eap-md5 eap-tls eap-multi)
    CLI="$IKW_WORKDIR/cli-strongswan"
    ikw_eap_sw_initiator "$CLI" ours_addr "${CASES[@]}"
    # strongSwan 5.9.8's EAP-TLS 1.3 predates RFC 9190: TLS 1.2 here.
    IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.2)" ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    listening() { ikw_exec srv ss -Hlun "src $1:500" | grep -q .; }
    ikw_wait_for 5 listening "$IKW_SRV_ADDR" || true
    ikw_wait_for 5 listening 10.99.0.3 || true
    for name in "${CASES[@]}"; do
        rc=0
        log="$OUT/serve.jsonl"
        [ "$name" = eap-multi ] && log="$OUT/serve-multi.jsonl"
        before_ours="$(wc -l <"$log")"
        before_sw="$(wc -l <"$CLI/charon.log")"
        ikw_sw_initiate "$CLI" "$name" "$name" 10 >"$OUT/$name.initiate.out" 2>&1 || rc=$?
        echo "$rc" >"$OUT/$name.rc"
        ikw_sw_list_sas "$CLI" --ike "$name" --raw >"$OUT/$name.sas" 2>&1 || true
        ikw_swanctl "$CLI" --terminate --ike "$name" --timeout 5 >"$OUT/$name.terminate.out" 2>&1 || true
        # Our responder's events of the case end with the SA closed (a DELETE from strongSwan,
        # or the EAP failure).
        closed() { tail -n +"$((before_ours + 1))" "$log" | grep -q '"ike_sa_closed"'; }
        ikw_wait_for 5 closed || true
        tail -n +"$((before_ours + 1))" "$log" >"$OUT/$name.events.jsonl"
        tail -n +"$((before_sw + 1))" "$CLI/charon.log" >"$OUT/$name.charon.log"
    done
    # strongSwan's draft-era EAP-TLS 1.3 initiator (its charon limited to TLS 1.3) against
    # `serve --eap-tls13-draft` on 10.99.0.4: case eap-tls13.
    ikw_sw_stop "$CLI"
    ip -n "$IKW_NS_SRV" addr add 10.99.0.4/24 dev ike0
    serve serve-tls13 10.99.0.4 10.88.0.110/50 --eap-methods tls --ca "$P/root-ec.crt" \
        --eap-tls13-draft
    CLI13="$IKW_WORKDIR/cli13-strongswan"
    ikw_eap_sw_initiator "$CLI13" 10.99.0.4 eap-tls
    IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.3 1.3)" ikw_sw_start cli "$CLI13"
    ikw_sw_load "$CLI13" >"$OUT/cli13-load.out"
    ikw_wait_for 5 listening 10.99.0.4 || true
    rc=0
    ikw_sw_initiate "$CLI13" eap-tls eap-tls 10 >"$OUT/eap-tls13.initiate.out" 2>&1 || rc=$?
    echo "$rc" >"$OUT/eap-tls13.rc"
    ikw_sw_list_sas "$CLI13" --ike eap-tls --raw >"$OUT/eap-tls13.sas" 2>&1 || true
    ikw_swanctl "$CLI13" --terminate --ike eap-tls --timeout 5 >"$OUT/eap-tls13.terminate.out" 2>&1 || true
    closed13() { grep -q '"ike_sa_closed"' "$OUT/serve-tls13.jsonl"; }
    ikw_wait_for 5 closed13 || true
    cp "$OUT/serve-tls13.jsonl" "$OUT/eap-tls13.events.jsonl"
    cp "$CLI13/charon.log" "$OUT/eap-tls13.charon.log"
    ikw_sw_stop "$CLI13"
    stop_capture
    for pid in "${SERVE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${SERVE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    cp "$CLI/charon.log" "$OUT/charon.log"
    ;;
timing)
    # How long signing in takes, per way of authenticating, against the same strongSwan
    # responder: `ikeway initiate` (its initiate_to_child_ms) and strongSwan's own initiator
    # (swanctl --initiate wall time), 6 runs each, medians printed. A PSK connection on
    # 10.99.0.46 is the baseline.
    ikw_eap_addrs_up
    ip -n "$IKW_NS_SRV" addr add 10.99.0.46/24 dev ike0
    SRV="$IKW_WORKDIR/srv-strongswan"
    ikw_eap_sw_responder "$SRV"
    {
        echo "connections {"
        IKW_SW_CONN=psk IKW_SW_LOCAL_ADDRS=10.99.0.46 IKW_SW_POOL6="" ikw_sw_conn_responder
        echo "}"
        _ikw_sw_secrets srv.ikeway.test cli.ikeway.test "$IKW_SW_DEFAULT_PSK"
    } >>"$SRV/swanctl.conf"
    IKW_SW_LOGLEVEL=1 IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.2)" ikw_sw_start srv "$SRV"
    ikw_sw_load "$SRV" >"$OUT/srv-load.out"
    printf '%s\n' "$IKW_SW_DEFAULT_PSK" >"$IKW_WORKDIR/psk"
    common=(--local "$IKW_CLI_ADDR" --id cli.ikeway.test --remote-id srv.ikeway.test
        --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn --request-config
        --remote-ts "$IKW_PROT_NET" --then delete@0 --linger 0 --timeout 15)
    eap=(--ca "$P/root-ec.crt" --username "$IKW_EAP_USER" --password-file "$IKW_WORKDIR/alice.pw")
    ours() { # NAME ADDRESS ARGS...
        local name="$1" addr="$2" i
        shift 2
        for i in 1 2 3 4 5 6; do
            ikw_exec cli "$IKEWAY" initiate --remote "$addr" "${common[@]}" "$@" \
                >"$OUT/ours-$name-$i.jsonl" 2>&1 || true
            grep -o '"initiate_to_child_ms":[0-9.]*' "$OUT/ours-$name-$i.jsonl" |
                cut -d: -f2 >>"$OUT/ours-$name.ms"
        done
    }
    ours psk 10.99.0.46 --psk-file "$IKW_WORKDIR/psk"
    ours eap-mschapv2 10.99.0.41 "${eap[@]}" --eap-methods mschapv2
    ours eap-md5 10.99.0.42 "${eap[@]}" --eap-methods md5
    ours multi 10.99.0.45 "${eap[@]}" --eap-methods mschapv2 --cert "$P/cli-ec.crt" \
        --key "$P/cli-ec.key"
    CLI="$IKW_WORKDIR/cli-strongswan"
    IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn \
        ikw_eap_sw_initiator "$CLI" cases eap-mschapv2 eap-md5 eap-tls eap-multi
    {
        echo "connections {"
        IKW_SW_CONN=psk IKW_SW_CHILD=psk IKW_SW_REMOTE_ADDRS=10.99.0.46 IKW_SW_VIPS=0.0.0.0 \
            IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 \
            IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn IKW_SW_REMOTE_TS="$IKW_PROT_NET" \
            ikw_sw_conn_initiator
        echo "}"
        _ikw_sw_secrets cli.ikeway.test srv.ikeway.test "$IKW_SW_DEFAULT_PSK"
    } >>"$CLI/swanctl.conf"
    IKW_SW_LOGLEVEL=1 IKW_SW_EXTRA_CONF="$(ikw_eap_tls_conf 1.2 1.2)" ikw_sw_start cli "$CLI"
    ikw_sw_load "$CLI" >"$OUT/cli-load.out"
    for name in psk eap-mschapv2 eap-md5 eap-tls eap-multi; do
        for i in 1 2 3 4 5 6; do
            ikw_sw_initiate "$CLI" "$name" "$name" 15 >"$OUT/sw-$name-$i.out" 2>&1 &&
                echo "$IKW_SW_INITIATE_MS" >>"$OUT/sw-$name.ms"
            ikw_swanctl "$CLI" --terminate --ike "$name" --timeout 5 >/dev/null 2>&1 || true
        done
    done
    median() { [ -s "$1" ] && sort -n "$1" | awk '{v[NR]=$1} END {printf "%.1f (n=%d)", (v[int((NR+1)/2)]+v[int(NR/2)+1])/2, NR}' || echo "-"; }
    {
        echo "median ms, initiate -> child SA installed (n = successful runs of 6)"
        printf '%-14s %-18s %s\n' case ikeway strongSwan
        for name in psk eap-mschapv2 eap-md5 eap-tls multi; do
            sw="$name"
            [ "$name" = multi ] && sw=eap-multi
            printf '%-14s %-18s %s\n' "$name" "$(median "$OUT/ours-$name.ms")" "$(median "$OUT/sw-$sw.ms")"
        done
    } | tee "$OUT/timing.txt"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
