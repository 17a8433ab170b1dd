/* Driver ring microbenchmark (issue 16): lobo's advanced-descriptor rings
 * (src/driver/adv_ring.c, the igb and ixgbe hot path) driven by one thread
 * against a software NIC on another core: the register-level test double's
 * descriptor engine (tests/double), which fills receive descriptors and
 * consumes transmit descriptors in memory the way the NIC's DMA does, with
 * tail "registers" that are plain memory words. No emulator in the way.
 *
 *   ring_bench [--seconds S] [--cpu N] [--nic-cpu M | --one-core] [--batches 1,2,...]
 *
 * For rx (poll, repost), tx (reclaim, post) and fwd (poll, post to the
 * transmit ring, reclaim, repost) at each batch size, prints one line
 *   ring MODE BATCH mpps_per_core cycles_per_frame preempted
 * The two sides take turns (lockstep): the NIC fills every posted receive
 * buffer and sends everything posted, then the driver side works through
 * the rings in batches until a batch comes up short, and so on. So every
 * descriptor the ring code reads was just written by the other core, as DMA
 * leaves it, and the measure does not depend on both threads getting a core
 * at the same time, which a shared machine does not promise.
 * cycles_per_frame: TSC cycles of the rounds that moved a whole batch, per
 * frame, the timing itself included (one TSC read a round), as the median
 * over stretches of 64 rounds; rounds the scheduler interrupted (longer than
 * 50 us: `preempted` of them) are left out. mpps_per_core: the TSC rate over
 * that, what one core would do. */
#include "adv_ring.h"
#include "ixgbe_double.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
static uint64_t ticks(void) { return __rdtsc(); }
#else
static uint64_t ticks(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
#endif

#define RING 1024u
#define BUF 2048u
#define FRAME 60u
#define MAX_BATCH 256u

enum mode { RX = 1, TX = 2, FWD = 3 };

struct bench {
	struct lobo_mem mem; /* 2 * RING buffers, then the two descriptor rings */
	struct adv_rx_ring rx;
	struct adv_tx_ring tx;
	struct adv_slot rx_slot[RING], tx_slot[RING];
	struct double_ring nic_rx, nic_tx;
	_Alignas(64) volatile uint32_t rx_tail;
	_Alignas(64) volatile uint32_t tx_tail;
	_Alignas(64) volatile uint32_t tx_head_wb;
	_Alignas(64) atomic_bool stop;
	_Alignas(64) atomic_bool nic_turn;
	enum mode mode;
	int nic_cpu;
	uint64_t nic_sent;
};

static double seconds_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (cpu >= 0)
		pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void count(void *ctx, const uint8_t *frame, uint32_t len, uint32_t ctl, uint32_t olinfo)
{
	(void)frame, (void)len, (void)ctl, (void)olinfo;
	(*(uint64_t *)ctx)++;
}

/* The software NIC's turn: receives a FRAME-byte frame into every posted
 * buffer and sends whatever the driver posted, writing the head back. */
static void nic_work(struct bench *b)
{
	static const uint8_t frame[FRAME] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};
	const struct double_wb wb = {.rss_hash = 0x12345678, .rss_type = 1};
	while ((b->mode & RX) && double_rx_fill(&b->nic_rx, frame, FRAME, BUF, &wb))
		;
	while ((b->mode & TX) && double_tx_drain(&b->nic_tx, RING, count, &b->nic_sent))
		;
}

static void *nic(void *arg)
{
	struct bench *b = arg;
	pin(b->nic_cpu);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		if (!atomic_load_explicit(&b->nic_turn, memory_order_acquire))
			continue;
		nic_work(b);
		atomic_store_explicit(&b->nic_turn, false, memory_order_release);
	}
	return NULL;
}

/* The driver side hands over to the NIC and waits until it is done; with
 * --one-core the NIC's turn runs right here, so descriptors stay in this
 * core's cache and a run is deterministic (callgrind counts the ring code's
 * instructions exactly). */
static void nic_turn(struct bench *b)
{
	if (b->nic_cpu < 0) {
		nic_work(b);
		return;
	}
	atomic_store_explicit(&b->nic_turn, true, memory_order_release);
	while (atomic_load_explicit(&b->nic_turn, memory_order_acquire))
		;
}

