/* What igb.c shares with igb_keep.c (kernel=keep): the registers, the port
 * and the per-queue set-up. Section numbers are the 82576 datasheet's. */
#ifndef LOBO_IGB_H
#define LOBO_IGB_H

#include "driver.h"
#include "intel.h"

/* Registers, 8.1.3. Per-queue ones are at 0xC000/0xE000 + 0x40 * queue. */
enum {
	CTRL = 0x0000, STATUS = 0x0008, EECD = 0x0010, MDIC = 0x0020, IMC = 0x00d8,
	RCTL = 0x0100, TCTL = 0x0400, EIMC = 0x1528, IVAR0 = 0x1700,
	RXCSUM = 0x5000, RLPML = 0x5004, MTA = 0x5200, RAL0 = 0x5400, RAH0 = 0x5404,
	MRQC = 0x5818, RETA = 0x5c00, RSSRK = 0x5c80,
	/* Statistics, 8.19: they clear when read. */
	CRCERRS = 0x4000, ALGNERRC = 0x4004, RXERRC = 0x400c, MPC = 0x4010, GPRC = 0x4074, GPTC = 0x4080, GORCL = 0x4088, GOTCL = 0x4090,
	RUC = 0x40a4, ROC = 0x40ac, STATS_END = 0x4100,
	RDBAL = 0xc000, RDBAH = 0xc004, RDLEN = 0xc008, SRRCTL = 0xc00c, RDH = 0xc010, RDT = 0xc018,
	RXDCTL = 0xc028, RQDPC = 0xc030,
	TDBAL = 0xe000, TDBAH = 0xe004, TDLEN = 0xe008, TDH = 0xe010, TDT = 0xe018, TXDCTL = 0xe028,
	TDWBAL = 0xe038, TDWBAH = 0xe03c,
};
#define QUEUE(reg, q) ((reg) + 0x40u * (q))

#define CTRL_SLU (1u << 6)
#define CTRL_FRCSPD (1u << 11)
#define CTRL_FRCDPX (1u << 12)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define STATUS_LU (1u << 1)
#define EECD_AUTO_RD (1u << 9)
#define MDIC_WRITE (1u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_ERROR (1u << 30)
#define PHY_ADDR (1u << 21)
#define PHY_BMCR_AUTONEG 0x1340u /* BMCR: autonegotiation on and restarted, 1000 full advertised */
#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_BAM (1u << 15)
#define RAH_AV (1u << 31) /* the address is valid: the NIC accepts it */
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT_COLD ((15u << 4) | (63u << 12)) /* collision threshold and full-duplex distance, 4.5.10 */
#define RXCSUM_IPOFLD (1u << 8)
#define RXCSUM_TUOFLD (1u << 9)
#define RXCSUM_PCSD (1u << 13) /* the descriptor carries the RSS hash */
#define MRQC_RSS 2u
#define MRQC_HASH_FIELDS 0x00ff0000u /* IPv4, IPv6 (with extensions), TCP and UDP over both */
#define SRRCTL_BSIZE_2K 2u
#define SRRCTL_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 31)
#define QUEUE_ENABLE (1u << 25) /* RXDCTL, TXDCTL */
#define RXDCTL_WTHRESH_1 (1u << 16) /* write each descriptor back at once: nothing waits in the NIC */

#define BUF_SIZE 2048u
#define MAX_FRAME 1522u /* 1500 bytes of payload, a header and two VLAN tags */
#define RETA_SIZE 128u
#define MAX_RING 4096u

struct igb_port {
	struct lobo_pci_port base;
	struct lobo_mem *mem, rings;
	struct lobo_pci_bar bar;
	struct adv_rx_ring rx[LOBO_MAX_QUEUES];
	struct adv_tx_ring tx[LOBO_MAX_QUEUES];
	struct adv_slot *slots;
	uint8_t key[LOBO_RSS_KEY_LEN], reta[RETA_SIZE];
	bool promisc, allmulti; /* what the shadow asked for (RCTL.UPE, MPE) */
};

static inline volatile uint32_t *reg(struct igb_port *ip, uint32_t at) { return (volatile uint32_t *)(ip->bar.mmio + at); }
static inline uint32_t rd(struct igb_port *ip, uint32_t at) { return *reg(ip, at); }
static inline void wr(struct igb_port *ip, uint32_t at, uint32_t v) { *reg(ip, at) = v; }

/* Hardware queue hwq takes ring q of the port (its descriptors at desc,
 * rx_ring or tx_ring of them), and is enabled; 4.5.9 and 4.5.10. */
void igb_rx_queue_init(struct igb_port *ip, uint16_t q, uint16_t hwq, void *desc, const struct lobo_port_info *info);
void igb_tx_queue_init(struct igb_port *ip, uint16_t q, uint16_t hwq, void *desc, volatile uint32_t *head_wb,
		       const struct lobo_port_info *info);
/* The model's name and limits, and rings and queues within them. */
int igb_check_params(const char *bdf, const char *params, struct lobo_port_info *info,
		     const struct lobo_pci_model **model, char *err);
/* A port of size bytes (a struct that begins with igb_port), slots for its rings. */
struct igb_port *igb_alloc(size_t size, const struct lobo_port_info *info, struct lobo_mem *mem, char *err);
void igb_free(struct igb_port *ip);
void igb_read_mac(struct igb_port *ip, uint8_t mac[6]);

/* The data path and link, shared by both modes. */
uint16_t igb_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max);
uint16_t igb_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max);
struct lobo_link igb_link(struct lobo_port *p);
void igb_refresh_info(struct lobo_port *p);

/* kernel=keep (igb_keep.c): the kernel's igb keeps the NIC, lobo one queue pair. */
int igb_keep_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err);

#endif
