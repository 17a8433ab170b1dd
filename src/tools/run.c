/* What every tool shares: ports over one region and pool, and the run loop
 * that keeps time, reports once a second and publishes counters for top. */
#include "tools.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000ull
#define PUBLISH_NS (NS / 10) /* `lobo top` redraws about once a second; 10 samples keep it smooth */
#define SERVICE_NS (NS / 1000) /* shadow interfaces: what the kernel sends waits at most 1 ms */

uint64_t tool_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec;
}

int tool_session_open(struct tool_session *s, const char *program, const char *const *uris,
		      uint16_t nports, uint32_t buffers, char *err)
{
	memset(s, 0, sizeof *s);
	int rc = lobo_mem_alloc(&s->mem, (size_t)buffers * TOOL_BUF_SIZE, err);
	if (!rc)
		rc = lobo_pool_init(&s->pool, &s->mem, 0, TOOL_BUF_SIZE, buffers, err);
	for (uint16_t i = 0; !rc && i < nports; i++) {
		rc = lobo_port_open(&s->port[i], uris[i], &s->mem, err);
		if (rc && (rc == -EPERM || rc == -EACCES) && geteuid() != 0)
			tool_err(err, "opening %s needs root: run lobo as root (e.g. sudo lobo ...)", uris[i]);
		if (!rc)
			s->nports++;
	}
	if (rc) {
		tool_session_close(s);
		return rc;
	}
	s->stats_open = !lobo_stats_open(&s->stats, program, s->stats_err);
	for (uint16_t i = 0; s->stats_open && i < nports; i++)
		lobo_stats_add(&s->stats, s->port[i], s->stats_err);
	return 0;
}

void tool_session_close(struct tool_session *s)
{
	if (s->stats_open)
		lobo_stats_close(&s->stats);
	for (uint16_t i = 0; i < s->nports; i++)
		lobo_port_close(s->port[i]);
	if (s->pool.stack)
		lobo_pool_destroy(&s->pool);
	lobo_mem_free(&s->mem);
	memset(s, 0, sizeof *s);
}

