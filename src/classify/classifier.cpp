#include "weft/classify/classifier.hpp"

namespace weft::classify {

std::string_view to_string(TrafficClass c) {
    switch (c) {
        case TrafficClass::unknown:
            return "unknown";
        case TrafficClass::control:
            return "control";
        case TrafficClass::gradient:
            return "gradient";
        case TrafficClass::inference:
            return "inference";
    }
    return "unknown";
}

}  // namespace weft::classify
