# Helpers for lab tests, which run inside the guest chrooted into the host's root:
#   . "$LAB_DIR/lib.sh"
# run-guest exports LAB_* (see lab/README.md): LAB_NICS, LAB_NIC<i>_{MODEL,MAC,HUB,ID,SLOT}, ...
# Functions print their result on stdout and call lab_fail when they cannot do their job.

LAB_SKIP=77

# Helpers run inside $(...) too: there, exit would only leave the subshell, so
# they signal the test's main shell, which then exits with the verdict.
trap 'exit 1' USR1
trap 'exit $LAB_SKIP' USR2
lab_fail() { echo "FAIL: $*" >&2; [ "$BASHPID" = $$ ] || kill -USR1 $$; exit 1; }
lab_skip() { echo "SKIP: $*" >&2; [ "$BASHPID" = $$ ] || kill -USR2 $$; exit $LAB_SKIP; }
lab_log()  { echo "lab: [$(cut -d' ' -f1 /proc/uptime)] $*" >&2; }   # with guest uptime

# --- finding NICs ------------------------------------------------------------

# BDF of NIC number $1 of the header (0-based). Behind a root port it is the
# port's child, whose bus number the guest kernel chose.
lab_nic() {
    local slot
    eval "slot=\$LAB_NIC${1}_SLOT"
    [ -n "$slot" ] || lab_fail "no NIC $1 in this topology"
    if [ "$(eval echo "\$LAB_NIC${1}_ROOTPORT")" = 1 ]; then
        slot=$(cd "/sys/bus/pci/devices/$slot" && ls -d 0000:??:??.? | head -1)   # not the port's services (...:pcie001)
        [ -n "$slot" ] || lab_fail "nothing behind the root port of NIC $1"
    fi
    echo "$slot"
}

# BDF of the NIC with MAC $1: from the topology, else from a bound netdev.
lab_bdf_by_mac() {
    local i mac n dev
    mac=$(echo "$1" | tr A-F a-f)
    for ((i = 0; i < ${LAB_NICS:-0}; i++)); do
        [ "$(eval echo "\$LAB_NIC${i}_MAC" | tr A-F a-f)" = "$mac" ] && { lab_nic $i; return; }
    done
    for n in /sys/class/net/*; do
        [ "$(cat "$n/address")" = "$mac" ] || continue
        dev=$(readlink -f "$n/device")
        case $dev in */virtio*) dev=${dev%/virtio*} ;; esac
        echo "${dev##*/}"; return
    done
    lab_fail "no NIC with MAC $1"
}

# BDF of the $2-th (0-based, in bus order) PCI device with id $1 (vendor:device, hex).
lab_bdf_by_id() {
    local d n=0
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor"):$(cat "$d/device")" = "0x${1%:*}:0x${1#*:}" ] || continue
        [ "$n" = "${2:-0}" ] && { echo "${d##*/}"; return; }
        n=$((n + 1))
    done
    lab_fail "no PCI device $1 #${2:-0}"
}

# --- kernel modules and drivers ------------------------------------------------

# Load modules of the guest kernel with their dependencies. There is no
# modules.dep in the unpacked package, so follow each module's depends= string.
# run-guest keeps the usual ones decompressed in $LAB_KERNEL/ko; others are
# xz-compressed and busybox insmod wants them plain.
lab_modprobe() {
    local m ko xz dep
    for m in "$@"; do
        m=${m//-/_}
        [ -d "/sys/module/$m" ] && continue
        ko=$LAB_KERNEL/ko/$m.ko
        if [ ! -e "$ko" ]; then
            xz=$(awk -v m="$m" '$1 == m { print $2 }' "$LAB_KERNEL/modules.idx")
            if [ -z "$xz" ]; then
                grep -q "/$m.ko\$" "$LAB_KERNEL"/lib/modules/*/modules.builtin && continue
                lab_fail "no module $m in the guest kernel"
            fi
            ko=/tmp/lab-modules/$m.ko
            mkdir -p /tmp/lab-modules
            xz -dc "$xz" > "$ko"
        fi
        for dep in $(tr '\0' '\n' < "$ko" | sed -n 's/^depends=//p' | tr , ' '); do
            lab_modprobe "$dep"
        done
        busybox insmod "$ko" || lab_fail "insmod $m"
    done
}

lab_driver() {   # the driver bound to BDF $1, or nothing
    [ -e "/sys/bus/pci/devices/$1/driver" ] && basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
    return 0
}

# Bind BDF $1 to driver $2 and only to it (driver_override), whatever held it before.
lab_bind() {
    local d=/sys/bus/pci/devices/$1
    echo "$2" > "$d/driver_override"
    [ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
    echo "$1" > /sys/bus/pci/drivers_probe
    [ "$(lab_driver "$1")" = "$2" ] || lab_fail "$1 did not bind to $2"
}

# Detach BDF $1 from its driver and keep every driver (even one loaded later) off it.
lab_unbind() {
    local d=/sys/bus/pci/devices/$1
    echo lab-unbound > "$d/driver_override"
    [ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
    return 0
}

# Hand BDF $1 to the guest kernel's own driver (a peer nobody here wrote);
# prints the interface name.
lab_bind_kernel() {
    local id
    id=$(sed 's/0x//' "/sys/bus/pci/devices/$1/vendor"):$(sed 's/0x//' "/sys/bus/pci/devices/$1/device")
    case $id in
        8086:10c9) lab_modprobe igb; lab_bind "$1" igb ;;
        8086:10d3) lab_modprobe e1000e; lab_bind "$1" e1000e ;;
        8086:100e) lab_modprobe e1000; lab_bind "$1" e1000 ;;
        15ad:07b0) lab_modprobe vmxnet3; lab_bind "$1" vmxnet3 ;;
        # virtio-pci (built in) owns the PCI function, virtio_net the virtio device on it.
        1af4:1000|1af4:1041) lab_modprobe virtio_net; lab_bind "$1" virtio-pci ;;
        *) lab_fail "no kernel driver known for $id" ;;
    esac
    lab_ifname "$1"
}

lab_ifname() {   # interface of BDF $1 (waits for the driver to register it)
    local i n
    for ((i = 0; i < 100; i++)); do
        for n in /sys/bus/pci/devices/$1/net/* /sys/bus/pci/devices/$1/virtio*/net/*; do
            [ -e "$n" ] && { echo "${n##*/}"; return; }
        done
        sleep 0.1
    done
    lab_fail "$1 has no network interface"
}

