#include "weft/flow/table.hpp"

#include "weft/flow/hash.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace weft::flow {

namespace {
constexpr uint32_t kPsnMask = 0xffffff;
constexpr uint32_t kPsnHalf = 1u << 23;
constexpr uint32_t kIndexMask = 0xffffff;
constexpr uint32_t kMinPmtu = 256;  // the smallest IBA path MTU bounds a READ's PSN span

inline uint32_t psn_distance(uint32_t from, uint32_t to) {
    return (to - from) & kPsnMask;
}
inline uint32_t saturating_add(uint32_t a, uint32_t b) {
    return uint32_t(std::min<uint64_t>(uint64_t(a) + b, 0xffffffffu));
}
}  // namespace

Table::Table(const TableConfig& config)
    : config_(config), hosts_(config.max_hosts, config.seed ^ 0x486f737473ull) {
    if (config.max_flows == 0 || config.max_flows > kMaxFlowsLimit)
        throw std::invalid_argument("flow table: max_flows must be between 1 and 16777214");
    if (config.max_hosts == 0 || config.max_hosts > kMaxHostIds)
        throw std::invalid_argument("flow table: max_hosts must be between 1 and 1048576");
    uint32_t slots = std::bit_ceil(std::max<uint32_t>(64, config.max_flows * 2));
    slot_mask_ = slots - 1;
    slots_ = ZeroedArray<uint32_t>(slots);
    records_ = ZeroedArray<FlowRecord>(config.max_flows);
    max_extensions_ = config.max_extensions ? config.max_extensions
                                            : std::max<uint32_t>(1024, config.max_flows / 64);
    extensions_ = ZeroedArray<FlowExtension>(max_extensions_);
}

size_t Table::memory_bytes() const {
    return slots_.size() * sizeof(uint32_t) + size_t(config_.max_flows) * sizeof(FlowRecord) +
           size_t(max_extensions_) * sizeof(FlowExtension) + hosts_.memory_bytes();
}

// Both are on every packet's path: inlined (the compiler left them out of line, at a tenth
// of weftd's pipeline between them).
[[gnu::always_inline]] inline uint64_t Table::hash(const roce::IpAddress& src,
                                                   const roce::IpAddress& dst,
                                                   uint32_t dest_qp) const {
    uint64_t s_lo, s_hi, d_lo, d_hi;
    std::memcpy(&s_lo, src.bytes.data(), 8);
    std::memcpy(&s_hi, src.bytes.data() + 8, 8);
    std::memcpy(&d_lo, dst.bytes.data(), 8);
    std::memcpy(&d_hi, dst.bytes.data() + 8, 8);
    // The low halves (the interface ids of IPv6, all of IPv4) carry most of the entropy;
    // the high halves are folded in rotated so A->B and B->A hash apart, and the whole is
    // keyed by the seed against crafted collisions.
    return hash_combine(config_.seed ^ (uint64_t(dest_qp & kPsnMask) << 40),
                        s_hi ^ std::rotl(s_lo, 23), d_hi ^ std::rotl(d_lo, 41));
}

uint64_t Table::hash(const FlowKey& k) const {
    return hash(hosts_.address(k.src_host()), hosts_.address(k.dst_host()), k.dest_qp());
}

[[gnu::always_inline]] inline bool Table::matches(const FlowRecord& r, const roce::IpAddress& src,
                                                  const roce::IpAddress& dst,
                                                  uint32_t dest_qp) const {
    return r.key.dest_qp() == dest_qp && hosts_.address(r.key.src_host()) == src &&
           hosts_.address(r.key.dst_host()) == dst;
}

uint32_t Table::find(const FlowKey& key) const {
    return find(hosts_.address(key.src_host()), hosts_.address(key.dst_host()), key.dest_qp());
}

