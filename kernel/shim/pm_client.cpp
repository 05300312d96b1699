// The shim's client of the process manager (pm_client.hpp): the process table, its slots,
// and how a call crosses into the manager wherever the manifest placed it.
//
// The table is 64 contiguous pages allocated at boot. Linked in, the manager gets its
// kernel address; at IC1 it is mapped read-write into the manager's domain window (with
// its PKS key); at IC2 into its address space. The manager is the only writer; the kernel
// reads.
//
// Calls carry up to five words. A call's one pointer argument (setgroups' list in, wait's
// live children and kill's targets out) is a buffer in the manager's memory: at IC1 on the
// top of the domain stack the call runs on, at IC2 on the top of the service stack lent to
// the upcall (as the FS's client does), copied in before and out after. The crossing and
// the program's start are shared with the memory manager's client (manager_client.hpp);
// unlike that one, this client serialises its calls (g_lock): a change may write several
// processes' records, each of which has room for one writer only.

#include "shim/pm_client.hpp"

#include "arch/user.hpp"
#include "boot/boot.hpp"
#include "config/manifest.hpp"
#include "debug/log.hpp"
#include "ic1/domain.hpp"
#include "ipc/fastpath.hpp"
#include "ipc/service.hpp"
#include "lib/string.hpp"
#include "loader/cpio.hpp"
#include "mm/physical.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "shim/manager_client.hpp"
#include "time/clock.hpp"

