// The process manager built as an IC1 module (DESIGN §2): manager.cpp loaded by the kernel
// into a PKS domain of its own, where it can touch its own pages and the process table the
// kernel maps into its window (kernel/shim/pm_client.cpp). The kernel calls the functions
// listed in exports.def directly, through the IC1 gate. The manager needs nothing from its
// host: no heap, no sleeps, no locks of its own (the kernel holds its lock around each call).

#include "process/manager.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
namespace {
constexpr u64 kExports = 0
#define PM_EXPORT(name, function) +1
#include "process/exports.def"
#undef PM_EXPORT
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
#define PM_EXPORT(name, function) g_entries[i++] = {#name, reinterpret_cast<Handler>(&function)};
#include "process/exports.def"
#undef PM_EXPORT
    g_module.count = i;
    return &g_module;
}
