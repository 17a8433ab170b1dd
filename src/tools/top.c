/* lobo top: samples every /run/lobo/<pid> file twice and prints the rates. */
#include "top.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64

struct sample {
	int n;
	struct lobo_stats_file proc[MAX_PROCS];
};

static int by_pid(const void *a, const void *b)
{
	return ((const struct lobo_stats_file *)a)->pid - ((const struct lobo_stats_file *)b)->pid;
}

static void take_sample(struct sample *s)
{
	DIR *dir = opendir(LOBO_STATS_DIR);
	struct dirent *e;
	s->n = 0;
	while (dir && s->n < MAX_PROCS && (e = readdir(dir))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		/* a file its process left behind is removed by lobo_stats_read */
		if (pid > 0 && !*end && lobo_stats_read((int)pid, &s->proc[s->n]) == 0)
			s->n++;
	}
	if (dir)
		closedir(dir);
	qsort(s->proc, (size_t)s->n, sizeof s->proc[0], by_pid);
}

/* The same port in the previous sample: ports are only ever appended, so the
 * same index and name (two ports may share a URI). */
static const struct lobo_stats_port *find_prev(const struct sample *prev, const struct lobo_stats_file *f,
					       uint32_t port, double *dt)
{
	for (int i = 0; i < prev->n; i++) {
		const struct lobo_stats_file *p = &prev->proc[i];
		if (p->pid != f->pid || f->updated_ns <= p->updated_ns || port >= p->nports ||
		    strcmp(p->port[port].info.name, f->port[port].info.name))
			continue;
		*dt = (double)(f->updated_ns - p->updated_ns) / 1e9;
		return &p->port[port];
	}
	return NULL;
}

struct rates {
	double rx_pps, rx_bps, tx_pps, tx_bps, drops_ps;
};

static double per_s(uint64_t now, uint64_t before, double dt)
{
	return now > before && dt > 0 ? (double)(now - before) / dt : 0;
}

/* Rates of port j of f since the previous sample. */
static struct rates rates_of(const struct sample *before, const struct lobo_stats_file *f, uint32_t j)
{
	double dt = 0;
	const struct lobo_stats_port *prev = find_prev(before, f, j, &dt);
	const struct lobo_counters *c = &f->port[j].total;
	if (!prev)
		return (struct rates){0};
	const struct lobo_counters *p = &prev->total;
	return (struct rates){
		.rx_pps = per_s(c->rx_packets, p->rx_packets, dt),
		.rx_bps = per_s(c->rx_bytes, p->rx_bytes, dt) * 8,
		.tx_pps = per_s(c->tx_packets, p->tx_packets, dt),
		.tx_bps = per_s(c->tx_bytes, p->tx_bytes, dt) * 8,
		.drops_ps = per_s(c->rx_dropped + c->tx_dropped, p->rx_dropped + p->tx_dropped, dt),
	};
}

/* 1234567 -> "1.23M": columns stay narrow at any rate. */
static const char *human(char *buf, double v)
{
	static const char unit[] = " kMGTP";
	int u = 0;
	while (v >= 1000 && u < 5)
		v /= 1000, u++;
	snprintf(buf, 16, u ? "%.2f%c" : "%.0f", v, unit[u]);
	return buf;
}

/* "down", the speed ("1G", "100M") when the port knows it, else "up". */
static const char *link_text(char *buf, const struct lobo_port_info *info)
{
	if (!info->link_up || !info->speed_mbps)
		return info->link_up ? "up" : "down";
	if (info->speed_mbps % 1000)
		snprintf(buf, 16, "%uM", info->speed_mbps);
	else
		snprintf(buf, 16, "%uG", info->speed_mbps / 1000);
	return buf;
}

