#!/bin/bash
# lobo blast --size: valid Ethernet/IPv4/UDP frames (checksums scapy agrees
# with), source ports varying, the asked destination MAC, exactly --count frames.
. "$(dirname "$0")/common.inc"
for size in 60 777 1514; do
	"$L" blast "pcap:$tmp/$size.pcap?mode=w" --size $size --count 300 --dst-mac 02:00:00:00:00:09 >/dev/null \
		|| { echo "blast --size $size into a pcap failed"; exit 1; }
	$PY - "$tmp/$size.pcap" $size <<'PY' || exit 1
import sys
from scapy.all import rdpcap, Ether, IP, UDP
frames, size = rdpcap(sys.argv[1]), int(sys.argv[2])
if len(frames) != 300:
    sys.exit(f"--count 300 sent {len(frames)} frames")
for f in frames:
    if len(f) != size or f[Ether].dst != "02:00:00:00:00:09":
        sys.exit(f"frame of {len(f)} bytes to {f[Ether].dst}, wanted {size} to 02:00:00:00:00:09")
    again = Ether(bytes(f))
    del again[IP].chksum, again[UDP].chksum
    again = Ether(bytes(again))
    if (again[IP].chksum, again[UDP].chksum) != (f[IP].chksum, f[UDP].chksum):
        sys.exit(f"bad checksums in {bytes(f)[:42].hex()}")
if len({f[UDP].sport for f in frames}) < 100:
    sys.exit("source ports do not vary")
PY
done
