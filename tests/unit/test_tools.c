/* src/tools: synthesised frames are valid, the NIC table answers, and fwd and
 * blast over null ports keep their counts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/tools/tools.h"

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void udp_frames_are_valid(void **state)
{
	static const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src[6] = {2, 0, 0, 0, 0, 7};
	uint8_t f[1514];
	(void)state;
	for (uint32_t size = 60; size <= 1514; size += 91) {
		blast_build_udp(f, size, dst, src, (uint16_t)(1024 + size));
		assert_memory_equal(f, dst, 6);
		assert_memory_equal(f + 6, src, 6);
		assert_int_equal(f[12] << 8 | f[13], 0x0800);
		const uint8_t *ip = f + 14, *udp = f + 34;
		assert_int_equal(ip[2] << 8 | ip[3], size - 14);
		assert_int_equal(sum16(ip, 20, 0), 0xffff); /* a valid header sums to all ones */
		assert_int_equal(udp[0] << 8 | udp[1], 1024 + size);
		assert_int_equal(udp[4] << 8 | udp[5], size - 34);
		uint32_t pseudo = sum16(ip + 12, 8, 17 + (size - 34));
		assert_int_equal(sum16(udp, size - 34, pseudo), 0xffff);
	}
}

static void nic_table(void **state)
{
	(void)state;
	assert_string_equal(lobo_pci_driver_name(0x1af4, 0x1000), "virtio");
	assert_string_equal(lobo_pci_driver_name(0x1af4, 0x1041), "virtio");
	const uint16_t igb[] = {0x10c9, 0x10e6, 0x10e7, 0x10e8, 0x1526, 0x150a, 0x1518, 0x150d, /* 82576 */
				0x1521, 0x1522, 0x1523, 0x1524, 0x1546,                         /* i350 */
				0x1533, 0x1536, 0x1537, 0x1538, 0x157b, 0x157c, 0x1539};        /* i210, i211 */
	for (size_t i = 0; i < sizeof igb / sizeof igb[0]; i++)
		assert_string_equal(lobo_pci_driver_name(0x8086, igb[i]), "igb");
	assert_string_equal(lobo_pci_driver_name(0x8086, 0x10ca), "igbvf"); /* the 82576's VF: not the PF driver */
	assert_string_equal(lobo_pci_driver_name(0x8086, 0x1520), "igbvf"); /* the i350's */
	assert_null(lobo_pci_driver_name(0x8086, 0x10d3)); /* e1000e: not written yet */
	assert_string_equal(lobo_pci_driver_name(0x8086, 0x10fb), "ixgbe");
	assert_string_equal(lobo_pci_driver_note(0x8086, 0x10fb), "untested on hardware");
	assert_null(lobo_pci_driver_note(0x1af4, 0x1000));
	assert_null(lobo_pci_driver_name(0x10ec, 0x8168));
}

static void keep_last(const struct tool_report *r, void *ctx)
{
	if (r->final)
		*(struct tool_report *)ctx = *r;
}

static void fwd_and_blast_counts(void **state)
{
	const char *uris[] = {"null:?size=100", "null:"};
	struct tool_session s;
	struct tool_report last = {0};
	struct tool_run run = {.count = 5000, .report = keep_last, .ctx = &last};
	char err[LOBO_ERR_LEN];
	(void)state;
	assert_int_equal(tool_session_open(&s, "test", uris, 2, 4096, err), 0);
	assert_int_equal(tool_fwd(&s, &run, err), 0);
	assert_true(last.final);
	assert_int_equal(last.total[0].rx_packets + last.total[1].rx_packets, 5000);
	assert_int_equal(last.total[0].rx_packets, last.total[1].tx_packets + last.total[1].tx_dropped);
	assert_int_equal(last.total[1].tx_bytes, 100 * last.total[1].tx_packets);
	tool_session_close(&s);

	struct blast_opts o = {.size = 1000, .dst_mac = {1, 2, 3, 4, 5, 6}};
	run.count = 777;
	assert_int_equal(tool_session_open(&s, "test", uris + 1, 1, 4096, err), 0);
	assert_int_equal(tool_blast(&s, &o, &run, err), 0);
	assert_int_equal(last.total[0].tx_packets, 777);
	assert_int_equal(last.total[0].tx_bytes, 777000);
	o.size = 59;
	assert_int_equal(tool_blast(&s, &o, &run, err), -EINVAL);
	assert_non_null(strstr(err, "--size 59 is out of range"));
	tool_session_close(&s);
}

/* Every rx queue of the wider port is polled, and what it receives goes out. */
static void fwd_polls_every_queue(void **state)
{
	const char *uris[] = {"null:?queues=3", "null:"};
	struct tool_session s;
	struct tool_report last = {0};
	struct tool_run run = {.count = 6000, .report = keep_last, .ctx = &last};
	char err[LOBO_ERR_LEN];
	(void)state;
	assert_int_equal(tool_session_open(&s, "test", uris, 2, 4096, err), 0);
	assert_int_equal(tool_fwd(&s, &run, err), 0);
	for (uint16_t q = 0; q < 3; q++)
		assert_true(lobo_port_counters(s.port[0], q)->rx_packets > 0);
	assert_int_equal(last.total[0].rx_packets, last.total[1].tx_packets + last.total[1].tx_dropped);
	assert_int_equal(last.total[1].rx_packets, last.total[0].tx_packets + last.total[0].tx_dropped);
	tool_session_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_frames_are_valid),
		cmocka_unit_test(nic_table),
		cmocka_unit_test(fwd_and_blast_counts),
		cmocka_unit_test(fwd_polls_every_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
