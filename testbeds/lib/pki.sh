# shellcheck shell=bash
# Certificates for the interop testbeds, made with strongSwan's `pki` tool (PKCS#12 bundles with
# openssl). Source lib/netns.sh first (for ikw_log/ikw_die), then this file.
#
# Every function works in one folder, $IKW_PKI_DIR (set by ikw_pki_init). Files, per NAME:
#   NAME.key   private key, PEM (RSA: PKCS#1, ECDSA: SEC1, Ed25519: PKCS#8), as pki writes them
#   NAME.crt   certificate, PEM
#   NAME.crl   CRL, PEM (ikw_pki_crl)        NAME.p12  PKCS#12 bundle (ikw_pki_p12)
#
# Functions:
#   ikw_pki_init DIR               create DIR, point pki at its own strongswan.conf (only the
#                                  plugins it needs: no TPM noise)
#   ikw_pki_key NAME TYPE          new key; TYPE: rsa2048 rsa3072 rsa4096 p256 p384 ed25519
#   ikw_pki_root NAME TYPE CN      self-signed CA (basicConstraints CA, keyCertSign/cRLSign)
#   ikw_pki_issue NAME TYPE ISSUER DN [PKI_ARGS...]
#                                  new key NAME.key and NAME.crt signed by ISSUER; PKI_ARGS go to
#                                  `pki --issue` (--san, --flag serverAuth|clientAuth|
#                                  ikeIntermediate, --ca --pathlen N, --crl URI, --not-before/
#                                  --not-after DATE from ikw_pki_date ...)
#   ikw_pki_date DAYS              a date DAYS (may be negative) from now, in pki's --dateform
#   ikw_pki_crl NAME ISSUER CERT...  CRL by ISSUER revoking the CERTs (key-compromise)
#   ikw_pki_p12 NAME PASSWORD [CHAIN_CERT...]  NAME.key + NAME.crt (+ chain) as NAME.p12
#   ikw_pki_chain OUT CERT...      concatenate certificates (end entity first) into OUT
#   ikw_pki_testset DIR            the set the certificate scenarios use (below)
#   ikw_pki_eapset DIR             the part of it the EAP testbed needs (root-ec, inter-ec,
#                                  srv-ec + chain, cli-ec, root-rogue, srv-untrusted)
#
# The test set (ikw_pki_testset), every end entity valid for 1 year unless said otherwise:
#   root-ec     ECDSA P-384 root "CN=ikeway test root EC"
#   root-rsa    RSA 2048 root "CN=ikeway test root RSA"
#   inter-ec    ECDSA P-256 intermediate under root-ec (pathlen 0)
#   inter-lost  ECDSA P-256 intermediate under root-ec that no peer ever sends (truncated chain)
#   root-rogue  ECDSA P-256 root "CN=ikeway rogue root", trusted by nobody
#   root-forged ECDSA P-384 root with root-ec's very DN but its own key
#   Server certificates: DN CN=srv.ikeway.test, SAN DNS srv.ikeway.test, EKU serverAuth +
#   ikeIntermediate (iOS-style), unless said otherwise:
#   srv-ec      P-256 by inter-ec (chain: srv-ec, inter-ec)     srv-p384   P-384 by root-ec
#   srv-rsa     RSA 3072 by root-rsa                            srv-ed     Ed25519 by root-ec
#   srv-ip      P-256 by root-ec, DN CN=10.99.0.27 and SAN IP 10.99.0.27 (a server known by address)
#   srv-untrusted P-256 by root-rogue                           srv-forged P-256 by root-forged
#   srv-expired   P-256 by root-ec, valid from -400 to -1 days
#   srv-future    P-256 by root-ec, valid from +30 to +400 days
#   srv-wrongsan  P-256 by root-ec, DN and SAN other.ikeway.test
#   srv-eku       P-256 by root-ec, EKU clientAuth only
#   srv-revoked   P-256 by root-ec, CRL distribution point $IKW_PKI_CRL_URL (revoked in root-ec.crl)
#   srv-trunc     P-256 by inter-lost
#   Client certificates: DN CN=cli.ikeway.test, SAN DNS cli.ikeway.test, EKU clientAuth:
#   cli-ec P-256 by root-ec; cli-rsa RSA 2048 by root-rsa (signed with RSASSA-PSS); cli-ed Ed25519 by root-ec;
#   cli-untrusted P-256 by root-rogue; cli-expired P-256 by root-ec (-400 to -1 days);
#   cli-revoked P-256 by root-ec (revoked in root-ec.crl)
#   root-ec.crl   revokes srv-revoked and cli-revoked; root-ec-empty.crl revokes nothing
#   cli-ec.p12    cli-ec's key and certificate, password "ikeway-p12"
#   srv-ec.chain.crt  srv-ec + inter-ec (for a responder that must send its intermediate)
#
# Env: IKW_PKI_CRL_URL [http://10.99.0.2:8081/root-ec.crl] the distribution point in srv-revoked

