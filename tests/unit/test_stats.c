/* Published counters: what a process publishes is what `lobo top` reads,
 * one whole publish at a time; files of dead processes are ignored and
 * cleaned up. Needs /run writable. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lobo.h"
#include "../../src/tools/top.h"

static uint8_t bufs[32][64];

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

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
	volatile sig_atomic_t stop = 0;
	struct top_opts o = {.interval_s = interval, .iterations = 1, .json = json, .stop = &stop};
	assert_int_equal(lobo_top_run(out, &o, err), 0);
	rewind(out);
	text[fread(text, 1, sizeof text - 1, out)] = 0;
	fclose(out);
	return text;
}

/* Writes a complete stats file for pid that nobody holds locked. */
static void write_unlocked(int pid, const char *program)
{
	char path[64];
	snprintf(path, sizeof path, "%s/%d", LOBO_STATS_DIR, pid);
	struct lobo_stats_file *f = calloc(1, sizeof *f);
	*f = (struct lobo_stats_file){.magic = LOBO_STATS_MAGIC, .version = LOBO_STATS_VERSION, .pid = pid};
	snprintf(f->program, sizeof f->program, "%s", program);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(f, sizeof *f, 1, fp), 1);
	fclose(fp);
	free(f);
}

/* Writes `len` bytes of f to our own pid's path and holds it locked, as a
 * live writer would; returns the locked fd. */
static int write_locked(const void *f, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "%s/%d", LOBO_STATS_DIR, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(write(fd, f, len), (ssize_t)len);
	return fd;
}

static void publish_and_read_back(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN], ghost[64], pat[64];
	struct lobo_stats stats;
	struct lobo_stats_file copy, *f;
	mkdir(LOBO_STATS_DIR, 0755);
	if (access(LOBO_STATS_DIR, W_OK))
		skip(); /* needs a writable /run/lobo, as root */
	/* A file nobody holds: its writer is gone, even though pid 1 lives (a
	 * reused pid must not bring a dead file back to life). */
	write_unlocked(1, "ghost");
	snprintf(ghost, sizeof ghost, "%s/1", LOBO_STATS_DIR);
	assert_null(strstr(top_output(0, true), "ghost"));
	assert_int_equal(access(ghost, F_OK), -1); /* lobo top removed it */
	write_unlocked(1, "ghost");
	assert_int_equal(lobo_stats_read(1, &copy), -ESRCH);
	assert_int_equal(access(ghost, F_OK), -1);
	write_unlocked(1, "ghost");
	assert_int_equal(lobo_stats_open(&stats, "test_stats", err), 0);
	assert_int_equal(access(ghost, F_OK), -1); /* a writer removes them too */

	struct lobo_port *p;
	assert_int_equal(lobo_port_open(&p, "null:?size=64&rx_ring=32", NULL, err), 0);
	assert_int_equal(lobo_stats_add(&stats, p, err), 0);
	traffic(p, 40);
	lobo_port_counters(p, 0)->rx_dropped = 3;
	lobo_stats_publish(&stats);

	assert_int_equal(lobo_stats_read(getpid(), &copy), 0);
	assert_int_equal(copy.nports, 1);
	assert_string_equal(copy.program, "test_stats");
	assert_string_equal(copy.port[0].info.driver, "null");
	assert_int_equal(copy.port[0].total.rx_packets, 40);
	assert_int_equal(copy.port[0].total.rx_bytes, 40 * 64);
	assert_int_equal(copy.port[0].total.rx_dropped, 3);
	assert_int_equal(copy.port[0].queue[0].rx_packets, 40);
	assert_true(copy.updated_ns > 0);
	assert_int_equal(copy.seq % 2, 0);

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
	char junk[sizeof copy];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)rand();
	int fd = write_locked(junk, sizeof junk);
	assert_int_equal(lobo_stats_read(getpid(), &copy), -EINVAL);
	close(fd);
	f = calloc(1, sizeof *f); /* complete but no magic */
	*f = (struct lobo_stats_file){.version = LOBO_STATS_VERSION, .pid = getpid()};
	fd = write_locked(f, sizeof *f);
	assert_int_equal(lobo_stats_read(getpid(), &copy), -EINVAL);
	close(fd);
	f->magic = LOBO_STATS_MAGIC;
	fd = write_locked(f, sizeof *f);
	assert_int_equal(lobo_stats_read(getpid(), &copy), 0);
	assert_int_not_equal(ftruncate(fd, 100), -1);
	assert_int_equal(lobo_stats_read(getpid(), &copy), -EINVAL);
	f->seq = 1; /* a writer that died mid-publish while someone holds the file: never a half copy */
	fd = (close(fd), write_locked(f, sizeof *f));
	assert_int_equal(lobo_stats_read(getpid(), &copy), -EAGAIN);
	close(fd);
	free(f);
	unlink(pat);
}

