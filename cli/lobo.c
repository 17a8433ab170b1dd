/* lobo: the command line over src/tools. Parsing and printing only. */
#include "args.h"
#include "top.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop; /* a signal handler can only reach a global */

static void on_signal(int sig) { (void)sig, stop = 1; }

/* Every way a run can be asked to end sets stop, so the tool finishes its
 * loop and closes its ports: XDP programs detached, /run/lobo/<pid> removed.
 * Installed before any port opens. A reader that goes away (lobo ... | head)
 * must not kill us with SIGPIPE either: the write fails with EPIPE instead
 * and on_report ends the run. No SA_RESTART: a blocked call returns. */
static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	static const int ending[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	for (size_t i = 0; i < sizeof ending / sizeof ending[0]; i++)
		sigaction(ending[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lobo: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* "12.3 M" style, so a line stays short from 1 pps to 100 Gbit/s. */
static const char *si(char *buf, double v, const char *unit)
{
	static const char prefix[] = " kMGT";
	int i = 0;
	for (; v >= 999.5 && i < 4; i++)
		v /= 1000;
	if (i)
		snprintf(buf, 24, "%.3g %c%s", v, prefix[i], unit);
	else
		snprintf(buf, 24, "%.0f %s", v, unit);
	return buf;
}

static void print_json(const struct tool_report *r)
{
	double t = r->interval > 0 ? r->interval : 1;
	printf("{\"type\":\"%s\",\"seconds\":%.3f,\"ports\":{", r->final ? "summary" : "rate", r->seconds);
	for (uint16_t i = 0; i < r->nports; i++) {
		const struct lobo_counters *c = &r->delta[i];
		printf(i ? ",\"" : "\"");
		for (const char *p = r->name[i]; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		/* Keys must differ: `fwd null: null:` names the second port null:#2. */
		printf(i && !strcmp(r->name[0], r->name[i]) ? "#%u\":{" : "\":{", i + 1);
		printf("\"rx_packets\":%" PRIu64 ",\"tx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		       ",\"tx_bytes\":%" PRIu64 ",\"rx_dropped\":%" PRIu64 ",\"tx_dropped\":%" PRIu64
		       ",\"rx_errors\":%" PRIu64 ",\"tx_errors\":%" PRIu64 ",\"rx_pps\":%.0f,\"tx_pps\":%.0f"
		       ",\"rx_bps\":%.0f,\"tx_bps\":%.0f,\"exception_rx\":%" PRIu64 ",\"exception_tx\":%" PRIu64
		       ",\"exception_rx_dropped\":%" PRIu64 ",\"exception_tx_dropped\":%" PRIu64 "}",
		       c->rx_packets, c->tx_packets, c->rx_bytes, c->tx_bytes, c->rx_dropped, c->tx_dropped,
		       c->rx_errors, c->tx_errors, c->rx_packets / t, c->tx_packets / t,
		       c->rx_bytes * 8 / t, c->tx_bytes * 8 / t, c->exception_rx, c->exception_tx,
		       c->exception_rx_dropped, c->exception_tx_dropped);
	}
	printf("},\"filtered\":%" PRIu64, r->filtered);
	if (r->loop)
		printf(",\"loop\":\"%s\"", r->loop);
	if (r->final)
		printf(",\"cpu_seconds\":%.3f", r->cpu_seconds);
	printf("}\n");
}

static void print_text(const struct tool_report *r)
{
	double t = r->interval > 0 ? r->interval : 1;
	char a[24], b[24], c[24], d[24];
	printf(r->final ? "summary %.2f s:" : "%6.1f s:", r->seconds);
	for (uint16_t i = 0; i < r->nports; i++) {
		const struct lobo_counters *k = &r->delta[i];
		printf("%s %s rx %s %s, tx %s %s, dropped rx %" PRIu64 " tx %" PRIu64, i ? " |" : "", r->name[i],
		       si(a, k->rx_packets / t, "pps"), si(b, k->rx_bytes * 8 / t, "bit/s"),
		       si(c, k->tx_packets / t, "pps"), si(d, k->tx_bytes * 8 / t, "bit/s"), k->rx_dropped, k->tx_dropped);
		if (k->rx_errors || k->tx_errors)
			printf(", errors rx %" PRIu64 " tx %" PRIu64, k->rx_errors, k->tx_errors);
		if (k->exception_rx || k->exception_tx || k->exception_rx_dropped || k->exception_tx_dropped)
			printf(", exception rx %" PRIu64 " tx %" PRIu64 " dropped rx %" PRIu64 " tx %" PRIu64, k->exception_rx,
			       k->exception_tx, k->exception_rx_dropped, k->exception_tx_dropped);
		if (r->final)
			printf(" (%" PRIu64 " frames in, %" PRIu64 " out)", k->rx_packets, k->tx_packets);
	}
	if (r->filtered)
		printf(", filtered %" PRIu64, r->filtered);
	if (r->final && r->loop)
		printf(", looped in %s", r->loop);
	printf(r->final ? ", CPU %.2f s\n" : "\n", r->cpu_seconds);
}

/* A report nobody can read any more (EPIPE, a full disk) ends the run. */
static void on_report(const struct tool_report *r, void *ctx)
{
	*(bool *)ctx ? print_json(r) : print_text(r);
	if (ferror(stdout))
		stop = 1;
}

static void on_warn(const char *line, void *ctx) { (void)ctx, fprintf(stderr, "lobo: warning: %s\n", line); }

static int list(bool json)
{
	struct list_iface ifs[256];
	struct list_pci nics[64];
	char err[LOBO_ERR_LEN];
	int ni = list_ifaces(ifs, 256, err), np = ni < 0 ? 0 : list_pci_nics(nics, 64, err);
	if (ni < 0 || np < 0)
		return fail("%s", err);
	if (!json)
		printf("%-16s %-17s %-9s %s\n", "INTERFACE", "MAC", "STATE", "DRIVER");
	for (int i = 0; i < ni; i++)
		printf(json ? "{\"type\":\"interface\",\"name\":\"%s\",\"mac\":\"%s\",\"operstate\":\"%s\",\"driver\":\"%s\"}\n"
			    : "%-16s %-17s %-9s %s\n", ifs[i].name, ifs[i].mac, ifs[i].operstate, ifs[i].driver);
	if (!json)
		printf("\n%-14s %-10s %-14s %-12s %-6s %-8s %s\n", "PCI DEVICE", "ID", "BOUND TO", "LOBO DRIVER", "LINK",
		       "LOBO PID", "NOTE");
	for (int i = 0; i < np; i++) {
		const struct list_pci *p = &nics[i];
		const char *lobo = p->lobo_driver ? p->lobo_driver : "-", *note = p->lobo_note ? p->lobo_note : "";
		if (json)
			printf("{\"type\":\"pci\",\"bdf\":\"%s\",\"id\":\"%04x:%04x\",\"driver\":\"%s\",\"lobo\":\"%s\","
			       "\"link\":\"%s\",\"lobo_pid\":%d,\"note\":\"%s\",\"kernel_use\":\"%s\"}\n", p->bdf, p->vendor,
			       p->device, p->driver, lobo, p->link, p->lobo_pid, note, p->kernel_use);
		else
			printf("%-14s %04x:%04x  %-14s %-12s %-6s %-8d %s%s%s%s\n", p->bdf, p->vendor, p->device, p->driver, lobo,
			       p->link, p->lobo_pid, note, *note && *p->kernel_use ? "; " : "",
			       *p->kernel_use ? "in use by the kernel: " : "", p->kernel_use);
	}
	if (!json && !np)
		printf("(no PCI network devices)\n");
	const char *dpdk = list_dpdk_version();
	if (json)
		printf("{\"type\":\"dpdk\",\"built_in\":%s,\"version\":\"%s\"}\n", dpdk ? "true" : "false", dpdk ? dpdk : "");
	else if (dpdk)
		printf("\ndpdk: ports: built in (DPDK %s), for NICs lobo does not drive: bind one to vfio-pci, open dpdk:BDF\n", dpdk);
	else
		printf("\ndpdk: ports: not built in (install libdpdk-dev and rebuild)\n");
	return 0;
}

static int reset(const char *uri)
{
	char err[LOBO_ERR_LEN];
	size_t released;
	if (tool_reset(uri, &released, err))
		return fail("%s", err), 1;
	if (released)
		printf("%s: reset, %.1f MiB of DMA memory a killed lobo left it freed\n", uri, released / 1048576.0);
	else
		printf("%s: reset, no DMA memory was held for it\n", uri);
	return 0;
}

static int run_tool(struct args *a)
{
	char err[LOBO_ERR_LEN] = "";
	struct tool_session s;
	struct capture *cap = NULL;
	uint32_t buffers = TOOL_RX_BUFFERS;
	if (!strcmp(a->cmd, "blast")) {
		long n = blast_frame_count(&a->blast, err);
		if (n < 0)
			return fail("%s", err);
		buffers = (uint32_t)n + LOBO_BATCH;
	}
	if (!strcmp(a->cmd, "capture") && capture_open(&cap, a->write, a->filter, err))
		return fail("%s", err);
	if (tool_session_open(&s, a->cmd, a->pos, (uint16_t)a->npos, buffers, err)) {
		capture_close(cap);
		if (cap)
			unlink(a->write); /* nothing was captured: leave no empty file behind */
		return fail("%s", err);
	}
	if (!s.stats_open)
		fprintf(stderr, "lobo: warning: lobo top will not see this run: %s\n", s.stats_err);
	a->run.stop = &stop;
	a->run.report = on_report;
	a->run.warn = on_warn;
	a->run.ctx = &a->json;
	int rc = !strcmp(a->cmd, "fwd")	    ? tool_fwd(&s, &a->run, err)
		 : !strcmp(a->cmd, "blast") ? tool_blast(&s, &a->blast, &a->run, err)
					    : tool_capture(&s, cap, &a->run, err);
	tool_session_close(&s);
	capture_close(cap);
	return rc ? fail("%s", err) : 0;
}

int main(int argc, char **argv)
{
	struct args a;
	setvbuf(stdout, NULL, _IOLBF, 0); /* rate lines show up live through pipes */
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(cli_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (cli_parse(argc - 1, argv + 1, &a))
		return fprintf(stderr, "lobo: %s\n", a.err), 2;
	if (a.help)
		return fputs(a.help, stdout), 0;
	catch_signals();
	if (!strcmp(a.cmd, "list"))
		return list(a.json);
	if (!strcmp(a.cmd, "reset"))
		return reset(a.pos[0]);
	if (!strcmp(a.cmd, "top")) {
		char err[LOBO_ERR_LEN];
		struct top_opts o = {.interval_s = a.interval, .iterations = (int)a.run.count, .json = a.json,
				     .prom_file = a.prom, .stop = &stop};
		if (lobo_top_run(stdout, &o, err))
			return fail("%s", err);
		return 0;
	}
	return run_tool(&a);
}
