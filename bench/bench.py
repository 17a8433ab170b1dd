#!/usr/bin/python3
"""Helpers for bench/run: parse each tool's output into one number, time
start-up, and turn results.tsv into docs/BENCHMARKS.md and docs/bench/*.png."""
import json, os, re, signal, socket, statistics, subprocess, sys, time

# Goals from the issue, as lobo/peer: (comparison, workload or None for all) -> (op, bound).
GOALS = {('null', None): ('>=', 2), ('afpacket', None): ('>=', 2), ('afxdp', None): ('>=', 1.2),
         ('lab', None): ('>=', 1), ('startup', None): ('<=', 0.1), ('memory', 'total'): ('<=', 0.1),
         ('ring', 'fwd batch 32'): ('>=', 3)}
SWEEPS = {'batch': ('batch size (frames per call)',
                    'lobo fwd null:?size=64 null:?size=64 --batch N vs testpmd io --burst=N'),
          'size': ('frame size (bytes)', 'lobo blast afpacket: --size N vs testpmd txonly --txpkts=N')}


def testpmd(nports):
    """Sum over ports of the last 'show port stats all' (rate since the previous one)."""
    text = sys.stdin.read()
    rx = [int(v) for v in re.findall(r'Rx-pps:\s+(\d+)', text)]
    tx = [int(v) for v in re.findall(r'Tx-pps:\s+(\d+)', text)]
    n = int(nports)
    if len(rx) >= 2 * n and len(tx) >= 2 * n:
        print('%.4f %.4f' % (sum(rx[-n:]) / 1e6, sum(tx[-n:]) / 1e6))


def lobo(field, total=None):
    """Mpps of `field` summed over the ports of the --json summary (the last line);
    with `total`, the count itself. Objects are read as pairs: two ports may share a
    name (fwd null: null:)."""
    summary = None
    for line in sys.stdin:
        try:
            obj = dict(json.loads(line, object_pairs_hook=list))
        except (ValueError, TypeError):
            continue
        if obj.get('seconds') or (total and obj.get('type') == 'summary'):
            summary = obj
    if summary:
        ports = [dict(p[1] if isinstance(p, tuple) else p) for p in summary.get('ports', [])]  # {} or []
        frames = sum(p.get(field, 0) for p in ports)
        print(frames if total else '%.4f' % (frames / summary['seconds'] / 1e6))


CALLS = ['rx_poll', 'rx_post', 'tx_post', 'tx_reclaim', 'pool_alloc', 'pool_free']


def callgrind(wl, binary, small, n_small, large, n_large):
    """A row of bench/instructions: instructions per frame of all of lobo (main, the
    difference of the two runs) and of each port and pool call (inclusive, the large run)."""
    def inclusive(path):
        out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', path],
                             capture_output=True, text=True).stdout
        ir = {}
        for m in re.finditer(r'^\s*([\d,]+) \([^)]*\)\s+\S+:(\S+)', out, re.M):
            ir[m.group(2)] = ir.get(m.group(2), 0) + int(m.group(1).replace(',', ''))
        return ir
    a, b, n_small, n_large = inclusive(small), inclusive(large), int(n_small), int(n_large)
    calls = [b.get('lobo_' + c, 0) / n_large for c in CALLS]
    print('| %s | %s | %.1f | %s | %.1f |' % (wl.replace('_', ' '), binary, (b['main'] - a['main']) / (n_large - n_small),
                                             ' | '.join('%.1f' % c for c in calls), sum(calls)))


def xdpbench():
    """Median of xdp-bench's per-interval 'rx/s' (the first interval is warm-up)."""
    rates = [int(v.replace(',', '')) for v in re.findall(r'([\d,]+) rx/s', sys.stdin.read())]
    if len(rates) > 1:
        print('%.4f' % (statistics.median(rates[1:]) / 1e6))


