#!/bin/sh
# lobo fwd between two xdp: ports bridges two namespaces: ping crosses only
# while lobo runs (frames go from one port's UMEM out of the other, uncopied),
# and the XDP programs are gone once lobo exits on SIGTERM. (Steering with
# ?kernel=arp,icmp is tested in tests/unit/test_port_xdp.c: on a bridge it
# would hand the peer's ARP and ping replies to the middle host instead.)
LOBO=${LOBO:-build/lobo}
A=xdp_fwd-a B=xdp_fwd-b M=xdp_fwd-m
log=/tmp/xdp_fwd.$$.log
pid=
fail() { echo "xdp_fwd: $*"; exit 1; }
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"
	for n in $A $B $M; do ip netns del $n 2>/dev/null; done
	rm -f "$log"
}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
[ -x "$LOBO" ] || { echo "no lobo binary at $LOBO (set LOBO=)"; exit 77; }
trap cleanup EXIT
cleanup
for n in $A $B $M; do ip netns add $n || fail "cannot create namespace $n"; done
ip -n $M link add xfwda0 type veth peer name xfwda1 netns $A &&
ip -n $M link add xfwdb0 type veth peer name xfwdb1 netns $B &&
ip -n $M link set xfwda0 up && ip -n $M link set xfwdb0 up &&
ip -n $A addr add 10.197.0.1/24 dev xfwda1 && ip -n $A link set xfwda1 up &&
ip -n $B addr add 10.197.0.2/24 dev xfwdb1 && ip -n $B link set xfwdb1 up || fail "cannot set up veth pairs"

ip netns exec $A ping -c 1 -W 1 10.197.0.2 >/dev/null && fail "ping crossed without lobo: the test would prove nothing"

ip netns exec $M "$LOBO" fwd xdp:xfwda0 xdp:xfwdb0 --duration 30 >"$log" 2>&1 &
pid=$!
for i in $(seq 50); do ip -n $M link show xfwdb0 | grep -q "prog/xdp" && break; sleep 0.1; done
sleep 0.2
kill -0 $pid 2>/dev/null || fail "lobo fwd exited: $(tail -n1 "$log")"

ip netns exec $A ping -c 5 -i 0.2 -W 1 10.197.0.2 >/dev/null || fail "no ping from $A to $B through lobo fwd: $(tail -n1 "$log")"
ip netns exec $B ping -c 3 -i 0.2 -W 1 10.197.0.1 >/dev/null || fail "no ping from $B to $A through lobo fwd: $(tail -n1 "$log")"

kill "$pid"; wait "$pid"; pid=
ip -n $M link show xfwda0 | grep -q "prog/xdp" && fail "XDP program left on xfwda0 after lobo exited"
ip -n $M link show xfwdb0 | grep -q "prog/xdp" && fail "XDP program left on xfwdb0 after lobo exited"
grep -q "summary" "$log" || fail "lobo fwd printed no summary: $(tail -n1 "$log")"
exit 0
