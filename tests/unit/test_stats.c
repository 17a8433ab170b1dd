/* Published counters: what a process publishes is what `lobo top` reads;
 * files of dead processes are ignored and cleaned up. Needs /run writable. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lobo.h"
#include "../../src/tools/top.h"

static uint8_t bufs[32][64];

/* Moves n frames through a null port's rx and tx. */
static void traffic(struct lobo_port *p, int n)
{
	struct lobo_frame f[32];
	for (int done = 0; done < n; done += 32) {
		uint16_t k = (uint16_t)(n - done < 32 ? n - done : 32);
		for (int i = 0; i < k; i++)
			f[i] = (struct lobo_frame){.data = bufs[i], .len = 64, .tag = (uint64_t)i};
		assert_int_equal(lobo_rx_post(p, 0, f, k), k);
		assert_int_equal(lobo_rx_poll(p, 0, f, k), k);
	}
}

static char *top_output(double interval, bool json)
{
	static char text[1 << 16];
	char err[LOBO_ERR_LEN];
	FILE *out = tmpfile();
	struct top_opts o = {.interval_s = interval, .iterations = 1, .json = json};
	assert_int_equal(lobo_top_run(out, &o, err), 0);
	rewind(out);
	text[fread(text, 1, sizeof text - 1, out)] = 0;
	fclose(out);
	return text;
}

static int dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (int)pid;
}

static void publish_and_read_back(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN], ghost[64], pat[64];
	struct lobo_stats stats;
	struct lobo_stats_file copy, *f;
	/* A file left behind by a process that died. */
	int ghost_pid = dead_pid();
	snprintf(ghost, sizeof ghost, "%s/%d", LOBO_STATS_DIR, ghost_pid);
	mkdir(LOBO_STATS_DIR, 0755);
	FILE *fp = fopen(ghost, "wb");
	if (!fp)
		skip(); /* needs a writable /run/lobo, as root */
	f = calloc(1, sizeof *f);
	*f = (struct lobo_stats_file){.magic = LOBO_STATS_MAGIC, .version = LOBO_STATS_VERSION, .pid = ghost_pid, .program = "ghost"};
	assert_int_equal(fwrite(f, sizeof *f, 1, fp), 1);
	fclose(fp);
	free(f);
	assert_int_equal(lobo_top_read(ghost_pid, &copy), -ESRCH);
	assert_null(strstr(top_output(0, true), "ghost"));

	assert_int_equal(lobo_stats_open(&stats, "test_stats", err), 0);
	assert_int_equal(access(ghost, F_OK), -1); /* stale file removed */
	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "null:?size=64&rx_ring=32", NULL, err), 0);
	assert_int_equal(lobo_stats_add(&stats, p, err), 0);
	traffic(p, 40);
	lobo_port_counters(p, 0)->rx_dropped = 3;
	lobo_stats_publish(&stats);

	assert_int_equal(lobo_top_read(getpid(), &copy), 0);
	assert_int_equal(copy.nports, 1);
	assert_string_equal(copy.program, "test_stats");
	assert_string_equal(copy.port[0].info.driver, "null");
	assert_int_equal(copy.port[0].total.rx_packets, 40);
	assert_int_equal(copy.port[0].total.rx_bytes, 40 * 64);
	assert_int_equal(copy.port[0].total.rx_dropped, 3);
	assert_int_equal(copy.port[0].queue[0].rx_packets, 40);
	assert_true(copy.updated_ns > 0);

	char *json = top_output(0, true);
	snprintf(pat, sizeof pat, "{\"pid\":%d,\"program\":\"test_stats\"", (int)getpid());
	assert_non_null(strstr(json, pat));
	assert_non_null(strstr(json, "\"rx_packets\":40,\"rx_bytes\":2560,\"rx_dropped\":3"));
	char *text = top_output(0, false);
	assert_non_null(strstr(text, "test_stats"));
	assert_non_null(strstr(text, "size=64"));
	assert_null(strchr(text, '\033')); /* not a terminal: no redraw codes */

	for (int i = 1; i < LOBO_STATS_MAX_PORTS; i++)
		assert_int_equal(lobo_stats_add(&stats, p, err), 0);
	assert_int_equal(lobo_stats_add(&stats, p, err), -ENOSPC);
	lobo_stats_close(&stats);
	lobo_port_close(p);
	snprintf(pat, sizeof pat, "%s/%d", LOBO_STATS_DIR, (int)getpid());
	assert_int_equal(access(pat, F_OK), -1);

	/* Not a stats file, or one cut short: ignored, not trusted. */
	fp = fopen(pat, "wb");
	for (int i = 0; i < (int)sizeof copy; i++)
		fputc(rand(), fp);
	fclose(fp);
	assert_int_equal(lobo_top_read(getpid(), &copy), -EINVAL);
	f = calloc(1, sizeof *f); /* a file being created: complete but no magic yet */
	*f = (struct lobo_stats_file){.version = LOBO_STATS_VERSION, .pid = getpid()};
	fp = fopen(pat, "wb");
	assert_int_equal(fwrite(f, sizeof *f, 1, fp), 1);
	fclose(fp);
	assert_int_equal(lobo_top_read(getpid(), &copy), -EINVAL);
	f->magic = LOBO_STATS_MAGIC;
	fp = fopen(pat, "wb");
	assert_int_equal(fwrite(f, sizeof *f, 1, fp), 1);
	fclose(fp);
	free(f);
	assert_int_equal(lobo_top_read(getpid(), &copy), 0);
	assert_int_not_equal(truncate(pat, 100), -1);
	assert_int_equal(lobo_top_read(getpid(), &copy), -EINVAL);
	unlink(pat);
}

