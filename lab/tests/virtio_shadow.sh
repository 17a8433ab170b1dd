#!/bin/bash
# Shadow interfaces on lobo's virtio driver. `lobo fwd` between NIC 0 and NIC 2
# with shadows lobo0 and lobo1; kernel peers on NIC 1 (hub 0, netns sh_a) and
# NIC 3 (hub 1, netns sh_b). The peers ping the shadows' own addresses and ARP
# resolves both ways while transit frames cross bit-exact; `ip link set lobo0
# down` stops the port's traffic and `up` resumes it; the QEMU monitor's link
# down takes lobo0's carrier within a second. Then `lobo capture` on NIC 0: a
# MAC change, promisc, multicast joins and the MTU on lobo0 reach the NIC.
# lobo's NICs are modern-only behind the IOMMU (VFIO, IOVA): control commands
# and the kernel's frames go through it.
# ctrl_vlan=off: with VIRTIO_NET_F_CTRL_VLAN negotiated (Linux and DPDK do) QEMU drops
# tagged frames for VLANs nobody added, and the test frames carry tags.
# lab: iommu=1 nic=virtio-modern,hub=0,iommu_platform=on,ctrl_vlan=off nic=virtio,hub=0,ctrl_vlan=off
# lab: nic=virtio-modern,hub=1,iommu_platform=on,ctrl_vlan=off nic=virtio,hub=1,ctrl_vlan=off
# lab: hugepages=64 timeout=480
. "$LAB_DIR/tests/port.inc"
LOBO=$BUILD/lobo; [ -x "$LOBO" ] || LOBO=$BUILD/src/tools/lobo
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
lab_modprobe tun vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
NIC2=$(lab_nic 2)
a=$(lab_bind_kernel "$(lab_nic 1)")
b=$(lab_bind_kernel "$(lab_nic 3)")
lab_if_up "$a" 198.18.7.1/24 sh_a
lab_if_up "$b" 198.18.7.2/24 sh_b
lab_in sh_a sysctl -qw net.ipv6.conf.all.disable_ipv6=1   # new namespaces start with IPv6 on
lab_in sh_b sysctl -qw net.ipv6.conf.all.disable_ipv6=1
lab_in sh_a ip addr add 198.18.8.2/24 dev "$a"
lab_in sh_b ip addr add 198.18.9.2/24 dev "$b"
A_MAC=$LAB_NIC1_MAC B_MAC=$LAB_NIC3_MAC
stat_a() { lab_counter "$a" "$1" sh_a; }
stat_b() { lab_counter "$b" "$1" sh_b; }
tap_stat() { cat /sys/class/net/lobo0/statistics/$1; }

send() {   # peer a sends $2 UDP frames to MAC $1
    lab_in sh_a "$LOBO" blast "afpacket:$a" --size 60 --dst-mac "$1" --count "$2" > /dev/null || fail "blast to $1"
}

wait_for_shadow() {   # $1 exists, and lobo ($2) still runs
    for _ in $(seq 300); do [ -e /sys/class/net/$1 ] && return; kill -0 $2 2>/dev/null || break; sleep 0.1; done
    fail "no shadow $1: $(tail -2 $T/lobo.out)"
}

# --- lobo fwd with two shadows ------------------------------------------------
lab_log "lobo fwd with shadows"
"$LOBO" fwd "pci:$NIC0?shadow=lobo0" "pci:$NIC2?shadow=lobo1" --duration 300 > $T/lobo.out 2>&1 & fwd=$!
wait_for_shadow lobo0 $fwd
wait_for_shadow lobo1 $fwd
[ "$(lab_driver $NIC0)" = vfio-pci ] || fail "NIC 0 is not on vfio-pci"
[ "$(cat /sys/class/net/lobo0/address)" = "$LAB_NIC0_MAC" ] || fail "lobo0 has $(cat /sys/class/net/lobo0/address), not NIC 0's $LAB_NIC0_MAC"
[ "$(cat /sys/class/net/lobo0/mtu)" = 1500 ] || fail "lobo0's MTU is $(cat /sys/class/net/lobo0/mtu)"
lab_wait_carrier lobo0 "" 2
ip addr add 198.18.8.1/24 dev lobo0
ip addr add 198.18.9.1/24 dev lobo1
echo "lobo0 $LAB_NIC0_MAC mtu 1500 carrier 1, lobo1 up"