static void print_text(FILE *out, const struct sample *cur, const struct sample *prev)
{
	char b[10][16];
	fprintf(out, "%-7s %-12s %-20s %-8s %-16s %-4s %8s %8s %8s %8s %8s %8s %8s %8s\n", "PID", "PROGRAM", "PORT",
		"DRIVER", "MODE", "LINK", "RX pps", "RX bit/s", "TX pps", "TX bit/s", "drops/s", "errors", "RX total",
		"TX total");
	if (!cur->n)
		fprintf(out, "no lobo process is publishing counters in %s\n", LOBO_STATS_DIR);
	for (int i = 0; i < cur->n; i++) {
		const struct lobo_stats_file *f = &cur->proc[i];
		for (uint32_t j = 0; j < f->nports; j++) {
			const struct lobo_stats_port *p = &f->port[j];
			const struct lobo_counters *c = &p->total;
			struct rates r = rates_of(prev, f, j);
			fprintf(out, "%-7d %-12.12s %-20.20s %-8s %-16.16s %-4s %8s %8s %8s %8s %8s %8s %8s %8s\n", f->pid,
				f->program, p->info.name, p->info.driver, p->info.mode, link_text(b[8], &p->info),
				human(b[0], r.rx_pps), human(b[1], r.rx_bps), human(b[2], r.tx_pps), human(b[3], r.tx_bps),
				human(b[4], r.drops_ps), human(b[5], (double)(c->rx_errors + c->tx_errors)),
				human(b[6], (double)c->rx_packets), human(b[7], (double)c->tx_packets));
			if (*p->info.shadow)
				fprintf(out, "%-7s shadow %s: exception rx %" PRIu64 " tx %" PRIu64 ", dropped rx %" PRIu64
					" tx %" PRIu64 "\n", "", p->info.shadow, c->exception_rx, c->exception_tx,
					c->exception_rx_dropped, c->exception_tx_dropped);
		}
	}
}

static void json_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, "\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputs("\",", out);
}

static void print_json(FILE *out, const struct sample *cur, const struct sample *prev)
{
	fputs("{\"processes\":[", out);
	for (int i = 0; i < cur->n; i++) {
		const struct lobo_stats_file *f = &cur->proc[i];
		fprintf(out, "%s{\"pid\":%d,", i ? "," : "", f->pid);
		json_str(out, "program", f->program);
		fputs("\"ports\":[", out);
		for (uint32_t j = 0; j < f->nports; j++) {
			const struct lobo_stats_port *p = &f->port[j];
			const struct lobo_counters *c = &p->total;
			struct rates r = rates_of(prev, f, j);
			fputs(j ? ",{" : "{", out);
			json_str(out, "name", p->info.name);
			json_str(out, "driver", p->info.driver);
			json_str(out, "mode", p->info.mode);
			json_str(out, "shadow", p->info.shadow);
			fprintf(out, "\"mtu\":%u,\"exception_rx\":%" PRIu64 ",\"exception_tx\":%" PRIu64
				",\"exception_rx_dropped\":%" PRIu64 ",\"exception_tx_dropped\":%" PRIu64 ",",
				p->info.max_frame - 18, c->exception_rx, c->exception_tx, c->exception_rx_dropped,
				c->exception_tx_dropped);
			fprintf(out, "\"link\":%s,\"speed_mbps\":%u,\"rx_pps\":%.0f,\"rx_bps\":%.0f,\"tx_pps\":%.0f,\"tx_bps\":%.0f,"
				"\"drops_ps\":%.0f,\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"rx_dropped\":%" PRIu64 ",\"rx_errors\":%" PRIu64 ","
				"\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"tx_dropped\":%" PRIu64 ",\"tx_errors\":%" PRIu64 ",\"copies\":%" PRIu64 "}",
				p->info.link_up ? "true" : "false", p->info.speed_mbps, r.rx_pps, r.rx_bps, r.tx_pps, r.tx_bps, r.drops_ps,
				c->rx_packets, c->rx_bytes, c->rx_dropped, c->rx_errors, c->tx_packets, c->tx_bytes,
				c->tx_dropped, c->tx_errors, c->copies);
		}
		fputs("]}", out);
	}
	fputs("]}\n", out);
}

/* ------------------------------------------------------------ Prometheus */

static const struct {
	const char *name, *help;
	size_t at;
} prom_counters[] = {
	{"rx_packets", "Frames the port received", offsetof(struct lobo_counters, rx_packets)},
	{"rx_bytes", "Bytes the port received", offsetof(struct lobo_counters, rx_bytes)},
	{"rx_dropped", "Frames lost on receive: no buffer posted, or the port down", offsetof(struct lobo_counters, rx_dropped)},
	{"rx_errors", "Frames received damaged", offsetof(struct lobo_counters, rx_errors)},
	{"tx_packets", "Frames the port sent", offsetof(struct lobo_counters, tx_packets)},
	{"tx_bytes", "Bytes the port sent", offsetof(struct lobo_counters, tx_bytes)},
	{"tx_dropped", "Frames given up on when sending", offsetof(struct lobo_counters, tx_dropped)},
	{"tx_errors", "Frames the port could not send", offsetof(struct lobo_counters, tx_errors)},
	{"copies", "Frames copied because the kernel interface forces it", offsetof(struct lobo_counters, copies)},
	{"exception_rx", "Frames handed to the kernel through the shadow interface", offsetof(struct lobo_counters, exception_rx)},
	{"exception_tx", "Frames the kernel sent out of the port through the shadow", offsetof(struct lobo_counters, exception_tx)},
	{"exception_rx_dropped", "Frames for the shadow the kernel did not take", offsetof(struct lobo_counters, exception_rx_dropped)},
	{"exception_tx_dropped", "Frames from the shadow the port could not send", offsetof(struct lobo_counters, exception_tx_dropped)},
};

