// The process manager built as an IC2 program (DESIGN §2): the same module code as the IC1
// build (ic1_module.cpp) in a ring-3 process of its own. The kernel starts it when the
// manifest places the manager at IC2 (`strict`) and calls the functions of exports.def
// through one service entry: the function's index rides where a message's root-caller pid
// would, its arguments in the message words, and the result comes back in word 0
// (kernel/shim/pm_client.cpp). Its host operations: kMapTable maps the process table into
// its memory and says where, kAttach hands the kernel its entry (after which calls come).
//
// Built with -mgeneral-regs-only: it runs on its callers' threads, between their syscall
// and its return, where their vector registers are still live.

#include "process/manager.hpp"
#include "tessera.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
}
extern "C" const tessera::service::Module* tessera_module_entry();

namespace {

using namespace tessera;

enum : uint64_t { kMapTable = 0, kAttach = 1 };  // pm_client.cpp's program_host

void dispatch(Message& m) { service::call_export(service::g_module, m); }

}  // namespace

TESSERA_SERVICE_ENTRY(pm_entry, dispatch);

// Takes the process table, makes the entry and hands it to the kernel; then calls run on
// the callers' threads and this one waits for good.
extern "C" long tessera_main(unsigned long) {
    tessera_module_entry();
    int64_t table = sys::service_host(kMapTable, 0, 0, 0, 0);
    if (table <= 0 || pm::attach(reinterpret_cast<pm::Table*>(table)) < 0) return 1;
    constexpr uint64_t kStackBytes = 32 * 1024;  // the manager's frames and a buffer (up to 8 KiB) above them
    int64_t entry = sys::service_create(reinterpret_cast<uint64_t>(pm_entry), kStackBytes, 4, 0);
    if (entry < 0 || sys::service_host(kAttach, static_cast<uint64_t>(entry), 0, 0, 0) < 0) return 2;
    int64_t forever = sys::notification_create();
    sys::notification_wait(static_cast<uint64_t>(forever), 0);
    return 0;
}
