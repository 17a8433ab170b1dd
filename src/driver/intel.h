/* What Intel's NICs do alike in their registers, igb's family (82576, i350,
 * i210) and ixgbe's (82599, X540, X550): bounded waits, the RSS key and
 * table, a queue's enable bit and the queue moves of the hardware transmit
 * loop. The rings themselves are adv_ring.h's. Every function takes pointers
 * into the caller's BAR: where a register lies is the driver's to say. */
#ifndef LOBO_INTEL_H
#define LOBO_INTEL_H

#include "adv_ring.h"
#include "port.h"

/* The Microsoft RSS specification's example key: known, so hashes can be checked. */
extern const uint8_t intel_default_key[LOBO_RSS_KEY_LEN];

void intel_sleep_ms(long ms);

/* Polls until (*reg & mask) == want, for up to ms milliseconds by the clock:
 * every wait on the device is bounded, so a NIC that never answers gives an
 * error, not a hang. False when the time ran out. */
bool intel_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want, int ms);

/* A 64-bit octet counter (GORCL/GORCH, GOTCL/GOTCH): the low half first, then
 * the high, whose read clears both. */
uint64_t intel_rd64(volatile uint32_t *low);

/* len bytes into consecutive registers, four to a register, the first in
 * bits 7:0: how both families take the RSS key (RSSRK) and table (RETA). */
void intel_write_bytes(volatile uint32_t *reg, const uint8_t *bytes, uint32_t len);

/* A queue's enable bit (RXDCTL or TXDCTL bit 25) set or cleared, then waited
 * for up to 100 ms: it reads what was written only once the queue has started
 * or stopped (82576 8.10.10 and 8.12.13, 82599 4.6.7.1 and 4.6.8.1). False
 * when it did not. */
bool intel_queue_start(volatile uint32_t *ctl);
bool intel_queue_stop(volatile uint32_t *ctl);

/* The hardware transmit loop (adv_tx_loop_fill) on queue q of port p, ring r,
 * whose registers begin at its TDBAL (TDLEN, TDH, TDT and TXDCTL follow at the
 * same offsets in both families): the queue stopped, its ring cut to the loop
 * and started again. Stopping gives the queue its whole ring back. */
int intel_tx_loop_start(struct lobo_port *p, uint16_t q, struct adv_tx_ring *r, volatile uint32_t *tdbal,
			const struct lobo_frame *f, uint32_t n, char *err);
void intel_tx_loop_stop(struct lobo_port *p, uint16_t q, struct adv_tx_ring *r, volatile uint32_t *tdbal);

#endif
