/* afpacket: two ports on the ends of a veth pair in a private network
 * namespace (so nothing else talks on it), frames checked byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "testing.h"

#include "port.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define N 256
static uint8_t txb[N][1536], rxb[N][2048];

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("`%s` failed", cmd);
}

/* A fresh namespace with kpa0 <-> kpa1; IPv6 off so no router solicitations. */
static int netns_setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && "
		      "ip link add kpa0 type veth peer name kpa1 && ip link set kpa0 up && ip link set kpa1 up");
}

static uint16_t send_all(struct lobo_port *p, struct lobo_frame *f, uint16_t n)
{
	struct lobo_frame done[N];
	uint16_t sent = 0;
	for (int tries = 0; sent < n && tries < 10000; tries++) {
		sent += lobo_tx_post(p, 0, f + sent, n - sent);
		lobo_tx_reclaim(p, 0, done, N);
	}
	return sent;
}

/* Polls queues 0..queues-1 until n frames came or 0.5 s (500 retire timeouts) passed. */
static uint16_t recv_all(struct lobo_port *p, uint16_t queues, struct lobo_frame *out, uint16_t n)
{
	uint16_t got = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (uint16_t q = 0; q < queues; q++)
			got += lobo_rx_poll(p, q, out + got, n - got);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (got < n && (t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 500000000L);
	return got;
}

static void post_rx(struct lobo_port *p, uint16_t q, uint32_t first, uint32_t n, uint32_t cap)
{
	struct lobo_frame f[N];
	for (uint32_t i = 0; i < n; i++)
		f[i] = (struct lobo_frame){.data = rxb[first + i], .len = cap, .tag = first + i};
	assert_int_equal(lobo_rx_post(p, q, f, (uint16_t)n), n);
}

/* Frame i: to `dst`, random length, every 8th tagged 802.1Q, every 32nd 802.1ad. */
static struct lobo_frame make_frame(int i, const uint8_t *dst, uint32_t len)
{
	uint8_t *b = txb[i];
	memcpy(b, dst, 6);
	memcpy(b + 6, "\x02\x00\x00\x00\x00\x01", 6);
	for (uint32_t k = 12; k < len; k++)
		b[k] = (uint8_t)rand();
	b[12] = 0x88, b[13] = 0xb5; /* local experimental EtherType */
	if (i % 8 == 7)
		memcpy(b + 12, i % 32 == 31 ? "\x88\xa8" : "\x81\x00", 2), b[16] = 0x88, b[17] = 0xb5;
	return (struct lobo_frame){.data = b, .len = len, .tag = (uint64_t)i};
}

static void round_trip(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a, *b;
	struct lobo_frame f[N], out[N];
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0", NULL, err), 0);
	assert_int_equal(lobo_port_open(&b, "afpacket:kpa1?rx_ring=64&tx_ring=64", NULL, err), 0);
	const struct lobo_port_info *ia = lobo_port_info(a);
	assert_int_equal(ia->max_frame, 1518);
	assert_true(ia->link_up);
	post_rx(a, 0, 0, N, sizeof rxb[0]);
	uint64_t bytes = 0;
	for (int i = 0; i < N; i++) {
		uint32_t len = 60 + (uint32_t)rand() % (1514 - 60 + 1);
		if (i % 8 == 7 && i < 16)
			len = 1518; /* the largest tagged frame */
		f[i] = make_frame(i, ia->mac, i == 0 ? 60 : i == 1 ? 1514 : len);
		bytes += f[i].len;
	}
	assert_int_equal(send_all(b, f, N), N);
	assert_int_equal(recv_all(a, 1, out, N), N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(out[i].tag, i);
		assert_ptr_equal(out[i].data, rxb[i]);
		assert_int_equal(out[i].len, f[i].len);
		assert_memory_equal(out[i].data, f[i].data, f[i].len);
	}
	struct lobo_counters ca, cb;
	lobo_port_counters_sum(a, &ca);
	lobo_port_counters_sum(b, &cb);
	assert_int_equal(ca.rx_packets, N);
	assert_int_equal(ca.rx_bytes, bytes);
	assert_int_equal(ca.copies, N);
	assert_int_equal(ca.rx_errors + ca.rx_dropped + ca.tx_packets, 0);
	assert_int_equal(cb.tx_packets, N);
	assert_int_equal(cb.tx_bytes, bytes);
	assert_int_equal(cb.copies, N);
	lobo_port_close(a);
	lobo_port_close(b);
}

/* Frames too large for a buffer or the MTU are counted, never written past. */
static void oversize(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a, *b;
	struct lobo_frame f[4], out[4];
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0", NULL, err), 0);
	assert_int_equal(lobo_port_open(&b, "afpacket:kpa1", NULL, err), 0);
	post_rx(a, 0, 0, 1, 100);
	memset(rxb[0], 0xee, sizeof rxb[0]);
	f[0] = make_frame(0, lobo_port_info(a)->mac, 1000); /* > the 100-byte buffer */
	f[1] = make_frame(1, lobo_port_info(a)->mac, 1518); /* untagged: > MTU + 14 */
	f[2] = make_frame(2, lobo_port_info(a)->mac, 13);   /* < an Ethernet header */
	f[3] = make_frame(3, lobo_port_info(a)->mac, 60);
	assert_int_equal(send_all(b, f, 4), 4);
	assert_int_equal(recv_all(a, 1, out, 2), 1);
	assert_int_equal(out[0].len, 60);
	assert_memory_equal(out[0].data, f[3].data, 60);
	assert_int_equal(rxb[0][100], 0xee);
	assert_int_equal(lobo_port_counters(a, 0)->rx_dropped, 1); /* no room: not damaged */
	assert_int_equal(lobo_port_counters(a, 0)->rx_errors, 0);
	assert_int_equal(lobo_port_counters(b, 0)->tx_errors, 2);
	assert_int_equal(lobo_port_counters(b, 0)->tx_packets, 2);
	lobo_port_close(a);
	lobo_port_close(b);
}

/* With no buffers posted the kernel ring overflows: every frame is either
 * received later or counted as dropped. */
static void drops_counted(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a, *b;
	struct lobo_frame f[N], out[N];
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0?rx_ring=8", NULL, err), 0);
	assert_int_equal(lobo_port_open(&b, "afpacket:kpa1", NULL, err), 0);
	for (int i = 0; i < N; i++)
		f[i] = make_frame(0, lobo_port_info(a)->mac, 1000);
	assert_int_equal(send_all(b, f, N), N);
	usleep(20000);
	struct lobo_counters *c = lobo_port_counters(a, 0);
	lobo_port_info(a); /* counts nothing: the queue's own calls are its one writer */
	assert_int_equal(c->rx_dropped, 0);
	uint32_t got = 0;
	for (uint16_t n = 8; n == 8; got += n) { /* rx_ring=8 buffers at a time */
		post_rx(a, 0, 0, 8, sizeof rxb[0]);
		n = recv_all(a, 1, out, 8);
	}
	poll_for_kernel_stats(a);
	assert_true(c->rx_dropped > 0);
	assert_int_equal(got + c->rx_dropped, N);
	lobo_port_close(a);
	lobo_port_close(b);
}

/* With the peer down the kernel refuses to send (ENOBUFS): those frames are
 * counted as dropped, not sent, and never go out later; once the peer is up
 * again frames flow and are counted as sent. */
static void refused_frames_dropped(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a, *b;
	struct lobo_frame f[8], out[16];
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0", NULL, err), 0);
	assert_int_equal(lobo_port_open(&b, "afpacket:kpa1", NULL, err), 0);
	post_rx(b, 0, 0, 16, sizeof rxb[0]);
	sh("ip link set kpa1 down");
	for (int i = 0; i < 8; i++)
		f[i] = make_frame(i, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 100);
	assert_int_equal(send_all(a, f, 8), 8);
	struct lobo_counters *c = lobo_port_counters(a, 0);
	assert_int_equal(c->tx_dropped, 8);
	assert_int_equal(c->tx_packets, 0);
	assert_int_equal(c->tx_bytes, 0);
	sh("ip link set kpa1 up");
	for (int tries = 0; !lobo_port_info(a)->link_up && tries < 300; tries++)
		usleep(10000);
	assert_int_equal(send_all(a, f, 4), 4);
	assert_int_equal(recv_all(b, 1, out, 16), 4);
	assert_int_equal(c->tx_packets, 4);
	assert_int_equal(c->tx_bytes, 400);
	assert_int_equal(c->tx_dropped, 8);
	lobo_port_close(a);
	lobo_port_close(b);
}

/* queues=2 joins one fanout group: every frame arrives exactly once, flows spread. */
static void fanout(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a, *b, *c;
	struct lobo_frame f[N], out[N];
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0?queues=2", NULL, err), 0);
	assert_int_equal(lobo_port_info(a)->queues, 2);
	assert_non_null(strstr(lobo_port_info(a)->mode, "fanout"));
	assert_int_equal(lobo_port_open(&b, "afpacket:kpa1?fanout=4242", NULL, err), 0);
	assert_int_equal(lobo_port_open(&c, "afpacket:kpa1?fanout=4242&queues=3", NULL, err), 0);
	lobo_port_close(c);
	post_rx(a, 0, 0, N / 2, sizeof rxb[0]);
	post_rx(a, 1, N / 2, N / 2, sizeof rxb[0]);
	for (int i = 0; i < N / 2; i++) { /* IPv4/UDP, one flow per frame */
		f[i] = make_frame(i, lobo_port_info(a)->mac, 60);
		memcpy(txb[i] + 12, "\x08\x00\x45\x00\x00\x2e\x00\x00\x40\x00\x40\x11\x00\x00"
			"\x0a\x00\x00\x01\x0a\x00\x00\x02", 22);
		txb[i][34] = (uint8_t)i, txb[i][35] = (uint8_t)(i * 7);
	}
	assert_int_equal(send_all(b, f, N / 2), N / 2);
	assert_int_equal(recv_all(a, 2, out, N), N / 2);
	assert_true(lobo_port_counters(a, 0)->rx_packets > 0);
	assert_true(lobo_port_counters(a, 1)->rx_packets > 0);
	lobo_port_close(a);
	lobo_port_close(b);
}

/* Numbered frames from a raw socket on kpa1 until killed (or orphaned). */
static pid_t flood(void)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(30);
	uint8_t fr[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("kpa1")};
	for (uint32_t seq = 0; fd >= 0; seq++) { /* until killed */
		memcpy(fr + 14, &seq, sizeof seq);
		if (sendto(fd, fr, sizeof fr, 0, (struct sockaddr *)&sll, sizeof sll) < 0 && errno != ENOBUFS)
			break;
	}
	_exit(1);
}

