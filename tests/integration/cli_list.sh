#!/bin/bash
# lobo list shows each interface with its MAC, state and driver, and every PCI
# network device with its ID, bound driver and lobo's driver for it, marking
# those whose interface the kernel uses (up, with addresses or routes): on a
# VM, the NIC the machine is reached through.
. "$(dirname "$0")/common.inc"
need_root
mkns clist
ip -n clist link add clist-v0 type veth peer name clist-v1
ip -n clist link set clist-v0 up
ip netns exec clist "$L" list --json >"$tmp/list.json" || { echo "lobo list failed"; exit 1; }
works=0; "$L" fwd dpdk:net_null0 null: --count 1 >/dev/null 2>&1 && works=1
ip netns exec clist env DPDK_WORKS=$works $PY - "$tmp/list.json" <<'PY'
import glob, json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ifs = {r["name"]: r for r in rows if r["type"] == "interface"}
if set(ifs) != set(os.listdir("/sys/class/net")) - {"bonding_masters"}:
    sys.exit(f"interfaces {sorted(ifs)} != {sorted(os.listdir('/sys/class/net'))}")
v0 = ifs["clist-v0"]
mac = open("/sys/class/net/clist-v0/address").read().strip()
if (v0["mac"], v0["driver"]) != (mac, "veth") or v0["operstate"] not in ("up", "lowerlayerdown"):
    sys.exit(f"clist-v0 listed as {v0}, wanted mac {mac}, driver veth")
nics = {os.path.basename(d) for d in glob.glob("/sys/bus/pci/devices/*") if open(d + "/class").read().startswith("0x02")}
pci = {r["bdf"]: r for r in rows if r["type"] == "pci"}
if set(pci) != nics:
    sys.exit(f"PCI network devices {sorted(pci)} != {sorted(nics)}")
dpdk = [r for r in rows if r["type"] == "dpdk"]
if len(dpdk) != 1 or dpdk[0]["built_in"] != (os.environ["DPDK_WORKS"] == "1"):
    sys.exit(f"lobo list says {dpdk} about dpdk: ports, but opening dpdk:net_null0 {'works' if os.environ['DPDK_WORKS'] == '1' else 'fails'}")
for r in pci.values():
    if r["id"] in ("1af4:1000", "1af4:1041") and r["lobo"] != "virtio":
        sys.exit(f"{r} should name lobo's virtio driver")
PY
"$L" list --json >"$tmp/list0.json" || { echo "lobo list failed"; exit 1; }
$PY - "$tmp/list0.json" <<'PY'
import glob, json, os, subprocess, sys
def ip(*args):
    return subprocess.run(["ip", "-o", *args], capture_output=True, text=True).stdout.splitlines()
def used(n):   # up, and an address or a route beyond IPv6 link-local and multicast
    if not int(open(f"/sys/class/net/{n}/flags").read(), 16) & 1:
        return ""
    addr = any(" inet " in l or "scope link" not in l for l in ip("addr", "show", "dev", n) if " inet" in l)
    v6 = [l.split() for l in ip("-6", "route", "show", "table", "all", "dev", n)]
    route = bool(ip("-4", "route", "show", "dev", n)) or any(
        not (w[1] if w[0] in ("local", "anycast", "multicast", "unicast") else w[0]).startswith(("fe80", "ff"))
        for w in v6)
    return ", ".join(x for x, y in (("addresses", addr), ("routes", route)) if y)
for r in (json.loads(l) for l in open(sys.argv[1])):
    if r["type"] != "pci":
        continue
    nets = glob.glob(f"/sys/bus/pci/devices/{r['bdf']}/net/*") + glob.glob(f"/sys/bus/pci/devices/{r['bdf']}/virtio*/net/*")
    want = ", ".join(f"{n} ({used(n)})" for n in map(os.path.basename, nets) if used(n))
    if r["kernel_use"] != want:
        sys.exit(f"{r['bdf']}: kernel_use {r['kernel_use']!r}, wanted {want!r}")
    print(f"{r['bdf']}: {want or 'not in use by the kernel'}")
PY
