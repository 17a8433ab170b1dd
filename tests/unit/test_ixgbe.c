/* The ixgbe driver, unchanged, against the register-level test double of the
 * 82599 (tests/double): bring-up in datasheet order, receive, transmit,
 * hardware counters, RSS queue choice, packetblaster, and a double that
 * misbehaves. What passes here follows the datasheet as we read it; whether
 * the hardware agrees is for someone with an 82599 (README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <time.h>

#include "ixgbe.h"
#include "ixgbe_double.h"

#define BUF 2048u
#define NBUF 1024u
#define SFP 0x10fb   /* 82599 SFP+ */
#define X540 0x1528
#define X550 0x1563

struct rig {
	struct ixgbe_double *nic;
	struct lobo_port *port;
	struct lobo_mem mem;
	struct lobo_pool pool;
	char err[LOBO_ERR_LEN];
};

static struct rig rig;

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int bring_up(uint16_t device, unsigned faults, const char *params)
{
	memset(rig.err, 0, sizeof rig.err);
	rig.nic = ixgbe_double_create(device, faults);
	assert_non_null(rig.nic);
	assert_int_equal(lobo_mem_alloc(&rig.mem, (size_t)NBUF * BUF, rig.err), 0);
	assert_int_equal(lobo_pool_init(&rig.pool, &rig.mem, 0, BUF, NBUF, rig.err), 0);
	return ixgbe_open_bar(&rig.port, ixgbe_double_bar(rig.nic), device, params, &rig.mem, rig.err);
}

static void open_ok(uint16_t device, const char *params)
{
	int rc = bring_up(device, 0, params);
	const char *broken = ixgbe_double_violation(rig.nic);
	if (rc || broken)
		fail_msg("open: %s; the double saw: %s", rig.err, broken ? broken : "no rule broken");
}

static int teardown(void **state)
{
	(void)state;
	if (rig.nic)
		ixgbe_double_claim_signals(rig.nic); /* cmocka has its own for the teardown */
	if (rig.port)
		lobo_port_close(rig.port);
	const char *broken = rig.nic ? ixgbe_double_violation(rig.nic) : NULL;
	bool faulty = strstr(rig.err, "is it a working");
	rig.port = NULL;
	if (rig.nic)
		ixgbe_double_destroy(rig.nic);
	rig.nic = NULL;
	lobo_pool_destroy(&rig.pool);
	lobo_mem_free(&rig.mem);
	if (broken && !faulty) /* closing must follow the datasheet too */
		fail_msg("the double saw the driver break a rule: %s", broken);
	return 0;
}

static bool poll_until(bool (*done)(void *), void *arg)
{
	for (double end = seconds() + 3; seconds() < end;)
		if (done(arg))
			return true;
	return false;
}

/* ------------------------------------------------------------- frames */

struct flow {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint8_t proto;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet (to a MAC that is not the port's: promiscuous), optional 802.1Q
 * tags, IPv4 with a right checksum, TCP or UDP ports, then a pattern. */
static uint32_t frame(uint8_t *f, uint32_t len, const struct flow *fl, int tags, uint8_t seed)
{
	static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x42}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint32_t at = 12;
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	for (int t = 0; t < tags; t++, at += 4) {
		put16(f + at, 0x8100);
		put16(f + at + 2, (uint16_t)(100 + t));
	}
	put16(f + at, 0x0800);
	uint8_t *ip = f + at + 2;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - (at + 2)));
	ip[8] = 64;
	ip[9] = fl->proto;
	memcpy(ip + 12, fl->src, 4);
	memcpy(ip + 16, fl->dst, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	put16(ip + 20, fl->sport);
	put16(ip + 22, fl->dport);
	for (uint32_t i = at + 26; i < len; i++)
		f[i] = (uint8_t)(seed + i * 13);
	return len;
}

static const struct flow udp_flow = {{10, 0, 0, 1}, {10, 0, 0, 2}, 1234, 5678, 17};

static void post(uint16_t queue, uint32_t n)
{
	struct lobo_frame f[64];
	while (n) {
		uint32_t k = lobo_pool_alloc(&rig.pool, f, n < 64 ? n : 64);
		assert_int_equal(lobo_rx_post(rig.port, queue, f, (uint16_t)k), k);
		n -= k;
	}
}

