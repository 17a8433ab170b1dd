#!/bin/bash
# lobo drives virtio-net through VFIO (IOMMU: IOVA == virtual address): a
# modern-only NIC whose DMA goes through the IOMMU (iommu_platform=on), and a
# transitional one driven legacy, which bypasses the IOMMU (mode says so): its
# memory is pinned through VFIO all the same, and held for it after kill -9.
# A device with an IOMMU group is never run without isolation unasked: with
# vfio-pci missing, lobo refuses and leaves the device alone.
# lab: iommu=1 nic=virtio-modern,iommu_platform=on nic=virtio nic=virtio hugepages=64 timeout=600
. "$LAB_DIR/tests/port.inc"
build_io
uri="pci:$NIC0"
fails_with "has an IOMMU but vfio-pci is not loaded and modprobe vfio-pci failed: load it, or add ?vfio=0" $IO info "$uri"
[ "$(lab_driver $NIC0)" = virtio-pci ] || fail "a refused open left NIC0 bound to '$(lab_driver $NIC0)'"
lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci
setup_peer
$IO info "$uri" > $T/info.out 2>&1; grep -q "mode=modern, vfio " $T/info.out || fail "$uri: $(head -1 $T/info.out)"
[ "$(lab_driver $NIC0)" = vfio-pci ] || fail "NIC0 is not bound to vfio-pci"
lobo_to_peer "$uri" ${N:-3000}
peer_to_lobo "$uri" ${N:-3000}
kill_and_restart "$uri"
uri="pci:$(lab_nic 2)?virtio=legacy"
$IO info "$uri" > $T/info.out 2>&1; grep -q "mode=legacy, vfio, iommu bypassed" $T/info.out || fail "$uri: $(head -1 $T/info.out)"
# Pinned: VFIO accounts the pages it pins as the process's locked memory
# (hugetlb pages are never counted by mlock).
$IO hold "$uri" 60 > $T/hold.out 2>&1 & holder=$!
while ! grep -q mode= $T/hold.out; do kill -0 $holder 2>/dev/null || fail "hold: $(cat $T/hold.out)"; sleep 0.1; done
locked=$(awk '/VmLck/ { print $2 }' /proc/$holder/status)
kill $holder; wait $holder
[ "$locked" -ge 4096 ] || fail "$uri: only $locked kB pinned, not its 2 MiB of buffers and 2 MiB of rings"
echo "$uri: $locked kB pinned through VFIO though the device bypasses the IOMMU"
LOBO_MAC=$LAB_NIC2_MAC
lobo_to_peer "$uri" ${N:-3000}
peer_to_lobo "$uri" ${N:-3000}
kill_and_restart "$uri" 1
