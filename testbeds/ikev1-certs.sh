#!/usr/bin/env bash
# IKEv1 Main Mode with certificates where it gets hard: messages too large for the path (IKEv1
# fragmentation) and certificates followed by XAUTH (Apple's "Cisco IPSec" with a machine
# certificate and a user password). Our client (`config add --type ipsec` or `profile import`,
# then `connect`, as a user runs it) against the strongSwan 5.9.8 responder of lib/ikev1bed.sh,
# in the namespaces of lib/netns.sh.
#
# Usage: ikev1-certs.sh OUTDIR IKEWAY_BINARY
#
# The path: for the frag cases, nftables in the client's namespace drops every IKE datagram
# (UDP 500/4500) longer than 1400 octets (IP length) both ways, as a path with a smaller MTU
# that loses IP fragments does (NAME.drops: the rules' counters). The client's identity is
# v1-cli-rsa4k (RSA 4096): its Main Mode message 5 is about 2 KB; strongSwan's message 6
# (v1-srv-rsa, RSA 3072) about 1.7 KB.
#
# Cases (each through lib/ourclient.sh's ikw_client_case: NAME.connect.rc/.out, NAME.status.json,
# NAME.ping.rc, NAME.sas, NAME.disconnect.out, NAME.end.sas, NAME.log, NAME.charon.log, ...):
#   frag          main-rsa (strongSwan announces FRAGMENTATION): connects through the path,
#                 pings; the capture of strongSwan's side (frag.pcapng) has every IKE datagram
#   frag-nofrag   main-rsa-nofrag (strongSwan does not announce it): our message 5 goes whole and
#                 the path drops it; the connect does not complete in its 10 s (NAME.drops)
#   certx         main-rsa-xauth: v1-cli-rsa + `--extended-auth` alice: Main Mode with RSA
#                 signatures (XAUTHInitRSA), XAUTH, Mode Config; connects, pings
#   certx-badpw   the same with a wrong XAUTH password
#   certx-profile an Apple profile (VPNType IPSec, AuthenticationMethod Certificate,
#                 PayloadCertificateUUID naming a com.apple.security.pkcs12 payload of
#                 v1-cli-rsa, a com.apple.security.root payload of v1-root-rsa, RemoteAddress
#                 srv.ikeway.test, XAuthEnabled with XAuthName/XAuthPassword) imported, then
#                 connected
# and charon.log (the responder's whole log). crates/ikeway/tests/ikev1_interop.rs judges them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"
. "$HERE/lib/pki.sh"
. "$HERE/lib/ikev1bed.sh"
. "$HERE/lib/ourclient.sh"
. "$HERE/lib/steps.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"

ikw_topo_trap
ikw_topo_up direct
ikw_pki_eapset "$IKW_WORKDIR/pki"
ikw_v1_pki_rsa
ikw_v1_addrs_up
SRV="$IKW_WORKDIR/srv-strongswan"
ikw_v1_sw_responder "$SRV"
IKW_SW_PLUGINS="$IKW_SW_DEFAULT_PLUGINS unity" IKW_SW_EXTRA_CONF="$(ikw_v1_charon_conf)" \
    ikw_sw_start srv "$SRV"
ikw_sw_load "$SRV" >"$OUT/srv-load.out"

