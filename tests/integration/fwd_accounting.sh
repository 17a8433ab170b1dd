#!/bin/bash
# In == out + counted drops, exactly, through `lobo fwd` on every host port
# kind: null, pcap, afpacket, tap and xdp. Drops are forced on both sides: the
# forwarder is stopped (SIGSTOP) while frames keep coming, so its receive
# rings overflow, and the far side's link goes down, so the kernel refuses
# what it sends. "In" and "out" are counted by someone other than lobo: the
# kernel's counters of the interfaces, the generator's file, the output file.
#   frames that reached port A = frames that left port B
#       + A's rx_dropped + rx_errors + B's tx_dropped + tx_errors
#       + what the kernel dropped after B handed it over (B's tx_dropped)
. "$(dirname "$0")/common.inc"
need_root
fails=0
problem() { echo "$*"; fails=$((fails + 1)); }
$PY "$(dirname "$0")/random_frames.py" 400 "$tmp/frames.pcap" || exit 1

# field NAME FILE.json PORT: a counter from the summary line of port PORT (0 or 1).
field() {
	$PY -c 'import json, sys; s = json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(list(s["ports"].values())[int(sys.argv[2])][sys.argv[3]])' "$2" "$3" "$1"
}
# stat NS IF NAME: a kernel counter of an interface, in its namespace.
stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

# check WHAT IN OUT SUMMARY KERNEL: the identity, with lobo's drops from the
# summary. KERNEL, B's device drops as the kernel counts them, only explains a
# failure: it counts frames lobo was refused (and counted) as well.
check() {
	local what=$1 in=$2 out=$3 json=$4 kernel=$5
	local rxd rxe txd txe
	rxd=$(field rx_dropped "$json" 0) rxe=$(field rx_errors "$json" 0)
	txd=$(field tx_dropped "$json" 1) txe=$(field tx_errors "$json" 1)
	local drops=$((rxd + rxe + txd + txe))
	if [ "$in" -ne $((out + drops)) ]; then
		problem "$what: in $in != out $out + drops $drops (A rx_dropped $rxd rx_errors $rxe, B tx_dropped $txd tx_errors $txe; the kernel's tx_dropped of B: $kernel)"
	elif [ $((rxd + rxe)) -eq 0 ] || [ $((txd + txe)) -eq 0 ]; then
		problem "$what: no drops on one side (A $((rxd + rxe)), B $((txd + txe))): the test proves nothing"
	else
		echo "$what: in $in = out $out + drops $drops (rx $rxd + $rxe, tx $txd + $txe)"
	fi
	local rx_a tx_b
	rx_a=$(field rx_packets "$json" 0) tx_b=$(field tx_packets "$json" 1)
	[ "$rx_a" -eq $((tx_b + txd + txe)) ] || problem "$what: A rx_packets $rx_a != B tx_packets $tx_b + tx_dropped $txd + tx_errors $txe"
}

# null: a full tx ring turns frames away; fwd counts them in B's tx_dropped.
"$L" fwd null: null:?tx_ring=8 --count 100000 --json >"$tmp/null.json" || problem "fwd null: null: failed"
in=$(field rx_packets "$tmp/null.json" 0)
[ "$(field tx_dropped "$tmp/null.json" 1)" -gt 0 ] || problem "null: nothing dropped: the test proves nothing"
[ "$in" -eq $(($(field tx_packets "$tmp/null.json" 1) + $(field tx_dropped "$tmp/null.json" 1))) ] ||
	problem "null: rx $in != tx + tx_dropped in $(tail -n1 "$tmp/null.json")"

# pcap: records larger than the 2 KiB buffers are dropped, a cut record is an error.
$PY "$(dirname "$0")/random_frames.py" 300 "$tmp/in.pcap" --big 7 --cut --seed 2 || exit 1
"$L" fwd "pcap:$tmp/in.pcap" "pcap:$tmp/out.pcap?mode=w" --json >"$tmp/pcap.json" 2>"$tmp/pcap.err" ||
	problem "fwd pcap: pcap: failed: $(cat "$tmp/pcap.err")"
