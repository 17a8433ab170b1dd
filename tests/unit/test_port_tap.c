/* tap: a port on a TAP device in a private network namespace, the kernel side
 * played by an AF_PACKET socket bound to the same device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "testing.h"

#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 64
static uint8_t txb[N][1536], rxb[N][2048];

static int netns_setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6");
}

/* The kernel's end of the tap: sees what lobo sends, sends what lobo gets. */
static int kernel_socket(const char *ifname)
{
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(ifname)};
	struct timeval tv = {.tv_sec = 1};
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof sll), 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	return fd;
}

static struct lobo_frame make_frame(int i, uint32_t len)
{
	uint8_t *b = txb[i];
	for (uint32_t k = 0; k < len; k++)
		b[k] = (uint8_t)rand();
	memcpy(b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x88\xb5", 14);
	if (i % 8 == 7) /* 802.1Q-tagged */
		memcpy(b + 12, "\x81\x00\x20\x05\x88\xb5", 6);
	return (struct lobo_frame){.data = b, .len = len, .tag = (uint64_t)i};
}

static void post_rx(struct lobo_port *p, uint32_t n, uint32_t cap)
{
	struct lobo_frame f[N];
	for (uint32_t i = 0; i < n; i++)
		f[i] = (struct lobo_frame){.data = rxb[i], .len = cap, .tag = i};
	assert_int_equal(lobo_rx_post(p, 0, f, (uint16_t)n), n);
}

static uint16_t recv_all(struct lobo_port *p, struct lobo_frame *out, uint16_t n)
{
	uint16_t got = 0;
	for (int tries = 0; got < n && tries < 500; tries++, usleep(1000))
		got += lobo_rx_poll(p, 0, out + got, n - got);
	return got;
}

static void created_and_removed(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN], mac[32];
	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "tap:kptap0", NULL, err), 0);
	const struct lobo_port_info *info = lobo_port_info(p);
	assert_non_null(strstr(info->mode, "created"));
	for (int tries = 0; !info->link_up && tries < 300; tries++) /* linkwatch is asynchronous */
		usleep(10000), info = lobo_port_info(p);
	assert_true(info->link_up);
	assert_int_equal(info->max_frame, 1518);
	char line[512], want[32];
	FILE *f = popen("ip -o link show kptap0", "r"); /* sysfs would show the first namespace */
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	pclose(f);
	assert_int_equal(sscanf(strstr(line, "link/ether ") ?: "", "link/ether %17s", mac), 1);
	snprintf(want, sizeof want, "%02x:%02x:%02x:%02x:%02x:%02x", info->mac[0], info->mac[1],
		 info->mac[2], info->mac[3], info->mac[4], info->mac[5]);
	assert_string_equal(mac, want);
	lobo_port_close(p);
	assert_int_equal(if_nametoindex("kptap0"), 0);
}

static void kernel_to_lobo(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	struct lobo_frame f[N], out[N];
	assert_int_equal(lobo_port_open(&p, "tap:kptap2", NULL, err), 0);
	int fd = kernel_socket("kptap2");
	post_rx(p, 1, 100); /* too small for the first frame */
	memset(rxb[0], 0xee, sizeof rxb[0]);
	f[0] = make_frame(0, 1000);
	assert_int_equal(send(fd, f[0].data, f[0].len, 0), 1000);
	for (int i = 1; i < N; i++) {
		f[i] = make_frame(i, i == 1 ? 60 : i == 2 ? 1514 : i == 7 ? 1518 : 60 + (uint32_t)rand() % 1455);
		assert_int_equal(send(fd, f[i].data, f[i].len, 0), f[i].len);
		if (i == 1) { /* arrives in the buffer the first one did not fit */
			assert_int_equal(recv_all(p, out, 1), 1);
			assert_int_equal(out[0].len, 60);
			assert_int_equal(rxb[0][100], 0xee);
			assert_int_equal(lobo_port_counters(p, 0)->rx_dropped, 1); /* no room: not damaged */
			assert_int_equal(lobo_port_counters(p, 0)->rx_errors, 0);
			post_rx(p, N, sizeof rxb[0]);
		}
	}
	assert_int_equal(recv_all(p, out, N - 2), N - 2);
	for (int i = 2; i < N; i++) {
		assert_int_equal(out[i - 2].len, f[i].len);
		assert_memory_equal(out[i - 2].data, f[i].data, f[i].len);
	}
	struct lobo_counters *c = lobo_port_counters(p, 0);
	assert_int_equal(c->rx_packets, N - 1);
	assert_int_equal(c->copies, N - 1);
	close(fd);
	lobo_port_close(p);
}

