/* weft-probe's TC programs (clsact ingress and egress): per QP and per peer pair
 * counters for RoCEv2, TCP and UDP east-west traffic, malformed RoCEv2 by reason, and
 * ring-buffer events for new peers, new QPs, NAKs and malformed packets. Observe only:
 * every packet continues (TC_ACT_OK). Maps are bounded; a full map or ring buffer is
 * counted (WP_QP_MAP_FULL, WP_PEER_MAP_FULL, WP_RINGBUF_DROPS), never silent. */
#include <linux/pkt_cls.h>

#include "parse.h"
#include "weft/probe/abi.h"
#include "weft_opcode_table.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, WP_COUNTER_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} weft_counters SEC(".maps");

/* QP flows: open-addressing tables over array maps (why: include/weft/probe/abi.h) */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, WEFT_PROBE_QP_SLOTS4);
    __type(key, __u32);
    __type(value, struct weft_qp_slot4);
} weft_qps4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, WEFT_PROBE_QP_SLOTS6);
    __type(key, __u32);
    __type(value, struct weft_qp_slot6);
} weft_qps6 SEC(".maps");

/* Set by the loader before loading: random, so slot positions cannot be predicted. */
const volatile __u64 weft_hash_seed = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, WEFT_PROBE_MAX_PEERS);
    __type(key, struct weft_peer_key4);
    __type(value, struct weft_peer_stats);
} weft_peers4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, WEFT_PROBE_MAX_PEERS6);
    __type(key, struct weft_peer_key6);
    __type(value, struct weft_peer_stats);
} weft_peers6 SEC(".maps");

/* Room to build a new peer value off the 512-byte BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct weft_peer_stats);
} weft_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, WEFT_PROBE_RINGBUF_BYTES);
} weft_events SEC(".maps");

static __always_inline void count(__u32 which) {
    __u64* v = bpf_map_lookup_elem(&weft_counters, &which);
    if (v) *v += 1; /* per-CPU: no atomic needed */
}

static __always_inline void emit_counted(__u32 type, __u32 ifindex, const struct weft_l3* l3,
                                         __u32 dest_qp, __u32 psn, __u8 opcode, __u8 syndrome,
                                         __u8 reason, __u8 ingress, __u64 count_so_far) {
    struct weft_probe_event* e = bpf_ringbuf_reserve(&weft_events, sizeof(*e), 0);
    if (!e) {
        count(WP_RINGBUF_DROPS);
        return;
    }
    e->ts_ns = bpf_ktime_get_ns();
    e->type = type;
    e->ifindex = ifindex;
    weft_l3_addresses(l3, e->src, e->dst);
    e->dest_qp = dest_qp;
    e->psn = psn;
    e->opcode = opcode;
    e->syndrome = syndrome;
    e->reason = reason;
    e->ingress = ingress;
    e->l4 = l3->proto;
    e->pad[0] = e->pad[1] = e->pad[2] = 0;
    e->count = count_so_far;
    bpf_ringbuf_submit(e, 0);
}

static __always_inline void emit(__u32 type, __u32 ifindex, const struct weft_l3* l3, __u32 dest_qp,
                                 __u32 psn, __u8 opcode, __u8 syndrome, __u8 reason, __u8 ingress) {
    emit_counted(type, ifindex, l3, dest_qp, psn, opcode, syndrome, reason, ingress, 0);
}

static __always_inline void malformed(__u32 reason, __u32 ifindex, const struct weft_l3* l3,
                                      __u32 dest_qp, __u8 opcode, __u8 ingress) {
    count(WP_MALFORMED);
    count(reason);
    emit(WP_EV_MALFORMED, ifindex, l3, dest_qp, 0, opcode, 0, (__u8)reason, ingress);
}

/* A peer pair's hash map entry: the existing one, or a new one (*created) made from the
 * zeroed per-CPU scratch value; a full map is counted. */
