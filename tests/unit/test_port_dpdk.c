/* The dpdk: port on DPDK's virtual devices: net_null (an endless source and a
 * sink) and net_ring (what is sent comes back), with the caller's memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testing.h"

#include <sched.h>
#include <time.h>

#define HEADROOM 128 /* RTE_PKTMBUF_HEADROOM: where a PMD puts a frame in a lent buffer */

struct fixture {
	struct lobo_mem mem;
	struct lobo_pool pool;
	char err[LOBO_ERR_LEN];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx || lobo_mem_alloc(&fx->mem, 4096 * 2048, fx->err) ||
	    lobo_pool_init(&fx->pool, &fx->mem, 0, 2048, 4096, fx->err))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	lobo_pool_destroy(&fx->pool);
	lobo_mem_free(&fx->mem);
	free(fx);
	return 0;
}

static struct lobo_port *open_ok(struct fixture *fx, const char *uri)
{
	struct lobo_port *p = NULL;
	int rc = lobo_port_open(&p, uri, &fx->mem, fx->err);
	if (rc)
		fail_msg("%s: %s", uri, fx->err);
	return p;
}

/* net_null receives straight into the posted buffers: no copy, tags kept. */
static void null_zero_copy(void **state)
{
	struct fixture *fx = *state;
	struct lobo_port *p = open_ok(fx, "dpdk:net_null0?rx_ring=64&tx_ring=64");
	struct lobo_frame f[64], out[64];
	const struct lobo_port_info *info = lobo_port_info(p);
	assert_string_equal(info->driver, "dpdk");
	assert_non_null(strstr(info->mode, "zero-copy"));
	assert_int_equal(info->rx_ring, 128); /* two buffers per descriptor */
	uint32_t n = lobo_pool_alloc(&fx->pool, f, 64);
	assert_int_equal(lobo_rx_post(p, 0, f, (uint16_t)n), 64);
	assert_int_equal(lobo_rx_poll(p, 0, out, 40), 40);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(out[i].tag, f[i].tag);
		assert_ptr_equal(out[i].data, f[i].data + HEADROOM);
		assert_int_equal(out[i].len, 64);
	}
	assert_int_equal(lobo_rx_poll(p, 0, out + 40, 64), 24); /* no more than was posted */
	assert_int_equal(lobo_rx_poll(p, 0, out, 64), 0);
	/* Sent frames come back once net_null has freed them, in the caller's buffers. */
	assert_int_equal(lobo_tx_post(p, 0, out, 64), 64);
	assert_int_equal(lobo_tx_reclaim(p, 0, f, 64), 64);
	for (int i = 0; i < 64; i++)
		assert_int_equal(f[i].tag, out[i].tag);
	struct lobo_counters c;
	lobo_port_counters_sum(p, &c);
	assert_int_equal(c.rx_packets, 64);
	assert_int_equal(c.rx_bytes, 64 * 64);
	assert_int_equal(c.tx_packets, 64);
	assert_int_equal(c.copies, 0);
	lobo_pool_free(&fx->pool, f, 64);
	lobo_port_close(p);
}

/* net_ring loops frames back: every byte of every size arrives, in order. */
static void ring_round_trip(const char *uri, struct fixture *fx, uint64_t copies_per_frame)
{
	struct lobo_port *p = open_ok(fx, uri);
	struct lobo_frame f[100], out[100], done[100];
	uint32_t n = lobo_pool_alloc(&fx->pool, f, 100);
	assert_int_equal(lobo_rx_post(p, 0, f, 50), 50);
	for (int i = 50; i < 100; i++) {
		f[i].len = 14 + (uint32_t)(i * 29) % 1505; /* 14 .. 1518 */
		for (uint32_t b = 0; b < f[i].len; b++)
			f[i].data[b] = (uint8_t)(i * 7 + b);
	}
	assert_int_equal(lobo_tx_post(p, 0, f + 50, 50), 50);
	assert_int_equal(lobo_rx_poll(p, 0, out, 100), 50);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(out[i].len, f[50 + i].len);
		assert_memory_equal(out[i].data, f[50 + i].data, out[i].len);
		assert_int_equal(out[i].tag, f[i].tag); /* received into the posted buffers, in order */
	}
	assert_int_equal(lobo_tx_reclaim(p, 0, done, 100), 50);
	struct lobo_counters c;
	lobo_port_counters_sum(p, &c);
	assert_int_equal(c.tx_packets, 50);
	assert_int_equal(c.rx_packets, 50);
	assert_int_equal(c.copies, 50 * copies_per_frame);
	lobo_pool_free(&fx->pool, f, n);
	lobo_port_close(p);
}

/* net_ring hands the sent mbufs themselves to rx: attached on the way out
 * (no copy), copied into the posted buffers on the way in. */
static void ring_extbuf(void **state) { ring_round_trip("dpdk:net_ring0", *state, 1); }

/* copy=1: DPDK's own buffers both ways, every frame copied twice. */
static void ring_copy(void **state) { ring_round_trip("dpdk:net_ring0?copy=1", *state, 2); }

/* What a port does not take stays the caller's: small buffers, a full tx ring;
 * frames it cannot send are taken, counted and given back. */
