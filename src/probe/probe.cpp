#include "weft/probe/probe.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>
#include <utility>

#include "weft_probe.skel.h"

namespace weft::probe {

namespace {

// Our filters' handle and priority on every interface: fixed, so a restarted probe
// finds (and replaces) what a crashed one left.
constexpr uint32_t kHandle = 0x5746;  // "WF"
constexpr uint32_t kPriority = 0xc0de;

std::string libbpf_error(int err) {
    char buf[128];
    libbpf_strerror(err, buf, sizeof buf);
    return buf;
}

// libbpf's own messages: warnings to stderr with our prefix, except the kernel's reply to
// creating a clsact qdisc that exists ("Exclusivity flag on"), which attach() expects
// (-EEXIST) and handles: printed on every restart, it read like a failure.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG) return 0;
    char text[1024];
    std::vsnprintf(text, sizeof text, format, args);
    if (std::strstr(text, "Exclusivity flag on")) return 0;
    return std::fprintf(stderr, "weft-probe: libbpf: %s", text);
}

// Where the interface locks live: beside the alert socket, root's only.
constexpr const char* kLockDir = "/run/weft/probe";

}  // namespace

// One weft-probe per interface. Two would share the TC filters (same handle and priority,
// so a restarted probe can replace what a crashed one left): the second would silently
// take them over and, on exit, remove them under the first. An exclusive flock on a file
// named after the network namespace and interface index says whether another live
// probe has it; the kernel drops the lock when a probe dies, so a restart after a crash
// finds it free.
Probe::InterfaceLock::InterfaceLock(const std::string& iface, int ifindex) {
    struct stat ns;
    if (::stat("/proc/self/ns/net", &ns) != 0)
        throw ProbeError(fmt::format("{}: cannot identify the network namespace: {}", iface,
                                     std::strerror(errno)));
    for (const char* dir : {"/run/weft", kLockDir})
        if (::mkdir(dir, 0700) != 0 && errno != EEXIST)
            throw ProbeError(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
    path_ = fmt::format("{}/netns-{}-if-{}.lock", kLockDir, uint64_t(ns.st_ino), ifindex);
    for (int attempt = 0; attempt < 10; ++attempt) {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd_ < 0)
            throw ProbeError(fmt::format("{}: cannot open the interface lock {}: {}", iface, path_,
                                         std::strerror(errno)));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            char pid[32] = {};
            [[maybe_unused]] ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
            ::close(fd_);
            fd_ = -1;
            if (e == EWOULDBLOCK)
                throw ProbeError(fmt::format(
                    "{}: already watched by another weft-probe (pid {}); stop it first, or "
                    "watch another interface",
                    iface, std::string(pid).substr(0, std::string(pid).find('\n'))));
            throw ProbeError(fmt::format("{}: cannot lock {}: {}", iface, path_, std::strerror(e)));
        }
        // The holder before us may have removed the file after we opened it (it removes
        // it on exit, under the lock): then we hold a lock on a file nobody else will
        // open, and must start again on the one at the path now.
        struct stat held, now;
        if (::fstat(fd_, &held) == 0 && ::lstat(path_.c_str(), &now) == 0 &&
            held.st_ino == now.st_ino && held.st_dev == now.st_dev)
            break;
        ::close(fd_);
        fd_ = -1;
    }
    if (fd_ < 0)
        throw ProbeError(fmt::format("{}: cannot take the interface lock {}", iface, path_));
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size()))
        throw ProbeError(
            fmt::format("{}: cannot write {}: {}", iface, path_, std::strerror(errno)));
}

Probe::InterfaceLock::~InterfaceLock() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // still holding the lock: see the constructor's check
    ::close(fd_);
}

const char* counter_name(weft_probe_counter c) {
    static const char* const names[WP_COUNTER_COUNT] = {"packets",
                                                        "roce",
                                                        "tcp",
                                                        "udp",
                                                        "other",
                                                        "malformed",
                                                        "malformed_ip_length",
                                                        "malformed_udp_length",
                                                        "malformed_truncated",
                                                        "malformed_version",
                                                        "malformed_opcode",
                                                        "malformed_length",
                                                        "qp_map_full",
                                                        "peer_map_full",
                                                        "ringbuf_drops",
                                                        "psn_out_of_window"};
    return c < WP_COUNTER_COUNT ? names[c] : "?";
}