uint32_t Table::find(const roce::IpAddress& src, const roce::IpAddress& dst,
                     uint32_t dest_qp) const {
    dest_qp &= kPsnMask;
    const uint64_t h = hash(src, dst, dest_qp);
    const uint32_t tag = uint32_t(h >> 56);
    for (uint32_t i = uint32_t(h) & slot_mask_;; i = (i + 1) & slot_mask_) {
        uint32_t s = slots_[i];
        if (s == 0) return kNoIndex;
        if ((s >> 24) == tag && matches(records_[(s & kIndexMask) - 1], src, dst, dest_qp))
            return (s & kIndexMask) - 1;
    }
}

uint32_t Table::allocate_record() {
    if (free_head_ != kNoIndex) {
        uint32_t i = free_head_;
        free_head_ = records_[i].ext;
        return i;
    }
    return high_water_ < config_.max_flows ? high_water_++ : kNoIndex;
}

FlowExtension* Table::ext(FlowRecord& r) {
    if (r.ext != kNoIndex) return &extensions_[r.ext];
    uint32_t i;
    if (ext_free_head_ != kNoIndex) {
        i = ext_free_head_;
        ext_free_head_ = extensions_[i].next_free;
    } else if (ext_high_water_ < max_extensions_) {
        i = ext_high_water_++;
    } else {
        ++counters_.extension_refused;
        return nullptr;
    }
    extensions_[i] = FlowExtension{};
    r.ext = i;
    ++ext_live_;
    return &extensions_[i];
}

Table::Touched Table::touch(const roce::Packet& p, uint32_t wire_len, uint64_t now_ns,
                            bool icrc_ok) {
    ++counters_.packets;
    const uint32_t qp = p.bth.dest_qp;
    const uint64_t h = hash(p.src, p.dst, qp);
    const uint32_t tag = uint32_t(h >> 56);
    uint32_t i = uint32_t(h) & slot_mask_;
    for (;; i = (i + 1) & slot_mask_) {
        uint32_t s = slots_[i];
        if (s == 0) break;
        if ((s >> 24) == tag) {
            FlowRecord& r = records_[(s & kIndexMask) - 1];
            if (matches(r, p.src, p.dst, qp)) {
                const uint64_t prev = r.last_ns;
                update(r, p, wire_len, now_ns, icrc_ok);
                return {(s & kIndexMask) - 1, false, prev};
            }
        }
    }
    // A new flow: its hosts are interned now (slot i is still the free one found above).
    const uint32_t src = hosts_.intern(p.src);
    const uint32_t dst = src == kNoIndex ? kNoIndex : hosts_.intern(p.dst);
    if (src == kNoIndex || dst == kNoIndex) {
        ++counters_.hosts_refused_table_full;
        return {};
    }
    uint32_t idx = allocate_record();
    if (idx == kNoIndex) {
        ++counters_.flows_refused_table_full;
        return {};
    }
    FlowRecord& r = records_[idx];
    r = FlowRecord{};
    r.key = FlowKey::make(src, dst, qp);
    r.ext = kNoIndex;
    r.first_ns = now_ns;
    r.state = kLive;
    slots_[i] = tag << 24 | (idx + 1);
    ++live_;
    ++counters_.flows_created;
    update(r, p, wire_len, now_ns, icrc_ok);
    return {idx, true, 0};
}

void Table::remove(uint32_t index) {
    FlowRecord& r = records_[index];
    // Backward-shift deletion keeps linear probing correct without tombstones.
    uint32_t i = uint32_t(hash(r.key)) & slot_mask_;
    while ((slots_[i] & kIndexMask) != index + 1) i = (i + 1) & slot_mask_;
    for (uint32_t j = (i + 1) & slot_mask_;; j = (j + 1) & slot_mask_) {
        uint32_t s = slots_[j];
        if (s == 0) break;
        uint32_t home = uint32_t(hash(records_[(s & kIndexMask) - 1].key)) & slot_mask_;
        // Move s into the hole at i when its home does not lie cyclically in (i, j].
        bool home_in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_in_range) {
            slots_[i] = s;
            i = j;
        }
    }
    slots_[i] = 0;
    if (r.ext != kNoIndex) {
        extensions_[r.ext].next_free = ext_free_head_;
        ext_free_head_ = r.ext;
        --ext_live_;
    }
    r.state = 0;
    r.ext = free_head_;
    free_head_ = index;
    --live_;
}

