/* lobo: the command line over src/tools. Parsing and printing only. */
#include "tools.h"
#include "top.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop; /* a signal handler can only reach a global */

static void on_signal(int sig) { (void)sig, stop = 1; }

static const char usage[] =
	"usage: lobo COMMAND [OPTIONS]\n"
	"  list                               kernel interfaces and PCI network devices\n"
	"  fwd PORT PORT                      forward both ways between two ports, zero-copy\n"
	"  blast PORT --size BYTES|--pcap FILE [--rate PPS] [--dst-mac MAC]\n"
	"                                     send synthesised UDP frames or replay a pcap\n"
	"  capture PORT -w FILE [BPF FILTER]  write frames matching the filter to a pcap\n"
	"  top [--interval S]                 live counters of running lobo programs\n"
	"common options: --count N  --duration S  --json  --help\n"
	"fwd and blast: --batch N  frames per port call, 1..256 (default 32)\n"
	"ports: null:[?size=N]  pcap:FILE  afpacket:IF  tap:NAME  xdp:IF  pci:BDF,\n"
	"       each taking ?queues=N&rx_ring=N&tx_ring=N\n";

/* Each command, the options it takes (by short letter) and its help. */
static const struct command {
	const char *name, *opts, *help;
} commands[] = {
	{"list", "jh", "usage: lobo list [--json]\n"},
	{"fwd", "cdjhb", "usage: lobo fwd PORT PORT [--count FRAMES] [--duration S] [--batch 1..256] [--json]\n"},
	{"blast", "cdjhsprmb", "usage: lobo blast PORT (--size 60..1514 | --pcap FILE) [--rate PPS] [--dst-mac MAC]\n"
			       "                  [--count FRAMES] [--duration S] [--batch 1..256] [--json]\n"
			       "--dst-mac defaults to 02:00:00:00:00:00, a locally administered address no one owns\n"},
	{"capture", "cdjhw", "usage: lobo capture PORT -w FILE [--count FRAMES] [--duration S] [--json] [BPF FILTER...]\n"},
	{"top", "cjhi", "usage: lobo top [--interval S] [--count ROUNDS] [--json]\n"},
};

struct args {
	const char *cmd, *pos[2], *write, *filter;
	int npos;
	bool json;
	double interval;
	struct tool_run run;
	struct blast_opts blast;
	char filter_buf[1024];
};

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lobo: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