/* Until a socket has joined the fanout group it must not take frames itself:
 * the group delivers them too, so they would come twice. */
static void no_duplicates_while_opening(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	static uint8_t seen[1u << 24];
	struct lobo_port *a;
	struct lobo_frame out[N];
	memset(seen, 0, sizeof seen);
	pid_t pid = flood();
	uint32_t dups = 0, got = 0;
	for (int round = 0; round < 10; round++) {
		assert_int_equal(lobo_port_open(&a, "afpacket:kpa0?queues=4&rx_ring=64", NULL, err), 0);
		for (uint16_t q = 0; q < 4; q++)
			post_rx(a, q, q * 64u, 64, sizeof rxb[0]);
		for (int polls = 0; polls < 2000; polls++) {
			for (uint16_t q = 0; q < 4; q++) {
				uint16_t n = lobo_rx_poll(a, q, out, N);
				for (uint16_t i = 0; i < n; i++) {
					uint32_t seq;
					memcpy(&seq, out[i].data + 14, sizeof seq);
					dups += seen[seq & ((1u << 24) - 1)]++ > 0;
					out[i].len = sizeof rxb[0];
				}
				assert_int_equal(lobo_rx_post(a, q, out, n), n);
				got += n;
			}
		}
		lobo_port_close(a);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(got > 1000);
	assert_int_equal(dups, 0);
}

static void link_state(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *a;
	sh("ip link set kpa0 down");
	assert_int_equal(lobo_port_open(&a, "afpacket:kpa0", NULL, err), 0); /* down is fine */
	assert_false(lobo_port_info(a)->link_up);
	sh("ip link set kpa0 up");
	for (int tries = 0; !lobo_port_info(a)->link_up && tries < 300; tries++)
		usleep(10000); /* the kernel's linkwatch sets the operational state a little later */
	assert_true(lobo_port_info(a)->link_up);
	assert_int_equal(lobo_port_info(a)->mac[0] & 1, 0);
	lobo_port_close(a);
}

static void bad_open(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "afpacket:nosuch9", NULL, err), -ENODEV);
	assert_string_equal(err, "afpacket: no interface 'nosuch9': check `ip link`");
	assert_int_equal(lobo_port_open(&p, "afpacket:lo?fanout=x", NULL, err), -EINVAL);
	assert_non_null(strstr(err, "fanout=ID"));
	assert_int_equal(lobo_port_open(&p, "afpacket:lo?mtu=9000", NULL, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option 'mtu'"));
	assert_null(p);
}

/* As nobody the open fails with one line saying how to get the right. */
static void unprivileged(void **state)
{
	(void)state;
	open_fails_unprivileged("afpacket:kpa0", -EPERM, "run as root or grant CAP_NET_RAW");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(oversize),
		cmocka_unit_test(drops_counted),
		cmocka_unit_test(refused_frames_dropped),
		cmocka_unit_test(fanout),
		cmocka_unit_test(no_duplicates_while_opening),
		cmocka_unit_test(link_state),
		cmocka_unit_test(unprivileged),
		cmocka_unit_test(bad_open),
	};
	return cmocka_run_group_tests(tests, netns_setup, NULL);
}
