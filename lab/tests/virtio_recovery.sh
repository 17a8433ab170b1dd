#!/bin/bash
# lobo killed with SIGKILL mid-traffic comes back, and the DMA memory of the
# killed lobo stays held for the device (which keeps writing into it) until
# the device is reset: no other process gets it. A busy device, a wrong
# address, a device lobo has no driver for, a non-root user, a device the
# kernel uses, a device that fails after its driver was unbound get one-line
# errors and leave the device as it was; ?rebind=1 gives it back.
# lab: nic=virtio nic=virtio nic=virtio nic=virtio,any_layout=off hugepages=64 timeout=400
. "$LAB_DIR/tests/port.inc"
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
DMA="python3 $LAB_DIR/tools/dma.py"
build_io
# The mechanism alone (tests/unit/test_mem.c skips on a host without hugepages).
"$BUILD/tests/unit/test_mem" > $T/test_mem.out 2>&1 || fail "test_mem: $(grep -m1 -A1 ERROR $T/test_mem.out)"
grep -q "OK \] held_until_released" $T/test_mem.out || fail "test_mem skipped held_until_released"
setup_peer
uri="pci:$NIC0?vfio=0"
kill_and_restart "$uri" 1
free_pages() { awk '/HugePages_Free/ { print $2 }' /proc/meminfo; }

# kill -9 `lobo capture` while the peer keeps sending; then another process
# takes every free hugepage and fills it with a pattern while more frames
# arrive. Memory the device still writes into must not be among those pages.
echo BEFORE > $T/mark
$LOBO capture "$uri" -w $T/cap.pcap > $T/cap.out 2>&1 & cap=$!
$DMA trickle "$PEER" $LAB_NIC0_MAC $T/mark 50 & trickle=$!
for _ in $(seq 100); do grep -q ' rx [1-9]' $T/cap.out && break; sleep 0.2; done
grep -q ' rx [1-9]' $T/cap.out || fail "lobo capture received nothing: $(tail -1 $T/cap.out)"
kill -9 $cap; wait $cap 2>/dev/null
echo AFTER > $T/mark   # what arrives now lands in memory the dead process had posted
held=$(stat -c %s /dev/hugepages/lobo/$NIC0/* 2>/dev/null | awk '{ s += $1 } END { print int(s / 1048576) }')
echo "lobo capture killed: ${held:-0} MiB held for $NIC0, $(free_pages) hugepages free"
[ "${held:-0}" -ge 16 ] || fail "the killed capture's DMA memory went back to the kernel"
coproc FILL { $DMA fill 5a; }
read -r line <&"${FILL[0]}"; echo "$line"
sleep 2
echo check >&"${FILL[1]}"
read -r line <&"${FILL[0]}"; echo "$line"
wait $FILL_PID
kill $trickle
[ "${line%% *}" = intact ] || fail "memory handed back while the device wrote into it: $line"
grep -q -F -a AFTER /dev/hugepages/lobo/$NIC0/* || fail "no frame arrived after the kill: the test proved nothing"
echo "frames that arrived after the kill are in the held memory"
$LOBO reset pci:$NIC0 || fail "lobo reset pci:$NIC0 failed"
[ "$(held_files $NIC0)" = 0 ] || fail "lobo reset left memory held"
[ "$(free_pages)" = 64 ] || fail "after lobo reset only $(free_pages) of 64 hugepages are free"
fails_with "reset takes a PCI device, pci:BDF" $LOBO reset null:

$IO hold "$uri" 120 > $T/hold.out 2>&1 & holder=$!
while ! grep -q mode= $T/hold.out; do kill -0 $holder 2>/dev/null || fail "hold: $(cat $T/hold.out)"; sleep 0.1; done
fails_with "is in use by lobo process $holder" $IO info "$uri"
fails_with "is in use by lobo process $holder" $LOBO reset "pci:$NIC0"
kill $holder; wait $holder
$IO info "$uri" > /dev/null || fail "$uri still busy after its holder ended"

fails_with "is not a PCI address" $IO info pci:00:zz
fails_with "no PCI device at 0000:00:1e.0" $IO info pci:00:1e.0
fails_with "no lobo driver for 8086:2918 at 0000:00:1f.0" $IO info pci:0000:00:1f.0   # q35's LPC bridge
fails_with "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups $IO info "$uri"
fails_with "unknown option 'virtoi'" $IO info "$uri&virtoi=modern"
fails_with "kernel=keep is for igb only: virtio takes the whole device" $IO info "$uri&kernel=keep"

# NIC2 is the kernel's (virtio-pci + virtio_net). A refused or failed open
# leaves it exactly so: driver, interface, driver_override.
NIC2=$(lab_nic 2) NIC3=$(lab_nic 3)
drv() { lab_driver $1; }
state() {   # driver, driver_override, interfaces (names may change on a rebind)
    echo "$(drv $1) $(cat /sys/bus/pci/devices/$1/driver_override) $(ls /sys/bus/pci/devices/$1/virtio*/net 2>/dev/null | wc -l)"
}
[ "$(drv $NIC2)" = virtio-pci ] || fail "NIC2 starts bound to $(drv $NIC2), not virtio-pci"
IF2=$(lab_ifname $NIC2)
before=$(state $NIC2)
ip link set "$IF2" up && ip addr add 198.18.9.1/24 dev "$IF2"
$LOBO list | grep "^$NIC2 .*in use by the kernel: $IF2 (addresses, routes)" || fail "lobo list: $($LOBO list | grep $NIC2)"
fails_with "$NIC2 is in use by the kernel: $IF2 (addresses, routes): take the interface down, or add ?force=1" \
    $IO info "pci:$NIC2?vfio=0"
ip addr flush dev "$IF2" && ip route add 198.18.10.0/24 dev "$IF2"
fails_with "in use by the kernel: $IF2 (routes)" $IO info "pci:$NIC2?vfio=0"
[ "$(state $NIC2)" = "$before" ] || fail "a refused open changed NIC2 from '$before' to '$(state $NIC2)'"
$IO info "pci:$NIC2?vfio=0&force=1&rebind=1" > /dev/null || fail "?force=1 did not take NIC2"
[ "$(state $NIC2)" = "$before" ] || fail "after ?rebind=1 NIC2 is '$(state $NIC2)', not '$before'"
echo 0 > /proc/sys/vm/nr_hugepages
fails_with "needs hugepage memory" $IO info "pci:$NIC2?vfio=0"
lab_hugepages 64
[ "$(state $NIC2)" = "$before" ] || fail "an open without hugepages changed NIC2 to '$(state $NIC2)'"
# NIC3 lacks VIRTIO_F_ANY_LAYOUT: legacy lobo finds out only after unbinding.
before=$(state $NIC3)
fails_with "lacks VIRTIO_F_ANY_LAYOUT" $IO info "pci:$NIC3?vfio=0&virtio=legacy"
[ "$(state $NIC3)" = "$before" ] || fail "a failed open left NIC3 as '$(state $NIC3)', not '$before'"
echo "refused and failed opens left the devices as they were"

$IO info "pci:$NIC2?vfio=0" > /dev/null || fail "cannot open NIC2 with its interface down"
[ -z "$(drv $NIC2)" ] || fail "without ?rebind=1 NIC2 went back to $(drv $NIC2)"
echo "rebind ok"
