#!/usr/bin/python3
"""python3 examples/fwd.py PORT PORT COUNT: `lobo fwd` written over the Python
binding. Forwards both ways, zero-copy, until COUNT frames have gone through
(0: until a pcap input ends, Ctrl-C or SIGTERM), then prints the JSON summary
line `lobo fwd --json` prints. The same loop as src/tools/fwd.c."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bindings', 'python'))
try:  # this repository's binding first, then an installed one
    import lobo
except ImportError as e:
    sys.exit(str(e))

BUF, BUFFERS, BATCH, MAX_BATCH = 2048, 8192, 32, 256
stop = False


def on_signal(sig, frame):
    global stop
    stop = True


def summary(ports, seconds):
    """The last line of `lobo fwd --json`, from the ports' counters."""
    t, out, first = seconds if seconds > 0 else 1, [], ports[0].info()['name']
    for i, p in enumerate(ports):
        c, name = p.counters(), p.info()['name']
        key = name.replace('\\', '\\\\').replace('"', '\\"') + ('#%d' % (i + 1) if i and name == first else '')
        out.append('"%s":{"rx_packets":%d,"tx_packets":%d,"rx_bytes":%d,"tx_bytes":%d,"rx_dropped":%d,'
                   '"tx_dropped":%d,"rx_errors":%d,"tx_errors":%d,"rx_pps":%.0f,"tx_pps":%.0f,"rx_bps":%.0f,'
                   '"tx_bps":%.0f,"exception_rx":%d,"exception_tx":%d,"exception_rx_dropped":%d,'
                   '"exception_tx_dropped":%d}' % (key, c['rx_packets'], c['tx_packets'], c['rx_bytes'], c['tx_bytes'],
                                                   c['rx_dropped'], c['tx_dropped'], c['rx_errors'], c['tx_errors'],
                                                   c['rx_packets'] / t, c['tx_packets'] / t, c['rx_bytes'] * 8 / t,
                                                   c['tx_bytes'] * 8 / t, c['exception_rx'], c['exception_tx'],
                                                   c['exception_rx_dropped'], c['exception_tx_dropped']))
    print('{"type":"summary","seconds":%.3f,"ports":{%s},"filtered":0,"cpu_seconds":%.3f}'
          % (seconds, ','.join(out), time.process_time()), flush=True)


class Lane:
    """One rx queue of one port, forwarding to a tx queue of the other."""

    def __init__(self, src, dst, rxq, txq, ring):
        self.src, self.dst, self.rxq, self.txq, self.ring, self.posted = src, dst, rxq, txq, ring, 0


def run(a, b, count):
    with lobo.Mem(BUFFERS * BUF) as mem, lobo.Pool(mem, BUF, BUFFERS) as pool, \
            lobo.Port(a, mem) as pa, lobo.Port(b, mem) as pb:
        ports = [pa, pb]
        try:
            stats = lobo.Stats('fwd.py')
            for p in ports:
                stats.add(p)
        except lobo.Error as e:
            print('lobo: warning: lobo top will not see this run: %s' % e, file=sys.stderr)
            stats = None
        # Every rx queue is polled; a port with fewer queues sends from several lanes per queue.
        info = [p.info() for p in ports]
        lanes = [Lane(ports[s], ports[1 - s], q, q % info[1 - s]['queues'], info[s]['rx_ring'])
                 for s in (0, 1) for q in range(info[s]['queues'])]
        f, g = lobo.frames(MAX_BATCH), lobo.frames(MAX_BATCH)
        flags = lobo.field_view(f, 'flags')  # f[i].flags for every i, read in C by any()

        def forward(lane, max):
            n = lane.src.rx_poll(lane.rxq, f, max)
            lane.posted -= n
            good = n
            if any(flags[:n]):  # some frame arrived damaged (counted in the port's rx_errors)
                good = 0
                for i in range(n):
                    if f[i].flags & lobo.LOBO_F_ERROR:
                        pool.free(f, 1, i)
                    else:
                        f[good] = f[i]
                        good += 1
            sent = lane.dst.tx_post(lane.txq, f, good)
            if sent < good:
                pool.free(f, good - sent, sent)
                lane.dst.queue_counters(lane.txq).tx_dropped += good - sent
            pool.free(f, lane.dst.tx_reclaim(lane.txq, f, MAX_BATCH))
            return n

        def refill(lane):
            n = pool.alloc(g, min(lane.ring - lane.posted, MAX_BATCH))
            took = lane.src.rx_post(lane.rxq, g, n)
            pool.free(g, n - took, took)
            lane.posted += took

        def exhausted():
            """A pcap reader at the end of its file will never receive again."""
            return any(i['driver'] == 'pcap' and not i['link_up'] for i in (p.info() for p in ports))

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        start = next_publish = time.monotonic()
        forwarded = idle = 0
        while not stop and (not count or forwarded < count):
            moved = 0
            for lane in lanes:
                moved += forward(lane, min(BATCH, count - forwarded - moved) if count else BATCH)
                refill(lane)
            forwarded += moved
            idle = 0 if moved else idle + 1
            if idle >= 1024:
                time.sleep(0.00005)
                if exhausted():
                    break
            now = time.monotonic()
            if stats and now >= next_publish:
                stats.publish()
                next_publish = now + 0.1
        seconds = time.monotonic() - start
        if stats:
            stats.publish()
        summary(ports, seconds)
        if stats:
            stats.close()


def main():
    if len(sys.argv) != 4 or not sys.argv[3].isdigit():
        print('usage: python3 examples/fwd.py PORT PORT COUNT   (COUNT 0: until the input ends or Ctrl-C)',
              file=sys.stderr)
        sys.exit(2)
    try:
        run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    except lobo.Error as e:
        print('lobo: %s' % e, file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
