// libFuzzer target: weftd's and weft-probe's configuration files (weftd's through
// dataplane::load_config_string: mode, workers, [eal], [flows], [firewall], [control],
// [metrics], [[ports]]; weft-probe's through probe::load_detector_config_string:
// [detectors]). The input is the text of one file, given to both loaders; they share the
// TOML parser and config::load_string, which the programs reach through their
// path-reading versions.
//
// Properties, each trapping when violated:
//   - nothing is thrown, whatever the text;
//   - every problem line names the file ("NAME: key: why" or "NAME:LINE:COL: why");
//   - loading is deterministic: the same text loaded again into a fresh configuration
//     gives the same problems and the same configuration (a document accepted once is
//     accepted again, and means the same thing);
//   - weftd's whole-plan check, dataplane::validate(), holds up on whatever was loaded
//     (weftd validates only an accepted file, then adds its flags: validate must take any
//     Config), and its complaints are non-empty lines.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "weft/dataplane/config.hpp"
#include "weft/probe/config.hpp"

namespace {

using namespace weft;

const std::string kName = "fuzz.toml";

bool names_the_file(const std::string& line) {
    return line.size() > kName.size() && line.compare(0, kName.size(), kName) == 0 &&
           line[kName.size()] == ':';
}

// Every setting a weftd file can give, so two loads can be compared (describe() leaves
// some out). A field added to Config and to a section parser belongs here too.
std::string fingerprint(const dataplane::Config& c) {
    std::string s = fmt::format("{} {} {}|", to_string(c.mode), c.workers, c.source);
    for (const dataplane::PortConfig& p : c.ports)
        s += fmt::format("port {:?} {} {:?} {:?}|", p.name, to_string(p.role), p.device, p.args);
    s += fmt::format("eal {:?} {} {} {}|", c.eal.file_prefix,
                     c.eal.hugepages ? int(*c.eal.hugepages) : -1, c.eal.memory_mb,
                     c.eal.mbufs_per_port);
    s += fmt::format("flows {} {}|firewall {} {}|", c.flows.max_flows, c.flows.idle_timeout_s,
                     c.firewall.verify_icrc, c.firewall.drop_bad_icrc);
    s += fmt::format("control {} {:?}|metrics {:?}", bool(c.control.socket),
                     c.control.socket.value_or(""), c.metrics.listen);
    return s;
}

void check_problems(const std::vector<std::string>& problems) {
    for (const std::string& line : problems) CHECK(names_the_file(line));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    dataplane::Config a, b;
    const std::vector<std::string> pa = dataplane::load_config_string(text, kName, a);
    check_problems(pa);
    const std::vector<std::string> pb = dataplane::load_config_string(text, kName, b);
    CHECK(pa == pb && fingerprint(a) == fingerprint(b));
    for (const std::string& line : dataplane::validate(a)) CHECK(!line.empty());
    (void)dataplane::describe(a);

    probe::DetectorConfig da, db;
    const std::vector<std::string> qa = probe::load_detector_config_string(text, kName, da);
    check_problems(qa);
    const std::vector<std::string> qb = probe::load_detector_config_string(text, kName, db);
    CHECK(qa == qb && probe::describe(da) == probe::describe(db));
    return 0;
}