static __always_inline struct weft_peer_stats* find_or_create_peer(void* map, const void* key,
                                                                   int* created) {
    *created = 0;
    struct weft_peer_stats* v = bpf_map_lookup_elem(map, key);
    if (v) return v;
    __u32 zero = 0;
    struct weft_peer_stats* fresh = bpf_map_lookup_elem(&weft_scratch, &zero);
    if (!fresh) return 0;
    __builtin_memset(fresh, 0, sizeof(*fresh));
    fresh->first_ns = bpf_ktime_get_coarse_ns();
    /* BPF_NOEXIST fails when another CPU made it meanwhile, or when the map is full */
    if (bpf_map_update_elem(map, key, fresh, BPF_NOEXIST) == 0) *created = 1;
    v = bpf_map_lookup_elem(map, key);
    if (!v) count(WP_PEER_MAP_FULL);
    return v;
}

static __always_inline __u64 mix(__u64 h) {
    h ^= h >> 32;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* The slot of a QP flow: probe WEFT_PROBE_QP_PROBES slots from the hash; claim the first
 * free one for a new flow (*created). Expands to one function per table (IPv4, IPv6). */
#define WEFT_QP_SLOT_FIND(name, table, slot_type, key_type, slots, key_equal)                     \
    static __always_inline struct weft_qp_stats* name(const key_type* k, __u64 h, int* created) { \
        *created = 0;                                                                             \
        __u64 tag = (h & ~WP_SLOT_FLAGS);                                                         \
        __u32 first = (__u32)(h >> 40);                                                           \
        _Pragma("unroll") for (__u32 i = 0; i < WEFT_PROBE_QP_PROBES; i++) {                      \
            __u32 index = (first + i) & ((slots)-1);                                              \
            slot_type* s = bpf_map_lookup_elem(&table, &index);                                   \
            if (!s) return 0;                                                                     \
            __u64 state = s->state;                                                               \
            if (state == (tag | WP_SLOT_READY)) {                                                 \
                if (key_equal(&s->key, k)) return &s->stats;                                      \
                continue;                                                                         \
            }                                                                                     \
            if (state == (tag | WP_SLOT_CLAIMED)) return &s->stats; /* ours, being written */     \
            if (state != 0) continue;                                                             \
            state = __sync_val_compare_and_swap(&s->state, 0, tag | WP_SLOT_CLAIMED);             \
            if (state != 0) {                                                                     \
                /* another CPU took it first: for this flow, or for another */                    \
                if ((state & ~WP_SLOT_FLAGS) == tag) return &s->stats;                            \
                continue;                                                                         \
            }                                                                                     \
            __builtin_memcpy(&s->key, k, sizeof(*k));                                             \
            s->stats.first_ns = bpf_ktime_get_coarse_ns();                                        \
            __sync_lock_test_and_set(&s->state, tag | WP_SLOT_READY); /* a full barrier */        \
            *created = 1;                                                                         \
            return &s->stats;                                                                     \
        }                                                                                         \
        count(WP_QP_MAP_FULL);                                                                    \
        return 0;                                                                                 \
    }

static __always_inline int key4_equal(const struct weft_qp_key4* a, const struct weft_qp_key4* b) {
    const __u64* x = (const __u64*)a;
    const __u64* y = (const __u64*)b;
    return x[0] == y[0] && x[1] == y[1];
}

static __always_inline int key6_equal(const struct weft_qp_key6* a, const struct weft_qp_key6* b) {
    const __u64* x = (const __u64*)a;
    const __u64* y = (const __u64*)b;
    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

WEFT_QP_SLOT_FIND(qp_slot4, weft_qps4, struct weft_qp_slot4, struct weft_qp_key4,
                  WEFT_PROBE_QP_SLOTS4, key4_equal)
WEFT_QP_SLOT_FIND(qp_slot6, weft_qps6, struct weft_qp_slot6, struct weft_qp_key6,
                  WEFT_PROBE_QP_SLOTS6, key6_equal)

/* The peer pair's counters, created on first sight (with an event). */
static __always_inline struct weft_peer_stats* peer(const struct weft_l3* l3, __u32 ifindex,
                                                    __u8 ingress) {
    int created;
    struct weft_peer_stats* s;
    if (l3->v6) {
        struct weft_peer_key6 k = {};
        __builtin_memcpy(k.src, l3->src6, 16);
        __builtin_memcpy(k.dst, l3->dst6, 16);
        k.ifindex = ifindex;
        s = find_or_create_peer(&weft_peers6, &k, &created);
    } else {
        struct weft_peer_key4 k = {.src = l3->src4, .dst = l3->dst4, .ifindex = ifindex};
        s = find_or_create_peer(&weft_peers4, &k, &created);
    }
    if (created) emit(WP_EV_NEW_PEER, ifindex, l3, 0, 0, 0, 0, 0, ingress);
    return s;
}

/* The QP flow's counters, created on first sight (with an event; a new QP may also be a
 * new peer pair). */
static __always_inline struct weft_qp_stats* qp(const struct weft_l3* l3, __u32 dest_qp,
                                                __u32 ifindex, __u32 psn, __u8 opcode,
                                                __u8 ingress) {
    int created;
    struct weft_qp_stats* q;
    if (l3->v6) {
        struct weft_qp_key6 k = {};
        __builtin_memcpy(k.src, l3->src6, 16);
        __builtin_memcpy(k.dst, l3->dst6, 16);
        k.dest_qp = dest_qp;
        k.ifindex = ifindex;
        const __u64* w = (const __u64*)&k;
        __u64 h = mix(w[0] ^ weft_hash_seed);
        h = mix(h ^ w[1]);
        h = mix(h ^ w[2]);
        h = mix(h ^ w[3]);
        q = qp_slot6(&k, mix(h ^ w[4]), &created);
    } else {
        struct weft_qp_key4 k = {
            .src = l3->src4, .dst = l3->dst4, .dest_qp = dest_qp, .ifindex = ifindex};
        const __u64* w = (const __u64*)&k;
        q = qp_slot4(&k, mix(mix(w[0] ^ weft_hash_seed) ^ w[1]), &created);
    }
    if (created) {
        emit(WP_EV_NEW_QP, ifindex, l3, dest_qp, psn, opcode, 0, 0, ingress);
        peer(l3, ifindex, ingress);
    }
    return q;
}

static __always_inline int handle(struct __sk_buff* skb, __u8 ingress) {
    /* WP_PACKETS is not counted here: every packet lands in exactly one of ROCE, TCP, UDP,
     * OTHER and MALFORMED, and user space adds them up (one map update per packet saved).
     * The headers parsed here (at most 14 + 8 + 60 + 8 + 12 + 28 bytes) are nearly always
     * in the linear part; pull only when they are not, since pulling may copy a cloned skb. */
    if ((long)skb->data_end - (long)skb->data < 130 && skb->len > skb->data_end - skb->data)
        bpf_skb_pull_data(skb, skb->len < 130 ? skb->len : 130);
    void* data = (void*)(long)skb->data;
    void* data_end = (void*)(long)skb->data_end;
    __u32 ifindex = skb->ifindex;
    struct weft_l3 l3;
    if (!weft_parse_l3(data, data_end, skb->len, &l3)) {
        count(WP_OTHER);
        return TC_ACT_OK;
    }
    __u32 l4 = l3.l4_offset & 0x7f; /* <= 14 + 8 + 60: tells the verifier it is bounded */

    if (l3.proto == IPPROTO_TCP) {
        count(WP_TCP);
        struct tcphdr* tcp = data + l4;
        struct weft_peer_stats* s = peer(&l3, ifindex, ingress);
        if (s) {
            __sync_fetch_and_add(&s->tcp_packets, 1);
            __sync_fetch_and_add(&s->tcp_bytes, skb->len);
            if ((void*)(tcp + 1) <= data_end && tcp->syn && !tcp->ack)
                __sync_fetch_and_add(&s->tcp_syns, 1);
        }
        return TC_ACT_OK;
    }
    if (l3.proto != IPPROTO_UDP) {
        count(WP_OTHER);
        return TC_ACT_OK;
    }
    struct udphdr* udp = data + l4;
    if ((void*)(udp + 1) > data_end) {
        count(WP_OTHER);
        return TC_ACT_OK;
    }
    if (udp->dest != bpf_htons(WEFT_ROCE_PORT)) {
        count(WP_UDP);
        struct weft_peer_stats* s = peer(&l3, ifindex, ingress);
        if (s) {
            __sync_fetch_and_add(&s->udp_packets, 1);
            __sync_fetch_and_add(&s->udp_bytes, skb->len);
        }
        return TC_ACT_OK;
    }

    /* RoCEv2: the same refusals as weft::roce::parse, in its order */
    if (l3.bad_length) {
        malformed(WP_MALFORMED_IP_LENGTH, ifindex, &l3, 0, 0, ingress);
        return TC_ACT_OK;
    }
    __u32 udp_len = bpf_ntohs(udp->len);
    if (udp_len < sizeof(*udp) || udp_len > l3.l4_bytes) {
        malformed(WP_MALFORMED_UDP_LENGTH, ifindex, &l3, 0, 0, ingress);
        return TC_ACT_OK;
    }
    __u32 roce_len = udp_len - sizeof(*udp);
    __u8* bth = (__u8*)(udp + 1);
    if (roce_len < WEFT_BTH_BYTES + WEFT_ICRC_BYTES || (void*)(bth + WEFT_BTH_BYTES) > data_end) {
        malformed(WP_MALFORMED_TRUNCATED, ifindex, &l3, 0, 0, ingress);
        return TC_ACT_OK;
    }
    __u8 opcode = bth[0];
    __u8 pad = (bth[1] >> 4) & 3;
    __u32 dest_qp = (__u32)bth[5] << 16 | (__u32)bth[6] << 8 | bth[7];
    __u32 psn = (__u32)bth[9] << 16 | (__u32)bth[10] << 8 | bth[11];
    if (bth[1] & 0x0f) {
        malformed(WP_MALFORMED_VERSION, ifindex, &l3, dest_qp, opcode, ingress);
        return TC_ACT_OK;
    }
    __u8 op_class = weft_op_class[opcode];
    if (op_class == WP_OP_INVALID) {
        malformed(WP_MALFORMED_OPCODE, ifindex, &l3, dest_qp, opcode, ingress);
        return TC_ACT_OK;
    }
    /* the parser's rule: headers and ICRC fit; a payload-less opcode has neither payload
     * nor pad; a payload is padded to four bytes and the pad fits in it */
    __u32 headers = WEFT_BTH_BYTES + weft_op_ext_bytes[opcode] + WEFT_ICRC_BYTES;
    __u32 padded = roce_len >= headers ? roce_len - headers : 0;
    if (roce_len < headers || (!weft_op_payload[opcode] && (padded || pad)) ||
        (weft_op_payload[opcode] && ((padded & 3) || pad > padded))) {
        malformed(WP_MALFORMED_LENGTH, ifindex, &l3, dest_qp, opcode, ingress);
        return TC_ACT_OK;
    }
    count(WP_ROCE);

    struct weft_qp_stats* q = qp(&l3, dest_qp, ifindex, psn, opcode, ingress);
    if (q) {
        __sync_fetch_and_add(&q->packets, 1);
        __sync_fetch_and_add(&q->bytes, skb->len);
        __sync_fetch_and_add(&q->payload_bytes, padded - pad);
        if (op_class < WP_OP_CLASS_COUNT) {
            __u64 before = __sync_fetch_and_add(&q->op_class[op_class], 1);
            if (op_class == WP_OP_CNP && (before & 63) == 63)
                emit(WP_EV_VOLUME, ifindex, &l3, dest_qp, psn, opcode, 2, 0, ingress);
        }
        if (l3.ecn == 3) __sync_fetch_and_add(&q->ecn_ce, 1);
        q->last_psn = psn;
        q->ingress = ingress;
        /* PSN window of requests (responses and ACKs echo the requester's PSNs) */
        if (op_class == WP_OP_SEND || op_class == WP_OP_WRITE || op_class == WP_OP_READ_REQUEST ||
            op_class == WP_OP_ATOMIC) {
            if (q->psn_valid) {
                __u32 ahead = (psn - q->next_request_psn) & 0xffffff;
                __u32 behind = (q->next_request_psn - psn) & 0xffffff;
                if (ahead > WEFT_PROBE_PSN_WINDOW && behind > WEFT_PROBE_PSN_WINDOW) {
                    __sync_fetch_and_add(&q->psn_out_of_window, 1);
                    count(WP_PSN_OUT_OF_WINDOW);
                    emit(WP_EV_PSN_JUMP, ifindex, &l3, dest_qp, psn, opcode, ahead < behind ? 1 : 2,
                         0, ingress);
                    /* the sequence stays the legitimate one: injected PSNs do not move it */
                    goto psn_done;
                }
            }
            q->next_request_psn = (psn + 1) & 0xffffff;
            q->psn_valid = 1;
        }
    psn_done:;
    }
    __u8 aeth_off = weft_op_aeth_offset[opcode];
    if (aeth_off != 0xff) {
        __u8* aeth = bth + WEFT_BTH_BYTES + (aeth_off & 0x3f);
        if ((void*)(aeth + 1) <= data_end) {
            __u8 syndrome = aeth[0];
            __u8 kind = weft_ack_kind[syndrome] & (WP_ACK_KIND_COUNT - 1);
            __u64 naks = q ? __sync_fetch_and_add(&q->ack_kind[kind], 1) + 1 : 0;
            /* NAK bursts: a QP's 1st, 2nd, 4th, ..., 32nd NAK of a kind, then every 64th, is
             * an event carrying the count so far; the agent takes the NAKs between marks
             * from the QP's counters at its next map read. So a storm is a few events, not
             * one per NAK, and a lone NAK (an rkey guess) is still an event at once. A NAK
             * of an untracked QP (table full) is always an event, with count 0. */
            int mark = naks == 0 || (naks & (naks - 1)) == 0 || (naks & 63) == 0;
            if (kind != 0 && mark)
                emit_counted(WP_EV_NAK, ifindex, &l3, dest_qp, psn, opcode, syndrome, kind, ingress,
                             naks);
        }
    }
    __u8 reth_off = weft_op_reth_offset[opcode];
    if (reth_off != 0xff && op_class == WP_OP_READ_REQUEST && q) {
        __u8* reth = bth + WEFT_BTH_BYTES + (reth_off & 0x3f);
        if ((void*)(reth + 16) <= data_end) {
            __u32 dma_len =
                (__u32)reth[12] << 24 | (__u32)reth[13] << 16 | (__u32)reth[14] << 8 | reth[15];
            __u64 before = __sync_fetch_and_add(&q->read_request_bytes, dma_len);
            if ((before >> 20) != ((before + dma_len) >> 20))
                emit(WP_EV_VOLUME, ifindex, &l3, dest_qp, psn, opcode, 1, 0, ingress);
        }
    }
    return TC_ACT_OK;
}

SEC("tc")
int weft_ingress(struct __sk_buff* skb) {
    return handle(skb, 1);
}

SEC("tc")
int weft_egress(struct __sk_buff* skb) {
    return handle(skb, 0);
}
