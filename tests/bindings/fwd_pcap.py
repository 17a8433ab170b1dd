#!/usr/bin/python3
"""fwd_pcap.py lua|python SRCDIR LOBO: examples/fwd.lua or fwd.py forwards a
random mix of frames (60-1514 bytes, some VLAN-tagged) from one pcap: port to
another bit-exact, and prints the summary line `lobo fwd --json` prints for the
same run (every counter equal; rates and seconds are the run's own)."""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

lang, src, lobo = sys.argv[1:4]
example = {'lua': ['luajit', os.path.join(src, 'examples', 'fwd.lua')],
           'python': ['/usr/bin/python3', os.path.join(src, 'examples', 'fwd.py')]}[lang]


def frames(n, seed):
    r = random.Random(seed)
    out = []
    for i in range(n):
        size = r.choice([60, 61, 64, 1513, 1514, r.randint(60, 1514)])
        head = bytes.fromhex('020000000002020000000001')
        tag = struct.pack('>HH', 0x8100, r.randint(1, 4094)) if r.random() < 0.2 else b''
        body = tag + b'\x88\xb5' + struct.pack('>I', i)
        out.append(head + body + r.randbytes(size - len(head) - len(body)))
    return out


def write_pcap(path, frs):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frs):
            f.write(struct.pack('<IIII', i, 0, len(fr), len(fr)) + fr)


def read_pcap(path):
    d, out, at = open(path, 'rb').read(), [], 24
    while at + 16 <= len(d):
        n = struct.unpack('<I', d[at + 8:at + 12])[0]
        out.append(d[at + 16:at + 16 + n])
        at += 16 + n
    return out


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if res.returncode:
        sys.exit('%s failed (exit %d): %s' % (' '.join(cmd), res.returncode, res.stderr.strip()))
    return json.loads(res.stdout.splitlines()[-1])


def counters(summary):
    return {port: {k: v for k, v in c.items() if not k.endswith(('_pps', '_bps'))}
            for port, c in summary['ports'].items()}


with tempfile.TemporaryDirectory() as tmp:
    sent, into, out = frames(500, 7), os.path.join(tmp, 'in.pcap'), os.path.join(tmp, 'out.pcap')
    write_pcap(into, sent)
    ports = ['pcap:' + into, 'pcap:' + out]
    want = run([lobo, 'fwd'] + ports + ['--count', str(len(sent)), '--json'])
    os.unlink(out)
    got = run(example + ports + [str(len(sent))])
    if read_pcap(out) != sent:
        sys.exit('%s: the frames written differ from those read (%d read, %d written)'
                 % (example[1], len(sent), len(read_pcap(out))))
    if set(got) != set(want) or got['type'] != 'summary' or counters(got) != counters(want):
        sys.exit('%s: summary differs from lobo fwd --json:\n  %s\n  %s' % (example[1], json.dumps(got), json.dumps(want)))
    print('%s: %d frames bit-exact, summary as lobo fwd --json' % (example[1], len(sent)))
