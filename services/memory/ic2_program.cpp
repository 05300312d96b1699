// The memory manager built as an IC2 program (DESIGN §2): the same code as the IC1 build
// (ic1_module.cpp) in a ring-3 process of its own, started by the kernel when the manifest
// places the manager at IC2 (`strict`). The kernel maps each process's VSpace into this
// program's address space itself and names it in every call; calls come through one
// service entry, the function's index where a message's root-caller pid would ride, the
// arguments in the message words and the result back in word 0
// (kernel/shim/mm_client.cpp). Its host operations: kAttach hands the kernel the entry;
// kPagingWorker lends the kernel this first thread for good, as the worker that calls the
// manager's paging() off the critical path (a kernel thread cannot enter a process).
//
// Built with -mgeneral-regs-only: it runs on its callers' threads, between their syscall
// and its return, where their vector registers are still live.

#include "memory/manager.hpp"
#include "tessera.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
}
extern "C" const tessera::service::Module* tessera_module_entry();

namespace {

using namespace tessera;

enum : uint64_t { kAttach = 0, kPagingWorker = 1 };  // mm_client.cpp's program_host

void dispatch(Message& m) { service::call_export(service::g_module, m); }

}  // namespace

TESSERA_SERVICE_ENTRY(mm_entry, dispatch);

// Makes the entry and hands it to the kernel; then calls run on the callers' threads, and
// this one is the paging worker (it returns only when this program is no longer the
// manager, or with kernel paging off) and then waits for good.
extern "C" long tessera_main(unsigned long) {
    tessera_module_entry();
    constexpr uint64_t kStackBytes = 16 * 1024;  // the manager's frames: a few hundred bytes
    int64_t entry = sys::service_create(reinterpret_cast<uint64_t>(mm_entry), kStackBytes, 4, 0);
    if (entry < 0 || sys::service_host(kAttach, static_cast<uint64_t>(entry), 0, 0, 0) < 0) return 2;
    (void)sys::service_host(kPagingWorker, 0, 0, 0, 0);
    int64_t forever = sys::notification_create();
    sys::notification_wait(static_cast<uint64_t>(forever), 0);
    return 0;
}
