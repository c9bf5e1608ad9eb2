#!/usr/bin/env python3
"""A tiny DNS responder for the split DNS testbed: answers every A question on ADDR:53 (UDP)
with ANSWER, and appends each question's name to LOG, one per line. Nothing else (no TCP, no
other types: those get an empty NOERROR answer).

Usage: dnsd.py ADDR ANSWER LOG"""

import socket
import struct
import sys


def qname(msg, at):
    labels = []
    while True:
        n = msg[at]
        if n == 0:
            return ".".join(labels), at + 1
        labels.append(msg[at + 1 : at + 1 + n].decode("ascii", "replace"))
        at += 1 + n


def main():
    addr, answer, log = sys.argv[1:4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid, _flags, qd = struct.unpack(">HHH", msg[:6])
        if qd != 1:
            continue
        name, end = qname(msg, 12)
        qtype, _qclass = struct.unpack(">HH", msg[end : end + 4])
        with open(log, "a") as f:
            f.write(f"{name} {qtype}\n")
        question = msg[12 : end + 4]
        if qtype == 1:
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(answer)
            an = 1
        else:
            rr, an = b"", 0
        head = struct.pack(">HHHHHH", qid, 0x8180, 1, an, 0, 0)
        s.sendto(head + question + rr, peer)


main()
