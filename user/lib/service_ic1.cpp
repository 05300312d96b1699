// The IC1 build of a service (tessera/service.hpp): a static-PIE module the kernel loads
// into a PKS domain. Its ELF entry point hands the kernel the module descriptor; the kernel
// fills in the runtime (gates back into the kernel) before any handler runs. No syscalls,
// no SSE (the module runs in ring 0 on the caller's thread), no red zone (interrupts arrive
// on the module's stack).

#include <stddef.h>

#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;

namespace {

bool same(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

// Coalesced peers (names the kernel listed in g_module.local) are called directly: the
// same code path a separated build takes through the kernel, minus the kernel.
int64_t coalesced_lookup(const char* name) {
    for (uint64_t i = 0; i < g_module.local_count && i < kMaxLocalNames; ++i)
        if (same(g_module.local[i].name, name)) return static_cast<int64_t>(kLocalHandle | g_module.local[i].entry);
    return g_module.runtime.lookup(name);
}

int64_t coalesced_call(uint64_t service, Message& message) {
    if (service & kLocalHandle) {
        uint64_t entry = service & ~kLocalHandle;
        if (entry >= g_module.count) return -2;  // kErrBadHandle
        g_module.entries[entry].handler(message);
        return 0;
    }
    return g_module.runtime.call(service, message);
}

uint64_t kernel_clock_ns() { return g_module.runtime.clock_ns(); }
void kernel_log(const char* text) { g_module.runtime.log(text); }
void* kernel_alloc(uint64_t bytes) { return g_module.runtime.alloc(bytes); }
int64_t kernel_host(uint64_t op, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    return g_module.runtime.host(op, a, b, c, d);
}

const Runtime kRuntime{coalesced_call, coalesced_lookup, kernel_clock_ns, kernel_log, kernel_alloc, kernel_host};

}  // namespace

const Runtime& runtime() { return kRuntime; }
}  // namespace tessera::service

extern "C" const tessera::service::Module* tessera_module_entry() { return &tessera::service::g_module; }

// The compiler may emit these for struct copies.
extern "C" void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
    return dst;
}
extern "C" void* memset(void* dst, int value, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<unsigned char>(value);
    return dst;
}
