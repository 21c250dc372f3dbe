// A running weftd: EAL, ports and one Worker per worker lcore, launched on the planned
// lcores; the main lcore waits for a stop (signal, or the end of every pcap port's file
// with exit_on_eof) and then gathers the workers' flows and counters.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/dataplane/config.hpp"
#include "weft/dataplane/eal.hpp"
#include "weft/dataplane/placement.hpp"
#include "weft/dataplane/ports.hpp"
#include "weft/dataplane/worker.hpp"

namespace weft::dataplane {

class Instance {
  public:
    Instance(const Config& c, const Plan& p);
    ~Instance();

    // Runs until `stop` is set (or every pcap file is read, with exit_on_eof). Returns
    // the reason it stopped, in words.
    std::string run(std::atomic<bool>& stop);

    // The flows of every worker, paired across workers, in the schema of
    // `weftctl analyze --json` (weft.flows/1), with a "dataplane" section of weftd's own
    // counters beside it.
    nlohmann::json flows_document() const;
    nlohmann::json counters_json() const;
    std::string format_counters() const;

  private:
    Config config_;
    Plan plan_;
    std::unique_ptr<Eal> eal_;
    std::unique_ptr<PortSet> ports_;
    std::vector<std::unique_ptr<Worker>> workers_;
    uint64_t expected_frames_ = 0;  // records in the pcap files read (exit_on_eof)
};

}  // namespace weft::dataplane
