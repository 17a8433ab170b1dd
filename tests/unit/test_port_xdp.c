/* xdp: ports on a veth pair: tpxdp0 here (in a private network namespace the
 * test process unshares into), tpxdp1 in the named namespace tpxdp-peer, where
 * the test sends and receives with AF_PACKET, UDP and ping. Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "testing.h"

#ifdef LOBO_HAVE_XDP
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PEER_NS "tpxdp-peer"
#define BUF 2048u
#define NBUF 1024u
#define ETYPE 0x88b5 /* IEEE local experimental: nothing else sends it */

static struct lobo_mem mem;
static struct lobo_port *p; /* the test's port: closed by close_port even when an assert fails */

static int sh(const char *cmd)
{
	char full[512];
	snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
	return system(full);
}

static int setup(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot unshare a network namespace: %s\n", strerror(errno));
		return -1;
	}
	sh("ip netns del " PEER_NS);
	if (sh("ip link add tpxdp0 numtxqueues 2 numrxqueues 2 type veth peer name tpxdp1 numtxqueues 2 numrxqueues 2") ||
	    sh("ip netns add " PEER_NS) || sh("ip link set tpxdp1 netns " PEER_NS) ||
	    sh("sysctl -qw net.ipv6.conf.tpxdp0.disable_ipv6=1") ||
	    sh("ip addr add 10.199.0.1/24 dev tpxdp0") || sh("ip link set tpxdp0 up") ||
	    sh("ip netns exec " PEER_NS " sh -c 'sysctl -qw net.ipv6.conf.tpxdp1.disable_ipv6=1 && "
	       "ip addr add 10.199.0.2/24 dev tpxdp1 && ip link set tpxdp1 up'")) {
		fprintf(stderr, "cannot set up the veth pair tpxdp0/tpxdp1: are iproute2 and veth available?\n");
		return -1;
	}
	return lobo_mem_alloc(&mem, NBUF * BUF, err);
}

static int close_port(void **state)
{
	(void)state;
	lobo_port_close(p);
	p = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("ip netns del " PEER_NS);
	lobo_mem_free(&mem);
	return 0;
}

/* A socket of the given kind opened inside the peer namespace. */
static int peer_socket(int domain, int type, int proto)
{
	int self = open("/proc/self/ns/net", O_RDONLY), peer = open("/run/netns/" PEER_NS, O_RDONLY);
	assert_true(self >= 0 && peer >= 0);
	assert_int_equal(setns(peer, CLONE_NEWNET), 0);
	int fd = socket(domain, type | SOCK_NONBLOCK, proto);
	if (domain == AF_PACKET) {
		struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETYPE),
					 .sll_ifindex = (int)if_nametoindex("tpxdp1")};
		int big = 8 << 20;
		assert_int_equal(bind(fd, (struct sockaddr *)&ll, sizeof ll), 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
	}
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(peer);
	assert_true(fd >= 0);
	return fd;
}

/* Frame `seq`: to `dst`, ETYPE, seq in bytes 14..17, then bytes from rand(). */
static uint32_t make_frame(uint8_t *f, uint32_t seq, const uint8_t *dst)
{
	uint32_t len = 60 + (uint32_t)rand() % (1514 - 60 + 1);
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01\x88\xb5", 8);
	memcpy(f + 14, &seq, 4);
	for (uint32_t i = 18; i < len; i++)
		f[i] = (uint8_t)rand();
	return len;
}

static uint8_t *buf(uint32_t i) { return mem.base + (size_t)i * BUF; }

static void post_all(struct lobo_port *port, uint16_t queues, uint32_t first, uint32_t count)
{
	struct lobo_frame f[NBUF];
	for (uint32_t i = 0; i < count; i++)
		f[i] = (struct lobo_frame){.data = buf(first + i), .len = BUF, .tag = first + i};
	for (uint16_t q = 0; q < queues; q++)
		assert_int_equal(lobo_rx_post(port, q, f + q * count / queues, (uint16_t)(count / queues)), count / queues);
}

/* Polls all queues for ETYPE frames until `want` arrived or 3 s passed; checks
 * each against `sent` (seq -> frame) and that it lies in its tagged buffer. */
