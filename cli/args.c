/* lobo's command line: commands, their options, and the checks that need no
 * port opened. Errors go into a->err as one line; nothing is printed here. */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage[] =
	"usage: lobo COMMAND [OPTIONS]\n"
	"  list                               kernel interfaces and PCI network devices\n"
	"  fwd PORT PORT                      forward both ways between two ports, zero-copy\n"
	"  blast PORT --size BYTES|--pcap FILE [--rate PPS] [--dst-mac MAC] [--loop]\n"
	"                                     send synthesised UDP frames or replay a pcap\n"
	"  capture PORT -w FILE [BPF FILTER]  write frames matching the filter to a pcap\n"
	"  top [--interval S] [--prom FILE]   live counters of running lobo programs\n"
	"  reset pci:BDF                      reset a device and free what a killed lobo left it\n"
	"common options: --count N  --duration S  --json  --help\n"
	"fwd and blast: --batch N  frames per port call, 1..256 (default 32)\n"
	"ports: null:[?size=N]  pcap:FILE  afpacket:IF  tap:NAME  xdp:IF  pci:BDF[?shadow=NAME|kernel=keep]  dpdk:DEVARGS,\n"
	"       each taking ?queues=N&rx_ring=N&tx_ring=N\n";

/* Each command, the options it takes (by short letter) and its help. */
static const struct command {
	const char *name, *opts, *help;
} commands[] = {
	{"list", "jh", "usage: lobo list [--json]\n"},
	{"fwd", "cdjhb", "usage: lobo fwd PORT PORT [--count FRAMES] [--duration S] [--batch 1..256] [--json]\n"},
	{"blast", "cdjhsprmbl", "usage: lobo blast PORT (--size 60..1514 | --pcap FILE) [--rate PPS] [--dst-mac MAC]\n"
				"                  [--count FRAMES] [--duration S] [--batch 1..256] [--loop] [--json]\n"
				"--dst-mac defaults to 02:00:00:00:00:00, a locally administered address no one owns\n"
				"--loop: the NIC sends the frames round and round by itself where it can (pci: igb),\n"
				"        with no CPU work per frame; elsewhere lobo loops in software. Runs until\n"
				"        --duration or Ctrl-C; the summary says which loop ran\n"},
	{"capture", "cdjhw", "usage: lobo capture PORT -w FILE [--count FRAMES] [--duration S] [--json] [BPF FILTER...]\n"},
	{"top", "cjhiP", "usage: lobo top [--interval S] [--count ROUNDS] [--json | --prom FILE]\n"
			 "--prom FILE replaces FILE every interval with all counters in Prometheus text format,\n"
			 "for node_exporter --collector.textfile.directory (name it *.prom)\n"},
	{"reset", "h", "usage: lobo reset pci:BDF\n"
		       "turns the device's DMA off, resets it, and frees the DMA memory a killed lobo left it\n"},
};

__attribute__((format(printf, 2, 3))) static int usage_error(struct args *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err, sizeof a->err, fmt, ap);
	va_end(ap);
	lobo_err_one_line(a->err); /* quoted arguments may hold newlines */
	return 2;
}

static bool parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= min && *out <= max;
}

/* A whole number in [min, max]; *out is written only when it is one (a double
 * out of range must never be converted). */
