#!/bin/bash
# What only a freshly booted kernel shows. The first unique AF_PACKET fanout
# group id after boot is 0: afpacket:IF?queues=2 once took that 0 for "ask for
# a new group" on its second socket, made two groups and received every frame
# twice (seen on a fresh machine, hidden on any machine that had run it before).
# lab: timeout=120
. "$LAB_DIR/lib.sh"
REPO=$(cd "$LAB_DIR/.." && pwd)
BUILD=$PWD/build; [ -x "$BUILD/tests/unit/test_port_afpacket" ] || BUILD=$REPO/build
t=$BUILD/tests/unit/test_port_afpacket
[ -x "$t" ] || lab_skip "no $t: build lobo first"
lab_modprobe veth
# round_trip, oversize and drops_counted open single-queue ports; fanout is
# the first to ask the kernel for a unique group id, and gets 0.
"$t" || lab_fail "test_port_afpacket failed on a fresh kernel"
