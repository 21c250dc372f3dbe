// crypt.seal and crypt.open (stages.hpp, psp_stage.hpp), and the [psp] configuration.
#include <fmt/format.h>
#include <rte_mbuf.h>

#include <chrono>

#include "weft/crypt/keys.hpp"
#include "weft/dataplane/config_sections.hpp"
#include "weft/dataplane/instance.hpp"
#include "weft/dataplane/psp_stage.hpp"
#include "weft/dataplane/stages.hpp"
#include "weft/roce/locate.hpp"

namespace weft::dataplane {

namespace psp = roce::psp;

namespace {

crypt::FrameBuffer frame_of(rte_mbuf* m) {
    return {rte_pktmbuf_mtod(m, uint8_t*), m->data_len, rte_pktmbuf_headroom(m),
            rte_pktmbuf_tailroom(m)};
}

// The mbuf after a seal or open moved the frame's start and changed its length.
void set_frame(rte_mbuf* m, const crypt::FrameBuffer& f) {
    m->data_off = uint16_t(f.data - static_cast<uint8_t*>(m->buf_addr));
    m->data_len = uint16_t(f.len);
    m->pkt_len = f.len;
}

// 2024-01-01: a wall clock before it is wrong, and IVs started from it could repeat.
constexpr uint64_t kEarliestSaneClockNs = 1704067200ull * 1'000'000'000ull;

}  // namespace

PspStage::PspStage(const PspConfig& c, unsigned worker, unsigned workers, uint32_t max_frame)
    : max_frame_(max_frame), config_(c), worker_(worker), workers_(workers) {
    if (!c.enabled()) return;
    enabled_ = true;
    try {
        keys_ = std::make_shared<const crypt::MasterKeys>(crypt::load_master_keys(c.master_keys));
    } catch (const crypt::CryptError& e) {
        throw DataplaneError(fmt::format("[psp] master_keys: {}", e.what()));
    }
    sa_counters_ = std::make_unique<SaCounters[]>(2 + c.peers.size());
    for (unsigned slot : {0u, 1u}) make_receiver(slot);
    rebuild_senders(0);
}

void PspStage::SaCounters::reset(uint32_t new_spi) {
    spi.store(new_spi, std::memory_order_relaxed);
    for (auto* c : {&packets, &bytes, &auth_fail, &replay, &errors})
        c->store(0, std::memory_order_relaxed);
}

void PspStage::make_receiver(unsigned slot) {
    const uint32_t spi = psp::spi_in_generation(config_.rx_spi, slot);
    try {
        rx_[slot] = std::make_unique<crypt::RxSa>(*keys_, spi, psp::Version(config_.version));
    } catch (const crypt::CryptError& e) {
        throw DataplaneError(fmt::format("[psp]: {}", e.what()));
    }
    sa_counters_[slot].reset(spi);
}

void PspStage::rebuild_senders(uint32_t generation) {
    const uint64_t now = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    if (now < kEarliestSaneClockNs)
        throw DataplaneError(
            "[psp]: the wall clock reads before 2024; PSP IVs start from it, so it must be set");
    crypt::SealOptions o;
    o.version = psp::Version(config_.version);
    o.mode = config_.tunnel ? psp::Mode::tunnel : psp::Mode::transport;
    o.crypt_offset = config_.crypt_offset >= 0 ? uint8_t(config_.crypt_offset)
                                               : crypt::clear_udp_bth_offset(o.mode, false, false);
    std::vector<Peer> peers;
    try {
        for (const PspPeerConfig& p : config_.peers) {
            // the generation chooses the master key: bit 31 of the SPI
            const uint32_t spi = psp::spi_in_generation(p.spi, generation);
            peers.push_back(
                {p.hosts, std::make_unique<crypt::TxSa>(*keys_, spi, o, now + worker_, workers_)});
        }
    } catch (const crypt::CryptError& e) {
        throw DataplaneError(fmt::format("[psp]: {}", e.what()));
    }
    peers_ = std::move(peers);
    for (size_t i = 0; i < peers_.size(); ++i) sa_counters_[2 + i].reset(peers_[i].tx->spi());
    current_generation_ = generation;
}

void PspStage::adopt(const PspEpoch& e, CryptCounters& counters) {
    serial_ = e.serial;
    bool senders_key_replaced = false;
    const std::shared_ptr<const crypt::MasterKeys> before = keys_;
    for (unsigned slot : {0u, 1u}) {
        if (crypt::same_master_key(*e.keys, *before, slot)) continue;
        // The key this slot held is stale: its receive SA goes, and so does every send
        // SA under it.
        ++counters.stale_events;
        if ((current_generation_ & 1) == slot) {
            counters.stale_events += peers_.size();
            senders_key_replaced = true;
        }
        keys_ = e.keys;  // make_receiver derives from keys_
        make_receiver(slot);
    }
    keys_ = e.keys;
    target_generation_ = e.generation;
    send_from_ns_ = e.send_from_ns;
    // A sender never keeps a key its peers have dropped. That happens to a worker that
    // had no traffic through two rotations: it still seals in a generation whose slot
    // this state has just refilled. Until the new generation is due it seals in the one
    // before it (the other key, unchanged by this rotation and held by every peer).
    if (senders_key_replaced && PspKeyState::steady_ns() < send_from_ns_) {
        rebuild_senders(e.generation - 1);
        ++counters.key_rotations;
    }
}

void PspStage::move_senders_if_due(CryptCounters& counters) {
    if (target_generation_ != current_generation_ && PspKeyState::steady_ns() >= send_from_ns_) {
        rebuild_senders(target_generation_);
        ++counters.key_rotations;
    }
}

void PspStage::refresh(CryptCounters& counters) {
    if (!state_) return;
    // A move that came due while this worker had no traffic is made before a newer state
    // is adopted (which may replace the key the worker would otherwise still seal with).
    move_senders_if_due(counters);
    if (state_->serial() != serial_) {
        adopt(state_->epoch(), counters);
        move_senders_if_due(counters);
    }
}

void PspStage::add_sa_counters(std::vector<PspSaReading>& out) const {
    if (!enabled_) return;
    const size_t n = 2 + config_.peers.size();
    if (out.size() != n) {
        out.assign(n, {});
        for (size_t i = 0; i < n; ++i) {
            out[i].receive = i < 2;
            if (i >= 2) out[i].peer = config_.peers[i - 2].name;
        }
    }
    for (size_t i = 0; i < n; ++i) {
        const SaCounters& c = sa_counters_[i];
        PspSaReading& r = out[i];
        r.spi = c.spi.load(std::memory_order_relaxed);
        r.packets += c.packets.load(std::memory_order_relaxed);
        r.bytes += c.bytes.load(std::memory_order_relaxed);
        r.auth_fail += c.auth_fail.load(std::memory_order_relaxed);
        r.replay += c.replay.load(std::memory_order_relaxed);
        r.errors += c.errors.load(std::memory_order_relaxed);
    }
}

crypt::RxSa* PspStage::find_rx(uint32_t spi, uint8_t, void* self) {
    auto* stage = static_cast<PspStage*>(self);
    for (auto& sa : stage->rx_)
        if (sa && sa->spi() == spi) return sa.get();
    return nullptr;
}

void PspStage::seal(Burst& b, CryptCounters& counters) {
    refresh(counters);
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce()) continue;
        size_t peer_index = 0;
        Peer* peer = nullptr;
        for (size_t i = 0; i < peers_.size(); ++i)
            if (config_.peers[i].protects(s.packet.src, s.packet.dst)) {
                peer = &peers_[i];
                peer_index = i;
                break;
            }
        if (!peer) continue;  // not a protected pair: sent as it is
        SaCounters& sa = sa_counters_[2 + peer_index];
        const uint32_t bytes = s.mbuf->pkt_len;
        crypt::FrameBuffer f = frame_of(s.mbuf);
        if (s.mbuf->nb_segs != 1 || peer->tx->seal(f) != crypt::SealStatus::sealed) {
            ++counters.tx_error;  // never sent in the clear to a protected host
            SaCounters::add(sa.errors, 1);
            s.dropped = true;
            continue;
        }
        if (max_frame_ && f.len > max_frame_) {
            ++counters.tx_too_big;  // fragmenting would break RoCE; the host must send less
            SaCounters::add(sa.errors, 1);
            s.dropped = true;
            continue;
        }
        set_frame(s.mbuf, f);
        s.sealed = true;
        ++counters.tx_packets;
        counters.tx_bytes += bytes;
        SaCounters::add(sa.packets, 1);
        SaCounters::add(sa.bytes, bytes);
    }
}

