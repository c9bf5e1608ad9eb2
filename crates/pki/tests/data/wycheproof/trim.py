#!/usr/bin/env python3
"""Makes the trimmed Wycheproof files of this directory from a checkout of
https://github.com/C2SP/wycheproof (see ../SOURCES.md for the commit):

    python3 trim.py /path/to/wycheproof/testvectors_v1

Keeps, per file, the largest test group and the first ten others; inside a group of more than
130 tests, the first 65 invalid tests and the first 65 others (valid, acceptable). Drops the
key's PEM, JWK and parsed forms (publicKeyDer stays), the notes and the header."""
import json
import os
import sys

FILES = [
    "ecdsa_secp256r1_sha256_test.json",
    "ecdsa_secp256r1_sha256_p1363_test.json",
    "ecdsa_secp384r1_sha384_p1363_test.json",
    "ecdsa_secp521r1_sha512_p1363_test.json",
    "ed25519_test.json",
    "rsa_signature_2048_sha256_test.json",
    "rsa_pss_2048_sha256_mgf1_32_test.json",
]
DROPPED = {"publicKeyPem", "publicKeyJwk", "publicKey", "publicKeyAsn", "keyJwk"}
MAX_TESTS = 130


def trim(path):
    d = json.load(open(path))
    groups = d["testGroups"]
    big = max(range(len(groups)), key=lambda i: len(groups[i]["tests"]))
    keep = sorted([big] + [i for i in range(len(groups)) if i != big][:10])
    out_groups = []
    for i in keep:
        g = {k: v for k, v in groups[i].items() if k not in DROPPED}
        tests = groups[i]["tests"]
        if len(tests) > MAX_TESTS:
            invalid = [t for t in tests if t["result"] == "invalid"][: MAX_TESTS // 2]
            other = [t for t in tests if t["result"] != "invalid"][: MAX_TESTS // 2]
            ids = {t["tcId"] for t in invalid + other}
            tests = [t for t in tests if t["tcId"] in ids]
        g["tests"] = [
            {k: t[k] for k in ("tcId", "comment", "flags", "msg", "sig", "result")} for t in tests
        ]
        out_groups.append(g)
    return {
        "algorithm": d["algorithm"],
        "schema": d["schema"],
        "numberOfTests": sum(len(g["tests"]) for g in out_groups),
        "testGroups": out_groups,
    }


if __name__ == "__main__":
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    for name in FILES:
        out = trim(os.path.join(src, name))
        with open(os.path.join(here, name), "w") as f:
            f.write(json.dumps(out, separators=(",", ":")) + "\n")
