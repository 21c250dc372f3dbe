// weft-probe's agent loop: attach the TC programs, consume ring-buffer events, read the
// QP tables every poll period (or at once when a volume mark arrives), run the detectors,
// and hand alerts out as JSON lines (a stream and the alert socket); at the end, consume
// what is left, make one last read, and return the counters. tools/weft-probe.cpp parses
// the command line and calls run().
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/io/output.hpp"
#include "weft/probe/detectors.hpp"
#include "weft/probe/probe.hpp"

namespace weft::probe {

struct AgentOptions {
    std::vector<std::string> interfaces;
    DetectorConfig detectors;
    double duration_s = 0;  // 0: until `stop`
    uint32_t poll_ms = 100;
    std::string socket_path;  // the alert socket; "" for none
};

struct AgentResult {
    Counters counters{};
    uint64_t alerts = 0;
    nlohmann::json counters_document;  // counters_to_json of the last read
    bool alerts_reader_gone = false;   // the alerts pipe closed (EPIPE): the run ended
};

// Runs until `stop` is set or the duration has passed, writing each alert as one JSON
// line to `alerts` (flushed per batch), or until the reader of an alerts pipe goes away.
// Throws ProbeError or ipc::ControlError when the probe cannot attach or the socket cannot
// be made, io::OutputError when an alert cannot be written (other than EPIPE).
AgentResult run_agent(const AgentOptions& options, io::OutputFile& alerts,
                      const std::atomic<bool>& stop);

}  // namespace weft::probe
