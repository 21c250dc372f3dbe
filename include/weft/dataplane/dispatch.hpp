// Software dispatch for ports with fewer RX queues than workers (net_pcap, single-queue
// vdevs, NICs without RSS): the worker that polls such a queue hashes each frame to the
// worker that owns its flow and hands it over through that worker's inbox ring, so one
// QP's direction is always tracked by one worker, as RSS would arrange.
#pragma once

#include <cstdint>
#include <span>

namespace weft::dataplane {

// The owner key of a frame, read with bounds checks only (no full parse): for RoCEv2,
// (source IP, destination IP, destination QP), the flow table's key, so a flow stays on
// one worker even if its UDP source port changes; for other TCP/UDP, the 5-tuple; other
// IP, the address pair; anything else (ARP, truncated frames), 0.
uint64_t dispatch_hash(std::span<const uint8_t> frame);

}  // namespace weft::dataplane
