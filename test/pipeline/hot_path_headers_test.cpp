// The hot path's headers (roce, flow tracking, classify, balance, the pipeline and its
// stages, the worker) must not pull in JSON or TOML: rendering and configuration stay at
// the boundaries (flow/report.hpp, dataplane/documents.hpp, config/sections.hpp). This
// file fails to compile if one of them does.
#include "weft/balance/policy.hpp"
#include "weft/classify/classifier.hpp"
#include "weft/dataplane/burst.hpp"
#include "weft/dataplane/counters.hpp"
#include "weft/dataplane/firewall.hpp"
#include "weft/dataplane/pipeline.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/dataplane/tx.hpp"
#include "weft/dataplane/worker.hpp"
#include "weft/flow/account.hpp"
#include "weft/flow/table.hpp"
#include "weft/roce/icrc.hpp"
#include "weft/roce/locate.hpp"
#include "weft/roce/packet.hpp"

#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(INCLUDE_NLOHMANN_JSON_HPP_)
#error "a hot-path header includes nlohmann/json"
#endif
#if defined(TOMLPLUSPLUS_HPP) || defined(TOMLPLUSPLUS_H) || defined(TOML_VERSION_MAJOR)
#error "a hot-path header includes toml++"
#endif
