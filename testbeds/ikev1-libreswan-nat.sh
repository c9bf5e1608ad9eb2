#!/usr/bin/env bash
# testbeds/ikev1-libreswan.sh behind the NAT namespace (lib/netns.sh's nat topology): its aggr
# case only, the client at 10.98.0.2 seen by pluto as 10.99.0.3. IKE ONLY, as the direct bed.
# pluto logs NAT-T detection, the port change and the quick mode's encapsulation mode only at
# debug level, so it runs with plutodebug=base here.
# Usage: ikev1-libreswan-nat.sh OUTDIR IKEWAY_BINARY
IKW_V1_TOPO=nat IKW_V1LS_DEBUG="${IKW_V1LS_DEBUG:-base}" \
    exec "$(dirname "${BASH_SOURCE[0]}")/ikev1-libreswan.sh" "$@"