static bool parse_uint(const char *s, double min, double max, uint64_t *out)
{
	double v;
	if (!parse_num(s, min, max, &v) || v != (double)(uint64_t)v)
		return false;
	*out = (uint64_t)v;
	return true;
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

/* One option's value into *a; false if it is out of range. */
static bool take_option(struct args *a, int c, const char *arg)
{
	uint64_t u = 0;
	bool good = true;
	if (c == 'c')
		good = parse_uint(arg, 1, 1e18, &a->run.count);
	else if (c == 'd')
		good = parse_num(arg, 0.001, 1e9, &a->run.duration);
	else if (c == 'i')
		good = parse_num(arg, 0.01, 3600, &a->interval);
	else if (c == 'b')
		good = parse_uint(arg, 1, TOOL_MAX_BATCH, &u), a->run.batch = (uint16_t)u;
	else if (c == 's')
		good = parse_uint(arg, 0, 1e6, &u), a->blast.size = (uint32_t)u;
	else if (c == 'r')
		good = parse_num(arg, 1, 1e10, &a->blast.rate);
	else if (c == 'm')
		good = parse_mac(arg, a->blast.dst_mac);
	else if (c == 'j')
		a->json = true;
	else if (c == 'l')
		a->blast.loop = true;
	else if (c == 'p')
		a->blast.pcap = arg;
	else if (c == 'w')
		a->write = arg;
	else if (c == 'P')
		a->prom = arg;
	return good;
}

/* Appends a word of the capture filter; false if it does not fit. */
static bool add_filter_word(struct args *a, const char *word)
{
	size_t used = strlen(a->filter_buf), room = sizeof a->filter_buf - used;
	return (size_t)snprintf(a->filter_buf + used, room, "%s%s", used ? " " : "", word) < room;
}

int cli_parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"count", 1, 0, 'c'}, {"duration", 1, 0, 'd'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'},
		{"size", 1, 0, 's'}, {"pcap", 1, 0, 'p'}, {"rate", 1, 0, 'r'}, {"dst-mac", 1, 0, 'm'},
		{"write", 1, 0, 'w'}, {"interval", 1, 0, 'i'}, {"batch", 1, 0, 'b'}, {"prom", 1, 0, 'P'}, {"loop", 0, 0, 'l'},
		{0, 0, 0, 0},
	};
	const struct command *cmd = NULL;
	/* Not broadcast: every host on the segment would route each frame (on veth,
	 * on our own CPU). A locally administered address nobody owns, as testpmd's. */
	*a = (struct args){.cmd = argv[0], .interval = 1, .blast.dst_mac = {0x02, 0, 0, 0, 0, 0}};
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(a->cmd, commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		return usage_error(a, "unknown command '%s': run lobo --help for the list", a->cmd);
	opterr = 0;
	optind = 0; /* GNU getopt: start afresh, as for a new argv */
	for (int c; (c = getopt_long(argc, argv, ":c:d:jhs:p:r:m:w:i:b:P:l", opts, NULL)) != -1;) {
		if (c == ':')
			return usage_error(a, "option '%s' needs a value: see lobo %s --help", argv[optind - 1], a->cmd);
		if (c == '?' && !strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
			return usage_error(a, "option '%s' takes no value: see lobo %s --help", argv[optind - 1], a->cmd);
		if (c == '?' && optopt) /* a short one, maybe inside a cluster like -jx */
			return usage_error(a, "unknown option '-%c' for %s: see lobo %s --help", optopt, a->cmd, a->cmd);
		if (c == '?')
			return usage_error(a, "unknown option '%s' for %s: see lobo %s --help", argv[optind - 1], a->cmd, a->cmd);
		for (const struct option *o = opts; !strchr(cmd->opts, c) && o->name; o++)
			if (o->val == c)
				return usage_error(a, "unknown option '--%s' for %s: see lobo %s --help", o->name, a->cmd, a->cmd);
		if (c == 'h') {
			a->help = cmd->help;
			return 0;
		}
		const struct option *o = opts;
		while (o->name && o->val != c)
			o++;
		if (!take_option(a, c, optarg))
			return usage_error(a, "bad value '%s' for --%s: see lobo %s --help for the ranges", optarg, o->name, a->cmd);
	}
	for (int i = optind; i < argc; i++) {
		if (a->npos < 2 && (a->npos < 1 || !strcmp(a->cmd, "fwd")))
			a->pos[a->npos++] = argv[i];
		else if (!strcmp(a->cmd, "capture") && !add_filter_word(a, argv[i]))
			return usage_error(a, "the filter is longer than %zu characters: shorten it", sizeof a->filter_buf - 1);
		else if (strcmp(a->cmd, "capture"))
			return usage_error(a, "unexpected argument '%s': see lobo %s --help", argv[i], a->cmd);
	}
	a->filter = a->filter_buf;
	int want = !strcmp(a->cmd, "fwd") ? 2 : strcmp(a->cmd, "list") && strcmp(a->cmd, "top") ? 1 : 0;
	if (a->npos != want)
		return usage_error(a, "%s needs %s: see lobo --help", a->cmd,
				   want == 2 ? "two ports, e.g. lobo fwd afpacket:eth0 afpacket:eth1"
					     : want ? "one port, e.g. afpacket:eth0" : "no ports");
	if (a->prom && a->json)
		return usage_error(a, "top prints --json or writes --prom FILE, not both");
	if (!strcmp(a->cmd, "capture") && !a->write)
		return usage_error(a, "capture needs an output file: add -w FILE");
	if (!strcmp(a->cmd, "blast") && !a->blast.pcap == !a->blast.size)
		return usage_error(a, "blast needs either --size BYTES or --pcap FILE, not both or neither");
	if (a->blast.loop && (a->run.count || a->blast.rate))
		return usage_error(a, "blast --loop sends round and round until --duration or Ctrl-C: drop --count and --rate");
	return 0;
}
