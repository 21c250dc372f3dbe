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

/* IPv4 addresses are kept as they are (4 bytes), not widened to IPv6-mapped ones: the
 * maps' keys are smaller for them (a 16-byte QP key hashes and compares in half the time
 * of a 40-byte one), and only events, which are rare, need the 16-byte form. */
struct weft_l3 {
    __u8 v6;
    __u8 proto;
    __u8 ecn;
    __u8 bad_length; /* the IP header claims more than the frame holds */
    __be32 src4, dst4;
    struct in6_addr* src6; /* into the packet, valid when v6 */
    struct in6_addr* dst6;
    __u32 l4_offset;
    __u32 l4_bytes; /* IP payload length the header claims */
};

/* The 16-byte form of an address (IPv4 as ::ffff:a.b.c.d, as weft::roce::IpAddress). */
static __always_inline void weft_l3_addresses(const struct weft_l3* l3, __u8 src[16],
                                              __u8 dst[16]) {
    if (l3->v6) {
        __builtin_memcpy(src, l3->src6, 16);
        __builtin_memcpy(dst, l3->dst6, 16);
        return;
    }
    __builtin_memset(src, 0, 10);
    __builtin_memset(dst, 0, 10);
    src[10] = src[11] = dst[10] = dst[11] = 0xff;
    __builtin_memcpy(src + 12, &l3->src4, 4);
    __builtin_memcpy(dst + 12, &l3->dst4, 4);
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
        l3->v6 = 0;
        l3->src4 = ip->saddr;
        l3->dst4 = ip->daddr;
        l3->bad_length = 0;
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
        l3->v6 = 1;
        l3->src6 = &ip6->saddr;
        l3->dst6 = &ip6->daddr;
        l3->bad_length = 0;
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