def startup(iface, *cmd):
    """Milliseconds from spawning cmd to the first frame arriving on iface."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    sock.bind((iface, 0))
    sock.settimeout(0.5)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    arrived = None
    while arrived is None and time.monotonic() - t0 < 20 and proc.poll() is None:
        try:
            sock.recv(64)
            arrived = time.monotonic()
        except socket.timeout:
            pass
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if arrived:
        print('%.1f' % ((arrived - t0) * 1000))


def goal(group, wl, peer):
    if peer == 'lobo fwd':  # a binding against the C tool: what the binding costs, no goal
        return None
    if peer == 'kernel pktgen':  # the issue: a lab driver sends at least twice what the guest kernel does
        return ('>=', 2)
    if peer == 'kernel':  # the issue sets goals against the kernel for lab drivers only
        return None
    if group == 'ring':  # the ring microbenchmark's one goal: forwarding at 3x line rate
        return GOALS.get((group, wl))
    return GOALS.get((group, wl)) or (GOALS.get((group, None)) if group != 'memory' else None)


def fmt(vals):
    if not vals:
        return '—'
    return '%.3g (%.3g–%.3g)' % (statistics.median(vals), min(vals), max(vals))


def plot(path, script, data):
    """Runs gnuplot on data written next to the plot; drops a stale plot if there is no data."""
    if os.path.exists(path):
        os.remove(path)
    if not data:
        return None
    dat = path[:-4] + '.dat'
    with open(dat, 'w') as f:
        f.write(data)
    ok = subprocess.run(['gnuplot', '-e', "set terminal pngcairo size 800,450; set output '%s'; %s"
                         % (path, script.replace('DATA', "'%s'" % dat))]).returncode == 0
    os.remove(dat)
    return os.path.basename(path) if ok and os.path.exists(path) else None


def report(res_path, meta_path, docs):
    res, percore, order, skips, fails, cmds, ring = {}, {}, [], [], [], {}, {}
    for line in open(res_path):
        f = line.rstrip('\n').split('\t')
        if f[0] == 'result':
            key = (f[1], f[2])
            if key not in order:
                order.append(key)
            res.setdefault(key, {}).setdefault(f[3], []).append(float(f[4]))
            res[key]['unit'] = f[5]
            if f[6:] and f[6] and float(f[6]) > 0:  # per core: as if it had had the whole core
                percore.setdefault(key, {}).setdefault(f[3], []).append(float(f[4]) / float(f[6]))
        elif f[0] == 'ring':  # mode, batch: Mpps per core, cycles/frame, rounds preempted
            ring.setdefault((f[1], int(f[2])), []).append([float(v) for v in f[3:6]])
        elif f[0] == 'skip':
            skips.append(f[1])
        elif f[0] == 'fail':
            fails.append(f[1:])
        elif f[0] == 'cmd':  # a sweep shows the commands of its first point only
            grp = f[1].split()[0]
            if f[1] in cmds or grp not in SWEEPS or not any(k.split()[0] == grp for k in cmds):
                cmds.setdefault(f[1], []).append((f[2], f[3]))
    meta = [l.rstrip('\n').split('\t', 1) for l in open(meta_path)]
    m = dict(meta)
    os.makedirs(os.path.join(docs, 'bench'), exist_ok=True)

    rows, bars = [], []
    for group, wl in order:
        if group in SWEEPS:
            continue
        r = res[(group, wl)]
        for peer in [s for s in r if s not in ('lobo', 'unit')]:
            lo, pe = r.get('lobo', []), r[peer]
            ratio = statistics.median(lo) / statistics.median(pe) if lo and statistics.median(pe) else None
            g, up = goal(group, wl, peer), r['unit'] == 'Mpps'
            verdict = 'lobo not measured'
            if ratio:  # "better": how many times better lobo is, whichever way the unit points
                better = ratio if up else 1 / ratio
                verdict = 'ahead' if better >= 1 else '**behind %s**' % peer
                if peer == 'lobo fwd':
                    verdict = 'the binding\'s cost: %.0f%% of C' % (100 * better)
                if g and better >= 1:
                    verdict = 'meets goal' if better >= (g[1] if up else 1 / g[1]) else '**short of goal**'
            pc = percore.get((group, wl), {})
            pc = statistics.median(pc[peer]) and statistics.median(pc['lobo']) / statistics.median(pc[peer]) \
                if pc.get('lobo') and pc.get(peer) else None
            rows.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                group, wl, peer, fmt(lo), fmt(pe), r['unit'], '%.2f' % ratio if ratio else '—',
                '%.2f' % pc if pc else '',
                '%s %s' % (g[0].replace('>=', '≥').replace('<=', '≤'), g[1]) if g else '', verdict))
            if ratio and peer != 'lobo fwd':  # plotted as "better", so up is always good for lobo
                bars.append('"%s %s%s" %.4f %s\n' % (group, wl, '' if peer == 'testpmd' else ' vs ' + peer,
                                                     better, (g[1] if up else 1 / g[1]) if g else 'NaN'))

    top = 4 * max([float(b.split()[-2]) for b in bars] + [16])
    pngs = [plot(os.path.join(docs, 'bench', 'workloads.png'),
                 'set title "lobo vs peer by workload (times better; >1 = lobo ahead)"; set style data histogram;'
                 'set style fill solid 0.8; set logscale y 2; set yrange [0.1:%g]; set xtics rotate by -30;'
                 'set key left top; set grid y; set ylabel "times better than the peer";'
                 'plot DATA using 2:xtic(1) title "measured", "" using 3 title "goal"' % top, ''.join(bars))]
    sweep_md = []
    for name, (xlabel, what) in SWEEPS.items():
        pts = [(int(wl), res[(g, wl)]) for g, wl in order if g == name]
        if not pts:
            plot(os.path.join(docs, 'bench', name + '.png'), '', '')  # removes last run's
            continue
        sweep_md += ['', '### Mpps by %s' % xlabel, '', what + '; per core as in the results above.', '',
                     '| %s | lobo Mpps | testpmd Mpps | lobo/testpmd | lobo per core | testpmd per core | lobo/testpmd |'
                     % xlabel, '|---:|---:|---:|---:|---:|---:|---:|']
        data = ''
        for x, r in pts:
            pc = percore.get((name, str(x)), {})
            cols = [statistics.median(d[s]) if d.get(s) else None for d in (r, pc) for s in ('lobo', 'testpmd')]
            ratios = [cols[i] / cols[i + 1] if cols[i] and cols[i + 1] else None for i in (0, 2)]
            cells = ['%.3g' % v if v else '—' for v in cols[:2]] + ['%.2f' % ratios[0] if ratios[0] else '—'] + \
                ['%.3g' % v if v else '—' for v in cols[2:]] + ['%.2f' % ratios[1] if ratios[1] else '—']
            sweep_md.append('| %d | %s |' % (x, ' | '.join(cells)))
            data += '%d %s\n' % (x, ' '.join(str(v or 'NaN') for v in cols))
        pngs.append(plot(os.path.join(docs, 'bench', name + '.png'),
                         'set title "Mpps by %s (dashed: per core)"; set xlabel "%s"; set ylabel "Mpps"; set grid;'
                         'set logscale x 2; set key left top; plot DATA using 1:2 with linespoints lc 1 title "lobo",'
                         ' "" using 1:3 with linespoints lc 2 title "testpmd", "" using 1:4 with linespoints lc 1 dt 2'
                         ' notitle, "" using 1:5 with linespoints lc 2 dt 2 notitle' % (xlabel, xlabel), data))

    out = ['# Benchmarks', '',
           'Generated by `bench/run` (`make bench`); do not edit — rerun it. lobo and its peers run back to back',
           'in one invocation on the same machine and core, so the ratios are the claim, not the absolute numbers.',
           '', '| | |', '|---|---|']
    out += ['| %s | %s |' % (k, v.replace('|', '\\|')) for k, v in meta if k not in ('note', 'generator')]
    load = max(map(float, re.findall(r'[\d.]+', m.get('load', '0'))[:2]))
    cores = int(re.sub(r'.*\((\d+) cores\).*', r'\1', m.get('cpu', '(1 cores)')))
    if load > cores / 2:
        out += ['', '**The machine was busy when this ran (load %.1f on %d cores): expect noise; trust' % (load, cores),
                'ratios only where the min–max ranges do not overlap, and rerun on a quiet machine.**']
    out += ['', '## Results', '',
            'Median (min–max) over the runs. Throughput in million frames per second (forwarded frames are',
            'counted once, on the port that sends them); start-up in ms; memory in MiB. Goals are',
            'the issue\'s, written as lobo/peer; they are reported, not asserted. "per core" divides each run\'s',
            'rate by the share of its core the program actually got (its user + system CPU time over the',
            'wall-clock time), which takes out other work on the machine; it means most where the program,'
            ' not the generator, is the bottleneck (null fwd, txonly).', '',
            '| comparison | workload | peer | lobo | peer | unit | lobo/peer | per core | goal | verdict |',
            '|---|---|---|---:|---:|---|---:|---:|---|---|'] + rows
    behind, short = sum('**behind' in r for r in rows), sum('short of goal' in r for r in rows)
    parts = (['behind its peer in %d of %d comparisons' % (behind, len(rows))] if behind else []) + \
        (['ahead but short of the goal in %d of %d' % (short, len(rows))] if short else [])
    if parts:
        out += ['', '**lobo is %s** (marked above).' % ' and '.join(parts)]
    notes = [v for k, v in meta if k == 'note']
    if skips or fails or notes:
        out += ['', '### Not measured', ''] + ['- skip: ' + s for s in skips]
        out += ['- **failed:** %s %s, %s: %s' % tuple(f) for f in fails]
        out += ['- note: ' + n for n in notes]
    out += sweep_md
    if ring:
        out += ['', '### Driver ring microbenchmark', '',
                '`bench/ring_bench`: lobo\'s advanced-descriptor rings (adv_ring.c, the igb and ixgbe hot path) on'
                ' one core, against a software NIC on the other (the ixgbe test double\'s descriptor engine, which'
                ' fills receive descriptors and consumes transmit ones in memory as the NIC\'s DMA does). rx polls'
                ' and reposts, tx reclaims and posts, fwd polls, posts to the transmit ring, reclaims and reposts;'
                ' 60-byte frames, rings of 1024. The two sides take turns, so each descriptor read was just'
                ' written by the other core. Cycles per frame: TSC cycles of rounds that moved a whole batch, the'
                ' median over stretches of 64 rounds (rounds the scheduler interrupted left out); per core: the TSC'
                ' rate over that. The goal (above): forwarding at batch 32 at three times 10G line rate, 44.6 Mpps.'
                ' Medians over the runs.', '',
                '| mode | batch | Mpps per core | cycles/frame | rounds preempted |', '|---|---:|---:|---:|---:|']
        for (mode, batch) in sorted(ring, key=lambda k: (['rx', 'tx', 'fwd'].index(k[0]), k[1])):
            med = [statistics.median(col) for col in zip(*ring[(mode, batch)])]
            out.append('| %s | %d | %.3g | %.1f | %.0f |' % (mode, batch, *med))
    profile = os.path.join(docs, 'bench', 'profile.md')  # by hand, from bench/instructions: not this run's
    if os.path.exists(profile):
        out += ['', open(profile).read().rstrip()]
    out += ['', '## Plots', ''] + ['![%s](bench/%s)' % (p[:-4], p) for p in pngs if p]
    out += ['', '## How it was measured', '',
            '- Cores: %s. testpmd runs its main lcore and its one forwarding lcore on the same CPU'
            ' (`--lcores 0@C,1@C`: the main lcore only waits on the command line), lobo runs its single'
            ' thread there (`taskset -c C`); both get one forwarding core, at `nice -n -20`.' % m.get('cores', ''),
            '- testpmd is driven through `-i` on stdin: `start`, 2 s for start-up and warm-up, `show port stats all` twice;'
            ' the rate is testpmd\'s own Rx-pps/Tx-pps between the two. lobo\'s rate is the --json summary:'
            ' frames summed over ports / "seconds".',
            '- Traffic: veth pairs lb0a/lb0b and lb1a/lb1b in netns `lobobench`. rxonly and io get frames'
            ' from a generator on the other CPU sending into lb0b: `%s`; io forwards lb0a → lb1a'
            ' (and back), lb1b is a sink. On veth the receive work of the kernel runs on the sender\'s CPU,'
            ' so rxonly and io can be bounded by the generator, which then shows as a ratio near 1.'
            % m.get('generator', '') if m.get('generator') else '- Traffic: veth pairs in netns `lobobench`.',
            '- dpdk: `lobo fwd dpdk:net_null0 dpdk:net_null1` (lobo\'s dpdk: port, EAL defaults: --no-huge) against'
            ' testpmd io on the same two net_null vdevs: what lobo\'s port layer costs over DPDK.',
            '- bindings: `examples/fwd.lua` (LuaJIT FFI) and `examples/fwd.py` (ctypes) on `null:?size=64` twice,'
            ' stopped by SIGINT after the same time; "lobo" is the example, the peer is `lobo fwd` itself.',
            '- lobo\'s side of each workload: txonly `lobo blast PORT --size 64`, rxonly `lobo capture PORT'
            ' -w /dev/null` (it still formats pcap records, testpmd\'s rxonly just frees), io `lobo fwd A B`.',
            '- The kernel\'s io is a Linux bridge over lb0a and lb1a, with RPS moving lb0a\'s receive work to'
            ' the measured CPU; its rate is lb1b\'s rx_packets over the run. xdp-bench (xdp-tools) would be the'
            ' kernel peer for AF_XDP (XDP_DROP for rxonly, XDP_REDIRECT for io) where it loads.',
            '- lab: one QEMU guest (lab/run-guest bench/lab-guest.sh; two transitional virtio-net NICs on one hub,'
            ' IOMMU on, one vCPU). lobo (`blast pci:`), testpmd (net_virtio on vfio-pci) and the guest kernel\'s'
            ' pktgen (virtio_net) take turns sending 60-byte frames on NIC 0; the rate of each is NIC 1\'s'
            ' rx_packets (the guest kernel\'s virtio_net, promiscuous) over a fixed window after 2 s of warm-up.'
            ' Under TCG the emulator, not the driver, sets the absolute rate: only the ratios mean something.',
            '- lab igb: a second guest (bench/lab-igb.sh; QEMU\'s 82576 as NIC 0 on hub 0 and NIC 4 on hub 1,'
            ' IOMMU on, one vCPU). lobo and testpmd (net_e1000_igb) on vfio-pci, the guest kernel\'s igb as the'
            ' third side; each counts its own frames over a window after warm-up. txonly: 60-byte frames;'
            ' rxonly and io: NIC 2 on hub 0 runs lobo blast --loop (the NIC loops, so the generator takes the'
            ' least of the shared vCPU); io forwards NIC 0 to NIC 4 (the kernel: a Linux bridge). QEMU\'s igb'
            ' model drops frames that waited for a full ring beyond the buffers a tail write gives back, so'
            ' receive rates there mostly measure how the receiver batches its tail writes.',
            '- Start-up: time from spawning the process to the first frame arriving on the veth peer'
            ' (an AF_PACKET socket on lb0b), sending 64-byte frames on afpacket:lb0a / net_af_packet.',
            '- Memory: a two-port null forwarder, 2 s after start: peak RSS (VmHWM) plus hugepages'
            ' (HugetlbPages, which RSS does not count) from /proc/PID/status. testpmd runs with its default'
            ' pools, as it comes; --total-num-mbufs would shrink them.',
            '', '### Commands', '']
    for key, lst in cmds.items():
        for side, c in lst:
            out.append('- %s, %s: `%s`' % (key, side, c.replace(m.get('lobo binary', '?').split(' (')[0], 'lobo')))
    out += ['', '<details><summary>Every run</summary>', '']
    out += ['- %s %s, %s: %s %s' % (g, wl, side, ' '.join('%g' % v for v in vals), res[(g, wl)]['unit'])
            for g, wl in order for side, vals in res[(g, wl)].items() if side != 'unit']
    out += ['', '</details>']
    with open(os.path.join(docs, 'BENCHMARKS.md'), 'w') as f:
        f.write('\n'.join(out) + '\n')
    print('wrote %s' % os.path.join(docs, 'BENCHMARKS.md'))
    never = sorted({'%s %s, %s' % tuple(f[:3]) for f in fails if not res.get(tuple(f[:2]), {}).get(f[2])})
    if never:
        print('bench/run: could not measure ' + '; '.join(never), file=sys.stderr)
    return 1 if never else 0


if __name__ == '__main__':
    sys.exit({'testpmd': testpmd, 'lobo': lobo, 'xdpbench': xdpbench, 'startup': startup, 'callgrind': callgrind,
              'report': report}[sys.argv[1]](*sys.argv[2:]))
