#include "weft/probe/config.hpp"

#include <fmt/format.h>

#include "weft/config/sections.hpp"

namespace weft::probe {

namespace {

// The thresholds that are plain integers in the file, the member each sets (times in the
// file are milliseconds, in DetectorConfig nanoseconds) and the range an operator may
// give: a threshold of 0 would alert on every packet, a window of 0 never count.
struct Count32 {
    std::string_view key;
    uint32_t DetectorConfig::*field;
    uint32_t min, max;
};
struct Count64 {
    std::string_view key;
    uint64_t DetectorConfig::*field;
    uint64_t scale;
    uint64_t min, max;
};
constexpr uint32_t kMillion = 1'000'000;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kDayMs = 86'400'000;
constexpr Count32 kCount32[] = {
    {"qpn_scan_distinct_qps", &DetectorConfig::qpn_scan_distinct_qps, 1, kMillion},
    {"rkey_guessing_naks", &DetectorConfig::rkey_guessing_naks, 1, kMillion},
    {"nak_storm_naks", &DetectorConfig::nak_storm_naks, 1, 1000 * kMillion},
    {"fan_out_new_peers", &DetectorConfig::fan_out_new_peers, 1, kMillion},
    {"malformed_packets", &DetectorConfig::malformed_packets, 1, kMillion},
    {"psn_injection_packets", &DetectorConfig::psn_injection_packets, 1, kMillion},
};
constexpr Count64 kCount64[] = {
    {"window_ms", &DetectorConfig::window_ns, kMs, 1, kDayMs},
    {"fan_out_window_ms", &DetectorConfig::fan_out_window_ns, kMs, 1, kDayMs},
    {"baseline_ms", &DetectorConfig::baseline_ns, kMs, 0, kDayMs},
    {"cnp_storm_cnps", &DetectorConfig::cnp_storm_cnps, 1, 1, uint64_t(1) << 40},
    {"bulk_read_bytes", &DetectorConfig::bulk_read_bytes, 1, 1, uint64_t(1) << 50},
};

void parse_detectors(const toml::node& node, DetectorConfig& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "detectors", problems);
    if (!t) return;
    std::vector<std::string_view> known = {"job_allowlist"};
    for (const Count32& k : kCount32) {
        known.push_back(k.key);
        config::read_uint(*t, "detectors", k.key, k.min, k.max, c.*k.field, problems);
    }
    for (const Count64& k : kCount64) {
        known.push_back(k.key);
        uint64_t v = 0;
        if (config::read_uint(*t, "detectors", k.key, k.min, k.max, v, problems))
            c.*k.field = v * k.scale;
    }
    config::refuse_unknown_keys(*t, "detectors", known, problems);
    if (const toml::node* list = t->get("job_allowlist")) {
        const toml::array* a = list->as_array();
        if (!a) {
            problems.add("detectors.job_allowlist", "must be a list of IP addresses");
            return;
        }
        for (size_t i = 0; i < a->size(); ++i) {
            const toml::node& item = *a->get(i);
            std::optional<std::string> text =
                item.is_string() ? item.value<std::string>() : std::nullopt;
            auto ip = text ? roce::IpAddress::parse(*text) : std::nullopt;
            if (!ip)
                problems.add(fmt::format("detectors.job_allowlist[{}]", i),
                             text ? fmt::format("{} is not an IP address", *text)
                                  : std::string("must be an IP address as a string"));
            else
                c.job_allowlist.push_back(*ip);
        }
    }
}

constexpr config::Section<DetectorConfig> kSections[] = {{"detectors", parse_detectors}};

}  // namespace

std::vector<std::string> load_detector_config(const std::string& path, DetectorConfig& c) {
    return config::load_file(path, std::span<const config::Section<DetectorConfig>>(kSections), c);
}

std::vector<std::string> load_detector_config_string(std::string_view text, const std::string& name,
                                                     DetectorConfig& c) {
    return config::load_string(text, name,
                               std::span<const config::Section<DetectorConfig>>(kSections), c);
}

std::string describe(const DetectorConfig& c) {
    std::string out;
    for (const Count32& k : kCount32) out += fmt::format("  {} = {}\n", k.key, c.*k.field);
    for (const Count64& k : kCount64)
        out += fmt::format("  {} = {}\n", k.key, c.*k.field / k.scale);
    std::vector<std::string> ips;
    for (const auto& ip : c.job_allowlist) ips.push_back(ip.to_string());
    out += fmt::format("  job_allowlist = [{}]\n", fmt::join(ips, ", "));
    return out;
}

}  // namespace weft::probe
