// The memory manager built as an IC1 module of its own (DESIGN §2), for a manifest that
// places it at IC1 without the FS: manager.cpp in a PKS domain, where it can touch its own
// pages and the VSpaces the kernel maps into its window (kernel/shim/mm_client.cpp). When
// the manifest coalesces it with the FS (`perf`), the FS's module exports the same
// functions instead (services/fs/ic1_module.cpp) and this one is not loaded.

#include "memory/manager.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
namespace {
constexpr u64 kExports = 0
#define MM_EXPORT(name, function) +1
#include "memory/exports.def"
#undef MM_EXPORT
    ;
Entry g_entries[kExports];
}  // namespace
Module g_module = {kModuleMagic, g_entries, 0, {}, {}, 0};
}  // namespace tessera::service

// Called once by the loader inside the domain: the export table is filled here (function
// addresses are only known after relocation).
extern "C" const tessera::service::Module* tessera_module_entry() {
    using namespace tessera::service;
    u64 i = 0;
#define MM_EXPORT(name, function) g_entries[i++] = {#name, reinterpret_cast<Handler>(&function)};
#include "memory/exports.def"
#undef MM_EXPORT
    g_module.count = i;
    return &g_module;
}
