#!/usr/bin/env python3
"""Writes modp1024_python_pow.json: Diffie-Hellman exchanges in IKE group 2 (the 1024-bit MODP
group of RFC 2409 section 6.2, generator 2) computed with Python's built-in pow(), from the
prime derived here from the RFC's formula (an integer Machin pi), independently of ikeway.

Run: python3 modp1024_python_pow.py > modp1024_python_pow.json
"""
import hashlib
import json


def pi_times_2_pow(bits):
    """floor(pi * 2^bits), by Machin's formula in fixed point with 64 guard bits."""
    one = 1 << (bits + 64)

    def arctan_inv(x):
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


def is_probable_prime(n, rounds=32):
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for i in range(rounds):
        a = 2 + int.from_bytes(hashlib.sha256(b"mr%d" % i).digest(), "big") % (n - 4)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


P = 2**1024 - 2**960 - 1 + 2**64 * (pi_times_2_pow(894) + 129093)
assert is_probable_prime(P) and is_probable_prime((P - 1) // 2), "not a safe prime"
G = 2
LEN = 128


def exponent(label, length):
    """A fixed exponent of `length` bytes from SHA-256 of a label (no randomness: reproducible)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(b"%s/%d" % (label, counter)).digest()
        counter += 1
    return out[:length]


vectors = []
for name, length in (("exp32", 32), ("exp128", 128)):
    x_i = exponent(b"ikeway modp1024 initiator " + name.encode(), length)
    x_r = exponent(b"ikeway modp1024 responder " + name.encode(), length)
    a, b = int.from_bytes(x_i, "big"), int.from_bytes(x_r, "big")
    assert 1 < a < P - 1 and 1 < b < P - 1
    pub_i, pub_r = pow(G, a, P), pow(G, b, P)
    shared = pow(pub_r, a, P)
    assert shared == pow(pub_i, b, P)
    vectors.append({
        "id": "modp1024-" + name,
        "ike_group": 2,
        "x_i": x_i.hex(),
        "x_r": x_r.hex(),
        "pub_i": pub_i.to_bytes(LEN, "big").hex(),
        "pub_r": pub_r.to_bytes(LEN, "big").hex(),
        "shared": shared.to_bytes(LEN, "big").hex(),
    })

print(json.dumps({
    "title": "IKE group 2 (MODP-1024, RFC 2409 6.2) Diffie-Hellman computed with Python pow()",
    "how_produced": "modp1024_python_pow.py: prime from the RFC 2409 6.2 formula with an integer "
                    "Machin pi (safe prime checked by Miller-Rabin), exponents from SHA-256 of "
                    "fixed labels, pub = pow(2, x, p), shared = pow(pub_peer, x, p), both ways",
    "prime_hex": P.to_bytes(LEN, "big").hex().upper(),
    "vectors": vectors,
}, indent=1))
