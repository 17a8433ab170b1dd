/* Counters published to /run/lobo/<pid> for `lobo top`. Ports count into
 * private memory; publish copies them out, so the data path never writes a
 * page another process maps (Snabb's shm counters, same reason). */
#include "lobo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Files of processes that died without lobo_stats_close. */
static void remove_stale(void)
{
	DIR *dir = opendir(LOBO_STATS_DIR);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (pid > 0 && !*end && kill((pid_t)pid, 0) && errno == ESRCH)
			unlinkat(dirfd(dir), e->d_name, 0);
	}
	if (dir)
		closedir(dir);
}

int lobo_stats_open(struct lobo_stats *stats, const char *program, char *err)
{
	memset(stats, 0, sizeof *stats);
	if (mkdir(LOBO_STATS_DIR, 0755) && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, LOBO_ERR_LEN, "cannot create %s: %s (run as root, or create it writable for this user)",
			 LOBO_STATS_DIR, strerror(errno));
		return rc;
	}
	remove_stale();
	snprintf(stats->path, sizeof stats->path, "%s/%d", LOBO_STATS_DIR, (int)getpid());
	int fd = open(stats->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, sizeof *stats->file)) {
		int rc = -errno;
		snprintf(err, LOBO_ERR_LEN, "cannot create %s: %s (is %s writable?)", stats->path, strerror(errno), LOBO_STATS_DIR);
		if (fd >= 0) {
			close(fd);
			unlink(stats->path);
		}
		return rc;
	}
	void *map = mmap(NULL, sizeof *stats->file, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		int rc = -errno;
		snprintf(err, LOBO_ERR_LEN, "cannot map %s: %s", stats->path, strerror(errno));
		unlink(stats->path);
		return rc;
	}
	stats->file = map;
	stats->file->version = LOBO_STATS_VERSION;
	stats->file->pid = (int32_t)getpid();
	snprintf(stats->file->program, sizeof stats->file->program, "%s", program);
	/* Magic last: a reader that sees it sees a complete header. */
	__atomic_store_n(&stats->file->magic, LOBO_STATS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int lobo_stats_add(struct lobo_stats *stats, struct lobo_port *port, char *err)
{
	uint32_t n = stats->file->nports;
	if (n >= LOBO_STATS_MAX_PORTS) {
		snprintf(err, LOBO_ERR_LEN, "cannot publish more than %d ports per process: open fewer ports", LOBO_STATS_MAX_PORTS);
		return -ENOSPC;
	}
	stats->ports[n] = port;
	__atomic_store_n(&stats->file->nports, n + 1, __ATOMIC_RELEASE);
	lobo_stats_publish(stats);
	return 0;
}

void lobo_stats_publish(struct lobo_stats *stats)
{
	struct lobo_stats_file *f = stats->file;
	for (uint32_t i = 0; f && i < f->nports; i++) {
		struct lobo_port *port = stats->ports[i];
		struct lobo_stats_port *out = &f->port[i];
		out->info = *lobo_port_info(port);
		for (uint16_t q = 0; q < out->info.queues && q < LOBO_MAX_QUEUES; q++)
			out->queue[q] = *lobo_port_counters(port, q);
		out->hw = *lobo_port_hw_counters(port);
		lobo_port_counters_sum(port, &out->total);
	}
	struct timespec now;
	if (!f)
		return; /* never opened: nothing to publish to */
	clock_gettime(CLOCK_MONOTONIC, &now);
	__atomic_store_n(&f->updated_ns, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, __ATOMIC_RELEASE);
}

void lobo_stats_close(struct lobo_stats *stats)
{
	if (!stats->file)
		return;
	munmap(stats->file, sizeof *stats->file);
	unlink(stats->path);
	memset(stats, 0, sizeof *stats);
}
