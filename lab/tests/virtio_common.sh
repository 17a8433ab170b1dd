# Shared by the virtio_*.sh lab tests (sourced, not a test: run alone it skips).
# NIC0 (LAB_NIC0_SLOT) is lobo's, NIC1 the peer the guest kernel's virtio_net drives.
[ "${BASH_SOURCE[0]}" = "$0" ] && { echo "virtio_common.sh is sourced by the virtio tests"; exit 77; }
set -u
REPO=$(cd "$LAB_DIR/.." && pwd)
# The build to test: ./build of the directory run-guest was started from, else the repo's.
BUILD=$PWD/build; [ -f "$BUILD/liblobo.a" ] || BUILD=$REPO/build
IO=/tmp/virtio_io T=/tmp
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# The guest has no modules.dep: load a module from the kernel package by name.
load_module() {
    local path
    path=$(awk -v m="${1//-/_}" '$1 == m {print $2}' "$LAB_KERNEL/modules.idx")
    [ -n "$path" ] || fail "module $1 not in the guest kernel"
    xz -dc "$path" > "$T/$1.ko" && busybox insmod "$T/$1.ko" 2>/dev/null
    grep -q "^${1//-/_} " /proc/modules || fail "cannot load module $1"
}

# Builds the helper (liblobo directly: the CLI's blast/capture are not needed).
build_io() {
    [ -f "$BUILD/liblobo.a" ] || skip "no $BUILD/liblobo.a: build lobo first (meson setup build && ninja -C build)"
    gcc -std=c11 -D_GNU_SOURCE -O2 -I"$REPO/include" -o $IO "$LAB_DIR/tests/virtio_io.c" "$BUILD/liblobo.a" \
        -lpcap $(pkg-config --libs libxdp libbpf 2>/dev/null) || fail "cannot build virtio_io.c"
}

# Brings up the peer: virtio_net on NIC1, IPv6 off so it sends nothing of its own.
setup_peer() {
    for m in failover net_failover virtio_net; do load_module $m; done
    sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    PEER=$(ls /sys/bus/pci/devices/$LAB_NIC1_SLOT/virtio*/net 2>/dev/null)
    [ -n "$PEER" ] || fail "virtio_net did not create an interface for $LAB_NIC1_SLOT"
    ip link set "$PEER" up
}
peer_stat() { cat /sys/class/net/$PEER/statistics/$1; }

# frames.py gen OUT N SEED SRC DST | send IFACE PCAP | cmp SENT GOT [unordered]
cat > $T/frames.py <<'PY'
import random, socket, struct, sys
def read(path):
    d = open(path, 'rb').read()
    e = '<' if d[:4] == b'\xd4\xc3\xb2\xa1' else '>'
    out, at = [], 24
    while at + 16 <= len(d):
        n = struct.unpack(e + 'I', d[at + 8:at + 12])[0]
        out.append(d[at + 16:at + 16 + n]); at += 16 + n
    return out
cmd = sys.argv[1]
if cmd == 'gen':  # sizes 60..1514, the edges often, ethertype 0x88b5, a sequence number first
    n, r = int(sys.argv[3]), random.Random(int(sys.argv[4]))
    head = bytes.fromhex(sys.argv[6].replace(':', '') + sys.argv[5].replace(':', '')) + b'\x88\xb5'
    with open(sys.argv[2], 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            size = r.choice([60, 61, 64, 1513, 1514, r.randint(60, 1514), r.randint(60, 1514)])
            fr = head + struct.pack('>I', i) + r.randbytes(size - 18)
            f.write(struct.pack('<IIII', i, 0, size, size) + fr)
elif cmd == 'send':
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[2], 0))
    for fr in read(sys.argv[3]):
        while True:
            try: s.send(fr); break
            except OSError: pass  # ENOBUFS: the qdisc is full, try again