nlohmann::json counters_to_json(const Counters& c, const std::vector<QpCounters>& qps,
                                const std::vector<PeerCounters>& peers,
                                const std::map<uint32_t, std::string>& interface_names) {
    auto name = [&](uint32_t ifindex) {
        auto it = interface_names.find(ifindex);
        return it == interface_names.end() ? std::string() : it->second;
    };
    static const char* const kClass[WP_OP_CLASS_COUNT] = {
        "invalid", "send",   "write",      "read_request", "read_response",
        "ack",     "atomic", "atomic_ack", "cnp",          "other"};
    nlohmann::json doc = {{"schema", "weft.probe-counters/1"}};
    for (size_t i = 0; i < WP_COUNTER_COUNT; ++i)
        doc["counters"][counter_name(weft_probe_counter(i))] = c[i];
    doc["qps"] = nlohmann::json::array();
    for (const auto& q : qps) {
        nlohmann::json classes;
        for (size_t k = 0; k < WP_OP_CLASS_COUNT; ++k) classes[kClass[k]] = q.stats.op_class[k];
        doc["qps"].push_back(
            {{"src", q.src.to_string()},
             {"dst", q.dst.to_string()},
             {"dqpn", q.dest_qp},
             {"interface", name(q.ifindex)},
             {"packets", q.stats.packets},
             {"bytes", q.stats.bytes},
             {"op_classes", classes},
             {"naks", q.stats.ack_kind[1] + q.stats.ack_kind[2] + q.stats.ack_kind[3] +
                          q.stats.ack_kind[4] + q.stats.ack_kind[5] + q.stats.ack_kind[6]},
             {"ecn_ce", q.stats.ecn_ce},
             {"psn_out_of_window", q.stats.psn_out_of_window}});
    }
    doc["peers"] = nlohmann::json::array();
    for (const auto& p : peers)
        doc["peers"].push_back({{"src", p.src.to_string()},
                                {"dst", p.dst.to_string()},
                                {"interface", name(p.ifindex)},
                                {"roce_packets", p.roce_packets},
                                {"tcp_packets", p.stats.tcp_packets},
                                {"udp_packets", p.stats.udp_packets}});
    return doc;
}

Probe::Probe() {
    libbpf_set_print(libbpf_print);
    skel_ = weft_probe__open();
    if (!skel_)
        throw ProbeError(fmt::format("cannot open the BPF programs: {}", std::strerror(errno)));
    // the QP tables' hash seed: random per load, so slot positions cannot be aimed at
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != ssize_t(sizeof seed))
        seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) *
               0x9e3779b97f4a7c15ull;
    skel_->rodata->weft_hash_seed = seed;
    if (int rc = weft_probe__load(skel_); rc != 0) {
        weft_probe__destroy(skel_);
        throw ProbeError(
            fmt::format("cannot load the BPF programs: {} (root, or CAP_BPF and "
                        "CAP_NET_ADMIN, is needed)",
                        libbpf_error(rc)));
    }
    try {
        qps4_ = MappedTable(bpf_map__fd(skel_->maps.weft_qps4),
                            sizeof(weft_qp_slot4) * WEFT_PROBE_QP_SLOTS4);
        qps6_ = MappedTable(bpf_map__fd(skel_->maps.weft_qps6),
                            sizeof(weft_qp_slot6) * WEFT_PROBE_QP_SLOTS6);
    } catch (...) {
        weft_probe__destroy(skel_);
        throw;
    }
    ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.weft_events), &Probe::ring_callback, this,
                             nullptr);
    if (!ring_) {
        weft_probe__destroy(skel_);
        throw ProbeError(
            fmt::format("cannot open the event ring buffer: {}", std::strerror(errno)));
    }
}

Probe::~Probe() {
    detach_all();
    ring_buffer__free(ring_);
    qps4_ = MappedTable();
    qps6_ = MappedTable();
    weft_probe__destroy(skel_);
}

Probe::MappedTable::MappedTable(int fd, size_t bytes) {
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    size_ = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        throw ProbeError(fmt::format("cannot map a QP table: {}", std::strerror(errno)));
    data_ = p;
}

