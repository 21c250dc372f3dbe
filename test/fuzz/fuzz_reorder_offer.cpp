// libFuzzer target: the reorder offer decoder (reorder_offer.hpp), the one weft frame weftd
// reads from the fabric. What decodes must re-encode to the same bytes (the decoder takes
// exactly what the encoder writes, up to the source MAC's last byte and trailing bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "weft/balance/reorder_offer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace weft::balance;
    ReorderOffer offer;
    if (decode_offer({data, size}, offer) != OfferVerdict::ok) return 0;
    if (offer.hosts.empty() || offer.hosts.size() > kOfferMaxPrefixes) std::abort();
    std::vector<uint8_t> again(offer_bytes(offer));
    if (encode_offer(offer, size > 11 ? data[11] : 0, again) != again.size()) std::abort();
    // the header after the MACs, and the prefixes, as read
    if (std::memcmp(again.data() + 12, data + 12, again.size() - 12) != 0) std::abort();
    return 0;
}
