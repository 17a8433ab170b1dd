#!/bin/bash
# A NIC handed to vfio-pci behind the emulated IOMMU: its group opens, attaches
# to a type1 container, gives a device fd whose BAR0 reads STATUS, and takes a
# DMA mapping — every step a userspace driver over VFIO goes through.
# lab: nic=igb iommu=1 timeout=120
. "$LAB_DIR/lib.sh"
bdf=$(lab_nic 0)
group=$(lab_bind_vfio "$bdf")
[ -c "/dev/vfio/$group" ] || lab_fail "no /dev/vfio/$group"
lab_log "$bdf is in IOMMU group $group"
python3 -S - "$group" "$bdf" <<'PY' || lab_fail "VFIO on $bdf"
import ctypes, fcntl, mmap, os, struct, sys
# ioctl numbers from <linux/vfio.h>: _IO(';', 100 + n)
GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU, GROUP_GET_STATUS = 0x3B64, 0x3B65, 0x3B66, 0x3B67
GROUP_SET_CONTAINER, GROUP_GET_DEVICE_FD, DEVICE_GET_REGION_INFO, IOMMU_MAP_DMA = 0x3B68, 0x3B6A, 0x3B6C, 0x3B71
TYPE1v2 = 3
group, bdf = sys.argv[1], sys.argv[2]

container = os.open("/dev/vfio/vfio", os.O_RDWR)
assert fcntl.ioctl(container, GET_API_VERSION) == 0, "VFIO API version"
assert fcntl.ioctl(container, CHECK_EXTENSION, TYPE1v2) == 1, "no type1v2 IOMMU"
g = os.open(f"/dev/vfio/{group}", os.O_RDWR)
status = bytearray(struct.pack("II", 8, 0))
fcntl.ioctl(g, GROUP_GET_STATUS, status)
assert struct.unpack("II", status)[1] & 1, "group not viable"
fcntl.ioctl(g, GROUP_SET_CONTAINER, struct.pack("i", container))
fcntl.ioctl(container, SET_IOMMU, TYPE1v2)
dev = fcntl.ioctl(g, GROUP_GET_DEVICE_FD, bytearray(bdf.encode() + b"\0"), True)

info = bytearray(struct.pack("IIIIQQ", 32, 0, 0, 0, 0, 0))   # region 0 = BAR0
fcntl.ioctl(dev, DEVICE_GET_REGION_INFO, info, True)
size, offset = struct.unpack_from("QQ", info, 16)
st = struct.unpack("<I", os.pread(dev, 4, offset + 8))[0]
print(f"device fd {dev}: BAR0 {size >> 10} KiB, STATUS {st:#010x}")
assert st == 0x80080481, "unexpected STATUS"

buf = mmap.mmap(-1, 2 << 20)   # what a driver gives the NIC to DMA into
vaddr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
fcntl.ioctl(container, IOMMU_MAP_DMA, struct.pack("IIQQQ", 32, 3, vaddr, 1 << 32, 2 << 20))
print("DMA map of 2 MiB at IOVA 4 GiB: ok")
PY
