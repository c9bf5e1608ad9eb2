#!/usr/bin/env python3
"""Writes the seed-* files of the fuzz targets added for issue 9 finding 15, from the test
captures (crates/ikeway/tests/data/captures), the committed profile, and packets built here.
Run from the repository root: python3 fuzz/make_seeds.py"""

import os
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
CAPTURES = ROOT / "crates" / "ikeway" / "tests" / "data" / "captures"


def seed(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(bytes(data))


def lp(b):
    """A length-prefixed field (`Input::bytes`)."""
    return struct.pack(">H", len(b)) + bytes(b)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_tcp(src, dst, seq, payload, flags=0x10, ident=1):
    tcp = struct.pack(">HHIIBBHHH", 40000, 443, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload
    total = 20 + len(tcp)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, ident, 0, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    pseudo = bytes(src) + bytes(dst) + struct.pack(">BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack(">H", csum(pseudo + tcp)) + tcp[18:]
    return ip + tcp


def ipv4_udp(src, dst, payload):
    udp = struct.pack(">HHHH", 5353, 53, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0, 64, 17, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return ip + udp


CLIENT = [10, 88, 0, 10]
SERVER_NET = [10, 77, 0, 5]


def pump_seeds():
    # Three in-order full segments and a short PSH one: the coalescing merges them.
    segs = [ipv4_tcp(CLIENT, SERVER_NET, 1000 + i * 100, bytes([i]) * 100, ident=i) for i in range(3)]
    segs.append(ipv4_tcp(CLIENT, SERVER_NET, 1300, b"end", flags=0x18, ident=3))
    for pick, name in [(0, "gcm-any"), (8, "gcm-narrow"), (2 | 4, "cbc-esn-any"), (1 | 8, "chacha-narrow")]:
        data = bytes([pick])
        for s in segs:
            data += bytes([0, 0]) + lp(s)
        seed("pump_inbound", f"{name}-tcp-burst", data)
    seed("pump_inbound", "udp-raw-keepalive",
         bytes([8, 0, 0]) + lp(ipv4_udp(CLIENT, SERVER_NET, b"dns?")) + bytes([1, 0]) + lp(b"\xff")
         + bytes([1, 0]) + lp(b"\0\0\0\0" + b"\x20" * 28))
    # A TSO super-packet: virtio_net_hdr (NEEDS_CSUM, GSO_TCPV4, hdr_len, gso_size 100,
    # csum_start 20, csum_offset 16) and 350 bytes of payload behind the headers.
    big = ipv4_tcp(CLIENT, SERVER_NET, 5000, bytes(range(256)) + bytes(94))
    vnet = struct.pack("<BBHHHH", 1, 1, 40, 100, 20, 16)
    seed("pump_outbound", "tso4", bytes([0]) + vnet + big)
    seed("pump_outbound", "tso4-cbc", bytes([2]) + vnet + big)
    vnet_none = struct.pack("<BBHHHH", 1, 0, 0, 0, 20, 6)
    seed("pump_outbound", "udp-csum", bytes([1]) + vnet_none + ipv4_udp(CLIENT, SERVER_NET, b"hello"))


def ike_messages():
    """The IKE messages the ike_message corpus holds, by file name."""
    d = CORPUS / "ike_message"
    return {p.name: p.read_bytes() for p in sorted(d.glob("seed-*"))}


def sa_seeds():
    # sa_initiator: IKE_SA_INIT responses from the captures, as `[flags][len:2][datagram]`.
    # The first byte counts edits of the real response; 1 edit of 0 at 0 sends it unchanged.
    seed("sa_initiator", "real-response", bytes([1, 0, 0, 0]))
    seed("sa_initiator", "real-response-then-retransmit", bytes([1, 0, 0, 0, 2]) + lp(b""))
    for name, msg in ike_messages().items():
        if name.endswith("IKE_SA_INIT-r") or name.endswith("IKE_SA_INIT-i"):
            seed("sa_initiator", name[len("seed-"):], bytes([0, 0]) + lp(msg))
    # sa_sealed: see the operation list in fuzz_targets/sa_sealed.rs.
    edit0 = bytes([10, 0, 0, 0, 0, 0])  # template 0, unchanged
    edit1 = bytes([10, 1, 0, 0, 0, 0])  # template 1, unchanged
    seeds = {
        "resp-ike-auth": bytes([0b011]) + edit0,
        "init-ike-auth": bytes([0b010]) + edit0,
        "resp-ike-auth-cbc": bytes([0b111]) + edit0,
        "init-ike-auth-cbc": bytes([0b110]) + edit0,
        "resp-create-child": bytes([0b001, 8, 0]) + edit0,
        "resp-rekey-child": bytes([0b001, 8, 1]) + edit0,
        "resp-rekey-ike": bytes([0b001, 8, 2]) + edit0,
        "resp-delete-child": bytes([0b001, 8, 3]) + edit0,
        "resp-delete-ike": bytes([0b001, 8, 4]) + edit0,
        "resp-dpd": bytes([0b001, 8, 5]) + edit0,
        "init-create-child": bytes([0b000, 8, 0]) + edit0,
        "init-rekey-ike": bytes([0b000, 8, 2]) + edit0,
        "init-delete-child": bytes([0b000, 8, 3]) + edit0,
        "init-dpd": bytes([0b000, 8, 5]) + edit0,
        "init-create-child-answered": bytes([0b000, 6, 0, 9]) + edit0,
        "resp-rekey-ike-answered": bytes([0b001, 6, 2, 9]) + edit0,
        "init-dpd-answered": bytes([0b000, 6, 5, 9]) + edit0,
        "resp-informational-empty": bytes([0b001, 2, 2, 0, 0]) + lp(b""),
        "init-fragments": bytes([0b000, 5, 2, 0, 0, 41, 2, 1, 2]) + lp(b"\0\0\0\x08")
        + bytes([2, 2]) + lp(b"\0\0\0\x08"),
        "resp-time": bytes([0b001, 7, 200, 7, 200]),
        # MOBIKE on both ends (bit 3): the real initiator's UPDATE_SA_ADDRESSES (command 6)
        # and address announcement (7) to the responder; the initiator's update answered.
        "resp-mobike-update": bytes([0b1001, 8, 6]) + edit0,
        "resp-mobike-addresses": bytes([0b1001, 8, 15]) + edit0,
        "init-mobike-update-answered": bytes([0b1000, 6, 6, 9]) + edit0,
        # ML-KEM-768 and PFS on both ends (bit 4): a child's and an IKE rekey's CREATE_CHILD_SA
        # is followed by IKE_FOLLOWUP_KE (RFC 9370 §2.2.4). Responder: the real initiator's
        # CREATE_CHILD_SA (template 0), then its IKE_FOLLOWUP_KE quoting the target's link
        # (template 1). Initiator: the real responder's answer with the link (template 0),
        # then its answer to the target's IKE_FOLLOWUP_KE (template 1).
        "resp-followup-child": bytes([0b10001, 8, 0]) + edit0 + bytes([9]) + edit1,
        "resp-followup-rekey-ike": bytes([0b10001, 8, 2]) + edit0 + bytes([9]) + edit1,
        "init-followup-child-answered": bytes([0b10000, 6, 0, 9]) + edit0 + bytes([9]) + edit1,
        "init-followup-rekey-ike-answered": bytes([0b10000, 6, 2, 9]) + edit0 + bytes([9])
        + edit1,
    }
    for name, data in seeds.items():
        seed("sa_sealed", name, data)


def reassembly_seeds():
    # Two fragments of message 1 in order, then out of order, then an expired one.
    def frag(flags, mid, number, total, first, seconds, content):
        return bytes([flags, mid, number, total, first, seconds]) + lp(content)

    seed("sk_reassembly", "in-order", frag(0, 1, 1, 2, 41, 0, b"abcd") + frag(0, 1, 2, 2, 0, 0, b"efgh"))
    seed("sk_reassembly", "reversed-both-directions",
         frag(1, 1, 3, 3, 0, 0, b"3") + frag(0, 1, 1, 2, 41, 0, b"1") + frag(1, 1, 1, 3, 41, 0, b"1")
         + frag(1, 1, 2, 3, 0, 0, b"2") + frag(0, 1, 2, 2, 0, 0, b"2"))
    seed("sk_reassembly", "expired", frag(2, 5, 1, 2, 41, 0, b"x") + frag(2, 5, 2, 2, 0, 31, b"y"))


def file_seeds():
    for p in sorted(CAPTURES.iterdir()):
        if p.suffix in (".pcap", ".pcapng") and p.stat().st_size <= 4096:
            seed("decode", p.name, p.read_bytes())
    hexes = b"# IKE messages in hex\n" + b"\n".join(m.hex().encode() for m in ike_messages().values()) + b"\n"
    seed("decode", "hex-lines", hexes)
    profile = ROOT / "crates" / "manager" / "tests" / "profiles" / "ikev2-psk.mobileconfig"
    seed("import_profile", profile.name, profile.read_bytes())
    seed("host_state", "full", b"""{
  "tun": "ikeway0",
  "routes": ["0.0.0.0/1", "128.0.0.0/1", "2001:db8::/32"],
  "server_route": {"dest": "192.0.2.1", "via": "198.51.100.1", "dev": "eth0"},
  "dns": {"resolv_conf_file": "# local\\nnameserver 10.0.0.53\\nsearch lan\\noptions edns0\\n"}
}
""")
    seed("host_state", "resolved", b'{"tun": "ikeway3", "routes": ["10.77.0.0/24"], "dns": "resolved"}')
    seed("host_state", "symlink",
         b'{"tun": "ikeway1", "routes": [], "dns": {"resolv_conf_symlink": "../run/systemd/resolve/stub-resolv.conf"}}')


def certificate_seeds():
    """sa_certificate, the client's IKE_AUTH to the server and the server's to the client:
    unchanged (two real certificates, the real AUTH), the end entity alone, a Hash and URL
    CERT, and an AUTH of the fuzzer's making."""
    for setup, suffix in ((0, ""), (1, "-server")):
        seed("sa_certificate", "unchanged" + suffix, [setup, 2, 0, 0, 3, 0, 0, 0])
        seed("sa_certificate", "end-entity-only" + suffix, [setup, 1, 0, 0, 0, 0])
        seed("sa_certificate", "hash-and-url" + suffix,
             [setup, 1, 1, 12] + list(lp(b"http://ca.example/c.der")) + [0, 0])
        seed("sa_certificate", "raw-auth" + suffix,
             [setup, 2, 0, 0, 3, 0, 1, 14] + list(lp(bytes(range(72)))))


def eap_seeds():
    """sa_eap, both targets and both methods: unchanged (the whole real exchange), an edited
    EAP message, an EAP-Success in place of the first request, and an AUTH of the fuzzer's
    making in the first message."""
    for target, tname in ((0, "responder"), (1, "initiator")):
        for method, mname in ((0, "mschapv2"), (2, "md5")):
            setup = target | method
            suffix = f"-{tname}-{mname}"
            seed("sa_eap", "unchanged" + suffix, [setup])
            seed("sa_eap", "edited" + suffix, [setup, 0, 1, 2, 0, 3, 0x55])
            seed("sa_eap", "success" + suffix, [setup, 2, 3, 0, 0] + list(lp(b"")))
            seed("sa_eap", "auth" + suffix, [setup, 3, 2] + list(lp(bytes(range(32)))))


def eap_state_machine_seeds():
    """eap_peer_authenticator: a setup byte (bit 0 the server is the target; bits 1-2 the
    credentials: right, wrong, unknown user, none; bits 3-4 and 5-6 the peer's and the server's
    methods: MSCHAPv2, MD5, both each way), then operations (0 the real message, 1 edits,
    2 a message of its own, 3 another identifier). An input of the setup alone delivers every
    real message, so the conversation must end as it should."""
    for target, tname in [(0, "peer"), (1, "server")]:
        for cred, cname in [(0, "right"), (1, "wrong"), (2, "unknown"), (3, "nopassword")]:
            for pm, sm, mname in [(0, 0, "mschapv2"), (1, 1, "md5"), (0, 3, "nak-md5"), (1, 0, "nak-none")]:
                setup = target | cred << 1 | pm << 3 | sm << 5
                seed("eap_peer_authenticator", f"{tname}-{cname}-{mname}", [setup])
        # Real messages, then a repeated one with another identifier, edits, and one of its own
        # (an EAP-Success to the peer, a Nak to the server).
        setup = target
        seed("eap_peer_authenticator", f"{tname}-identifier", [setup, 0, 3, 0x40, 0, 0])
        seed("eap_peer_authenticator", f"{tname}-edits", [setup, 0, 1, 2, 0, 5, 0xff, 0, 8, 0x01])
        own = [3, 0, 0, 0, 0] if target == 0 else [2, 0, 3, 0, 1, 4]
        seed("eap_peer_authenticator", f"{tname}-own", [setup, 0, 2] + own)


def eap_tls_seeds():
    """eap_tls: untouched runs for each target, TLS version choice and fragment size (the
    setup byte alone), and one seed per kind of tampering of the third message to the target
    (its first TLS flight): edited, its Type-Data replaced by a lying TLS Message Length, the
    message turned into an early EAP-Success."""
    for setup in range(16):
        target = "auth" if setup & 1 else "peer"
        versions = ("tls12", "tls13", "both", "both")[(setup >> 1) % 3]
        size = "small" if setup & 8 else "default"
        seed("eap_tls", f"unchanged-{setup:02}-{target}-{versions}-{size}", [setup])
    for setup in (0, 1, 2, 3):
        seed("eap_tls", f"edit-{setup}", [setup, 0, 0, 1, 2, 0, 7, 0x55, 0, 1, 0xff])
        seed("eap_tls", f"lying-length-{setup}",
             [setup, 0, 0, 2] + list(lp(bytes([0x80, 0, 0, 0x10, 0]) + bytes(8))))
        seed("eap_tls", f"early-success-{setup}", [setup, 0, 0, 3, 3, 0, 0, 0])


if __name__ == "__main__":
    pump_seeds()
    sa_seeds()
    reassembly_seeds()
    file_seeds()
    certificate_seeds()
    eap_seeds()
    eap_state_machine_seeds()
    eap_tls_seeds()