static uint32_t receive(struct lobo_port *port, uint16_t queues, uint32_t want, uint8_t (*sent)[1514], uint32_t *lens)
{
	uint32_t got = 0;
	for (int spin = 0; got < want && spin < 3000; spin++) {
		for (uint16_t q = 0; q < queues; q++) {
			struct lobo_frame f[64];
			uint16_t n = lobo_rx_poll(port, q, f, 64);
			for (uint16_t i = 0; i < n; i++) {
				uint32_t seq;
				assert_true(f[i].data >= buf((uint32_t)f[i].tag) && f[i].data + f[i].len <= buf((uint32_t)f[i].tag) + BUF);
				if (f[i].len < 18 || f[i].data[12] != 0x88 || f[i].data[13] != 0xb5)
					continue;
				memcpy(&seq, f[i].data + 14, 4);
				assert_true(seq < want);
				assert_int_equal(f[i].len, lens[seq]);
				assert_memory_equal(f[i].data, sent[seq], lens[seq]);
				got++;
			}
			for (uint16_t i = 0; i < n; i++) /* give the buffer back */
				f[i] = (struct lobo_frame){.data = buf((uint32_t)f[i].tag), .len = BUF, .tag = f[i].tag};
			assert_int_equal(lobo_rx_post(port, q, f, n), n);
		}
		usleep(1000);
	}
	return got;
}

static uint8_t sent[256][1514];
static uint32_t lens[256];

/* state: {uri, the mode it must report} */
static void round_trip(void **state)
{
	const char *const *want = *state;
	char err[LOBO_ERR_LEN];
	const uint32_t n = 256;
	srand((unsigned)time(NULL));
	assert_int_equal(lobo_port_open(&p, want[0], &mem, err), 0);
	const struct lobo_port_info *info = lobo_port_info(p);
	assert_int_equal(info->queues, 2);
	assert_string_equal(info->mode, want[1]);
	assert_int_equal(info->max_frame, 1514);
	post_all(p, 2, 0, 512); /* 256 a queue: veth may hash every frame to one */

	/* peer -> lobo */
	int pk = peer_socket(AF_PACKET, SOCK_RAW, htons(ETYPE));
	for (uint32_t s = 0; s < n; s++) {
		lens[s] = make_frame(sent[s], s, info->mac);
		assert_int_equal(send(pk, sent[s], lens[s], 0), (ssize_t)lens[s]);
	}
	assert_int_equal(receive(p, 2, n, sent, lens), n);

	/* lobo -> peer, alternating queues, from buffers 512.. */
	uint32_t posted = 0, reclaimed = 0, got = 0;
	for (int spin = 0; (reclaimed < n || got < n) && spin < 3000; spin++) {
		for (uint16_t q = 0; q < 2 && posted < n; q++) {
			struct lobo_frame f = {.data = buf(512 + posted), .tag = 512 + posted};
			lens[posted] = make_frame(sent[posted], posted, (const uint8_t *)"\xff\xff\xff\xff\xff\xff");
			memcpy(f.data, sent[posted], lens[posted]);
			f.len = lens[posted];
			posted += lobo_tx_post(p, q, &f, 1);
		}
		for (uint16_t q = 0; q < 2; q++) {
			struct lobo_frame done[64];
			uint16_t k = lobo_tx_reclaim(p, q, done, 64);
			for (uint16_t i = 0; i < k; i++)
				assert_ptr_equal(done[i].data, buf((uint32_t)done[i].tag));
			reclaimed += k;
		}
		uint8_t frame[2048];
		ssize_t len;
		while ((len = recv(pk, frame, sizeof frame, 0)) > 0) {
			uint32_t seq;
			memcpy(&seq, frame + 14, 4);
			assert_true(seq < n);
			assert_int_equal(len, lens[seq]);
			assert_memory_equal(frame, sent[seq], lens[seq]);
			got++;
		}
		usleep(500);
	}
	assert_int_equal(reclaimed, n);
	assert_int_equal(got, n);

	/* A frame outside the UMEM is taken, counted once (tx_errors) and handed
	 * back; a short rx buffer is refused. */
	uint8_t outside[64] = {0};
	struct lobo_frame bad[2] = {{.data = outside, .len = sizeof outside, .tag = 77},
				    {.data = buf(601), .len = 2 * BUF, .tag = 78}}, back[4];
	assert_int_equal(lobo_tx_post(p, 0, bad, 2), 2);
	assert_int_equal(lobo_tx_reclaim(p, 0, back, 4), 2);
	assert_int_equal(back[0].tag, 77);
	assert_int_equal(back[1].tag, 78);
	bad[0] = (struct lobo_frame){.data = buf(600), .len = 1024};
	assert_int_equal(lobo_rx_post(p, 0, bad, 1), 0);
	struct lobo_counters sum;
	lobo_port_counters_sum(p, &sum);
	assert_int_equal(sum.tx_packets, n);
	assert_int_equal(sum.tx_errors, 2);
	assert_int_equal(sum.tx_dropped, 0);
	assert_true(sum.rx_packets >= n);
	close(pk);
}

