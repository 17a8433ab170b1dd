#!/bin/bash
# The lab part of bench/run, run in a guest by lab/run-guest: txonly on one
# virtio-net NIC (NIC 0) from lobo, DPDK testpmd and the guest kernel's pktgen,
# back to back, into the guest kernel's virtio_net on NIC 1 (same hub), whose
# rx_packets over a fixed interval is the rate of each. Prints for bench/run
#   BENCH <side> <peer-counted Mpps> [<the sender's own Mpps>]
# RUNS, DUR (seconds), LOBO come from bench/run's wrapper; defaults for a manual run.
# iommu=pt: the kernel's own DMA goes untranslated (as on a host), VFIO still gets the IOMMU.
# lab: iommu=1 append=iommu=pt nic=virtio nic=virtio hugepages=160 timeout=1200
. "$LAB_DIR/lib.sh"
REPO=$(cd "$LAB_DIR/.." && pwd)
RUNS=${RUNS:-2} DUR=${DUR:-3} WARM=2 LOBO=${LOBO:-$REPO/build/src/tools/lobo} T=/tmp
command -v dpdk-testpmd >/dev/null || lab_skip "no dpdk-testpmd (apt-get install dpdk)"
NIC0=$(lab_nic 0) DST=$LAB_NIC1_MAC
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
PEER=$(lab_bind_kernel "$(lab_nic 1)")
lab_if_up "$PEER"
ip link set "$PEER" promisc on # count every frame that reaches it, whatever its destination
lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci pktgen

rx() { cat "/sys/class/net/$PEER/statistics/rx_packets"; }
now() { date +%s.%N; }
# window: after WARM s of sending, the peer's frames over DUR s, as Mpps into $T/peer
window() {
	local c0 t0
	sleep $WARM
	c0=$(rx) t0=$(now)
	sleep "$DUR"
	awk -v c="$(rx)" -v c0="$c0" -v t="$(now)" -v t0="$t0" 'BEGIN {printf "%.5f\n", (c - c0) / (t - t0) / 1e6}' >$T/peer
}

run_lobo() {
	[ -x "$LOBO" ] || { lab_log "lobo failed: no lobo binary at $LOBO"; return; }
	lab_unbind "$NIC0"
	"$LOBO" blast "pci:$NIC0?vfio=0" --size 60 --dst-mac "$DST" --duration $((WARM + DUR + 2)) --json >$T/lobo.json 2>$T/lobo.err &
	local pid=$!
	window
	wait $pid || { lab_log "lobo failed: $(tail -1 $T/lobo.err)"; return; }
	echo "BENCH lobo $(cat $T/peer) $(/usr/bin/python3 "$REPO/bench/bench.py" lobo tx_packets <$T/lobo.json)"
}

# testpmd -i: start, the window (its stats read at both ends), stop, quit; its own
# Tx-pps comes from the second `show port stats all`. While testpmd runs, NIC 0's
# command register lacks bus mastering (reads 0x0003), and QEMU's virtio-pci disables
# a device whose command register is written without it (hw/virtio/virtio-pci.c,
# virtio_write_config -> virtio_set_disabled): its queues look empty and it sends
# nothing. Setting the bit once testpmd has started the port re-enables it.
run_testpmd() {
	lab_bind_vfio "$NIC0" >/dev/null
	: >$T/testpmd.out
	{
		for _ in $(seq 600); do grep -q 'Checking link statuses' $T/testpmd.out && break; sleep 0.2; done
		setpci -s "$NIC0" COMMAND=0x4:0x4
		echo start; window; echo 'show port stats all'; sleep 1; echo 'show port stats all'; echo stop; echo quit
	} | timeout -k 5 $((WARM + DUR + 180)) stdbuf -oL dpdk-testpmd --lcores '0@0,1@0' -a "$NIC0" \
		--file-prefix lbench --in-memory --iova-mode=pa -- -i --forward-mode=txonly --txpkts=60 \
		--eth-peer=0,"$DST" --total-num-mbufs=4096 >>$T/testpmd.out 2>&1
	[ -z "${DEBUG:-}" ] || cat $T/testpmd.out
	grep -q 'Tx-pps' $T/testpmd.out || { lab_log "testpmd failed: $(grep -m1 -iE 'error|fail|cannot' $T/testpmd.out)"; return; }
	echo "BENCH testpmd $(cat $T/peer) $(/usr/bin/python3 "$REPO/bench/bench.py" testpmd 1 <$T/testpmd.out | cut -d' ' -f2)"
}

# pktgen (Documentation/networking/pktgen.rst): one kernel thread on the one vCPU,
# clone_skb and burst as the document advises for top speed, until `stop`.
run_pktgen() {
	local ifc pg=/proc/net/pktgen
	ifc=$(lab_bind_kernel "$NIC0")
	ip link set "$ifc" up
	echo rem_device_all >$pg/kpktgend_0
	echo "add_device $ifc" >$pg/kpktgend_0
	for c in "count 0" "pkt_size 60" "dst_mac $DST" "dst 198.18.0.2" "clone_skb 1000" "burst 32"; do
		echo "$c" >"$pg/$ifc" || lab_log "pktgen refused '$c': $(grep Result "$pg/$ifc")"
	done
	echo start >$pg/pgctrl &
	local pid=$!
	window
	echo stop >$pg/pgctrl
	wait $pid
	echo "BENCH pktgen $(cat $T/peer)"
}

for r in $(seq "$RUNS"); do
	# Rotate who goes first, so that drift in the host's load hits all three alike.
	sides=(${SIDES:-lobo testpmd pktgen})
	for i in "${!sides[@]}"; do
		s=${sides[$(((i + r) % ${#sides[@]}))]}
		lab_log "run $r: $s"
		run_$s
	done
done
echo "BENCH-END"
