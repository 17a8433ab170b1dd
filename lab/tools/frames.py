#!/usr/bin/python3 -S
"""Raw Ethernet frames through AF_PACKET, for comparing what one NIC sent with
what another received, byte for byte.

  frames.py send IFACE DST_MAC DIR        send test frames, keeping them as DIR/f<n>.bin
  frames.py recv IFACE DIR COUNT [SECS]   save the first COUNT lab frames as DIR/r<n>.bin

Lab frames carry ethertype 0x88b5 (IEEE 802 local experimental), so the
receiver ignores the ARP and IPv6 chatter of the stacks on the wire.
"""
import os, socket, sys, time

ETH_P_LAB = 0x88B5
SIZES = (60, 1514)   # the shortest frame (no FCS) and the longest without jumbo


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


if __name__ == "__main__":
    verb, *args = sys.argv[1:] or ["help"]
    if verb == "send" and len(args) == 3:
        send(*args)
    elif verb == "recv" and len(args) in (3, 4):
        recv(*args)
    else:
        sys.exit(__doc__)
