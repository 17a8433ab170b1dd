#!/bin/bash
# dpdk: on a veth pair, against a scapy sender and tcpdump: `lobo fwd
# dpdk:net_af_packet0,iface=… afpacket:…` carries a random mix of frames (60-1514
# bytes, 802.1Q tags, one and two deep) both ways bit-exact and in order.
#   ns a (scapy, tcpdump) -- veth -- ns m: dpdk:net_af_packet | afpacket -- veth -- ns b (scapy, tcpdump)
. "$(dirname "$0")/common.inc"
need_root
"$L" fwd dpdk:net_null0 null: --count 1 >/dev/null 2>&1 || { echo "lobo is built without dpdk: ports"; exit 77; }
mkns dpf-a dpf-m dpf-b
veth dpfa0 dpf-a dpfa1 dpf-m
veth dpfb0 dpf-b dpfb1 dpf-m
for x in "dpf-a dpfa0" "dpf-m dpfa1" "dpf-m dpfb1" "dpf-b dpfb0"; do
	set -- $x
	ip netns exec "$1" ethtool -K "$2" gro off >/dev/null 2>&1
done
$PY - "$tmp" <<'PY'
import random, sys
from scapy.all import Ether, Dot1Q, Raw, wrpcap
for name, seed, src in (("ab", 1, "02:00:00:00:00:0a"), ("ba", 2, "02:00:00:00:00:0b")):
    r, frames = random.Random(seed), []
    for i in range(300):
        size = r.choice([60, 61, 64, 1513, 1514, r.randint(60, 1514), r.randint(60, 1514)])
        f = Ether(src=src, dst="02:00:00:00:00:99", type=0x88b5)
        tags = r.choice([0, 0, 0, 1, 2])
        if tags:
            f = Ether(src=src, dst="02:00:00:00:00:99") / Dot1Q(vlan=r.randint(1, 4094), type=0x8100 if tags == 2 else 0x88b5)
            if tags == 2:
                f = f / Dot1Q(vlan=r.randint(1, 4094), type=0x88b5)
        f = f / Raw(i.to_bytes(4, "big"))
        frames.append(f / Raw(r.randbytes(size - len(f))))
    wrpcap(f"{sys.argv[1]}/{name}.pcap", frames)
PY

ip netns exec dpf-m "$L" fwd dpdk:net_af_packet0,iface=dpfa1 afpacket:dpfb1 --duration 60 --json \
	>"$tmp/fwd.json" 2>"$tmp/fwd.err" &
fwd=$!
pids+=($fwd)
wait_ready $fwd

# one FROM_NS FROM_IF TO_NS TO_IF PCAP: scapy sends the file, tcpdump gets all of it.
one() {
	ip netns exec "$3" timeout 30 tcpdump -i "$4" -w "$tmp/got-$5" -c 300 -s 0 -U 2>"$tmp/tcpdump.err" &
	local td=$!
	for _ in $(seq 100); do grep -q listening "$tmp/tcpdump.err" && break; sleep 0.1; done
	ip netns exec "$1" $PY -c "import sys; from scapy.all import rdpcap, sendp; sendp(rdpcap(sys.argv[1]), iface=sys.argv[2], verbose=0)" \
		"$tmp/$5" "$2" || { echo "scapy could not send on $2"; exit 1; }
	wait $td || { echo "$5: tcpdump on $4 did not get 300 frames: $(tail -n1 "$tmp/tcpdump.err"); lobo: $(cat "$tmp/fwd.err")"; exit 1; }
	same_frames "$tmp/$5" "$tmp/got-$5" || exit 1
}
one dpf-a dpfa0 dpf-b dpfb0 ab.pcap # in through DPDK, out through lobo's afpacket
one dpf-b dpfb0 dpf-a dpfa0 ba.pcap # and back
interrupt $fwd || { echo "fwd did not end cleanly on SIGINT: $(cat "$tmp/fwd.err")"; exit 1; }
summary "$tmp/fwd.json" "s['ports']['dpdk:net_af_packet0,iface=dpfa1']['rx_packets'] == 300 \
	and s['ports']['dpdk:net_af_packet0,iface=dpfa1']['tx_packets'] == 300 \
	and s['ports']['afpacket:dpfb1']['tx_packets'] == 300" || exit 1
echo "600 frames through dpdk:net_af_packet and afpacket: bit-exact both ways"
