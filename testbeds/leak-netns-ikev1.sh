#!/usr/bin/env bash
# leak-netns.sh with an IPSec (IKEv1, "Cisco IPSec") configuration against lib/ikev1bed.sh's
# aggr-psk gateway: see leak-netns.sh. Usage: testbeds/leak-netns-ikev1.sh OUTDIR IKEWAY_BINARY
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IKW_LEAK_IKEV1=1 exec bash "$HERE/leak-netns.sh" "$@"
