// The managers' clients' shared crossing and program start (manager_client.hpp).

#include "shim/manager_client.hpp"

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ipc/fastpath.hpp"
#include "lib/string.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "time/clock.hpp"

namespace kernel::shim::managers {

// The buffer (if any) goes on the top of the lent stack, reached through the manager's
// address space.
i64 upcall(Service& service, usize function, u64 (&arguments)[6], const CallBuffer& buffer, u64* result) {
    Thread* t = current_thread();
    if (!can_upcall()) return tessera::kErrNoSyscall;
    Result<uptr> stack = service.take_stack(t->user->home);
    if (!stack.ok()) return tessera::kErrNoMemory;
    uptr top = stack.value(), cursor = top;
    arch::disable_interrupts();
    service.owner().address_space().activate();
    if (buffer.data) {
        cursor = align_down<uptr>(top - buffer.bytes, 16);
        if (buffer.direction == CallBuffer::kIn) {
            arch::user_access_begin();
            memcpy(reinterpret_cast<void*>(cursor), buffer.data, buffer.bytes);
            arch::user_access_end();
        }
        arguments[buffer.index] = cursor;
    }
    tessera::service::Message message{{arguments[0], arguments[1], arguments[2], arguments[3], arguments[4],
                                       arguments[5]},
                                      function};
    i64 status = ipc_upcall(service, &message, cursor);
    *result = message.words[0];
    if (status == tessera::kOk && buffer.data && buffer.direction == CallBuffer::kOut) {
        arch::user_access_begin();  // its space is still the active one (ipc_upcall, lent stack)
        memcpy(buffer.data, reinterpret_cast<const void*>(cursor), buffer.bytes);
        arch::user_access_end();
    }
    ipc_activate_current_space();
    arch::enable_interrupts();
    service.return_stack(top);
    return status;
}

bool can_upcall() { return current_thread()->user && arch::interrupts_enabled(); }

bool start(ProgramStart& program, const char* path, Process::ServiceHost host) {
    __atomic_store_n(&program.failed, false, __ATOMIC_RELEASE);
    Result<RefPtr<Process>> started = spawn_from_boot_archive(StringView(path), 0, false, StringView(), host);
    if (!started.ok()) {
        LOG_ERROR("%s: the manifest places the %s at IC2 but %s did not start: linked in instead", program.tag,
                  program.name, path);
        return false;
    }
    Process& process = *started.value();
    // It attaches within a few thousand instructions; one that neither attaches nor dies
    // within this is hung.
    u64 deadline = uptime_ns() + 10 * kNsPerSec;
    while (!__atomic_load_n(&program.entry, __ATOMIC_ACQUIRE) && !process.dead() &&
           !__atomic_load_n(&program.failed, __ATOMIC_ACQUIRE) && uptime_ns() < deadline)
        sleep_ns(kNsPerMs);
    if (__atomic_load_n(&program.entry, __ATOMIC_ACQUIRE)) return true;  // (the entry's reference keeps it)
    LOG_ERROR("%s: the %s program %s: linked in instead", program.tag, program.name,
              process.dead() ? "ended before it attached" : "did not attach");
    process.mark_dead(-1);
    return false;
}

i64 attach(ProgramStart& program, Process& self, u64 handle) {
    Result<RefPtr<Service>> entry = self.handles().get<Service>(handle, tessera::kRightCall);
    if (!entry.ok() || entry.value()->placement() != Placement::User) {
        LOG_ERROR("%s: the %s program's entry is not usable (handle %llu)", program.tag, program.name,
                  static_cast<unsigned long long>(handle));
        __atomic_store_n(&program.failed, true, __ATOMIC_RELEASE);
        return -linux_errno::kEINVAL;
    }
    __atomic_store_n(&program.entry, entry.release_value().leak(), __ATOMIC_RELEASE);
    return 0;
}

void report_fault_test(const ProgramStart& program, i64 status, bool canary_intact, bool in_domain) {
    bool stopped = status == tessera::kErrCalleeFailed && canary_intact;
    LOG_INFO("%s: fault test: the %s stored to kernel memory: %s; canary %s", program.tag, program.name,
             !stopped ? "NOT STOPPED" : in_domain ? "stopped by PKS" : "stopped by the MMU (it is a ring-3 process)",
             canary_intact ? "intact" : "OVERWRITTEN");
}

}  // namespace kernel::shim::managers
