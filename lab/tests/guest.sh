#!/bin/bash
# The guest environment every lab test relies on: the host's root read-only with
# the repo at its own path, a writable /tmp, hugepages from the header, kernel
# modules (plain and xz), and the QEMU monitor reachable from inside.
# lab: hugepages=16 timeout=60
. "$LAB_DIR/lib.sh"
lab_log "test started, accelerator $LAB_ACCEL"
[ -x "$LAB_DIR/run-guest" ] || lab_fail "the repo is not at $LAB_DIR in the guest"
touch /tmp/scratch || lab_fail "/tmp is not writable"
! touch "$LAB_DIR/should-not-exist" 2>/dev/null || lab_fail "the host root is writable from the guest"
[ "$(cat /proc/sys/vm/nr_hugepages)" = 16 ] || lab_fail "hugepages=16 gave $(cat /proc/sys/vm/nr_hugepages)"
grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts || lab_fail "no hugetlbfs at /dev/hugepages"
lab_modprobe dummy     # not kept decompressed: the xz path of lab_modprobe
ip link add lab0 type dummy || lab_fail "dummy module loaded but unusable"
v=$(lab_monitor info version)
[[ $v == 10.* ]] || lab_fail "monitor said '$v' to info version"
lab_log "QEMU $v answered on the monitor"