size_t Table::evict_idle(uint64_t now_ns, size_t max_scan) {
    if (config_.idle_timeout_ns == 0 || high_water_ == 0) return 0;
    size_t removed = 0;
    for (size_t n = 0; n < max_scan && n < high_water_; ++n) {
        if (evict_cursor_ >= high_water_) evict_cursor_ = 0;
        uint32_t i = evict_cursor_++;
        const FlowRecord& r = records_[i];
        if ((r.state & kLive) && now_ns > r.last_ns &&
            now_ns - r.last_ns > config_.idle_timeout_ns) {
            remove(i);
            ++removed;
        }
    }
    counters_.flows_evicted_idle += removed;
    return removed;
}

void Table::count_opcode(FlowRecord& r, uint8_t opcode) {
    for (unsigned i = 0; i < kInlineOpcodes; ++i) {
        if (r.op_count[i] != 0 && r.op[i] == opcode) {
            if (r.op_count[i] == 0xffffffffu) {
                // Carry: one unit is 0xffffffff, and the slot restarts at 1 so it stays taken.
                if (FlowExtension* x = ext(r)) ++x->op_carries[i];
                r.op_count[i] = 1;
            } else {
                ++r.op_count[i];
            }
            return;
        }
    }
    for (unsigned i = 0; i < kInlineOpcodes; ++i) {
        if (r.op_count[i] == 0) {
            r.op[i] = opcode;
            r.op_count[i] = 1;
            return;
        }
    }
    FlowExtension* x = ext(r);
    if (!x) return;
    for (unsigned i = 0; i < kSpillOpcodes; ++i) {
        if (x->spill_count[i] != 0 && x->spill_op[i] == opcode) {
            ++x->spill_count[i];
            return;
        }
    }
    for (unsigned i = 0; i < kSpillOpcodes; ++i) {
        if (x->spill_count[i] == 0) {
            x->spill_op[i] = opcode;
            x->spill_count[i] = 1;
            return;
        }
    }
    x->opcodes_overflow = true;
    ++counters_.opcode_detail_overflow;
}

void Table::note_src_port(FlowRecord& r, uint16_t port) {
    if (r.sport[0] == port || r.sport[1] == port) return;
    if (r.packets == 1) {
        r.sport[0] = port;
        return;
    }
    if (r.sport[1] == 0) {
        r.sport[1] = port;
        return;
    }
    FlowExtension* x = ext(r);
    if (!x) return;
    for (unsigned i = 0; i < x->extra_sport_count; ++i)
        if (x->extra_sports[i] == port) return;
    if (x->extra_sport_count < kExtraSports)
        x->extra_sports[x->extra_sport_count++] = port;
    else
        x->sports_overflow = true;
}