# Transit frames from a to b, bit-exact, while the shadows answer.
$F gen $T/transit.pcap 300 5 $A_MAC $B_MAC
lab_in sh_b tcpdump -U -q -i "$b" -w $T/transit-got.pcap -s 2000 "ether proto 0x88b5 or ether proto 0x8100 or ether proto 0x88a8 or ether proto 0x9100" 2>$T/tcpdump.err & td=$!
for _ in $(seq 100); do grep -q listening $T/tcpdump.err && break; sleep 0.1; done
lab_in sh_a $F sendpcap "$a" $T/transit.pcap 2 & sender=$!   # paced: a starved forwarder under TCG drops silently (virtio counts no rx drops)
lab_in sh_a ping -c 10 -i 0.2 -W 5 198.18.8.1 > $T/ping-a.out & pa=$!
lab_in sh_b ping -c 10 -i 0.2 -W 5 198.18.9.1 > $T/ping-b.out & pb=$!
lab_in sh_a ping -c 10 -i 0.2 -W 5 198.18.7.2 > $T/ping-t.out & pt=$!
wait $pa || fail "peer a cannot ping lobo0: $(grep transmitted $T/ping-a.out)"
wait $pb || fail "peer b cannot ping lobo1: $(grep transmitted $T/ping-b.out)"
wait $pt || fail "transit ping a->b failed: $(grep transmitted $T/ping-t.out)"
for f in a b t; do grep -q ' 0% packet loss' $T/ping-$f.out || fail "ping $f lost replies: $(grep transmitted $T/ping-$f.out)"; done
wait $sender
# TCG forwards slowly: wait for the test frames themselves in the capture
# (peer b's rx_packets also counts the pings and ARP, and ran ahead once).
captured() { tcpdump -r $T/transit-got.pcap 2>/dev/null | wc -l; }
for _ in $(seq 150); do [ "$(captured)" -ge 300 ] && break; sleep 0.2; done
kill $td; wait $td
$F cmp $T/transit.pcap $T/transit-got.pcap unordered > $T/cmp.out || fail "transit a->b: $(cat $T/cmp.out)"
echo "pings of lobo0 and lobo1 answered, transit ping and frames meanwhile: $(cat $T/cmp.out)"

# ARP both ways: the shadow's kernel asks through the NIC, the peer learnt lobo0.
ip neigh flush dev lobo0
ping -c 2 -i 0.2 -W 5 -I lobo0 198.18.8.2 > /dev/null || fail "lobo0 cannot ping peer a"
ip neigh show 198.18.8.2 dev lobo0 | grep -q "lladdr $A_MAC" || fail "lobo0 did not resolve peer a: $(ip neigh show dev lobo0)"
lab_in sh_a ip neigh show 198.18.8.1 | grep -q "lladdr $LAB_NIC0_MAC" || fail "peer a did not resolve lobo0: $(lab_in sh_a ip neigh)"
echo "ARP both ways: lobo0 knows $A_MAC, peer a knows $LAB_NIC0_MAC"

# Counters: ip -s link on the shadow (the exception path), lobo top, Prometheus.
ip -s link show lobo0
[ "$(tap_stat rx_packets)" -ge 10 ] && [ "$(tap_stat tx_packets)" -ge 10 ] || fail "lobo0 counted rx $(tap_stat rx_packets) tx $(tap_stat tx_packets)"
"$LOBO" top --json --count 1 --interval 0.3 > $T/top.json
grep -q '"shadow":"lobo0","mtu":1500,"exception_rx":[1-9]' $T/top.json || fail "lobo top: $(cat $T/top.json)"
"$LOBO" top --prom $T/lobo.prom --count 1 --interval 0.1 || fail "lobo top --prom failed"
grep -q '^lobo_exception_tx_total{.*shadow="lobo0"} [1-9]' $T/lobo.prom || fail "Prometheus file: $(grep exception_tx $T/lobo.prom)"
echo "lobo top and lobo.prom show lobo0's exception path: $(grep '^lobo_exception_rx_total.*lobo0' $T/lobo.prom)"

lab_log "down and up"
# Down stops the port's traffic: neither peer hears anything through NIC 0.
ip netns exec sh_a ping -i 0.1 -W 1 198.18.7.2 > /dev/null 2>&1 & flood=$!   # exec: $! is ping's
sleep 1
ip link set lobo0 down
sleep 0.5
ra=$(stat_a rx_packets) rb=$(stat_b rx_packets)
sleep 2
[ "$(stat_a rx_packets)" = "$ra" ] && [ "$(stat_b rx_packets)" = "$rb" ] ||
    fail "lobo0 down, yet peer a received $(($(stat_a rx_packets) - ra)) and peer b $(($(stat_b rx_packets) - rb)) frames"
ip link set lobo0 up
sleep 2
[ "$(stat_a rx_packets)" -gt "$ra" ] && [ "$(stat_b rx_packets)" -gt "$rb" ] || fail "lobo0 up, yet traffic did not resume"
kill $flood; wait $flood 2>/dev/null
echo "lobo0 down: peers counted nothing for 2 s; up: traffic again ($(($(stat_a rx_packets) - ra)) frames to a)"

