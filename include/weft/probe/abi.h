/* weft-probe's kernel/user ABI: the keys, values and events the TC programs in ebpf/
 * write and src/probe reads. C, included by both sides (clang -target bpf and C++), so
 * only <linux/types.h> types and fixed-size layouts. Addresses are 16 bytes, IPv4 as
 * ::ffff:a.b.c.d, as in weft::roce::IpAddress. */
#ifndef WEFT_PROBE_ABI_H
#define WEFT_PROBE_ABI_H

#include <linux/types.h>

/* Bounds. IPv4 and IPv6 have tables of their own: a key with 4-byte addresses hashes and
 * compares in well under half the time of one with 16-byte addresses (see
 * docs/BENCHMARKS.md), and most RoCE fabrics are IPv4.
 *
 * QP flows, touched by every RoCE packet, are kept in open-addressing tables over array
 * maps (struct weft_qp_slot4/6), not in BPF hash maps: an array lookup is inlined by the
 * verifier where a hash map lookup is a call that hashes and compares the whole key, and
 * the hash lookup was a third of the program's time. A flow's slot is found from a
 * seeded 64-bit multiplicative hash of its key (seed: random per load, so a sender cannot
 * aim collisions at one host), probing at most WEFT_PROBE_QP_PROBES slots; a new flow
 * that finds them all taken is counted as WP_QP_MAP_FULL. Slots are never freed, so a
 * slot's counters are zero until its flow claims it. The tables are BPF_F_MMAPABLE: the
 * agent reads them in place. */
#define WEFT_PROBE_QP_SLOTS4 65536 /* IPv4 QP flows (a power of two) */
#define WEFT_PROBE_QP_SLOTS6 16384 /* IPv6 QP flows (a power of two) */
#define WEFT_PROBE_QP_PROBES 8
#define WEFT_PROBE_MAX_PEERS 16384 /* IPv4 peer pairs */
#define WEFT_PROBE_MAX_PEERS6 4096 /* IPv6 peer pairs */
#define WEFT_PROBE_RINGBUF_BYTES (1u << 20)
/* A request PSN further than this from its QP's sequence (either way, modulo 2^24) is
 * not a retransmission (go-back-N replays at most the outstanding window) nor a READ's
 * jump (a READ request advances the PSN by its response packets): 2^20 allows a 4 GB
 * READ at 4 KB MTU, and a random injected PSN still falls outside with p = 7/8. */
#define WEFT_PROBE_PSN_WINDOW (1u << 20)

/* Global counters (an array map indexed by these). */
enum weft_probe_counter {
    WP_PACKETS = 0,          /* every frame: the sum of the five classes, added in user space */
    WP_ROCE,                 /* well-formed RoCEv2 */
    WP_TCP,                  /* east-west TCP over IPv4/IPv6 */
    WP_UDP,                  /* UDP that is not RoCEv2 */
    WP_OTHER,                /* not IP, or IP that is neither TCP nor UDP */
    WP_MALFORMED,            /* RoCEv2 (UDP 4791) refused, total of the reasons below */
    WP_MALFORMED_IP_LENGTH,  /* IP total/payload length beyond the frame */
    WP_MALFORMED_UDP_LENGTH, /* UDP length shorter than its header or beyond the IP payload */
    WP_MALFORMED_TRUNCATED,  /* shorter than BTH + ICRC */
    WP_MALFORMED_VERSION,    /* BTH transport header version is not 0 */
    WP_MALFORMED_OPCODE,     /* opcode the IBA does not define (0xff, ...) */
    WP_MALFORMED_LENGTH,     /* shorter than its opcode's headers + pad + ICRC */
    WP_QP_MAP_FULL,          /* a new QP flow found the QP map full: not tracked */
    WP_PEER_MAP_FULL,        /* a new peer pair found the peer map full: not tracked */
    WP_RINGBUF_DROPS,        /* events lost: the ring buffer was full */
    WP_PSN_OUT_OF_WINDOW,    /* requests whose PSN is far outside their QP's sequence */
    WP_COUNTER_COUNT
};

/* Opcode classes, from weft::roce::Operation (ebpf/gen: generated table). */
enum weft_probe_op_class {
    WP_OP_INVALID = 0,
    WP_OP_SEND,
    WP_OP_WRITE,
    WP_OP_READ_REQUEST,
    WP_OP_READ_RESPONSE,
    WP_OP_ACK,
    WP_OP_ATOMIC,
    WP_OP_ATOMIC_ACK,
    WP_OP_CNP,
    WP_OP_OTHER,
    WP_OP_CLASS_COUNT
};