bool Table::track_request_psn(FlowRecord& r, const roce::Packet& p) {
    const uint32_t psn = p.bth.psn;
    bool duplicate = false;
    if (!(r.state & kReqPsnValid)) {
        r.state |= kReqPsnValid;
        r.req_psn_next = (psn + 1) & kPsnMask;
    } else {
        const uint32_t d = psn_distance(r.req_psn_next, psn);
        if (d == 0) {
            r.req_psn_next = (psn + 1) & kPsnMask;
        } else if (d < kPsnHalf) {
            // Ahead: within the span the last READ request consumed it is in order;
            // beyond it, packets went missing before this observation point.
            if (d > r.read_psn_slack) {
                if (FlowExtension* x = ext(r)) {
                    ++x->psn_gaps;
                    x->gap_lo = r.req_psn_next;
                    x->gap_hi = psn;
                }
            }
            r.req_psn_next = (psn + 1) & kPsnMask;
        } else {
            // Behind: either a packet filling the last hole (it arrived out of order) or
            // one already seen (a go-back-N retransmission or a duplicate).
            FlowExtension* x = r.ext != kNoIndex ? &extensions_[r.ext] : nullptr;
            if (x && x->gap_lo != x->gap_hi &&
                psn_distance(x->gap_lo, psn) < psn_distance(x->gap_lo, x->gap_hi)) {
                ++x->psn_out_of_order;
                if (psn == x->gap_lo) x->gap_lo = (x->gap_lo + 1) & kPsnMask;
            } else {
                if ((x = ext(r))) ++x->psn_duplicates;
                duplicate = true;
            }
            return duplicate;  // the high-water PSN stays where it was
        }
    }
    r.read_psn_slack = 0;
    if (p.op->operation == roce::Operation::ReadRequest) {
        uint64_t packets = (uint64_t(p.reth.dma_length) + kMinPmtu - 1) / kMinPmtu;
        uint64_t slack = packets > 0 ? packets - 1 : 0;
        r.read_psn_slack = uint16_t(std::min<uint64_t>(slack, 0xffff));
    }
    return duplicate;
}

bool Table::track_read_response_psn(FlowRecord& r, const roce::Packet& p) {
    const uint32_t psn = p.bth.psn;
    const auto pos = p.op->position;
    if (pos == roce::Position::First || pos == roce::Position::Only || !(r.state & kRespPsnValid)) {
        r.state |= kRespPsnValid;
        r.resp_psn_next = (psn + 1) & kPsnMask;
        return false;
    }
    const uint32_t d = psn_distance(r.resp_psn_next, psn);
    if (d == 0) {
        r.resp_psn_next = (psn + 1) & kPsnMask;
        return false;
    }
    FlowExtension* x = ext(r);
    if (d < kPsnHalf) {
        if (x) ++x->psn_gaps;
        r.resp_psn_next = (psn + 1) & kPsnMask;
        return false;
    }
    if (x) ++x->psn_duplicates;
    return true;
}

void Table::note_acknowledged_psn(FlowRecord& r, uint32_t psn) {
    // Coalesced ACKs only move forward; READ responses share this PSN space, and the
    // pairing of a flow with its reverse direction reads the last value.
    if (!(r.state & kRespPsnValid) || psn_distance(r.resp_psn_next, psn) < kPsnHalf) {
        r.state |= kRespPsnValid;
        r.resp_psn_next = (psn + 1) & kPsnMask;
    }
}

void Table::complete_message(FlowRecord& r, uint64_t bytes) {
    unsigned b = size_bucket(bytes);
    if (++r.size_hist[b] == 0)
        if (FlowExtension* x = ext(r)) ++x->size_carries[b];
}

void Table::account_message(FlowRecord& r, const roce::Packet& p) {
    using roce::Operation;
    using roce::Position;
    switch (p.op->operation) {
        case Operation::ReadRequest:
        case Operation::Flush:
            complete_message(r, p.reth.dma_length);
            return;
        case Operation::CompareSwap:
        case Operation::FetchAdd:
        case Operation::AtomicWrite:
            complete_message(r, 8);
            return;
        case Operation::Send:
        case Operation::Write:
        case Operation::ReadResponse:
            break;
        default:
            return;
    }
    const uint32_t bytes = p.payload_length;
    if (p.op->operation == Operation::ReadResponse) {
        account_read_response(r, p.op->position, bytes);
        return;
    }
    switch (p.op->position) {
        case Position::First:
            if ((r.state & kInReadResponse) && !(r.state & kReadSizeInExt)) {
                // A READ response is adding up in msg_bytes: move it aside.
                if (FlowExtension* x = ext(r)) {
                    x->read_msg_bytes = r.msg_bytes;
                    r.state |= kReadSizeInExt;
                } else {
                    r.state &= uint16_t(~kInReadResponse);  // its size is lost (counted)
                }
            }
            r.msg_bytes = bytes;
            r.state |= kInMessage;
            break;
        case Position::Middle:
            r.msg_bytes = saturating_add(r.msg_bytes, bytes);
            break;
        case Position::Last:
            // Without its First (the capture began mid-message) the size is partial.
            complete_message(r, uint64_t(r.msg_bytes) + bytes);
            r.msg_bytes = 0;
            r.state &= uint16_t(~kInMessage);
            break;
        case Position::Only:
            complete_message(r, bytes);
            break;
        case Position::None:
            break;
    }
}