void PspStage::open(Burst& b, CryptCounters& counters) {
    refresh(counters);
    for (PacketState& s : b.frames()) {
        if (s.dropped) continue;
        rte_mbuf* m = s.mbuf;
        const roce::Located l =
            roce::locate({rte_pktmbuf_mtod(m, const uint8_t*), size_t(m->data_len)});
        if (!roce::is_psp(l)) continue;  // plaintext: judged below, after account
        if (m->nb_segs != 1) {
            ++counters.rx_error;  // a driver that scatters frames: not one Weft opens
            s.dropped = true;
            continue;
        }
        crypt::FrameBuffer f = frame_of(m);
        psp::Header header{};
        const crypt::OpenStatus status = crypt::open(f, &PspStage::find_rx, this, &header);
        // the SA the header named, when it is one of ours (its slot: bit 31)
        SaCounters* sa = nullptr;
        if (status != crypt::OpenStatus::unknown_spi && status != crypt::OpenStatus::malformed &&
            status != crypt::OpenStatus::not_psp)
            sa = &sa_counters_[(header.spi & psp::kSpiKeySelector) ? 1 : 0];
        switch (status) {
            case crypt::OpenStatus::opened:
                set_frame(m, f);
                s.opened = true;
                ++counters.rx_packets;
                counters.rx_bytes += f.len;
                SaCounters::add(sa->packets, 1);
                SaCounters::add(sa->bytes, f.len);
                continue;
            case crypt::OpenStatus::not_psp:
                continue;
            case crypt::OpenStatus::unknown_spi:
                ++counters.rx_unknown_spi;
                break;
            case crypt::OpenStatus::auth_failed:
                ++counters.rx_auth_fail;
                SaCounters::add(sa->auth_fail, 1);
                break;
            case crypt::OpenStatus::replayed:
            case crypt::OpenStatus::too_old:
                ++counters.rx_replay;
                SaCounters::add(sa->replay, 1);
                break;
            case crypt::OpenStatus::malformed:
            case crypt::OpenStatus::wrong_version:
                ++counters.rx_bad;
                if (sa) SaCounters::add(sa->errors, 1);
                break;
            case crypt::OpenStatus::bad_inner:
                ++counters.rx_error;  // authenticated, but not a packet Weft can deliver
                SaCounters::add(sa->errors, 1);
                break;
        }
        s.dropped = true;
    }
}

