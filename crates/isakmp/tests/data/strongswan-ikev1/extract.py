import subprocess, sys, os, re, shutil
src = "/work/ikev1-data"
dst = sys.argv[1]
EXCH = {2: "MAIN", 4: "AGGRESSIVE", 5: "INFORMATIONAL", 6: "TRANSACTION", 32: "QUICK"}
for case in ["v1-aggr", "v1-aggr-badpsk", "v1-aggr-badpw", "v1-main-cert"]:
    cfg = f"/tmp/extract/ws-{case}"
    os.makedirs(cfg, exist_ok=True)
    shutil.copy(f"{src}/{case}.ikev1_decryption_table", f"{cfg}/ikev1_decryption_table")
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=cfg)
    out = subprocess.run(["tshark", "-r", f"{src}/{case}.pcapng", "-T", "fields", "-e", "frame.number",
                          "-e", "udp.srcport", "-e", "udp.dstport", "-e", "ip.src", "-e", "udp.payload", "-e", "isakmp.ispi"],
                         capture_output=True, text=True, env=env).stdout
    def plain_of(f):
        x = subprocess.run(["tshark", "-r", f"{src}/{case}.pcapng", "-x", "-Y", f"frame.number=={f}"],
                           capture_output=True, text=True, env=env).stdout
        cur = None
        for line in x.splitlines():
            if line.startswith("Decrypted IKE"):
                cur = []
            elif cur is not None and re.match(r"^[0-9a-f]{4}  ", line):
                cur.extend(line[6:54].split())
            elif cur is not None and line.strip() == "":
                break
        return cur
    plains = {}
    d = os.path.join(dst, case)
    os.makedirs(d, exist_ok=True)
    n = 0
    for row in out.splitlines():
        f, sp, dp, ipsrc, payload, ispi = (row.split("\t") + [""] * 6)[:6]
        if not ispi:
            continue  # ESP or keepalive
        b = bytes.fromhex(payload)
        if "4500" in (sp, dp):
            assert b[:4] == b"\0\0\0\0", (case, f)
            b = b[4:]
        n += 1
        who = "i" if ipsrc == "10.99.0.1" else "r"
        name = f"{int(f):02}-{EXCH.get(b[18], str(b[18]))}-{who}"
        open(os.path.join(d, name + ".hex"), "w").write(b.hex() + "\n")
        if b[19] & 1:
            p = plain_of(f)
            if not p:
                continue
            plains[f] = p
            open(os.path.join(d, name + ".plain.hex"), "w").write("".join(p) + "\n")
    shutil.copy(f"{src}/{case}.pcapng", os.path.join(d, f"{case}.pcapng"))
    shutil.copy(f"{src}/{case}.ikev1_decryption_table", os.path.join(d, "ikev1_decryption_table"))
    print(case, n, "messages,", len(plains), "decrypted")
