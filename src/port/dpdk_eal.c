/* DPDK's EAL (dpdk_eal.h), started once per process, by the first dpdk:
 * port, with --no-huge --no-shconf --no-pci for a virtual device (no
 * hugepages, no files, no PCI scan) and --in-memory -a BDF for a PCI device.
 * LOBO_EAL_ARGS replaces these; lobo always adds --no-telemetry and --lcores
 * 0@(the caller's CPUs), so the EAL does not move the calling thread. DPDK's
 * log stays off the terminal (LOBO_DPDK_LOG=1 shows it); its first warning
 * goes into err. */
#include "dpdk_eal.h"
#include "port.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>

/* The EAL is one per process and starts once, so this is the one piece of
 * process-wide state in lobo. */
static struct {
	int rc;                 /* 0: not tried, 1: running, <0: failed */
	struct dpdk_eal running;
	char why[LOBO_ERR_LEN]; /* why the start failed, for every later open */
	char first_warning[160];
} eal;

/* ------------------------------------------------------------- DPDK's log */

static ssize_t log_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	if (getenv("LOBO_DPDK_LOG"))
		fwrite(buf, 1, len, stderr);
	const char *end = memchr(buf, '\n', len); /* buf is not a string */
	if (!eal.first_warning[0] && rte_log_cur_msg_loglevel() <= (int)RTE_LOG_WARNING)
		snprintf(eal.first_warning, sizeof eal.first_warning, "%.*s", (int)(end ? end - buf : (long)len), buf);
	return (ssize_t)len;
}

const char *dpdk_said(const char *dflt)
{
	static char said[sizeof eal.first_warning];
	snprintf(said, sizeof said, "%s", eal.first_warning[0] ? eal.first_warning : dflt);
	eal.first_warning[0] = 0;
	return said;
}

/* ------------------------------------------------------------------- EAL */

/* --lcores=0@(CPUS): the main lcore on every CPU the caller may run on, so
 * that rte_eal_init's pinning of the calling thread changes nothing. */
static void lcores_arg(char *out, size_t len)
{
	cpu_set_t set;
	size_t at = (size_t)snprintf(out, len, "--lcores=0@(");
	if (sched_getaffinity(0, sizeof set, &set)) {
		snprintf(out, len, "--lcores=0@(0)");
		return;
	}
	for (int c = 0; c < CPU_SETSIZE && at < len; c++) {
		if (!CPU_ISSET(c, &set) || (c > 0 && CPU_ISSET(c - 1, &set)))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
			e++;
		at += (size_t)snprintf(out + at, len - at, e > c ? "%d-%d," : "%d,", c, e);
	}
	if (at < len)
		out[at - 1] = ')';
}

/* Splits a copy of LOBO_EAL_ARGS, or lobo's defaults, into argv after argv[0..fixed). */
static int eal_argv(char **argv, int fixed, int max, char *words, size_t len, const char *bdf)
{
	const char *user = getenv("LOBO_EAL_ARGS");
	if (user)
		snprintf(words, len, "%s", user);
	else if (bdf)
		snprintf(words, len, "--in-memory -a %s", bdf);
	else
		snprintf(words, len, "--no-huge --no-shconf --no-pci -m 512");
	int argc = fixed;
	for (char *save, *w = strtok_r(words, " \t", &save); w && argc < max - 1; w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	return argc;
}

static bool hugepages_free(void)
{
	char line[128];
	long n = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n > 0;
}

/* rte_eal_init prints its usage on stdout and getopt's complaints on stderr
 * when it dislikes an argument: both go to a scratch file meanwhile, so that a
 * failure stays one line, and the complaint (first line of stderr) into `said`. */
static int eal_init_quiet(int argc, char **argv, char *said, size_t len)
{
	int out = dup(STDOUT_FILENO), errfd = dup(STDERR_FILENO), scratch = memfd_create("lobo-eal", MFD_CLOEXEC);
	bool quiet = out >= 0 && errfd >= 0 && scratch >= 0 && !getenv("LOBO_DPDK_LOG");
	*said = 0;
	fflush(stdout);
	fflush(stderr);
	if (quiet) {
		dup2(scratch, STDOUT_FILENO);
		dup2(scratch, STDERR_FILENO);
	}
	int saved_opterr = opterr; /* a program that parsed its own options may have silenced getopt */
	opterr = 1;
	int rc = rte_eal_init(argc, argv) < 0 ? -rte_errno : 0;
	opterr = saved_opterr;
	fflush(stdout);
	fflush(stderr);
	if (quiet) {
		dup2(out, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		ssize_t n = pread(scratch, said, len - 1, 0);
		said[n > 0 ? n : 0] = 0;
		said[strcspn(said, "\n")] = 0;
	}
	if (out >= 0)
		close(out);
	if (errfd >= 0)
		close(errfd);
	if (scratch >= 0)
		close(scratch);
	return rc;
}

int dpdk_eal_start(const char *bdf, const struct rte_mempool_ops *zc_ops, const struct dpdk_eal **out, char *err)
{
	char lcores[256], words[1024], said[160], *argv[64] = {"lobo", "--no-telemetry", lcores};
	*out = &eal.running;
	if (eal.rc > 0)
		return 0;
	if (eal.rc < 0)
		return lobo_fail(err, eal.rc, "%s", eal.why);
	if (bdf && !getenv("LOBO_EAL_ARGS") && !hugepages_free())
		return lobo_fail(err, -ENOMEM, "dpdk: DPDK needs hugepages to drive %s and none are free: "
				 "echo 256 > /proc/sys/vm/nr_hugepages", bdf);
	lcores_arg(lcores, sizeof lcores);
	int argc = eal_argv(argv, 3, 64, words, sizeof words, bdf);
	FILE *log = fopencookie(NULL, "w", (cookie_io_functions_t){.write = log_write});
	if (log) {
		setvbuf(log, NULL, _IOLBF, BUFSIZ); /* one write per line */
		rte_openlog_stream(log);
	}
	int rc = eal_init_quiet(argc, argv, said, sizeof said);
	if (rc) {
		const char *why = strncmp(said, "lobo: ", 6) ? dpdk_said("rte_eal_init failed") : said + 6; /* getopt's */
		lobo_err(eal.why, "dpdk: cannot start DPDK's EAL: %.100s: check LOBO_EAL_ARGS ('%.60s')", why,
			 getenv("LOBO_EAL_ARGS") ? getenv("LOBO_EAL_ARGS") : "unset");
		eal.rc = rc;
		return lobo_fail(err, rc, "%s", eal.why);
	}
	eal.rc = 1;
	eal.running.pci = bdf || getenv("LOBO_EAL_ARGS");
	eal.running.zc_ops = rte_mempool_register_ops(zc_ops);
	rte_eth_dev_owner_new(&eal.running.owner);
	dpdk_said(NULL);
	return 0;
}
