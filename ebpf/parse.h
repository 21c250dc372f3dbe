/* Packet parsing for weft-probe's TC programs: Ethernet, up to two VLAN tags, IPv4 or
 * IPv6, then TCP, UDP, and for UDP 4791 the BTH with its AETH and RETH. Every read is
 * bounds-checked against data_end (the verifier insists, and so would we). */
#ifndef WEFT_PROBE_PARSE_H
#define WEFT_PROBE_PARSE_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#define WEFT_ROCE_PORT 4791
#define WEFT_BTH_BYTES 12
#define WEFT_ICRC_BYTES 4

struct weft_l3 {
    __u8 src[16];
    __u8 dst[16];
    __u8 proto;
    __u8 ecn;
    __u32 l4_offset;
    __u32 l4_bytes; /* IP payload length the header claims */
    int bad_length; /* the IP header claims more than the frame holds */
};

static __always_inline void weft_v4_mapped(__u8 out[16], __be32 a) {
    __builtin_memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    __builtin_memcpy(out + 12, &a, 4);
}

/* Ethernet + VLANs + IP. Returns 0 when the frame is not IP (or too short to tell). */
/* `frame_len` is the whole frame's length (skb->len): headers are read from the linear
 * part, but lengths are checked against the frame. */
static __always_inline int weft_parse_l3(void* data, void* data_end, __u32 frame_len,
                                         struct weft_l3* l3) {
    struct ethhdr* eth = data;
    if ((void*)(eth + 1) > data_end) return 0;
    __u16 proto = eth->h_proto;
    __u32 off = sizeof(*eth);
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
        __be16* tag = data + off;
        if ((void*)(tag + 2) > data_end) return 0;
        proto = tag[1];
        off += 4;
    }
    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr* ip = data + off;
        if ((void*)(ip + 1) > data_end) return 0;
        __u32 ihl = ip->ihl * 4;
        if (ip->version != 4 || ihl < sizeof(*ip)) return 0;
        weft_v4_mapped(l3->src, ip->saddr);
        weft_v4_mapped(l3->dst, ip->daddr);
        l3->proto = ip->protocol;
        l3->ecn = ip->tos & 3;
        __u32 total = bpf_ntohs(ip->tot_len);
        __u32 room = frame_len - off;
        if (total > room || total < ihl) {
            l3->bad_length = 1;
            total = total < ihl ? ihl : room;
        }
        /* fragments carry no (or a partial) L4 header: count them as "other IP" */
        if (ip->frag_off & bpf_htons(0x3fff)) l3->proto = 0;
        l3->l4_offset = off + ihl;
        l3->l4_bytes = total - ihl;
        return 1;
    }
    if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr* ip6 = data + off;
        if ((void*)(ip6 + 1) > data_end) return 0;
        __builtin_memcpy(l3->src, &ip6->saddr, 16);
        __builtin_memcpy(l3->dst, &ip6->daddr, 16);
        l3->proto = ip6->nexthdr; /* extension headers are counted as "other IP" */
        l3->ecn = (ip6->flow_lbl[0] >> 4) & 3;
        __u32 payload = bpf_ntohs(ip6->payload_len);
        l3->l4_offset = off + sizeof(*ip6);
        __u32 room = frame_len - l3->l4_offset;
        if (payload > room) {
            l3->bad_length = 1;
            payload = room;
        }
        l3->l4_bytes = payload;
        return 1;
    }
    return 0;
}

#endif
