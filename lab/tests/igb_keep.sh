#!/bin/bash
# igb's kernel=keep: the guest kernel's igb keeps NIC 0 (interface up with an
# address in netns keep, where lobo runs too), lobo takes receive queue 0 and
# a transmit queue beside it. Random mixes both ways bit-exact against a
# kernel e1000e peer; while lobo runs the kernel's interface stays up with
# carrier, ip/ethtool work on it, and the peer's pings reach lobo, not the
# kernel; after lobo exits, after kill -9 and a restart, after kill -9 and
# lobo reset, the kernel answers again. A kernel reset (an MTU change) stops
# lobo with one line; no "Tx Unit Hang".
# lab: nic=igb nic=e1000e hugepages=64 timeout=900 append=iomem=relaxed
. "$LAB_DIR/tests/port.inc"
build_io
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
setup_peer 1
ip addr add 198.18.10.2/24 dev "$PEER"
ip netns add keep
lab_in keep sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
KIF=$(lab_bind_kernel "$NIC0")
lab_if_up "$KIF" 198.18.10.1/24 keep
lab_in keep ip link set "$KIF" promisc on    # no VLAN filter: the mixes carry tags
lab_in keep ethtool -K "$KIF" rxvlan off     # and the NIC leaves them in the frames
lab_wait_carrier "$KIF" keep 20
# Fixed neighbours: no ARP probes from either kernel among the counted frames.
ip neigh replace 198.18.10.1 lladdr "$LOBO_MAC" nud permanent dev "$PEER"
lab_in keep ip neigh replace 198.18.10.2 lladdr "$PEER_MAC" nud permanent dev "$KIF"
uri="pci:$NIC0?kernel=keep"
IO0=$IO IO="ip netns exec keep $IO"
kstat() { lab_counter "$KIF" "$1" keep; }
pings() { ping -c "$1" -i 0.3 -W 2 198.18.10.1 > $T/ping.out 2>&1; }
answers() { pings 3 || fail "$1: the kernel does not answer pings: $(grep transmitted $T/ping.out)"; echo "$1: the kernel answers pings"; }
wait_port() { for _ in $(seq 300); do [ -e /run/lobo/$1 ] && return; kill -0 $1 2>/dev/null || break; sleep 0.1; done; fail "lobo $1 did not open: $(tail -1 $2)"; }
answers "before lobo"

lab_log "frames both ways"
peer_to_lobo "$uri&rx_ring=4096" 2000   # deep: QEMU drops, uncounted, what waits for a full ring
lobo_to_peer "$uri" 2000
lab_in keep ip -d link show "$KIF" | grep -q "promiscuity 1" || fail "promisc is no longer on $KIF"

lab_log "pings while lobo runs"
ip netns exec keep "$LOBO" capture "$uri" -w $T/keep.pcap --duration 120 icmp > $T/cap.out 2>&1 & cap=$!
wait_port $cap $T/cap.out
k0=$(kstat rx_packets)
pings 3 && fail "the kernel answered pings while lobo had its queue"
lab_in keep ip link show "$KIF" | grep -q "UP,LOWER_UP" || fail "ip link show $KIF: $(lab_in keep ip link show $KIF)"
lab_in keep ethtool -i "$KIF" | grep -q "^driver: igb" || fail "ethtool -i $KIF: $(lab_in keep ethtool -i $KIF)"
lab_in keep ethtool -S "$KIF" | grep -q rx_packets || fail "ethtool -S $KIF failed"
lab_in keep ethtool -k "$KIF" > /dev/null || fail "ethtool -k $KIF failed"
[ "$(lab_in keep cat /sys/class/net/$KIF/carrier)" = 1 ] || fail "$KIF lost its carrier"
[ "$(kstat rx_packets)" = "$k0" ] || fail "the kernel received $(( $(kstat rx_packets) - k0 )) frames while lobo had its queue"
"$LOBO" list --json > $T/list.json
grep -q "\"bdf\":\"$NIC0\",.*\"driver\":\"igb\",.*\"lobo_pid\":$cap,\"mode\":\"keep $KIF rx0 tx1 no-iommu\"" $T/list.json ||
    fail "lobo list: $(grep $NIC0 $T/list.json)"
"$LOBO" list | grep "$NIC0"
kill -INT $cap; wait $cap || fail "lobo capture: $(tail -2 $T/cap.out)"
got=$(tcpdump -r $T/keep.pcap -nn 'icmp[icmptype] = icmp-echo and dst 198.18.10.1' 2>/dev/null | grep -c '^[0-9]')
[ "$got" -ge 3 ] || fail "lobo captured $got echo requests of the peer's 3: $(tail -1 $T/cap.out)"
echo "while lobo ran: $KIF up with carrier, ip/ethtool work, the kernel received nothing, lobo got $got echo requests"
answers "after lobo exits"

lab_log "kill -9, restart; kill -9, lobo reset"
kill_and_restart "$uri" 1
answers "after kill -9 and a restart"
$IO hold "$uri" 120 > $T/hold.out 2>&1 & holder=$!
while ! grep -q mode= $T/hold.out; do kill -0 $holder 2>/dev/null || fail "hold: $(cat $T/hold.out)"; sleep 0.1; done
kill -9 $holder; wait $holder 2>/dev/null
pings 2 && fail "the kernel answered with a killed lobo's ring in its queue 0"
[ -e /run/lobo/pci-$NIC0.keep ] && [ "$(held_files $NIC0)" -ge 2 ] || fail "kill -9 left no record of the kernel's queue, or no memory held"
"$LOBO" reset "pci:$NIC0" > $T/reset.out || fail "lobo reset failed: $(cat $T/reset.out)"
grep -q "MiB of DMA memory a killed lobo left it freed" $T/reset.out || fail "lobo reset: $(cat $T/reset.out)"
[ "$(held_files $NIC0)" = 0 ] && [ ! -e /run/lobo/pci-$NIC0.keep ] || fail "lobo reset left memory or the record"
answers "after kill -9 and lobo reset"

lab_log "the kernel resets the NIC under lobo"
ip netns exec keep "$LOBO" capture "$uri" -w $T/x.pcap --duration 60 > $T/cap.out 2>&1 & cap=$!
wait_port $cap $T/cap.out
lab_in keep ip link set "$KIF" mtu 1400
wait $cap && fail "lobo went on after the kernel reset the NIC"
grep -q "^lobo: igb: the kernel reset $KIF and set up its own queues again" $T/cap.out || fail "lobo said: $(cat $T/cap.out)"
grep "^lobo: igb" $T/cap.out
lab_in keep ip link set "$KIF" mtu 1500
lab_wait_carrier "$KIF" keep 20
answers "after the kernel's reset"

fails_with "kernel=keep takes one queue pair" $IO info "$uri&queues=2"
fails_with "the only choice is kernel=keep" $IO info "pci:$NIC0?kernel=arp"
fails_with "drop shadow=" $IO info "$uri&shadow=k0"
fails_with "has no kernel interface in this network namespace" $IO0 info "$uri"
! dmesg | grep -q "Tx Unit Hang" || fail "the kernel saw a Tx Unit Hang: $(dmesg | grep -A3 'Tx Unit Hang')"
echo "kernel=keep tests passed"
