/* The shadow interface over a kernel-backed port: afpacket on one end of a
 * veth pair, the other end in a peer's network namespace (a child process's,
 * so no namespace names are shared with other tests). The port's control
 * operations are recorders, so what reaches "the NIC" can be checked; the
 * test plays the program: it posts, polls and services. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "testing.h"

#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NB 64
#define RING 16
static uint8_t rxb[NB][2048];
static pid_t peer;
static const uint8_t shadow_mac[6] = {0x02, 0, 0, 0, 0x5e, 0x01};

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("`%s` failed", cmd);
}

/* sv0 here for the port, sv1 in the peer's namespace with 10.9.0.2; IPv6 off. */
static int netns_setup(void **state)
{
	int ready[2];
	(void)state;
	if (geteuid() != 0)
		return 0;
	/* A private mount namespace too, so that /sys shows this network namespace. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) || pipe(ready))
		return -1;
	peer = fork();
	if (peer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	char x, cmd[512];
	if (read(ready[0], &x, 1) != 1)
		return -1;
	snprintf(cmd, sizeof cmd,
		 "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link add sv0 type veth peer name sv1 && "
		 "sysctl -qw net.ipv4.conf.sv0.arp_ignore=8 && "   /* sv0 must not answer for the shadow */
		 "nsenter -t %d -n sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 && "
		 "ip link set sv1 netns %d && ip link set sv0 up && "
		 "nsenter -t %d -n sh -c 'ip link set lo up && ip link set sv1 up && ip addr add 10.9.0.2/24 dev sv1'",
		 (int)peer, (int)peer, (int)peer);
	return system(cmd) ? -1 : 0;
}

/* The port of a test that failed half-way, so the next finds no lsh0. */
static struct lobo_port *open_port;

static int close_port(void **state)
{
	(void)state;
	lobo_port_close(open_port);
	open_port = NULL;
	return 0;
}

static int netns_teardown(void **state)
{
	(void)state;
	if (peer > 0)
		kill(peer, SIGKILL), waitpid(peer, NULL, 0);
	return 0;
}

/* --- a port whose control operations record what they are asked ---------- */

static struct {
	uint8_t mac[6];
	int promisc, allmulti, nmc, refuse_mtu, refuse_post;
	uint32_t mtu;
	uint8_t mc[LOBO_MC_MAX][6];
} rec;
static struct lobo_port_ops rec_ops;
static uint16_t (*afpacket_rx_post)(struct lobo_port *, uint16_t, const struct lobo_frame *, uint16_t);

/* Refuses buffers while rec.refuse_post, as a driver whose MTU grew past them. */
static uint16_t rec_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return rec.refuse_post ? 0 : afpacket_rx_post(p, q, f, n);
}

static int rec_mac(struct lobo_port *p, const uint8_t mac[6], char *err) { (void)p, (void)err; memcpy(rec.mac, mac, 6); return 0; }
static int rec_promisc(struct lobo_port *p, bool on, char *err) { (void)p, (void)err; rec.promisc = on; return 0; }
static int rec_allmulti(struct lobo_port *p, bool on, char *err) { (void)p, (void)err; rec.allmulti = on; return 0; }

static int rec_mc(struct lobo_port *p, const uint8_t (*mc)[6], uint16_t n, char *err)
{
	(void)p, (void)err;
	rec.nmc = n;
	memcpy(rec.mc, mc, 6u * n);
	return 0;
}

static int rec_mtu(struct lobo_port *p, uint32_t mtu, char *err)
{
	(void)p;
	if ((int)mtu == rec.refuse_mtu) {
		lobo_err(err, "test: no MTU %u", mtu);
		return -EINVAL;
	}
	rec.mtu = mtu;
	return 0;
}

/* --- the program ---------------------------------------------------------- */

struct prog {
	struct lobo_port *p;
	uint32_t free[NB], nfree;
	bool refill;
	uint32_t got, to_shadow, reclaimed;
	int service_rc;
	char err[LOBO_ERR_LEN];
};

