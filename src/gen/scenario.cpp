#include "weft/gen/scenario.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "weft/roce/icrc.hpp"
#include "weft/roce/opcode.hpp"
#include "weft/roce/packet.hpp"

namespace weft::gen {

using roce::AckKind;
using roce::FrameSpec;
namespace op = roce::opcode;

namespace {

// Emits the batches frame by frame, round-robin, as concurrent senders share a link.
// Returns false when the wire's frame limit stopped it.
bool interleave(Wire& wire, std::vector<Batch>& batches) {
    std::vector<size_t> pos(batches.size(), 0);
    bool any = true;
    while (any) {
        any = false;
        for (size_t b = 0; b < batches.size(); ++b) {
            if (pos[b] >= batches[b].size()) continue;
            any = true;
            if (!wire.emit(batches[b][pos[b]++])) return false;
        }
    }
    return true;
}

bool is_data(const FrameSpec& f) {
    auto o = roce::opcode_info(f.bth.opcode).operation;
    return o == roce::Operation::Send || o == roce::Operation::Write;
}

// ---- gradient: ring all-reduce -------------------------------------------------------
struct Ring {
    std::vector<RcConnection> conns;  // host i -> i+1, qps_per_peer each
    uint32_t hosts;
    uint32_t qps;
};

Ring make_ring(Fabric& fabric, uint32_t hosts, uint32_t qps) {
    Ring ring{{}, hosts, qps};
    uint32_t first = fabric.add_hosts(hosts);
    for (uint32_t i = 0; i < hosts; ++i)
        for (uint32_t q = 0; q < qps; ++q)
            ring.conns.emplace_back(fabric, first + i, first + (i + 1) % hosts);
    return ring;
}

// One all-reduce of `bytes` is 2(N-1) steps (reduce-scatter, then all-gather); in each
// step every host writes a 1/N chunk to its right neighbour, split over its QPs, as
// RDMA WRITE with immediate (the immediate tells the receiver the chunk landed).
uint32_t allreduce_step_count(const Ring& ring) {
    return 2 * (ring.hosts - 1);
}

// One step's batches, one per connection. Made a step at a time, as they are sent: a
// whole iteration holds 2(N-1) x N x QPs messages, gigabytes for a ring of a few thousand.
std::vector<Batch> allreduce_step(Ring& ring, uint32_t bytes) {
    const uint32_t chunk = std::max<uint32_t>(1, bytes / ring.hosts / ring.qps);
    std::vector<Batch> batches(ring.conns.size());
    for (size_t c = 0; c < ring.conns.size(); ++c) ring.conns[c].write(0, chunk, true, batches[c]);
    return batches;
}

// A step (gradient, loss) or a round (inference) is built whole before it is sent. Sizes
// whose one step would not fit in memory are refused, naming the options, rather than
// left to end in the allocator.
constexpr uint64_t kMaxFramesAtOnce = uint64_t(1) << 23;  // ~1.6 GB of frame specs

void check_frames_at_once(uint64_t frames, const char* options) {
    if (frames > kMaxFramesAtOnce)
        throw std::invalid_argument(fmt::format(
            "{} make {} frames that are built at once; at most {} fit: make them smaller", options,
            frames, kMaxFramesAtOnce));
}

uint64_t packets_of(uint64_t bytes, uint32_t mtu) {
    return std::max<uint64_t>(1, (bytes + mtu - 1) / mtu);
}

void validate_hosts(const ScenarioOptions& o, uint32_t min) {
    if (o.hosts < min)
        throw std::invalid_argument("this scenario needs --hosts >= " + std::to_string(min));
}

// A ring step: every connection's chunk, its ACKs and, for loss, its retransmission.
void validate_ring_step(const ScenarioOptions& o) {
    const uint64_t conns = uint64_t(o.hosts) * o.qps_per_peer;
    const uint64_t chunk = std::max<uint64_t>(1, o.message_size / o.hosts / o.qps_per_peer);
    const uint64_t packets = packets_of(chunk, o.fabric.mtu);
    check_frames_at_once(conns * (2 * packets + packets / o.fabric.ack_interval + 2),
                         "--hosts x --qps-per-peer x --message-size / --mtu");
}

// Iterations of all-reduce; with iterations == 0 it runs until the wire's frame limit.
void run_gradient(const ScenarioOptions& o, Wire& wire,
                  const std::function<void(Ring&, std::vector<Batch>&)>& shape = {}) {
    validate_hosts(o, 2);
    validate_ring_step(o);
    Fabric fabric(o.fabric, o.seed);
    Ring ring = make_ring(fabric, o.hosts, o.qps_per_peer);
    for (uint32_t it = 0; o.iterations == 0 || it < o.iterations; ++it) {
        for (uint32_t s = 0; s < allreduce_step_count(ring); ++s) {
            std::vector<Batch> step = allreduce_step(ring, o.message_size);
            if (shape) shape(ring, step);
            if (!interleave(wire, step)) return;
        }
        if (wire.full()) return;
        wire.idle(o.compute_gap_ns);
        if (o.iterations == 0 && wire.frames() == 0) return;  // nothing to do: avoid spinning
    }
}

// ---- inference -------------------------------------------------------------------------
void run_inference(const ScenarioOptions& o, Wire& wire) {
    // a round: per client a request and a response (up to 4 KiB and 16 KiB) and a KV block
    check_frames_at_once(uint64_t(o.clients) * (packets_of(o.kv_block, o.fabric.mtu) +
                                                2 * packets_of(16 * 1024, o.fabric.mtu) + 3),
                         "--clients x --kv-block / --mtu");
    Fabric fabric(o.fabric, o.seed);
    const uint32_t servers = std::max<uint32_t>(1, o.hosts / 2);
    const uint32_t caches = std::max<uint32_t>(1, o.hosts - servers);
    uint32_t server0 = fabric.add_hosts(servers);
    uint32_t cache0 = fabric.add_hosts(caches);
    uint32_t client0 = fabric.add_hosts(o.clients);
    std::vector<RcConnection> front, kv;
    for (uint32_t c = 0; c < o.clients; ++c)
        front.emplace_back(fabric, client0 + c, server0 + c % servers);
    for (uint32_t s = 0; s < servers; ++s)
        kv.emplace_back(fabric, server0 + s, cache0 + s % caches);
    auto& rng = fabric.rng();
    for (uint32_t round = 0; o.requests == 0 || round < o.requests; ++round) {
        std::vector<Batch> batches(o.clients);
        for (uint32_t c = 0; c < o.clients; ++c) {
            Batch& b = batches[c];
            // request: prompt tokens (64 B .. 4 KiB)
            front[c].send(0, uint32_t(64 << (rng() % 7)), false, b);
            // the server fetches the session's KV-cache block from the cache tier
            kv[c % servers].read(0, o.kv_block, b);
            // response: generated tokens / logits (256 B .. 16 KiB)
            front[c].send(1, uint32_t(256 << (rng() % 7)), true, b);
        }
        if (!interleave(wire, batches)) return;
        wire.idle(20000 + rng() % 20000);
    }
}

// ---- congestion: CE marks and CNPs ------------------------------------------------------
void run_congestion(const ScenarioOptions& o, Wire& wire) {
    std::bernoulli_distribution marked(o.ce_fraction);
    std::mt19937_64 rng(o.seed ^ 0xc0ffee);
    run_gradient(o, wire, [&](Ring& ring, std::vector<Batch>& step) {
        for (size_t c = 0; c < step.size(); ++c) {
            Batch shaped;
            uint32_t since_cnp = 1000;
            for (auto& f : step[c]) {
                bool ce = is_data(f) && marked(rng);
                if (ce) f.ecn = roce::kEcnCe;
                shaped.push_back(f);
                // The notification point answers CE with a CNP, at most one per few
                // packets per QP (DCQCN's NP rate limit).
                if (ce && ++since_cnp >= 4) {
                    shaped.push_back(ring.conns[c].cnp(1));
                    since_cnp = 0;
                }
                if (!ce) ++since_cnp;
            }
            step[c] = std::move(shaped);
        }
    });
}

// ---- loss: NAK PSN sequence error and go-back-N ------------------------------------------
void run_loss(const ScenarioOptions& o, Wire& wire) {
    validate_hosts(o, 2);
    validate_ring_step(o);
    Fabric fabric(o.fabric, o.seed);
    Ring ring = make_ring(fabric, o.hosts, o.qps_per_peer);
    std::bernoulli_distribution lost(o.loss_rate);
    auto& rng = fabric.rng();
    const uint32_t chunk = std::max<uint32_t>(1, o.message_size / o.hosts / o.qps_per_peer);
    const uint32_t in_flight = 4;  // packets the requester sends before the NAK reaches it
    for (uint32_t it = 0; o.iterations == 0 || it < o.iterations; ++it) {
        for (uint32_t step = 0; step < 2 * (o.hosts - 1); ++step) {
            std::vector<Batch> batches(ring.conns.size());
            for (size_t c = 0; c < ring.conns.size(); ++c) {
                RcConnection& conn = ring.conns[c];
                Batch pkts = conn.write_packets(0, chunk, true);
                Batch& out = batches[c];
                size_t drop = pkts.size();
                for (size_t i = 0; i < pkts.size(); ++i)
                    if (lost(rng)) {
                        drop = i;
                        break;
                    }
                if (drop == pkts.size()) {
                    out = pkts;
                    out.push_back(conn.ack(1, pkts.back().bth.psn));
                    continue;
                }
                // Packets before the loss, the loss (absent), those already in flight,
                // the responder's NAK naming the missing PSN, then go-back-N from it.
                for (size_t i = 0; i < drop; ++i) out.push_back(pkts[i]);
                for (size_t i = drop + 1; i < std::min(pkts.size(), drop + 1 + in_flight); ++i)
                    out.push_back(pkts[i]);
                out.push_back(conn.ack(1, pkts[drop].bth.psn, AckKind::NakPsnSequenceError));
                for (size_t i = drop; i < pkts.size(); ++i) out.push_back(pkts[i]);
                out.push_back(conn.ack(1, pkts.back().bth.psn));
            }
            if (!interleave(wire, batches)) return;
        }
        wire.idle(o.compute_gap_ns);
    }
}

// ---- attacks on a benign background ----------------------------------------------------
// Background: a small all-reduce ring (4 hosts) whose packets are interleaved with the
// attack's, so the attack has to be found among healthy flows.
struct Background {
    Fabric fabric;
    Ring ring;
    std::vector<std::vector<Batch>> steps;
    size_t next = 0;
    Background(const ScenarioOptions& o)
        : fabric(o.fabric, o.seed), ring(make_ring(fabric, 4, 1)) {}
    Batch take(uint32_t bytes) {
        if (next >= steps.size()) {  // a whole iteration of the 4-host ring: 6 small steps
            steps.clear();
            for (uint32_t s = 0; s < allreduce_step_count(ring); ++s)
                steps.push_back(allreduce_step(ring, bytes));
            next = 0;
        }
        Batch all;
        for (auto& b : steps[next++]) all.insert(all.end(), b.begin(), b.end());
        return all;
    }
};

// Appends the attack's next frames to `out`; false once it has no more. Storms and bulk
// READs run to hundreds of millions of frames at the largest --attack-count, so they are
// made as they are sent rather than held whole.
using AttackSource = std::function<bool(Batch& out)>;

AttackSource all_of(Batch attack) {
    return [attack = std::move(attack), at = size_t(0)](Batch& out) mutable {
        if (at >= attack.size()) return false;
        out.push_back(attack[at++]);
        return true;
    };
}

// Spreads the attack over as many background steps as it takes, in slices of `slice`
// packets (storms come in larger slices: they are bursts by nature).
void with_background(const ScenarioOptions& o, Wire& wire, Background& bg, AttackSource attack,
                     size_t slice = 16) {
    Batch pending;
    bool more = true;
    while (true) {
        while (more && pending.size() < slice) more = attack(pending);
        if (pending.empty()) return;
        const size_t n = std::min(slice, pending.size());
        std::vector<Batch> batches(2);
        batches[0] = bg.take(std::min<uint32_t>(o.message_size, 256 * 1024));
        batches[1].assign(pending.begin(), pending.begin() + long(n));
        pending.erase(pending.begin(), pending.begin() + long(n));
        if (!interleave(wire, batches)) return;
    }
}

void run_qpn_scan(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    uint32_t attacker = bg.fabric.add_host();
    QpSide from = bg.fabric.new_qp(attacker);
    QpSide victim = bg.ring.conns[0].side(1);  // a busy host
    Batch attack;
    // Probe QPNs the way a scanner does: sequentially from the first non-special QPN,
    // with a tiny SEND each; the victim answers nothing for QPs that do not exist.
    for (uint32_t i = 0; i < o.attack_count; ++i) {
        victim.qpn = 0x11 + i;
        FrameSpec f = bg.fabric.frame(from, victim, op::kRcSendOnly, from.send_psn++);
        f.payload_length = 16;
        attack.push_back(f);
    }
    with_background(o, wire, bg, all_of(std::move(attack)));
}

void run_psn_injection(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    RcConnection& live = bg.ring.conns[0];
    auto& rng = bg.fabric.rng();
    Batch attack;
    // Spoofed as the live requester (same address, port and destination QP), with PSNs
    // far outside the connection's window: the responder NAKs the first one.
    for (uint32_t i = 0; i < o.attack_count; ++i) {
        uint32_t psn =
            (live.side(0).send_psn + (1u << 22) + uint32_t(rng() % (1u << 22))) & 0xffffff;
        FrameSpec f = bg.fabric.frame(live.side(0), live.side(1), op::kRcWriteOnly, psn);
        f.payload_length = 64;
        f.reth = roce::Reth{0x7f0000000000ull, live.side(1).rkey, 64};
        attack.push_back(f);
        if (i == 0)
            attack.push_back(live.ack(1, live.side(0).send_psn, AckKind::NakPsnSequenceError));
    }
    with_background(o, wire, bg, all_of(std::move(attack)));
}

void run_rkey_guessing(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    uint32_t attacker = bg.fabric.add_host();
    RcConnection conn(bg.fabric, attacker, bg.ring.conns[1].side(0).host);
    auto& rng = bg.fabric.rng();
    Batch attack;
    for (uint32_t i = 0; i < o.attack_count; ++i) {
        uint32_t guess = uint32_t(rng());
        if (i % 2)
            conn.read_nak(0, 4096, guess, AckKind::NakRemoteAccessError, attack);
        else
            conn.write_nak(0, 64, guess, AckKind::NakRemoteAccessError, attack);
    }
    with_background(o, wire, bg, all_of(std::move(attack)));
}

void run_fan_out(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    uint32_t source = bg.ring.conns[2].side(0).host;  // a job member reaching outside its job
    uint32_t first_peer = bg.fabric.add_hosts(o.attack_count);
    Batch attack;
    for (uint32_t i = 0; i < o.attack_count; ++i) {
        RcConnection conn(bg.fabric, source, first_peer + i);
        conn.send(0, 256, false, attack);
    }
    with_background(o, wire, bg, all_of(std::move(attack)));
}

void run_bulk_read(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    uint32_t unusual = bg.fabric.add_host();
    RcConnection conn(bg.fabric, bg.ring.conns[0].side(0).host, unusual);
    // Exfiltration-shaped: many large READs to a peer the job never talked to. Each READ
    // is made when the one before is sent (its connection is the attack's own: the
    // background's steps do not touch it).
    uint32_t reads = std::max<uint32_t>(1, o.attack_count / 16);
    with_background(o, wire, bg, [&conn, reads, done = uint32_t(0)](Batch& out) mutable {
        if (done == reads) return false;
        conn.read(0, 1u << 20, out);
        ++done;
        return true;
    });
}

// One frame per connection of the background's ring, made before any is sent (a NAK names
// the PSN its requester had then, whatever the background sends meanwhile).
Batch each_connection(Background& bg, const std::function<FrameSpec(RcConnection&)>& make) {
    Batch frames;
    for (RcConnection& c : bg.ring.conns) frames.push_back(make(c));
    return frames;
}

// `count` frames cycling through `frames`, made as they are sent.
AttackSource storm(Batch frames, uint64_t count) {
    return [frames = std::move(frames), count, i = uint64_t(0)](Batch& out) mutable {
        if (i == count) return false;
        out.push_back(frames[i++ % frames.size()]);
        return true;
    };
}

void run_cnp_storm(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    // CNPs to every requester QP of the job, far beyond what its ECN marks would earn
    // (none here): spoofed CNPs throttle DCQCN senders, a faulty NIC or switch does the same.
    Batch cnps = each_connection(bg, [](RcConnection& c) { return c.cnp(1); });
    with_background(o, wire, bg, storm(std::move(cnps), uint64_t(o.attack_count) * 128), 256);
}

void run_nak_storm(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    // NAKs (PSN sequence error) on every QP of the job, each naming the PSN its requester
    // had at the start: a flapping link or a faulty responder forcing go-back-N over and over.
    Batch naks = each_connection(bg, [](RcConnection& c) {
        return c.ack(1, c.side(0).send_psn, AckKind::NakPsnSequenceError);
    });
    with_background(o, wire, bg, storm(std::move(naks), uint64_t(o.attack_count) * 8), 256);
}

// Malformed frames are valid frames with one field made to lie. Edits go through the
// parser's offsets and the shared encoders, so there is no second wire format here.
std::vector<std::vector<uint8_t>> malformed_frames(Fabric& fabric, RcConnection& conn,
                                                   uint32_t count) {
    std::vector<std::vector<uint8_t>> out;
    Batch base;
    for (uint32_t i = 0; i < count; ++i) conn.write(0, 256, false, base);
    size_t k = 0;
    for (auto& spec : base) {
        if (out.size() >= count) break;
        std::vector<uint8_t> f(roce::frame_size(spec));
        roce::build_frame(spec, f);
        roce::Packet p;
        if (roce::parse(f, p) != roce::Verdict::Ok) continue;
        uint8_t* ip = f.data() + p.l3_offset;
        uint8_t* udp = f.data() + p.l4_offset;
        uint8_t* bth = f.data() + p.bth_offset;
        auto fix_ip_checksum = [&] {
            if (p.ip_version != roce::IpVersion::V4) return;
            roce::store_be16(ip + 10, 0);
            roce::store_be16(ip + 10,
                             roce::ipv4_header_checksum(ip, size_t(p.l4_offset - p.l3_offset)));
        };
        switch (k++ % 7) {
            case 0:  // opcode 0xff: the known way to make rxe read out of bounds
                bth[0] = 0xff;
                roce::icrc_write(f.data(), p);
                break;
            case 1:  // reserved RC opcode
                bth[0] = 0x15;
                roce::icrc_write(f.data(), p);
                break;
            case 2:  // UDP length claims more than the datagram holds
                roce::store_be16(udp + 4, uint16_t(roce::load_be16(udp + 4) + 512));
                break;
            case 3:  // IPv4 total length claims more than the frame holds
                if (p.ip_version == roce::IpVersion::V4) {
                    roce::store_be16(ip + 2, uint16_t(roce::load_be16(ip + 2) + 1024));
                    fix_ip_checksum();
                } else {
                    roce::store_be16(ip + 4, uint16_t(roce::load_be16(ip + 4) + 1024));
                }
                break;
            case 4:  // payload on an ACK: pad/length inconsistent with the opcode
                if (spec.bth.opcode == op::kRcAcknowledge) {
                    bth[1] = uint8_t(bth[1] | 0x30);  // pad count 3 on a packet without payload
                } else {
                    bth[1] = uint8_t((bth[1] & 0xcf) | 0x30);
                    // a 256-byte payload with pad 3 is fine; lie instead about alignment
                    f.erase(f.begin() + long(p.payload_offset),
                            f.begin() + long(p.payload_offset) + 2);
                    roce::store_be16(udp + 4, uint16_t(roce::load_be16(udp + 4) - 2));
                    if (p.ip_version == roce::IpVersion::V4) {
                        roce::store_be16(ip + 2, uint16_t(roce::load_be16(ip + 2) - 2));
                        fix_ip_checksum();
                    } else {
                        roce::store_be16(ip + 4, uint16_t(roce::load_be16(ip + 4) - 2));
                    }
                }
                break;
            case 5:  // transport header version 1
                bth[1] = uint8_t((bth[1] & 0xf0) | 1);
                break;
            case 6: {  // a UDP datagram to 4791 too short to hold a BTH and an ICRC
                size_t keep = size_t(p.bth_offset) + 8;
                f.resize(std::max<size_t>(keep, 60));
                std::fill(f.begin() + long(keep), f.end(), 0);  // Ethernet pad
                uint16_t udp_len = uint16_t(keep - p.l4_offset);
                roce::store_be16(udp + 4, udp_len);
                if (p.ip_version == roce::IpVersion::V4) {
                    roce::store_be16(ip + 2, uint16_t(keep - p.l3_offset));
                    fix_ip_checksum();
                } else {
                    roce::store_be16(ip + 4, udp_len);
                }
                break;
            }
        }
        out.push_back(std::move(f));
    }
    (void)fabric;
    return out;
}

void run_malformed(const ScenarioOptions& o, Wire& wire) {
    Background bg(o);
    uint32_t attacker = bg.fabric.add_host();
    RcConnection conn(bg.fabric, attacker, bg.ring.conns[0].side(1).host);
    auto frames = malformed_frames(bg.fabric, conn, o.attack_count);
    for (size_t at = 0; at < frames.size(); at += 4) {
        std::vector<Batch> batches(1, bg.take(std::min<uint32_t>(o.message_size, 256 * 1024)));
        if (!interleave(wire, batches)) return;
        for (size_t i = at; i < std::min(frames.size(), at + 4); ++i)
            if (!wire.emit_raw(frames[i])) return;
    }
}

using Runner = void (*)(const ScenarioOptions&, Wire&);

struct Entry {
    ScenarioInfo info;
    Runner run;
};

void run_gradient_plain(const ScenarioOptions& o, Wire& w) {
    run_gradient(o, w);
}

const std::vector<Entry>& entries() {
    static const std::vector<Entry> list = {
        {{"gradient", "ring all-reduce among --hosts hosts (RC RDMA WRITE with immediate)",
          "Each iteration is 2(N-1) steps; in each step every host writes a 1/N chunk of\n"
          "--message-size to its right neighbour over --qps-per-peer QPs, segmented by --mtu,\n"
          "ACKed every --ack-interval packets and at each message end. Iterations are separated\n"
          "by --compute-gap-ns of silence. With --packets and no --iterations (or --iterations 0)\n"
          "it runs until --packets frames.",
          Length::iterations},
         run_gradient_plain},
        {{"inference", "--clients clients: SEND request/response and RDMA READ of KV-cache blocks",
          "Half of --hosts are inference servers, half KV-cache hosts. Per request a client SENDs\n"
          "64 B..4 KiB, its server READs a --kv-block from the cache tier and SENDs back\n"
          "256 B..16 KiB with immediate. --requests per client; with --packets and no --requests\n"
          "(or --requests 0) it runs until --packets frames.",
          Length::requests},
         run_inference},
        {{"congestion", "gradient traffic with ECN CE marks answered by CNPs",
          "As gradient, with --ce-fraction of data packets CE-marked by the fabric; the\n"
          "receiver answers with CNPs (opcode 0x81) to the sending QP, rate-limited per QP.",
          Length::iterations},
         run_congestion},
        {{"loss", "gradient traffic with loss: NAK PSN sequence error and go-back-N",
          "As gradient, with --loss-rate of data packets lost before the capture point; the\n"
          "responder NAKs the missing PSN and the requester retransmits from it (go-back-N).",
          Length::iterations},
         run_loss},
        {{"qpn-scan", "attack: one host probes --attack-count destination QPNs on a victim",
          "Sequential QPNs from 0x11, a 16-byte SEND each, on a 4-host all-reduce background.",
          Length::attack},
         run_qpn_scan},
        {{"psn-injection", "attack: spoofed packets into a live QP with PSNs outside its window",
          "--attack-count RDMA WRITEs with the live requester's address, port and QP, PSNs\n"
          "2^22..2^23 ahead; the responder NAKs the first (PSN sequence error).",
          Length::attack},
         run_psn_injection},
        {{"rkey-guessing",
          "attack: READ/WRITE with guessed rkeys, answered by remote access errors",
          "--attack-count requests with random rkeys from a new host to a job member; each is\n"
          "answered by a NAK remote access error.",
          Length::attack},
         run_rkey_guessing},
        {{"fan-out", "attack: one job host reaches --attack-count new peers outside its job",
          "A new RC QP and a 256-byte SEND to each new peer, amid the job's all-reduce.",
          Length::attack},
         run_fan_out},
        {{"bulk-read", "attack: large RDMA READs from a peer the host never talked to",
          "--attack-count/16 READs of 1 MiB to a new peer, amid the job's all-reduce.",
          Length::attack},
         run_bulk_read},
        {{"cnp-storm", "attack/fault: a flood of CNPs at the job's requester QPs",
          "--attack-count x 128 CNPs (opcode 0x81) spread over the 4-host all-reduce's QPs,\n"
          "with no ECN marks to earn them (spoofed CNPs throttle DCQCN senders).",
          Length::attack},
         run_cnp_storm},
        {{"nak-storm", "fault: NAKs PSN sequence error on every QP of the job, again and again",
          "--attack-count x 8 NAKs spread over the 4-host all-reduce's QPs, each naming the\n"
          "requester's current PSN (a flapping link or faulty responder forcing go-back-N).",
          Length::attack},
         run_nak_storm},
        {{"malformed", "attack/fault: malformed RoCE frames amid healthy traffic",
          "--attack-count frames, cycling through: opcode 0xff (makes rxe read out of bounds),\n"
          "reserved opcode 0x15, UDP length lying (+512), IP length lying (+1024), pad/length\n"
          "inconsistent, BTH version 1, UDP datagram too short for a BTH.",
          Length::attack},
         run_malformed},
    };
    return list;
}

}  // namespace

const std::vector<ScenarioInfo>& scenarios() {
    static const std::vector<ScenarioInfo> list = [] {
        std::vector<ScenarioInfo> v;
        for (auto& e : entries()) v.push_back(e.info);
        return v;
    }();
    return list;
}

bool is_scenario(std::string_view name) {
    return std::any_of(entries().begin(), entries().end(),
                       [&](const Entry& e) { return e.info.name == name; });
}

void run_scenario(std::string_view name, const ScenarioOptions& options, Wire& wire) {
    for (auto& e : entries())
        if (e.info.name == name) return e.run(options, wire);
    throw std::invalid_argument("unknown scenario '" + std::string(name) + "'");
}

}  // namespace weft::gen