static bool parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= min && *out <= max;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	char extra;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &extra) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return m[0] < 256 && m[1] < 256 && m[2] < 256 && m[3] < 256 && m[4] < 256 && m[5] < 256;
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"count", 1, 0, 'c'}, {"duration", 1, 0, 'd'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'},
		{"size", 1, 0, 's'}, {"pcap", 1, 0, 'p'}, {"rate", 1, 0, 'r'}, {"dst-mac", 1, 0, 'm'},
		{"write", 1, 0, 'w'}, {"interval", 1, 0, 'i'}, {"batch", 1, 0, 'b'}, {0, 0, 0, 0},
	};
	const struct command *cmd = NULL;
	double v;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(a->cmd, commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		return fail("unknown command '%s': run lobo --help for the list", a->cmd);
	opterr = 0;
	for (int c; (c = getopt_long(argc, argv, ":c:d:jhs:p:r:m:w:i:b:", opts, NULL)) != -1;) {
		if (c == ':')
			return fail("option '%s' needs a value: see lobo %s --help", argv[optind - 1], a->cmd);
		if (c == '?')
			return fail("unknown option '%s' for %s: see lobo %s --help", argv[optind - 1], a->cmd, a->cmd);
		for (const struct option *o = opts; !strchr(cmd->opts, c) && o->name; o++)
			if (o->val == c)
				return fail("unknown option '--%s' for %s: see lobo %s --help", o->name, a->cmd, a->cmd);
		if (c == 'h')
			return fputs(cmd->help, stdout), 1;
		bool good = true;
		if (c == 'c')
			good = parse_num(optarg, 1, 1e18, &v), a->run.count = (uint64_t)v;
		else if (c == 'd')
			good = parse_num(optarg, 0.001, 1e9, &a->run.duration);
		else if (c == 'i')
			good = parse_num(optarg, 0.01, 3600, &a->interval);
		else if (c == 'b')
			good = parse_num(optarg, 1, TOOL_MAX_BATCH, &v) && v == (int)v, a->run.batch = good ? (uint16_t)v : 0;
		else if (c == 's')
			good = parse_num(optarg, 0, 1e6, &v), a->blast.size = (uint32_t)v;
		else if (c == 'r')
			good = parse_num(optarg, 1, 1e10, &a->blast.rate);
		else if (c == 'm')
			good = parse_mac(optarg, a->blast.dst_mac);
		else if (c == 'j')
			a->json = true;
		else if (c == 'p')
			a->blast.pcap = optarg;
		else if (c == 'w')
			a->write = optarg;
		const struct option *o = opts;
		while (o->name && o->val != c)
			o++;
		if (!good)
			return fail("bad value '%s' for --%s: see lobo %s --help for the ranges", optarg, o->name, a->cmd);
	}
	for (int i = optind; i < argc; i++) {
		if (a->npos < 2 && (a->npos < 1 || !strcmp(a->cmd, "fwd")))
			a->pos[a->npos++] = argv[i];
		else if (!strcmp(a->cmd, "capture"))
			snprintf(a->filter_buf + strlen(a->filter_buf), sizeof a->filter_buf - strlen(a->filter_buf),
				 "%s%s", *a->filter_buf ? " " : "", argv[i]);
		else
			return fail("unexpected argument '%s': see lobo %s --help", argv[i], a->cmd);
	}
	a->filter = a->filter_buf;
	int want = !strcmp(a->cmd, "fwd") ? 2 : strcmp(a->cmd, "list") && strcmp(a->cmd, "top") ? 1 : 0;
	if (a->npos != want)
		return fail("%s needs %s: see lobo --help", a->cmd,
			    want == 2 ? "two ports, e.g. lobo fwd afpacket:eth0 afpacket:eth1"
				      : want ? "one port, e.g. afpacket:eth0" : "no ports");
	if (!strcmp(a->cmd, "capture") && !a->write)
		return fail("capture needs an output file: add -w FILE");
	if (!strcmp(a->cmd, "blast") && !a->blast.pcap == !a->blast.size)
		return fail("blast needs either --size BYTES or --pcap FILE, not both or neither");
	return 0;
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
		       ",\"rx_bps\":%.0f,\"tx_bps\":%.0f}",
		       c->rx_packets, c->tx_packets, c->rx_bytes, c->tx_bytes, c->rx_dropped, c->tx_dropped,
		       c->rx_errors, c->tx_errors, c->rx_packets / t, c->tx_packets / t,
		       c->rx_bytes * 8 / t, c->tx_bytes * 8 / t);
	}
	printf("},\"filtered\":%" PRIu64 "}\n", r->filtered);
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
		if (r->final)
			printf(" (%" PRIu64 " frames in, %" PRIu64 " out)", k->rx_packets, k->tx_packets);
	}
	printf(r->filtered ? ", filtered %" PRIu64 "\n" : "\n", r->filtered);
}

static void on_report(const struct tool_report *r, void *ctx) { *(bool *)ctx ? print_json(r) : print_text(r); }

