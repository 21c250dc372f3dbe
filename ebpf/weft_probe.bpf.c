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

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, WEFT_PROBE_MAX_QPS);
    __type(key, struct weft_qp_key);
    __type(value, struct weft_qp_stats);
} weft_qps SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, WEFT_PROBE_MAX_PEERS);
    __type(key, struct weft_peer_key);
    __type(value, struct weft_peer_stats);
} weft_peers SEC(".maps");

/* Room to build a new map value: a zeroed 200-byte struct on the 512-byte BPF stack,
 * beside the keys, does not fit. */
union weft_scratch_value {
    struct weft_qp_stats qp;
    struct weft_peer_stats peer;
};
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, union weft_scratch_value);
} weft_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, WEFT_PROBE_RINGBUF_BYTES);
} weft_events SEC(".maps");

static __always_inline void count(__u32 which) {
    __u64* v = bpf_map_lookup_elem(&weft_counters, &which);
    if (v) *v += 1; /* per-CPU: no atomic needed */
}

static __always_inline void emit(__u32 type, __u32 ifindex, const struct weft_l3* l3, __u32 dest_qp,
                                 __u32 psn, __u8 opcode, __u8 syndrome, __u8 reason, __u8 ingress) {
    struct weft_probe_event* e = bpf_ringbuf_reserve(&weft_events, sizeof(*e), 0);
    if (!e) {
        count(WP_RINGBUF_DROPS);
        return;
    }
    e->ts_ns = bpf_ktime_get_ns();
    e->type = type;
    e->ifindex = ifindex;
    __builtin_memcpy(e->src, l3->src, 16);
    __builtin_memcpy(e->dst, l3->dst, 16);
    e->dest_qp = dest_qp;
    e->psn = psn;
    e->opcode = opcode;
    e->syndrome = syndrome;
    e->reason = reason;
    e->ingress = ingress;
    e->l4 = l3->proto;
    e->pad[0] = e->pad[1] = e->pad[2] = 0;
    bpf_ringbuf_submit(e, 0);
}

static __always_inline void malformed(__u32 reason, __u32 ifindex, const struct weft_l3* l3,
                                      __u32 dest_qp, __u8 opcode, __u8 ingress) {
    count(WP_MALFORMED);
    count(reason);
    emit(WP_EV_MALFORMED, ifindex, l3, dest_qp, 0, opcode, 0, (__u8)reason, ingress);
}

/* The peer pair's counters, created on first sight (with an event). */
static __always_inline struct weft_peer_stats* peer(const struct weft_l3* l3, __u32 ifindex,
                                                    __u64 now, __u8 ingress) {
    struct weft_peer_key k = {};
    __builtin_memcpy(k.src, l3->src, 16);
    __builtin_memcpy(k.dst, l3->dst, 16);
    k.ifindex = ifindex;
    struct weft_peer_stats* s = bpf_map_lookup_elem(&weft_peers, &k);
    if (s) return s;
    __u32 zero = 0;
    union weft_scratch_value* fresh = bpf_map_lookup_elem(&weft_scratch, &zero);
    if (!fresh) return 0;
    __builtin_memset(&fresh->peer, 0, sizeof(fresh->peer));
    fresh->peer.first_ns = now;
    if (bpf_map_update_elem(&weft_peers, &k, &fresh->peer, BPF_NOEXIST) != 0) {
        /* lost a race with the other direction's CPU, or the map is full */
        s = bpf_map_lookup_elem(&weft_peers, &k);
        if (!s) count(WP_PEER_MAP_FULL);
        return s;
    }
    emit(WP_EV_NEW_PEER, ifindex, l3, 0, 0, 0, 0, 0, ingress);
    return bpf_map_lookup_elem(&weft_peers, &k);
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
    /* the tick-resolution clock for map times (a few ns, not a few tens); events read the
     * exact one */
    __u64 now = bpf_ktime_get_coarse_ns();
    struct weft_l3 l3 = {};
    if (!weft_parse_l3(data, data_end, skb->len, &l3)) {
        count(WP_OTHER);
        return TC_ACT_OK;
    }
    __u32 l4 = l3.l4_offset & 0x7f; /* <= 14 + 8 + 60: tells the verifier it is bounded */

    if (l3.proto == IPPROTO_TCP) {
        count(WP_TCP);
        struct tcphdr* tcp = data + l4;
        struct weft_peer_stats* s = peer(&l3, ifindex, now, ingress);
        if (s) {
            __sync_fetch_and_add(&s->tcp_packets, 1);
            __sync_fetch_and_add(&s->tcp_bytes, skb->len);
            if ((void*)(tcp + 1) <= data_end && tcp->syn && !tcp->ack)
                __sync_fetch_and_add(&s->tcp_syns, 1);
            s->last_ns = now;
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
        struct weft_peer_stats* s = peer(&l3, ifindex, now, ingress);
        if (s) {
            __sync_fetch_and_add(&s->udp_packets, 1);
            __sync_fetch_and_add(&s->udp_bytes, skb->len);
            s->last_ns = now;
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

    struct weft_qp_key k = {};
    __builtin_memcpy(k.src, l3.src, 16);
    __builtin_memcpy(k.dst, l3.dst, 16);
    k.dest_qp = dest_qp;
    k.ifindex = ifindex;
    struct weft_qp_stats* q = bpf_map_lookup_elem(&weft_qps, &k);
    if (!q) {
        __u32 zero = 0;
        union weft_scratch_value* fresh = bpf_map_lookup_elem(&weft_scratch, &zero);
        if (!fresh) return TC_ACT_OK;
        __builtin_memset(&fresh->qp, 0, sizeof(fresh->qp));
        fresh->qp.first_ns = now;
        if (bpf_map_update_elem(&weft_qps, &k, &fresh->qp, BPF_NOEXIST) == 0) {
            emit(WP_EV_NEW_QP, ifindex, &l3, dest_qp, psn, opcode, 0, 0, ingress);
            peer(&l3, ifindex, now, ingress); /* a new QP may be a new peer pair */
        }
        q = bpf_map_lookup_elem(&weft_qps, &k);
        if (!q) count(WP_QP_MAP_FULL);
    }
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
        q->last_ns = now;
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
            if (q) __sync_fetch_and_add(&q->ack_kind[kind], 1);
            if (kind != 0)
                emit(WP_EV_NAK, ifindex, &l3, dest_qp, psn, opcode, syndrome, 0, ingress);
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