/* kill -9 leaves the file behind (nothing runs to remove it); lobo top does
 * not show it, and removes it. */
static void killed_writer_cleaned_up(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN], path[64];
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	if (child == 0) {
		struct lobo_stats stats;
		struct lobo_port *p;
		if (lobo_stats_open(&stats, "killed_child", err) || lobo_port_open(&p, "null:", NULL, err) ||
		    lobo_stats_add(&stats, p, err))
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	char x;
	close(ready[1]);
	if (read(ready[0], &x, 1) != 1) {
		waitpid(child, NULL, 0);
		skip(); /* cannot publish here (no /run/lobo) */
	}
	struct lobo_stats_file copy;
	assert_int_equal(lobo_stats_read((int)child, &copy), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	snprintf(path, sizeof path, "%s/%d", LOBO_STATS_DIR, (int)child);
	assert_int_equal(access(path, F_OK), 0); /* left behind */
	assert_null(strstr(top_output(0, true), "killed_child"));
	assert_int_equal(access(path, F_OK), -1);
}

/* A fake forwarder in another thread moves frames from null port a to null
 * port b and publishes after every batch, so rx(a) == tx(b) in every publish;
 * every copy the reader takes meanwhile must show the same, in total and per
 * queue. Without the sequence count the reader sees halves of two publishes. */
struct forwarder {
	struct lobo_stats *stats;
	struct lobo_port *a, *b;
	volatile int stop;
};

static void *forward(void *arg)
{
	struct forwarder *fw = arg;
	static uint8_t buf[4][64];
	struct lobo_frame f[4];
	for (uint64_t round = 0; !fw->stop; round++) {
		uint16_t q = (uint16_t)(round % 4);
		for (int i = 0; i < 4; i++)
			f[i] = (struct lobo_frame){.data = buf[i], .len = 64, .tag = (uint64_t)i};
		lobo_rx_post(fw->a, q, f, 4);
		uint16_t n = lobo_rx_poll(fw->a, q, f, 4);
		n = lobo_tx_post(fw->b, q, f, n);
		lobo_tx_reclaim(fw->b, q, f, 4);
		lobo_stats_publish(fw->stats);
		/* Back-to-back publishes leave a reader no whole copy at all; a
		 * pause now and then gives it some, and most reads still overlap. */
		if (round % 16 == 15)
			nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
	}
	return NULL;
}

static void snapshots_are_whole(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_stats stats;
	struct forwarder fw = {.stats = &stats};
	if (lobo_stats_open(&stats, "seqlock", err))
		skip(); /* needs a writable /run/lobo, as root */
	assert_int_equal(lobo_port_open(&fw.a, "null:?queues=4&size=64", NULL, err), 0);
	assert_int_equal(lobo_port_open(&fw.b, "null:?queues=4", NULL, err), 0);
	assert_int_equal(lobo_stats_add(&stats, fw.a, err), 0);
	assert_int_equal(lobo_stats_add(&stats, fw.b, err), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, forward, &fw), 0);
	struct lobo_stats_file *copy = malloc(sizeof *copy);
	uint64_t last = 0, reads = 0, torn = 0;
	for (uint64_t start = now_ns(); now_ns() - start < 1500000000ull;) {
		if (lobo_stats_read(getpid(), copy))
			continue;
		reads++;
		const struct lobo_stats_port *a = &copy->port[0], *b = &copy->port[1];
		uint64_t qa = 0, qb = 0;
		for (int q = 0; q < 4; q++)
			qa += a->queue[q].rx_packets, qb += b->queue[q].tx_packets;
		torn += a->total.rx_packets != b->total.tx_packets || qa != a->total.rx_packets ||
			qb != b->total.tx_packets || copy->nports != 2 || a->total.rx_packets < last;
		last = a->total.rx_packets;
	}
	fw.stop = 1;
	pthread_join(t, NULL);
	print_message("%" PRIu64 " snapshots read while publishing, %" PRIu64 " torn, last rx %" PRIu64 "\n",
		      reads, torn, last);
	assert_true(reads > 1000 && last > 1000);
	assert_int_equal(torn, 0);
	free(copy);
	lobo_stats_close(&stats);
	lobo_port_close(fw.a);
	lobo_port_close(fw.b);
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
		cmocka_unit_test(killed_writer_cleaned_up),
		cmocka_unit_test(snapshots_are_whole),
		cmocka_unit_test(top_shows_rates),
		cmocka_unit_test(prometheus_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