void crypt_seal(Burst& b, PspStage& psp, CryptCounters& counters) {
    if (psp.enabled()) psp.seal(b, counters);
}

void crypt_open(Burst& b, PspStage& psp, CryptCounters& counters) {
    if (psp.enabled()) {
        psp.open(b, counters);
        return;
    }
    // No security association configured: every PSP frame has an unknown SPI; it is
    // dropped and counted, never forwarded unopened.
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

void drop_plaintext_from_peers(Burst& b, const PspConfig& config, CryptCounters& counters) {
    for (PacketState& s : b.frames()) {
        if (s.dropped || !s.is_roce() || s.opened) continue;
        for (const PspPeerConfig& p : config.peers)
            if (p.protects(s.packet.dst, s.packet.src)) {
                ++counters.rx_plaintext_dropped;
                s.dropped = true;
                break;
            }
    }
}

void parse_psp_section(const toml::node& node, Config& c, config::Problems& problems) {
    const toml::table* t = config::as_table(node, "psp", problems);
    if (!t) return;
    static constexpr std::string_view kKeys[] = {
        "master_keys",          "rx_spi", "version", "mode", "crypt_offset", "rotate_interval_s",
        "rotate_send_delay_ms", "peers"};
    config::refuse_unknown_keys(*t, "psp", kKeys, problems);
    // A [psp] section without keys would leave everything in the clear without a word.
    if (!config::read_string(*t, "psp", "master_keys", c.psp.master_keys, problems) ||
        c.psp.master_keys.empty())
        problems.add("psp.master_keys",
                     "is required with [psp]: the file of the two master keys (without it "
                     "nothing would be encrypted)");
    uint32_t spi = 0;
    const bool has_rx_spi = t->contains("rx_spi");
    if (config::read_uint(*t, "psp", "rx_spi", 1u, 0xffffffffu, spi, problems)) {
        if (spi & psp::kSpiKeySelector)
            problems.add("psp.rx_spi",
                         "bit 31 must be clear: it names the key generation, which weftd sets");
        else if (spi == 0)
            problems.add("psp.rx_spi", "its low 31 bits must not be 0");
        c.psp.rx_spi = spi;
    }
    uint32_t version = 0;
    if (config::read_uint(*t, "psp", "version", 0u, 1u, version, problems))
        c.psp.version = uint8_t(version);
    std::string mode;
    if (config::read_string(*t, "psp", "mode", mode, problems)) {
        if (mode != "transport" && mode != "tunnel")
            problems.add("psp.mode", "must be \"transport\" or \"tunnel\"");
        c.psp.tunnel = mode == "tunnel";
    }
    uint32_t offset = 0;
    if (config::read_uint(*t, "psp", "crypt_offset", 0u, 63u, offset, problems))
        c.psp.crypt_offset = int(offset);
    // a day is the longest a key should live by default policy; 30 days the longest allowed
    config::read_uint(*t, "psp", "rotate_interval_s", 0u, 30u * 86400u, c.psp.rotate_interval_s,
                      problems);
    if (c.psp.rotate_interval_s && c.psp.rotate_interval_s < 10)
        problems.add("psp.rotate_interval_s", "must be 0 (no timer) or at least 10 seconds");
    config::read_uint(*t, "psp", "rotate_send_delay_ms", 0u, 600'000u, c.psp.rotate_send_delay_ms,
                      problems);
    if (c.psp.rotate_interval_s >= 10 &&
        uint64_t(c.psp.rotate_send_delay_ms) * 2 > uint64_t(c.psp.rotate_interval_s) * 1000)
        problems.add("psp.rotate_send_delay_ms",
                     fmt::format("must be at most half of rotate_interval_s ({} ms): senders "
                                 "must have moved before the next rotation",
                                 uint64_t(c.psp.rotate_interval_s) * 500));
    if (const toml::node* peers = t->get("peers")) {
        const toml::array* arr = peers->as_array();
        if (!arr) {
            problems.add("psp.peers", "must be an array of tables ([[psp.peers]])");
            return;
        }
        if (arr->size() > kMaxPspPeers)
            problems.add("psp.peers",
                         fmt::format("at most {} peers (there are {})", kMaxPspPeers, arr->size()));
        size_t i = 0;
        static constexpr std::string_view kPeerKeys[] = {"name", "hosts", "local_hosts", "spi"};
        for (const toml::node& item : *arr) {
            const std::string key = fmt::format("psp.peers[{}]", i++);
            const toml::table* p = item.as_table();
            if (!p) {
                problems.add(key, "must be a table");
                continue;
            }
            config::refuse_unknown_keys(*p, key, kPeerKeys, problems);
            PspPeerConfig peer;
            config::read_string(*p, key, "name", peer.name, problems);
            const bool has_spi = p->contains("spi");
            if (config::read_uint(*p, key, "spi", 1u, 0xffffffffu, peer.spi, problems)) {
                if (peer.spi & psp::kSpiKeySelector)
                    problems.add(key + ".spi",
                                 "bit 31 must be clear: it names the key "
                                 "generation, which weftd sets");
                else if (peer.spi == 0)
                    problems.add(key + ".spi", "its low 31 bits must not be 0");
            }
            if (!has_spi) problems.add(key + ".spi", "is required (the peer's rx_spi)");
            if (!read_prefixes(*p, key, "hosts", peer.hosts, problems))
                problems.add(key + ".hosts",
                             "is required: the addresses or prefixes behind the peer");
            read_prefixes(*p, key, "local_hosts", peer.local_hosts, problems);
            c.psp.peers.push_back(std::move(peer));
        }
    }
    if (!has_rx_spi) problems.add("psp.rx_spi", "is required with [psp]: this weftd's receive SPI");
    // Two SAs under one key would seal with clock-started IVs that can meet; two peers
    // claiming one host would make which one seals for it a matter of order.
    for (size_t i = 0; i < c.psp.peers.size(); ++i) {
        const PspPeerConfig& p = c.psp.peers[i];
        const std::string key = fmt::format("psp.peers[{}]", i);
        if (p.spi && p.spi == c.psp.rx_spi)
            problems.add(key + ".spi",
                         "is this weftd's own rx_spi: every weftd needs an SPI of its own");
        for (size_t j = 0; j < i; ++j) {
            const PspPeerConfig& q = c.psp.peers[j];
            if (!p.name.empty() && p.name == q.name)
                problems.add(key + ".name", fmt::format("'{}' names psp.peers[{}] too", p.name, j));
            if (p.spi && p.spi == q.spi)
                problems.add(key + ".spi", fmt::format("{:#x} is psp.peers[{}]'s too", p.spi, j));
            for (const roce::IpPrefix& a : p.hosts)
                for (const roce::IpPrefix& b : q.hosts)
                    if (a.contains(b.base) || b.contains(a.base))
                        problems.add(key + ".hosts",
                                     fmt::format("{} overlaps psp.peers[{}]'s {}: a host is "
                                                 "behind one peer",
                                                 a.to_string(), j, b.to_string()));
        }
    }
}

}  // namespace weft::dataplane
