#!/usr/bin/env bash
# Two strongSwan clients against `ikeway serve --tun`: the second proposes the first's leased
# address as its TSi (issue 9 finding 6). It must be refused (TS_UNACCEPTABLE) while the
# first keeps its traffic.
#
#   +--------------------+  veth ike0      +-----------------------+  veth prot0  +-----------+
#   | $P-cli  10.99.0.1  |-----------------| $P-srv  10.99.0.2     |--------------| $P-prot   |
#   | charon (libipsec)  |                 | ikeway serve --tun    | 10.77.0.1    | 10.77.0.2 |
#   | vip 10.88.0.10     |      veth ike1  |   TUN ikw0, pool      |              |           |
#   +--------------------+    +------------|   10.88.0.10/100      |              +-----------+
#   | $P-cl2  10.97.0.1  |----+ 10.97.0.2  +-----------------------+
#   | charon (libipsec)  |
#   | TSi = 10.88.0.10   |   (the first client's address)
#   +--------------------+
#
# Usage: cross-client.sh OUTDIR IKEWAY_BINARY
# Client 2 tries twice: with a virtual IP of its own (attempt A: its lease does not contain
# the address it proposes) and without one (attempt B: nothing to narrow to; the address is
# another IKE SA's).
# Records in OUTDIR: serve.jsonl (ikeway's events), ping1/2/3.out (client 1 to the protected
# host before, after attempt A, after attempt B), cl2-initiate.{out,rc} and
# cl2b-initiate.{out,rc}, cl2.sas / cl2b.sas / cli.sas (`swanctl --list-sas --raw`),
# cl2-charon.log.
# crates/ikeway/tests/cross_client_netns.rs runs it and judges the results.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/netns.sh"
. "$HERE/lib/strongswan.sh"

OUT="$1"
IKEWAY="$2"
mkdir -p "$OUT"
PSK="${IKW_PSK:-ikeway-testbed-psk-0123456789}"

ikw_topo_up direct
NS2="$IKW_PREFIX-cl2"
cleanup() {
    ikw_kill_ns "$NS2"
    [ -e "/run/netns/$NS2" ] && ip netns del "$NS2" 2>/dev/null
    ikw_topo_down
}
trap 'rc=$?; trap - EXIT INT TERM; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The second client, on its own leg of the server, reaching the server's 10.99.0.2 by route.
ip netns add "$NS2"
ip -n "$NS2" link set lo up
ip link add name ike1 netns "$IKW_NS_SRV" type veth peer name ike0 netns "$NS2"
ip -n "$IKW_NS_SRV" link set ike1 up
ip -n "$NS2" link set ike0 up
ip -n "$IKW_NS_SRV" addr add 10.97.0.2/24 dev ike1
ip -n "$NS2" addr add 10.97.0.1/24 dev ike0
ip -n "$NS2" route add default via 10.97.0.2
ikw_wait_for 3 ip netns exec "$NS2" ping -c1 -W1 "$IKW_SRV_ADDR" ||
    ikw_die "the second client cannot reach $IKW_SRV_ADDR"

printf '%s\n' "$PSK" >"$IKW_WORKDIR/psk"
ikw_spawn srv "$OUT/serve.jsonl" "$IKEWAY" serve --local "$IKW_SRV_ADDR" --id srv.ikeway.test \
    --psk-file "$IKW_WORKDIR/psk" --pool 10.88.0.10/100 --subnet "$IKW_PROT_NET" \
    --local-ts "$IKW_PROT_NET" --ike aes128gcm16-prfsha256-x25519 --esp aes128gcm16-noesn \
    --tun ikw0 --tun-addr 10.88.0.1/32 --tun-route 10.88.0.0/24 --pump-workers 1 --duration 40
ikw_wait_for 10 sh -c "ip netns exec '$IKW_NS_SRV' ip link show ikw0" ||
    ikw_die "ikeway serve did not bring up its TUN device (see $OUT/serve.jsonl)"

# Client 1: asks for a virtual IP (it gets 10.88.0.10, the first of the pool).
CLI="$IKW_WORKDIR/cli-strongswan"
IKW_SW_PSK="$PSK" IKW_SW_VIPS="0.0.0.0" IKW_SW_REMOTE_TS="$IKW_PROT_NET" \
    IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn \
    ikw_sw_conf_initiator "$CLI"
ikw_sw_start cli "$CLI"
ikw_sw_load "$CLI" >"$OUT/cli-load.out"
rc=0
ikw_sw_initiate "$CLI" net ikw 15 >"$OUT/cli-initiate.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/cli-initiate.rc"
ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/ping1.out" 2>&1 || true

# Client 2: also asks for a virtual IP (it gets 10.88.0.11) but proposes client 1's address.
CL2="$IKW_WORKDIR/cl2-strongswan"
IKW_SW_PSK="$PSK" IKW_SW_VIPS="0.0.0.0" IKW_SW_LOCAL_ID=evil.ikeway.test \
    IKW_SW_LOCAL_TS="10.88.0.10/32" IKW_SW_REMOTE_TS="$IKW_PROT_NET" \
    IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn \
    ikw_sw_conf_initiator "$CL2"
ikw_sw_start "$NS2" "$CL2"
ikw_sw_load "$CL2" >"$OUT/cl2-load.out"
rc=0
ikw_sw_initiate "$CL2" net ikw 15 >"$OUT/cl2-initiate.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/cl2-initiate.rc"
ikw_sw_list_sas "$CL2" --raw >"$OUT/cl2.sas" 2>&1 || true
ikw_sw_list_sas "$CLI" --raw >"$OUT/cli.sas" 2>&1 || true

# Client 1 still has its traffic.
ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/ping2.out" 2>&1 || true

# Client 2 again, without asking for an address: no lease to narrow to, so only the claim of
# another IKE SA's selectors stands in its way.
ikw_swanctl "$CL2" --terminate --ike ikw --timeout 3 >/dev/null 2>&1 || true
# It takes the address for itself, so that its policy's route installs.
ip -n "$NS2" addr add 10.88.0.10/32 dev lo
IKW_SW_PSK="$PSK" IKW_SW_VIPS="" IKW_SW_LOCAL_ID=evil.ikeway.test \
    IKW_SW_LOCAL_TS="10.88.0.10/32" IKW_SW_REMOTE_TS="$IKW_PROT_NET" \
    IKW_SW_IKE_PROPOSALS=aes128gcm16-prfsha256-x25519 IKW_SW_ESP_PROPOSALS=aes128gcm16-noesn \
    ikw_sw_conf_initiator "$CL2"
ikw_sw_load "$CL2" >>"$OUT/cl2-load.out"
rc=0
ikw_sw_initiate "$CL2" net ikw 15 >"$OUT/cl2b-initiate.out" 2>&1 || rc=$?
echo "$rc" >"$OUT/cl2b-initiate.rc"
ikw_sw_list_sas "$CL2" --raw >"$OUT/cl2b.sas" 2>&1 || true
ikw_exec cli ping -c 3 -i 0.2 -W 2 "$IKW_PROT_ADDR" >"$OUT/ping3.out" 2>&1 || true

cp "$CL2/charon.log" "$OUT/cl2-charon.log" 2>/dev/null || true
cp "$CLI/charon.log" "$OUT/cli-charon.log" 2>/dev/null || true
ikw_swanctl "$CL2" --terminate --ike ikw --timeout 3 >/dev/null 2>&1 || true
ikw_swanctl "$CLI" --terminate --ike ikw --timeout 3 >/dev/null 2>&1 || true
sleep 0.5