static int list(bool json)
{
	struct list_iface ifs[256];
	struct list_pci nics[64];
	char err[LOBO_ERR_LEN];
	int ni = list_ifaces(ifs, 256, err), np = ni < 0 ? 0 : list_pci_nics(nics, 64, err);
	if (ni < 0 || np < 0)
		return fail("%s", err), 1;
	if (!json)
		printf("%-16s %-17s %-9s %s\n", "INTERFACE", "MAC", "STATE", "DRIVER");
	for (int i = 0; i < ni; i++)
		printf(json ? "{\"type\":\"interface\",\"name\":\"%s\",\"mac\":\"%s\",\"operstate\":\"%s\",\"driver\":\"%s\"}\n"
			    : "%-16s %-17s %-9s %s\n", ifs[i].name, ifs[i].mac, ifs[i].operstate, ifs[i].driver);
	if (!json)
		printf("\n%-14s %-10s %-14s %s\n", "PCI DEVICE", "ID", "BOUND TO", "LOBO DRIVER");
	for (int i = 0; i < np; i++) {
		const char *drv = nics[i].lobo_driver ? nics[i].lobo_driver : "-", *note = nics[i].lobo_note;
		if (json)
			printf("{\"type\":\"pci\",\"bdf\":\"%s\",\"id\":\"%04x:%04x\",\"driver\":\"%s\",\"lobo\":\"%s\","
			       "\"note\":\"%s\"}\n", nics[i].bdf, nics[i].vendor, nics[i].device, nics[i].driver, drv,
			       note ? note : "");
		else
			printf("%-14s %04x:%04x  %-14s %s%s%s%s\n", nics[i].bdf, nics[i].vendor, nics[i].device,
			       nics[i].driver, drv, note ? " (" : "", note ? note : "", note ? ")" : "");
	}
	if (!json && !np)
		printf("(no PCI network devices)\n");
	return 0;
}

/* Hugepages only matter to a device doing DMA (kernel-backed ports copy or
 * map pages themselves): a pci: port on 4 KiB pages works through VFIO, but
 * every buffer costs the IOMMU and the TLB a separate entry. */
static void warn_small_pages(const struct tool_session *s, const struct args *a)
{
	for (int i = 0; i < a->npos && !s->mem.huge; i++)
		if (!strncmp(a->pos[i], "pci:", 4)) {
			fprintf(stderr, "lobo: warning: no hugepages, so %s runs on 4 KiB pages, slower "
				"(echo 64 > /proc/sys/vm/nr_hugepages)\n", a->pos[i]);
			return;
		}
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
			return fail("%s", err), 1;
		buffers = (uint32_t)n + LOBO_BATCH;
	}
	if (!strcmp(a->cmd, "capture") && capture_open(&cap, a->write, a->filter, err))
		return fail("%s", err), 1;
	if (tool_session_open(&s, a->cmd, a->pos, (uint16_t)a->npos, buffers, err)) {
		capture_close(cap);
		if (cap)
			unlink(a->write); /* nothing was captured: leave no empty file behind */
		return fail("%s", err), 1;
	}
	warn_small_pages(&s, a);
	if (!s.stats_open)
		fprintf(stderr, "lobo: warning: lobo top will not see this run: %s\n", s.stats_err);
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a blocked call returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a->run.stop = &stop;
	a->run.report = on_report;
	a->run.ctx = &a->json;
	int rc = !strcmp(a->cmd, "fwd")	    ? tool_fwd(&s, &a->run, err)
		 : !strcmp(a->cmd, "blast") ? tool_blast(&s, &a->blast, &a->run, err)
					    : tool_capture(&s, cap, &a->run, err);
	tool_session_close(&s);
	capture_close(cap);
	return rc ? fail("%s", err), 1 : 0;
}

int main(int argc, char **argv)
{
	/* Not broadcast: every host on the segment would route each frame (on veth,
	 * on our own CPU). A locally administered address nobody owns, as testpmd's. */
	struct args a = {.interval = 1, .blast.dst_mac = {0x02, 0, 0, 0, 0, 0}};
	setvbuf(stdout, NULL, _IOLBF, 0); /* rate lines show up live through pipes */
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	a.cmd = argv[1];
	int rc = parse(argc - 1, argv + 1, &a);
	if (rc)
		return rc == 1 ? 0 : rc; /* 1: --help was printed */
	if (!strcmp(a.cmd, "list"))
		return list(a.json);
	if (!strcmp(a.cmd, "top")) {
		char err[LOBO_ERR_LEN];
		if (lobo_top_run(stdout, a.interval, (int)a.run.count, a.json, err))
			return fail("%s", err), 1;
		return 0;
	}
	return run_tool(&a);
}
