// The file system service built as an IC2 program (DESIGN §2): the same FS sources and the
// same module code as the IC1 build (ic1_module.cpp: heap, Env over Runtime::host, device
// and procfs proxies, the export table), run in a ring-3 process of its own. The kernel
// starts it when the manifest places the FS at IC2 (`strict`) and calls the functions in
// exports.def through one service entry: the function's index rides where a message's
// root-caller pid would, its six arguments in the message words, and the result comes back
// in word 0 (kernel/shim/fs_client.cpp). Runtime::host is the service_host syscall.
//
// Built with -mgeneral-regs-only: the FS runs on its callers' threads, between their
// syscall and its return, where their vector registers are still live.

#include "fs/host_ops.hpp"
#include "tessera.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
}
extern "C" const tessera::service::Module* tessera_module_entry();

namespace {

using namespace tessera;

int64_t rt_call(uint64_t, service::Message&) { return kErrNoSyscall; }
int64_t rt_lookup(const char*) { return kErrNoSyscall; }
uint64_t rt_clock_ns() { return static_cast<uint64_t>(sys::clock_ns()); }
void rt_log(const char* text) { sys::debug_write(reinterpret_cast<uint64_t>(text), length_of(text)); }
// Zeroed pages from a memory region, mapped when it is made: a page fault in the FS is not
// resolved (a native process's memory is never mapped late) but ends the service.
void* map_region(uint64_t pages) {
    int64_t region = sys::memory_create(pages);
    int64_t va = region >= 0 ? sys::memory_map(static_cast<uint64_t>(region), 1) : -1;
    if (region >= 0) sys::handle_close(static_cast<uint64_t>(region));  // the mapping keeps it
    return va > 0 ? reinterpret_cast<void*>(va) : nullptr;
}

// The module's heap asks for whole pages and never gives them back (it keeps its own free
// lists). Each mapping is a grant of the process, of which there are few, so pages are
// carved from 2 MiB regions; a larger request gets a region of its own.
constexpr uint64_t kArenaPages = 512;
uint8_t* g_arena = nullptr;
uint64_t g_arena_pages_left = 0;

void* rt_alloc(uint64_t bytes) {
    uint64_t pages = (bytes + 4095) / 4096;
    if (pages > kArenaPages / 4) return map_region(pages);
    if (pages > g_arena_pages_left) {
        auto* arena = static_cast<uint8_t*>(map_region(kArenaPages));
        if (!arena) return nullptr;
        g_arena = arena;  // the rest of the old arena is left unused
        g_arena_pages_left = kArenaPages;
    }
    void* block = g_arena;
    g_arena += pages * 4096;
    g_arena_pages_left -= pages;
    return block;
}
int64_t rt_host(uint64_t op, uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return sys::service_host(op, a, b, c, d); }

void dispatch(Message& m) { service::call_export(service::g_module, m); }

}  // namespace

TESSERA_SERVICE_ENTRY(fs_entry, dispatch);

// Sets the module up, makes its entry and hands it to the kernel, which boots the FS on this
// thread (root, archive, devfs, procfs, console) before it returns; then calls run on the
// callers' threads and this one waits for good.
extern "C" long tessera_main(unsigned long) {
    tessera_module_entry();
    service::g_module.runtime = {rt_call, rt_lookup, rt_clock_ns, rt_log, rt_alloc, rt_host};
    constexpr uint64_t kStackBytes = 64 * 1024;  // the FS's frames and the arguments above them
    int64_t entry = sys::service_create(reinterpret_cast<uint64_t>(fs_entry), kStackBytes, 4, 0);
    if (entry < 0) return 1;
    if (rt_host(fs::ic1::kAttach, static_cast<uint64_t>(entry), 0, 0, 0) < 0) return 2;
    int64_t forever = sys::notification_create();
    sys::notification_wait(static_cast<uint64_t>(forever), 0);
    return 0;
}
