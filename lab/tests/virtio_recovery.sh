#!/bin/bash
# lobo killed with SIGKILL mid-traffic comes back; a busy device, a wrong
# address, a device lobo has no driver for and a non-root user get one-line
# errors; ?rebind=1 gives the device back to its kernel driver.
# lab: nic=virtio nic=virtio nic=virtio hugepages=64 timeout=300
. "$LAB_DIR/tests/port.inc"
build_io
setup_peer
uri="pci:$NIC0?vfio=0"
kill_and_restart "$uri"

$IO hold "$uri" 120 > $T/hold.out 2>&1 & holder=$!
while ! grep -q mode= $T/hold.out; do kill -0 $holder 2>/dev/null || fail "hold: $(cat $T/hold.out)"; sleep 0.1; done
fails_with "is in use by lobo process $holder" $IO info "$uri"
kill $holder; wait $holder
$IO info "$uri" > /dev/null || fail "$uri still busy after its holder ended"

fails_with "is not a PCI address" $IO info pci:00:zz
fails_with "no PCI device at 0000:00:1e.0" $IO info pci:00:1e.0
fails_with "no lobo driver for 8086:2918 at 0000:00:1f.0" $IO info pci:0000:00:1f.0   # q35's LPC bridge
fails_with "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups $IO info "$uri"
fails_with "unknown option 'virtoi'" $IO info "$uri&virtoi=modern"

# NIC2 is the kernel's (virtio-pci + virtio_net): lobo takes it and gives it back.
NIC2=$(lab_nic 2)
drv() { lab_driver $NIC2; }
[ "$(drv)" = virtio-pci ] || fail "NIC2 starts bound to $(drv), not virtio-pci"
$IO info "pci:$NIC2?vfio=0&rebind=1" > /dev/null || fail "cannot open NIC2"
[ "$(drv)" = virtio-pci ] && ls /sys/bus/pci/devices/$NIC2/virtio*/net > /dev/null 2>&1 ||
    fail "after ?rebind=1 NIC2 is bound to '$(drv)', not virtio-pci with a net interface"
$IO info "pci:$NIC2?vfio=0" > /dev/null || fail "cannot open NIC2"
[ -z "$(drv)" ] || fail "without ?rebind=1 NIC2 went back to $(drv)"
echo "rebind ok"
