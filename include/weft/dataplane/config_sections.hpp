// The sections of weftd's configuration file (config::Section), each parsed by the file
// whose code its settings drive. Kept out of config.hpp so the pipeline's headers do not
// pull in the TOML parser.
#pragma once

#include <span>

#include "weft/config/sections.hpp"
#include "weft/dataplane/config.hpp"

namespace weft::dataplane {

// The sections a weftd configuration file holds, each parsed by the file that owns its
// settings (config::Section): mode, workers, [eal], [flows], [firewall], [control],
// [metrics], [[ports]], [psp], [balance], [classify]. The file's known top-level keys are exactly
// these names.
std::span<const config::Section<Config>> config_sections();

// The parsers of the sections, each defined beside the code its settings drive.
void parse_eal_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_flows_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_firewall_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_control_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_metrics_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_psp_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_balance_section(const toml::node& node, Config& c, config::Problems& problems);
void parse_classify_section(const toml::node& node, Config& c, config::Problems& problems);

// `table[key]` as a list of addresses or prefixes (10.0.0.0/24, fd00::/64, no host bits
// set), appended to `out`; each problem reported against "<section>.<key>". Returns
// whether the key is there (present but wrong counts as there: its problem is reported).
// The one reader of host lists: [[classify.rules]], [[psp.peers]], [balance].
bool read_prefixes(const toml::table& table, const std::string& section, std::string_view key,
                   std::vector<roce::IpPrefix>& out, config::Problems& problems);

}  // namespace weft::dataplane