elif cmd == 'cmp':
    a = [f for f in read(sys.argv[2]) if f[12:14] == b'\x88\xb5']
    b = [f for f in read(sys.argv[3]) if f[12:14] == b'\x88\xb5']
    if a == b:
        print('identical, %d frames' % len(a)); sys.exit(0)
    # QEMU's net queue (net/queue.c) delivers a new frame straight to a receiver
    # that just got buffers, ahead of frames it queued while it had none.
    if len(sys.argv) > 4 and sorted(a) == sorted(b):
        seq = [struct.unpack('>I', f[14:18])[0] for f in b]
        print('identical, %d frames, %d overtaken' % (len(a), sum(y < x for x, y in zip(seq, seq[1:])))); sys.exit(0)
    bad = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    print('%d frames sent, %d got, first difference at frame %d' % (len(a), len(b), bad)); sys.exit(1)
PY
F="python3 $T/frames.py"

# lobo sends N frames on URI: the peer must count exactly N and capture them bit-exact, in order.
lobo_to_peer() {
    local uri=$1 n=$2 r0 td got
    $F gen $T/tx.pcap $n 1 $LAB_NIC0_MAC $LAB_NIC1_MAC
    r0=$(peer_stat rx_packets)
    tcpdump -q -i "$PEER" -w $T/peer.pcap -s 2000 ether proto 0x88b5 2>$T/tcpdump.err & td=$!
    for _ in $(seq 100); do grep -q listening $T/tcpdump.err && break; sleep 0.1; done
    $IO send "$uri" $T/tx.pcap > $T/send.out 2>&1 || fail "lobo send on $uri: $(tail -1 $T/send.out)"
    sleep 1; kill $td; wait $td
    got=$(( $(peer_stat rx_packets) - r0 ))
    [ $got = $n ] || fail "$uri: lobo sent $n frames, the peer counted $got ($(grep dropped $T/tcpdump.err))"
    $F cmp $T/tx.pcap $T/peer.pcap > $T/cmp.out || fail "$uri: lobo->peer: $(cat $T/cmp.out)"
    echo "$uri: lobo->peer $(cat $T/cmp.out), peer counted $got"
}

# The peer sends N frames: lobo must receive all of them bit-exact.
peer_to_lobo() {
    local uri=$1 n=$2 io t0
    $F gen $T/rx.pcap $n 2 $LAB_NIC1_MAC $LAB_NIC0_MAC
    $IO recv "$uri" $T/got.pcap $n 300 > $T/recv.out 2>&1 & io=$!
    while ! grep -q mode= $T/recv.out; do kill -0 $io 2>/dev/null || fail "lobo recv on $uri: $(tail -1 $T/recv.out)"; sleep 0.1; done
    t0=$(peer_stat tx_packets)
    $F send "$PEER" $T/rx.pcap
    wait $io || fail "lobo recv on $uri: $(tail -1 $T/recv.out)"
    [ $(( $(peer_stat tx_packets) - t0 )) = $n ] || fail "the peer sent $(( $(peer_stat tx_packets) - t0 )) frames, not $n"
    $F cmp $T/rx.pcap $T/got.pcap unordered > $T/cmp.out || fail "$uri: peer->lobo: $(cat $T/cmp.out)"
    echo "$uri: peer->lobo $(cat $T/cmp.out); $(grep -o 'rx_packets=[0-9]* rx_bytes=[0-9]* rx_errors=[0-9]*' $T/recv.out)"
}

# kill -9 lobo while it sends, then start it again: it must reset the device
# (its rings are gone with the dead process) and traffic must flow again.
kill_and_restart() {
    local uri=$1 r0 r1 io
    $F gen $T/loop.pcap 200 3 $LAB_NIC0_MAC $LAB_NIC1_MAC
    r0=$(peer_stat rx_packets)
    $IO send "$uri" $T/loop.pcap loop > $T/loop.out 2>&1 & io=$!
    sleep 4
    kill -9 $io; wait $io 2>/dev/null
    r1=$(peer_stat rx_packets)
    [ $((r1 - r0)) -gt 0 ] || fail "$uri: nothing arrived before the kill: $(tail -1 $T/loop.out)"
    echo "$uri: $((r1 - r0)) frames before kill -9"
    lobo_to_peer "$uri" 500
    peer_to_lobo "$uri" 500
}

# A command that must fail with one line of error containing $1.
fails_with() {
    local want=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    [ $rc != 0 ] || fail "'$*' succeeded, expected an error containing '$want'"
    [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "'$*' printed more than one line: $out"
    case $out in *"$want"*) echo "ok, one line: $out" ;; *) fail "'$*' said '$out', expected '$want'" ;; esac
}
