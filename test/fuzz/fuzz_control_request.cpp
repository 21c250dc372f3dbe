// libFuzzer target: weft.control/1's request decoding (ipc::decode_request), what weftd's
// control socket and weft-probe's alert socket apply to the line a client sends: length,
// JSON, an object, "command", "format", "filter" (filter_from_json), "follow". The input
// is the line.
//
// Properties, each trapping when violated:
//   - nothing is thrown, whatever the line;
//   - a refusal is an error reply with a message: error_reply() of it renders as one line
//     holding a non-empty "error";
//   - what a server then reads from an accepted request cannot throw and agrees with the
//     decoding: value("command", ""), value("format", "json"), value("follow", false)
//     (the lookups weftd's and weft-probe's servers make);
//   - an accepted filter survives filter_to_json -> filter_from_json unchanged;
//   - the request weftctl would send for what was decoded (make_request) decodes to the
//     same command, format, filter and table layout ("table": width within its range).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "check.hpp"
#include "weft/flow/filter.hpp"
#include "weft/ipc/protocol.hpp"

namespace {

using namespace weft;

bool same(const flow::FlowFilter& a, const flow::FlowFilter& b) {
    return a.hosts == b.hosts && a.dest_qp == b.dest_qp && a.top == b.top && a.sort == b.sort;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    ipc::Request r;
    nlohmann::json object;
    const std::string error = ipc::decode_request(line, r, object);
    if (!error.empty()) {
        const std::string reply = ipc::error_reply(error).dump();
        CHECK(reply.find('\n') == std::string::npos);
        const nlohmann::json back = nlohmann::json::parse(reply);
        CHECK(back.at("schema") == ipc::kProtocol && back.at("error") == error);
        return 0;
    }

    CHECK(object.is_object());
    CHECK(object.value("command", "") == r.command);
    CHECK(object.value("format", "json") == (r.text ? "text" : "json"));
    CHECK(object.value("follow", false) == r.follow);

    if (r.has_filter) {
        flow::FlowFilter back;
        CHECK(ipc::filter_from_json(ipc::filter_to_json(r.filter), back).empty());
        CHECK(same(back, r.filter));
    }

    // (weftctl refuses to send a request longer than kMaxRequestBytes itself; a line near
    // the limit can grow by the members filter_to_json always writes)
    ipc::Request again;
    nlohmann::json again_object;
    const std::string sent =
        ipc::make_request(r.command, r.text, r.has_filter ? &r.filter : nullptr, &r.table).dump();
    if (sent.size() > ipc::kMaxRequestBytes) return 0;
    CHECK(ipc::decode_request(sent, again, again_object).empty());
    CHECK(again.command == r.command && again.text == r.text && again.has_filter == r.has_filter &&
          same(again.filter, r.filter));
    // the table's layout travels unchanged and always within its range
    CHECK(again.table.width == r.table.width && again.table.wide == r.table.wide);
    CHECK(r.table.width >= flow::TableStyle::kMinWidth &&
          r.table.width <= flow::TableStyle::kMaxWidth);
    return 0;
}
