#include "weft/probe/config.hpp"

#include <fmt/format.h>

#include "weft/config/toml_file.hpp"

namespace weft::probe {

namespace {

// The thresholds that are plain non-negative integers in the file, and the member each
// sets (times in the file are milliseconds, in DetectorConfig nanoseconds).
struct Count32 {
    const char* key;
    uint32_t DetectorConfig::*field;
};
struct Count64 {
    const char* key;
    uint64_t DetectorConfig::*field;
    uint64_t scale;
};
constexpr Count32 kCount32[] = {
    {"qpn_scan_distinct_qps", &DetectorConfig::qpn_scan_distinct_qps},
    {"rkey_guessing_naks", &DetectorConfig::rkey_guessing_naks},
    {"nak_storm_naks", &DetectorConfig::nak_storm_naks},
    {"fan_out_new_peers", &DetectorConfig::fan_out_new_peers},
    {"malformed_packets", &DetectorConfig::malformed_packets},
    {"psn_injection_packets", &DetectorConfig::psn_injection_packets},
};
constexpr uint64_t kMs = 1'000'000;
constexpr Count64 kCount64[] = {
    {"window_ms", &DetectorConfig::window_ns, kMs},
    {"fan_out_window_ms", &DetectorConfig::fan_out_window_ns, kMs},
    {"baseline_ms", &DetectorConfig::baseline_ns, kMs},
    {"cnp_storm_cnps", &DetectorConfig::cnp_storm_cnps, 1},
    {"bulk_read_bytes", &DetectorConfig::bulk_read_bytes, 1},
};

// Sets the integer threshold `key` to `v`; false when there is no such key.
bool set_count(DetectorConfig& c, const std::string& key, int64_t v) {
    for (const Count32& t : kCount32)
        if (key == t.key) {
            c.*t.field = uint32_t(v);
            return true;
        }
    for (const Count64& t : kCount64)
        if (key == t.key) {
            c.*t.field = uint64_t(v) * t.scale;
            return true;
        }
    return false;
}

}  // namespace

std::vector<std::string> load_detector_config(const std::string& path, DetectorConfig& c) {
    std::string parse_error;
    std::optional<toml::table> parsed = config::parse_toml_file(path, parse_error);
    if (!parsed) return {parse_error};
    const toml::table& doc = *parsed;
    std::vector<std::string> errors;
    for (const auto& [k, v] : doc)
        if (k != "detectors")
            errors.push_back(fmt::format("{}: {}: unknown section", path, k.str()));
    const toml::table* d = doc["detectors"].as_table();
    if (!d) return errors;
    for (const auto& [key, node] : *d) {
        std::string k(key.str());
        if (k == "job_allowlist") {
            const toml::array* a = node.as_array();
            if (!a) {
                errors.push_back(
                    fmt::format("{}: detectors.job_allowlist: must be a list of IPs", path));
                continue;
            }
            for (const auto& item : *a) {
                auto ip = item.value<std::string>()
                              ? roce::IpAddress::parse(*item.value<std::string>())
                              : std::nullopt;
                if (!ip)
                    errors.push_back(
                        fmt::format("{}: detectors.job_allowlist: not an IP address", path));
                else
                    c.job_allowlist.push_back(*ip);
            }
            continue;
        }
        auto v = node.value<int64_t>();
        if (!v || *v < 0) {
            errors.push_back(
                fmt::format("{}: detectors.{}: must be a non-negative integer", path, k));
            continue;
        }
        if (!set_count(c, k, *v))
            errors.push_back(fmt::format("{}: detectors.{}: unknown key", path, k));
    }
    return errors;
}

}  // namespace weft::probe