static void setup(struct bench *b, enum mode mode)
{
	char err[LOBO_ERR_LEN];
	struct lobo_counters c = {0};
	memset(&b->rx, 0, offsetof(struct bench, stop) - offsetof(struct bench, rx));
	uint8_t *rings = b->mem.base + 2 * RING * BUF;
	adv_rx_init(&b->rx, rings, &b->rx_tail, b->rx_slot, RING, &b->mem, BUF, ADV_RX_ERRORS_IXGBE);
	adv_tx_init(&b->tx, rings + 16 * RING, &b->tx_tail, &b->tx_head_wb, b->tx_slot, RING, &b->mem, 1522);
	b->nic_rx = (struct double_ring){.desc = rings, .size = RING, .tail = &b->rx_tail};
	b->nic_tx = (struct double_ring){.desc = rings + 16 * RING, .size = RING, .tail = &b->tx_tail,
					 .head_wb = &b->tx_head_wb};
	b->mode = mode;
	b->nic_sent = 0;
	atomic_store(&b->stop, false);
	atomic_store(&b->nic_turn, false);
	(void)err;
	for (uint32_t i = 0; (mode & RX) && i < RING - 1; i++) { /* the receive ring full of buffers */
		struct lobo_frame f = {.data = b->mem.base + i * BUF, .len = BUF, .tag = i};
		adv_rx_post(&b->rx, &f, 1, &c);
	}
}

struct run {
	uint64_t frames, busy, preempted;
	uint64_t limit; /* ticks: a round that took longer was preempted, and is left out */
};

/* Counts a round that moved a whole batch, unless the scheduler took the
 * core during it; a short one means the rings need the NIC's turn. */
static bool moved(struct run *r, uint64_t t0, uint64_t n, uint16_t batch)
{
	uint64_t took = ticks() - t0;
	if (n != batch)
		return false;
	if (took > r->limit)
		r->preempted++;
	else
		r->busy += took, r->frames += n;
	return true;
}

static bool rx_round(struct bench *b, struct lobo_frame *f, uint16_t batch, struct lobo_counters *c, struct run *r)
{
	uint64_t t0 = ticks();
	uint16_t n = adv_rx_poll(&b->rx, f, batch, c);
	for (uint16_t i = 0; i < n; i++)
		f[i].len = BUF;
	adv_rx_post(&b->rx, f, n, c);
	return moved(r, t0, n, batch);
}

/* Frames in hand (buffers after the receive ring's) go out, come back by
 * reclaim and go out again. */
static bool tx_round(struct bench *b, struct lobo_frame *f, uint16_t *held, uint16_t batch, struct lobo_counters *c,
		     struct run *r)
{
	uint64_t t0 = ticks();
	*held = (uint16_t)(*held + adv_tx_reclaim(&b->tx, f + *held, (uint16_t)(2 * MAX_BATCH - *held), c));
	uint16_t n = *held < batch ? *held : batch;
	for (uint16_t i = 0; i < n; i++)
		f[i].len = FRAME;
	uint16_t sent = adv_tx_post(&b->tx, f, n, c);
	memmove(f, f + sent, (*held - sent) * sizeof *f);
	*held = (uint16_t)(*held - sent);
	return moved(r, t0, sent, batch);
}

