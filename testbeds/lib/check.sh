# shellcheck shell=bash
# PASS/FAIL bookkeeping for the selftests. Source it; `check WHAT CMD...` runs CMD and counts.
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }
