#!/bin/bash
# lobo's igbvf driver on VF 0 of QEMU's 82576 while the guest kernel's igb
# keeps the PF, up with an address, on the same wire: bit-exact mixes both ways
# with a kernel e1000e peer while the PF goes on answering the peer's pings;
# `ip link set PF vf 0 mac` honoured at lobo's next open; lobo list; a
# multicast join through a shadow interface; kill -9 and restart; the PF going
# down seen as link down; one-line errors (no MAC for the VF, promiscuous mode
# and a MAC change the PF refuses, the PF down, the VF busy).
# lab: iommu=1 nic=igb,rootport=1 nic=e1000e hugepages=64 timeout=1500
. "$LAB_DIR/tests/igbvf.inc"
N=${N:-2000}
build_io
[ -x "$LOBO" ] || lab_skip "no lobo binary in $BUILD"
lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci tun
setup_pf_and_vf
uri=pci:$VF VF_MAC=52:54:00:00:00:11

# The PF gives a VF no MAC of its own until the operator does (Linux 6.12).
fails_with "the PF has no MAC for the VF: give it one (ip link set $PF vf 0 mac" $IO info "$uri"
ip link set "$PF" vf 0 mac $VF_MAC
$IO info "$uri" > $T/info.out 2>&1
grep -q "mode=VF 0 of $PF, vfio mac=$VF_MAC link=up speed=1000 " $T/info.out || fail "$uri: $(head -1 $T/info.out)"
[ "$(lab_driver "$VF")" = vfio-pci ] && [ "$(lab_driver "$NIC0")" = igb ] ||
    fail "VF on $(lab_driver "$VF"), PF on $(lab_driver "$NIC0"): expected vfio-pci and igb"
lab_log "$(head -1 $T/info.out)"

# Both share the port: N frames each way while the PF answers a ping every 0.2 s.
$PEER_NS ping -i 0.2 198.18.0.1 > $T/ping.out 2>&1 & pinger=$!
vf_to_peer "$uri" "$N"
peer_to_vf "$uri" "$N"
kill $pinger; wait $pinger   # no summary: count the replies
awk -F'icmp_seq=' '/bytes from/ {n++; split($2, a, " "); last = a[1]} END {print n + 0, last + 0; exit !(n >= 20 && n >= last - 1)}' \
    $T/ping.out > $T/pings || fail "the PF missed pings meanwhile: $(cat $T/pings) (replies, last sequence number)"
lab_log "$N frames each way on the VF while the PF answered $(cut -d' ' -f1 $T/pings) pings, none lost"

# lobo list: the VF is lobo's (its pid, its link), the PF the kernel's.
"$LOBO" capture "$uri" -w $T/idle.pcap --duration 120 > $T/hold.out 2>&1 & holder=$!
for _ in $(seq 300); do [ -e /run/lobo/$holder ] && break; kill -0 $holder 2>/dev/null || fail "capture: $(cat $T/hold.out)"; sleep 0.1; done
sleep 0.5   # a first publish with the link
"$LOBO" list --json > $T/list.json || fail "lobo list: $(tail -1 $T/list.json)"
"$LOBO" list | grep -E "^($VF|$NIC0) "
grep -q "\"bdf\":\"$VF\",\"id\":\"8086:10ca\",\"driver\":\"vfio-pci\",\"lobo\":\"igbvf\",\"link\":\"1G\",\"lobo_pid\":$holder,\"mode\":\"VF 0 of $PF, vfio\",.*\"sriov\":\"VF 0 of $NIC0 (igb $PF)\"" $T/list.json ||
    fail "lobo list, the VF: $(grep "$VF" $T/list.json)"
grep -q "\"bdf\":\"$NIC0\",\"id\":\"8086:10c9\",\"driver\":\"igb\",.*\"kernel_use\":\"$PF (addresses, routes)\",\"sriov\":\"PF of 1 VF\"" $T/list.json ||
    fail "lobo list, the PF: $(grep "$NIC0" $T/list.json)"
fails_with "is in use by lobo process $holder" $IO info "$uri"
kill -INT $holder; wait $holder || fail "capture: $(tail -1 $T/hold.out)"

# The operator gives the VF another MAC: lobo's VF has it at its next open
# (its reset), frames to the old one no longer reach it.
ip link set "$PF" vf 0 mac 52:54:00:00:00:22
OLD_MAC=$VF_MAC VF_MAC=52:54:00:00:00:22
$IO info "$uri" | grep -q "mac=$VF_MAC " || fail "lobo's VF did not take the MAC the PF gave it: $($IO info "$uri" | head -1)"
$F gen $T/old.pcap 50 7 "$PEER_MAC" "$OLD_MAC" 100
$F gen $T/new.pcap 50 8 "$PEER_MAC" "$VF_MAC" 100
want=$($F untagged $T/new.pcap $T/want.pcap)
$IO recv "$uri" $T/got.pcap "$want" 60 > $T/recv.out 2>&1 & io=$!
while ! grep -q receiving $T/recv.out; do kill -0 $io 2>/dev/null || fail "recv: $(tail -1 $T/recv.out)"; sleep 0.1; done
peer $F sendpcap "$PEER" $T/old.pcap
peer $F sendpcap "$PEER" $T/new.pcap
wait $io || fail "recv: $(tail -1 $T/recv.out)"
$F cmp $T/want.pcap $T/got.pcap > $T/cmp.out 2>&1 || fail "after the MAC change: $(cat $T/cmp.out)"
lab_log "MAC $VF_MAC taken at the reset: the $want untagged of 50 frames to it arrived, none of 50 to $OLD_MAC"

# What the PF refuses, in one line: a MAC of the VF's own while the
# operator's stands (allowed once trusted).
fails_with "the PF refuses to give the VF another MAC: it set the VF's MAC itself (ip link set $PF vf 0 trust on" \
    $IO info "$uri?mac=52:54:00:00:00:33"
ip link set "$PF" vf 0 trust on
$IO info "$uri?mac=52:54:00:00:00:33" | grep -q "mac=52:54:00:00:00:33 " || fail "trusted, the VF could not choose its MAC"
ip link set "$PF" vf 0 trust off
ip link set "$PF" vf 0 mac $VF_MAC
fails_with "mac= takes a MAC address" $IO info "$uri?mac=52:54:00"
fails_with "a VF has one queue" $IO info "$uri?queues=2"
fails_with "mac= is for virtual functions (igbvf)" $IO info "pci:$NIC0?mac=02:00:00:00:00:01"

# A shadow interface: a multicast join on it reaches the PF through the
# mailbox; promiscuous mode, refused, is set back with a warning.
"$LOBO" capture "$uri?shadow=vf0" -w $T/cap.pcap --duration 300 > $T/cap.out 2>&1 & cap=$!
for _ in $(seq 300); do [ -e /sys/class/net/vf0 ] && break; kill -0 $cap 2>/dev/null || fail "capture: $(cat $T/cap.out)"; sleep 0.1; done
$F gen $T/g1.pcap 10 9 "$PEER_MAC" 01:00:5e:01:02:03 100
$F gen $T/g2.pcap 10 10 "$PEER_MAC" 01:00:5e:07:07:07 100
want=$($F untagged $T/g1.pcap $T/g1u.pcap)
peer $F sendpcap "$PEER" $T/g1.pcap                          # not joined yet: none may arrive
ip addr add 239.1.2.3/32 dev vf0 autojoin; sleep 1
peer $F sendpcap "$PEER" $T/g1.pcap                          # joined: those without an 802.1Q tag
peer $F sendpcap "$PEER" $T/g2.pcap                          # another group: none
ip link set vf0 promisc off; sleep 0.5
ip link set vf0 promisc on; sleep 1
[ $(( $(cat /sys/class/net/vf0/flags) & 0x100 )) = 0 ] || fail "vf0 stayed promiscuous though the PF refused"
kill -INT $cap; wait $cap || fail "capture: $(tail -2 $T/cap.out)"
grep -q "warning: shadow vf0: the NIC cannot go promiscuous (igbvf: .*the PF refuses to make the VF promiscuous" $T/cap.out ||
    fail "no warning for promisc on vf0: $(cat $T/cap.out)"
g1=$(tcpdump -r $T/cap.pcap -nn ether dst 01:00:5e:01:02:03 2>/dev/null | grep -c '^[0-9]')
g2=$(tcpdump -r $T/cap.pcap -nn ether dst 01:00:5e:07:07:07 2>/dev/null | grep -c '^[0-9]')
[ "$g1" = "$want" ] && [ "$g2" = 0 ] || fail "group 239.1.2.3: $g1 frames ($want expected), another group: $g2 (0 expected)"
lab_log "shadow vf0: joined 239.1.2.3, $want of its frames arrived (none before the join, none of another group); promisc refused and set back"

kill_and_restart_vf "$uri"

# The PF goes down: its reset clears the VF's queues, the mailbox says so, the
# VF's link goes down within a second; opening the VF then fails in one line;
# once the PF is up again, the VF works again.
$IO link "$uri" 60 1000000 > $T/link.out 2>&1 & io=$!
for _ in $(seq 100); do grep -q "link up" $T/link.out && break; sleep 0.1; done
t_down=$(cut -d' ' -f1 /proc/uptime); ip link set "$PF" down
for _ in $(seq 30); do grep -q "link down" $T/link.out && break; sleep 0.1; done
kill $io; wait $io 2>/dev/null
awk -v d="$t_down" '/^link/ {n++} /^link down/ {down = $5} END {exit !(n == 2 && down >= d && down - d <= 1)}' $T/link.out ||
    fail "the VF's link did not go down within a second of ip link set $PF down (at $t_down): $(tr '\n' ' ' < $T/link.out)"
fails_with "the PF is down or resetting (the mailbox says RSTI): ip link set $PF up" $IO info "$uri"
ip link set "$PF" up
lab_wait_carrier "$PF"
peer ping -c 1 -W 5 198.18.0.1 > /dev/null || fail "the PF answers no ping after coming back"
vf_to_peer "$uri" 200
lab_log "PF down at $t_down: the VF's $(grep '^link down' $T/link.out), one-line error; PF up: the VF works again"
