// weft-probe's loader: opens and loads the TC programs (ebpf/weft_probe.bpf.c, through
// its libbpf skeleton), attaches them to interfaces (clsact ingress and egress), and
// reads what they keep: global counters, per-QP and per-peer-pair counters, and the ring
// buffer of events. One Probe per process; destroying it detaches every filter it added.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/probe/abi.h"
#include "weft/roce/ip_address.hpp"

struct weft_probe;
struct ring_buffer;

namespace weft::probe {

struct ProbeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct QpCounters {
    roce::IpAddress src, dst;
    uint32_t dest_qp = 0;
    uint32_t ifindex = 0;
    weft_qp_stats stats{};
};

struct PeerCounters {
    roce::IpAddress src, dst;
    uint32_t ifindex = 0;
    weft_peer_stats stats{};    // TCP and UDP, from the kernel
    uint64_t roce_packets = 0;  // the sum of the pair's QPs
    uint64_t roce_bytes = 0;
};

using Counters = std::array<uint64_t, WP_COUNTER_COUNT>;
const char* counter_name(weft_probe_counter c);  // "malformed_opcode", ...
// weft-probe's --counters-json document (schema weft.probe-counters/1): the global
// counters by name, every QP flow and every peer pair, with interfaces by name.
nlohmann::json counters_to_json(const Counters& c, const std::vector<QpCounters>& qps,
                                const std::vector<PeerCounters>& peers,
                                const std::map<uint32_t, std::string>& interface_names);

class Probe {
  public:
    // Loads the programs and maps into the kernel. Throws ProbeError with the reason.
    Probe();
    ~Probe();
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;

    // Attaches to `iface` on ingress and egress. A filter left on it by an earlier
    // weft-probe that died is replaced, not duplicated.
    void attach(const std::string& iface);
    void detach_all();
    const std::vector<std::string>& interfaces() const { return interfaces_; }

    Counters counters() const;  // summed over CPUs
    std::vector<QpCounters> qps() const;
    // The same into `out` (cleared first), reusing its memory: a periodic reader that keeps
    // one vector saves allocating and faulting in tens of MB per read at 64 K flows.
    void read_qps(std::vector<QpCounters>& out) const;
    std::vector<PeerCounters> peers() const;
    // The same, with RoCE per pair summed from `qps` (a read of the QP tables already made).
    std::vector<PeerCounters> peers(const std::vector<QpCounters>& qps) const;
    // Hands each pending event to `on_event`, waiting up to `timeout_ms` for the first.
    // Returns how many were consumed.
    int poll_events(const std::function<void(const weft_probe_event&)>& on_event, int timeout_ms);

    // Program file descriptors, for BPF_PROG_TEST_RUN.
    int ingress_fd() const;
    int egress_fd() const;

  private:
    // A BPF_F_MMAPABLE QP table, mapped read-only for the life of the Probe.
    class MappedTable {
      public:
        MappedTable() = default;
        MappedTable(int fd, size_t bytes);
        MappedTable(MappedTable&& o) noexcept { *this = std::move(o); }
        MappedTable& operator=(MappedTable&& o) noexcept;
        ~MappedTable();
        const void* data() const { return data_; }

      private:
        void* data_ = nullptr;
        size_t size_ = 0;
    };

    weft_probe* skel_ = nullptr;
    MappedTable qps4_, qps6_;
    ::ring_buffer* ring_ = nullptr;
    std::function<void(const weft_probe_event&)> on_event_;
    std::vector<std::string> interfaces_;
    std::vector<int> ifindexes_;
    std::vector<bool> created_qdisc_;
    // Held while attached to an interface: one probe per interface (probe.cpp).
    class InterfaceLock {
      public:
        InterfaceLock(const std::string& iface, int ifindex);  // throws ProbeError
        ~InterfaceLock();
        InterfaceLock(const InterfaceLock&) = delete;
        InterfaceLock& operator=(const InterfaceLock&) = delete;

      private:
        std::string path_;
        int fd_ = -1;
    };
    std::vector<std::unique_ptr<InterfaceLock>> locks_;
    static int ring_callback(void* ctx, void* data, size_t size);
};

}  // namespace weft::probe
