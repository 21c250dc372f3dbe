#include "weft/probe/detectors.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "weft/roce/headers.hpp"

namespace weft::probe {

namespace {

constexpr uint8_t kAckKindRemoteAccessError = uint8_t(roce::AckKind::NakRemoteAccessError);

roce::IpAddress addr(const uint8_t (&a)[16]) {
    return roce::IpAddress::from_v6(a);
}

Alert make(const char* detector, const char* severity, uint64_t t, uint32_t ifindex,
           const roce::IpAddress& src, const roce::IpAddress& dst) {
    Alert a;
    a.time_ns = t;
    a.detector = detector;
    a.severity = severity;
    a.ifindex = ifindex;
    a.src = src;
    a.dst = dst;
    return a;
}

}  // namespace

bool Detectors::Window::reaches(uint64_t now, uint64_t span, uint64_t threshold, uint64_t n) {
    add(now, span, n);
    if (alerted || count < threshold) return false;
    alerted = true;
    return true;
}

bool Detectors::Window::add(uint64_t now, uint64_t span, uint64_t n) {
    bool fresh = count == 0 || now - start >= span;
    if (fresh) {
        start = now;
        count = 0;
        alerted = false;
    }
    count += n;
    return fresh;
}

Detectors::Detectors(DetectorConfig config, uint64_t start_ns)
    : config_(std::move(config)), start_ns_(start_ns) {}

bool Detectors::allowed(const roce::IpAddress& a) const {
    return config_.job_allowlist.empty() ||
           std::find(config_.job_allowlist.begin(), config_.job_allowlist.end(), a) !=
               config_.job_allowlist.end();
}

void Detectors::on_event(const weft_probe_event& e, std::vector<Alert>& out) {
    const uint64_t t = e.ts_ns;
    const roce::IpAddress src = addr(e.src), dst = addr(e.dst);
    switch (e.type) {
        case WP_EV_NEW_QP: {
            // qpn-scan: one source reaching many destination QPs on one host
            Scan& scan = scans_[{src, dst}];
            Window& w = scan.window;
            if (w.add(t, config_.window_ns)) scan.qps.clear();
            auto& qps = scan.qps;
            qps.insert(e.dest_qp);
            if (!w.alerted && qps.size() >= config_.qpn_scan_distinct_qps && !in_baseline(t)) {
                w.alerted = true;
                Alert a = make("qpn-scan", "high", t, e.ifindex, src, dst);
                a.qps.assign(qps.begin(), qps.end());
                a.evidence = {{"distinct_qps", qps.size()},
                              {"window_ms", config_.window_ns / 1'000'000},
                              {"threshold", config_.qpn_scan_distinct_qps}};
                out.push_back(std::move(a));
            }
            break;
        }
        case WP_EV_NEW_PEER: {
            Pair key{src, dst};
            if (in_baseline(t)) {
                baseline_pairs_.insert(key);
                break;
            }
            if (!allowed(dst) || !allowed(src)) {
                if (alerted_outsiders_.insert(key).second) {
                    Alert a = make("fan-out", "high", t, e.ifindex, src, dst);
                    a.evidence = {{"reason", "peer outside the job allowlist"},
                                  {"l4", e.l4 == 6 ? "tcp" : "udp"}};
                    out.push_back(std::move(a));
                }
                break;
            }
            if (baseline_pairs_.count(key)) break;
            Window& w = fan_out_windows_[src];
            if (w.reaches(t, config_.fan_out_window_ns, config_.fan_out_new_peers)) {
                Alert a = make("fan-out", "medium", t, e.ifindex, src, dst);
                a.evidence = {{"reason", "more new peers than the baseline"},
                              {"new_peers", w.count},
                              {"window_ms", config_.fan_out_window_ns / 1'000'000},
                              {"threshold", config_.fan_out_new_peers}};
                out.push_back(std::move(a));
            }
            break;
        }
        case WP_EV_NAK: {
            // a mark of a NAK burst: the NAKs since the last mark (or read) of this QP
            uint64_t n = 1;
            if (const uint64_t count = e.count; count != 0) {
                uint64_t& seen =
                    seen_[{src, dst, e.dest_qp, e.ifindex}].naks[e.reason % WP_ACK_KIND_COUNT];
                n = count - std::min(count, seen);
                seen = std::max(seen, count);
            }
            if (n != 0) add_naks(t, e.ifindex, src, dst, e.dest_qp, e.reason, n, out);
            break;
        }
        case WP_EV_MALFORMED: {
            Window& w = malformed_windows_[src];
            if (w.reaches(t, config_.window_ns, config_.malformed_packets)) {
                Alert a = make("malformed-roce", "high", t, e.ifindex, src, dst);
                if (e.dest_qp) a.qps = {e.dest_qp};
                a.evidence = {{"reason", counter_name(weft_probe_counter(e.reason))},
                              {"opcode", fmt::format("0x{:02x}", e.opcode)},
                              {"packets", w.count}};
                out.push_back(std::move(a));
            }
            break;
        }
        case WP_EV_PSN_JUMP: {
            Window& w = psn_windows_[{src, dst, e.dest_qp}];
            if (w.reaches(t, config_.window_ns, config_.psn_injection_packets)) {
                Alert a = make("psn-injection", "high", t, e.ifindex, src, dst);
                a.qps = {e.dest_qp};
                a.evidence = {{"psn", e.psn},
                              {"direction", e.syndrome == 1 ? "ahead" : "behind"},
                              {"packets", w.count}};
                out.push_back(std::move(a));
            }
            break;
        }
        default:
            break;
    }
}

// `n` NAKs of AckKind index `kind` sent by `responder` to `requester` on QP `qp`.
void Detectors::add_naks(uint64_t t, uint32_t ifindex, const roce::IpAddress& responder,
                         const roce::IpAddress& requester, uint32_t qp, uint8_t kind, uint64_t n,
                         std::vector<Alert>& out) {
    // the NAK travels responder -> requester: the requester is the suspect
    if (kind == kAckKindRemoteAccessError) {
        Window& w = rkey_windows_[requester];
        if (w.reaches(t, config_.window_ns, config_.rkey_guessing_naks, n)) {
            Alert a = make("rkey-guessing", "high", t, ifindex, requester, responder);
            a.qps = {qp};
            a.evidence = {{"remote_access_error_naks", w.count},
                          {"window_ms", config_.window_ns / 1'000'000},
                          {"threshold", config_.rkey_guessing_naks}};
            out.push_back(std::move(a));
        }
    }
    Window& storm = nak_windows_[ifindex];
    if (storm.reaches(t, config_.window_ns, config_.nak_storm_naks, n)) {
        Alert a = make("nak-storm", "medium", t, ifindex, responder, requester);
        a.evidence = {{"naks", storm.count},
                      {"window_ms", config_.window_ns / 1'000'000},
                      {"threshold", config_.nak_storm_naks},
                      {"last_kind", std::string(roce::to_string(roce::AckKind(kind)))}};
        out.push_back(std::move(a));
    }
}

void Detectors::on_poll(uint64_t now, const std::vector<QpCounters>& qps, std::vector<Alert>& out) {
    std::map<uint32_t, uint64_t> cnps;  // new CNPs per interface since the last poll
    std::map<std::tuple<roce::IpAddress, roce::IpAddress, uint32_t>, uint64_t>
        reads;  // (reader, owner, if)
    for (const QpCounters& q : qps) {
        QpSeen& seen = seen_[{q.src, q.dst, q.dest_qp, q.ifindex}];
        // NAKs between the kernel's burst marks, and any whose event was dropped
        for (uint8_t kind = 1; kind < WP_ACK_KIND_COUNT; ++kind) {
            uint64_t c = q.stats.ack_kind[kind];
            if (c > seen.naks[kind]) {
                add_naks(now, q.ifindex, q.src, q.dst, q.dest_qp, kind, c - seen.naks[kind], out);
                seen.naks[kind] = c;
            }
        }
        uint64_t c = q.stats.op_class[WP_OP_CNP], r = q.stats.read_request_bytes;
        cnps[q.ifindex] += c - std::min(c, seen.cnps);
        reads[{q.src, q.dst, q.ifindex}] += r - std::min(r, seen.read_bytes);
        seen.cnps = c;
        seen.read_bytes = r;
    }
    for (auto [ifindex, n] : cnps) {
        if (n == 0) continue;
        Window& w = cnp_windows_[ifindex];
        if (w.reaches(now, config_.window_ns, config_.cnp_storm_cnps, n)) {
            Alert a = make("cnp-storm", "medium", now, ifindex, {}, {});
            a.evidence = {{"cnps", w.count},
                          {"window_ms", config_.window_ns / 1'000'000},
                          {"threshold", config_.cnp_storm_cnps}};
            out.push_back(std::move(a));
        }
    }
    for (auto& [key, bytes] : reads) {
        if (bytes == 0) continue;
        const auto& [reader, owner, ifindex] = key;
        Pair pair{reader, owner};
        if (in_baseline(now)) {
            baseline_pairs_.insert(pair);
            continue;
        }
        if (baseline_pairs_.count(pair)) continue;
        Window& w = bulk_windows_[pair];
        if (w.reaches(now, config_.fan_out_window_ns, config_.bulk_read_bytes, bytes)) {
            Alert a = make("bulk-read", "high", now, ifindex, reader, owner);
            a.evidence = {{"read_bytes", w.count},
                          {"window_ms", config_.fan_out_window_ns / 1'000'000},
                          {"threshold_bytes", config_.bulk_read_bytes},
                          {"reason", "READs from a peer outside the baseline"}};
            out.push_back(std::move(a));
        }
    }
}

nlohmann::json alert_to_json(const Alert& a, const std::string& host, const std::string& iface,
                             int64_t realtime_minus_monotonic_ns) {
    int64_t wall = int64_t(a.time_ns) + realtime_minus_monotonic_ns;
    auto secs = std::chrono::sys_seconds(std::chrono::seconds(wall / 1'000'000'000));
    nlohmann::json qps = nlohmann::json::array();
    for (uint32_t q : a.qps) qps.push_back(q);
    return {{"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:09d}Z", secs, wall % 1'000'000'000)},
            {"host", host},
            {"interface", iface},
            {"detector", a.detector},
            {"severity", a.severity},
            {"src", a.src == roce::IpAddress{} ? nlohmann::json(nullptr)
                                               : nlohmann::json(a.src.to_string())},
            {"dst", a.dst == roce::IpAddress{} ? nlohmann::json(nullptr)
                                               : nlohmann::json(a.dst.to_string())},
            {"qps", qps},
            {"evidence", a.evidence},
            {"monotonic_ns", a.time_ns}};  // the triggering packet, as the kernel saw it
}

}  // namespace weft::probe