/* ------------------------------------------------------------- bring-up */

static void opens_in_datasheet_order(void **state)
{
	(void)state;
	open_ok(SFP, "");
	const struct lobo_port_info *info = lobo_port_info(rig.port);
	assert_string_equal(info->driver, "ixgbe");
	assert_memory_equal(info->mac, ixgbe_double_mac, 6); /* loaded from the EEPROM by the reset */
	assert_true(info->link_up);
	assert_int_equal(info->speed_mbps, 10000);
	assert_int_equal(info->rss_reta_size, 128);
	assert_non_null(strstr(info->mode, "82599"));
	/* Promiscuous, FCS stripped in both places, nothing else stripped, receive and transmit on. */
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x5080) & 0x700, 0x700);
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x4240) & 0x403, 0x403);
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x2f00) & 2, 2);
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x1028) & (1u << 30), 0);
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x3000) & 1, 1);
	assert_int_equal(ixgbe_double_reg(rig.nic, 0x4a80) & 1, 1);
	assert_string_equal(lobo_pci_driver_name(0x8086, SFP), "ixgbe");
	assert_string_equal(lobo_pci_driver_note(0x8086, SFP), "untested on hardware");
	assert_null(lobo_pci_driver_note(0x8086, 0x10c9)); /* the 82576, tested in the lab */
}

/* The X540 and X550 leave the link to their PHY: up with no AUTOC. */
static void brings_up_the_copper_chips(void **state)
{
	(void)state;
	open_ok(X540, "");
	assert_true(lobo_port_link(rig.port).up);
	assert_non_null(strstr(lobo_port_info(rig.port)->mode, "X540"));
	ixgbe_double_set_speed(rig.nic, 1000);
	assert_int_equal(lobo_port_link(rig.port).speed_mbps, 1000);
	teardown(state);
	open_ok(X550, "");
	ixgbe_double_set_speed(rig.nic, 2500);
	assert_int_equal(lobo_port_link(rig.port).speed_mbps, 2500);
	ixgbe_double_set_speed(rig.nic, 5000);
	assert_int_equal(lobo_port_link(rig.port).speed_mbps, 5000);
	ixgbe_double_set_speed(rig.nic, 100);
	assert_int_equal(lobo_port_link(rig.port).speed_mbps, 100);
}

/* ------------------------------------------------------------- receive */

static void receives_frames_as_they_were_sent(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {60, 61, 64, 100, 333, 1000, 1513, 1514, 1518, 1522};
	static const int tags[] = {0, 0, 1, 0, 2, 1, 0, 0, 1, 2};
	uint8_t f[2048];
	uint64_t bytes = 0;
	open_ok(SFP, "");
	post(0, 64);
	for (uint32_t i = 0; i < 10; i++) {
		frame(f, sizes[i], &udp_flow, tags[i], (uint8_t)i);
		assert_int_equal(ixgbe_double_receive(rig.nic, f, sizes[i], false), 0);
		bytes += sizes[i] + 4;
	}
	frame(f, 80, &udp_flow, 0, 99);
	f[14 + 10] ^= 0xff; /* a wrong IPv4 header checksum: delivered, and said so */
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 80, false), 0);
	struct lobo_frame got[16];
	assert_int_equal(lobo_rx_poll(rig.port, 0, got, 16), 11);
	for (uint32_t i = 0; i < 10; i++) {
		frame(f, sizes[i], &udp_flow, tags[i], (uint8_t)i);
		assert_int_equal(got[i].len, sizes[i]); /* no FCS, no tag taken out */
		assert_memory_equal(got[i].data, f, sizes[i]);
		/* The NIC parses one VLAN tag: behind two it sees no IPv4, so no hash and no check. */
		assert_int_equal(got[i].flags, tags[i] < 2 ? LOBO_F_RSS_HASH | LOBO_F_IP_CSUM_OK : 0);
	}
	assert_int_equal(got[10].flags & (LOBO_F_IP_CSUM_BAD | LOBO_F_ERROR), LOBO_F_IP_CSUM_BAD);
	lobo_pool_free(&rig.pool, got, 11);
	const struct lobo_hw_counters *hw = lobo_port_hw_counters(rig.port);
	assert_int_equal(hw->rx_packets, 11);
	assert_int_equal(hw->rx_bytes, bytes + 84);
	assert_int_equal(lobo_port_counters(rig.port, 0)->rx_packets, 11);
}

