/* Counters published to /run/lobo/<pid> for `lobo top`. Ports count into
 * private memory; publish copies them out, so the data path never writes a
 * page another process maps (Snabb's shm counters, same reason).
 *
 * Two rules keep a reader honest. A sequence count around each publish (a
 * seqlock: odd while writing) lets it take a copy that is one whole publish,
 * never the start of one and the end of the next. And the writer holds a
 * flock on the file for as long as it lives: the kernel drops the lock when
 * the process ends, however it ends (kill -9 included), so a reader that can
 * take the lock has found a file nobody will update again, and removes it. */
#include "port.h" /* the port's info and hardware counters as they are, without refreshing */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_TRIES 1000 /* a publish takes microseconds: this many overlaps means a stuck writer */

/* Removes dir/name if no process holds it locked any more. fd is the file,
 * open; it is checked to still be dir/name, so a new file of a reused pid
 * that replaced it in the meantime stays. Returns true if it was abandoned. */
static bool remove_if_abandoned(int dir, const char *name, int fd)
{
	struct stat mine, now;
	if (flock(fd, LOCK_SH | LOCK_NB))
		return false; /* its writer lives */
	if (!fstat(fd, &mine) && !fstatat(dir, name, &now, 0) && mine.st_ino == now.st_ino && mine.st_dev == now.st_dev)
		unlinkat(dir, name, 0);
	return true;
}

/* Files of processes that died without lobo_stats_close, and half-made ones
 * (".<pid>") of processes that died while opening. */
static void remove_stale(void)
{
	DIR *dir = opendir(LOBO_STATS_DIR);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		char *end;
		bool tmp = e->d_name[0] == '.';
		long pid = strtol(e->d_name + tmp, &end, 10);
		if (pid <= 0 || *end)
			continue;
		if (tmp && kill((pid_t)pid, 0) && errno == ESRCH) {
			unlinkat(dirfd(dir), e->d_name, 0);
			continue;
		}
		int fd = tmp ? -1 : openat(dirfd(dir), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			remove_if_abandoned(dirfd(dir), e->d_name, fd);
			close(fd);
		}
	}
	if (dir)
		closedir(dir);
}

/* The file is made under a hidden name, locked, filled in, and only then
 * renamed into place: a reader never finds it unlocked or half-made. */
int lobo_stats_open(struct lobo_stats *stats, const char *program, char *err)
{
	char tmp[128];
	const char *what = tmp;
	memset(stats, 0, sizeof *stats);
	stats->fd = -1;
	if (mkdir(LOBO_STATS_DIR, 0755) && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, LOBO_ERR_LEN, "cannot create %s: %s (run as root, or create it writable for this user)",
			 LOBO_STATS_DIR, strerror(errno));
		return rc;
	}
	remove_stale();
	snprintf(stats->path, sizeof stats->path, "%s/%d", LOBO_STATS_DIR, (int)getpid());
	snprintf(tmp, sizeof tmp, "%s/.%d", LOBO_STATS_DIR, (int)getpid());
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = 0;
	if (fd < 0)
		goto fail;
	if (flock(fd, LOCK_EX | LOCK_NB) || ftruncate(fd, sizeof *stats->file))
		goto fail_unlink;
	struct lobo_stats_file *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		goto fail_unlink;
	f->version = LOBO_STATS_VERSION;
	f->pid = (int32_t)getpid();
	snprintf(f->program, sizeof f->program, "%s", program);
	f->magic = LOBO_STATS_MAGIC;
	what = stats->path;
	if (rename(tmp, stats->path))
		goto fail_unmap;
	stats->file = f;
	stats->fd = fd;
	return 0;
fail_unmap:
	rc = -errno;
	munmap(f, sizeof *f);
fail_unlink:
	rc = rc ? rc : -errno;
	unlink(tmp);
	close(fd);
fail:
	rc = rc ? rc : -errno;
	snprintf(err, LOBO_ERR_LEN, "cannot create %s: %s (is %s writable?)", what, strerror(-rc), LOBO_STATS_DIR);
	return rc;
}

