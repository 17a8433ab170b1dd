#!/bin/bash
# `lobo fwd` between two virtio NICs on two hubs, a kernel-driven peer on each
# hub in its own network namespace: the peers ping each other through lobo.
# lab: nic=virtio,hub=0 nic=virtio,hub=0 nic=virtio,hub=1 nic=virtio,hub=1 hugepages=64 timeout=300
. "$LAB_DIR/tests/port.inc"
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
a=$(lab_bind_kernel "$(lab_nic 1)")
b=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$a" 198.18.7.1/24 virtio_fwd_a
lab_if_up "$b" 198.18.7.2/24 virtio_fwd_b
"$LOBO" fwd "pci:$NIC0" "pci:$(lab_nic 2)" --duration 40 > $T/fwd.out 2>&1 & fwd=$!
sleep 5
kill -0 $fwd 2>/dev/null || fail "lobo fwd: $(tail -1 $T/fwd.out)"
lab_in virtio_fwd_a ping -c 20 -i 0.2 -W 5 198.18.7.2 > $T/ping.out || fail "no ping through lobo fwd: $(grep transmitted $T/ping.out)"
grep -q ' 0% packet loss' $T/ping.out || fail "ping lost frames through lobo fwd: $(grep transmitted $T/ping.out)"
grep transmitted $T/ping.out
wait $fwd || fail "lobo fwd failed: $(tail -1 $T/fwd.out)"   # ends after --duration
tail -3 $T/fwd.out
ip netns del virtio_fwd_a; ip netns del virtio_fwd_b
