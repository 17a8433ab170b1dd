/* Port URIs and their ?key=value parameters, as lobo_port_open parses them.
 * Schemes whose open touches the system (tap: creates an interface, pci:
 * unbinds drivers, pcap: writes files, afpacket: opens sockets) are steered
 * to where only the parsing runs: their parameters go to null:, a pcap file
 * to a path that cannot exist, an afpacket interface to one that does not. */
#include "fuzz.h"

#include "port.h" /* the parameter helpers every port uses */

static bool scheme_is(const char *uri, const char *scheme)
{
	size_t n = strlen(scheme);
	return !strncmp(uri, scheme, n) && uri[n] == ':';
}

/* A URI with the same parameters that is safe to open. */
static void make_safe(const char *uri, const char *params, char *safe, size_t len)
{
	if (scheme_is(uri, "pcap"))
		snprintf(safe, len, "pcap:/nonexistent/lobo-fuzz%s%s", *params ? "?" : "", params);
	else if (scheme_is(uri, "afpacket"))
		snprintf(safe, len, "afpacket:lobofuzz0%s%s", *params ? "?" : "", params);
	else if (scheme_is(uri, "tap") || scheme_is(uri, "pci"))
		snprintf(safe, len, "null:%s%s", *params ? "?" : "", params);
	else
		snprintf(safe, len, "%s", uri);
}

/* An opened port (null:) moves a few frames through every call. */
static void exercise(struct lobo_port *p, uint8_t queue)
{
	static uint8_t buf[4][64];
	struct lobo_frame f[4];
	for (int i = 0; i < 4; i++)
		f[i] = (struct lobo_frame){.data = buf[i], .len = sizeof buf[i], .tag = (uint64_t)i};
	uint16_t n = lobo_rx_post(p, queue, f, 4);
	n = lobo_rx_poll(p, queue, f, n);
	for (uint16_t i = 0; i < n; i++)
		if (f[i].len > sizeof buf[0])
			abort(); /* a frame outgrew its buffer */
	lobo_tx_post(p, queue, f, n);
	lobo_tx_reclaim(p, queue, f, 4);
	struct lobo_counters sum;
	lobo_port_counters_sum(p, &sum);
	lobo_port_info(p);
}

static void parameters(const char *params)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "mode", "size", NULL};
	char err[LOBO_ERR_LEN] = "", value[16];
	struct lobo_port_info info = {0};
	lobo_param_long(params, "queues", 1);
	lobo_param_str(params, "mode", value, sizeof value, "r");
	check_one_line(lobo_params_rings(params, &info, 1024, err), err);
	err[0] = 0;
	check_one_line(lobo_params_check(params, "fuzz", known, err), err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[1024], safe[1100], err[LOBO_ERR_LEN] = "";
	struct lobo_port *p;
	if (size >= sizeof uri)
		return 0;
	memcpy(uri, data, size);
	uri[size] = 0; /* a NUL inside just ends it early, as in a C caller */
	const char *q = strchr(uri, '?');
	make_safe(uri, q ? q + 1 : "", safe, sizeof safe);
	int rc = lobo_port_open(&p, safe, NULL, err);
	check_one_line(rc, err);
	if (!rc) {
		exercise(p, size ? data[0] % 20 : 0);
		lobo_port_close(p);
	}
	parameters(q ? q + 1 : "");
	return 0;
}
