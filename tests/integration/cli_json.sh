#!/bin/bash
# --json: one object per line, the last the summary; counts add up; --count is
# never exceeded; --rate paces; SIGINT ends a run cleanly with its summary.
. "$(dirname "$0")/common.inc"
"$L" fwd null: null:?size=128 --duration 1.3 --json >"$tmp/fwd.json" || { echo "fwd null: null: failed"; exit 1; }
summary "$tmp/fwd.json" "s['type'] == 'summary' and 1.25 <= s['seconds'] < 2 and sorted(s['ports']) == ['null:', 'null:?size=128'] \
	and all(isinstance(p[k], int) for p in s['ports'].values() for k in \
		('rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_dropped', 'tx_dropped')) \
	and s['ports']['null:']['rx_packets'] > 1000 \
	and s['ports']['null:']['rx_packets'] == s['ports']['null:?size=128']['tx_packets'] + s['ports']['null:?size=128']['tx_dropped'] \
	and s['ports']['null:?size=128']['rx_bytes'] == 128 * s['ports']['null:?size=128']['rx_packets']" || exit 1
rates=$(grep -c '"type":"rate"' "$tmp/fwd.json")
[ "$rates" -eq 1 ] || { echo "expected 1 rate line in 1.3 s, got $rates"; exit 1; }

"$L" blast null: --size 60 --count 1000 --json >"$tmp/blast.json" || { echo "blast --count failed"; exit 1; }
summary "$tmp/blast.json" "s['ports']['null:']['tx_packets'] == 1000 and s['ports']['null:']['tx_bytes'] == 60000" || exit 1

# --loop where the port cannot loop by itself: software, and the summary says so.
"$L" blast null: --size 60 --duration 0.5 --loop --json >"$tmp/loop.json" || { echo "blast --loop failed"; exit 1; }
summary "$tmp/loop.json" "s['loop'] == 'software' and s['ports']['null:']['tx_packets'] > 1000 and s['cpu_seconds'] > 0" || exit 1

"$L" blast null: --size 1514 --count 30000 --rate 20000 --json >"$tmp/rate.json" || { echo "blast --rate failed"; exit 1; }
summary "$tmp/rate.json" "s['ports']['null:']['tx_packets'] == 30000 and 1.45 < s['seconds'] < 3" || exit 1

"$L" fwd null: null:?size=60 --json >"$tmp/int.json" &
pid=$!
pids+=($pid)
sleep 1.2
interrupt $pid || { echo "fwd exited $? on SIGINT, wanted 0"; exit 1; }
summary "$tmp/int.json" "s['type'] == 'summary' and s['ports']['null:']['tx_packets'] > 0" || exit 1
