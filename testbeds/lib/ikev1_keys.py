#!/usr/bin/env python3
"""The IKEv1 keys charon printed, for tshark and for known-answer tests.

Usage: ikev1_keys.py CHARON_LOG OUT_PREFIX

CHARON_LOG is a charon filelog written with `ike = 4` and `chd = 4` (and `ike_name = yes`):
at that level charon dumps every key it derives, as a "LABEL => N bytes @ ADDR" line
followed by hex lines, each tagged with the IKE SA ("<name|unique id>").

Writes:
  OUT_PREFIX.keys.json  one object per IKE SA, in the order they appear: name, id,
                        icookie/rcookie (from the first NAT-D input, CKY-I | CKY-R | address |
                        port), the phase 1 values (dh_secret, skeyid, skeyid_d, skeyid_a,
                        skeyid_e, enc_key = Ka, initial_iv, hash_i, hash_r), every "next IV
                        for MID n" in order (iv_chain: [mid, iv]), and the quick mode keys
                        (children: the SPIs of each "CHILD_SA ... established" line with the
                        encryption/integrity initiator/responder keys derived before it);
                        all values lowercase hex
  OUT_PREFIX.ikev1_decryption_table
                        Wireshark's UAT: "icookie,enc_key" per IKE SA that has both
Exits 1 when the log holds no IKE SA with keys.
"""

import json
import re
import sys

TAG = re.compile(r"<([^|>]+)\|(\d+)>")
LABEL = re.compile(r"\] <[^>]+> (.+?) => (\d+) bytes @ ")
HEX = re.compile(r"\] <[^>]+> +\d+: ((?:[0-9A-F]{2} ){1,16})")
CHILD = re.compile(r"CHILD_SA \S+ established with SPIs ([0-9a-f]+)_i ([0-9a-f]+)_o")

PHASE1 = {
    "shared Diffie Hellman secret": "dh_secret",
    "SKEYID": "skeyid",
    "SKEYID_d": "skeyid_d",
    "SKEYID_a": "skeyid_a",
    "SKEYID_e": "skeyid_e",
    "encryption key Ka": "enc_key",
    "initial IV": "initial_iv",
    "HASH_I": "hash_i",
    "HASH_R": "hash_r",
}
CHILD_KEYS = {
    "encryption initiator key": "enc_i",
    "encryption responder key": "enc_r",
    "integrity initiator key": "integ_i",
    "integrity responder key": "integ_r",
}


def dumps(lines):
    """(tag, label, bytes) for every labelled dump, in order."""
    current = None
    for line in lines:
        tag = TAG.search(line)
        label = LABEL.search(line)
        if label and tag:
            if current:
                yield current
            current = ((tag.group(1), int(tag.group(2))), label.group(1), int(label.group(2)), [])
            continue
        hexline = HEX.search(line)
        if hexline and current and tag and (tag.group(1), int(tag.group(2))) == current[0]:
            current[3].append(hexline.group(1).replace(" ", "").lower())
            continue
        if current:
            yield current
            current = None
        child = CHILD.search(line)
        if child and tag:
            yield ((tag.group(1), int(tag.group(2))), "CHILD", 0, [child.group(1), child.group(2)])
    if current:
        yield current


def main():
    log, prefix = sys.argv[1], sys.argv[2]
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    sas = {}
    pending_child = {}
    for key, label, size, data in dumps(lines):
        sa = sas.setdefault(key, {"name": key[0], "id": key[1], "iv_chain": [], "children": []})
        if label == "CHILD":
            child = pending_child.pop(key, {})
            child.update({"spi_in": data[0], "spi_out": data[1]})
            sa["children"].append(child)
            continue
        value = "".join(data)
        if len(value) != 2 * size:
            continue  # a dump cut short (log rotated or interleaved): never guess
        if label in PHASE1 and PHASE1[label] not in sa:
            sa[PHASE1[label]] = value
        elif label == "natd_chunk" and "icookie" not in sa:
            sa["icookie"], sa["rcookie"] = value[:16], value[16:32]
        elif label.startswith("next IV for MID "):
            sa["iv_chain"].append([int(label.rsplit(" ", 1)[1]), value])
        elif label in CHILD_KEYS:
            pending_child.setdefault(key, {})[CHILD_KEYS[label]] = value
    keyed = [sa for sa in sas.values() if "enc_key" in sa]
    with open(prefix + ".keys.json", "w", encoding="utf-8") as f:
        for sa in keyed:
            f.write(json.dumps(sa, sort_keys=True) + "\n")
    with open(prefix + ".ikev1_decryption_table", "w", encoding="utf-8") as f:
        for sa in keyed:
            if "icookie" in sa:
                f.write(f"{sa['icookie']},{sa['enc_key']}\n")
    if not keyed:
        print(f"{log}: no IKE SA with keys (is ike = 4 set?)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
