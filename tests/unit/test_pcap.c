/* pcap: ports: write then read back bit-exact, looping, damaged files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lobo.h"

#define N 100
#define MAXLEN 1514

static uint8_t sent[N][MAXLEN];
static uint32_t sent_len[N];
static uint8_t rxbuf[2048];

static const char *tmp_path(char *path, const char *what)
{
	snprintf(path, 96, "/tmp/lobo-test-pcap-%d-%s.pcap", (int)getpid(), what);
	unlink(path);
	return path;
}

static struct lobo_port *open_ok(const char *file, const char *params)
{
	char err[LOBO_ERR_LEN], uri[160];
	struct lobo_port *p;
	snprintf(uri, sizeof uri, "pcap:%s%s", file, params);
	assert_int_equal(lobo_port_open(&p, uri, NULL, err), 0);
	return p;
}

static void write_frames(const char *file, int n, uint32_t fixed_len)
{
	struct lobo_port *p = open_ok(file, "?mode=w&tx_ring=128");
	struct lobo_frame f[N], back[N];
	assert_string_equal(lobo_port_info(p)->mode, "write");
	for (int i = 0; i < n; i++) {
		sent_len[i] = fixed_len ? fixed_len : 60 + (uint32_t)rand() % (MAXLEN - 59);
		for (uint32_t j = 0; j < sent_len[i]; j++)
			sent[i][j] = (uint8_t)rand();
		f[i] = (struct lobo_frame){.data = sent[i], .len = sent_len[i], .tag = (uint64_t)i};
	}
	assert_int_equal(lobo_rx_post(p, 0, f, 1), 0); /* a writer takes no rx buffers */
	assert_int_equal(lobo_tx_post(p, 0, f, (uint16_t)n), n);
	assert_int_equal(lobo_tx_reclaim(p, 0, back, N), n);
	assert_true(n == 0 || back[n - 1].tag == (uint64_t)n - 1);
	assert_int_equal(lobo_port_counters(p, 0)->tx_packets, n);
	lobo_port_close(p);
}

/* Reads until the port says no more will come (or `limit`), checking each
 * frame i against sent[i % n]. One buffer, reposted after every frame. */
static int read_and_check(struct lobo_port *p, uint32_t bufsize, int n, int limit)
{
	struct lobo_frame post = {.data = rxbuf, .len = bufsize, .tag = 7}, f;
	int got = 0;
	assert_int_equal(lobo_rx_post(p, 0, &post, 1), 1);
	for (int polls = 0; got < limit && polls < 10 * limit + 10; polls++) {
		if (lobo_rx_poll(p, 0, &f, 1) == 0) {
			if (!lobo_port_info(p)->link_up)
				break;
			continue;
		}
		assert_int_equal(f.tag, 7);
		assert_int_equal(f.len, sent_len[got % n]);
		assert_memory_equal(f.data, sent[got % n], f.len);
		got++;
		assert_int_equal(lobo_rx_post(p, 0, &post, 1), 1);
	}
	return got;
}

static void write_read_back(void **state)
{
	(void)state;
	char path[96];
	tmp_path(path, "rw");
	struct lobo_port *p = open_ok(path, ""); /* absent: writes by default */
	assert_string_equal(lobo_port_info(p)->mode, "write");
	lobo_port_close(p);
	write_frames(path, N, 0);
	p = open_ok(path, ""); /* exists: reads by default */
	assert_string_equal(lobo_port_info(p)->mode, "read");
	struct lobo_frame f = {.data = sent[0], .len = 60};
	assert_int_equal(lobo_tx_post(p, 0, &f, 1), 0); /* a reader sends nothing */
	assert_int_equal(read_and_check(p, 2048, N, 1000), N);
	const struct lobo_port_info *info = lobo_port_info(p);
	assert_false(info->link_up);
	assert_string_equal(info->mode, "read, end of file");
	struct lobo_counters *c = lobo_port_counters(p, 0);
	assert_int_equal(c->rx_packets, N);
	assert_int_equal(c->copies, N);
	assert_int_equal(c->rx_errors, 0);
	lobo_port_close(p);
	unlink(path);
}

static void loop_replays(void **state)
{
	(void)state;
	char path[96];
	tmp_path(path, "loop");
	write_frames(path, 3, 0);
	struct lobo_port *p = open_ok(path, "?loop=1");
	assert_int_equal(read_and_check(p, 2048, 3, 31), 31);
	assert_true(lobo_port_info(p)->link_up);
	lobo_port_close(p);
	/* An empty capture with loop=1 must end, not spin. */
	write_frames(path, 0, 0);
	p = open_ok(path, "?loop=1");
	assert_int_equal(read_and_check(p, 2048, 1, 10), 0);
	assert_false(lobo_port_info(p)->link_up);
	lobo_port_close(p);
	unlink(path);
}

