#!/bin/bash
# virtio-net (transitional) and igb on one hub, both driven by Linux.
# lab: nic=virtio,mac=52:54:00:00:00:01 nic=igb,mac=52:54:00:00:00:02 timeout=180
. "$LAB_DIR/tests/wire.inc"
