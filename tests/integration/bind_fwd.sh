#!/bin/bash
# The binding examples on veth: lobo blast -> veth -> examples/fwd.lua (then
# fwd.py) over afpacket: ports -> veth -> lobo capture, bit-exact, and each
# example's summary line counts what crossed as lobo fwd --json would.
. "$(dirname "$0")/common.inc"
need_root
command -v luajit >/dev/null || { echo "no luajit (apt-get install luajit)"; exit 77; }
mkns bfwd-a bfwd-m bfwd-b
veth bfwd-a0 bfwd-a bfwd-a1 bfwd-m
veth bfwd-b0 bfwd-b bfwd-b1 bfwd-m
$PY - "$tmp/in.pcap" <<'PY'
import random, sys
from scapy.all import Ether, Dot1Q, IP, UDP, Raw, wrpcap
r = random.Random(3)
eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
frames = []
for i in range(200):
    size = r.choice([60, 64, 1514, r.randint(60, 1514)])
    f = eth / Dot1Q(vlan=r.randint(1, 4094)) / IP() / UDP(sport=i) if i % 5 == 0 else eth / IP() / UDP(sport=i)
    frames.append(f / Raw(r.randbytes(size - len(f))))
wrpcap(sys.argv[1], frames)
PY
n=200
for example in "luajit examples/fwd.lua" "/usr/bin/python3 examples/fwd.py"; do
	name=${example##*/}
	ip netns exec bfwd-b "$L" capture afpacket:bfwd-b0 -w "$tmp/out.pcap" --count $n --duration 30 --json \
		>"$tmp/capture.json" 2>"$tmp/capture.err" &
	capture=$!
	ip netns exec bfwd-m $example afpacket:bfwd-a1 afpacket:bfwd-b1 $n >"$tmp/fwd.json" 2>"$tmp/fwd.err" &
	fwd=$!
	pids+=($capture $fwd)
	wait_ready $capture $fwd
	ip netns exec bfwd-a "$L" blast afpacket:bfwd-a0 --pcap "$tmp/in.pcap" --count $n --rate 2000 \
		>/dev/null 2>"$tmp/blast.err" || { echo "blast failed: $(cat "$tmp/blast.err")"; exit 1; }
	wait $capture || { echo "$name: capture failed: $(cat "$tmp/capture.err") ($name: $(cat "$tmp/fwd.err"))"; exit 1; }
	wait $fwd || { echo "$name failed: $(cat "$tmp/fwd.err")"; exit 1; }
	summary "$tmp/fwd.json" "s['type'] == 'summary' and s['ports']['afpacket:bfwd-a1']['rx_packets'] == $n \
		and s['ports']['afpacket:bfwd-b1']['tx_packets'] == $n and s['filtered'] == 0 \
		and set(s['ports']['afpacket:bfwd-b1']) == {'rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_dropped', \
		'tx_dropped', 'rx_errors', 'tx_errors', 'rx_pps', 'tx_pps', 'rx_bps', 'tx_bps', 'exception_rx', 'exception_tx', 'exception_rx_dropped', 'exception_tx_dropped'}" || exit 1
	same_frames "$tmp/in.pcap" "$tmp/out.pcap" || { echo "through $name"; exit 1; }
	echo "$name: $n frames bit-exact"
done