static void oversized_record_skipped(void **state)
{
	(void)state;
	char path[96];
	tmp_path(path, "big");
	write_frames(path, 10, 0);
	int fit = 0;
	for (int i = 0; i < 10; i++)
		fit += sent_len[i] <= 512;
	for (int i = 0, j = 0; i < 10; i++) /* keep only what fits, for the checker */
		if (sent_len[i] <= 512) {
			memmove(sent[j], sent[i], sent_len[i]);
			sent_len[j++] = sent_len[i];
		}
	struct lobo_port *p = open_ok(path, "");
	memset(rxbuf, 0xa5, sizeof rxbuf);
	assert_int_equal(read_and_check(p, 512, fit ? fit : 1, 100), fit);
	for (size_t i = 512; i < sizeof rxbuf; i++)
		assert_int_equal(rxbuf[i], 0xa5); /* nothing written past the buffer */
	assert_int_equal(lobo_port_counters(p, 0)->rx_dropped, 10 - fit); /* no room: not damaged */
	assert_int_equal(lobo_port_counters(p, 0)->rx_errors, 0);
	lobo_port_close(p);
	unlink(path);
}

static void garbage_and_truncation(void **state)
{
	(void)state;
	char path[96], err[LOBO_ERR_LEN], uri[160];
	struct lobo_port *p;
	tmp_path(path, "bad");
	FILE *fp = fopen(path, "wb");
	for (int i = 0; i < 4096; i++)
		fputc(rand(), fp);
	fclose(fp);
	snprintf(uri, sizeof uri, "pcap:%s", path);
	assert_int_equal(lobo_port_open(&p, uri, NULL, err), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a pcap file"));
	assert_null(strchr(err, '\n'));
	assert_null(p);
	assert_int_not_equal(truncate(path, 10), -1); /* shorter than a file header */
	assert_int_equal(lobo_port_open(&p, uri, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "not a pcap file"));

	write_frames(path, 5, 100); /* 24 + 5 * (16 + 100) bytes */
	assert_int_not_equal(truncate(path, 24 + 4 * 116 + 16 + 50), -1); /* last record cut short */
	p = open_ok(path, "?loop=1");
	assert_int_equal(read_and_check(p, 2048, 5, 100), 4);
	assert_false(lobo_port_info(p)->link_up);
	assert_string_equal(lobo_port_info(p)->mode, "read, truncated");
	assert_int_equal(lobo_port_counters(p, 0)->rx_errors, 1);
	lobo_port_close(p);
	assert_int_not_equal(truncate(path, 24 + 4 * 116 + 7), -1); /* header of the last record cut short */
	p = open_ok(path, "");
	assert_int_equal(read_and_check(p, 2048, 5, 100), 4);
	assert_int_equal(lobo_port_counters(p, 0)->rx_errors, 1);
	lobo_port_close(p);

	assert_int_equal(lobo_port_open(&p, "pcap:/nonexistent/dir/x.pcap", NULL, err), -EIO);
	assert_non_null(strstr(err, "cannot write /nonexistent/dir/x.pcap: No such file"));
	snprintf(uri, sizeof uri, "pcap:%s?mode=x", path);
	assert_int_equal(lobo_port_open(&p, uri, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "mode=x"));
	assert_int_equal(lobo_port_open(&p, "pcap:/nonexistent.pcap?mode=r", NULL, err), -ENOENT);
	assert_int_equal(lobo_port_open(&p, "pcap:", NULL, err), -EINVAL);
	unlink(path);
}

/* The first number a command prints, or -1. */
static int first_number(const char *cmd)
{
	FILE *fp = popen(cmd, "r");
	int n = -1;
	if (fp && fscanf(fp, "%d", &n) != 1)
		n = -1;
	return fp && pclose(fp) == 0 ? n : -1;
}

static void other_tools_read_it(void **state)
{
	(void)state;
	char path[96], cmd[256];
	if (system("command -v tcpdump >/dev/null 2>&1"))
		skip();
	tmp_path(path, "tcpdump");
	write_frames(path, 37, 0);
	snprintf(cmd, sizeof cmd, "tcpdump --count -r %s 2>/dev/null", path);
	assert_int_equal(first_number(cmd), 37);
	if (!system("command -v tshark >/dev/null 2>&1")) {
		snprintf(cmd, sizeof cmd, "tshark -r %s -T fields -e frame.number 2>/dev/null | tail -1", path);
		assert_int_equal(first_number(cmd), 37);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_read_back),
		cmocka_unit_test(loop_replays),
		cmocka_unit_test(oversized_record_skipped),
		cmocka_unit_test(garbage_and_truncation),
		cmocka_unit_test(other_tools_read_it),
	};
	srand(42);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
