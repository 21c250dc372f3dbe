// Classification by configured rules (DPDK-free): first match wins, every set field must
// match, nothing matching is `unknown`.
#include <gtest/gtest.h>

#include "weft/classify/rules.hpp"

namespace {

using namespace weft;
using classify::ClassRule;
using classify::RuleClassifier;
using classify::TrafficClass;

roce::Packet packet(const char* src, const char* dst, uint32_t qp, uint8_t dscp = 0) {
    roce::Packet p;
    p.src = *roce::IpAddress::parse(src);
    p.dst = *roce::IpAddress::parse(dst);
    p.src_port = 0xC123;
    p.dst_port = 4791;
    p.bth.dest_qp = qp;
    p.dscp = dscp;
    return p;
}

TEST(RuleClassifier, FirstMatchWinsAndEverySetFieldMustMatch) {
    ClassRule inference;
    inference.traffic_class = TrafficClass::inference;
    inference.dscp = 26;
    ClassRule gradient;
    gradient.traffic_class = TrafficClass::gradient;
    gradient.destinations = {*roce::IpPrefix::parse("10.1.0.0/16")};
    gradient.dest_qp_min = 0x100;
    gradient.dest_qp_max = 0x1ff;
    const RuleClassifier c({inference, gradient});
    EXPECT_EQ(c.classify(packet("10.0.0.1", "10.1.2.3", 0x150, 26)), TrafficClass::inference);
    EXPECT_EQ(c.classify(packet("10.0.0.1", "10.1.2.3", 0x150)), TrafficClass::gradient);
    EXPECT_EQ(c.classify(packet("10.0.0.1", "10.1.2.3", 0x200)), TrafficClass::unknown);  // QP
    EXPECT_EQ(c.classify(packet("10.0.0.1", "10.2.2.3", 0x150)), TrafficClass::unknown);  // dst
    EXPECT_EQ(c.classify(packet("fd00::1", "fd00::2", 0x150)), TrafficClass::unknown);
}

TEST(RuleClassifier, SourcePortRangesAndSourcePrefixes) {
    ClassRule control;
    control.traffic_class = TrafficClass::control;
    control.sources = {*roce::IpPrefix::parse("fd00::/64")};
    control.src_port_min = 0xC100;
    control.src_port_max = 0xC1FF;
    const RuleClassifier c({control});
    EXPECT_EQ(c.classify(packet("fd00::1", "fd00::2", 1)), TrafficClass::control);
    roce::Packet other = packet("fd00::1", "fd00::2", 1);
    other.src_port = 0xC200;
    EXPECT_EQ(c.classify(other), TrafficClass::unknown);
}

TEST(RuleClassifier, ClassesByName) {
    EXPECT_EQ(classify::traffic_class_named("inference"), TrafficClass::inference);
    EXPECT_EQ(classify::traffic_class_named("gradient"), TrafficClass::gradient);
    EXPECT_FALSE(classify::traffic_class_named("bulk").has_value());
}

}  // namespace
