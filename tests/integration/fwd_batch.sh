#!/bin/bash
# --batch N (1..256) for fwd and blast: counts stay exact at any batch size,
# bad sizes are refused; blast's default destination is 02:00:00:00:00:00.
. "$(dirname "$0")/common.inc"
for b in 1 7 256; do
	"$L" blast null: --size 60 --count 1000 --batch $b --json >"$tmp/blast.json" || { echo "blast --batch $b failed"; exit 1; }
	summary "$tmp/blast.json" "s['ports']['null:']['tx_packets'] == 1000" || exit 1
	"$L" fwd null: null:?size=64 --count 5000 --batch $b --json >"$tmp/fwd.json" || { echo "fwd --batch $b failed"; exit 1; }
	summary "$tmp/fwd.json" "sum(p['tx_packets'] for p in s['ports'].values()) == 5000" || exit 1
done
for bad in 0 257 x; do
	"$L" fwd null: null: --count 10 --batch $bad >/dev/null 2>&1
	[ $? -eq 2 ] || { echo "fwd --batch $bad was not refused with exit 2"; exit 1; }
done
"$L" blast "pcap:$tmp/d.pcap?mode=w" --size 60 --count 3 >/dev/null || { echo "blast into a pcap failed"; exit 1; }
$PY -c "import sys; from scapy.all import rdpcap; d = {bytes(f)[:6].hex() for f in rdpcap(sys.argv[1])}; \
	sys.exit(0 if d == {'020000000000'} else f'default destinations {d}, wanted 020000000000')" "$tmp/d.pcap" || exit 1
