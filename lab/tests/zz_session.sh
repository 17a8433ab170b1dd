#!/bin/bash
# Scratch (not committed): the operator's session for the README.
# lab: nic=virtio,hub=0 nic=virtio,hub=0 nic=virtio,hub=1 nic=virtio,hub=1 hugepages=64 timeout=300
. "$LAB_DIR/tests/virtio.inc"
LOBO=$BUILD/lobo; [ -x "$LOBO" ] || LOBO=$BUILD/src/tools/lobo
lab_modprobe tun
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
a=$(lab_bind_kernel "$(lab_nic 1)")
b=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$a" 198.18.7.1/24 peer_a
lab_if_up "$b" 198.18.7.2/24 peer_b
lab_in peer_a sysctl -qw net.ipv6.conf.all.disable_ipv6=1
lab_in peer_a ip addr add 198.18.8.2/24 dev "$a"
cd /tmp
run() { echo "# $*"; "$@" 2>&1; }
echo "# lobo fwd 'pci:$NIC0?shadow=lobo0' 'pci:$(lab_nic 2)?shadow=lobo1' &"
"$LOBO" fwd "pci:$NIC0?shadow=lobo0" "pci:$(lab_nic 2)?shadow=lobo1" > /tmp/fwd.out 2>&1 &
for _ in $(seq 100); do [ -e /sys/class/net/lobo1 ] && break; sleep 0.1; done
sleep 1
run ip link show lobo0
run ip addr add 198.18.8.1/24 dev lobo0
echo "# ip netns exec peer_a ping -c 3 198.18.8.1      # the peer, on the other end of NIC 0's wire"
ip netns exec peer_a ping -c 3 198.18.8.1
run ping -c 2 198.18.8.2
run ip neigh show dev lobo0
echo "# ip netns exec peer_a ping -c 3 198.18.7.2      # transit, through lobo fwd"
ip netns exec peer_a ping -c 3 198.18.7.2 | tail -2
run ip -s link show lobo0
run "$LOBO" top --count 1
run ethtool -i lobo0
run ethtool -S lobo0
run ip link set lobo0 mtu 9000
sleep 0.5
run ip link show lobo0
kill -INT %1; wait
grep warning /tmp/fwd.out
tail -1 /tmp/fwd.out
