// crypt.seal and crypt.open (stages.hpp). Until security associations exist (the
// encryption issue) no flow is protected and no SPI is known.
#include <rte_mbuf.h>

#include "weft/dataplane/stages.hpp"
#include "weft/roce/locate.hpp"

namespace weft::dataplane {

void crypt_seal(Burst&, CryptCounters&) {}

void crypt_open(Burst& b, CryptCounters& counters) {
    for (PacketState& s : b.frames()) {
        if (s.dropped) continue;
        const rte_mbuf* m = s.mbuf;
        // The headers up to the UDP ports are in the first segment of any real frame; a
        // first segment too short to show them is not PSP as far as we can tell, and the
        // account stage parses it across segments.
        const roce::Located l =
            roce::locate({rte_pktmbuf_mtod(m, const uint8_t*), size_t(m->data_len)});
        if (roce::is_psp(l)) {
            ++counters.rx_unknown_spi;
            s.dropped = true;
        }
    }
}

}  // namespace weft::dataplane
