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

}  // namespace weft::dataplane
