#!/bin/bash
# BAR0 of NICs no driver holds, mapped through sysfs as a userspace driver maps
# it: STATUS and the receive-address registers read back what QEMU was given.
# lab: nic=igb,mac=52:54:00:12:34:56 nic=e1000e,mac=52:54:00:ab:cd:ef timeout=90
. "$LAB_DIR/lib.sh"

check() {   # bdf mac expected_status
    [ -z "$(lab_driver "$1")" ] || lab_fail "$1 is bound to $(lab_driver "$1")"
    lab_pci_enable "$1"
    python3 -S - "$@" <<'PY' || lab_fail "BAR0 of $1"
import mmap, os, sys
bdf, mac, want_status = sys.argv[1], sys.argv[2], int(sys.argv[3], 16)
fd = os.open(f"/sys/bus/pci/devices/{bdf}/resource0", os.O_RDWR | os.O_SYNC)
regs = memoryview(mmap.mmap(fd, 128 << 10)).cast("I")   # whole 32-bit loads, as the device wants
status, ral, rah = regs[0x0008 // 4], regs[0x5400 // 4], regs[0x5404 // 4]
got = (ral | (rah & 0xFFFF) << 32).to_bytes(6, "little").hex(":")
print(f"{bdf}: STATUS {status:#010x} RAL0 {ral:#010x} RAH0 {rah:#010x} -> {got}")
ok = status == want_status and got == mac and rah >> 31 == 1   # AV: the address is valid
sys.exit(0 if ok else f"want STATUS {want_status:#010x}, MAC {mac}, AV set")
PY
}
# Values the recipe read on QEMU 10: link up, full duplex, 1000 Mb/s.
check "$(lab_bdf_by_mac 52:54:00:12:34:56)" 52:54:00:12:34:56 0x80080481
check "$(lab_bdf_by_id 8086:10d3)" 52:54:00:ab:cd:ef 0x00080283
