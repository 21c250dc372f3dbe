// What the stages of weftd's pipeline (pipeline.hpp) hand each other: one burst of frames
// from one port, so one direction, and per frame what the stages so far have learnt of
// it. Each stage is a loop over the burst (in the spirit of DPDK ipsec-secgw's stages
// over arrays); a frame a stage drops is marked, counted by that stage, skipped by the
// stages after it and freed by tx.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "weft/balance/path.hpp"
#include "weft/classify/classifier.hpp"
#include "weft/flow/record.hpp"
#include "weft/roce/packet.hpp"

struct rte_mbuf;

namespace weft::dataplane {

inline constexpr uint16_t kBurst = 32;

enum class Direction : uint8_t {
    host_to_fabric,  // inline, from the host port
    fabric_to_host,  // inline, from a fabric port
    passive,         // mirror ports and captures: accounted, never forwarded
};

// A port index that names no port (a path without a host port, say).
inline constexpr uint16_t kNoPort = 0xffff;

struct PacketState {
    // The frame. It is in one mbuf segment unless mbuf->nb_segs > 1: account then parses a
    // copy of it (so `packet.frame` is that copy, not the mbuf's bytes), and a stage that
    // rewrites bytes must handle segments or refuse the frame with a counter of its own.
    rte_mbuf* mbuf = nullptr;
    uint64_t timestamp_ns = 0;  // the port's RX timestamp, else the burst's arrival time
    // Set by account.
    roce::Packet packet;  // the parsed view
    roce::Verdict verdict = roce::Verdict::NotRoce;
    bool icrc_ok = true;             // true when not checked
    bool flow_created = false;       // this packet created its flow (reset side state)
    uint32_t flow = flow::kNoIndex;  // the flow's index in the worker's table (RoCE only)
    uint64_t prev_last_ns = 0;       // the flow's last-seen time before this packet (0: new)
    // Set by classify (host -> fabric).
    classify::TrafficClass traffic_class = classify::TrafficClass::unknown;
    // Set by balance.decide (host -> fabric, RoCE), written by balance.apply.
    balance::PathChoice path{};
    uint8_t mark_dscp = 0xff;  // the DSCP its class marks with (0xff: none)
    // Index into the worker's ports of where tx sends the frame (inline mode). Set to the
    // direction's destination when the burst starts; balance.decide redirects RoCE.
    uint16_t out_port = kNoPort;
    // A stage refused the frame (and counted why): later stages skip it, tx frees it.
    bool dropped = false;
    // crypt.seal encapsulated it: `packet` describes the inner frame, no longer the bytes
    // (balance.apply leaves the inner ports alone; the outer source port is not
    // authenticated and is the balancer's to rewrite).
    bool sealed = false;
    // crypt.open authenticated and decrypted it (fabric -> host): it came from a PSP peer
    bool opened = false;
    // A stage took the frame over (reorder holds it, or already queued it for TX in PSN
    // order): tx neither sends nor frees it.
    bool consumed = false;

    bool is_roce() const { return verdict == roce::Verdict::Ok; }
};

struct Burst {
    Direction direction = Direction::passive;
    uint16_t in_port = 0;  // index into the worker's ports
    uint16_t size = 0;
    uint64_t now_ns = 0;  // when the burst was taken from the port (TSC)
    std::array<PacketState, kBurst> packets;

    std::span<PacketState> frames() { return {packets.data(), size}; }
};

}  // namespace weft::dataplane