namespace kernel::shim::pmc {

pm::Table* g_table = nullptr;  // the kernel's view

namespace {

enum Export : usize {
#define PM_EXPORT(name, function) k_##name,
#include "process/exports.def"
#undef PM_EXPORT
    kExportCount
};
constexpr const char* kExportNames[] = {
#define PM_EXPORT(name, function) #name,
#include "process/exports.def"
#undef PM_EXPORT
};
// The linked-in build's functions (IC0, and the fallback).
const uptr kLinked[] = {
#define PM_EXPORT(name, function) reinterpret_cast<uptr>(&function),
#include "process/exports.def"
#undef PM_EXPORT
};

constexpr unsigned kTableOrder = 6;  // 64 pages
static_assert(sizeof(pm::Table) == (usize{1} << kTableOrder) * arch::kPageSize);
constexpr usize kTablePages = usize{1} << kTableOrder;

u64 g_table_phys = 0;
uptr g_functions[kExportCount];  // IC1: the exported functions' addresses
managers::Where g_where{nullptr, g_functions, nullptr, kLinked};
managers::ProgramStart g_program_start{"pm", "process manager"};  // IC2
ServiceLock g_lock;

SpinLock g_slots_lock;
u64 g_slots_used[pm::kSlots / 64] TA_GUARDED(g_slots_lock) = {};

constexpr i64 kEAGAIN = 11;

[[gnu::noinline]] i64 failed(Export function, i64 status) {
    if (status == tessera::kErrNoMemory) return -linux_errno::kENOMEM;  // no stack to run on
    if (status == tessera::kErrNoSyscall) {  // a caller that did not ask callable(): a kernel bug
        LOG_ERROR("pm: %s from thread %s, which cannot enter the process manager at IC2: EAGAIN", kExportNames[function],
                  current_thread()->name);
        return -kEAGAIN;
    }
    static bool said = false;
    if (!said) {
        said = true;
        LOG_ERROR("pm: %s: the process manager is gone (status %lld): calls that change a process's ids, group or "
                  "session fail with EAGAIN from now on",
                  kExportNames[function], static_cast<long long>(status));
    }
    return -kEAGAIN;
}

using Buffer = managers::CallBuffer;
constexpr usize kMaxBuffer = pm::kSlots * sizeof(u64);  // kill's targets, the largest

// One call, under g_lock (or at boot): the status, the function's value in *result.
i64 call_once(Export function, u64 (&arguments)[6], const Buffer& buffer, u64* result) {
    return managers::call(g_where, function, arguments, buffer, result);
}

bool attach_module();
bool start_program();

// A manager that crashed is started again where it was, and attaches to the same table: no
// process loses who it is. A few times only, so that a manager that crashes on some input
// does not crash forever; after that, calls fail. Under g_lock.
constexpr u32 kMaxRestarts = 3;
u32 g_restarts = 0;

bool restart() {
    if (g_restarts == kMaxRestarts) return false;
    ++g_restarts;
    bool ok;
    if (g_where.domain) {
        g_where.domain = nullptr;  // dead; its PKS key stays used
        ok = attach_module();
    } else {
        g_where.service->unref();
        g_where.service = nullptr;
        ok = start_program();
    }
    if (ok)
        LOG_WARN("pm: the process manager crashed and was restarted (%s, restart %u of %u); the process table is kept",
                 g_where.domain ? "IC1" : "IC2", g_restarts, kMaxRestarts);
    return ok;
}

// pm.fault_test=N: the N-th call is preceded by a store from the manager into kernel memory,
// which its isolation must stop; the manager is then restarted and the call made.
u64 g_fault_test_at = 0;
u64 g_calls = 0;

void fault_test() {
    static volatile u64 canary = 0x5afe;
    u64 arguments[6] = {reinterpret_cast<u64>(&canary), 0, 0, 0, 0, 0};
    u64 ignored;
    i64 status = call_once(k_fault_for_test, arguments, Buffer{}, &ignored);
    managers::report_fault_test(g_program_start, status, canary == 0x5afe, g_where.domain != nullptr);
}

i64 call(Export function, u64 a0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, const Buffer& buffer = {}) {
    u64 arguments[6] = {a0, a1, a2, a3, a4, 0};
    u64 result = 0;
    g_lock.lock();
    if (++g_calls == g_fault_test_at && (g_where.domain || g_where.service)) [[unlikely]]
        fault_test();
    i64 status = call_once(function, arguments, buffer, &result);
    if ((status == tessera::kErrCalleeFailed || status == tessera::kErrDead) && restart()) [[unlikely]] {
        u64 again[6] = {a0, a1, a2, a3, a4, 0};
        status = call_once(function, again, buffer, &result);
    }
    g_lock.unlock();
    if (status != tessera::kOk) [[unlikely]]
        return failed(function, status);
    return static_cast<i64>(result);
}

// --- placing the manager ---------------------------------------------------------------

bool attach_module() {
    if (service_isolation_class("process-manager") != config::kIC1) return false;
    const BootInfo& boot = boot_info();
    const char* why = nullptr;
    Result<loader::CpioEntry> file =
        loader::cpio_find(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, "lib/process.ic1", &why);
    if (!file.ok()) {
        LOG_ERROR("pm: the manifest places the process manager at IC1 but lib/process.ic1 is not in the boot "
                  "archive: linked in instead");
        return false;
    }
    // Stacks with room for a buffer above the 16 KiB DomainCall keeps for the code.
    static_assert(kMaxBuffer <= ic1::kStackSize);
    Result<ic1::Domain*> loaded = ic1::load_module("process", file.value().data, file.value().size, 2 * ic1::kStackSize);
    if (!loaded.ok()) {
        LOG_ERROR("pm: the process manager module did not load: linked in instead");
        return false;
    }
    ic1::Domain& domain = *loaded.value();
    const tessera::service::Module& module = domain.module();
    bool matches = module.count == kExportCount;
    for (usize i = 0; matches && i < kExportCount; ++i) {
        matches = StringView(module.entries[i].name) == StringView(kExportNames[i]) &&
                  domain.contains(reinterpret_cast<uptr>(module.entries[i].handler), 1);
        g_functions[i] = reinterpret_cast<uptr>(module.entries[i].handler);
    }
    Result<uptr> table = matches ? domain.map_range(g_table_phys, sizeof(pm::Table), true) : Result<uptr>(Error::InvalidArgument);
    if (!table.ok()) {
        LOG_ERROR("pm: the process manager module %s: linked in instead",
                  matches ? "cannot have the process table" : "does not export manager.hpp's functions");
        domain.kill(matches ? "no memory" : "export table mismatch");
        return false;
    }
    g_where.domain = &domain;
    u64 arguments[6] = {table.value(), 0, 0, 0, 0, 0}, attached = 1;
    if (call_once(k_attach, arguments, Buffer{}, &attached) != tessera::kOk || attached != 0) {
        LOG_ERROR("pm: the process manager module refused the process table: linked in instead");
        domain.kill("attach failed");
        g_where.domain = nullptr;
        return false;
    }
    return true;
}

enum HostOp : u64 { kMapTable = 0, kAttach = 1 };  // ic2_program.cpp's
Process* g_program = nullptr;  // the IC2 manager being started: the first to ask for the table
uptr g_program_table = 0;

// The manager program's host operations, from its own thread: where its table is (once),
// then its entry (once), after which the kernel calls it.
i64 program_host(u64 op, u64 a, u64, u64, u64) {
    UserContext* u = current_thread()->user;
    Process& self = *u->domain;
    if (__atomic_load_n(&g_program_start.entry, __ATOMIC_ACQUIRE) || u->depth || self.dead())
        return -linux_errno::kEPERM;
    if (op == kMapTable) {
        Process* none = nullptr;  // (the spawning thread may not know the process yet)
        if (!__atomic_compare_exchange_n(&g_program, &none, &self, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return -linux_errno::kEPERM;
        Result<uptr> va = self.address_space().reserve(kTablePages);
        if (!va.ok() ||
            !self.address_space().map_physical(va.value(), g_table_phys, kTablePages, arch::kPageWrite).ok()) {
            LOG_ERROR("pm: cannot map the process table into the process manager program");
            __atomic_store_n(&g_program_start.failed, true, __ATOMIC_RELEASE);
            return -linux_errno::kENOMEM;
        }
        g_program_table = va.value();
        return static_cast<i64>(va.value());
    }
    if (op != kAttach || !g_program_table || g_program != &self) return -linux_errno::kENOSYS;
    return managers::attach(g_program_start, self, a);
}

bool start_program() {
    if (service_isolation_class("process-manager") != config::kIC2) return false;
    __atomic_store_n(&g_program, nullptr, __ATOMIC_RELEASE);  // (a restart's predecessor is dead)
    g_program_table = 0;
    __atomic_store_n(&g_program_start.entry, nullptr, __ATOMIC_RELEASE);
    if (!managers::start(g_program_start, "bin/process-service", program_host)) return false;
    g_where.service = g_program_start.entry;
    return true;
}

}  // namespace

void boot() {
    Result<u64> pages = mm::alloc_pages_phys(kTableOrder);  // zeroed: every slot free
    if (!pages.ok()) {
        LOG_ERROR("pm: no memory for the process table: Linux programs cannot start");
        return;
    }
    (void)kernel_command_line().get_u64("pm.fault_test", &g_fault_test_at);
    g_table_phys = pages.value();
    g_table = arch::phys_to_ptr<pm::Table>(g_table_phys);
    if (!attach_module() && !start_program()) (void)pm::attach(g_table);
    LOG_INFO("pm: %s; the process table (%zu slots) is granted to it",
             g_where.domain    ? "the process manager runs in its own PKS domain (IC1)"
             : g_where.service ? "the process manager runs in its own process (IC2)"
                               : "the process manager is linked into the kernel (IC0)",
             static_cast<usize>(pm::kSlots));
}

bool in_domain() { return g_where.domain != nullptr; }
bool in_program() { return g_where.service != nullptr; }
bool callable() { return !g_where.service || managers::can_upcall(); }

u32 take_slot() {
    IrqSpinLockGuard guard(g_slots_lock);
    if (!g_table) return pm::kNoSlot;
    for (u32 word = 0; word < pm::kSlots / 64; ++word)
        if (~g_slots_used[word]) {
            u32 bit = static_cast<u32>(__builtin_ctzll(~g_slots_used[word]));
            g_slots_used[word] |= u64{1} << bit;
            return word * 64 + bit;
        }
    return pm::kNoSlot;
}

void give_slot(u32 slot) {
    if (slot >= pm::kSlots) return;
    IrqSpinLockGuard guard(g_slots_lock);
    g_slots_used[slot / 64] &= ~(u64{1} << (slot % 64));
}

pm::Record snapshot(u32 slot) {
    const pm::Record& r = record(slot);
    pm::Record copy;
    // A manager that stopped halfway through a write must not hang the kernel: after the
    // retries the copy is taken as it is (its fields are plain numbers).
    for (int attempt = 0; attempt < 64; ++attempt) {
        u32 before = __atomic_load_n(&r.sequence, __ATOMIC_ACQUIRE);
        memcpy(&copy, &r, sizeof(copy));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(before & 1) && __atomic_load_n(&r.sequence, __ATOMIC_RELAXED) == before) break;
        arch::pause();
    }
    if (copy.group_count > pm::kMaxGroups) copy.group_count = pm::kMaxGroups;
    return copy;
}

i64 created(u32 slot, u32 pid, u32 parent) { return call(k_created, slot, pid, parent); }
i64 exited(u32 slot, u32 wait_status) { return call(k_exited, slot, wait_status); }
i64 wait(u32 caller, u64 selector, u32* live) {
    return call(k_wait, caller, selector, 0, 0, 0,
                live ? Buffer{live, pm::kSlots * sizeof(u32), 2, Buffer::kOut} : Buffer{});
}
i64 signal_targets(u32 sender, u64 pid, u32 sig, u64* targets) {
    return call(k_signal_targets, sender, pid, sig, 0, 0, Buffer{targets, kMaxBuffer, 3, Buffer::kOut});
}
i64 set_pgid(u32 caller, u32 target, u32 pgid) { return call(k_set_pgid, caller, target, pgid); }
i64 set_sid(u32 caller) { return call(k_set_sid, caller); }
i64 set_ids(u32 slot, u32 op, u32 a, u32 b, u32 c) { return call(k_set_ids, slot, op, a, b, c); }
i64 set_groups(u32 slot, u32 count, const u32* groups) {
    if (count > pm::kMaxGroups) return -pm::kEINVAL;
    return call(k_set_groups, slot, count, 0, 0, 0,
                count ? Buffer{const_cast<u32*>(groups), count * sizeof(u32), 2, Buffer::kIn} : Buffer{});
}
i64 exec(u32 slot, u32 mode, u32 file_uid, u32 file_gid) { return call(k_exec, slot, mode, file_uid, file_gid); }

}  // namespace kernel::shim::pmc
