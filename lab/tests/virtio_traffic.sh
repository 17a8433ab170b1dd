#!/bin/bash
# lobo drives a transitional virtio-net NIC without IOMMU (physical addresses),
# once modern and once legacy; the guest kernel drives the peer on the same hub.
# lab: nic=virtio nic=virtio hugepages=64 timeout=600
. "$LAB_DIR/tests/port.inc"
build_io
setup_peer
for mode in modern legacy; do
    uri="pci:$NIC0?virtio=$mode&vfio=0"
    $IO info "$uri" | grep -q "mode=$mode, no-iommu" || fail "$uri: $($IO info "$uri" 2>&1 | head -1)"
    lobo_to_peer "$uri" ${N:-3000}
    peer_to_lobo "$uri" ${N:-3000}
done
