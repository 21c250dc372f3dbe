#include "weft/probe/agent.hpp"

#include <fmt/format.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "weft/probe/alert_server.hpp"

namespace weft::probe {

namespace {

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// Kernel event times are CLOCK_MONOTONIC; alerts carry wall-clock time too.
int64_t realtime_minus_monotonic() {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(rt.tv_sec) - int64_t(mono.tv_sec)) * 1'000'000'000ll +
           (int64_t(rt.tv_nsec) - int64_t(mono.tv_nsec));
}

}  // namespace

AgentResult run_agent(const AgentOptions& options, io::OutputFile& alerts,
                      const std::atomic<bool>& stop) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    // Interfaces first: a second probe on one is refused naming the interface, before
    // its (default, shared) alert socket would be found in use.
    Probe probe;
    for (const auto& i : options.interfaces) probe.attach(i);
    std::unique_ptr<AlertServer> server;
    if (!options.socket_path.empty()) server = std::make_unique<AlertServer>(options.socket_path);
    std::map<uint32_t, std::string> names;
    for (const auto& i : options.interfaces) names[if_nametoindex(i.c_str())] = i;
    fmt::print(stderr, "weft-probe: attached to {}\n", fmt::join(options.interfaces, ", "));

    const uint64_t start = monotonic_ns();
    const int64_t offset = realtime_minus_monotonic();
    Detectors detectors(options.detectors, start);
    AgentResult result;
    std::vector<Alert> raised;
    auto write = [&] {
        for (const Alert& a : raised) {
            auto it = names.find(a.ifindex);
            nlohmann::json j = alert_to_json(a, host, it == names.end() ? "" : it->second, offset);
            // when the alert left the probe: detection latency is measured to here
            j["raised_monotonic_ns"] = monotonic_ns();
            if (server) server->publish(j);
            ++result.alerts;
            if (result.alerts_reader_gone) continue;  // the socket still gets them
            try {
                alerts.write(j.dump());
                alerts.write("\n");
            } catch (const io::OutputError& e) {
                // `--alerts - | head -1`: the reader is gone, which ends the run cleanly
                // (filters detached on the way out) instead of killing us by SIGPIPE
                // with the filters left attached. Any other failure is an error.
                if (e.os_error() != EPIPE) throw;
                result.alerts_reader_gone = true;
            }
        }
        if (!raised.empty() && !result.alerts_reader_gone) {
            try {
                alerts.flush();
            } catch (const io::OutputError& e) {
                if (e.os_error() != EPIPE) throw;
                result.alerts_reader_gone = true;
            }
        }
        raised.clear();
    };
    std::vector<QpCounters> qps;  // one buffer for every read of the QP tables
    uint64_t next_poll = start;
    while (!stop.load() && !result.alerts_reader_gone) {
        bool volume = false;  // a QP crossed a READ or CNP mark: read the maps now
        probe.poll_events(
            [&](const weft_probe_event& e) {
                volume |= e.type == WP_EV_VOLUME;
                detectors.on_event(e, raised);
            },
            20);
        uint64_t now = monotonic_ns();
        if (now >= next_poll || volume) {
            probe.read_qps(qps);
            detectors.on_poll(now, qps, raised);
            next_poll = now + uint64_t(options.poll_ms) * 1'000'000ull;
        }
        write();
        // the reader of an alerts pipe left: stop now, not at the next alert's write
        if (!result.alerts_reader_gone && alerts.reader_gone()) result.alerts_reader_gone = true;
        if (server) server->service();
        if (options.duration_s > 0 && double(now - start) / 1e9 >= options.duration_s) break;
    }
    // what is still in the ring buffer when we stop is consumed, not lost
    while (probe.poll_events([&](const weft_probe_event& e) { detectors.on_event(e, raised); }, 0) >
           0) {
    }
    // one last read of the tables serves the detectors and the counters document
    probe.read_qps(qps);
    detectors.on_poll(monotonic_ns(), qps, raised);
    write();
    result.counters = probe.counters();
    result.counters_document = counters_to_json(result.counters, qps, probe.peers(qps), names);
    return result;
}

}  // namespace weft::probe
