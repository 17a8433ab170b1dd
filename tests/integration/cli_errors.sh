#!/bin/bash
# Every bad input gives one line "lobo: ..." naming the problem, and a nonzero exit.
set -u
L=${LOBO:-build/lobo}
tmp=$(mktemp -d /tmp/cli_errors.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
AS=(env)

# expect WORDS-REGEX -- lobo args...: nonzero exit, exactly one stderr line matching.
expect() {
	local want=$1; shift
	"${AS[@]}" "$L" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ $rc -eq 0 ] || [ "$lines" -ne 1 ] || ! grep -qE "^lobo: .*($want)" "$tmp/err"; then
		echo "lobo $*: exit $rc, stderr: $(head -c 300 "$tmp/err" | tr '\n' '|') (wanted one line matching '$want')"
		fails=$((fails + 1))
	fi
}

expect "unknown command" frobnicate
expect "unknown option '--bogus'" fwd null: null: --bogus
expect "unknown option" blast null: --size 60 -w x
expect "unknown option '-x' for fwd" fwd null: null: -jx
expect "option '--json=1' takes no value" fwd null: null: --json=1
expect "bad value '1.5' for --count" fwd null: null: --count 1.5
expect "bad value '1e15' for --size" blast null: --size 1e15
expect "filter is longer than" capture null: -w "$tmp/x.pcap" $(printf 'tcp %.0s' $(seq 300))
expect "unknown option 'x.y\?z' for null" fwd "null:?x.y$(printf '\033')z" null:
expect "unknown port scheme" fwd foo:bar null:
expect "not a port URI" capture eth0 -w "$tmp/x.pcap"
expect "nosuch0" capture afpacket:nosuch0 -w "$tmp/x.pcap" --duration 1
expect "--size 9000 is out of range" blast null: --size 9000 --count 1
expect "--size 59 is out of range" blast null: --size 59 --count 1
expect "bad value" blast null: --size 60 --count many
expect "drop --count and --rate" blast null: --size 60 --loop --count 5
expect "either --size" blast null:
expect "needs an output file" capture null:
expect "two ports" fwd null:
expect "reset needs one port" reset
expect "reset takes a PCI device, pci:BDF" reset null:
expect "reset takes a PCI device, pci:BDF" reset "pci:00:03.0?vfio=0"
expect "is not a PCI address" reset pci:00:zz
expect "no PCI device at 0000:ff:1f.7" reset pci:ff:1f.7
head -c 100 /dev/urandom >"$tmp/garbage.pcap"
expect "garbage.pcap" blast null: --pcap "$tmp/garbage.pcap" --count 1
expect "missing.pcap" blast null: --pcap "$tmp/missing.pcap" --count 1
# A valid header followed by a record cut short.
/usr/bin/python3 - "$tmp/cut.pcap" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, wrpcap
wrpcap(sys.argv[1], [Ether() / IP() / UDP() / (b"x" * 100)] * 3)
data = open(sys.argv[1], "rb").read()
open(sys.argv[1], "wb").write(data[:-60])
PY
expect "cut.pcap" blast null: --pcap "$tmp/cut.pcap" --count 1
expect "bad filter" capture null: -w "$tmp/x.pcap" --count 1 "udp port banana"
if [ "$(id -u)" -eq 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	expect "needs root" capture afpacket:lo -w /dev/null --count 1
	any=$(ls /sys/bus/pci/devices | head -n1)
	[ -z "$any" ] || expect "resetting $any needs root" reset "pci:$any"
	AS=(env)
fi

expect "cannot write" capture null: -w /nonexistent/dir/x.pcap --count 1
[ ! -e "$tmp/never.pcap" ] || rm "$tmp/never.pcap"
expect "nosuch0" capture afpacket:nosuch0 -w "$tmp/never.pcap" --count 1
[ ! -e "$tmp/never.pcap" ] || { echo "a capture whose port failed left $tmp/never.pcap behind"; fails=$((fails + 1)); }

# Without hugepages, ports that do no DMA of their own run as well and say
# nothing about pages: the warning is for pci: ports only (checked in the lab).
# A tiny mmap shim refuses MAP_HUGETLB, as a kernel with no hugepages reserved would.
cat >"$tmp/nohuge.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
void *mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	if (f & MAP_HUGETLB) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	return real(a, l, p, f, fd, o);
}
void *mmap64(void *a, size_t l, int p, int f, int fd, off_t o) { return mmap(a, l, p, f, fd, o); }
C
if gcc -shared -fPIC -o "$tmp/nohuge.so" "$tmp/nohuge.c" -ldl; then
	LD_PRELOAD="$tmp/nohuge.so" ASAN_OPTIONS=verify_asan_link_order=0 "$L" fwd null: null:?size=64 --duration 0.2 \
		>/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
		echo "without hugepages, fwd null: null:: exit $rc, stderr: $(tr '\n' '|' <"$tmp/err") (wanted nothing)"
		fails=$((fails + 1))
	fi
	LD_PRELOAD="$tmp/nohuge.so" ASAN_OPTIONS=verify_asan_link_order=0 "$L" capture null: -w "$tmp/x.pcap" \
		--count 1 "udp port banana" >/dev/null 2>"$tmp/err"
	if [ "$(grep -c . "$tmp/err")" -ne 1 ] || ! grep -q "bad filter" "$tmp/err"; then
		echo "without hugepages, a bad filter: stderr: $(tr '\n' '|' <"$tmp/err") (wanted one line, bad filter)"
		fails=$((fails + 1))
	fi
fi
exit $((fails > 0))