ikw_pki_init() { # DIR
    IKW_PKI_DIR="$1"
    mkdir -p "$IKW_PKI_DIR"
    IKW_PKI_DIR="$(cd "$IKW_PKI_DIR" && pwd)"
    export IKW_PKI_DIR
    cat >"$IKW_PKI_DIR/pki.conf" <<'EOF'
pki {
    load = pem pkcs1 pkcs8 x509 openssl random nonce pubkey revocation constraints sha1 sha2 gmp curve25519
}
EOF
}

_ikw_pki() { # ARGS... : pki with our own plugin list
    STRONGSWAN_CONF="$IKW_PKI_DIR/pki.conf" pki "$@"
}

ikw_pki_key() { # NAME TYPE
    local out="$IKW_PKI_DIR/$1.key"
    case "$2" in
    rsa2048) _ikw_pki --gen --type rsa --size 2048 --outform pem >"$out" ;;
    rsa3072) _ikw_pki --gen --type rsa --size 3072 --outform pem >"$out" ;;
    rsa4096) _ikw_pki --gen --type rsa --size 4096 --outform pem >"$out" ;;
    p256) _ikw_pki --gen --type ecdsa --size 256 --outform pem >"$out" ;;
    p384) _ikw_pki --gen --type ecdsa --size 384 --outform pem >"$out" ;;
    ed25519) _ikw_pki --gen --type ed25519 --outform pem >"$out" ;;
    *) ikw_die "ikw_pki_key: unknown key type '$2'" ;;
    esac || ikw_die "pki --gen $2 failed"
}

ikw_pki_root() { # NAME TYPE CN
    ikw_pki_key "$1" "$2"
    _ikw_pki --self --in "$IKW_PKI_DIR/$1.key" --type priv --dn "CN=$3" --ca --lifetime 730 \
        --outform pem >"$IKW_PKI_DIR/$1.crt" || ikw_die "pki --self $1 failed"
}

ikw_pki_issue() { # NAME TYPE ISSUER DN [PKI_ARGS...]
    local name="$1" type="$2" issuer="$3" dn="$4"
    shift 4
    ikw_pki_key "$name" "$type"
    _ikw_pki --issue --in "$IKW_PKI_DIR/$name.key" --type priv \
        --cacert "$IKW_PKI_DIR/$issuer.crt" --cakey "$IKW_PKI_DIR/$issuer.key" \
        --dn "$dn" --lifetime 365 "$@" --outform pem >"$IKW_PKI_DIR/$name.crt" ||
        ikw_die "pki --issue $name failed"
}

ikw_pki_date() { # DAYS
    date -d "$1 days" '+%d.%m.%y %T'
}

ikw_pki_crl() { # NAME ISSUER CERT...
    local name="$1" issuer="$2" c args=()
    shift 2
    for c in "$@"; do args+=(--reason key-compromise --cert "$IKW_PKI_DIR/$c.crt"); done
    _ikw_pki --signcrl --cacert "$IKW_PKI_DIR/$issuer.crt" --cakey "$IKW_PKI_DIR/$issuer.key" \
        --lifetime 30 "${args[@]}" --outform pem >"$IKW_PKI_DIR/$name.crl" ||
        ikw_die "pki --signcrl $name failed"
}

ikw_pki_chain() { # OUT CERT...
    local out="$1" c
    shift
    : >"$IKW_PKI_DIR/$out"
    for c in "$@"; do cat "$IKW_PKI_DIR/$c.crt" >>"$IKW_PKI_DIR/$out"; done
}

