#!/bin/bash
# The igb part of bench/run's lab, run in a guest by lab/run-guest: lobo's igb
# driver, DPDK testpmd's net_e1000_igb and the guest kernel's igb on the same
# emulated 82576s, back to back: txonly, rxonly and io. Prints for bench/run
#   IGB <workload> <side> <Mpps>       the side's own count of frames over DUR s
#   IGBCPU <blast|loop> <ns of CPU per frame> <frames>
# NIC 0 and NIC 4 are measured (hub 0 and hub 1). For rxonly and io, NIC 2
# feeds hub 0 from lobo blast --loop: the NIC loops, so the generator itself
# takes the least of the one vCPU. The e1000e NICs only keep the igbs apart
# (two igbs in adjacent slots collide over their VF slots).
# lab: iommu=1 append=iommu=pt nic=igb,hub=0 nic=e1000e,hub=1 nic=igb,hub=0 nic=e1000e,hub=0 nic=igb,hub=1
# lab: hugepages=200 timeout=2400
. "$LAB_DIR/lib.sh"
REPO=$(cd "$LAB_DIR/.." && pwd)
RUNS=${RUNS:-2} DUR=${DUR:-3} WARM=2 LOBO=${LOBO:-$REPO/build/src/tools/lobo} T=/tmp
command -v dpdk-testpmd >/dev/null || lab_skip "no dpdk-testpmd (apt-get install dpdk)"
A=$(lab_nic 0) GEN=$(lab_nic 2) B=$(lab_nic 4)
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci pktgen bridge igb

# rate FILE FIELD PORT: the median FIELD (tx_pps/rx_pps) of lobo's --json rate
# lines after the warm-up, for port number PORT, in Mpps.
rate() {
	python3 -S - "$@" <<'PY'
import json, statistics, sys
f, field, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = [list(o["ports"].values())[port][field] for o in map(json.loads, open(f))
     if o.get("type") == "rate" and o["seconds"] > float(__import__("os").environ["WARM"])]
print("%.5f" % (statistics.median(v) / 1e6) if v else "")
PY
}
export WARM
# count IF STAT: a kernel interface's counter.
count() { cat "/sys/class/net/$1/statistics/$2"; }
# window IF STAT: after the warm-up, Mpps of IF's STAT over DUR s.
window() {
	local c0 t0
	sleep $WARM
	c0=$(count "$1" "$2") t0=$(date +%s.%N)
	sleep "$DUR"
	awk -v c="$(count "$1" "$2")" -v c0="$c0" -v t="$(date +%s.%N)" -v t0="$t0" 'BEGIN {printf "%.5f\n", (c - c0) / (t - t0) / 1e6}'
}
say() { [ -n "$3" ] && echo "IGB $1 $2 $3" || lab_log "$2 $1: no rate"; }

generator() {   # NIC 2 sends 60-byte frames round and round, to an address no one has
	lab_unbind "$GEN"
	"$LOBO" blast "pci:$GEN?vfio=0" --size 60 --loop --duration 100000 >$T/gen.out 2>&1 &
	GEN_PID=$!
	sleep 3
	kill -0 $GEN_PID 2>/dev/null || lab_log "generator failed: $(tail -1 $T/gen.out)"
}
stop_generator() { kill -INT $GEN_PID 2>/dev/null; wait $GEN_PID 2>/dev/null; }

# lobo through VFIO, as testpmd: with the IOMMU emulated, every DMA of a device
# in a VFIO domain is translated, which a device in the passthrough domain skips.
lobo_side() {   # workload
	local out=$T/lobo-$1.json d=$((WARM + DUR + 1))
	lab_bind_vfio "$A" >/dev/null
	lab_bind_vfio "$B" >/dev/null
	case $1 in
	txonly) "$LOBO" blast "pci:$A" --size 60 --duration $d --json >$out 2>&1 && say txonly lobo "$(rate $out tx_pps 0)" ;;
	# rxonly: a capture whose filter takes nothing, so frames are received and dropped
	rxonly) "$LOBO" capture "pci:$A" -w /dev/null --duration $d --json 'ether proto 0x88b6' >$out 2>&1 &&
		say rxonly lobo "$(rate $out rx_pps 0)" ;;
	io) "$LOBO" fwd "pci:$A" "pci:$B" --duration $d --json >$out 2>&1 && say io lobo "$(rate $out tx_pps 1)" ;;
	esac || lab_log "lobo $1 failed: $(tail -1 $out)"
	lab_unbind "$A"
	lab_unbind "$B"
}

