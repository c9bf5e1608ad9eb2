#!/usr/bin/env python3
"""A worked example of the IKEv2 key schedule with additional key exchanges (RFC 9370) and a
post-quantum preshared key (RFC 8784), computed from fixed inputs with nothing but Python's
standard library (hmac, hashlib), written to rfc9370_worked_example.json beside this script.

It shares no code with ikeway: `crates/crypto/tests/rfc9370_worked_example.rs` reads the JSON
and checks that ikeway_crypto::keys gives the same bytes.

Run: python3 crates/crypto/tests/data/rfc9370_worked_example.py

The steps, with PRF = HMAC-SHA-256 (RFC 4868), an IKE SA of AES-CBC-256 with
HMAC-SHA-256-128 (SK_e 32 bytes, SK_a 32 bytes), a child SA of AES-GCM-16-256 (36-byte keys,
no integrity key):

1. IKE_SA_INIT (RFC 7296 2.14):
   SKEYSEED(0) = prf(Ni | Nr, g^ir)
   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}(0) = prf+(SKEYSEED(0), Ni | Nr | SPIi | SPIr)
2. two IKE_INTERMEDIATE exchanges, ADDKE1 and ADDKE2, secrets SK(1), SK(2) (RFC 9370 2.2.2):
   SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
   {SK_d | ... | SK_pr}(n) = prf+(SKEYSEED(n), Ni | Nr | SPIi | SPIr)
3. PPK (RFC 8784 3): SK_d' = prf+(PPK, SK_d(2)), SK_pi' = prf+(PPK, SK_pi(2)),
   SK_pr' = prf+(PPK, SK_pr(2)), each as long as the PRF output
4. CREATE_CHILD_SA with a KE payload and two IKE_FOLLOWUP_KE exchanges (RFC 9370 2.2.4),
   nonces Ni', Nr':
   KEYMAT = prf+(SK_d', g^ir (new) | SK(1) | SK(2) | Ni' | Nr')
5. the same for an IKE SA rekey, new SPIs SPIi', SPIr':
   SKEYSEED = prf(SK_d', g^ir (new) | SK(1) | SK(2) | Ni' | Nr')
   {SK_d | ... | SK_pr} = prf+(SKEYSEED, Ni' | Nr' | SPIi' | SPIr')
"""

import hashlib
import hmac
import json
import os


def prf(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key: bytes, seed: bytes, length: int) -> bytes:
    """RFC 7296 2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n)."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = prf(key, t + seed + bytes([n]))
        out += t
        n += 1
    return out[:length]


def ike_keys(skeyseed: bytes, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes) -> dict:
    prf_len, integ, encr = 32, 32, 32
    names = [("sk_d", prf_len), ("sk_ai", integ), ("sk_ar", integ), ("sk_ei", encr),
             ("sk_er", encr), ("sk_pi", prf_len), ("sk_pr", prf_len)]
    stream = prf_plus(skeyseed, ni + nr + spi_i + spi_r, sum(n for _, n in names))
    keys, at = {}, 0
    for name, n in names:
        keys[name] = stream[at:at + n]
        at += n
    return keys


def filled(label: str, length: int) -> bytes:
    """Deterministic, recognisable inputs: SHA-256 of the label, repeated."""
    block = hashlib.sha256(label.encode()).digest()
    return (block * (length // 32 + 1))[:length]


def main() -> None:
    inputs = {
        "ni": filled("Ni", 32),
        "nr": filled("Nr", 32),
        "spi_i": bytes.fromhex("0011223344556677"),
        "spi_r": bytes.fromhex("8899aabbccddeeff"),
        "g_ir": filled("g^ir X25519", 32),
        "sk1": filled("SK(1) ML-KEM-768", 32),
        "sk2": filled("SK(2) ML-KEM-1024", 32),
        "ppk": filled("PPK", 40),
        "child_ni": filled("CREATE_CHILD_SA Ni", 32),
        "child_nr": filled("CREATE_CHILD_SA Nr", 32),
        "child_g_ir": filled("CREATE_CHILD_SA g^ir", 32),
        "child_sk1": filled("IKE_FOLLOWUP_KE SK(1)", 32),
        "child_sk2": filled("IKE_FOLLOWUP_KE SK(2)", 32),
        "rekey_spi_i": bytes.fromhex("0102030405060708"),
        "rekey_spi_r": bytes.fromhex("1112131415161718"),
    }
    i = inputs
    ni, nr, spi_i, spi_r = i["ni"], i["nr"], i["spi_i"], i["spi_r"]

    skeyseed0 = prf(ni + nr, i["g_ir"])
    keys0 = ike_keys(skeyseed0, ni, nr, spi_i, spi_r)

    skeyseed1 = prf(keys0["sk_d"], i["sk1"] + ni + nr)
    keys1 = ike_keys(skeyseed1, ni, nr, spi_i, spi_r)

    skeyseed2 = prf(keys1["sk_d"], i["sk2"] + ni + nr)
    keys2 = ike_keys(skeyseed2, ni, nr, spi_i, spi_r)

    ppk = i["ppk"]
    mixed = {name: prf_plus(ppk, keys2[name], 32) for name in ("sk_d", "sk_pi", "sk_pr")}

    secrets = i["child_g_ir"] + i["child_sk1"] + i["child_sk2"]
    child_nonces = i["child_ni"] + i["child_nr"]
    keymat = prf_plus(mixed["sk_d"], secrets + child_nonces, 2 * 36)
    keymat_no_pfs = prf_plus(mixed["sk_d"], child_nonces, 2 * 36)

    rekey_skeyseed = prf(mixed["sk_d"], secrets + child_nonces)
    rekey_keys = ike_keys(rekey_skeyseed, i["child_ni"], i["child_nr"],
                          i["rekey_spi_i"], i["rekey_spi_r"])

    def hexed(d: dict) -> dict:
        return {k: v.hex() for k, v in d.items()}

    out = {
        "description": "RFC 9370 / RFC 8784 key schedule worked example, computed by "
                       "rfc9370_worked_example.py (Python hmac/hashlib only); "
                       "PRF HMAC-SHA-256, IKE SK_e 32 / SK_a 32, child 2 x 36",
        "prf": "HMAC-SHA-256",
        "ike_integrity_key_len": 32,
        "ike_encryption_key_len": 32,
        "child_encryption_key_len": 36,
        "child_integrity_key_len": 0,
        "inputs": hexed(inputs),
        "skeyseed_0": skeyseed0.hex(),
        "keys_0": hexed(keys0),
        "skeyseed_1": skeyseed1.hex(),
        "keys_1": hexed(keys1),
        "skeyseed_2": skeyseed2.hex(),
        "keys_2": hexed(keys2),
        "ppk_mixed": hexed(mixed),
        "child_keymat": keymat.hex(),
        "child_keymat_no_pfs": keymat_no_pfs.hex(),
        "rekey_skeyseed": rekey_skeyseed.hex(),
        "rekey_keys": hexed(rekey_keys),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rfc9370_worked_example.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