/* AETH kinds: the order of weft::roce::AckKind. */
#define WP_ACK_KIND_COUNT 8

struct __attribute__((aligned(8))) weft_qp_key4 {
    __be32 src;
    __be32 dst;
    __u32 dest_qp;
    __u32 ifindex;
};
struct __attribute__((aligned(8))) weft_qp_key6 {
    __u8 src[16];
    __u8 dst[16];
    __u32 dest_qp;
    __u32 ifindex;
};

/* Both values start with first_ns: the BPF side makes either from one scratch value. */
struct weft_qp_stats {
    /* bpf_ktime_get_coarse_ns() when the entry was made. No per-packet time: reading a
     * clock cost ~15 ns a packet; the agent tells activity by counts that moved. */
    __u64 first_ns;
    __u64 packets;
    __u64 bytes; /* wire bytes (skb->len) */
    __u64 op_class[WP_OP_CLASS_COUNT];
    __u64 ack_kind[WP_ACK_KIND_COUNT]; /* [0] ACKs, then RNR NAK and the NAK codes */
    __u64 ecn_ce;
    __u64 read_request_bytes; /* RETH DMA lengths of READ requests */
    __u64 payload_bytes;
    __u64 psn_out_of_window; /* requests more than WEFT_PROBE_PSN_WINDOW from the sequence */
    __u32 last_psn;
    __u32 next_request_psn; /* one past the last request's PSN (valid when psn_valid) */
    __u32 psn_valid;
    __u32 ingress; /* 1: last seen on ingress, 0: egress */
};

/* A slot's state word: 0 while free, else the flow's hash with its low two bits
 * replaced by WP_SLOT_CLAIMED (key being written) or WP_SLOT_READY. A CPU that finds a
 * claimed slot bearing its own flow's hash uses it at once: the counters are zero and
 * only the claimer writes the key, so a flow's packets never split over two slots. */
#define WP_SLOT_CLAIMED 1ull
#define WP_SLOT_READY 2ull
#define WP_SLOT_FLAGS 3ull
struct weft_qp_slot4 {
    __u64 state;
    struct weft_qp_key4 key;
    struct weft_qp_stats stats;
};
struct weft_qp_slot6 {
    __u64 state;
    struct weft_qp_key6 key;
    struct weft_qp_stats stats;
};
struct weft_peer_key4 {
    __be32 src;
    __be32 dst;
    __u32 ifindex;
};
struct weft_peer_key6 {
    __u8 src[16];
    __u8 dst[16];
    __u32 ifindex;
    __u32 pad;
};

/* RoCE per peer pair is the sum of its QPs (user space adds them up): the RoCE path
 * touches one map, not two. */
struct weft_peer_stats {
    __u64 first_ns; /* when the entry was made (coarse clock) */
    __u64 tcp_packets;
    __u64 tcp_bytes;
    __u64 tcp_syns; /* SYN without ACK: connection attempts */
    __u64 udp_packets;
    __u64 udp_bytes;
};

enum weft_probe_event_type {
    WP_EV_NEW_PEER = 1, /* first packet of a (src, dst) pair on an interface */
    WP_EV_NEW_QP,       /* first packet of a QP flow */
    WP_EV_NAK,       /* NAK bursts: a QP's 1st, 2nd, 4th, ..., 32nd, then every 64th AETH NAK or RNR
                        NAK of one kind (`reason`: the AckKind index; `count`: that QP's NAKs of
                        that kind so far, 0 when the QP is not tracked) */
    WP_EV_MALFORMED, /* a refused RoCEv2 packet; `reason` is its weft_probe_counter */
    WP_EV_PSN_JUMP,  /* a request PSN outside its QP's window (`syndrome`: 1 ahead, 2 behind) */
    WP_EV_VOLUME,    /* a QP's READ bytes crossed a MiB, or its CNPs a multiple of 64
                        (`syndrome` 1 or 2): the agent reads the maps now, not at its next
                        poll, so volume detectors are as quick as event ones */
};

struct weft_probe_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() */
    __u32 type;
    __u32 ifindex;
    __u8 src[16];
    __u8 dst[16];
    __u32 dest_qp;
    __u32 psn;
    __u8 opcode;
    __u8 syndrome;
    __u8 reason;
    __u8 ingress;
    __u8 l4; /* IPPROTO_UDP or IPPROTO_TCP (new peer) */
    __u8 pad[3];
    __u64 count; /* WP_EV_NAK: the QP's NAKs of its kind so far */
};

#endif
