#!/usr/bin/env bash
# Install the interop peers used by the testbeds (idempotent; run as root on Debian 12).
#
#   strongSwan (charon-systemd + swanctl + pki + standard plugins (openssl, gcm) + extra plugins
#   incl. kernel-libipsec, eap-identity, eap-md5, eap-tls + extauth plugins (eap-mschapv2))
#   iperf3, nftables, iproute2, tshark (non-setuid dumpcap, preseeded)
#   libnss3-tools (certutil) and libreswan's runtime libraries
#   libreswan itself: NOT installed (it conflicts with strongSwan); the .deb is downloaded with
#   `apt-get download` and unpacked with `dpkg-deb -x` into testbeds/.peers/libreswan/.
#   systemd-resolved likewise, into testbeds/.peers/systemd-resolved/ (installing it would
#   replace this host's /etc/resolv.conf); dbus-daemon for its private bus.
#
# Prints what it installed; exits non-zero with a message naming what failed.
# Env: IKW_PEERS_DIR (default: testbeds/.peers next to this script),
#      IKW_NO_APT_UPDATE=1 to skip `apt-get update` even when packages are missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${IKW_PEERS_DIR:-$HERE/.peers}"
LIBRESWAN_DIR="$PEERS_DIR/libreswan"

die() { echo "install-peers: ERROR: $*" >&2; exit 1; }
say() { echo "install-peers: $*"; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install, dpkg-deb)"
command -v apt-get >/dev/null || die "apt-get not found: this installer is for Debian 12"

export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(
    strongswan-swanctl charon-systemd strongswan-pki
    libstrongswan-standard-plugins libstrongswan-extra-plugins libcharon-extra-plugins
    libcharon-extauth-plugins
    iperf3 nftables iproute2 iputils-ping tshark libnss3-tools
)

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

updated=0
apt_update_once() {
    if [ "$updated" -eq 0 ] && [ "${IKW_NO_APT_UPDATE:-0}" != 1 ]; then
        say "apt-get update"
        apt-get update -qq >/dev/null || die "apt-get update failed"
        updated=1
    fi
}

# tshark: answer the "non-superusers capture" question before the install asks it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

install_pkgs() { # names...
    local missing=() p
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
    apt_update_once
    say "apt-get install ${missing[*]}"
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/ikw-install-peers.$$.log 2>&1; then
        tail -n 20 /tmp/ikw-install-peers.$$.log >&2
        rm -f /tmp/ikw-install-peers.$$.log
        die "apt-get install failed for: ${missing[*]}"
    fi
    rm -f /tmp/ikw-install-peers.$$.log
    for p in "${missing[@]}"; do
        is_installed "$p" || die "package $p still not installed after apt-get install"
        NEWLY+=("$p")
    done
}

NEWLY=()
install_pkgs "${APT_PKGS[@]}"

# ---- libreswan: download + unpack, and install its runtime dependencies (not the package).
mkdir -p "$PEERS_DIR"
if [ -x "$LIBRESWAN_DIR/usr/libexec/ipsec/pluto" ] && [ -f "$LIBRESWAN_DIR/.version" ]; then
    say "libreswan already unpacked in $LIBRESWAN_DIR ($(cat "$LIBRESWAN_DIR/.version"))"
    deb_deps="$(cat "$LIBRESWAN_DIR/.depends")"
else
    dl="$(mktemp -d)"
    trap 'rm -rf "$dl"' EXIT
    apt_update_once
    say "apt-get download libreswan"
    if ! (cd "$dl" && apt-get download -q libreswan >/dev/null 2>"$dl/err"); then
        cat "$dl/err" >&2 || true
        die "apt-get download libreswan failed"
    fi
    deb="$(ls "$dl"/libreswan_*.deb 2>/dev/null | head -n1)"
    [ -n "$deb" ] || die "no libreswan .deb after apt-get download"
    rm -rf "$LIBRESWAN_DIR.tmp"
    dpkg-deb -x "$deb" "$LIBRESWAN_DIR.tmp" || die "dpkg-deb -x $deb failed"
    dpkg-deb -f "$deb" Version >"$LIBRESWAN_DIR.tmp/.version"
    dpkg-deb -f "$deb" Depends >"$LIBRESWAN_DIR.tmp/.depends"
    rm -rf "$LIBRESWAN_DIR"
    mv "$LIBRESWAN_DIR.tmp" "$LIBRESWAN_DIR"
    deb_deps="$(cat "$LIBRESWAN_DIR/.depends")"
    NEWLY+=("libreswan $(cat "$LIBRESWAN_DIR/.version") (unpacked to $LIBRESWAN_DIR)")
fi

# Depends: "a (>= 1), b | c, d" -> first alternative of each, without version or arch.
mapfile -t LS_DEPS < <(echo "$deb_deps" | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' \
    -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v '^$' | grep -v '^debconf' | sort -u)
# `iproute` is virtual: iproute2 provides it. `host` is virtual too (bind9-host); pluto doesn't need it.
LS_REAL=()
for p in "${LS_DEPS[@]}"; do
    case "$p" in iproute) p=iproute2 ;; host) continue ;; esac
    LS_REAL+=("$p")
done
install_pkgs "${LS_REAL[@]}"

