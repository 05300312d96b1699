// The echo service: the smallest service, built for every isolation class. The IPC tests
// and the Figure-4 benchmark call it across classes.
//   echo:  words 1..4 come back incremented, word 5 is the root caller's pid.
//   relay: calls the service published as words[1]'s name index N times (words[2]) and
//          returns the elapsed nanoseconds in word 1 (the round trip between this class and
//          the target's).
//   peek:  reads the 8 bytes at address words[1] (the containment test points it at another
//          domain's memory).
//   where: stores a marker in this instance's data and returns the marker's address.
//   scratch: allocates memory from the runtime (once), fills it and returns a checksum.

#include "tessera/service.hpp"

using namespace tessera::service;

namespace {

const char* const kTargets[] = {"echo-ic0", "echo-ic1", "echo-ic2", "echo-ic1b", "echo-peer"};

void echo(Message& m) {
    for (int i = 1; i < 5; ++i) m.words[i] += 1;
    m.words[5] = m.caller_pid;
}

void relay(Message& m) {
    const Runtime& rt = runtime();
    uint64_t target_index = m.words[1];
    uint64_t count = m.words[2];
    if (target_index >= sizeof(kTargets) / sizeof(kTargets[0])) {
        m.words[0] = ~0ull;
        return;
    }
    int64_t target = rt.lookup(kTargets[target_index]);
    if (target < 0) {
        m.words[0] = static_cast<uint64_t>(target);
        return;
    }
    Message warm{{0, 1, 2, 3, 4, 0}, 0};
    rt.call(static_cast<uint64_t>(target), warm);
    uint64_t start = rt.clock_ns();
    int64_t status = 0;
    for (uint64_t i = 0; i < count && status == 0; ++i) {
        Message call{{0, i, 0, 0, 0, 0}, 0};
        status = rt.call(static_cast<uint64_t>(target), call);
        if (status == 0 && call.words[1] != i + 1) status = -100;  // wrong answer
    }
    m.words[1] = rt.clock_ns() - start;
    m.words[0] = static_cast<uint64_t>(status);
}

void peek(Message& m) { m.words[1] = *reinterpret_cast<volatile const uint64_t*>(m.words[1]); }

uint64_t g_marker = 0;
void where(Message& m) {
    g_marker = 0x5ec12e7ull;
    m.words[1] = reinterpret_cast<uint64_t>(&g_marker);
    m.words[2] = g_marker;
}

}  // namespace

uint64_t* g_scratch = nullptr;
void scratch(Message& m) {
    constexpr uint64_t kWords = 3 * 4096 / 8;  // three pages
    if (!g_scratch) g_scratch = static_cast<uint64_t*>(runtime().alloc(kWords * 8));
    if (!g_scratch) {
        m.words[0] = ~0ull;
        return;
    }
    uint64_t sum = 0;
    for (uint64_t i = 0; i < kWords; ++i) sum += g_scratch[i];  // zeroed the first time
    for (uint64_t i = 0; i < kWords; ++i) g_scratch[i] = i * m.words[1];
    for (uint64_t i = 0; i < kWords; ++i) sum += g_scratch[i];
    m.words[1] = sum;
}

TESSERA_SERVICES({"echo", echo}, {"relay", relay}, {"peek", peek}, {"where", where}, {"scratch", scratch})
