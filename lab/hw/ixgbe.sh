#!/bin/bash
# The lab's driver checks pointed at a real Intel 82599 (X540, X550), which no
# machine of ours has: lobo's ixgbe driver is untested on hardware until
# someone runs this and it prints PASS.
#
#   lab/hw/ixgbe.sh BDF PEER_IF
#
# BDF: the ixgbe port lobo drives (e.g. 0000:01:00.0, bound to anything: lobo
# unbinds it and gives it back). PEER_IF: an interface the kernel drives,
# cabled to it, e.g. the other port of the same X520 (0000:01:00.1 under the
# kernel's ixgbe). Needs root, hugepages (it reserves 256 and gives them back),
# a build (meson setup build && ninja -C build), tcpdump, python3 with scapy.
# Each check prints one line; the last line is PASS, or FAIL with the reason.
set -u
[ $# = 2 ] || { echo "usage: $0 BDF PEER_IF" >&2; exit 2; }
export LAB_DIR=$(cd "$(dirname "$0")/.." && pwd)
BDF=$1 PEER=$2
export LAB_NICS=1 LAB_NIC0_SLOT=$BDF LAB_NIC0_MAC=00:00:00:00:00:00 LAB_NIC0_ROOTPORT=0   # the topology port.inc expects
. "$LAB_DIR/tests/port.inc"   # lobo_to_peer, peer_to_lobo, counter, build_io, $LOBO, $IO, $F
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root"
[ -e /sys/class/net/$PEER ] || fail "no interface $PEER"
id=$(sed 's/0x//' /sys/bus/pci/devices/$BDF/vendor):$(sed 's/0x//' /sys/bus/pci/devices/$BDF/device) ||
    fail "no PCI device $BDF"
URI=pci:$BDF

# 1. lobo list names the driver and says it is untested.
$LOBO list | grep "^$BDF" | grep -q "ixgbe (untested on hardware)" || fail "lobo list: $BDF ($id) is not an ixgbe NIC"
echo "list: $($LOBO list | grep "^$BDF")"

pages=/proc/sys/vm/nr_hugepages saved=$(cat $pages)
trap 'echo $saved > $pages' EXIT
echo 256 > $pages

# 2. Bring-up in datasheet order, the EEPROM's MAC, link up at 10 Gb/s (1 s to come up).
build_io
gcc -std=c11 -D_GNU_SOURCE -O2 -I"$REPO/include" -o /tmp/blast_loop "$LAB_DIR/hw/blast_loop.c" "$BUILD/liblobo.a" \
    -lpcap $(pkg-config --libs libxdp libbpf 2>/dev/null) || fail "cannot build blast_loop.c"
$IO info $URI > $T/info.out 2>&1 || fail "open: $(tail -1 $T/info.out)"
head -1 $T/info.out
grep -q "link=up speed=10000" $T/info.out || fail "no 10 Gb/s link: $(head -1 $T/info.out)"
LOBO_MAC=$(sed -n 's/.*mac=\([0-9a-f:]*\).*/\1/p' $T/info.out)

# 3. Bit-exact both ways, 60-1514 bytes with VLAN and QinQ tags, counted by lobo, the NIC and the peer.
sysctl -qw net.ipv6.conf.$PEER.disable_ipv6=1
ethtool -K $PEER rxvlan off txvlan off rx-vlan-filter off ntuple off >/dev/null 2>&1
ip link set $PEER up promisc on
PEER_MAC=$(cat /sys/class/net/$PEER/address)
lobo_to_peer $URI 2000
peer_to_lobo $URI 2000
[ "$(counter $T/recv.out hw_rx_packets)" = 2000 ] || fail "the NIC counted $(counter $T/recv.out hw_rx_packets) received, not 2000"
[ "$(counter $T/send.out hw_tx_packets)" = 2000 ] || fail "the NIC counted $(counter $T/send.out hw_tx_packets) sent, not 2000"

# 4. RSS: 64 flows over 4 queues, each frame's hash the Toeplitz hash of its
#    5-tuple with the default key, on the queue the default table names.
$F flows $T/flows.pcap 2000 5 $PEER_MAC $LOBO_MAC 64
$IO recv "$URI?queues=4" $T/rss.pcap 2000 60 > $T/rss.out 2>&1 & io=$!
while ! grep -q receiving $T/rss.out; do kill -0 $io 2>/dev/null || fail "recv: $(tail -1 $T/rss.out)"; sleep 0.1; done
$F sendpcap $PEER $T/flows.pcap
wait $io || fail "recv on 4 queues: $(tail -1 $T/rss.out)"
$F rss $T/rss.pcap 4 || fail "RSS: frames not on the queues the table names"
echo "rss: $(grep received $T/rss.out) on 4 queues as the table says"

# 5. Packetblaster: 60-byte frames for 5 s from the NIC's own ring: line rate is 14.88 Mpps.
p0=$(cat /sys/class/net/$PEER/statistics/rx_packets)
/tmp/blast_loop $URI 60 5 > $T/blast.out 2>&1 || fail "blast: $(tail -1 $T/blast.out)"
cat $T/blast.out
sent=$(sed -n 's/blast: \([0-9]*\) frames.*/\1/p' $T/blast.out) nic=$(sed -n 's/.*nic counted \([0-9]*\)/\1/p' $T/blast.out)
[ "$sent" = "$nic" ] || fail "blast: lobo counted $sent, the NIC $nic"
awk -v r="$(sed -n 's/.* = \([0-9.]*\) Mpps.*/\1/p' $T/blast.out)" 'BEGIN { exit !(r > 14.0) }' ||
    fail "blast: below 14 Mpps, not line rate"
echo "blast: the peer counted $(( $(cat /sys/class/net/$PEER/statistics/rx_packets) - p0 )) (it may drop some at line rate)"
echo PASS
