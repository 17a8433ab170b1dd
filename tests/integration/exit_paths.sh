#!/bin/bash
# Every way a run ends closes its ports: SIGINT, SIGTERM, SIGHUP and SIGQUIT
# each end `lobo fwd xdp: xdp:` with its summary, status 0, its XDP programs
# detached and /run/lobo/<pid> gone; so does a reader that goes away (`| head
# -1`: EPIPE, not death by SIGPIPE), for fwd and for top; so does a signal
# that arrives while the ports are still opening. kill -9 cannot be caught:
# it leaves the stats file behind, and lobo top removes it without showing it.
. "$(dirname "$0")/common.inc"
need_root
mkns ep-m ep-a ep-b
veth epa0 ep-m epa1 ep-a
veth epb0 ep-m epb1 ep-b
FWD=(ip netns exec ep-m "$L" fwd xdp:epa0 xdp:epb0 --json)
fails=0
problem() { echo "$*"; fails=$((fails + 1)); }

# clean PID WHAT: the run of PID left nothing behind.
clean() {
	[ -e "/run/lobo/$1" ] && problem "$2: /run/lobo/$1 left behind"
	ip -n ep-m link show epa0 | grep -q prog/xdp && problem "$2: XDP program left on epa0"
	ip -n ep-m link show epb0 | grep -q prog/xdp && problem "$2: XDP program left on epb0"
	ip -n ep-m link set epa0 xdp off 2>/dev/null; ip -n ep-m link set epb0 xdp off 2>/dev/null
}

# ended PID: waits up to 5 s for PID to end; its exit status, or 255.
ended() {
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
		sleep 0.05
	done
	return 255
}

for sig in INT TERM HUP QUIT; do
	"${FWD[@]}" >"$tmp/$sig.json" 2>"$tmp/$sig.err" &
	pid=$!
	pids+=($pid)
	wait_ready $pid
	kill -$sig $pid
	ended $pid
	rc=$?
	[ $rc -eq 0 ] || problem "SIG$sig: exit status $rc, wanted 0 ($(tr '\n' ' ' <"$tmp/$sig.err"))"
	grep -q '"type":"summary"' "$tmp/$sig.json" || problem "SIG$sig: no summary printed"
	clean $pid "SIG$sig"
done

# The reader goes away after the first line: the next write fails and ends the run.
"${FWD[@]}" 2>"$tmp/pipe.err" > >(head -n1 >"$tmp/first") &
pid=$!
pids+=($pid)
ended $pid
rc=$?
[ $rc -eq 0 ] || problem "fwd | head -1: exit status $rc, wanted 0 (141 is death by SIGPIPE; 255: still running)"
grep -q '"type":"rate"' "$tmp/first" || problem "fwd | head -1: the first line is not a rate line"
clean $pid "fwd | head -1"
timeout 10 "$L" top --interval 0.1 --json | head -n1 >/dev/null
[ "${PIPESTATUS[0]}" -eq 0 ] || problem "top | head -1: exit status ${PIPESTATUS[0]}, wanted 0"

# A signal while the ports open: a shim raises SIGHUP as the AF_XDP socket is
# made, after the XDP program is attached; the run must still close it.
cat >"$tmp/hup.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
int xsk_socket__create_shared(void *a, const char *b, unsigned c, void *d, void *e, void *f, void *g, void *h, const void *i)
{
	int (*real)(void *, const char *, unsigned, void *, void *, void *, void *, void *, const void *) =
		(int (*)(void *, const char *, unsigned, void *, void *, void *, void *, void *, const void *))dlsym(RTLD_NEXT, "xsk_socket__create_shared");
	raise(SIGHUP);
	return real(a, b, c, d, e, f, g, h, i);
}
C
if gcc -shared -fPIC -o "$tmp/hup.so" "$tmp/hup.c" -ldl; then
	LD_PRELOAD="$tmp/hup.so" ASAN_OPTIONS=verify_asan_link_order=0 "${FWD[@]}" >"$tmp/open.json" 2>"$tmp/open.err" &
	pid=$!
	pids+=($pid)
	ended $pid
	rc=$?
	[ $rc -eq 0 ] || problem "SIGHUP while opening: exit status $rc, wanted 0 ($(tr '\n' ' ' <"$tmp/open.err"))"
	clean $pid "SIGHUP while opening"
fi

# kill -9: the file stays, lobo top neither shows it nor keeps it.
ip netns exec ep-m "$L" fwd null: null: --duration 30 >/dev/null 2>&1 &
pid=$!
pids+=($pid)
wait_ready $pid
kill -KILL $pid
wait $pid 2>/dev/null
[ -e "/run/lobo/$pid" ] || problem "kill -9: expected /run/lobo/$pid to be left behind (the test proves nothing)"
"$L" top --interval 0.01 --count 1 --json | grep -q "\"pid\":$pid," && problem "kill -9: lobo top shows the dead process $pid"
[ -e "/run/lobo/$pid" ] && problem "kill -9: lobo top left /run/lobo/$pid"
[ $fails -eq 0 ] && echo "SIGINT, SIGTERM, SIGHUP, SIGQUIT, | head, a signal while opening and kill -9 leave nothing behind"
exit $((fails > 0))