ikw_pki_p12() { # NAME PASSWORD [CHAIN_CERT...]
    local name="$1" pass="$2" c chain=()
    shift 2
    for c in "$@"; do chain+=(-certfile "$IKW_PKI_DIR/$c.crt"); done
    openssl pkcs12 -export -inkey "$IKW_PKI_DIR/$name.key" -in "$IKW_PKI_DIR/$name.crt" \
        "${chain[@]}" -name "$name" -passout "pass:$pass" -out "$IKW_PKI_DIR/$name.p12" ||
        ikw_die "openssl pkcs12 $name failed"
}

# The part of the test set every scenario needs (the certificate and the EAP testbeds):
# root-ec, inter-ec, srv-ec (+ srv-ec.chain.crt), cli-ec, root-rogue, srv-untrusted.
_ikw_pki_core() {
    local srv=(--san srv.ikeway.test --flag serverAuth --flag ikeIntermediate)
    ikw_pki_root root-ec p384 "ikeway test root EC"
    ikw_pki_root root-rogue p256 "ikeway rogue root"
    ikw_pki_issue inter-ec p256 root-ec "CN=ikeway test intermediate" --ca --pathlen 0
    ikw_pki_issue srv-ec p256 inter-ec "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue srv-untrusted p256 root-rogue "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue cli-ec p256 root-ec "CN=cli.ikeway.test" --san cli.ikeway.test --flag clientAuth
    ikw_pki_chain srv-ec.chain.crt srv-ec inter-ec
}

# What the EAP testbed (lib/eapbed.sh) needs: the core above, about 1 s.
ikw_pki_eapset() { # DIR
    ikw_pki_init "$1"
    _ikw_pki_core
}

ikw_pki_testset() { # DIR
    ikw_pki_init "$1"
    local crl_url="${IKW_PKI_CRL_URL:-http://10.99.0.2:8081/root-ec.crl}"
    local srv=(--san srv.ikeway.test --flag serverAuth --flag ikeIntermediate)
    local cli=(--san cli.ikeway.test --flag clientAuth)
    local past=(--not-before "$(ikw_pki_date -400)" --not-after "$(ikw_pki_date -1)")
    _ikw_pki_core
    ikw_pki_root root-rsa rsa2048 "ikeway test root RSA"
    ikw_pki_root root-forged p384 "ikeway test root EC"
    ikw_pki_issue inter-lost p256 root-ec "CN=ikeway lost intermediate" --ca --pathlen 0

    ikw_pki_issue srv-p384 p384 root-ec "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue srv-rsa rsa3072 root-rsa "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue srv-ed ed25519 root-ec "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue srv-ip p256 root-ec "CN=10.99.0.27" --san 10.99.0.27 --flag serverAuth \
        --flag ikeIntermediate
    ikw_pki_issue srv-forged p256 root-forged "CN=srv.ikeway.test" "${srv[@]}"
    ikw_pki_issue srv-expired p256 root-ec "CN=srv.ikeway.test" "${srv[@]}" "${past[@]}"
    ikw_pki_issue srv-future p256 root-ec "CN=srv.ikeway.test" "${srv[@]}" \
        --not-before "$(ikw_pki_date 30)" --not-after "$(ikw_pki_date 400)"
    ikw_pki_issue srv-wrongsan p256 root-ec "CN=other.ikeway.test" --san other.ikeway.test \
        --flag serverAuth --flag ikeIntermediate
    ikw_pki_issue srv-eku p256 root-ec "CN=srv.ikeway.test" --san srv.ikeway.test --flag clientAuth
    ikw_pki_issue srv-revoked p256 root-ec "CN=srv.ikeway.test" "${srv[@]}" --crl "$crl_url"
    ikw_pki_issue srv-trunc p256 inter-lost "CN=srv.ikeway.test" "${srv[@]}"

    ikw_pki_issue cli-rsa rsa2048 root-rsa "CN=cli.ikeway.test" "${cli[@]}" --rsa-padding pss
    ikw_pki_issue cli-ed ed25519 root-ec "CN=cli.ikeway.test" "${cli[@]}"
    ikw_pki_issue cli-untrusted p256 root-rogue "CN=cli.ikeway.test" "${cli[@]}"
    ikw_pki_issue cli-expired p256 root-ec "CN=cli.ikeway.test" "${cli[@]}" "${past[@]}"
    ikw_pki_issue cli-revoked p256 root-ec "CN=cli.ikeway.test" "${cli[@]}"

    ikw_pki_crl root-ec root-ec srv-revoked cli-revoked
    ikw_pki_crl root-ec-empty root-ec
    ikw_pki_p12 cli-ec ikeway-p12
}
