#!/bin/bash
# Frames sent by lobo blast through lobo fwd arrive bit-exact: sizes 60-1514,
# VLAN and QinQ tags, in order.  ns a -- veth -- ns m (fwd) -- veth -- ns b
. "$(dirname "$0")/common.inc"
need_root
mkns fwdbx-a fwdbx-m fwdbx-b
veth fwdbx-a0 fwdbx-a fwdbx-a1 fwdbx-m
veth fwdbx-b0 fwdbx-b fwdbx-b1 fwdbx-m
$PY - "$tmp/in.pcap" <<'PY'
import os, sys
from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, TCP, wrpcap
def sized(hdr, size):
    return hdr / os.urandom(size - len(hdr))
eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
frames = [sized(eth / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + s, dport=7), s)
          for s in (60, 61, 64, 65, 100, 127, 128, 256, 511, 512, 1000, 1023, 1024, 1500, 1513, 1514)]
frames += [sized(eth / Dot1Q(vlan=v) / IP() / TCP(), s) for v, s in ((5, 64), (100, 128), (4094, 1000), (7, 1514))]
frames += [sized(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff", type=0x88a8) / Dot1AD(vlan=10, type=0x8100)
                 / Dot1Q(vlan=20) / IP() / UDP(), 200)]
wrpcap(sys.argv[1], frames)
PY
n=$($PY -c "from scapy.all import rdpcap; import sys; print(len(rdpcap(sys.argv[1])))" "$tmp/in.pcap")

ip netns exec fwdbx-b "$L" capture afpacket:fwdbx-b0 -w "$tmp/out.pcap" --count "$n" --duration 20 --json \
	>"$tmp/capture.json" 2>"$tmp/capture.err" &
capture=$!
ip netns exec fwdbx-m "$L" fwd afpacket:fwdbx-a1 afpacket:fwdbx-b1 --duration 40 --json >"$tmp/fwd.json" 2>"$tmp/fwd.err" &
fwd=$!
pids+=($capture $fwd)
wait_ready $capture $fwd
ip netns exec fwdbx-a "$L" blast afpacket:fwdbx-a0 --pcap "$tmp/in.pcap" --count "$n" --rate 2000 --json \
	>"$tmp/blast.json" 2>"$tmp/blast.err" || { echo "blast failed: $(cat "$tmp/blast.err")"; exit 1; }
wait $capture || { echo "capture failed: $(cat "$tmp/capture.err")"; exit 1; }
interrupt $fwd || { echo "fwd did not end cleanly on SIGINT: $(cat "$tmp/fwd.err")"; exit 1; }
summary "$tmp/blast.json" "s['ports']['afpacket:fwdbx-a0']['tx_packets'] == $n" || exit 1
summary "$tmp/fwd.json" "s['type'] == 'summary' and s['ports']['afpacket:fwdbx-a1']['rx_packets'] == $n \
	and s['ports']['afpacket:fwdbx-b1']['tx_packets'] == $n" || exit 1
same_frames "$tmp/in.pcap" "$tmp/out.pcap" || exit 1
