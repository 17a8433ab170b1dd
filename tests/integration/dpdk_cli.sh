#!/bin/bash
# dpdk: from the command line: lobo list says it is built in, lobo fwd runs
# between two DPDK devices, and every failure is one line with its fix.
. "$(dirname "$0")/common.inc"
"$L" list --json | grep -q '"type":"dpdk","built_in":true' || { echo "lobo is built without dpdk: ports"; exit 77; }
"$L" fwd dpdk:net_null0 dpdk:net_null1 --count 100000 --json >"$tmp/fwd.json" 2>"$tmp/fwd.err" ||
	{ echo "fwd between net_null devices failed: $(cat "$tmp/fwd.err")"; exit 1; }
[ -s "$tmp/fwd.err" ] && { echo "lobo fwd dpdk: wrote to stderr: $(head -c 300 "$tmp/fwd.err")"; exit 1; }
summary "$tmp/fwd.json" "sum(p['tx_packets'] for p in s['ports'].values()) >= 100000" || exit 1

# expect REGEX [VAR=VALUE...] -- lobo ARGS: nonzero exit, one stderr line "lobo: ..." matching.
expect() {
	local want=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" "$L" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$?
	if [ $rc -eq 0 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -qE "^lobo: .*($want)" "$tmp/err" || [ -s "$tmp/out" ]; then
		echo "lobo $*: exit $rc, stderr: $(head -c 300 "$tmp/err" | tr '\n' '|'), stdout: $(head -c 100 "$tmp/out") (wanted one line matching '$want')"
		exit 1
	fi
}
expect "needs DPDK's device arguments" -- fwd dpdk: null:
expect "cannot open 'net_nosuch0': EAL: failed to parse device" -- fwd dpdk:net_nosuch0 null:
expect "net_af_packet0: ioctl failed.*No such device" -- fwd dpdk:net_af_packet0,iface=lobo-nosuch null:
expect "net_null0 is open already" -- fwd dpdk:net_null0 dpdk:net_null0
expect "'crypto_null0' is not a network device: virtual ones are named net_<pmd><n>" -- fwd dpdk:crypto_null0 null:
expect "unknown option 'bogus' for dpdk" -- fwd "dpdk:net_null0?bogus=1" null:
expect "cannot start DPDK's EAL: unrecognized option '--bogus': check LOBO_EAL_ARGS" LOBO_EAL_ARGS=--bogus -- fwd dpdk:net_null0 null:
expect "no PCI device at 0000:7f:1f.7" -- fwd dpdk:0000:7f:1f.7 null:
for d in /sys/bus/pci/devices/*; do # a device DPDK cannot take: any not bound to vfio-pci
	case $(basename "$(readlink "$d/driver" 2>/dev/null)") in vfio-pci|uio_pci_generic|igb_uio) continue ;; esac
	expect "$(basename "$d") is bound to .* bind it to vfio-pci" -- fwd "dpdk:$(basename "$d")" null:
	break
done
echo "lobo fwd dpdk:net_null0 dpdk:net_null1 ran; 9 failures, one line each"
