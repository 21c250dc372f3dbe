// docs/SCHEMA.md names every counter weftd reports: the counter lists generate the JSON,
// text and Prometheus renderings (telemetry/counters.hpp), and this test keeps the one
// hand-written description of them complete. A counter added to a list without a line
// in the doc fails here, naming it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "weft/dataplane/counters.hpp"
#include "weft/flow/table.hpp"
#include "weft/flow/totals.hpp"

namespace {

using namespace weft;

std::string schema_doc() {
    std::ifstream in(std::string(WEFT_SOURCE_ROOT) + "/docs/SCHEMA.md");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

template <class S>
void expect_documented(const std::string& doc, std::string_view list) {
    for (const auto& c : S::counter_list())
        EXPECT_NE(doc.find("`" + std::string(c.name) + "`"), std::string::npos)
            << list << " counter `" << c.name << "` (" << c.help << ") is not in docs/SCHEMA.md";
}

TEST(SchemaDoc, NamesEveryCounterOfEveryStage) {
    const std::string doc = schema_doc();
    ASSERT_FALSE(doc.empty()) << "docs/SCHEMA.md not found";
    dataplane::for_each_stage([&](const auto& stage) {
        using Counters = std::remove_cvref_t<decltype(dataplane::WorkerStats{}.*stage.member)>;
        EXPECT_NE(doc.find("`" + std::string(stage.name) + "`"), std::string::npos)
            << "stage " << stage.name;
        expect_documented<Counters>(doc, stage.name);
        // In the stages' table, on its stage's row: "| `stage` | ... `counter` ..." (a
        // name such as `bytes` appears elsewhere in the doc anyway).
        if (stage.name == "account") return;  // the row refers to `totals`, checked below
        for (const auto& c : Counters::counter_list()) {
            bool on_its_row = false;
            const std::string row = "| `" + std::string(stage.name) + "` |";
            for (size_t at = doc.find(row); at != std::string::npos; at = doc.find(row, at + 1)) {
                const std::string line = doc.substr(at, doc.find('\n', at) - at);
                on_its_row |= line.find("`" + std::string(c.name) + "`") != std::string::npos;
            }
            EXPECT_TRUE(on_its_row) << "`" << c.name << "` has no row of stage `" << stage.name
                                    << "` in docs/SCHEMA.md";
        }
    });
    expect_documented<flow::TableCounters>(doc, "table");
    expect_documented<dataplane::PortCounters>(doc, "port");
    expect_documented<flow::Totals>(doc, "totals");
}

}  // namespace