static void post_free(struct prog *g)
{
	struct lobo_frame f[NB];
	uint32_t k = g->nfree;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t tag = g->free[g->nfree - 1 - i];
		f[i] = (struct lobo_frame){.data = rxb[tag], .len = sizeof rxb[0], .tag = tag};
	}
	g->nfree -= lobo_rx_post(g->p, 0, f, (uint16_t)k);
}

static void round_once(struct prog *g)
{
	struct lobo_frame f[32];
	if (g->refill)
		post_free(g);
	uint16_t n = lobo_rx_poll(g->p, 0, f, 32);
	for (uint16_t i = 0; i < n; i++) {
		assert_true(f[i].tag < NB); /* the caller's tags, not the shadow's */
		assert_true(f[i].data >= rxb[f[i].tag] && f[i].data < rxb[f[i].tag] + sizeof rxb[0]);
		g->to_shadow += !memcmp(f[i].data, shadow_mac, 6);
		g->got++;
		g->free[g->nfree++] = (uint32_t)f[i].tag;
	}
	g->reclaimed += lobo_tx_reclaim(g->p, 0, f, 32); /* the program sends nothing of its own */
	int rc = lobo_port_service(g->p, g->err);
	if (rc < 0)
		g->service_rc = rc;
}

static void run_for(struct prog *g, double secs)
{
	for (int i = 0; i < secs * 5000; i++) {
		round_once(g);
		usleep(200);
	}
}

/* Runs the program while `cmd` runs; its exit status. */
static int run_while(struct prog *g, const char *fmt, ...)
{
	char cmd[512];
	int status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 50000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
		round_once(g);
		usleep(200);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void open_shadowed(struct prog *g, const char *filter)
{
	char err[LOBO_ERR_LEN];
	memset(g, 0, sizeof *g);
	memset(&rec, 0xff, sizeof rec);
	rec.refuse_mtu = rec.refuse_post = 0;
	assert_int_equal(lobo_port_open(&g->p, "afpacket:sv0?rx_ring=16&tx_ring=16", NULL, err), 0);
	rec_ops = *g->p->ops;
	afpacket_rx_post = rec_ops.rx_post;
	rec_ops.rx_post = rec_rx_post;
	rec_ops.set_mac = rec_mac, rec_ops.set_promisc = rec_promisc, rec_ops.set_allmulti = rec_allmulti;
	rec_ops.set_mc_list = rec_mc, rec_ops.set_mtu = rec_mtu;
	g->p->ops = &rec_ops;
	open_port = g->p;
	if (lobo_shadow_attach(g->p, "lsh0", filter, err))
		fail_msg("attach: %s", err);
	for (uint32_t i = 0; i < NB; i++)
		g->free[g->nfree++] = i;
	post_free(g);
	/* The shadow keeps 32 beyond the ring, and says so in rx_ring. */
	assert_int_equal(NB - g->nfree, RING + 32);
	assert_int_equal(lobo_port_info(g->p)->rx_ring, RING + 32);
	g->refill = true;
}

static uint64_t sysfs(const char *what)
{
	char path[128];
	unsigned long long v = 0;
	snprintf(path, sizeof path, "/sys/class/net/lsh0/%s", what);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

/* An AF_PACKET socket on sv1, in the peer's namespace. */
static int peer_socket(void)
{
	char path[64];
	int self = open("/proc/self/ns/net", O_RDONLY), fd;
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)peer);
	int other = open(path, O_RDONLY);
	assert_int_equal(setns(other, CLONE_NEWNET), 0);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("sv1")};
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof sll), 0);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(other);
	return fd;
}