# The QEMU monitor pulls NIC 0's cable: lobo0's carrier goes within a second.
lab_link 0 down
for i in $(seq 10); do sleep 0.1; [ "$(cat /sys/class/net/lobo0/carrier)" = 0 ] && break; done
[ "$(cat /sys/class/net/lobo0/carrier)" = 0 ] || fail "lobo0 kept its carrier 1 s after set_link off"
echo "carrier off $((i * 100)) ms after set_link off"
lab_link 0 up
for i in $(seq 10); do sleep 0.1; [ "$(cat /sys/class/net/lobo0/carrier)" = 1 ] && break; done
[ "$(cat /sys/class/net/lobo0/carrier)" = 1 ] || fail "lobo0 has no carrier 1 s after set_link on"
kill -INT $fwd; wait $fwd || fail "lobo fwd: $(tail -2 $T/lobo.out)"
grep -q exception $T/lobo.out || fail "fwd's summary shows no exception path: $(tail -1 $T/lobo.out)"
tail -1 $T/lobo.out

# --- lobo capture: what NIC 0 accepts follows lobo0 -------------------------------
lab_log "lobo capture with a shadow"
"$LOBO" capture "pci:$NIC0?shadow=lobo0" -w $T/cap.pcap --duration 200 > $T/lobo.out 2>&1 & cap=$!
wait_for_shadow lobo0 $cap
port_rx() {   # NIC 0's rx_packets, as lobo top sees them
    "$LOBO" top --json --count 1 --interval 0.05 | grep -o '"rx_packets":[0-9]*' | head -1 | cut -d: -f2
}
expect_rx() {   # after sending: NIC 0 received $1 more frames ($2 says what)
    sleep 0.3
    local now; now=$(port_rx)
    [ $((now - rx)) = "$1" ] || fail "$2: NIC 0 received $((now - rx)) frames, expected $1 ($(grep -v ' s: ' $T/lobo.out))"
    rx=$now; echo "$2: $1"
}
X=$LAB_NIC0_MAC Y=02:00:00:00:00:99
ip link set lobo0 promisc off; sleep 0.3
rx=$(port_rx)
send $Y 20; expect_rx 0 "promisc off, 20 frames to $Y"
ip link set lobo0 address $Y; sleep 0.3
t0=$(tap_stat rx_packets)
send $Y 20; expect_rx 20 "lobo0 now $Y, 20 frames to it"
[ $(($(tap_stat rx_packets) - t0)) = 20 ] || fail "lobo0 counted $(($(tap_stat rx_packets) - t0)) of the 20 frames to its address"
send $X 20; expect_rx 0 "20 frames to the old address $X"
send 01:00:5e:01:02:03 10; expect_rx 0 "10 frames to group 239.1.2.3, not joined"
ip addr add 239.1.2.3/32 dev lobo0 autojoin; sleep 0.3
send 01:00:5e:01:02:03 10; expect_rx 10 "joined 239.1.2.3, 10 frames to it"
send 01:00:5e:07:07:07 10; expect_rx 0 "10 frames to another group"
ip link set lobo0 allmulticast on; sleep 0.3
send 01:00:5e:07:07:07 10; expect_rx 10 "allmulticast on, 10 frames to that group"
ip link set lobo0 promisc on; sleep 0.3
send $X 20; expect_rx 20 "promisc on, 20 frames to $X"
shadow_mtu_checks $T/lobo.out "virtio: receive buffers of 2048 bytes hold an MTU of 2018 at most"
kill -INT $cap; wait $cap || fail "lobo capture: $(tail -2 $T/lobo.out)"
got=$(tcpdump -r $T/cap.pcap -nn udp 2>/dev/null | grep -c '^[0-9]')
[ "$got" = 40 ] || fail "capture wrote $got UDP frames, expected 40 (20 to $X with promisc, 20 multicast)"
[ -z "$(tcpdump -r $T/cap.pcap -nn -e ether dst $Y 2>/dev/null)" ] || fail "frames to the shadow's address reached the program"

lab_log "errors"
# One-line errors.
fails_with "exception= chooses frames for a shadow interface: add shadow=NAME" "$LOBO" capture "pci:$NIC0?exception=arp" -w $T/x.pcap
fails_with "shadow: bad exception filter 'ether proto'" "$LOBO" capture "pci:$NIC0?shadow=lobo0&exception=ether proto" -w $T/x.pcap
fails_with "shadow: interface 'lo' exists already" "$LOBO" capture "pci:$NIC0?shadow=lo" -w $T/x.pcap
[ -e /sys/class/net/lobo0 ] && fail "lobo0 outlived lobo"
echo "shadow tests passed"
