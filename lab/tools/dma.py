#!/usr/bin/python3 -S
"""Helpers for the kill -9 DMA test (lab/tests/virtio_recovery.sh).

  dma.py trickle IFACE DST_MAC MARKFILE RATE  send frames carrying the word in MARKFILE (read
                                              for each frame) at RATE per second, forever
  dma.py fill PATTERN_HEX                     take every free hugepage, fill it with PATTERN a
                                              page at a time, print "filled N"; on a line on
                                              stdin, check: "intact N" or "changed ..."
"""
import mmap, os, socket, sys, time

HUGE = 2 << 20


def trickle(iface, dst, markfile, rate):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    head = bytes.fromhex(dst.replace(":", "")) + s.getsockname()[4] + b"\x88\xb6"   # not frames.py's 0x88b5
    n = 0
    while True:
        with open(markfile, "rb") as f:
            mark = f.read().strip()
        body = (mark + b" %08d " % n) * 20
        s.send(head + body[:1000])
        n += 1
        time.sleep(1 / float(rate))


def free_hugepages():
    for line in open("/proc/meminfo"):
        if line.startswith("HugePages_Free:"):
            return int(line.split()[1])


def fill(pattern):
    page = bytes.fromhex(pattern) * (HUGE // len(bytes.fromhex(pattern)))
    n = free_hugepages()
    path = "/dev/hugepages/dma-filler"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.unlink(path)
    os.ftruncate(fd, n * HUGE)
    m = mmap.mmap(fd, n * HUGE)
    for i in range(n):   # slowly: pages the device still writes into are caught in the act
        m[i * HUGE:(i + 1) * HUGE] = page
        time.sleep(0.03)
    print("filled", n, flush=True)
    sys.stdin.readline()
    changed = [i for i in range(n) if m[i * HUGE:(i + 1) * HUGE] != page]
    if not changed:
        print("intact", n, flush=True)
        return
    got = m[changed[0] * HUGE:(changed[0] + 1) * HUGE]
    at = next(k for k in range(HUGE) if got[k] != page[k])
    print("changed %d pages, first at page %d offset %d: %r" % (len(changed), changed[0], at,
          bytes(got[at:at + 48])), flush=True)


if __name__ == "__main__":
    verb, *args = sys.argv[1:] or ["help"]
    if verb == "trickle" and len(args) == 4:
        trickle(*args)
    elif verb == "fill" and len(args) == 1:
        fill(*args)
    else:
        sys.exit(__doc__)