static void limits(void **state)
{
	struct fixture *fx = *state;
	struct lobo_port *p = open_ok(fx, "dpdk:net_ring0?rx_ring=8&tx_ring=8&buf=1024");
	struct lobo_frame f[40], small[2] = {{.data = fx->mem.base, .len = 512}, {.data = fx->mem.base, .len = 512}};
	assert_int_equal(lobo_rx_post(p, 0, small, 2), 0);
	uint32_t n = lobo_pool_alloc(&fx->pool, f, 40);
	f[0].len = 13;   /* shorter than an Ethernet header */
	f[1].len = 1000; /* longer than buf=1024 less the headroom */
	for (int i = 2; i < 40; i++)
		f[i].len = 60;
	assert_int_equal(lobo_tx_post(p, 0, f, 40), 16); /* two per descriptor */
	assert_int_equal(lobo_tx_post(p, 0, f + 16, 24), 0);
	struct lobo_frame done[40];
	assert_int_equal(lobo_tx_reclaim(p, 0, done, 40), 2); /* the two failures; the rest wait in the ring */
	struct lobo_counters c;
	lobo_port_counters_sum(p, &c);
	assert_int_equal(c.tx_errors, 2);
	assert_int_equal(c.tx_packets, 14);
	lobo_port_close(p); /* frees what the ring still holds */
	lobo_pool_free(&fx->pool, f, n);
}

/* Sends n frames on `from` and receives them on `to`, within a second. */
static void cross(struct lobo_port *from, struct lobo_port *to, struct lobo_frame *f, struct lobo_frame *out, uint16_t n)
{
	struct lobo_frame done[64];
	uint16_t sent = 0, got = 0;
	for (int i = 0; i < 100000 && got < n; i++) {
		sent += lobo_tx_post(from, 0, f + sent, n - sent);
		lobo_tx_reclaim(from, 0, done, 64);
		got += lobo_rx_poll(to, 0, out + got, n - got);
		if (i > 1000)
			nanosleep(&(struct timespec){0, 10000}, NULL);
	}
	assert_int_equal(got, n);
	for (uint16_t i = 0; i < n; i++) {
		assert_int_equal(out[i].len, f[i].len);
		assert_memory_equal(out[i].data, f[i].data, f[i].len);
	}
}

/* net_af_packet on a veth, lobo's afpacket: at the other end. With buffers
 * big enough for the PMD's frame slots it receives into them (the kernel's
 * copy only), and the VLAN tags the kernel takes off come back in place. */
static void af_packet_vlan(void **state)
{
	(void)state;
	need_root();
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	struct lobo_pool pool;
	struct lobo_port *dp, *ap;
	struct lobo_frame f[64], out[64];
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_int_equal(system("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && ip link add kdp0 type veth "
				"peer name kdp1 && ip link set kdp0 up && ip link set kdp1 up"), 0);
	assert_int_equal(lobo_mem_alloc(&mem, 512 * 4096, err), 0);
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 4096, 512, err), 0);
	assert_int_equal(lobo_port_open(&dp, "dpdk:net_af_packet1,iface=kdp0?buf=4096", &mem, err), 0);
	assert_int_equal(lobo_port_open(&ap, "afpacket:kdp1", &mem, err), 0);
	assert_non_null(strstr(lobo_port_info(dp)->mode, "pmd copies"));
	for (int way = 0; way < 2; way++) {
		struct lobo_port *from = way ? dp : ap, *to = way ? ap : dp;
		assert_int_equal(lobo_pool_alloc(&pool, f, 64), 64);
		assert_int_equal(lobo_rx_post(to, 0, f, 64), 64);
		assert_int_equal(lobo_pool_alloc(&pool, f, 64), 64);
		for (int i = 0; i < 64; i++) {
			uint8_t head[18] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
			if (i % 4 == 0) /* 802.1Q, VLAN i */
				memcpy(head + 12, (uint8_t[]){0x81, 0x00, 0x20, (uint8_t)i, 0x88, 0xb5}, 6);
			f[i].len = 60 + (uint32_t)i * 23;
			memcpy(f[i].data, head, sizeof head);
			for (uint32_t b = sizeof head; b < f[i].len; b++)
				f[i].data[b] = (uint8_t)(way + i + b);
		}
		cross(from, to, f, out, 64);
	}
	struct lobo_counters c;
	lobo_port_counters_sum(dp, &c);
	assert_int_equal(c.copies, 128); /* the PMD's own, one per frame each way */
	lobo_port_close(ap);
	lobo_port_close(dp);
	lobo_pool_destroy(&pool);
	lobo_mem_free(&mem);
}

static void open_fails(struct fixture *fx, const char *uri, const char *hint)
{
	struct lobo_port *p = (void *)1;
	assert_int_not_equal(lobo_port_open(&p, uri, &fx->mem, fx->err), 0);
	if (!strstr(fx->err, hint) || strchr(fx->err, '\n'))
		fail_msg("%s: expected one line with '%s', got '%s'", uri, hint, fx->err);
	assert_null(p);
}

static void bad_uris(void **state)
{
	struct fixture *fx = *state;
	open_fails(fx, "dpdk:", "needs DPDK's device arguments");
	open_fails(fx, "dpdk:net_nosuch0", "failed to parse device");
	open_fails(fx, "dpdk:net_af_packet0,iface=lobo-nosuch", "No such device");
	open_fails(fx, "dpdk:net_null0?buf=100", "buf= takes");
	open_fails(fx, "dpdk:net_null0?copy=2", "copy= 0 or 1");
	open_fails(fx, "dpdk:net_null0?nosuch=1", "unknown option 'nosuch'");
	open_fails(fx, "dpdk:net_null0?queues=99", "out of range");
	open_fails(fx, "dpdk:0000:99:1f.7", "no PCI device");
	struct lobo_port *p = open_ok(fx, "dpdk:net_null0");
	open_fails(fx, "dpdk:net_null0", "open already");
	lobo_port_close(p);
	lobo_port_close(open_ok(fx, "dpdk:net_null0")); /* closing gave the device back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(null_zero_copy),
		cmocka_unit_test(ring_extbuf),
		cmocka_unit_test(ring_copy),
		cmocka_unit_test(limits),
		cmocka_unit_test(af_packet_vlan),
		cmocka_unit_test(bad_uris),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
