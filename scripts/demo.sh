#!/bin/bash
# make demo: lobo blast -> veth -> lobo fwd -> veth -> lobo capture, across
# three network namespaces, then a check that what arrived is what was sent.
#   ns demo-a [lobo blast]  demo-a0 == demo-a1  ns demo-m [lobo fwd]  demo-b1 == demo-b0  ns demo-b [lobo capture]
set -u
L=$(realpath "${LOBO:-build/lobo}")
PY=/usr/bin/python3
FRAMES=1000 ROUNDS=6 RATE=2000
[ "$(id -u)" -eq 0 ] || { echo "lobo demo: needs root for network namespaces: run sudo make demo"; exit 1; }
tmp=$(mktemp -d /tmp/lobo-demo.XXXXXX)
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	for n in demo-a demo-m demo-b; do ip netns del $n 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "three namespaces, two veth pairs"
for n in demo-a demo-m demo-b; do
	ip netns del $n 2>/dev/null
	ip netns add $n && ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || exit 1
done
ip link add demo-a0 netns demo-a type veth peer name demo-a1 netns demo-m || exit 1
ip link add demo-b0 netns demo-b type veth peer name demo-b1 netns demo-m || exit 1
for ns_if in demo-a:demo-a0 demo-m:demo-a1 demo-m:demo-b1 demo-b:demo-b0; do
	ip -n "${ns_if%%:*}" link set "${ns_if#*:}" up
done
echo "demo-a0 (ns demo-a) == demo-a1 (ns demo-m) | demo-b1 (ns demo-m) == demo-b0 (ns demo-b)"

step "$FRAMES UDP frames of 60 to 1514 bytes, some VLAN-tagged, into $tmp/sent.pcap"
$PY - "$tmp/sent.pcap" $FRAMES <<'PY' || exit 1
import sys
from scapy.all import Ether, Dot1Q, IP, UDP, wrpcap
frames = []
for i in range(int(sys.argv[2])):
    eth = Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01")
    head = (eth / Dot1Q(vlan=42) if i % 10 == 0 else eth) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1024 + i, dport=9)
    size = 60 + (i * 37) % (1514 - 60 + 1)
    frames.append(head / (i.to_bytes(4, "big") * 400)[:size - len(head)])
wrpcap(sys.argv[1], frames)
PY

total=$((FRAMES * ROUNDS))
step "lobo capture in demo-b, lobo fwd in demo-m, lobo blast in demo-a ($total frames at $RATE/s)"
ip netns exec demo-b "$L" capture afpacket:demo-b0 -w "$tmp/arrived.pcap" --count $total --duration 30 \
	>"$tmp/capture.log" 2>&1 &
capture=$!
ip netns exec demo-m "$L" fwd afpacket:demo-a1 afpacket:demo-b1 > >(sed -u 's/^/  fwd   | /') 2>&1 &
fwd=$!
# Ready once each has its ports open, which its stats file for lobo top shows.
for pid in $capture $fwd; do
	for _ in $(seq 200); do [ -e /run/lobo/$pid ] && break; sleep 0.05; done
done
ip netns exec demo-a "$L" blast afpacket:demo-a0 --pcap "$tmp/sent.pcap" --count $total --rate $RATE 2>&1 \
	| sed -u 's/^/  blast | /'
wait $capture
sed 's/^/  capture | /' "$tmp/capture.log"
kill -INT $fwd
wait $fwd

step "check: did every frame arrive, unchanged and in order?"
$PY - "$tmp/sent.pcap" "$tmp/arrived.pcap" $ROUNDS <<'PY'
import sys
from scapy.all import rdpcap
sent = [bytes(f) for f in rdpcap(sys.argv[1])] * int(sys.argv[3])
got = [bytes(f) for f in rdpcap(sys.argv[2])]
same = sum(a == b for a, b in zip(sent, got))
print(f"sent {len(sent)} frames, {len(got)} arrived, {same} identical byte for byte")
sys.exit(0 if same == len(sent) == len(got) else 1)
PY
ok=$?
[ $ok -eq 0 ] && echo "demo passed" || echo "demo FAILED"
exit $ok
