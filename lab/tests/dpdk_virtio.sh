#!/bin/bash
# dpdk: next to lobo's own driver: one `lobo fwd dpdk:NIC0 pci:NIC2` where DPDK's
# net_virtio drives NIC 0 (vfio-pci, IOVA = VA through the IOMMU) and lobo's
# virtio driver NIC 2; the guest kernel's peers on each hub ping through it and
# exchange random frames bit-exact, with no copy on the dpdk: side once the
# PMD's ring holds the caller's buffers. Then DPDK in IOVA-as-PA mode
# (LOBO_EAL_ARGS) on a transitional NIC that bypasses the IOMMU, and the errors
# only a PCI device can show.
# ctrl_vlan=off: with VIRTIO_NET_F_CTRL_VLAN negotiated (Linux and DPDK do) QEMU drops
# tagged frames for VLANs nobody added, and the test frames carry tags.
# lab: iommu=1 nic=virtio-modern,hub=0,iommu_platform=on,ctrl_vlan=off nic=virtio,hub=0,ctrl_vlan=off nic=virtio,hub=1,ctrl_vlan=off nic=virtio,hub=1,ctrl_vlan=off
# lab: nic=virtio,hub=0,ctrl_vlan=off hugepages=128 mem=1536M timeout=600
. "$LAB_DIR/tests/port.inc"
LOBO=$BUILD/lobo; [ -x "$LOBO" ] || LOBO=$BUILD/src/tools/lobo
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
"$LOBO" list --json | grep -q '"type":"dpdk","built_in":true' || lab_skip "lobo is built without dpdk: ports"
NIC2=$(lab_nic 2) NIC4=$(lab_nic 4)
lab_bind_vfio "$NIC0" >/dev/null
lab_bind_vfio "$NIC4" >/dev/null
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
A=$(lab_bind_kernel "$(lab_nic 1)")
B=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$A" 198.18.9.1/24 dpdk_a
lab_if_up "$B" 198.18.9.2/24 dpdk_b

# Failures first: each one line, before anything is started.
echo 0 >/proc/sys/vm/nr_hugepages
fails_with "needs hugepages to drive $NIC0" "$LOBO" fwd "dpdk:$NIC0" null:
lab_hugepages 128
fails_with "DPDK was started for virtual devices only" "$LOBO" fwd dpdk:net_null0 "dpdk:$NIC0"
fails_with "is bound to virtio-pci, which DPDK cannot use" "$LOBO" fwd "dpdk:$(lab_nic 1)" null:

# The dpdk: port's counters in the running lobo: "MODE COPIES".
dpdk_state() {
	"$LOBO" top --count 1 --json >$T/top.json
	python3 -c 'import json, sys; p = [p for q in json.load(open(sys.argv[1]))["processes"] for p in q["ports"] if p["driver"] == "dpdk"][0]; print(p["mode"], p["copies"])' $T/top.json
}

# frames FROM_NS FROM_IF TO_NS TO_IF SRC DST: 200 random frames, paced (the peers' and
# lobo's rings are small under software emulation), must all arrive bit-exact.
frames() {
	$F gen $T/sent.pcap 200 $RANDOM "$5" "$6" - untagged   # DPDK is not under test for tags
	lab_in "$3" timeout 60 tcpdump -q -i "$4" -w $T/got.pcap -s 2000 -U -c 200 ether proto 0x88b5 2>$T/tcpdump.err &
	local td=$!
	for _ in $(seq 100); do grep -q listening $T/tcpdump.err && break; sleep 0.1; done
	lab_in "$1" python3 -c 'import socket, sys, time
sys.path.insert(0, sys.argv[3]); from frames import iter_pcap
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.settimeout(5)
for i, f in enumerate(iter_pcap(sys.argv[2])):
    s.send(f); time.sleep(0.002)' "$2" $T/sent.pcap "$LAB_DIR/tools" 2>$T/send.err ||
		fail "$2 could not send: $(tail -n1 $T/send.err); lobo: $("$LOBO" top --count 1 --json)"
	wait $td || fail "tcpdump on $4 did not get 200 frames in 60 s: $(tail -n1 $T/tcpdump.err); lobo: $("$LOBO" top --count 1 --json)"
	$F cmp $T/sent.pcap $T/got.pcap unordered >$T/cmp.out || fail "$2 -> $4: $(cat $T/cmp.out)"
	echo "$2 -> $4: $(cat $T/cmp.out)"
}

# through SIDE EAL_ARGS: lobo fwd dpdk:SIDE pci:NIC2; ping, then frames both ways,
# and once the PMD has taken the caller's buffers for its ring, no more copies.
through() {
	local side=$1 fwd before after
	lab_log "lobo fwd dpdk:$side pci:$NIC2${2:+, LOBO_EAL_ARGS=$2}"
	LOBO_EAL_ARGS=$2 "$LOBO" fwd "dpdk:$side" "pci:$NIC2" --duration 300 --json >$T/fwd.json 2>$T/fwd.err &
	fwd=$!
	for _ in $(seq 600); do [ -e /run/lobo/$fwd ] && break; kill -0 $fwd 2>/dev/null || fail "lobo fwd: $(cat $T/fwd.err)"; sleep 0.1; done
	# QEMU's virtio-pci disables a device whose command register is written
	# without bus mastering, as DPDK's start does (bench/lab-guest.sh): set it.
	setpci -s "$side" COMMAND=0x4:0x4
	lab_log "running"
	lab_in dpdk_a ping -c 10 -i 0.2 -W 5 198.18.9.2 >$T/ping.out || fail "dpdk:$side: no ping through lobo fwd: $(grep transmitted $T/ping.out); $(cat $T/fwd.err)"
	grep -q ' 0% packet loss' $T/ping.out || fail "dpdk:$side: ping lost frames: $(grep transmitted $T/ping.out)"
	# Warm-up: net_virtio filled its ring (256) with DPDK's buffers before anything was posted.
	lab_in dpdk_a ping -f -c 300 -W 5 198.18.9.2 >/dev/null
	before=$(dpdk_state)
	frames dpdk_a "$A" dpdk_b "$B" "$LAB_NIC1_MAC" "$LAB_NIC3_MAC"
	frames dpdk_b "$B" dpdk_a "$A" "$LAB_NIC3_MAC" "$LAB_NIC1_MAC"
	after=$(dpdk_state)
	[ "${before% *}" = "net_virtio, zero-copy" ] && [ "${after#* }" = "${before#* }" ] ||
		fail "dpdk:$side copied frames after its warm-up: '$before' before, '$after' after"
	kill -INT $fwd; wait $fwd || fail "lobo fwd dpdk:$side ended badly: $(cat $T/fwd.err)"
	python3 -c 'import json, sys; s = json.loads(open(sys.argv[1]).read().splitlines()[-1]); p = s["ports"]["dpdk:" + sys.argv[2]]; sys.exit(p["rx_packets"] < 500 or p["tx_packets"] < 500)' $T/fwd.json "$side" ||
		fail "dpdk:$side: summary counts too few frames: $(tail -n1 $T/fwd.json)"
	echo "dpdk:$side (EAL args: ${2:-the defaults}) next to pci:$NIC2: $(grep transmitted $T/ping.out), 400 frames bit-exact, $after copies (all in the warm-up)"
}
through "$NIC0" ""
through "$NIC4" "--in-memory --iova-mode=pa -a $NIC4"
