// balance.apply (stages.hpp); balance.decide is a template in stages.hpp.
#include <rte_mbuf.h>

#include "weft/dataplane/stages.hpp"
#include "weft/roce/bytes.hpp"
#include "weft/roce/icrc.hpp"

namespace weft::dataplane {

void balance_apply(Burst& b) {
    for (PacketState& s : b.frames()) {
        if (s.dropped || s.sealed || !s.is_roce() || s.path.source_port == balance::kKeepSourcePort)
            continue;
        if (s.mbuf->nb_segs != 1) continue;  // see stages.hpp
        const uint16_t port = uint16_t(s.path.source_port);
        if (port == s.packet.src_port) continue;
        // The new ICRC from the old one in constant time, then the two stores; the view
        // is kept true to the bytes for any stage after this one.
        const uint32_t icrc = roce::icrc_after_src_port_change(s.packet, port);
        uint8_t* f = rte_pktmbuf_mtod(s.mbuf, uint8_t*);
        roce::store_be16(f + s.packet.l4_offset, port);
        roce::store_le32(f + s.packet.icrc_offset, icrc);
        s.packet.src_port = port;
    }
}

}  // namespace weft::dataplane