printf '%s\n' "$IKW_V1_PASSWORD" >"$IKW_WORKDIR/alice.pw"
printf '%s\n' "$IKW_V1_WRONG_PASSWORD" >"$IKW_WORKDIR/wrong.pw"
chmod 600 "$IKW_WORKDIR"/*.pw
mkdir -p "/etc/netns/$IKW_NS_CLI"
printf 'nameserver 10.99.0.254\n' >"/etc/netns/$IKW_NS_CLI/resolv.conf"
# For the profile case (below); written before ikw_private_run, whose mount namespace takes the
# files /etc/netns has then.
printf '127.0.0.1 localhost\n%s srv.ikeway.test\n' "$(ikw_v1_case_addr main-rsa-xauth)" \
    >"/etc/netns/$IKW_NS_CLI/hosts"
ikw_private_run

# NAME SERVER_CASE IDENTITY [EXTRA config add ARGS...]
ours_cert_add() {
    local name="$1" server="$2" identity="$3"
    shift 3
    ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config add "$name" --type ipsec \
        --server "$(ikw_v1_case_addr "$server")" --remote-id srv.ikeway.test \
        --local-id cli.ikeway.test --identity-key "$IKW_PKI_DIR/$identity.key" \
        --identity-cert "$IKW_PKI_DIR/$identity.crt" --ca "$IKW_PKI_DIR/v1-root-rsa.crt" \
        --system-ca false "$@" --yes >"$OUT/$name.add.out" 2>&1 || true
}

path_drops_large_datagrams() {
    ikw_exec cli nft -f - <<'NFT'
table inet ikw_mtu {
    chain out {
        type filter hook output priority filter; policy accept;
        udp dport { 500, 4500 } meta length > 1400 counter drop
        udp dport { 500, 4500 } counter
    }
    chain in {
        type filter hook input priority filter; policy accept;
        udp sport { 500, 4500 } meta length > 1400 counter drop
        udp sport { 500, 4500 } counter
    }
}
NFT
}

path_restored() { # NAME
    ikw_exec cli nft list table inet ikw_mtu >"$OUT/$1.drops" 2>&1 || true
    ikw_exec cli nft delete table inet ikw_mtu || true
}

# Fragments through the path.
path_drops_large_datagrams
ours_cert_add frag main-rsa v1-cli-rsa4k
ikw_capture_start frag
ikw_client_case frag "$SRV" main-rsa
ikw_capture_stop
path_restored frag

# The same path to a gateway without IKEv1 fragmentation: our message 5 cannot cross.
path_drops_large_datagrams
ours_cert_add frag-nofrag main-rsa-nofrag v1-cli-rsa4k
before="$(wc -l <"$SRV/charon.log")"
rc=0
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" connect frag-nofrag --wait 10 \
    >"$OUT/frag-nofrag.connect.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/frag-nofrag.connect.rc"
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" status --json >"$OUT/frag-nofrag.status.json" 2>&1 || true
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" disconnect >"$OUT/frag-nofrag.disconnect.out" 2>&1 || true
path_restored frag-nofrag
tail -n +"$((before + 1))" "$SRV/charon.log" >"$OUT/frag-nofrag.charon.log"
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" config remove frag-nofrag --yes >/dev/null 2>&1 || true
# strongSwan keeps the half-open SA for its timeout; the cases after this use other
# connections.

# Certificates, then XAUTH.
ours_cert_add certx main-rsa-xauth v1-cli-rsa --extended-auth --username "$IKW_V1_USER" \
    --password-file "$IKW_WORKDIR/alice.pw"
ikw_client_case certx "$SRV" main-rsa-xauth
ours_cert_add certx-badpw main-rsa-xauth v1-cli-rsa --extended-auth \
    --username "$IKW_V1_USER" --password-file "$IKW_WORKDIR/wrong.pw"
ikw_client_case certx-badpw "$SRV" main-rsa-xauth

# The same from an Apple profile: the identity as a PKCS#12 payload named by
# PayloadCertificateUUID, XAUTH on with the user's name and password. Apple's IPSec payload has
# no RemoteIdentifier: the gateway must name itself as RemoteAddress says, so the profile names
# it srv.ikeway.test (the client namespace's hosts file, written above, maps that to
# main-rsa-xauth).
openssl pkcs12 -export -inkey "$IKW_PKI_DIR/v1-cli-rsa.key" -in "$IKW_PKI_DIR/v1-cli-rsa.crt" \
    -passout pass:ikeway-p12 -out "$IKW_WORKDIR/v1-cli-rsa.p12"
cat >"$IKW_WORKDIR/certx.mobileconfig" <<PROFILE
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>test.ikeway.ipsec.certx</string>
<key>PayloadUUID</key><string>5B2C1E3A-9D4F-4A71-8C8D-1E2F3A4B5C6D</string>
<key>PayloadDisplayName</key><string>IKEv1 certificate and XAUTH</string>
<key>PayloadContent</key><array>
<dict>
  <key>PayloadType</key><string>com.apple.security.pkcs12</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>test.ikeway.ipsec.certx.identity</string>
  <key>PayloadUUID</key><string>6C3D2F4B-0E5A-4B82-9D9E-2F3A4B5C6D7E</string>
  <key>Password</key><string>ikeway-p12</string>
  <key>PayloadContent</key><data>$(base64 -w0 "$IKW_WORKDIR/v1-cli-rsa.p12")</data>
</dict>
<dict>
  <key>PayloadType</key><string>com.apple.security.root</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>test.ikeway.ipsec.certx.root</string>
  <key>PayloadUUID</key><string>7D4E3A5C-1F6B-4C93-8E0F-3A4B5C6D7E8F</string>
  <key>PayloadContent</key><data>$(openssl x509 -in "$IKW_PKI_DIR/v1-root-rsa.crt" -outform der | base64 -w0)</data>
</dict>
<dict>
  <key>PayloadType</key><string>com.apple.vpn.managed</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>test.ikeway.ipsec.certx.vpn</string>
  <key>PayloadUUID</key><string>8E5F4B6D-2A7C-4DA4-9F1A-4B5C6D7E8F90</string>
  <key>UserDefinedName</key><string>certx-profile</string>
  <key>VPNType</key><string>IPSec</string>
  <key>IPSec</key><dict>
    <key>RemoteAddress</key><string>srv.ikeway.test</string>
    <key>AuthenticationMethod</key><string>Certificate</string>
    <key>PayloadCertificateUUID</key><string>6C3D2F4B-0E5A-4B82-9D9E-2F3A4B5C6D7E</string>
    <key>LocalIdentifier</key><string>cli.ikeway.test</string>
    <key>XAuthEnabled</key><integer>1</integer>
    <key>XAuthName</key><string>$IKW_V1_USER</string>
    <key>XAuthPassword</key><string>$IKW_V1_PASSWORD</string>
  </dict>
</dict>
</array>
</dict></plist>
PROFILE
ikw_exec cli "${CLIENV[@]}" "$IKEWAY" profile import "$IKW_WORKDIR/certx.mobileconfig" --yes \
    >"$OUT/certx-profile.import.out" 2>&1 || true
ikw_client_case certx-profile "$SRV" main-rsa-xauth

cp "$SRV/charon.log" "$OUT/charon.log"
rm -rf "/etc/netns/$IKW_NS_CLI"
