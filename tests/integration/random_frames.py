#!/usr/bin/python3
"""random_frames.py N OUT.pcap [--big K] [--cut] [--seed S]: N Ethernet frames
of random sizes 60-1514 bytes (64-1518 with a tag), a third of them 802.1Q
tagged with a random VLAN ID, EtherType 0x88b5 (local experimental), to a
unicast MAC nobody owns, the frame's number in its first payload bytes.
--big K adds K frames of 3000 bytes (more than lobo's 2 KiB buffers) among
them; --cut ends the file with a record cut short. Plain struct, no scapy:
fast enough for a soak's hundred thousand frames."""
import argparse
import random
import struct

p = argparse.ArgumentParser()
p.add_argument("n", type=int)
p.add_argument("out")
p.add_argument("--big", type=int, default=0)
p.add_argument("--cut", action="store_true")
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
rnd = random.Random(a.seed)
big = set(rnd.sample(range(a.n), a.big)) if a.big else set()
with open(a.out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(a.n):
        size = 3000 if i in big else rnd.randint(60, 1514)
        head = bytes.fromhex("020000000002020000000001")
        if rnd.random() < 1 / 3:
            head += struct.pack(">HH", 0x8100, rnd.randint(1, 4094))
        body = struct.pack(">HI", 0x88B5, i) + rnd.randbytes(size - 18)
        frame = head + body
        f.write(struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame)
    if a.cut:
        f.write(struct.pack("<IIII", a.n, 0, 500, 500) + b"x" * 100)