void Table::account_read_response(FlowRecord& r, roce::Position position, uint32_t bytes) {
    using roce::Position;
    switch (position) {
        case Position::First:
            r.state &= uint16_t(~kReadSizeInExt);
            if (r.state & kInMessage) {  // msg_bytes holds a request in progress
                FlowExtension* x = ext(r);
                if (!x) return;  // size lost, counted as extension_refused
                x->read_msg_bytes = bytes;
                r.state |= kReadSizeInExt;
            } else {
                r.msg_bytes = bytes;
            }
            r.state |= kInReadResponse;
            return;
        case Position::Middle:
        case Position::Last: {
            uint32_t* acc = &r.msg_bytes;
            if (r.state & kReadSizeInExt) acc = &extensions_[r.ext].read_msg_bytes;
            if (!(r.state & kInReadResponse) && (r.state & kInMessage)) {
                // No First seen and a request owns msg_bytes: the size is unknowable.
                if (position == Position::Last) complete_message(r, bytes);
                return;
            }
            *acc = saturating_add(*acc, bytes);
            if (position == Position::Last) {
                complete_message(r, *acc);
                *acc = 0;
                r.state &= uint16_t(~(kInReadResponse | kReadSizeInExt));
            }
            return;
        }
        case Position::Only:
            complete_message(r, bytes);
            return;
        case Position::None:
            return;
    }
}

void Table::update(FlowRecord& r, const roce::Packet& p, uint32_t wire_len, uint64_t now_ns,
                   bool icrc_ok) {
    using roce::Operation;
    ++r.packets;
    r.wire_bytes += wire_len;
    r.payload_bytes += p.payload_length;
    r.last_ns = now_ns;
    count_opcode(r, p.bth.opcode);
    note_src_port(r, p.src_port);
    if (p.ecn_ce())
        if (FlowExtension* x = ext(r)) ++x->ecn_ce;
    if (!icrc_ok) {
        if (FlowExtension* x = ext(r)) ++x->icrc_errors;
        return;  // a corrupt packet must not move PSN state or complete messages
    }
    switch (p.op->operation) {
        case Operation::Cnp:
            if (FlowExtension* x = ext(r)) ++x->cnp;
            return;
        case Operation::Acknowledge: {
            note_acknowledged_psn(r, p.bth.psn);
            roce::AckKind kind = p.aeth.kind();
            if (kind == roce::AckKind::Ack) {
                if (++r.acks == 0)
                    if (FlowExtension* x = ext(r)) ++x->ack_carries;
            } else if (FlowExtension* x = ext(r)) {
                ++x->aeth[size_t(kind)];
            }
            return;
        }
        case Operation::AtomicAcknowledge:
            note_acknowledged_psn(r, p.bth.psn);
            return;
        case Operation::ReadResponse:
            if (!track_read_response_psn(r, p)) account_message(r, p);
            return;
        default:
            break;
    }
    // Requests. UD and RD carry per-sender PSN spaces that share a destination QP, so
    // only connected transports get sequence tracking.
    const auto t = p.op->transport;
    bool duplicate = false;
    if (t == roce::Transport::RC || t == roce::Transport::UC || t == roce::Transport::XRC)
        duplicate = track_request_psn(r, p);
    if (!duplicate) account_message(r, p);
}

}  // namespace weft::flow