/* ------------------------------------------------------------- transmit */

static bool all_sent(void *n) { return ixgbe_double_sent(rig.nic) >= *(uint64_t *)n; }

static void sends_frames_as_they_were_given(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {42, 59, 60, 61, 500, 1514, 1518, 1522};
	struct lobo_frame f[8], back[8];
	uint64_t bytes = 0, n = 8;
	open_ok(SFP, "");
	assert_int_equal(lobo_pool_alloc(&rig.pool, f, 8), 8);
	for (uint32_t i = 0; i < 8; i++) {
		f[i].len = frame(f[i].data, sizes[i], &udp_flow, i % 3, (uint8_t)(7 * i));
		bytes += (sizes[i] < 60 ? 60 : sizes[i]) + 4;
	}
	assert_int_equal(lobo_tx_post(rig.port, 0, f, 8), 8);
	assert_true(poll_until(all_sent, &n));
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t len;
		const uint8_t *out = ixgbe_double_sent_frame(rig.nic, i, &len);
		assert_int_equal(len, sizes[i] < 60 ? 60 : sizes[i]); /* short frames padded by the NIC */
		assert_memory_equal(out, f[i].data, sizes[i]);
		for (uint32_t k = sizes[i]; k < len; k++)
			assert_int_equal(out[k], 0);
	}
	/* Reclaimed by the head the NIC wrote back, in order. */
	uint16_t got = 0;
	for (double end = seconds() + 3; got < 8 && seconds() < end;)
		got = (uint16_t)(got + lobo_tx_reclaim(rig.port, 0, back + got, (uint16_t)(8 - got)));
	assert_int_equal(got, 8);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(back[i].tag, f[i].tag);
	lobo_pool_free(&rig.pool, back, 8);
	const struct lobo_hw_counters *hw = lobo_port_hw_counters(rig.port);
	assert_int_equal(hw->tx_packets, 8);
	assert_int_equal(hw->tx_bytes, bytes); /* with the padding and the FCS, as the wire saw them */
}

/* ------------------------------------------------------ hardware counters */

static void counts_drops_and_errors_in_hardware(void **state)
{
	(void)state;
	uint8_t f[2048];
	open_ok(SFP, "queues=2");
	const struct lobo_hw_counters *hw = lobo_port_hw_counters(rig.port);
	assert_int_equal(hw->rx_packets + hw->tx_packets + hw->rx_missed + hw->rx_frame_errors, 0); /* power-up garbage read away */
	uint16_t to_one[128];
	for (int i = 0; i < 128; i++)
		to_one[i] = 1;
	assert_int_equal(lobo_port_set_rss(rig.port, NULL, to_one, 128, rig.err), 0);
	frame(f, 200, &udp_flow, 0, 1);
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 200, false), -1);  /* queue 1 has no buffer */
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 200, true), -1);   /* bad FCS */
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 40, false), -1);   /* runt */
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 1600, false), -1); /* longer than MAXFRS */
	post(1, 8);
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 200, false), 1);
	hw = lobo_port_hw_counters(rig.port);
	assert_int_equal(hw->rx_no_buffer, 1); /* QPRDC: SRRCTL.DROP_EN with two queues */
	assert_int_equal(hw->rx_frame_errors, 1);
	assert_int_equal(hw->rx_length_errors, 2);
	assert_int_equal(hw->rx_packets, 2); /* GPRC counts the one dropped for want of a buffer */
	hw = lobo_port_hw_counters(rig.port); /* cleared by the read: nothing counted twice */
	assert_int_equal(hw->rx_no_buffer + hw->rx_frame_errors + hw->rx_length_errors + hw->rx_packets, 6);
	struct lobo_counters sum;
	lobo_port_counters_sum(rig.port, &sum);
	assert_int_equal(sum.rx_dropped, 1);
	assert_int_equal(sum.rx_errors, 3);
	teardown(state);
	open_ok(SFP, ""); /* one queue: no DROP_EN, the packet buffer fills: missed */
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 200, false), -1);
	assert_int_equal(lobo_port_hw_counters(rig.port)->rx_missed, 1);
}