static void peer_send(int fd, const uint8_t dst[6], uint16_t type, int n)
{
	uint8_t frame[60] = {0};
	memcpy(frame, dst, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x42", 6);
	frame[12] = (uint8_t)(type >> 8), frame[13] = (uint8_t)type;
	for (int i = 0; i < n; i++)
		assert_int_equal(send(fd, frame, sizeof frame, 0), sizeof frame);
}

/* The kernel answers ping and ARP on the shadow's address both ways; the
 * program never sees what went to the kernel, nor the shadow's buffers. */
static void ping_and_arp(void **state)
{
	(void)state;
	need_root();
	struct prog g;
	char line[256];
	open_shadowed(&g, "");
	const struct lobo_port_info *info = lobo_port_info(g.p);
	assert_string_equal(info->shadow, "lsh0");
	assert_int_equal(sysfs("mtu"), 1500);
	run_for(&g, 0.3); /* sv0 may have come up just now: its carrier follows within 0.1 s */
	assert_int_equal(sysfs("carrier"), 1);
	FILE *f = fopen("/sys/class/net/lsh0/address", "r");
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	char want[32];
	snprintf(want, sizeof want, "%02x:%02x:%02x:%02x:%02x:%02x\n", info->mac[0], info->mac[1], info->mac[2],
		 info->mac[3], info->mac[4], info->mac[5]);
	assert_string_equal(line, want);
	sh("ip link show lsh0 | grep -q 'alias lobo afpacket:sv0?rx_ring=16&tx_ring=16 (afpacket): port counters in lobo top'");
	/* sv0 is a kernel interface with the same address: move the shadow off it. */
	sh("ip link set lsh0 address 02:00:00:00:5e:01 && ip addr add 10.9.0.1/24 dev lsh0");
	run_for(&g, 0.2);
	assert_memory_equal(rec.mac, shadow_mac, 6);

	assert_int_equal(run_while(&g, "nsenter -t %d -n ping -c 3 -i 0.2 -W 2 10.9.0.1 > /dev/null", (int)peer), 0);
	assert_int_equal(run_while(&g, "nsenter -t %d -n ip neigh show 10.9.0.1 | grep -q 02:00:00:00:5e:01", (int)peer), 0);
	/* Forget the peer, so that the kernel must ask for it through the shadow. */
	sh("ip neigh flush dev lsh0");
	assert_int_equal(run_while(&g, "ping -c 2 -i 0.2 -W 2 -I lsh0 10.9.0.2 > /dev/null"), 0);
	char mac[32] = "", cmd[128];
	snprintf(cmd, sizeof cmd, "nsenter -t %d -n ip -o link show sv1", (int)peer);
	FILE *ip = popen(cmd, "r");
	assert_non_null(fgets(line, sizeof line, ip));
	pclose(ip);
	assert_int_equal(sscanf(strstr(line, "link/ether "), "link/ether %31s", mac), 1);
	assert_int_equal(run_while(&g, "ip neigh show 10.9.0.2 dev lsh0 | grep -q 'lladdr %s'", mac), 0);

	struct lobo_counters c;
	lobo_port_counters_sum(g.p, &c);
	assert_true(c.exception_rx >= 5 && c.exception_tx >= 5);
	assert_int_equal(c.exception_rx_dropped + c.exception_tx_dropped, 0);
	assert_int_equal(sysfs("statistics/rx_packets"), c.exception_rx); /* ip -s link: what crossed the shadow */
	assert_int_equal(sysfs("statistics/tx_packets"), c.exception_tx);
	assert_int_equal(g.to_shadow, 0);
	assert_true(g.got >= 1); /* the peer's broadcast ARP: a copy for the program too */
	assert_int_equal(g.reclaimed, 0);
	lobo_port_close(g.p);
	open_port = NULL;
	assert_int_equal(if_nametoindex("lsh0"), 0);
}

/* A diverted frame's buffer goes back to the ring: after 40 diverted frames
 * and no refill, the ring still receives RING frames for the program. */
static void ring_keeps_its_buffers(void **state)
{
	(void)state;
	need_root();
	struct prog g;
	open_shadowed(&g, "");
	g.refill = false;
	sh("ip link set lsh0 address 02:00:00:00:5e:01");
	run_for(&g, 0.2);
	int fd = peer_socket();
	peer_send(fd, shadow_mac, 0x88b5, 40);
	run_for(&g, 0.3);
	struct lobo_counters c;
	lobo_port_counters_sum(g.p, &c);
	assert_int_equal(c.exception_rx, 40);
	assert_int_equal(g.got, 0);
	peer_send(fd, (const uint8_t *)"\x02\x00\x00\x00\x00\x77", 0x88b5, RING);
	run_for(&g, 0.3);
	assert_int_equal(g.got, RING);
	/* A diverted frame's buffer the ring refuses (its MTU grew past it) is the
	 * program's again, flagged: the frame is counted once, as diverted. */
	post_free(&g);
	rec.refuse_post = 1;
	peer_send(fd, shadow_mac, 0x88b5, 3);
	run_for(&g, 0.3);
	assert_int_equal(g.got, RING + 3);
	lobo_port_counters_sum(g.p, &c);
	assert_int_equal(c.exception_rx, 43);
	assert_int_equal(c.rx_packets, 40 + RING + 3);
	assert_int_equal(c.rx_errors, 0);
	close(fd);
	lobo_port_close(g.p);
	open_port = NULL;
}

/* What the operator changes with ip reaches the NIC; a refusal is set back;
 * down stops the port's traffic; the carrier follows the link. */
static void control(void **state)
{
	(void)state;
	need_root();
	struct prog g;
	open_shadowed(&g, "");
	run_for(&g, 0.1);
	/* The fd to poll: quiet until something changes on lsh0. */
	int fd = lobo_port_fd(g.p);
	struct epoll_event ev;
	assert_true(fd >= 0);
	assert_int_equal(epoll_wait(fd, &ev, 1, 0), 0);
	sh("ip link set lsh0 promisc off && ip link set lsh0 allmulticast on && ip link set lsh0 mtu 1400");
	assert_int_equal(epoll_wait(fd, &ev, 1, 1000), 1);
	run_for(&g, 0.2);
	assert_int_equal(rec.promisc, 0);
	assert_int_equal(rec.allmulti, 1);
	assert_int_equal(rec.mtu, 1400);
	assert_int_equal(g.service_rc, 0);

	rec.refuse_mtu = 1300;
	sh("ip link set lsh0 mtu 1300");
	run_for(&g, 0.2);
	assert_int_equal(g.service_rc, -EIO);
	assert_non_null(strstr(g.err, "shadow lsh0: the NIC cannot take this MTU (test: no MTU 1300): set back on lsh0"));
	assert_int_equal(sysfs("mtu"), 1400);
	g.service_rc = 0;

	sh("ip link set lsh0 allmulticast off && ip addr add 239.1.2.3/32 dev lsh0 autojoin");
	run_for(&g, 0.3);
	assert_int_equal(rec.allmulti, 0);
	bool joined = false;
	for (int i = 0; i < rec.nmc; i++)
		joined |= !memcmp(rec.mc[i], "\x01\x00\x5e\x01\x02\x03", 6);
	assert_true(joined);

	/* An application's join shows only as the IGMP report the kernel sends
	 * through lsh0 (no rtnetlink message): the list follows all the same. */
	sh("ip addr add 10.9.0.1/24 dev lsh0");
	run_for(&g, 0.2);
	pid_t app = fork();
	if (app == 0) {
		execlp("python3", "python3", "-c",
		       "import socket, struct, time\n"
		       "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		       "s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack('4s4si',"
		       " socket.inet_aton('239.9.9.9'), socket.inet_aton('0.0.0.0'), socket.if_nametoindex('lsh0')))\n"
		       "time.sleep(3)\n", (char *)NULL);
		_exit(127);
	}
	joined = false;
	for (int tries = 0; tries < 20 && !joined; tries++) {
		run_for(&g, 0.1);
		for (int i = 0; i < rec.nmc; i++)
			joined |= !memcmp(rec.mc[i], "\x01\x00\x5e\x09\x09\x09", 6);
	}
	kill(app, SIGKILL);
	waitpid(app, NULL, 0);
	assert_true(joined);

	fd = peer_socket();
	struct lobo_frame one = {.data = rxb[0], .len = 60};
	sh("ip link set lsh0 down");
	run_for(&g, 0.2);
	assert_int_equal(lobo_tx_post(g.p, 0, &one, 1), 0);
	uint32_t got = g.got;
	struct lobo_counters before = *lobo_port_counters(g.p, 0);
	peer_send(fd, (const uint8_t *)"\x02\x00\x00\x00\x00\x77", 0x88b5, 5);
	run_for(&g, 0.2);
	assert_int_equal(g.got, got);
	assert_int_equal(lobo_port_counters(g.p, 0)->rx_dropped, 5);
	assert_int_equal(lobo_port_counters(g.p, 0)->rx_packets, before.rx_packets); /* each frame counted once */
	assert_int_equal(lobo_port_counters(g.p, 0)->rx_bytes, before.rx_bytes);
	sh("ip link set lsh0 up");
	run_for(&g, 0.2);
	peer_send(fd, (const uint8_t *)"\x02\x00\x00\x00\x00\x77", 0x88b5, 5);
	run_for(&g, 0.2);
	assert_int_equal(g.got, got + 5);
	close(fd);

	sh("nsenter -t %d -n ip link set sv1 down", (int)peer);
	run_for(&g, 0.5);
	assert_int_equal(sysfs("carrier"), 0);
	sh("nsenter -t %d -n ip link set sv1 up", (int)peer);
	run_for(&g, 0.5);
	assert_int_equal(sysfs("carrier"), 1);
	sh("ip link del lsh0");
	run_for(&g, 0.1);
	assert_int_equal(g.service_rc, -ENODEV);
	assert_string_equal(g.err, "shadow lsh0 was deleted: the port runs on without it");
	lobo_port_close(g.p);
	open_port = NULL;
}

/* A pcap filter replaces the default choice. */
static void filter(void **state)
{
	(void)state;
	need_root();
	struct prog g;
	open_shadowed(&g, "ether proto 0x88b6");
	int fd = peer_socket();
	peer_send(fd, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x0806, 3); /* ARP: not chosen now */
	peer_send(fd, (const uint8_t *)"\x02\x00\x00\x00\x00\x77", 0x88b6, 4);
	run_for(&g, 0.3);
	struct lobo_counters c;
	lobo_port_counters_sum(g.p, &c);
	assert_int_equal(c.exception_rx, 4);
	assert_int_equal(g.got, 3);
	close(fd);
	lobo_port_close(g.p);
	open_port = NULL;
}

static void bad_attach(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "afpacket:sv0", NULL, err), 0);
	open_port = p;
	assert_int_equal(lobo_shadow_attach(p, "lsh0", "ether proto", err), -EINVAL);
	assert_non_null(strstr(err, "shadow: bad exception filter 'ether proto'"));
	assert_int_equal(lobo_shadow_attach(p, "sv0", "", err), -EEXIST);
	assert_string_equal(err, "shadow: interface 'sv0' exists already: pick another name, or `ip link del sv0`");
	assert_int_equal(lobo_shadow_attach(p, "a-name-far-too-long", "", err), -EINVAL);
	assert_null(p->shadow);
	assert_int_equal(lobo_port_fd(p), -1);
	assert_int_equal(if_nametoindex("lsh0"), 0);
	lobo_port_close(p);
	open_port = NULL;
	assert_int_equal(lobo_port_open(&p, "afpacket:sv0?shadow=lsh0", NULL, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option 'shadow' for afpacket"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(ping_and_arp, close_port),
		cmocka_unit_test_teardown(ring_keeps_its_buffers, close_port),
		cmocka_unit_test_teardown(control, close_port),
		cmocka_unit_test_teardown(filter, close_port),
		cmocka_unit_test_teardown(bad_attach, close_port),
	};
	return cmocka_run_group_tests(tests, netns_setup, netns_teardown);
}
