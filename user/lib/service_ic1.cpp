// The IC1 build of a service (tessera/service.hpp): a static-PIE module the kernel loads
// into a PKS domain. Its ELF entry point hands the kernel the module descriptor; the kernel
// fills in the runtime (gates back into the kernel) before any handler runs. No syscalls,
// no SSE (the module runs in ring 0 on the caller's thread), no red zone (interrupts arrive
// on the module's stack).

#include <stddef.h>

#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
const Runtime& runtime() { return g_module.runtime; }
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