static uint64_t cpu_ns(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return ((uint64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000u + (uint64_t)u.ru_utime.tv_usec +
		(uint64_t)u.ru_stime.tv_usec) * 1000u;
}

static void take_report(struct tool_loop *l, uint64_t now, bool final)
{
	struct tool_report *r = &l->report;
	r->final = final;
	r->seconds = (double)(now - l->start_ns) / NS;
	r->interval = final ? r->seconds : (double)(now - l->last_report_ns) / NS;
	r->cpu_seconds = (double)(cpu_ns() - l->start_cpu_ns) / NS;
	for (uint16_t i = 0; i < r->nports; i++) {
		struct lobo_counters c;
		lobo_port_hw_counters(l->s->port[i]); /* the NIC's drops belong in the sum */
		lobo_port_counters_sum(l->s->port[i], &c);
		const uint64_t *a = (const uint64_t *)&c, *b = (const uint64_t *)&r->total[i];
		uint64_t *d = (uint64_t *)&r->delta[i];
		for (size_t k = 0; k < sizeof c / sizeof *a; k++)
			d[k] = final ? a[k] : a[k] - b[k];
		r->total[i] = c;
	}
	l->last_report_ns = now;
	if (l->run->report)
		l->run->report(r, l->run->ctx);
}

/* Hugepages only matter to a device doing DMA (kernel-backed ports copy or
 * map pages themselves): a pci: port on 4 KiB pages works through VFIO, but
 * every buffer costs the IOMMU and the TLB a separate entry. And a device
 * without an IOMMU between it and memory can write anywhere. Said once the
 * run has started, so that a bad input fails with its one line alone. */
static void warn_pci(const struct tool_session *s, const struct tool_run *run)
{
	char line[LOBO_ERR_LEN];
	bool small_pages_told = false;
	for (uint16_t i = 0; i < s->nports && run->warn; i++) {
		const struct lobo_port_info *info = lobo_port_info(s->port[i]);
		if (strncmp(info->name, "pci:", 4))
			continue;
		if (!s->mem.huge && !small_pages_told) {
			snprintf(line, sizeof line, "no hugepages, so %s runs on 4 KiB pages, slower "
				 "(echo 64 > /proc/sys/vm/nr_hugepages)", info->name);
			run->warn(line, run->ctx);
			small_pages_told = true;
		}
		if (strstr(info->mode, "no-iommu") || strstr(info->mode, "iommu bypassed")) {
			snprintf(line, sizeof line, "%s has no IOMMU between it and memory: it could write anywhere "
				 "(no isolation)", info->name);
			run->warn(line, run->ctx);
		}
	}
}

void tool_loop_start(struct tool_loop *l, struct tool_session *s, const struct tool_run *run)
{
	warn_pci(s, run);
	memset(l, 0, sizeof *l);
	l->s = s;
	l->run = run;
	l->start_ns = l->last_report_ns = tool_now_ns();
	l->start_cpu_ns = cpu_ns();
	l->end_ns = run->duration > 0 ? l->start_ns + (uint64_t)(run->duration * NS) : UINT64_MAX;
	l->next_publish_ns = l->start_ns + PUBLISH_NS;
	l->next_report_ns = l->start_ns + NS;
	l->report.nports = s->nports;
	for (uint16_t i = 0; i < s->nports; i++)
		l->report.name[i] = lobo_port_info(s->port[i])->name;
	if (s->stats_open)
		lobo_stats_publish(&s->stats);
}

/* Shadow interfaces: control changes, carrier, the kernel's frames. Tools
 * poll every queue from one thread, so this is queue 0's thread too. */
static void service_ports(struct tool_loop *l)
{
	char err[LOBO_ERR_LEN];
	for (uint16_t i = 0; i < l->s->nports; i++) {
		int rc = lobo_port_service(l->s->port[i], err);
		if (rc == -ESTALE && !l->fatal) { /* e.g. the kernel took its NIC back from igb's kernel=keep */
			l->fatal = rc;
			snprintf(l->fatal_err, sizeof l->fatal_err, "%s", err);
		} else if (rc < 0 && l->run->warn) {
			l->run->warn(err, l->run->ctx);
		}
	}
}

bool tool_loop_tick(struct tool_loop *l)
{
	/* Reading the clock costs ~20 ns even through the vDSO, more than a
	 * round of small batches: a busy loop looks every 16th round. */
	if ((++l->rounds & 15) && !l->idle_rounds)
		return !(l->run->stop && *l->run->stop);
	uint64_t now = tool_now_ns();
	if (now >= l->next_service_ns) {
		service_ports(l);
		l->next_service_ns = now + SERVICE_NS;
	}
	if (now >= l->next_publish_ns) {
		if (l->s->stats_open)
			lobo_stats_publish(&l->s->stats);
		l->next_publish_ns = now + PUBLISH_NS;
	}
	if (now >= l->next_report_ns) {
		take_report(l, now, false);
		l->next_report_ns += NS;
	}
	return !(l->run->stop && *l->run->stop) && now < l->end_ns && !l->fatal;
}

int tool_loop_finish(struct tool_loop *l, char *err)
{
	if (l->s->stats_open)
		lobo_stats_publish(&l->s->stats);
	take_report(l, tool_now_ns(), true);
	if (l->fatal && err)
		snprintf(err, LOBO_ERR_LEN, "%s", l->fatal_err);
	return l->fatal;
}

void tool_loop_work(struct tool_loop *l, uint32_t frames)
{
	if (frames)
		l->idle_rounds = 0;
	else if (++l->idle_rounds >= 1024)
		nanosleep(&(struct timespec){0, 50000}, NULL);
}

void tool_refill(struct lobo_pool *pool, struct lobo_port *port, uint16_t queue,
		 uint32_t *posted, uint32_t ring)
{
	struct lobo_frame f[TOOL_MAX_BATCH]; /* a round may take up to --batch frames from each queue */
	/* In batches: a NIC's ring takes buffers with a register write (an exit
	 * to the hypervisor in a VM), and a full ring takes none anyway. */
	uint32_t missing = ring - *posted, batch = tool_refill_batch(ring);
	if (*posted && missing < batch)
		return;
	uint32_t n = lobo_pool_alloc(pool, f, missing < TOOL_MAX_BATCH ? missing : TOOL_MAX_BATCH);
	uint16_t took = lobo_rx_post(port, queue, f, (uint16_t)n);
	lobo_pool_free(pool, f + took, n - took);
	*posted += took;
}

bool tool_port_exhausted(const struct tool_loop *l, struct lobo_port *port)
{
	/* Asking refreshes port info (syscalls on kernel ports), so only once idle. */
	if (l->idle_rounds < 1024)
		return false;
	const struct lobo_port_info *info = lobo_port_info(port);
	return !strcmp(info->driver, "pcap") && !info->link_up;
}
