#!/usr/bin/python3 -S
"""Raw Ethernet frames through AF_PACKET and pcap files, for comparing what one
NIC sent with what another received, byte for byte.

  frames.py send IFACE DST_MAC DIR          send test frames, keeping them as DIR/f<n>.bin
  frames.py recv IFACE DIR COUNT [SECS]     save the first COUNT lab frames as DIR/r<n>.bin
  frames.py gen OUT N SEED SRC DST [SIZE [untagged]]
                                            N random frames of 60-1514 bytes (or SIZE; - for
                                            random) into a pcap: a fifth 802.1Q-tagged, a
                                            twentieth QinQ, unless untagged
  frames.py flows OUT N SEED SRC DST FLOWS  N IPv4 UDP and TCP frames of FLOWS 5-tuples
  frames.py sendpcap IFACE PCAP [GAP_MS]    send every frame of PCAP (GAP_MS apart)
  frames.py cmp SENT GOT [unordered]        the lab frames of both files are the same
  frames.py rss GOT QUEUES SENT             GOT holds SENT's frames, GOT.q's hash of each is
                                            the Toeplitz hash with the default key, its queue
                                            the one the default table gives, no flow moved
  frames.py order GOT PCAP ROUNDS [first]   GOT holds PCAP's frames in order from the first,
                                            ROUNDS times or more ([first]: only the first
                                            ROUNDS rounds must be in order)

Lab frames carry ethertype 0x88b5 (IEEE 802 local experimental) after any
VLAN tags, then a 4-byte sequence number, so receivers can tell them from the
ARP and IPv6 chatter of the stacks on the wire.
"""
import os, random, socket, struct, sys, time

ETH_P_LAB = 0x88B5
SIZES = (60, 1514)   # the shortest frame (no FCS) and the longest without jumbo
TAGS = (0x8100, 0x88A8, 0x9100)
# lobo's default RSS key: the Microsoft RSS specification's example
KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                    "6a42b73bbeac01fa")


def send(iface, dst, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    for n, size in enumerate(SIZES):
        hdr = bytes.fromhex(dst.replace(":", "")) + src + ETH_P_LAB.to_bytes(2, "big")
        frame = hdr + os.urandom(size - len(hdr))
        with open(os.path.join(out, f"f{n}.bin"), "wb") as f:
            f.write(frame)
        s.send(frame)


def recv(iface, out, count, secs=10):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_LAB))
    s.bind((iface, 0))
    open(os.path.join(out, "ready"), "w").close()    # the sender may start now
    deadline = time.monotonic() + float(secs)
    for n in range(int(count)):
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            frame, addr = s.recvfrom(65536)
        except socket.timeout:
            sys.exit(f"frames.py: {n} of {count} frames arrived on {iface}")
        with open(os.path.join(out, f"r{n}.bin"), "wb") as f:
            f.write(frame)


def iter_pcap(path):
    """The frames of a pcap one by one: a capture may be larger than memory."""
    with open(path, "rb") as f:
        e = "<" if f.read(24)[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        while len(h := f.read(16)) == 16:
            yield f.read(struct.unpack(e + "I", h[8:12])[0])


def read_pcap(path):
    return list(iter_pcap(path))


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def inner(fr):
    """Offset of the ethertype after any VLAN tags."""
    at = 12
    while at + 4 <= len(fr) and int.from_bytes(fr[at:at + 2], "big") in TAGS:
        at += 4
    return at


def seq(fr):
    """The sequence number of a lab frame, or None for any other frame."""
    at = inner(fr)
    if fr[at:at + 2] != ETH_P_LAB.to_bytes(2, "big"):
        return None
    return struct.unpack(">I", fr[at + 2:at + 6])[0]


def gen(out, n, seed, src, dst, size=None, untagged=None):
    r = random.Random(int(seed))
    frames = []
    for i in range(int(n)):
        length = int(size) if size and size != "-" else r.choice([60, 61, 64, 1513, 1514, r.randint(60, 1514), r.randint(60, 1514)])
        kind = 1 if untagged else r.random()
        tags = b""
        if kind < 0.05:     # QinQ: a service tag, then a customer tag
            tags = struct.pack(">HHHH", 0x88A8, r.randrange(4096), 0x8100, r.randrange(1 << 16))
        elif kind < 0.2:    # 802.1Q, any priority and VLAN id
            tags = struct.pack(">HH", 0x8100, r.randrange(1 << 16))
        head = mac(dst) + mac(src) + tags + ETH_P_LAB.to_bytes(2, "big") + struct.pack(">I", i)
        frames.append(head + r.randbytes(length - len(head)))
    write_pcap(out, frames)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def flows(out, n, seed, src, dst, nflows):
    """IPv4 frames with valid checksums; the lab sequence number rides in the
    payload, whose first two bytes are the lab ethertype as a marker."""
    r = random.Random(int(seed))
    tuples = [(bytes([198, 18, r.randrange(256), r.randrange(1, 255)]), bytes([198, 19, r.randrange(256), r.randrange(1, 255)]),
               r.randrange(1024, 65536), r.randrange(1, 65536), r.choice([6, 17])) for _ in range(int(nflows))]
    frames = []
    for i in range(int(n)):
        sip, dip, sp, dp, proto = tuples[i % len(tuples)]
        payload = ETH_P_LAB.to_bytes(2, "big") + struct.pack(">I", i) + r.randbytes(r.randint(0, 200))
        if proto == 17:
            l4 = struct.pack(">HHHH", sp, dp, 8 + len(payload), 0) + payload
            ck = 6
        else:
            l4 = struct.pack(">HHIIBBHHH", sp, dp, i, 0, 5 << 4, 0x18, 8192, 0, 0) + payload
            ck = 16
        pseudo = sip + dip + struct.pack(">BBH", 0, proto, len(l4))
        l4 = l4[:ck] + struct.pack(">H", csum(pseudo + l4) or 0xFFFF) + l4[ck + 2:]
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), i & 0xFFFF, 0, 64, proto, 0, sip, dip)
        ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
        fr = mac(dst) + mac(src) + b"\x08\x00" + ip + l4
        frames.append(fr + bytes(max(0, 60 - len(fr))))
    write_pcap(out, frames)