/* Received frames go out as they are; sent ones come back to the receive ring. */
static bool fwd_round(struct bench *b, struct lobo_frame *f, struct lobo_frame *done, uint16_t batch,
		      struct lobo_counters *c, struct run *r)
{
	uint64_t t0 = ticks();
	uint16_t n = adv_rx_poll(&b->rx, f, batch, c);
	uint16_t sent = adv_tx_post(&b->tx, f, n, c);
	for (uint16_t i = sent; i < n; i++) /* no room to send: back to the receive ring, dropped */
		f[i].len = BUF;
	adv_rx_post(&b->rx, f + sent, (uint16_t)(n - sent), c);
	uint16_t back = adv_tx_reclaim(&b->tx, done, batch, c);
	for (uint16_t i = 0; i < back; i++)
		done[i].len = BUF;
	adv_rx_post(&b->rx, done, back, c);
	return moved(r, t0, sent, batch);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median stretch: other work on the machine (cache misses it causes,
 * interrupts) lands in some stretches, not in most. */
static double median(double *v, uint32_t n)
{
	qsort(v, n, sizeof *v, by_value);
	return n ? v[n / 2] : 0;
}

static void measure(struct bench *b, enum mode mode, uint16_t batch, double seconds, double tick_hz, int cpu)
{
	static const char *names[] = {"", "rx", "tx", "fwd"};
	struct lobo_frame f[2 * MAX_BATCH], done[MAX_BATCH];
	struct lobo_counters c = {0};
	struct run r = {.limit = (uint64_t)(tick_hz * 50e-6)}, warm = {0};
	uint16_t held = 0;
	pthread_t t;
	setup(b, mode);
	if (mode == TX) /* 2 * MAX_BATCH frames in hand, after the receive ring's buffers */
		for (uint32_t i = 0; i < 2 * MAX_BATCH; i++, held++)
			f[i] = (struct lobo_frame){.data = b->mem.base + (RING + i) * BUF, .len = FRAME, .tag = RING + i};
	pin(cpu);
	if (b->nic_cpu >= 0)
		pthread_create(&t, NULL, nic, b);
	static double sample[1 << 16]; /* cycles per frame of each stretch of 64 rounds */
	uint32_t samples = 0;
	double start = seconds_now(), end = start + seconds, warm_end = start + seconds / 10;
	for (double now = start; now < end; now = seconds_now()) {
		struct run before = r;
		for (int k = 0; k < 64; k++) {
			bool full;
			if (mode == RX)
				full = rx_round(b, f, batch, &c, &r);
			else if (mode == TX)
				full = tx_round(b, f, &held, batch, &c, &r);
			else
				full = fwd_round(b, f, done, batch, &c, &r);
			if (!full)
				nic_turn(b);
		}
		if (seconds_now() < warm_end) /* the first tenth warms caches and branch predictors */
			warm = r;
		else if (r.frames > before.frames && samples < sizeof sample / sizeof sample[0])
			sample[samples++] = (double)(r.busy - before.busy) / (r.frames - before.frames);
	}
	atomic_store(&b->stop, true);
	if (b->nic_cpu >= 0)
		pthread_join(t, NULL);
	double cycles = median(sample, samples);
	printf("ring %s %u %.2f %.1f %llu\n", names[mode], batch, cycles ? tick_hz / cycles / 1e6 : 0, cycles,
	       (unsigned long long)(r.preempted - warm.preempted));
	fflush(stdout);
}

/* TSC ticks per second, against the monotonic clock. */
static double tick_rate(void)
{
	double s0 = seconds_now();
	uint64_t t0 = ticks();
	while (seconds_now() - s0 < 0.2)
		;
	return (double)(ticks() - t0) / (seconds_now() - s0);
}

int main(int argc, char **argv)
{
	char err[LOBO_ERR_LEN], batches[128] = "1,2,4,8,16,32,64,128,256";
	double seconds = 1;
	int cpu = 1, nic_cpu = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--one-core"))
			nic_cpu = -1;
		else if (v && !strcmp(argv[i], "--seconds"))
			seconds = atof(argv[++i]);
		else if (v && !strcmp(argv[i], "--cpu"))
			cpu = atoi(argv[++i]);
		else if (v && !strcmp(argv[i], "--nic-cpu"))
			nic_cpu = atoi(argv[++i]);
		else if (v && !strcmp(argv[i], "--batches"))
			snprintf(batches, sizeof batches, "%s", argv[++i]);
		else {
			fprintf(stderr, "usage: ring_bench [--seconds S] [--cpu N] [--nic-cpu M | --one-core] [--batches 1,2,...]\n");
			return 2;
		}
	}
	struct bench *b = aligned_alloc(64, sizeof *b);
	if (!b || seconds <= 0 || lobo_mem_alloc(&b->mem, 2 * RING * BUF + 2 * 16 * RING, err)) {
		fprintf(stderr, "ring_bench: %s\n", b && seconds > 0 ? err : "bad arguments or out of memory");
		return 1;
	}
	b->nic_cpu = nic_cpu;
	double hz = tick_rate();
	double load = 0;
	getloadavg(&load, 1);
	char where[32] = "the same core";
	if (nic_cpu >= 0)
		snprintf(where, sizeof where, "CPU %d", nic_cpu);
	printf("# ring_bench: %.2f GHz TSC, %s pages, load %.2f, rings of %u, %u-byte frames, CPU %d (NIC on %s)\n",
	       hz / 1e9, b->mem.huge ? "2 MiB" : "4 KiB", load, RING, FRAME, cpu, where);
	for (enum mode m = RX; m <= FWD; m++)
		for (char *s = batches; *s;) {
			long n = strtol(s, &s, 10);
			if (n >= 1 && n <= (long)MAX_BATCH)
				measure(b, m, (uint16_t)n, seconds, hz, cpu);
			s += *s == ',';
		}
	lobo_mem_free(&b->mem);
	free(b);
	return 0;
}
