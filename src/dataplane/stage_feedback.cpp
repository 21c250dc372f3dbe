// path_feedback (stages.hpp): NAKs, ACKs and CNPs from the fabric, charged to paths.
#include "weft/dataplane/stages.hpp"

namespace weft::dataplane {

void path_feedback(Burst& b, FeedbackContext& ctx) {
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce() || s.flow == flow::kNoIndex) continue;
        const roce::Packet& p = s.packet;
        const bool cnp = p.op->transport == roce::Transport::CNP;
        if (!cnp && !p.has(roce::kAeth)) continue;
        uint32_t& paired = ctx.paired->at(s.flow, s.flow_created);
        if (cnp) {
            if (paired) {
                ctx.monitor->signal(ctx.worker, paired - 1, balance::Signal::cnp);
                ++ctx.counters.cnps_charged;
            } else {
                ++ctx.counters.feedback_unmatched;
            }
            continue;
        }
        // An ACK or NAK names a PSN the requester (this frame's destination) sent to the
        // responder (its source): the path that PSN left on
        uint32_t path = 0;
        const bool known = ctx.owners->find(p.dst, p.src, p.bth.psn & 0xffffff, path);
        if (known) paired = path + 1;
        if (p.aeth.kind() == roce::AckKind::NakPsnSequenceError) {
            if (known) {
                ctx.monitor->signal(ctx.worker, path, balance::Signal::nak);
                ++ctx.counters.naks_charged;
            } else {
                ++ctx.counters.feedback_unmatched;
            }
        }
    }
}

}  // namespace weft::dataplane