# Give BDF $1 to vfio-pci (needs `iommu=1` in the header); prints its IOMMU group,
# i.e. /dev/vfio/<group>. The module order is the one the recipe verified.
lab_bind_vfio() {
    [ -e "/sys/bus/pci/devices/$1/iommu_group" ] || lab_fail "$1 has no IOMMU group (header needs iommu=1)"
    lab_modprobe vfio vfio_iommu_type1 irqbypass vfio_pci_core vfio_pci
    lab_bind "$1" vfio-pci
    basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
}

# Let BDF $1 answer memory accesses and master DMA (command register bits 1, 2),
# as a userspace driver must: no kernel driver called pci_enable_device for it.
lab_pci_enable() {
    setpci -s "$1" COMMAND=0x6:0x6 || lab_fail "cannot enable $1"
}

# --- the Linux stack as a peer -------------------------------------------------

# Run a command in network namespace $1 ("" = the initial one).
lab_in() {
    local ns=$1; shift
    if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# Bring interface $1 up with address $2 (CIDR), inside netns $3 if given (created
# on demand). Two NICs in two namespaces make traffic between them cross the wire.
lab_if_up() {
    if [ -n "$3" ]; then
        [ -e "/run/netns/$3" ] || ip netns add "$3"
        ip link set "$1" netns "$3" || lab_fail "move $1 to netns $3"
        lab_in "$3" ip link set lo up
    fi
    lab_in "$3" ip link set "$1" up || lab_fail "ip link set $1 up"
    [ -z "$2" ] || lab_in "$3" ip addr add "$2" dev "$1" || lab_fail "ip addr add $2 dev $1"
}

lab_wait_carrier() {   # interface $1 [netns $2] has carrier within $3 seconds (default 10)
    local i
    for ((i = 0; i < ${3:-10} * 10; i++)); do
        [ "$(lab_in "$2" cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0
        sleep 0.1
    done
    lab_fail "$1 has no carrier"
}

lab_counter() {   # statistic $2 (rx_packets, tx_bytes, ...) of interface $1 [in netns $3]
    lab_in "$3" cat "/sys/class/net/$1/statistics/$2" || lab_fail "no counter $2 on $1"
}

# --- the QEMU monitor ------------------------------------------------------------

# Run a QEMU monitor (HMP) command, e.g. `lab_monitor info network`, through
# run-guest's virtio-serial port; prints its output.
lab_monitor() {
    local fd line
    exec {fd}<>/dev/lab/ctl || lab_fail "no monitor port /dev/lab/ctl"
    printf 'hmp %s\n' "$*" >&$fd
    while IFS= read -r line <&$fd; do
        line=${line%$'\r'}
        case $line in
            "END ok") exec {fd}>&-; return 0 ;;
            "END "*) exec {fd}>&-; lab_fail "monitor: $* -> ${line#END }" ;;
            *) echo "$line" ;;
        esac
    done
    lab_fail "monitor: no answer to $*"
}

lab_link() {   # set NIC number $1's link up|down, as if its cable were pulled
    local id
    eval "id=\$LAB_NIC${1}_ID"
    lab_monitor set_link "$id" "$([ "$2" = up ] && echo on || echo off)"
}

# --- memory ----------------------------------------------------------------------

lab_hugepages() {   # reserve $1 2 MiB pages (also possible with hugepages=N in the header)
    echo "$1" > /proc/sys/vm/nr_hugepages
    [ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$1" ] || lab_fail "only $(cat /proc/sys/vm/nr_hugepages) of $1 hugepages"
}
