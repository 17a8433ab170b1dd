#!/bin/bash
# `lobo fwd` between two 82576s (2 queues each, RSS) on two hubs, with a kernel
# e1000e on each hub in its own network namespace: ping, UDP and TCP between
# the two kernels cross lobo unchanged.
# lab: nic=igb,hub=0 nic=e1000e,hub=0 nic=igb,hub=1 nic=e1000e,hub=1 hugepages=64 timeout=600
. "$LAB_DIR/tests/port.inc"
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
a=$(lab_bind_kernel "$(lab_nic 1)")
b=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$a" 198.18.7.1/24 igb_fwd_a
lab_if_up "$b" 198.18.7.2/24 igb_fwd_b
"$LOBO" fwd "pci:$NIC0?vfio=0&queues=2" "pci:$(lab_nic 2)?vfio=0&queues=2" --json > $T/fwd.out 2>&1 & fwd=$!
lab_wait_carrier "$a" igb_fwd_a 20
lab_wait_carrier "$b" igb_fwd_b 20
for _ in $(seq 100); do [ -e /run/lobo/$fwd ] && break; kill -0 $fwd 2>/dev/null || fail "lobo fwd: $(tail -1 $T/fwd.out)"; sleep 0.1; done

lab_in igb_fwd_a ping -c 20 -i 0.2 -W 5 198.18.7.2 > $T/ping.out || fail "no ping through lobo fwd: $(grep transmitted $T/ping.out)"
grep -q ' 0% packet loss' $T/ping.out || fail "ping lost frames through lobo fwd: $(grep transmitted $T/ping.out)"
lab_log "ping: $(grep transmitted $T/ping.out)"

# UDP: 1000 datagrams of every size up to a full frame, each with its number
# and a checksum of its bytes, from a to b.
cat > $T/udp.py <<'PY'
import hashlib, random, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] == "recv":
    s.bind(("198.18.7.2", 9000)); s.settimeout(20); got = set()
    open("/tmp/udp.ready", "w").close()
    try:
        while len(got) < 1000:
            d = s.recv(2000)
            if hashlib.sha256(d[36:]).digest() == d[4:36]: got.add(int.from_bytes(d[:4], "big"))
    except socket.timeout: pass
    print(f"udp: {len(got)} of 1000 datagrams intact"); sys.exit(len(got) != 1000)
r = random.Random(1)
for i in range(1000):
    body = r.randbytes(r.randint(0, 1472 - 36))
    s.sendto(i.to_bytes(4, "big") + hashlib.sha256(body).digest() + body, ("198.18.7.2", 9000))
    if i % 50 == 49: __import__("time").sleep(0.05)   # a pace the kernels under emulation keep up with
PY
rm -f /tmp/udp.ready
lab_in igb_fwd_b python3 -S $T/udp.py recv > $T/udp.out 2>&1 & u=$!
for _ in $(seq 100); do [ -e /tmp/udp.ready ] && break; sleep 0.1; done
lab_in igb_fwd_a python3 -S $T/udp.py send
wait $u || fail "$(cat $T/udp.out)"
lab_log "$(cat $T/udp.out)"

# TCP: 4 MB from a to b, the same bytes at the end.
cat > $T/tcp.py <<'PY'
import hashlib, os, socket, sys
if sys.argv[1] == "recv":
    l = socket.socket(); l.bind(("198.18.7.2", 9001)); l.listen(1)
    open("/tmp/tcp.ready", "w").close()
    c, _ = l.accept(); h = hashlib.sha256(); n = 0
    while (d := c.recv(65536)):
        h.update(d); n += len(d)
    print(n, h.hexdigest())
else:
    data = os.urandom(4 << 20)
    s = socket.create_connection(("198.18.7.2", 9001)); s.sendall(data); s.close()
    print(len(data), hashlib.sha256(data).hexdigest())
PY
rm -f /tmp/tcp.ready
lab_in igb_fwd_b python3 -S $T/tcp.py recv > $T/tcp.got 2>&1 & t=$!
for _ in $(seq 100); do [ -e /tmp/tcp.ready ] && break; sleep 0.1; done
lab_in igb_fwd_a timeout 120 python3 -S $T/tcp.py send > $T/tcp.sent || fail "tcp send: $(cat $T/tcp.sent)"
wait $t
cmp -s $T/tcp.sent $T/tcp.got || fail "tcp: sent $(cat $T/tcp.sent), got $(cat $T/tcp.got)"
lab_log "tcp: 4 MiB arrived intact ($(cut -c1-20 $T/tcp.got)...)"

kill -INT $fwd; wait $fwd || fail "lobo fwd: $(tail -1 $T/fwd.out)"
/usr/bin/python3 - $T/fwd.out <<'PY' || fail "lobo fwd's summary: $(tail -1 $T/fwd.out)"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
p = list(s["ports"].values())
assert s["type"] == "summary" and p[0]["rx_packets"] > 3000 and p[1]["rx_packets"] > 20, s
assert p[0]["rx_packets"] == p[1]["tx_packets"] + p[1]["tx_dropped"] and p[1]["rx_packets"] == p[0]["tx_packets"] + p[0]["tx_dropped"], s
print("fwd summary (rx, tx, rx_dropped, tx_dropped, rx_errors):",
      {k: (v["rx_packets"], v["tx_packets"], v["rx_dropped"], v["tx_dropped"], v["rx_errors"]) for k, v in s["ports"].items()})
PY
ip netns del igb_fwd_a; ip netns del igb_fwd_b
