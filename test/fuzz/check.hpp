// A fuzz target's property check: a violated property stops the run as a crash, which
// libFuzzer keeps as a reproducer. Not assert(): it must hold in every build type.
#pragma once

#define CHECK(cond)                    \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)
