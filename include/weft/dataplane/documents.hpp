// What weftd tells its readers: weft.status/1, weft.ports/1 and weft.flows/1 with its
// "dataplane" section (docs/SCHEMA.md), their human renderings for weftctl, and the
// counters printed on stderr at exit. Each is made from one reading of the workers'
// publications or one flow snapshot (Instance), so its figures agree with each other;
// the stages' counters come from their lists (counters.hpp), never spelled out here.
// The Prometheus text is in metrics.hpp.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "weft/dataplane/instance.hpp"
#include "weft/flow/filter.hpp"
#include "weft/flow/report.hpp"

namespace weft::dataplane {

nlohmann::json status_document(const Instance& instance);
std::string status_text(const Instance& instance);

nlohmann::json ports_document(const Instance& instance);
std::string ports_text(const Instance& instance);

// weft.flows/1 of a snapshot (as weftctl analyze --json), plus "dataplane". Throws
// DataplaneError if a running worker does not answer.
nlohmann::json flows_document(const Instance& instance, const flow::FlowFilter& filter = {});
std::string flows_text(const Instance& instance, const flow::FlowFilter& filter,
                       const flow::TableStyle& style = {});
// The same document as flows_document(instance), every flow, written to `sink` as it is
// made (no tree of the flows: `--dump-flows` of a million flows needs no gigabytes).
void write_flows_document(const Instance& instance, const flow::TextSink& sink);

// weft.keys/1: PSP's generations, keys' ages, SPIs and counters in total and per SA, never
// a key byte; `rotation` (when given) is what `weftctl keys rotate` just did.
// weft.paths/1: the balancing policy in force and every path's state and signals.
nlohmann::json paths_document(const Instance& instance);
std::string paths_text(const nlohmann::json& paths_document);

// weft.explain-path/1: a host -> fabric flow's class, path, why, and its moves.
nlohmann::json explain_path_document(const Instance& instance, const roce::IpAddress& src,
                                     const roce::IpAddress& dst, uint32_t dest_qp);
std::string explain_path_text(const nlohmann::json& doc);

nlohmann::json keys_document(const Instance& instance, const PspRotation* rotation = nullptr);
std::string keys_text(const nlohmann::json& keys_document);

// The "dataplane" section: mode, per-port and per-worker counters.
nlohmann::json counters_document(const Instance& instance);
std::string counters_text(const Instance& instance);

}  // namespace weft::dataplane
