#!/usr/bin/env python3
"""Regenerate tshark's view of the decode test captures.

For every capture in crates/ikeway/tests/data/captures/, run tshark with the key table and
write <capture>.tshark: one line per frame, the fields listed in tshark_fields.txt, separated
by '|', every occurrence of a field comma-separated. tests/decode_vs_tshark.rs compares
`ikeway decode` with these lines (and with a live tshark run when tshark is installed).

Usage: cargo xtask tshark-expect   (or python3 testbeds/tshark_expect.py)
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

DIR = pathlib.Path(__file__).resolve().parent.parent / "crates/ikeway/tests/data/captures"


def tshark_lines(capture: pathlib.Path) -> str:
    fields = (DIR / "tshark_fields.txt").read_text().split()
    with tempfile.TemporaryDirectory() as conf:
        shutil.copy(DIR / "ikev2_decryption_table", pathlib.Path(conf) / "ikev2_decryption_table")
        cmd = ["tshark", "-r", str(capture), "-T", "fields", "-E", "occurrence=a", "-E", "separator=|"]
        for f in fields:
            cmd += ["-e", f]
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
        return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def main() -> int:
    if shutil.which("tshark") is None:
        print("tshark is not installed (apt-get install tshark)", file=sys.stderr)
        return 1
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    for capture in sorted(DIR.iterdir()):
        if capture.suffix not in (".pcap", ".pcapng"):
            continue
        out = capture.with_name(capture.name + ".tshark")
        out.write_text(tshark_lines(capture))
        print(f"{out.relative_to(DIR.parent.parent.parent.parent)}  ({version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