int lobo_stats_add(struct lobo_stats *stats, struct lobo_port *port, char *err)
{
	if (stats->nports >= LOBO_STATS_MAX_PORTS) {
		snprintf(err, LOBO_ERR_LEN, "cannot publish more than %d ports per process: open fewer ports", LOBO_STATS_MAX_PORTS);
		return -ENOSPC;
	}
	stats->ports[stats->nports++] = port;
	lobo_stats_publish(stats);
	return 0;
}

void lobo_stats_publish(struct lobo_stats *stats)
{
	struct lobo_stats_file *f = stats->file;
	struct timespec now;
	if (!f)
		return; /* never opened: nothing to publish to */
	/* Refreshing info and reading a NIC's statistics registers takes system
	 * calls or register reads (each an exit under emulation): all before the
	 * write starts, so that the odd window is a few copies long. */
	for (uint32_t i = 0; i < stats->nports; i++) {
		lobo_port_info(stats->ports[i]);
		lobo_port_hw_counters(stats->ports[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Odd, then a release fence: no store below moves above it. */
	__atomic_store_n(&f->seq, f->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (uint32_t i = 0; i < stats->nports; i++) {
		struct lobo_port *port = stats->ports[i];
		struct lobo_stats_port *out = &f->port[i];
		out->info = port->info;
		for (uint16_t q = 0; q < out->info.queues && q < LOBO_MAX_QUEUES; q++)
			out->queue[q] = *lobo_port_counters(port, q);
		out->hw = port->hw;
		lobo_port_counters_sum(port, &out->total);
	}
	f->nports = stats->nports;
	f->updated_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	__atomic_store_n(&f->seq, f->seq + 1, __ATOMIC_RELEASE); /* even: the stores above are visible first */
}

void lobo_stats_close(struct lobo_stats *stats)
{
	if (!stats->file)
		return;
	munmap(stats->file, sizeof *stats->file);
	unlink(stats->path);
	close(stats->fd); /* unlinked first: no reader mistakes it for abandoned */
	memset(stats, 0, sizeof *stats);
	stats->fd = -1;
}

/* One whole publish out of the shared file f, or -EAGAIN. */
static int copy_one_publish(const struct lobo_stats_file *f, struct lobo_stats_file *copy)
{
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint64_t seq = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE);
		if (seq & 1) { /* a publish is under way: on one CPU only its writer can end it */
			sched_yield();
			continue;
		}
		memcpy(copy, f, sizeof *copy);
		/* The copy's loads complete before seq is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&f->seq, __ATOMIC_RELAXED) == seq)
			return 0;
	}
	return -EAGAIN;
}

/* The file of pid, mapped for reading, or MAP_FAILED with *rc saying why. */
static const struct lobo_stats_file *map_file(int pid, int *rc)
{
	const struct lobo_stats_file *f = MAP_FAILED;
	char name[32];
	struct stat st;
	snprintf(name, sizeof name, "%d", pid);
	int dir = open(LOBO_STATS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		*rc = -errno;
		return f;
	}
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*rc = -errno;
		goto out;
	}
	if (remove_if_abandoned(dir, name, fd)) {
		*rc = -ESRCH;
		goto out_close;
	}
	if (fstat(fd, &st) || st.st_size != sizeof *f) {
		*rc = -EINVAL; /* not ours, or cut short: never map past its end */
		goto out_close;
	}
	f = mmap(NULL, sizeof *f, PROT_READ, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		*rc = -errno;
out_close:
	close(fd);
out:
	close(dir);
	return f;
}

int lobo_stats_read(int pid, struct lobo_stats_file *copy)
{
	int rc = 0;
	const struct lobo_stats_file *f = map_file(pid, &rc);
	if (f == MAP_FAILED)
		return rc;
	rc = copy_one_publish(f, copy);
	munmap((void *)f, sizeof *f);
	if (rc)
		return rc;
	if (copy->magic != LOBO_STATS_MAGIC || copy->version != LOBO_STATS_VERSION || copy->pid != pid ||
	    copy->nports > LOBO_STATS_MAX_PORTS)
		return -EINVAL;
	copy->program[sizeof copy->program - 1] = 0;
	for (uint32_t i = 0; i < copy->nports; i++) {
		struct lobo_port_info *info = &copy->port[i].info;
		info->name[sizeof info->name - 1] = info->driver[sizeof info->driver - 1] = 0;
		info->mode[sizeof info->mode - 1] = info->shadow[sizeof info->shadow - 1] = 0;
	}
	return 0;
}
