/* The null port and the URI/parameter handling every port shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "port.h"

static void null_round_trip(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	uint8_t bufs[40][64];
	struct lobo_frame f[40], out[40];
	assert_int_equal(lobo_port_open(&p, "null:?size=64&rx_ring=32&tx_ring=16", NULL, err), 0);
	for (int i = 0; i < 40; i++)
		f[i] = (struct lobo_frame){.data = bufs[i], .len = 64, .tag = 1000u + i};
	assert_int_equal(lobo_rx_post(p, 0, f, 40), 32); /* ring holds 32 */
	assert_int_equal(lobo_rx_poll(p, 0, out, 40), 32);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(out[i].tag, 1000u + i);
		assert_ptr_equal(out[i].data, bufs[i]);
		assert_int_equal(out[i].len, 64);
	}
	assert_int_equal(lobo_tx_post(p, 0, out, 32), 16); /* tx ring holds 16 */
	assert_int_equal(lobo_tx_reclaim(p, 0, f, 40), 16);
	assert_int_equal(f[15].tag, 1015);
	struct lobo_counters sum;
	lobo_port_counters_sum(p, &sum);
	assert_int_equal(sum.rx_packets, 32);
	assert_int_equal(sum.rx_bytes, 32 * 64);
	assert_int_equal(sum.tx_packets, 16);
	assert_string_equal(lobo_port_info(p)->driver, "null");
	lobo_port_close(p);
}

/* A queue the port does not have takes and gives nothing, on every call. */
static void bad_queue(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	uint8_t buf[64];
	struct lobo_frame f = {.data = buf, .len = sizeof buf};
	assert_int_equal(lobo_port_open(&p, "null:?queues=2", NULL, err), 0);
	static const uint16_t bad[] = {2, LOBO_MAX_QUEUES, LOBO_MAX_QUEUES + 1, 1000, 65535};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint16_t q = bad[i];
		assert_int_equal(lobo_rx_post(p, q, &f, 1), 0);
		assert_int_equal(lobo_rx_poll(p, q, &f, 1), 0);
		assert_int_equal(lobo_tx_post(p, q, &f, 1), 0);
		assert_int_equal(lobo_tx_reclaim(p, q, &f, 1), 0);
		assert_null(lobo_port_counters(p, q));
	}
	assert_non_null(lobo_port_counters(p, 1));
	lobo_port_close(p);
}

static void bad_uris(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	assert_int_not_equal(lobo_port_open(&p, "nosuch:x", NULL, err), 0);
	assert_non_null(strstr(err, "unknown port scheme"));
	assert_int_not_equal(lobo_port_open(&p, "eth0", NULL, err), 0);
	assert_non_null(strstr(err, "not a port URI"));
	assert_int_not_equal(lobo_port_open(&p, "null:?sise=64", NULL, err), 0);
	assert_non_null(strstr(err, "unknown option 'sise'"));
	assert_int_not_equal(lobo_port_open(&p, "null:?rx_ring=100", NULL, err), 0);
	assert_non_null(strstr(err, "powers of two"));
	assert_int_not_equal(lobo_port_open(&p, "null:?queues=0", NULL, err), 0);
	assert_null(p);
}

static void params(void **state)
{
	(void)state;
	char v[16];
	assert_int_equal(lobo_param_long("a=1&loop&b=0x10", "b", 7), 16);
	assert_int_equal(lobo_param_long("a=1&loop&b=0x10", "loop", 0), 1);
	assert_int_equal(lobo_param_long("a=1", "c", 7), 7);
	assert_int_equal(lobo_param_long("a=x", "a", 7), -1);
	assert_true(lobo_param_str("name=abc&z=1", "name", v, sizeof v, "d"));
	assert_string_equal(v, "abc");
	assert_false(lobo_param_str("name=abc", "nam", v, sizeof v, "d"));
	assert_string_equal(v, "d");
}

/* A port without hardware: no NIC counters, RSS or loop in the NIC, each
 * refusal with one line naming what to do instead. */
static void no_hardware_detail(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_port *p;
	uint8_t buf[64];
	struct lobo_frame f = {.data = buf, .len = 60};
	_Static_assert(sizeof(struct lobo_frame) == 32, "lobo_frame is two to a cache line");
	assert_int_equal(lobo_port_open(&p, "null:", NULL, err), 0);
	const struct lobo_hw_counters *hw = lobo_port_hw_counters(p);
	assert_int_equal(hw->rx_packets + hw->rx_missed + hw->rx_no_buffer + hw->rx_frame_errors, 0);
	struct lobo_link l = lobo_port_link(p);
	assert_true(l.up);
	assert_int_equal(l.speed_mbps, 0);
	assert_int_equal(lobo_port_info(p)->rss_reta_size, 0);
	assert_int_equal(lobo_port_set_rss(p, NULL, NULL, 0, err), -ENOTSUP);
	assert_non_null(strstr(err, "have no RSS"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(lobo_tx_loop_start(p, 0, &f, 1, err), -ENOTSUP);
	assert_non_null(strstr(err, "send them in software"));
	lobo_port_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(null_round_trip),
		cmocka_unit_test(bad_queue),
		cmocka_unit_test(bad_uris),
		cmocka_unit_test(params),
		cmocka_unit_test(no_hardware_detail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
