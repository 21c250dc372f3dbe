// libFuzzer target: weft-verbs' side-channel message decoder (the one thing weft-verbs
// reads from the network before RDMA starts). Whatever decodes must validate or be
// rejected by validate(), and must re-encode to the same bytes: the decoder accepts
// exactly what the encoders write.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "weft/verbs/session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace weft::verbs;
    Message m;
    std::string error;
    if (!decode(std::span<const uint8_t>(data, size), m, error)) {
        if (error.empty()) std::abort();  // every refusal says why
        return 0;
    }
    std::vector<uint8_t> again;
    switch (m.type) {
        case MessageType::hello:
            (void)validate(m.hello.plan);
            again = encode_hello(m.hello);
            break;
        case MessageType::welcome:
            again = encode_welcome(m.endpoint);
            break;
        case MessageType::ready:
            again = encode_ready();
            break;
        case MessageType::outcome:
            again = encode_outcome(m.outcome);
            break;
        case MessageType::abort:
            again = encode_abort(m.reason);
            break;
    }
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    return 0;
}