static void prom_value(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void prom_labels(FILE *out, const struct lobo_stats_file *f, const struct lobo_port_info *info)
{
	fprintf(out, "{pid=\"%d\",program=", f->pid);
	prom_value(out, f->program);
	fputs(",port=", out);
	prom_value(out, info->name);
	fputs(",driver=", out);
	prom_value(out, info->driver);
	fputs(",shadow=", out);
	prom_value(out, info->shadow);
	fputc('}', out);
}

static void print_prom(FILE *out, const struct sample *cur)
{
	for (size_t m = 0; m < sizeof prom_counters / sizeof prom_counters[0]; m++) {
		fprintf(out, "# HELP lobo_%s_total %s.\n# TYPE lobo_%s_total counter\n", prom_counters[m].name,
			prom_counters[m].help, prom_counters[m].name);
		for (int i = 0; i < cur->n; i++)
			for (uint32_t j = 0; j < cur->proc[i].nports; j++) {
				const struct lobo_stats_port *p = &cur->proc[i].port[j];
				fprintf(out, "lobo_%s_total", prom_counters[m].name);
				prom_labels(out, &cur->proc[i], &p->info);
				fprintf(out, " %" PRIu64 "\n", *(const uint64_t *)((const char *)&p->total + prom_counters[m].at));
			}
	}
	fputs("# HELP lobo_link_up 1 when the port's link is up.\n# TYPE lobo_link_up gauge\n", out);
	for (int i = 0; i < cur->n; i++)
		for (uint32_t j = 0; j < cur->proc[i].nports; j++) {
			fputs("lobo_link_up", out);
			prom_labels(out, &cur->proc[i], &cur->proc[i].port[j].info);
			fprintf(out, " %d\n", cur->proc[i].port[j].info.link_up);
		}
}

/* A scraper must never read half a file: write beside it, then rename. */
static int write_prom(const char *path, const struct sample *cur, char *err)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f)
		print_prom(f, cur);
	if (!f || fclose(f) || rename(tmp, path)) {
		snprintf(err, LOBO_ERR_LEN, "top: cannot write %s: %s: choose a writable file, e.g. in node_exporter's "
			 "--collector.textfile.directory", path, strerror(errno));
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int lobo_top_run(FILE *out, const struct top_opts *o, char *err)
{
	double interval_s = o->interval_s;
	int iterations = o->iterations, rc = 0;
	if (!(interval_s >= 0) || iterations < 0) {
		snprintf(err, LOBO_ERR_LEN, "top: interval %g s and %d iterations: use a non-negative interval and count",
			 interval_s, iterations);
		return -EINVAL;
	}
	struct sample *prev = malloc(sizeof *prev), *cur = malloc(sizeof *cur);
	if (!prev || !cur) {
		free(prev);
		free(cur);
		snprintf(err, LOBO_ERR_LEN, "top: out of memory");
		return -ENOMEM;
	}
	bool redraw = !o->json && isatty(fileno(out));
	struct timespec pause = {(time_t)interval_s, (long)((interval_s - (double)(time_t)interval_s) * 1e9)};
	take_sample(prev);
	for (int i = 0; !rc && (!iterations || i < iterations) && !(o->stop && *o->stop) && !ferror(out); i++) {
		nanosleep(&pause, NULL);
		take_sample(cur);
		if (o->prom_file) {
			rc = write_prom(o->prom_file, cur, err);
		} else {
			if (redraw)
				fputs("\033[H\033[2J", out);
			(o->json ? print_json : print_text)(out, cur, prev);
			fflush(out);
		}
		struct sample *t = prev;
		prev = cur;
		cur = t;
	}
	free(prev);
	free(cur);
	return rc;
}