/* A child publishes while top samples: the rate must show. */
static void top_shows_rates(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	if (child == 0) {
		struct lobo_stats stats;
		struct lobo_port *p;
		if (lobo_stats_open(&stats, "rate_child", err) || lobo_port_open(&p, "null:?rx_ring=32", NULL, err) ||
		    lobo_stats_add(&stats, p, err))
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (int i = 0; i < 150; i++) {
			traffic(p, 320);
			lobo_stats_publish(&stats);
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
		}
		lobo_stats_close(&stats);
		lobo_port_close(p);
		_exit(0);
	}
	char x;
	close(ready[1]); /* so a child that failed reads as end of file */
	if (read(ready[0], &x, 1) != 1) {
		waitpid(child, NULL, 0);
		skip(); /* cannot publish here (no /run/lobo) */
	}
	char *json = top_output(0.3, true), pat[64];
	snprintf(pat, sizeof pat, "{\"pid\":%d,\"program\":\"rate_child\"", (int)child);
	char *at = strstr(json, pat);
	assert_non_null(at);
	at = strstr(at, "\"rx_pps\":");
	assert_non_null(at);
	double pps = atof(at + 9);
	assert_true(pps > 1000 && pps < 1e7); /* 320 frames per ~10 ms */
	assert_non_null(strstr(at, "\"tx_pps\":0,"));
	int status;
	waitpid(child, &status, 0);
	assert_int_equal(status, 0);
}

/* Prometheus text: every counter, labels escaped, the file replaced whole. */
static void prometheus_file(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN], path[] = "/tmp/lobo-test-XXXXXX", file[64], text[1 << 16], pat[256];
	struct lobo_stats stats;
	struct lobo_port *p;
	if (lobo_stats_open(&stats, "say \"hi\"\\", err))
		skip(); /* needs a writable /run/lobo, as root */
	assert_int_equal(lobo_port_open(&p, "null:?size=64&rx_ring=32", NULL, err), 0);
	assert_int_equal(lobo_stats_add(&stats, p, err), 0);
	traffic(p, 40);
	lobo_port_counters(p, 0)->exception_tx = 7;
	lobo_stats_publish(&stats);
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof file, "%s/lobo.prom", path);
	struct top_opts o = {.interval_s = 0, .iterations = 1, .prom_file = file};
	assert_int_equal(lobo_top_run(stdout, &o, err), 0);
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof text - 1, f)] = 0;
	fclose(f);
	snprintf(pat, sizeof pat, "{pid=\"%d\",program=\"say \\\"hi\\\"\\\\\",port=\"null:?size=64&rx_ring=32\",driver=\"null\",shadow=\"\"}",
		 (int)getpid());
	char line[512];
	snprintf(line, sizeof line, "lobo_rx_packets_total%s 40\n", pat);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof line, "lobo_exception_tx_total%s 7\n", pat);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof line, "lobo_link_up%s 1\n", pat);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "# TYPE lobo_exception_rx_dropped_total counter\n"));
	snprintf(line, sizeof line, "%s.tmp", file);
	assert_int_equal(access(line, F_OK), -1); /* renamed into place */
	o.prom_file = "/nonexistent/dir/lobo.prom";
	assert_int_equal(lobo_top_run(stdout, &o, err), -EIO);
	assert_non_null(strstr(err, "top: cannot write /nonexistent/dir/lobo.prom"));
	unlink(file);
	rmdir(path);
	lobo_stats_close(&stats);
	lobo_port_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(publish_and_read_back),
		cmocka_unit_test(top_shows_rates),
		cmocka_unit_test(prometheus_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