out=$($PY -c 'import sys; from scapy.utils import RawPcapReader; print(sum(1 for _ in RawPcapReader(sys.argv[1])))' "$tmp/out.pcap")
[ "$(field rx_dropped "$tmp/pcap.json" 0)" -eq 7 ] && [ "$(field rx_errors "$tmp/pcap.json" 0)" -eq 1 ] ||
	problem "pcap: wanted 7 dropped and 1 damaged, got $(tail -n1 "$tmp/pcap.json")"
[ $((300 + 1)) -eq $((out + $(field rx_dropped "$tmp/pcap.json" 0) + $(field rx_errors "$tmp/pcap.json" 0))) ] ||
	problem "pcap: 301 records in, $out out, drops $(tail -n1 "$tmp/pcap.json")"

# run KIND A B: fwd KIND:A KIND:B in ns ac-m; the generator sends from ac-g
# (through the veth ga0 == A) or, for tap, out of tap A; B leads to the sink.
run() {
	local kind=$1 a=$2 b=$3 gen_ns gen_if sink_ns sink_if
	ip netns exec ac-m "$L" fwd "$kind:$a?rx_ring=64" "$kind:$b" --json >"$tmp/$kind.json" 2>"$tmp/$kind.err" &
	local pid=$!
	pids+=($pid)
	wait_ready $pid
	if [ "$kind" = tap ]; then
		gen_ns=ac-m gen_if=$a sink_ns=ac-m sink_if=$b
		ip -n ac-m link set "$b" up
	else
		gen_ns=ac-g gen_if=ga0 sink_ns=ac-s sink_if=sb0
	fi
	# frames that reached A: what the veth delivered, or what the kernel sent out of tap A
	arrived() {
		if [ "$kind" = tap ]; then echo $(($(stat ac-m "$a" tx_packets) + $(stat ac-m "$a" tx_dropped)))
		else stat ac-m "$a" rx_packets; fi
	}
	local in0 out0 kd0
	in0=$(arrived) out0=$(stat "$sink_ns" "$sink_if" rx_packets) kd0=$(stat ac-m "$b" tx_dropped)
	ip netns exec "$gen_ns" "$L" blast "afpacket:$gen_if" --pcap "$tmp/frames.pcap" --rate 20000 --duration 2 \
		>/dev/null 2>"$tmp/blast.err" &
	local blast=$!
	sleep 0.4; kill -STOP $pid; sleep 0.3; kill -CONT $pid # rx rings overflow
	sleep 0.3
	if [ "$kind" = tap ]; then # the far side refuses frames
		ip -n ac-m link set "$b" down; sleep 0.3; ip -n ac-m link set "$b" up
	else
		ip -n ac-s link set sb0 down; sleep 0.3; ip -n ac-s link set sb0 up
	fi
	wait $blast || problem "$kind: the generator failed: $(cat "$tmp/blast.err")"
	sleep 1 # the forwarder polls idle: kernel drop statistics come in
	local in out kd # read before fwd ends: its taps go with it
	in=$(($(arrived) - in0)) out=$(($(stat "$sink_ns" "$sink_if" rx_packets) - out0))
	kd=$(($(stat ac-m "$b" tx_dropped) - kd0))
	interrupt $pid || problem "$kind: fwd exited $? on SIGINT"
	check "$kind" "$in" "$out" "$tmp/$kind.json" "$kd"
}

mkns ac-g ac-m ac-s
veth ga0 ac-g a0 ac-m
veth b0 ac-m sb0 ac-s
ip netns exec ac-m sysctl -qw net.ipv6.conf.default.disable_ipv6=1
run afpacket a0 b0
run xdp a0 b0
run tap acta actb
[ $fails -eq 0 ] && echo "null, pcap, afpacket, xdp and tap: in = out + counted drops"
exit $((fails > 0))
