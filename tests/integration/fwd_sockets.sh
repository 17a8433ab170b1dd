#!/bin/bash
# Real sockets through `lobo fwd afpacket: afpacket:`: UDP datagrams and a TCP
# stream between two namespaces. Their senders leave the L4 checksum to the
# "hardware" (veth's CHECKSUM_PARTIAL); lobo must finish it or the receiving
# kernel drops every datagram and segment. GRO/TSO are off so frames fit the MTU.
. "$(dirname "$0")/common.inc"
need_root
mkns fs-a fs-m fs-b
veth fsa0 fs-a fsa1 fs-m
veth fsb0 fs-b fsb1 fs-m
for x in "fs-a fsa0" "fs-m fsa1" "fs-m fsb1" "fs-b fsb0"; do
	set -- $x
	ip netns exec "$1" ethtool -K "$2" gro off tso off gso off >/dev/null 2>&1
done
ip -n fs-a addr add 198.18.7.1/24 dev fsa0 && ip -n fs-b addr add 198.18.7.2/24 dev fsb0 || exit 1
ip netns exec fs-m "$L" fwd afpacket:fsa1 afpacket:fsb1 --duration 60 >"$tmp/fwd.out" 2>"$tmp/fwd.err" &
pids+=($!)
wait_ready $!
ip netns exec fs-b $PY - <<'PY' &
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.18.7.2", 7007)); u.settimeout(10)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("198.18.7.2", 7008)); t.listen(1)
got = sum(1 for _ in range(50) if u.recv(2048) == b"lobo" * 100)
c, _ = t.accept(); c.settimeout(10); data = b""
while len(data) < 200000:
    d = c.recv(65536)
    if not d: break
    data += d
c.sendall(b"ok" if data == bytes(range(200)) * 1000 else b"bad")
sys.exit(0 if got == 50 else 3)
PY
server=$!
sleep 0.5
ip netns exec fs-a $PY - <<'PY' || { echo "sockets through lobo fwd failed: $(tail -n1 "$tmp/fwd.out")"; exit 1; }
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(50):
    u.sendto(b"lobo" * 100, ("198.18.7.2", 7007)); time.sleep(0.005)
t = socket.create_connection(("198.18.7.2", 7008), timeout=10)
t.sendall(bytes(range(200)) * 1000); t.shutdown(socket.SHUT_WR)
sys.exit(0 if t.recv(16) == b"ok" else 4)
PY
wait $server || { echo "the UDP datagrams did not all arrive intact (server exit $?)"; exit 1; }
echo "50 UDP datagrams and a 200 kB TCP stream crossed lobo fwd intact"