def sendpcap(iface, path, gap_ms=None):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for fr in read_pcap(path):
        if gap_ms:
            time.sleep(float(gap_ms) / 1000)
        while True:
            try:
                s.send(fr)
                break
            except OSError:
                pass    # ENOBUFS: the qdisc is full, try again


def cmp(sent, got, unordered=None):
    a = [f for f in read_pcap(sent) if seq(f) is not None]
    b = [f for f in read_pcap(got) if seq(f) is not None]
    if a == b:
        print("identical, %d frames" % len(a))
        return
    # Order is the emulator's, not the driver's: QEMU's net queue (net/queue.c,
    # qemu_net_queue_send) hands a new frame straight to a receiver that just
    # got buffers, ahead of the frames it queued while that receiver had none.
    if unordered and sorted(a) == sorted(b):
        s = [seq(f) for f in b]
        print("identical, %d frames, %d overtaken" % (len(a), sum(y < x for x, y in zip(s, s[1:]))))
        return
    bad = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    lost, extra = len(set(a) - set(b)), len(set(b) - set(a))
    sys.exit("%d frames sent, %d got, first difference at frame %d, %d sent frames not among those got, "
             "%d got never sent" % (len(a), len(b), bad, lost, extra))


def toeplitz(data):
    k, h = int.from_bytes(KEY, "big"), 0
    for i, byte in enumerate(data):
        for b in range(8):
            if byte & (0x80 >> b):
                h ^= (k >> (len(KEY) * 8 - 32 - i * 8 - b)) & 0xFFFFFFFF
    return h


def rss(got, queues, sent):
    frames = read_pcap(got)
    if sorted(frames) != sorted(read_pcap(sent)):
        sys.exit(f"{got} does not hold the frames of {sent}: {len(frames)} got, {len(read_pcap(sent))} sent")
    lines = open(got + ".q").read().split()
    if len(lines) != 3 * len(frames):
        sys.exit(f"{got}.q has {len(lines) // 3} lines for {len(frames)} frames")
    where, per = {}, [0] * int(queues)
    for i, fr in enumerate(frames):
        q, h = int(lines[3 * i]), int(lines[3 * i + 1], 16)
        if fr[12:14] != b"\x08\x00":
            continue
        flow = fr[26:34] + fr[34:38] + fr[23:24]
        want = toeplitz(fr[26:34] + fr[34:38])
        if h != want:
            sys.exit(f"frame {i}: hash {h:08x}, Toeplitz says {want:08x}")
        if q != (want & 127) % int(queues):
            sys.exit(f"frame {i}: queue {q}, the table says {(want & 127) % int(queues)}")
        if where.setdefault(flow, q) != q:
            sys.exit(f"frame {i}: its flow changed from queue {where[flow]} to {q}")
        per[q] += 1
    if 0 in per:
        sys.exit(f"frames per queue {per}: a queue got nothing")
    print(f"{sum(per)} frames of {len(where)} flows, hashes right, no flow moved, per queue {','.join(map(str, per))}")


def order(got, path, rounds, first=None):
    """PCAP's frames from its first, round after round: all of GOT, or only its
    first ROUNDS rounds (a receiver may miss later frames if it falls behind)."""
    want = read_pcap(path)
    need, n, ordered = int(rounds) * len(want), 0, None
    for fr in (f for f in iter_pcap(got) if seq(f) is not None):
        if ordered is None and fr != want[n % len(want)]:
            ordered = n
            if not first or n < need:
                sys.exit(f"frame {n} got is not frame {n % len(want)} of {path}")
        n += 1
    if n < need:
        sys.exit(f"{n} frames got, fewer than {rounds} rounds of {len(want)}")
    ordered = n if ordered is None else ordered
    print(f"{ordered} of {n} frames in order from the first: {ordered / len(want):.1f} rounds of {len(want)}")


COMMANDS = {"send": (send, 3, 3), "recv": (recv, 3, 4), "gen": (gen, 5, 7), "flows": (flows, 6, 6),
            "sendpcap": (sendpcap, 2, 3), "cmp": (cmp, 2, 3), "rss": (rss, 3, 3), "order": (order, 3, 4)}

if __name__ == "__main__":
    verb, *args = sys.argv[1:] or ["help"]
    fn, least, most = COMMANDS.get(verb, (None, 0, 0))
    if not fn or not least <= len(args) <= most:
        sys.exit(__doc__)
    fn(*args)
