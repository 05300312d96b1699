#pragma once
// The service runtime interface (issue 4, item 1): a service is written once against this
// header and built unchanged for any isolation class:
//   IC2  a ring-3 program: user/lib/service_ic2.cpp runs the handlers behind IPC entries;
//   IC1  a ring-0 module in its own PKS domain: user/lib/service_ic1.cpp, loaded by the
//        kernel (kernel/ic1/), which fills `runtime` with gate functions;
//   IC0  linked into the kernel image: kernel/ic1/ic0_services.cpp fills `runtime` with
//        the kernel's own functions.
// A service source defines its handlers and lists them with TESSERA_SERVICES.

#include <stddef.h>
#include <stdint.h>

namespace tessera::service {

struct Message {
    uint64_t words[6];
    uint64_t caller_pid;  // the root caller of the chain
};

using Handler = void (*)(Message& message);

// What a service may ask of the system, whatever its class. `call` returns a native Status
// and replaces the message's words with the callee's results.
struct Runtime {
    int64_t (*call)(uint64_t service, Message& message);
    int64_t (*lookup)(const char* name);  // a service handle by published name
    uint64_t (*clock_ns)();
    void (*log)(const char* text);
    // Zeroed memory for the service's own use, whole pages; nullptr when there is none.
    // Freed with the service.
    void* (*alloc)(uint64_t bytes);
    // Operations the kernel offers this particular service (an IC1 module whose host
    // registered them, e.g. the FS's memory, locks and sleeps): `op` and up to four
    // arguments, pointers into the service's own memory. Elsewhere: kErrNoSyscall.
    int64_t (*host)(uint64_t op, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
};

struct Entry {
    const char* name;  // published under this name
    Handler handler;
};

// Names a coalesced module answers itself: calls to them are plain function calls inside
// the module, with no kernel involvement (paper §4.3). The kernel fills them in at load
// from the composition manifest's coalescing group.
struct LocalName {
    char name[32];
    uint64_t entry;  // index into Module::entries
};
inline constexpr uint64_t kMaxLocalNames = 16;
inline constexpr uint64_t kLocalHandle = uint64_t{1} << 62;  // handle bit for local targets

// One per service binary. IC1 modules export it through their ELF entry point; the loader
// checks `magic` and fills `runtime` (gates into the kernel) and `local` before any
// handler runs.
struct Module {
    uint64_t magic;
    const Entry* entries;
    uint64_t count;
    Runtime runtime;
    LocalName local[kMaxLocalNames];
    uint64_t local_count;
};
inline constexpr uint64_t kModuleMagic = 0x3173657276696365;  // "service1"

// A call the kernel makes into an IC2 program whose entries are exported functions (the
// FS, the memory and the process manager: their exports.def) rather than handlers: the
// function's index rides where the root caller's pid would, its arguments in the words,
// and its result goes back in word 0 (-ENOSYS for an index the module does not have: the
// kernel and the program disagree on exports.def). `IpcMessage` is the program's message
// type (user/lib/tessera.hpp's: words[6] and caller_pid, as Message here).
template <typename IpcMessage>
inline void call_export(const Module& module, IpcMessage& m) {
    if (m.caller_pid >= module.count) {
        m.words[0] = static_cast<uint64_t>(-38);
        return;
    }
    using Function = uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
    auto function = reinterpret_cast<Function>(module.entries[m.caller_pid].handler);
    m.words[0] = function(m.words[0], m.words[1], m.words[2], m.words[3], m.words[4], m.words[5]);
}

// The runtime the current build provides (defined once per isolation class).
const Runtime& runtime();

}  // namespace tessera::service

// Lists a binary's handlers: TESSERA_SERVICES({"echo", echo}, {"relay", relay});
#define TESSERA_SERVICES(...)                                                              \
    namespace tessera::service {                                                           \
    const Entry g_entries[] = {__VA_ARGS__};                                               \
    Module g_module = {kModuleMagic, g_entries, sizeof(g_entries) / sizeof(g_entries[0]), {}, {}, 0}; \
    }
