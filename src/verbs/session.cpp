#include "weft/verbs/session.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "weft/roce/bytes.hpp"

namespace weft::verbs {

namespace {

using roce::load_be16;
using roce::load_be32;
using roce::load_be64;

class Writer {
  public:
    explicit Writer(MessageType t) {
        u32(kSessionMagic);
        u16(kSessionVersion);
        u8(uint8_t(t));
    }
    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) {
        grow(2, [&](uint8_t* p) { roce::store_be16(p, v); });
    }
    void u32(uint32_t v) {
        grow(4, [&](uint8_t* p) { roce::store_be32(p, v); });
    }
    void u64(uint64_t v) {
        grow(8, [&](uint8_t* p) { roce::store_be64(p, v); });
    }
    void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    std::vector<uint8_t> take() { return std::move(out_); }

  private:
    template <typename F>
    void grow(size_t n, F store) {
        out_.resize(out_.size() + n);
        store(out_.data() + out_.size() - n);
    }
    std::vector<uint8_t> out_;
};

// Reads fields in order; any read past the end sets `short_` and yields zeros, so a
// decoder checks once at the end instead of after every field.
class Reader {
  public:
    explicit Reader(std::span<const uint8_t> b) : b_(b) {}
    uint8_t u8() { return take(1) ? b_[pos_ - 1] : 0; }
    uint16_t u16() { return take(2) ? load_be16(&b_[pos_ - 2]) : 0; }
    uint32_t u32() { return take(4) ? load_be32(&b_[pos_ - 4]) : 0; }
    uint64_t u64() { return take(8) ? load_be64(&b_[pos_ - 8]) : 0; }
    void bytes(std::span<uint8_t> dst) {
        if (take(dst.size())) std::copy_n(&b_[pos_ - dst.size()], dst.size(), dst.begin());
    }
    size_t remaining() const { return b_.size() - pos_; }
    bool truncated() const { return short_; }