/* ------------------------------------------------------------------ RSS */

/* The Microsoft RSS specification's IPv4 examples (its example key is the default). */
static const struct { struct flow fl; uint32_t hash_ip, hash_tcp; } verification[] = {
	{{{66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 6}, 0x323e8fc2, 0x51ccc178},
	{{{199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 6}, 0xd718262a, 0xc626b0ea},
	{{{24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 6}, 0xd2d0a5de, 0x5c2b394a},
	{{{38, 27, 205, 30}, {209, 142, 163, 6}, 48228, 2217, 6}, 0x82989176, 0xafc7327f},
	{{{153, 39, 163, 191}, {202, 188, 127, 2}, 44251, 1303, 6}, 0x5d1809c5, 0x10e828a2},
};

static uint32_t flow_hash(const uint8_t key[40], const struct flow *fl)
{
	uint8_t in[12];
	memcpy(in, fl->src, 4);
	memcpy(in + 4, fl->dst, 4);
	put16(in + 8, fl->sport);
	put16(in + 10, fl->dport);
	return double_toeplitz(key, in, 12);
}

/* A frame of the flow arrives on the queue the table names for its hash. */
static void lands_where_the_table_says(const uint8_t key[40], const uint16_t *reta, const struct flow *fl)
{
	uint8_t f[256];
	struct lobo_frame got;
	uint32_t hash = flow_hash(key, fl);
	uint16_t want = reta[hash % 128];
	frame(f, 128, fl, 0, 3);
	assert_int_equal(ixgbe_double_receive(rig.nic, f, 128, false), want);
	assert_int_equal(lobo_rx_poll(rig.port, want, &got, 1), 1);
	assert_true(got.flags & LOBO_F_RSS_HASH);
	assert_int_equal(got.rss_hash, hash);
	lobo_pool_free(&rig.pool, &got, 1);
	post(want, 1);
}

static void spreads_flows_as_the_table_says(uint16_t device)
{
	static const uint8_t ms_key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
		0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
		0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
	uint16_t reta[128];
	uint8_t key[40];
	open_ok(device, "queues=4");
	for (uint16_t q = 0; q < 4; q++)
		post(q, 32);
	for (int i = 0; i < 128; i++)
		reta[i] = (uint16_t)(i % 4); /* what the port opens with */
	for (size_t v = 0; v < sizeof verification / sizeof verification[0]; v++) {
		const struct flow *fl = &verification[v].fl;
		assert_int_equal(double_toeplitz(ms_key, fl->src, 8), verification[v].hash_ip); /* src, dst adjacent */
		assert_int_equal(flow_hash(ms_key, fl), verification[v].hash_tcp);
		lands_where_the_table_says(ms_key, reta, fl);
	}
	srand(14);
	for (int i = 0; i < 40; i++)
		key[i] = (uint8_t)rand();
	for (int i = 0; i < 128; i++)
		reta[i] = (uint16_t)(i % 7 == 0 ? 0 : 1 + rand() % 3);
	assert_int_equal(lobo_port_set_rss(rig.port, key, reta, 128, rig.err), 0);
	for (int i = 0; i < 300; i++) {
		struct flow fl = {{10, (uint8_t)rand(), (uint8_t)rand(), 1}, {192, 168, (uint8_t)rand(), (uint8_t)rand()},
				  (uint16_t)rand(), (uint16_t)rand(), i % 2 ? 6 : 17};
		lands_where_the_table_says(key, reta, &fl);
	}
}

static void spreads_flows_on_the_82599(void **state)
{
	(void)state;
	spreads_flows_as_the_table_says(SFP);
}

/* The X550's table has 512 entries: lobo repeats its 128 through them. */
static void spreads_flows_on_the_x550(void **state)
{
	(void)state;
	spreads_flows_as_the_table_says(X550);
}

/* --------------------------------------------------------- packetblaster */

static bool some_sent(void *n) { return ixgbe_double_sent(rig.nic) >= *(uint64_t *)n; }

static void blasts_from_the_nic(void **state)
{
	(void)state;
	struct lobo_frame f[3];
	uint64_t kicked = 0, want = 2000;
	open_ok(SFP, "tx_ring=64");
	assert_int_equal(lobo_pool_alloc(&rig.pool, f, 3), 3);
	for (uint32_t i = 0; i < 3; i++)
		f[i].len = frame(f[i].data, 60 + 100 * i, &udp_flow, 0, (uint8_t)i);
	assert_int_equal(lobo_tx_loop_start(rig.port, 0, f, 3, rig.err), 0);
	for (double end = seconds() + 5; ixgbe_double_sent(rig.nic) < want && seconds() < end;)
		kicked += lobo_tx_loop_kick(rig.port, 0);
	assert_true(some_sent(&want));
	ixgbe_double_pause(rig.nic, true); /* nothing moves: the counts must agree exactly */
	kicked += lobo_tx_loop_kick(rig.port, 0);
	uint64_t sent = ixgbe_double_sent(rig.nic);
	assert_int_equal(kicked, sent);
	assert_int_equal(lobo_port_counters(rig.port, 0)->tx_packets, sent);
	assert_int_equal(lobo_port_hw_counters(rig.port)->tx_packets, sent);
	for (uint32_t i = 0; i < IXGBE_DOUBLE_LOG && i < sent; i++) { /* in order, round and round */
		uint32_t len;
		const uint8_t *out = ixgbe_double_sent_frame(rig.nic, i, &len);
		assert_int_equal(len, f[i % 3].len);
		assert_memory_equal(out, f[i % 3].data, len);
	}
	lobo_tx_loop_stop(rig.port, 0);
	ixgbe_double_pause(rig.nic, false);
	/* The queue is an ordinary one again. */
	struct lobo_frame one;
	assert_int_equal(lobo_pool_alloc(&rig.pool, &one, 1), 1);
	one.len = frame(one.data, 99, &udp_flow, 0, 9);
	assert_int_equal(lobo_tx_post(rig.port, 0, &one, 1), 1);
	want = sent + 1;
	assert_true(poll_until(all_sent, &want));
	lobo_pool_free(&rig.pool, f, 3);
}

/* ----------------------------------------------------- a misbehaving NIC */

static void fails(unsigned fault, const char *names)
{
	double start = seconds();
	assert_int_equal(bring_up(SFP, fault, ""), -EIO);
	assert_true(seconds() - start < 5); /* bounded waits (100 ms each here), no hang */
	assert_non_null(strstr(rig.err, names));
	assert_non_null(strstr(rig.err, "ixgbe: "));
	assert_null(strchr(rig.err, '\n'));
	rig.port = NULL;
	teardown(NULL);
}

static void fails_in_one_line_instead_of_hanging(void **state)
{
	(void)state;
	fails(FAULT_RESET_STUCK, "CTRL.RST");
	fails(FAULT_NO_EEPROM, "EEC.ARD");
	fails(FAULT_NO_DMA_INIT, "RDRXCTL.DMAIDONE");
	fails(FAULT_QUEUE_STUCK, "ENABLE");
	/* No link is not a broken NIC (a cable may be out): the port opens, link down, in bounded time. */
	double start = seconds();
	assert_int_equal(bring_up(SFP, FAULT_NO_LINK, ""), 0);
	assert_true(seconds() - start < 5); /* a 1 s wait for the link */
	assert_false(lobo_port_info(rig.port)->link_up);
	assert_int_equal(lobo_port_link(rig.port).speed_mbps, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(opens_in_datasheet_order, teardown),
		cmocka_unit_test_teardown(brings_up_the_copper_chips, teardown),
		cmocka_unit_test_teardown(receives_frames_as_they_were_sent, teardown),
		cmocka_unit_test_teardown(sends_frames_as_they_were_given, teardown),
		cmocka_unit_test_teardown(counts_drops_and_errors_in_hardware, teardown),
		cmocka_unit_test_teardown(spreads_flows_on_the_82599, teardown),
		cmocka_unit_test_teardown(spreads_flows_on_the_x550, teardown),
		cmocka_unit_test_teardown(blasts_from_the_nic, teardown),
		cmocka_unit_test_teardown(fails_in_one_line_instead_of_hanging, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
