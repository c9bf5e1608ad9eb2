#!/usr/bin/env python3
"""TCP MSS probe for the testbeds.

  mss_probe.py capture IFACE SECONDS   print "SYN SRC>DST mss=N" / "SYN-ACK ..." for every
                                       TCP SYN seen on IFACE (both directions) for SECONDS
  mss_probe.py listen ADDR PORT        accept one connection, hold it for 3 s
  mss_probe.py connect ADDR PORT       connect once, hold it for 1 s"""

import socket
import struct
import sys
import time


def mss_of(tcp):
    header = (tcp[12] >> 4) * 4
    i = 20
    while i + 1 < header and tcp[i] != 0:
        if tcp[i] == 1:
            i += 1
            continue
        if tcp[i] == 2 and tcp[i + 1] == 4:
            return struct.unpack(">H", tcp[i + 2 : i + 4])[0]
        i += max(tcp[i + 1], 2)
    return None


def capture(iface, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.time() + float(seconds)
    # TUN links carry bare IP packets; Ethernet ones a 14-byte header first.
    with open(f"/sys/class/net/{iface}/type") as f:
        skip = 14 if f.read().strip() == "1" else 0
    while time.time() < end:
        try:
            frame = s.recv(70000)
        except socket.timeout:
            continue
        p = frame[skip:]
        if len(p) < 20 or p[0] >> 4 != 4 or p[9] != 6:
            continue
        tcp = p[(p[0] & 15) * 4 :]
        if len(tcp) < 20 or not tcp[13] & 2:
            continue
        kind = "SYN-ACK" if tcp[13] & 0x10 else "SYN"
        src = socket.inet_ntoa(p[12:16])
        dst = socket.inet_ntoa(p[16:20])
        print(f"{kind} {src}>{dst} mss={mss_of(tcp)}", flush=True)


def main():
    mode = sys.argv[1]
    if mode == "capture":
        capture(sys.argv[2], sys.argv[3])
    elif mode == "listen":
        l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind((sys.argv[2], int(sys.argv[3])))
        l.listen(1)
        c, _ = l.accept()
        time.sleep(3)
        c.close()
    elif mode == "connect":
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5)
        time.sleep(1)
        c.close()


main()