/* Frames that find no posted buffer are counted, from XDP_STATISTICS. */
static void drops_counted(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	assert_int_equal(lobo_port_open(&p, "xdp:tpxdp0?queues=2", &mem, err), 0);
	post_all(p, 2, 0, 8);
	int pk = peer_socket(AF_PACKET, SOCK_RAW, htons(ETYPE));
	for (uint32_t s = 0; s < 64; s++) {
		lens[s] = make_frame(sent[s], s, lobo_port_info(p)->mac);
		assert_int_equal(send(pk, sent[s], lens[s], 0), (ssize_t)lens[s]);
	}
	close(pk);
	usleep(100000);
	struct lobo_frame f[64];
	uint32_t got = lobo_rx_poll(p, 0, f, 64) + lobo_rx_poll(p, 1, f, 64);
	assert_int_equal(lobo_rx_poll(p, 2, f, 64), 0); /* no queue 2: nothing, and no crash */
	assert_int_equal(lobo_tx_post(p, 2, f, 1), 0);
	assert_in_range(got, 4, 8); /* one queue may take every frame */
	struct lobo_counters sum;
	lobo_port_info(p); /* counts nothing: the queue's own calls are its one writer */
	lobo_port_counters_sum(p, &sum);
	assert_int_equal(sum.rx_dropped, 0);
	poll_for_kernel_stats(p);
	lobo_port_counters_sum(p, &sum);
	assert_int_equal(sum.rx_packets, got);
	assert_int_equal(sum.rx_dropped, 64 - got);
}

static int ping_peer_to_us(void)
{
	return sh("ip netns exec " PEER_NS " ping -c 2 -i 0.2 -W 1 10.199.0.1");
}

/* ?kernel=arp,icmp: the host answers ping on tpxdp0 while lobo takes UDP. */
static void steering(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	assert_int_equal(lobo_port_open(&p, "xdp:tpxdp0?queues=2", &mem, err), 0);
	post_all(p, 2, 0, 256);
	sh("ip netns exec " PEER_NS " ip neigh flush dev tpxdp1");
	assert_int_not_equal(ping_peer_to_us(), 0); /* without steering lobo takes ARP and ping too */
	lobo_port_close(p);

	/* UDP flows hash onto either veth queue: take both, or some go to the host */
	assert_int_equal(lobo_port_open(&p, "xdp:tpxdp0?queues=2&kernel=arp,icmp", &mem, err), 0);
	post_all(p, 2, 0, 256);
	assert_int_equal(ping_peer_to_us(), 0);
	int udp = peer_socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9999)};
	inet_pton(AF_INET, "10.199.0.1", &to.sin_addr);
	for (int i = 0; i < 20; i++)
		assert_int_equal(sendto(udp, "lobo-udp", 8, 0, (struct sockaddr *)&to, sizeof to), 8);
	int got = 0;
	for (int spin = 0; got < 20 && spin < 2000; spin++) {
		struct lobo_frame f[32];
		for (uint16_t q = 0; q < 2; q++) {
			uint16_t n = lobo_rx_poll(p, q, f, 32);
			for (uint16_t i = 0; i < n; i++)
				got += f[i].len == 14 + 20 + 8 + 8 && f[i].data[23] == 17 && !memcmp(f[i].data + 42, "lobo-udp", 8);
		}
		usleep(1000);
	}
	assert_int_equal(got, 20);
	close(udp);
}

/* A lobo killed with SIGKILL leaves its XDP program attached; the next open
 * replaces it, while the owner lives an open is refused, and close detaches. */
