#!/bin/bash
# `lobo fwd` between two 82576s (2 queues each, RSS) on two hubs, with a kernel
# e1000e on each hub in its own network namespace: ping, UDP and TCP between
# the two kernels cross lobo unchanged. NIC 0 has a shadow interface lobo0:
# peer a pings its address, ARP resolves both ways, and with promisc off a
# MAC change on lobo0 changes what the NIC accepts; lobo0's MTU reaches the
# NIC or is refused. First, kernel=keep on an 82576 the kernel's igb holds,
# in a guest booted without iomem=relaxed, fails with one line naming it.
# lab: nic=igb,hub=0 nic=e1000e,hub=0 nic=igb,hub=1 nic=e1000e,hub=1 hugepages=64 timeout=600
. "$LAB_DIR/tests/port.inc"
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
a=$(lab_bind_kernel "$(lab_nic 1)")
b=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$a" 198.18.7.1/24 igb_fwd_a
lab_if_up "$b" 198.18.7.2/24 igb_fwd_b
lab_in igb_fwd_a sysctl -qw net.ipv6.conf.all.disable_ipv6=1
lab_in igb_fwd_a ip addr add 198.18.8.2/24 dev "$a"
lab_modprobe tun
kif=$(lab_bind_kernel "$(lab_nic 2)"); lab_if_up "$kif"
fails_with "boot with iomem=relaxed on the kernel command line" "$LOBO" capture "pci:$(lab_nic 2)?kernel=keep" -w $T/x.pcap
"$LOBO" fwd "pci:$NIC0?vfio=0&queues=2&shadow=lobo0" "pci:$(lab_nic 2)?vfio=0&queues=2" --json > $T/fwd.out 2>&1 & fwd=$!
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

lab_log "the shadow lobo0 on igb"
ip addr add 198.18.8.1/24 dev lobo0
lab_in igb_fwd_a ping -c 5 -i 0.2 -W 5 198.18.8.1 > $T/ping.out || fail "peer a cannot ping lobo0: $(grep transmitted $T/ping.out)"
ip neigh flush dev lobo0
ping -c 2 -i 0.2 -W 5 -I lobo0 198.18.8.2 > /dev/null || fail "lobo0 cannot ping peer a"
ip neigh show 198.18.8.2 dev lobo0 | grep -q "lladdr $LAB_NIC1_MAC" || fail "lobo0 did not resolve peer a: $(ip neigh show dev lobo0)"
lab_in igb_fwd_a ip neigh show 198.18.8.1 | grep -q "lladdr $LAB_NIC0_MAC" || fail "peer a did not resolve lobo0: $(lab_in igb_fwd_a ip neigh)"
echo "peer a pings lobo0 ($(grep transmitted $T/ping.out)); ARP both ways"
port_rx() { "$LOBO" top --json --count 1 --interval 0.05 | grep -o '"rx_packets":[0-9]*' | head -1 | cut -d: -f2; }
send() { lab_in igb_fwd_a "$LOBO" blast "afpacket:$a" --size 60 --dst-mac "$1" --count "$2" > /dev/null || fail "blast to $1"; }
expect_rx() {   # after sending: NIC 0 received $1 more frames ($2 says what)
    local now; sleep 0.5; now=$(port_rx)
    [ $((now - rx)) = "$1" ] || fail "$2: NIC 0 received $((now - rx)) frames, expected $1"
    rx=$now; echo "$2: $1"
}
# QEMU's model also accepts a unicast frame whose multicast hash is set, and
# lobo0's 224.0.0.1 (01:00:5e:00:00:01) shares its hash with NIC 0's own MAC:
# the test moves between two addresses of other hashes.
Y=02:00:00:00:00:99 Z=02:00:00:00:00:77
ip link set lobo0 promisc off; sleep 0.3
rx=$(port_rx)
send $Y 20; expect_rx 0 "promisc off, 20 frames to $Y"
ip link set lobo0 address $Y; sleep 0.3
send $Y 20; expect_rx 20 "lobo0 now $Y, 20 frames to it"
ip link set lobo0 address $Z; sleep 0.3
send $Y 20; expect_rx 0 "lobo0 now $Z, 20 frames to the old address $Y"
send $Z 20; expect_rx 20 "20 frames to $Z"
shadow_mtu_checks $T/fwd.out "igb: receive buffers of 2048 bytes hold an MTU of 2030 at most"
kill -INT $fwd; wait $fwd || fail "lobo fwd: $(tail -1 $T/fwd.out)"
/usr/bin/python3 - $T/fwd.out <<'PY' || fail "lobo fwd's summary: $(tail -1 $T/fwd.out)"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
p = list(s["ports"].values())
assert s["type"] == "summary" and p[0]["rx_packets"] > 3000 and p[1]["rx_packets"] > 20, s
# lobo0's frames: NIC 0 received the shadow's (not forwarded) and sent the kernel's (not from NIC 2).
assert p[0]["rx_packets"] >= p[1]["tx_packets"] + p[1]["tx_dropped"] and p[0]["exception_rx"] >= 45, s   # pings, 40 frames to Y and Z
assert p[1]["rx_packets"] == p[0]["tx_packets"] - p[0]["exception_tx"] + p[0]["tx_dropped"], s
print("fwd summary (rx, tx, rx_dropped, tx_dropped, rx_errors):",
      {k: (v["rx_packets"], v["tx_packets"], v["rx_dropped"], v["tx_dropped"], v["rx_errors"]) for k, v in s["ports"].items()})
PY
ip netns del igb_fwd_a; ip netns del igb_fwd_b
