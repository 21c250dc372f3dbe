// weft-probe's anomaly detectors: pure logic over the kernel programs' events and the
// periodic map reads, so every threshold is unit-tested with synthetic input. Each
// detector raises at most one alert per key per window (a storm is one alert a window,
// with its evidence), and every threshold is in DetectorConfig (docs/DETECTION.md).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/probe/probe.hpp"

namespace weft::probe {

struct DetectorConfig {
    uint64_t window_ns = 1'000'000'000;   // counting window of the rate detectors
    uint32_t qpn_scan_distinct_qps = 16;  // new QPs from one source to one host per window
    uint32_t rkey_guessing_naks = 3;      // remote-access-error NAKs to one requester per window
    uint32_t nak_storm_naks = 200;        // NAKs of any kind on an interface per window
    uint64_t cnp_storm_cnps = 5000;       // CNPs on an interface per window
    uint32_t fan_out_new_peers = 32;      // new peers of one source per fan-out window
    uint64_t fan_out_window_ns = 10'000'000'000;
    std::vector<roce::IpAddress> job_allowlist;  // when set: any peer outside it alerts
    uint64_t bulk_read_bytes = 64ull << 20;      // READ bytes from a peer outside the baseline
    uint64_t baseline_ns = 0;            // peers seen in this long after start form the baseline
    uint32_t malformed_packets = 1;      // malformed RoCE packets from one source per window
    uint32_t psn_injection_packets = 1;  // out-of-window request PSNs into one QP per window
};

struct Alert {
    uint64_t time_ns = 0;  // CLOCK_MONOTONIC, as the events' timestamps
    std::string detector;  // kebab-case: qpn-scan, psn-injection, ...
    std::string severity;  // low, medium, high
    uint32_t ifindex = 0;
    roce::IpAddress src{}, dst{};
    std::vector<uint32_t> qps;
    nlohmann::json evidence;
};

class Detectors {
  public:
    explicit Detectors(DetectorConfig config, uint64_t start_ns);

    // One kernel event; alerts raised are appended to `out`.
    void on_event(const weft_probe_event& e, std::vector<Alert>& out);
    // A periodic read of the maps at `now_ns` (CNP storms, bulk READs).
    void on_poll(uint64_t now_ns, const std::vector<QpCounters>& qps, std::vector<Alert>& out);

    const DetectorConfig& config() const { return config_; }

  private:
    using Pair = std::pair<roce::IpAddress, roce::IpAddress>;
    // A count over a window that restarts when it has passed.
    struct Window {
        uint64_t start = 0;
        uint64_t count = 0;
        bool alerted = false;
        bool add(uint64_t now, uint64_t span, uint64_t n = 1);  // true once the window is fresh
        // Adds `n`; true the once per window that the count reaches `threshold`.
        bool reaches(uint64_t now, uint64_t span, uint64_t threshold, uint64_t n = 1);
    };
    void add_naks(uint64_t t, uint32_t ifindex, const roce::IpAddress& responder,
                  const roce::IpAddress& requester, uint32_t qp, uint8_t kind, uint64_t n,
                  std::vector<Alert>& out);
    bool in_baseline(uint64_t now) const { return now < start_ns_ + config_.baseline_ns; }
    bool allowed(const roce::IpAddress& a) const;

    DetectorConfig config_;
    uint64_t start_ns_;
    struct Scan {
        Window window;
        std::set<uint32_t> qps;  // distinct destination QPs in the window
    };
    std::map<Pair, Scan> scans_;  // (source, host)
    std::map<roce::IpAddress, Window> rkey_windows_;
    std::map<uint32_t, Window> nak_windows_;  // by interface

    std::map<roce::IpAddress, Window> malformed_windows_;
    std::map<std::tuple<roce::IpAddress, roce::IpAddress, uint32_t>, Window> psn_windows_;
    std::map<roce::IpAddress, Window> fan_out_windows_;
    std::set<Pair> baseline_pairs_;
    std::set<Pair> alerted_outsiders_;
    // What has been counted of each QP flow's running totals, by (src, dst, QP, interface):
    // the map reads report totals, and so do the kernel's NAK burst marks.
    struct QpSeen {
        uint64_t cnps = 0;
        uint64_t read_bytes = 0;
        std::array<uint64_t, WP_ACK_KIND_COUNT> naks{};  // by AckKind index
    };
    std::map<std::tuple<roce::IpAddress, roce::IpAddress, uint32_t, uint32_t>, QpSeen> seen_;
    std::map<uint32_t, Window> cnp_windows_;
    std::map<Pair, Window> bulk_windows_;
};

// The alert as one JSON line's object: time (RFC 3339, UTC), host, interface,
// detector, severity, src, dst, qps, evidence.
nlohmann::json alert_to_json(const Alert& a, const std::string& host, const std::string& iface,
                             int64_t realtime_minus_monotonic_ns);

}  // namespace weft::probe