static void restart_after_kill(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	if (child == 0) {
		if (lobo_port_open(&p, "xdp:tpxdp0", &mem, err) == 0 && write(ready[1], "1", 1) == 1)
			pause();
		_exit(1);
	}
	char c;
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(lobo_port_open(&p, "xdp:tpxdp0", &mem, err), -EBUSY);
	assert_non_null(strstr(err, "in use by lobo process"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(lobo_port_open(&p, "xdp:tpxdp0?queues=2", &mem, err), 0);
	post_all(p, 2, 0, 128);
	int pk = peer_socket(AF_PACKET, SOCK_RAW, htons(ETYPE));
	uint8_t mac[6];
	memcpy(mac, lobo_port_info(p)->mac, 6);
	for (uint32_t s = 0; s < 8; s++) {
		lens[s] = make_frame(sent[s], s, mac);
		assert_int_equal(send(pk, sent[s], lens[s], 0), (ssize_t)lens[s]);
	}
	assert_int_equal(receive(p, 2, 8, sent, lens), 8);
	lobo_port_close(p);
	p = NULL;
	uint32_t prog_id = 1;
	assert_int_equal(bpf_xdp_query_id((int)if_nametoindex("tpxdp0"), 0, &prog_id), 0);
	assert_int_equal(prog_id, 0);
	close(pk);
	close(ready[0]);
}

static void expect_error(const char *uri, struct lobo_mem *m, const char *words)
{
	char err[LOBO_ERR_LEN] = "";
	assert_true(lobo_port_open(&p, uri, m, err) < 0);
	if (!strstr(err, words))
		fail_msg("%s: got '%s', want '%s'", uri, err, words);
	assert_null(p);
}

static void errors(void **state)
{
	(void)state;
	expect_error("xdp:nosuchif0", &mem, "no interface 'nosuchif0'");
	expect_error("xdp:tpxdp0:2", &mem, "has queues 0..1");
	expect_error("xdp:tpxdp0?queues=3", &mem, "has queues 0..1");
	expect_error("xdp:tpxdp0", NULL, "needs the caller's lobo_mem");
	expect_error("xdp:tpxdp0?kernel=dns", &mem, "kernel= takes arp,icmp");
	expect_error("xdp:tpxdp0:x", &mem, "not IFNAME[:QUEUE]");

	/* Someone else's program, attached without libxdp: r0 = XDP_PASS; exit. */
	const struct bpf_insn pass[] = {{.code = 0xb7, .dst_reg = 0, .imm = XDP_PASS}, {.code = 0x95}};
	int ifindex = (int)if_nametoindex("tpxdp0");
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "other", "GPL", pass, 2, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_xdp_attach(ifindex, fd, 0, NULL), 0);
	expect_error("xdp:tpxdp0", &mem, "attached by someone else");
	assert_int_equal(bpf_xdp_detach(ifindex, 0, NULL), 0);
	close(fd);

	/* Without root: a clear word about permission, not a libbpf dump. */
	pid_t child = fork();
	if (child == 0) {
		char err[LOBO_ERR_LEN] = "";
		if (setuid(65534))
			_exit(2);
		_exit(lobo_port_open(&p, "xdp:tpxdp0", &mem, err) < 0 && strstr(err, "run as root") ? 0 : 1);
	}
	int status;
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skip: xdp tests need root (veth, namespaces, BPF)\n");
		return 77;
	}
	static const char *native[] = {"xdp:tpxdp0?queues=2&rx_ring=256&tx_ring=64", "copy native"};
	static const char *generic[] = {"xdp:tpxdp0?queues=2&rx_ring=256&tx_ring=64&mode=generic", "copy generic"};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(errors, close_port),
		/* veth has native XDP but no zero-copy */
		cmocka_unit_test_prestate_setup_teardown(round_trip, NULL, close_port, native),
		cmocka_unit_test_prestate_setup_teardown(round_trip, NULL, close_port, generic),
		cmocka_unit_test_teardown(drops_counted, close_port),
		cmocka_unit_test_teardown(steering, close_port),
		cmocka_unit_test_teardown(restart_after_kill, close_port),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
#else
int main(void) { return 77; } /* built without libxdp: no xdp: ports to test */
#endif
