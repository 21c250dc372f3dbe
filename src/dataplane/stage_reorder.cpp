// reorder (stages.hpp): nothing is sprayed yet, so every QP's frames arrive in the order
// one path keeps, and pass as they came.
#include "weft/dataplane/stages.hpp"

namespace weft::dataplane {

void reorder(Burst&) {}

}  // namespace weft::dataplane
