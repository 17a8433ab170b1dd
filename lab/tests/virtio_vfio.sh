#!/bin/bash
# lobo drives virtio-net through VFIO (IOMMU: IOVA == virtual address): a
# modern-only NIC whose DMA goes through the IOMMU (iommu_platform=on), and a
# transitional one driven legacy, which bypasses the IOMMU (mode says so).
# lab: iommu=1 nic=virtio-modern,iommu_platform=on nic=virtio nic=virtio hugepages=64 timeout=600
. "$LAB_DIR/tests/port.inc"
lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci
build_io
setup_peer
uri="pci:$NIC0"
$IO info "$uri" > $T/info.out 2>&1; grep -q "mode=modern, vfio " $T/info.out || fail "$uri: $(head -1 $T/info.out)"
[ "$(lab_driver $NIC0)" = vfio-pci ] || fail "NIC0 is not bound to vfio-pci"
lobo_to_peer "$uri" ${N:-3000}
peer_to_lobo "$uri" ${N:-3000}
kill_and_restart "$uri"
uri="pci:$(lab_nic 2)?virtio=legacy"
$IO info "$uri" > $T/info.out 2>&1; grep -q "mode=legacy, vfio, iommu bypassed" $T/info.out || fail "$uri: $(head -1 $T/info.out)"
LOBO_MAC=$LAB_NIC2_MAC
lobo_to_peer "$uri" ${N:-3000}
peer_to_lobo "$uri" ${N:-3000}