  private:
    bool take(size_t n) {
        if (short_ || b_.size() - pos_ < n) {
            short_ = true;
            return false;
        }
        pos_ += n;
        return true;
    }
    std::span<const uint8_t> b_;
    size_t pos_ = 0;
    bool short_ = false;
};

void put_plan(Writer& w, const SessionPlan& p) {
    w.u8(uint8_t(p.pattern));
    w.u16(p.qps);
    w.u16(p.mtu);
    w.u32(p.iterations);
    w.u32(p.message_bytes);
    w.u32(p.request_bytes);
    w.u32(p.response_bytes);
    w.u32(p.read_bytes);
    w.u32(p.read_every);
}

void get_plan(Reader& r, SessionPlan& p) {
    p.pattern = Pattern(r.u8());
    p.qps = r.u16();
    p.mtu = r.u16();
    p.iterations = r.u32();
    p.message_bytes = r.u32();
    p.request_bytes = r.u32();
    p.response_bytes = r.u32();
    p.read_bytes = r.u32();
    p.read_every = r.u32();
}

void put_endpoint(Writer& w, const Endpoint& e) {
    w.bytes(e.gid);
    w.u16(e.mtu);
    w.u64(e.buffer_addr);
    w.u64(e.buffer_bytes);
    w.u32(e.rkey);
    w.u16(uint16_t(e.qps.size()));
    for (const QpEndpoint& q : e.qps) {
        w.u32(q.qpn);
        w.u32(q.psn);
    }
}

bool get_endpoint(Reader& r, Endpoint& e, std::string& error) {
    r.bytes(e.gid);
    e.mtu = r.u16();
    e.buffer_addr = r.u64();
    e.buffer_bytes = r.u64();
    e.rkey = r.u32();
    uint16_t n = r.u16();
    if (n == 0 || n > kMaxQps) {
        error = fmt::format("endpoint lists {} QPs (1..{} allowed)", n, kMaxQps);
        return false;
    }
    if (r.remaining() < size_t(n) * 8) {
        error = "endpoint truncated in its QP list";
        return false;
    }
    e.qps.resize(n);
    for (QpEndpoint& q : e.qps) {
        q.qpn = r.u32();
        q.psn = r.u32();
        if (q.qpn > 0xffffff || q.psn > 0xffffff) {
            error = "QP number or PSN wider than 24 bits";
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<Pattern> pattern_from_name(std::string_view name) {
    if (name == "gradient") return Pattern::gradient;
    if (name == "inference") return Pattern::inference;
    return std::nullopt;
}

std::string_view pattern_name(Pattern p) {
    switch (p) {
        case Pattern::gradient:
            return "gradient";
        case Pattern::inference:
            return "inference";
    }
    return "unknown";
}

std::string validate(const SessionPlan& p) {
    if (p.pattern != Pattern::gradient && p.pattern != Pattern::inference)
        return fmt::format("unknown pattern {}", int(p.pattern));
    if (p.qps == 0 || p.qps > kMaxQps) return fmt::format("qps must be 1..{}", kMaxQps);
    if (p.mtu != 256 && p.mtu != 512 && p.mtu != 1024 && p.mtu != 2048 && p.mtu != 4096)
        return fmt::format("mtu {} is not an IBA MTU (256, 512, 1024, 2048, 4096)", p.mtu);
    if (p.iterations == 0) return "iterations must be at least 1";
    auto size_ok = [](uint32_t v, uint32_t min) { return v >= min && v <= kMaxTransferBytes; };
    if (p.pattern == Pattern::gradient) {
        // 16 bytes: room for the tags at each end that let the receiver check the payload
        if (!size_ok(p.message_bytes, 16))
            return fmt::format("message size must be 16 B..{} B", kMaxTransferBytes);
        if (uint64_t(p.message_bytes) * p.qps * 2 > (uint64_t(4) << 30))
            return "message size x qps x 2 buffers exceeds 4 GiB";
    } else {
        if (!size_ok(p.request_bytes, 16) || !size_ok(p.response_bytes, 16))
            return fmt::format("request and response sizes must be 16 B..{} B", kMaxTransferBytes);
        if (p.read_every && !size_ok(p.read_bytes, 16))
            return fmt::format("read size must be 16 B..{} B", kMaxTransferBytes);
    }
    return "";
}

std::vector<uint8_t> encode_hello(const Hello& h) {
    Writer w(MessageType::hello);
    put_plan(w, h.plan);
    put_endpoint(w, h.endpoint);
    return w.take();
}

std::vector<uint8_t> encode_welcome(const Endpoint& e) {
    Writer w(MessageType::welcome);
    put_endpoint(w, e);
    return w.take();
}

std::vector<uint8_t> encode_ready() {
    return Writer(MessageType::ready).take();
}

std::vector<uint8_t> encode_outcome(const Outcome& o) {
    Writer w(MessageType::outcome);
    w.u64(o.operations_sent);
    w.u64(o.operations_received);
    w.u64(o.bytes_sent);
    w.u64(o.bytes_received);
    w.u32(o.errors);
    return w.take();
}

std::vector<uint8_t> encode_abort(const std::string& reason) {
    Writer w(MessageType::abort);
    std::string r = reason.substr(0, 1024);
    w.u16(uint16_t(r.size()));
    w.bytes({reinterpret_cast<const uint8_t*>(r.data()), r.size()});
    return w.take();
}

bool decode(std::span<const uint8_t> body, Message& out, std::string& error) {
    if (body.size() > kMaxMessageBytes) {
        error = fmt::format("message of {} bytes exceeds {}", body.size(), kMaxMessageBytes);
        return false;
    }
    Reader r(body);
    uint32_t magic = r.u32();
    uint16_t version = r.u16();
    uint8_t type = r.u8();
    if (r.truncated() || magic != kSessionMagic) {
        error = "not a weft-verbs peer (bad magic)";
        return false;
    }
    if (version != kSessionVersion) {
        error =
            fmt::format("peer speaks session version {}, this build {}", version, kSessionVersion);
        return false;
    }
    out.type = MessageType(type);
    switch (out.type) {
        case MessageType::hello:
            get_plan(r, out.hello.plan);
            if (!get_endpoint(r, out.hello.endpoint, error)) return false;
            break;
        case MessageType::welcome:
            if (!get_endpoint(r, out.endpoint, error)) return false;
            break;
        case MessageType::ready:
            break;
        case MessageType::outcome:
            out.outcome.operations_sent = r.u64();
            out.outcome.operations_received = r.u64();
            out.outcome.bytes_sent = r.u64();
            out.outcome.bytes_received = r.u64();
            out.outcome.errors = r.u32();
            break;
        case MessageType::abort: {
            uint16_t n = r.u16();
            if (r.remaining() < n) {
                error = "abort reason truncated";
                return false;
            }
            out.reason.resize(n);
            r.bytes({reinterpret_cast<uint8_t*>(out.reason.data()), n});
            break;
        }
        default:
            error = fmt::format("unknown message type {}", type);
            return false;
    }
    if (r.truncated()) {
        error = "message truncated";
        return false;
    }
    if (r.remaining() != 0) {
        error = fmt::format("{} unexpected bytes after the message", r.remaining());
        return false;
    }
    return true;
}

}  // namespace weft::verbs