# testpmd -i: start, the window, its stats twice (the second gives the rate), quit.
# QEMU's igb does no DMA while the command register lacks bus mastering, which
# testpmd's port start leaves off: set it once the port runs (bench/lab-guest.sh).
testpmd_side() {   # workload
	local ports=(-a "$A") n=1 field=Tx-pps mode=$1
	[ "$1" = io ] && ports+=(-a "$B") n=2
	[ "$1" = rxonly ] && field=Rx-pps
	lab_bind_vfio "$A" >/dev/null
	[ "$1" = io ] && lab_bind_vfio "$B" >/dev/null
	: >$T/testpmd.out
	{
		for _ in $(seq 900); do grep -q 'Checking link statuses' $T/testpmd.out && break; sleep 0.2; done
		setpci -s "$A" COMMAND=0x4:0x4
		[ "$1" = io ] && setpci -s "$B" COMMAND=0x4:0x4
		echo start; sleep $((WARM + DUR)); echo 'show port stats all'; sleep 1; echo 'show port stats all'; echo stop; echo quit
	} | timeout -k 5 $((WARM + DUR + 300)) stdbuf -oL dpdk-testpmd --lcores '0@0,1@0' "${ports[@]}" --file-prefix ligb \
		--in-memory --iova-mode=va -- -i --forward-mode=$mode --txpkts=60 --total-num-mbufs=4096 >>$T/testpmd.out 2>&1
	local v
	v=$(python3 -S "$REPO/bench/bench.py" testpmd $n <$T/testpmd.out)
	[ "$field" = Rx-pps ] && v=${v%% *} || v=${v##* }
	say "$1" testpmd "$v"
	[ -n "$v" ] || lab_log "testpmd $1: $(grep -m1 -iE 'error|fail|cannot' $T/testpmd.out)"
	lab_unbind "$A"
	lab_unbind "$B"
}

kernel_side() {   # workload
	local a b
	a=$(lab_bind_kernel "$A")
	ip link set "$a" up promisc on
	lab_wait_carrier "$a"
	case $1 in
	txonly) # pktgen (Documentation/networking/pktgen.rst) as it advises for top speed
		local pg=/proc/net/pktgen
		echo rem_device_all >$pg/kpktgend_0
		echo "add_device $a" >$pg/kpktgend_0
		for c in "count 0" "pkt_size 60" "dst_mac 02:00:00:00:00:00" "dst 198.18.0.2" "clone_skb 1000" "burst 32"; do
			echo "$c" >"$pg/$a"
		done
		echo start >$pg/pgctrl &
		say txonly kernel "$(window "$a" tx_packets)"
		echo stop >$pg/pgctrl
		wait ;;
	rxonly) say rxonly kernel "$(window "$a" rx_packets)" ;;
	io) # a Linux bridge floods the unknown destination from A to B
		b=$(lab_bind_kernel "$B")
		ip link add br0 type bridge && ip link set br0 up
		ip link set "$a" master br0 && ip link set "$b" master br0 && ip link set "$b" up
		lab_wait_carrier "$b"
		say io kernel "$(window "$b" tx_packets)"
		ip link del br0
		lab_unbind "$B" ;;
	esac
	lab_unbind "$A"
}

for wl in txonly rxonly io; do
	[ "$wl" = txonly ] || generator
	for r in $(seq "$RUNS"); do
		sides=(lobo testpmd kernel)
		for i in 0 1 2; do   # who goes first rotates, so drift in the host's load hits all alike
			s=${sides[$(((i + r) % 3))]}
			lab_log "$wl run $r: $s"
			${s}_side $wl
		done
	done
	[ "$wl" = txonly ] || stop_generator
done

# lobo's CPU time per frame sent, normal blast against the loop in the NIC.
lab_bind_vfio "$A" >/dev/null
for mode in blast loop; do
	"$LOBO" blast "pci:$A" --size 60 --duration $((WARM + DUR)) --json $([ $mode = loop ] && echo --loop) >$T/cpu.json 2>&1
	python3 -S -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().strip().split("\n")[-1]); n=list(s["ports"].values())[0]["tx_packets"]
print("IGBCPU %s %.0f %d" % (sys.argv[2], s["cpu_seconds"] * 1e9 / max(n, 1), n))' $T/cpu.json $mode || lab_log "cpu $mode: $(tail -1 $T/cpu.json)"
done
echo "BENCH-END"
