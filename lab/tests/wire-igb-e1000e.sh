#!/bin/bash
# igb and e1000e on one hub, both driven by Linux: ping and bit-exact frames.
# lab: nic=igb,mac=52:54:00:00:00:01 nic=e1000e,mac=52:54:00:00:00:02 timeout=180
. "$LAB_DIR/tests/wire.inc"
