// weft-probe's configuration file: the [detectors] table of a TOML file, every threshold
// of DetectorConfig by name (docs/DETECTION.md lists them with their defaults).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weft/probe/detectors.hpp"

namespace weft::probe {

// Reads `path` into `c` (keys absent keep their defaults). Returns the problems found, one
// line each ("FILE: detectors.KEY: why", or "FILE:LINE:COL: why" for bad TOML); empty when
// the file is good. An unknown section or key is a problem: a typo must not silently
// leave a default in force.
std::vector<std::string> load_detector_config(const std::string& path, DetectorConfig& c);
// The same for `text`, the contents of a file called `name` (problems name it).
std::vector<std::string> load_detector_config_string(std::string_view text, const std::string& name,
                                                     DetectorConfig& c);

// The thresholds in force, one per line, as the file would name them.
std::string describe(const DetectorConfig& c);

}  // namespace weft::probe
