#!/usr/bin/env bash
# testbeds/ikev1-interop.sh behind the NAT namespace (lib/netns.sh's nat topology): the same
# cases, the client at 10.98.0.2 seen by strongSwan as 10.99.0.3.
# Usage: ikev1-interop-nat.sh OUTDIR IKEWAY_BINARY
IKW_V1_TOPO=nat exec "$(dirname "${BASH_SOURCE[0]}")/ikev1-interop.sh" "$@"
