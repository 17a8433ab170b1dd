#!/bin/bash
# lobo capture keeps exactly the frames tcpdump's filter keeps, writes a pcap
# tcpdump reads back, counts the rest as filtered; live on a veth it stops on
# SIGINT with the file flushed.
. "$(dirname "$0")/common.inc"
filter="udp port 7"
$PY - "$tmp/mix.pcap" <<'PY'
import sys
from scapy.all import Ether, Dot1Q, IP, IPv6, UDP, TCP, ARP, wrpcap
eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
frames = []
for i in range(5):
    frames += [eth / IP() / UDP(sport=1000 + i, dport=7) / (b"a" * (i * 100)),
               eth / IP() / TCP(sport=1000 + i, dport=7),
               eth / IP() / UDP(sport=7, dport=2000 + i) / (b"b" * 20),
               eth / IP() / UDP(sport=1000 + i, dport=8),
               eth / IPv6() / UDP(sport=1000 + i, dport=7),
               eth / Dot1Q(vlan=3) / IP() / UDP(dport=7),
               Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01") / ARP()]
wrpcap(sys.argv[1], frames)
PY
tcpdump -r "$tmp/mix.pcap" -w "$tmp/expected.pcap" "$filter" 2>/dev/null || { echo "tcpdump cannot filter the input"; exit 1; }
total=$(tcpdump -r "$tmp/mix.pcap" 2>/dev/null | wc -l)
want=$(tcpdump -r "$tmp/expected.pcap" 2>/dev/null | wc -l)

# From a capture file: deterministic, no root needed.
"$L" capture "pcap:$tmp/mix.pcap" -w "$tmp/out.pcap" --json $filter >"$tmp/file.json" \
	|| { echo "capture from pcap: failed"; exit 1; }
got=$(tcpdump -r "$tmp/out.pcap" 2>/dev/null | wc -l)
[ "$got" -eq "$want" ] || { echo "tcpdump -r read $got frames from lobo's pcap, wanted $want"; exit 1; }
same_frames "$tmp/expected.pcap" "$tmp/out.pcap" || exit 1
summary "$tmp/file.json" "s['filtered'] == $total - $want and s['ports']['pcap:$tmp/mix.pcap']['rx_dropped'] == 0" || exit 1

# Live on a veth pair, ended by SIGINT.
need_root
mkns capfl-a capfl-b
veth capfl-a0 capfl-a capfl-b0 capfl-b
ip netns exec capfl-b "$L" capture afpacket:capfl-b0 -w "$tmp/live.pcap" --json $filter >"$tmp/live.json" &
pid=$!
pids+=($pid)
wait_ready $pid
ip netns exec capfl-a "$L" blast afpacket:capfl-a0 --pcap "$tmp/mix.pcap" --count "$total" --rate 2000 >/dev/null \
	|| { echo "blast from the mix failed"; exit 1; }
sleep 0.5
interrupt $pid || { echo "capture exited $? on SIGINT, wanted 0"; exit 1; }
same_frames "$tmp/expected.pcap" "$tmp/live.pcap" || exit 1
summary "$tmp/live.json" "s['type'] == 'summary' and s['filtered'] == $total - $want" || exit 1