# ---- verify
PLUTO="$LIBRESWAN_DIR/usr/libexec/ipsec/pluto"
[ -x "$PLUTO" ] || die "pluto missing at $PLUTO"
if ldd "$PLUTO" | grep -q 'not found'; then
    ldd "$PLUTO" | grep 'not found' >&2
    die "pluto has unresolved libraries"
fi
for b in charon-systemd swanctl pki iperf3 nft ip ping tshark certutil; do
    command -v "$b" >/dev/null || die "$b not on PATH after install"
done
for pl in kernel-libipsec:libcharon-extra-plugins openssl:libstrongswan-standard-plugins \
    gcm:libstrongswan-standard-plugins curve25519:libstrongswan-extra-plugins \
    chapoly:libstrongswan-extra-plugins eap-mschapv2:libcharon-extauth-plugins \
    eap-identity:libcharon-extra-plugins eap-md5:libcharon-extra-plugins \
    eap-tls:libcharon-extra-plugins; do
    [ -f "/usr/lib/ipsec/plugins/libstrongswan-${pl%%:*}.so" ] ||
        die "strongSwan plugin ${pl%%:*} missing (package ${pl#*:})"
done

# ---- systemd-resolved for the split DNS test (crates/ikeway/tests/dns_netns.rs): downloaded
# and unpacked into .peers/systemd-resolved, never installed (its postinst would replace this
# host's /etc/resolv.conf with the stub's). It runs only inside a test's mount and network
# namespaces, on a private D-Bus. It needs the installed systemd's libsystemd-shared of the
# same version.
RESOLVED_DIR="$PEERS_DIR/systemd-resolved"
if [ -x "$RESOLVED_DIR/lib/systemd/systemd-resolved" ] && [ -f "$RESOLVED_DIR/.version" ]; then
    say "systemd-resolved already unpacked in $RESOLVED_DIR ($(cat "$RESOLVED_DIR/.version"))"
else
    dl="$(mktemp -d)"
    trap 'rm -rf "$dl"' EXIT
    apt_update_once
    say "apt-get download systemd-resolved"
    if ! (cd "$dl" && apt-get download -q systemd-resolved >/dev/null 2>"$dl/err"); then
        cat "$dl/err" >&2 || true
        die "apt-get download systemd-resolved failed"
    fi
    deb="$(ls "$dl"/systemd-resolved_*.deb 2>/dev/null | head -n1)"
    [ -n "$deb" ] || die "no systemd-resolved .deb after apt-get download"
    rm -rf "$RESOLVED_DIR.tmp"
    dpkg-deb -x "$deb" "$RESOLVED_DIR.tmp" || die "dpkg-deb -x $deb failed"
    dpkg-deb -f "$deb" Version >"$RESOLVED_DIR.tmp/.version"
    rm -rf "$RESOLVED_DIR"
    mv "$RESOLVED_DIR.tmp" "$RESOLVED_DIR"
    NEWLY+=("systemd-resolved $(cat "$RESOLVED_DIR/.version") (unpacked to $RESOLVED_DIR)")
fi
install_pkgs dbus-daemon
for b in "$RESOLVED_DIR/lib/systemd/systemd-resolved" "$RESOLVED_DIR/usr/bin/resolvectl"; do
    if ldd "$b" | grep -q 'not found'; then
        ldd "$b" | grep 'not found' >&2
        die "$b has unresolved libraries (systemd $(dpkg-query -W -f='${Version}' systemd) installed, resolved $(cat "$RESOLVED_DIR/.version") unpacked)"
    fi
done

if [ "${#NEWLY[@]}" -eq 0 ]; then
    say "nothing to do: everything already installed"
else
    say "installed:"
    for p in "${NEWLY[@]}"; do echo "  - $p"; done
fi
say "strongSwan $(dpkg-query -W -f='${Version}' charon-systemd), libreswan $(cat "$LIBRESWAN_DIR/.version"), tshark $(dpkg-query -W -f='${Version}' tshark)"
say "pluto: $PLUTO"

# ==== datapath peers (testbeds/datapath.sh, issue 4) ==========================================
# wireguard-go and wg from Debian; boringtun-cli built from crates.io into .peers/boringtun
# (not committed). Only the datapath benchmark needs them, so they are installed only with
# --bench-peers (`cargo xtask bench datapath` asks for them; CI does not); a failure here is
# reported, not fatal.
if [ "${1:-}" = --bench-peers ]; then
    install_pkgs wireguard-go wireguard-tools
    BORINGTUN_DIR="$PEERS_DIR/boringtun"
    if [ ! -x "$BORINGTUN_DIR/bin/boringtun-cli" ]; then
        if command -v cargo >/dev/null; then
            say "cargo install boringtun-cli --locked --root $BORINGTUN_DIR (a few minutes)"
            cargo install boringtun-cli --locked --root "$BORINGTUN_DIR" >/tmp/ikw-boringtun.$$.log 2>&1 ||
                { tail -n 20 /tmp/ikw-boringtun.$$.log >&2; say "WARNING: boringtun-cli not installed"; }
            rm -f /tmp/ikw-boringtun.$$.log
        else
            say "WARNING: cargo missing: boringtun-cli not installed"
        fi
    fi
    if [ -x "$BORINGTUN_DIR/bin/boringtun-cli" ]; then
        say "boringtun-cli: $BORINGTUN_DIR/bin/boringtun-cli"
    fi
fi