Probe::MappedTable& Probe::MappedTable::operator=(MappedTable&& o) noexcept {
    if (this != &o) {
        if (data_) munmap(data_, size_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

Probe::MappedTable::~MappedTable() {
    if (data_) munmap(data_, size_);
}

void Probe::attach(const std::string& iface) {
    int ifindex = int(if_nametoindex(iface.c_str()));
    if (ifindex == 0) throw ProbeError(fmt::format("{}: no such interface", iface));
    for (int i : ifindexes_)
        if (i == ifindex) throw ProbeError(fmt::format("{}: given twice", iface));
    auto lock = std::make_unique<InterfaceLock>(iface, ifindex);
    bpf_tc_hook hook{};
    hook.sz = sizeof hook;
    hook.ifindex = ifindex;
    hook.attach_point = BPF_TC_INGRESS;
    int rc = bpf_tc_hook_create(&hook);  // the clsact qdisc (both directions)
    bool created = rc == 0;
    if (rc != 0 && rc != -EEXIST)
        throw ProbeError(
            fmt::format("{}: cannot add the clsact qdisc: {}", iface, libbpf_error(rc)));
    for (auto [point, prog] : {std::pair{BPF_TC_INGRESS, skel_->progs.weft_ingress},
                               std::pair{BPF_TC_EGRESS, skel_->progs.weft_egress}}) {
        hook.attach_point = point;
        bpf_tc_opts opts{};
        opts.sz = sizeof opts;
        opts.handle = kHandle;
        opts.priority = kPriority;
        opts.prog_fd = bpf_program__fd(prog);
        opts.flags = BPF_TC_F_REPLACE;
        if (int r = bpf_tc_attach(&hook, &opts); r != 0)
            throw ProbeError(fmt::format("{}: cannot attach the {} program: {}", iface,
                                         point == BPF_TC_INGRESS ? "ingress" : "egress",
                                         libbpf_error(r)));
    }
    interfaces_.push_back(iface);
    ifindexes_.push_back(ifindex);
    created_qdisc_.push_back(created);
    locks_.push_back(std::move(lock));
}

void Probe::detach_all() {
    for (size_t i = 0; i < ifindexes_.size(); ++i) {
        bpf_tc_hook hook{};
        hook.sz = sizeof hook;
        hook.ifindex = ifindexes_[i];
        for (auto point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
            hook.attach_point = point;
            bpf_tc_opts opts{};
            opts.sz = sizeof opts;
            opts.handle = kHandle;
            opts.priority = kPriority;
            bpf_tc_detach(&hook, &opts);  // gone already (interface deleted): nothing to do
        }
        if (created_qdisc_[i]) {
            // the clsact qdisc was ours: remove it too (both hooks at once)
            hook.attach_point = bpf_tc_attach_point(BPF_TC_INGRESS | BPF_TC_EGRESS);
            bpf_tc_hook_destroy(&hook);
        }
    }
    interfaces_.clear();
    ifindexes_.clear();
    created_qdisc_.clear();
    locks_.clear();  // after the filters are gone: the next probe may take over
}

Counters Probe::counters() const {
    Counters out{};
    int fd = bpf_map__fd(skel_->maps.weft_counters);
    int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(size_t(cpus > 0 ? cpus : 1));
    for (uint32_t k = 0; k < WP_COUNTER_COUNT; ++k) {
        if (bpf_map_lookup_elem(fd, &k, per_cpu.data()) != 0) continue;
        for (uint64_t v : per_cpu) out[k] += v;
    }
    // the kernel counts each packet once, in its class; the total is their sum
    out[WP_PACKETS] = out[WP_ROCE] + out[WP_TCP] + out[WP_UDP] + out[WP_OTHER] + out[WP_MALFORMED];
    return out;
}

namespace {

// Every (key, value) of a hash map, through `f`; entries removed meanwhile are skipped.
template <class Key, class Value, class F>
void for_each_entry(int fd, F&& f) {
    Key key{}, next{};
    void* cursor = nullptr;
    while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
        key = next;
        cursor = &key;
        Value v{};
        if (bpf_map_lookup_elem(fd, &key, &v) == 0) f(key, v);
    }
}

}  // namespace

namespace {

roce::IpAddress address(const __be32& a) {
    return roce::IpAddress::from_v4(reinterpret_cast<const uint8_t*>(&a));
}

roce::IpAddress address(const __u8 (&a)[16]) {
    return roce::IpAddress::from_v6(a);
}

}  // namespace

namespace {

// Every ready slot of a QP table, read in place while the kernel updates it: word by word
// (each counter is one aligned word the kernel adds to atomically), after the state word.
template <class Slot, class F>
void for_each_slot(const void* table, size_t slots, F&& f) {
    static_assert(sizeof(Slot) % 8 == 0 && offsetof(Slot, state) == 0);
    const auto* words = static_cast<const uint64_t*>(table);
    constexpr size_t kWords = sizeof(Slot) / 8;
    for (size_t i = 0; i < slots; ++i) {
        const uint64_t* w = words + i * kWords;
        uint64_t state = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if ((state & WP_SLOT_FLAGS) != WP_SLOT_READY) continue;
        Slot copy;
        auto* out = reinterpret_cast<uint64_t*>(&copy);
        for (size_t j = 0; j < kWords; ++j) out[j] = __atomic_load_n(w + j, __ATOMIC_RELAXED);
        f(copy.key, copy.stats);
    }
}

}  // namespace

// IPv4 and IPv6 flows live in tables of their own (smaller keys for IPv4); callers see one list.
std::vector<QpCounters> Probe::qps() const {
    std::vector<QpCounters> out;
    read_qps(out);
    return out;
}

void Probe::read_qps(std::vector<QpCounters>& out) const {
    out.clear();
    auto add = [&](const auto& k, const weft_qp_stats& v) {
        out.push_back({address(k.src), address(k.dst), k.dest_qp, k.ifindex, v});
    };
    for_each_slot<weft_qp_slot4>(qps4_.data(), WEFT_PROBE_QP_SLOTS4, add);
    for_each_slot<weft_qp_slot6>(qps6_.data(), WEFT_PROBE_QP_SLOTS6, add);
}

std::vector<PeerCounters> Probe::peers() const {
    return peers(qps());
}

std::vector<PeerCounters> Probe::peers(const std::vector<QpCounters>& qps) const {
    std::vector<PeerCounters> out;
    auto add = [&](const auto& k, const weft_peer_stats& v) {
        out.push_back({address(k.src), address(k.dst), k.ifindex, v});
    };
    for_each_entry<weft_peer_key4, weft_peer_stats>(bpf_map__fd(skel_->maps.weft_peers4), add);
    for_each_entry<weft_peer_key6, weft_peer_stats>(bpf_map__fd(skel_->maps.weft_peers6), add);
    // RoCE per pair: the sum of its QPs (the kernel side keeps it once, per QP), through
    // an index of the pairs rather than a scan of them per QP (maps of 16 K pairs, 64 K QPs)
    std::map<std::tuple<roce::IpAddress, roce::IpAddress, uint32_t>, size_t> index;
    for (size_t i = 0; i < out.size(); ++i) index[{out[i].src, out[i].dst, out[i].ifindex}] = i;
    for (const QpCounters& q : qps) {
        auto it = index.find({q.src, q.dst, q.ifindex});
        if (it == index.end()) continue;
        out[it->second].roce_packets += q.stats.packets;
        out[it->second].roce_bytes += q.stats.bytes;
    }
    return out;
}

int Probe::ring_callback(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Probe*>(ctx);
    if (size < sizeof(weft_probe_event) || !self->on_event_) return 0;
    weft_probe_event e;
    std::memcpy(&e, data, sizeof e);
    self->on_event_(e);
    return 0;
}

int Probe::poll_events(const std::function<void(const weft_probe_event&)>& on_event,
                       int timeout_ms) {
    on_event_ = on_event;
    int n = ring_buffer__poll(ring_, timeout_ms);
    on_event_ = nullptr;
    return n < 0 && n != -EINTR ? throw ProbeError(fmt::format("ring buffer: {}", libbpf_error(n)))
                                : (n < 0 ? 0 : n);
}

int Probe::ingress_fd() const {
    return bpf_program__fd(skel_->progs.weft_ingress);
}

int Probe::egress_fd() const {
    return bpf_program__fd(skel_->progs.weft_egress);
}

}  // namespace weft::probe
