#include "weft/roce/opcode.hpp"

namespace weft::roce {

std::string_view to_string(Transport t) {
    switch (t) {
        case Transport::RC:
            return "RC";
        case Transport::UC:
            return "UC";
        case Transport::RD:
            return "RD";
        case Transport::UD:
            return "UD";
        case Transport::CNP:
            return "CNP";
        case Transport::XRC:
            return "XRC";
        case Transport::Unknown:
            return "unknown";
    }
    return "unknown";
}

std::string_view to_string(Operation o) {
    switch (o) {
        case Operation::Send:
            return "send";
        case Operation::Write:
            return "write";
        case Operation::ReadRequest:
            return "read_request";
        case Operation::ReadResponse:
            return "read_response";
        case Operation::Acknowledge:
            return "acknowledge";
        case Operation::AtomicAcknowledge:
            return "atomic_acknowledge";
        case Operation::CompareSwap:
            return "compare_swap";
        case Operation::FetchAdd:
            return "fetch_add";
        case Operation::Resync:
            return "resync";
        case Operation::Flush:
            return "flush";
        case Operation::AtomicWrite:
            return "atomic_write";
        case Operation::Cnp:
            return "cnp";
        case Operation::Invalid:
            return "invalid";
    }
    return "invalid";
}

}  // namespace weft::roce
