#!/usr/bin/env bash
# Remove a testbed left behind by a crashed run: kill every process in the namespaces
# PREFIX-cli, PREFIX-srv, PREFIX-nat, PREFIX-prot and delete them.
# Usage: testbeds/cleanup.sh [PREFIX]      (default: $IKW_PREFIX or "ikw")
#        testbeds/cleanup.sh --list        (show the ikw* namespaces that exist)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"
if [ "${1:-}" = --list ]; then
    ip netns list | awk '{print $1}' | grep '^ikw' || echo "(no ikw* namespaces)"
    exit 0
fi
export IKW_PREFIX="${1:-${IKW_PREFIX:-ikw}}"
unset IKW_NS_CLI IKW_NS_SRV IKW_NS_PROT IKW_WORKDIR
ikw_topo_down
echo "cleaned namespaces with prefix $IKW_PREFIX"
