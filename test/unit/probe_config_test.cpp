// weft-probe's [detectors] file: every threshold by name, times in milliseconds, and every
// problem reported (bad TOML, unknown section or key, a negative or non-integer value, a
// bad allowlist entry) rather than left as a silent default.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "test_packets.hpp"
#include "weft/probe/config.hpp"

namespace weft::probe {
namespace {

// Writes `text` to a file of its own; removed with the object.
struct TomlFile {
    std::string path;
    explicit TomlFile(const std::string& text) {
        char name[] = "/tmp/weft-probe-config-XXXXXX";
        int fd = mkstemp(name);
        EXPECT_GE(fd, 0);
        if (fd >= 0) close(fd);
        path = name;
        std::ofstream(path) << text;
    }
    ~TomlFile() { std::remove(path.c_str()); }
};

TEST(ProbeConfig, EveryThresholdByNameTimesInMilliseconds) {
    TomlFile f(
        "[detectors]\n"
        "window_ms = 250\nqpn_scan_distinct_qps = 9\nrkey_guessing_naks = 4\n"
        "nak_storm_naks = 300\ncnp_storm_cnps = 7000\nfan_out_new_peers = 12\n"
        "fan_out_window_ms = 5000\nbulk_read_bytes = 4194304\nbaseline_ms = 60000\n"
        "malformed_packets = 2\npsn_injection_packets = 3\n"
        "job_allowlist = [\"10.0.0.1\", \"fd00::2\"]\n");
    DetectorConfig c;
    EXPECT_TRUE(load_detector_config(f.path, c).empty());
    EXPECT_EQ(c.window_ns, 250'000'000u);
    EXPECT_EQ(c.qpn_scan_distinct_qps, 9u);
    EXPECT_EQ(c.rkey_guessing_naks, 4u);
    EXPECT_EQ(c.nak_storm_naks, 300u);
    EXPECT_EQ(c.cnp_storm_cnps, 7000u);
    EXPECT_EQ(c.fan_out_new_peers, 12u);
    EXPECT_EQ(c.fan_out_window_ns, 5'000'000'000u);
    EXPECT_EQ(c.bulk_read_bytes, 4194304u);
    EXPECT_EQ(c.baseline_ns, 60'000'000'000u);
    EXPECT_EQ(c.malformed_packets, 2u);
    EXPECT_EQ(c.psn_injection_packets, 3u);
    ASSERT_EQ(c.job_allowlist.size(), 2u);
    EXPECT_EQ(c.job_allowlist[0], test::ip("10.0.0.1"));
    EXPECT_EQ(c.job_allowlist[1], test::ip("fd00::2"));
}

TEST(ProbeConfig, AbsentKeysKeepTheirDefaults) {
    TomlFile f("[detectors]\nnak_storm_naks = 50\n");
    DetectorConfig c, defaults;
    EXPECT_TRUE(load_detector_config(f.path, c).empty());
    EXPECT_EQ(c.nak_storm_naks, 50u);
    EXPECT_EQ(c.window_ns, defaults.window_ns);
    EXPECT_EQ(c.bulk_read_bytes, defaults.bulk_read_bytes);
}

TEST(ProbeConfig, EveryProblemReportedOnce) {
    TomlFile f(
        "[detector]\nx = 1\n"
        "[detectors]\nwindow_ms = -5\nnak_storm_naks = \"many\"\nwindwo_ms = 10\n"
        "job_allowlist = [\"10.0.0.1\", \"not-an-ip\"]\n");
    DetectorConfig c;
    auto errors = load_detector_config(f.path, c);
    ASSERT_EQ(errors.size(), 5u);
    auto has = [&](const std::string& s) {
        for (const auto& e : errors)
            if (e.find(s) != std::string::npos) return true;
        return false;
    };
    EXPECT_TRUE(has("detector: unknown key; a file holds detectors"));
    EXPECT_TRUE(has("detectors.window_ms: must be an integer from 1 to 86400000"));
    EXPECT_TRUE(has("detectors.nak_storm_naks: must be an integer from 1 to 1000000000"));
    EXPECT_TRUE(has("detectors.windwo_ms: unknown key; known: job_allowlist, "));
    EXPECT_TRUE(has("detectors.job_allowlist[1]: not-an-ip is not an IP address"));
}

TEST(ProbeConfig, NumbersOutsideTheirRangeAreRefusedNeverWrapped) {
    // 4294967312 = 2^32 + 16 once wrapped to 16 silently; 0 would alert on every packet.
    TomlFile f(
        "[detectors]\nqpn_scan_distinct_qps = 4294967312\nrkey_guessing_naks = 0\n"
        "window_ms = 99999999999999\nbaseline_ms = 0\n");
    DetectorConfig c, defaults;
    auto errors = load_detector_config(f.path, c);
    ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
    EXPECT_EQ(c.qpn_scan_distinct_qps, defaults.qpn_scan_distinct_qps);
    EXPECT_EQ(c.rkey_guessing_naks, defaults.rkey_guessing_naks);
    EXPECT_EQ(c.window_ns, defaults.window_ns);
    EXPECT_EQ(c.baseline_ns, 0u) << "a baseline of 0 ms is allowed: no baseline";
}

TEST(ProbeConfig, BadTomlNamesTheLine) {
    TomlFile f("[detectors]\nwindow_ms = = 3\n");
    DetectorConfig c;
    auto errors = load_detector_config(f.path, c);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find(f.path + ":2:"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace weft::probe