static void lobo_to_kernel(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	struct lobo_frame f[N + 1], done[N + 1];
	uint8_t got[2048];
	assert_int_equal(lobo_port_open(&p, "tap:kptap3?queues=2", NULL, err), 0);
	assert_int_equal(lobo_port_info(p)->queues, 2);
	int fd = kernel_socket("kptap3");
	for (int i = 0; i < N; i++) { /* untagged only: the kernel would strip a tag into auxdata */
		f[i] = make_frame(i, i == 0 ? 60 : i == 1 ? 1514 : 60 + (uint32_t)rand() % 1455);
		memcpy(txb[i] + 12, "\x88\xb5", 2);
	}
	f[N] = (struct lobo_frame){.data = txb[N - 1], .len = 1519, .tag = 999}; /* > MTU + 18 */
	assert_int_equal(lobo_tx_post(p, 1, f, N + 1), N + 1);
	assert_int_equal(lobo_tx_reclaim(p, 1, done, N + 1), N + 1);
	assert_int_equal(done[N].tag, 999);
	for (int i = 0; i < N; i++) {
		assert_int_equal(recv(fd, got, sizeof got, 0), f[i].len);
		assert_memory_equal(got, f[i].data, f[i].len);
	}
	struct lobo_counters *c = lobo_port_counters(p, 1);
	assert_int_equal(c->tx_packets, N);
	assert_int_equal(c->copies, N);
	assert_int_equal(c->tx_errors, 1);
	close(fd);
	lobo_port_close(p);
}

/* Frames the kernel could not queue while lobo did not read are counted. */
static void drops_counted(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	struct lobo_frame f = make_frame(0, 60), out[N];
	assert_int_equal(lobo_port_open(&p, "tap:kptap4?rx_ring=64", NULL, err), 0);
	int fd = kernel_socket("kptap4");
	for (int i = 0; i < 3000; i++) /* the tap holds txqueuelen (1000) */
		assert_int_equal(send(fd, f.data, f.len, 0), f.len);
	lobo_port_info(p); /* counts nothing: the queue's own calls are its one writer */
	assert_int_equal(lobo_port_counters(p, 0)->rx_dropped, 0);
	uint32_t got = 0;
	for (uint16_t n = N; n == N; got += n) {
		post_rx(p, N, sizeof rxb[0]);
		n = recv_all(p, out, N);
	}
	poll_for_kernel_stats(p);
	struct lobo_counters *c = lobo_port_counters(p, 0);
	assert_true(c->rx_dropped > 0);
	assert_int_equal(got + c->rx_dropped, 3000);
	close(fd);
	lobo_port_close(p);
}

/* A tap someone else made is used as it is and left behind. */
static void existing_tap_kept(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	assert_int_equal(system("ip tuntap add dev kptap1 mode tap"), 0);
	assert_int_equal(lobo_port_open(&p, "tap:kptap1?queues=2", NULL, err), -EINVAL);
	assert_string_equal(err, "tap: 'kptap1' exists but is not a multi-queue tap: pick another name or delete it");
	assert_int_equal(lobo_port_open(&p, "tap:kptap1", NULL, err), 0);
	assert_null(strstr(lobo_port_info(p)->mode, "created"));
	struct lobo_port *again;
	assert_int_equal(lobo_port_open(&again, "tap:kptap1", NULL, err), -EBUSY);
	assert_string_equal(err, "tap: 'kptap1' is in use by another program: pick another name");
	assert_false(lobo_port_info(p)->link_up); /* it was down and stays down */
	lobo_port_close(p);
	assert_int_not_equal(if_nametoindex("kptap1"), 0);
	assert_int_equal(system("ip tuntap del dev kptap1 mode tap"), 0);
}

static void bad_names(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "tap:", NULL, err), -EINVAL);
	assert_non_null(strstr(err, "not an interface name"));
	assert_int_equal(lobo_port_open(&p, "tap:muchtoolongname0", NULL, err), -EINVAL);
	assert_int_equal(lobo_port_open(&p, "tap:x?fanout=1", NULL, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option 'fanout'"));
	assert_null(p);
}

/* As nobody the open fails with one line saying how to get the right. */
static void unprivileged(void **state)
{
	(void)state;
	open_fails_unprivileged("tap:kptap9", -EPERM, "needs CAP_NET_ADMIN: run as root");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(created_and_removed),
		cmocka_unit_test(kernel_to_lobo),
		cmocka_unit_test(lobo_to_kernel),
		cmocka_unit_test(drops_counted),
		cmocka_unit_test(existing_tap_kept),
		cmocka_unit_test(unprivileged),
		cmocka_unit_test(bad_names),
	};
	return cmocka_run_group_tests(tests, netns_setup, NULL);
}
