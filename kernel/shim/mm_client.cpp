// The shim's client of the memory manager (mm_client.hpp): the VSpaces, and how a call
// crosses into the manager wherever the manifest placed it.
//
// A VSpace is four contiguous pages, allocated for a process slot the first time the slot
// has a process with memory of its own and kept for the slot's later processes, so that
// its mapping into the manager never has to be taken down (no TLB shootdown of the
// manager's view). The manager sees it at IC1 in its domain's window (with its PKS key), at
// IC2 in its address space at kProgramVSpaces + slot × kVSpaceBytes, linked in at its
// kernel address. A restarted manager gets the same VSpaces mapped again: no process loses
// its layout.
//
// Calls carry up to six words and no pointer the kernel has to copy: the VSpace a call
// works on is named by its address in the manager's view. Calls run in parallel: the
// manager keeps no state beyond the VSpaces (but for a trylocked index of its own copies,
// manager.hpp), the changes of one VSpace are serialised by its process
// (LinuxProcess::vm_writer), and faults only read. Only a restart needs the manager to
// itself (see enter()). The crossing and the program's start are shared with
// the process manager's client (manager_client.hpp).
//
// Kernel paging's PCache and OPLog (memory/paging.hpp) are granted too, read-only, and
// the manager's part of it runs off the critical path on a worker thread: a kernel thread
// of idle priority that calls the manager at IC1 or linked in, or at IC2 the manager
// program's own first thread, lent to the kernel for good (kPagingWorker), since a kernel
// thread cannot enter a process. Each round hands the manager the OPLog records it has not
// folded and carries out the refill it answers (paging_round).

#include "shim/mm_client.hpp"

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
#include "mm/user_pages.hpp"
#include "proc/loader.hpp"
#include "process/manager.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/fs_client.hpp"
#include "shim/linux.hpp"
#include "shim/manager_client.hpp"
#include "time/clock.hpp"

namespace kernel::shim::mmc {

namespace {

enum Export : usize {
#define MM_EXPORT(name, function) k_##name,
#include "memory/exports.def"
#undef MM_EXPORT
    kExportCount
};
constexpr const char* kExportNames[] = {
#define MM_EXPORT(name, function) #name,
#include "memory/exports.def"
#undef MM_EXPORT
};
// The linked-in build's functions (IC0, the fallback, and the boot thread's calls).
const uptr kLinked[] = {
#define MM_EXPORT(name, function) reinterpret_cast<uptr>(&function),
#include "memory/exports.def"
#undef MM_EXPORT
};

constexpr unsigned kVSpaceOrder = 2;
static_assert((usize{1} << kVSpaceOrder) * arch::kPageSize == memory::kVSpaceBytes);
constexpr uptr kProgramVSpaces = 0x0000500000000000;  // IC2: where the VSpaces are in the program
constexpr uptr kProgramPaging = kProgramVSpaces + pm::kSlots * memory::kVSpaceBytes;  // ... and the PCache/OPLog
static_assert(pm::kSlots == memory::kPagingSlots);

struct Granted {
    memory::VSpace* kernel;  // nullptr until the slot first needs one
    u64 phys;
    uptr view;  // the manager's address for it
};
Granted g_spaces[pm::kSlots];
SpinLock g_spaces_lock;  // making a VSpace and its view

uptr g_functions[kExportCount];  // IC1: the exported functions' addresses
managers::Where g_where{nullptr, g_functions, nullptr, kLinked};
bool g_coalesced = false;  // IC1, in the FS's domain
managers::ProgramStart g_program{"mm", "memory manager"};  // IC2

constexpr i64 kEAGAIN = 11;

// The manager's address for the VSpace at `phys` of `slot`: 0 when it cannot be mapped.
uptr grant(u32 slot, u64 phys) {
    if (g_where.domain) {
        Result<uptr> va = g_where.domain->map_range(phys, memory::kVSpaceBytes, true);
        return va.ok() ? va.value() : 0;
    }
    if (g_where.service) {
        uptr va = kProgramVSpaces + slot * memory::kVSpaceBytes;
        bool ok = g_where.service->owner().address_space()
                      .map_physical(va, phys, memory::kVSpaceBytes / arch::kPageSize, arch::kPageWrite)
                      .ok();
        return ok ? va : 0;
    }
    return reinterpret_cast<uptr>(arch::phys_to_ptr<u8>(phys));
}

// The PCache and OPLog object in the manager's view (0: none, or not granted yet), granted
// read-only. Its table of VSpaces names each one in the same view (set_view).
uptr g_paging_view = 0;

uptr grant_paging() {
    u64 phys = mm::paging_object_phys();
    if (!phys) return 0;
    if (g_where.domain) {
        Result<uptr> va = g_where.domain->map_range(phys, memory::kPagingBytes, false);
        return va.ok() ? va.value() : 0;
    }
    if (g_where.service) {
        bool ok = g_where.service->owner().address_space()
                      .map_physical(kProgramPaging, phys, memory::kPagingBytes / arch::kPageSize, 0)
                      .ok();
        return ok ? kProgramPaging : 0;
    }
    return reinterpret_cast<uptr>(mm::paging_object());
}

void set_view(u32 slot, uptr view) {
    g_spaces[slot].view = view;
    if (memory::Paging* paging = mm::paging_object()) __atomic_store_n(&paging->vspaces[slot], view, __ATOMIC_RELEASE);
}

// Whether the calling thread can enter the manager where it is: an IC2 manager only from a
// user thread with interrupts on. The boot thread cannot; it lays out the first programs
// with the linked-in code on the kernel's view (before any manager call could be made).
bool callable() { return !g_where.service || managers::can_upcall(); }

i64 call_once(Export function, u64 (&arguments)[6], u64* result) {
    return managers::call(g_where, function, arguments, {}, result);
}

bool attach_module(bool may_coalesce);
bool start_program();

// A manager that crashed is started again and gets every VSpace mapped again: no process
// loses its layout. A few times only; after that calls fail. One coalesced with the FS died
// with the FS's domain (one failure domain): it comes back in a domain of its own
// (lib/memory.ic1), so that programs can still start and map memory. Only with no call
// inside (restart_after).
constexpr u32 kMaxRestarts = 3;
u32 g_restarts = 0;

bool restart() {
    if (g_restarts == kMaxRestarts) return false;
    ++g_restarts;
    bool ok;
    if (g_where.domain) {
        g_where.domain = nullptr;  // dead; its PKS key stays used
        g_coalesced = false;
        ok = attach_module(false);
    } else {
        g_where.service->unref();  // (no call is inside: restart_after)
        g_where.service = nullptr;
        ok = start_program();
    }
    if (ok) __atomic_store_n(&g_paging_view, grant_paging(), __ATOMIC_RELEASE);
    IrqSpinLockGuard guard(g_spaces_lock);
    for (u32 slot = 0; ok && slot < pm::kSlots; ++slot) {
        if (!g_spaces[slot].kernel) continue;
        set_view(slot, grant(slot, g_spaces[slot].phys));
        ok = g_spaces[slot].view != 0;
    }
    if (ok)
        LOG_WARN("mm: the memory manager crashed and was restarted (%s, restart %u of %u); every VSpace is kept",
                 g_where.domain ? "IC1" : "IC2", g_restarts, kMaxRestarts);
    return ok;
}

// mm.fault_test=N: the N-th call is preceded by a store from the manager into kernel
// memory, which its isolation must stop; the manager is then restarted and the call made.
u64 g_fault_test_at = 0;
u64 g_calls = 0;

void fault_test() {
    static volatile u64 canary = 0x5afe;
    u64 arguments[6] = {reinterpret_cast<u64>(&canary), 0, 0, 0, 0, 0};
    u64 ignored;
    i64 status = call_once(k_mm_fault_for_test, arguments, &ignored);
    managers::report_fault_test(g_program, status, canary == 0x5afe, g_where.domain != nullptr);
}

[[gnu::noinline]] i64 failed(Export function, i64 status) {
    if (status == tessera::kErrNoMemory) return -linux_errno::kENOMEM;  // no stack to run on
    static bool said = false;
    if (!said) {
        said = true;
        LOG_ERROR("mm: %s: the memory manager is gone (status %lld): calls that change an address space fail with "
                  "EAGAIN from now on",
                  kExportNames[function], static_cast<long long>(status));
    }
    return -kEAGAIN;
}

bool has_vspace(u32 slot) { return slot < pm::kSlots && g_spaces[slot].kernel; }

// The door calls pass: g_in_flight counts the calls inside the manager; a restart shuts
// the door (g_restarting), waits for the calls inside to leave — a dead manager sends them
// back at once — and opens it again with the generation moved on. A call that finds the
// door shut waits for the restart on g_restart_lock.
ServiceLock g_restart_lock;
u32 g_in_flight = 0;
bool g_restarting = false;
u32 g_generation = 0;

u32 enter() {
    for (;;) {
        __atomic_fetch_add(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&g_restarting, __ATOMIC_SEQ_CST)) return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE);
        __atomic_fetch_sub(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        g_restart_lock.lock();
        g_restart_lock.unlock();
    }
}

void leave() { __atomic_fetch_sub(&g_in_flight, 1, __ATOMIC_RELEASE); }

// The manager failed a call made in generation `seen`: restarts it unless another caller
// did already. False when it cannot be restarted (any more).
bool restart_after(u32 seen) {
    g_restart_lock.lock();
    bool ok = true;
    if (__atomic_load_n(&g_generation, __ATOMIC_ACQUIRE) == seen) {
        __atomic_store_n(&g_restarting, true, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&g_in_flight, __ATOMIC_SEQ_CST)) sleep_ns(100 * 1000);
        ok = restart();
        if (ok) __atomic_store_n(&g_generation, seen + 1, __ATOMIC_RELEASE);
        __atomic_store_n(&g_restarting, false, __ATOMIC_SEQ_CST);
    }
    g_restart_lock.unlock();
    return ok;
}

// A call on the VSpace of `slot` — and for fork's copy, `from`'s too — each named to the
// manager by its address in the manager's view. Where the manager cannot be entered (the
// boot thread with an IC2 manager, or `linked` asked for: a fault with interrupts off) the
// linked-in copy of the same code runs on the kernel's view. Slots without a VSpace are not
// called about.
i64 call(Export function, u32 slot, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0,
         u32 from = pm::kNoSlot, bool linked = false) {
    if (!has_vspace(slot) || (from != pm::kNoSlot && !has_vspace(from))) return -linux_errno::kENOMEM;
    memory::VSpace& vs = *g_spaces[slot].kernel;
    linked = linked || !callable();
    u64 result = 0;
    // (A restarted manager sees the VSpaces at new addresses: made again for the retry.)
    auto arguments_now = [&](u64 (&arguments)[6]) {
        arguments[0] = linked ? reinterpret_cast<u64>(&vs) : g_spaces[slot].view;
        arguments[1] = from == pm::kNoSlot ? a1
                       : linked            ? reinterpret_cast<u64>(g_spaces[from].kernel)
                                           : g_spaces[from].view;
        arguments[2] = a2, arguments[3] = a3, arguments[4] = a4, arguments[5] = a5;
        // (a fault's PCache and OPLog object, fault() below)
        if (function == k_mm_fault && a3) arguments[3] = __atomic_load_n(&g_paging_view, __ATOMIC_ACQUIRE);
    };
    u64 arguments[6];
    if (linked) {
        arguments_now(arguments);
        (void)managers::call({nullptr, nullptr, nullptr, kLinked}, function, arguments, {}, &result);
        return static_cast<i64>(result);
    }
    i64 status = tessera::kErrDead;
    for (int attempt = 0; attempt < 2; ++attempt) {
        u32 generation = enter();
        if (__atomic_add_fetch(&g_calls, 1, __ATOMIC_RELAXED) == g_fault_test_at && (g_where.domain || g_where.service))
            [[unlikely]]
            fault_test();
        arguments_now(arguments);
        status = call_once(function, arguments, &result);
        leave();
        if (status != tessera::kErrCalleeFailed && status != tessera::kErrDead) [[likely]]
            break;
        if (!restart_after(generation)) break;
    }
    if (status != tessera::kOk) [[unlikely]] {
        // A manager that died halfway through a change left the sequence odd: the fault path
        // would wait for it forever. The layout stays as far as it got. (Only a change
        // writes, and the caller's vm_writer keeps any other change of this VSpace out.)
        u32 sequence = __atomic_load_n(&vs.sequence, __ATOMIC_RELAXED);
        if (function != k_mm_fault && (sequence & 1)) __atomic_store_n(&vs.sequence, sequence + 1, __ATOMIC_RELEASE);
        return failed(function, status);
    }
    return static_cast<i64>(result);
}

// --- placing the manager ---------------------------------------------------------------

// The functions of `module`, by name; false when one is missing or outside the domain.
bool find_exports(ic1::Domain& domain) {
    const tessera::service::Module& module = domain.module();
    for (usize i = 0; i < kExportCount; ++i) {
        g_functions[i] = 0;
        for (u64 e = 0; e < module.count; ++e)
            if (StringView(module.entries[e].name) == StringView(kExportNames[i]) &&
                domain.contains(reinterpret_cast<uptr>(module.entries[e].handler), 1))
                g_functions[i] = reinterpret_cast<uptr>(module.entries[e].handler);
        if (!g_functions[i]) return false;
    }
    return true;
}

bool attach_module(bool may_coalesce) {
    if (service_isolation_class("memory-manager") != config::kIC1) return false;
    if (may_coalesce && services_coalesced("memory-manager", "fs")) {
        ic1::Domain* fs = fsc::domain();
        if (!fs || !find_exports(*fs)) {
            LOG_ERROR("mm: the manifest coalesces the memory manager with the FS at IC1, but the FS %s: linked in "
                      "instead",
                      fs ? "module does not export the manager's functions" : "is not in a module");
            return false;
        }
        g_where.domain = fs;
        g_coalesced = true;
        return true;
    }
    const BootInfo& boot = boot_info();
    const char* why = nullptr;
    Result<loader::CpioEntry> file =
        loader::cpio_find(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, "lib/memory.ic1", &why);
    if (!file.ok()) {
        LOG_ERROR("mm: the manifest places the memory manager at IC1 but lib/memory.ic1 is not in the boot archive: "
                  "linked in instead");
        return false;
    }
    Result<ic1::Domain*> loaded = ic1::load_module("memory", file.value().data, file.value().size);
    if (!loaded.ok()) {
        LOG_ERROR("mm: the memory manager module did not load: linked in instead");
        return false;
    }
    if (!find_exports(*loaded.value())) {
        LOG_ERROR("mm: the memory manager module does not export manager.hpp's functions: linked in instead");
        loaded.value()->kill("export table mismatch");
        return false;
    }
    g_where.domain = loaded.value();
    return true;
}

// --- the manager's part of kernel paging ------------------------------------------------

// Whether `program` is (still) the IC2 manager.
bool still_the_manager(Process& program) {
    Service* entry = __atomic_load_n(&g_program.entry, __ATOMIC_ACQUIRE);
    return entry && &entry->owner() == &program && !program.dead();
}

// One round: the manager folds the OPLog records it has not folded yet and answers how many
// pages the PCache needs, which the kernel then zeroes and adds. Not through the door's
// retry: a worker never restarts the manager (at IC2 it is one of the manager's own
// threads); a failed round drops its records (the manager's counts miss them). `lender`:
// the IC2 program whose thread runs the round, which must still be the manager once
// through the door (a restart may have replaced it meanwhile).
bool paging_round(Process* lender = nullptr) {
    u64 from, to;
    if (!__atomic_load_n(&g_paging_view, __ATOMIC_ACQUIRE) || !mm::claim_oplog(&from, &to)) return true;
    u64 refill = 0;
    i64 status = tessera::kErrDead;
    enter();
    if (!lender || still_the_manager(*lender)) {
        u64 arguments[6] = {__atomic_load_n(&g_paging_view, __ATOMIC_ACQUIRE), from, to, 0, 0, 0};
        status = call_once(k_mm_paging, arguments, &refill);
    }
    leave();
    mm::oplog_handed_back();
    if (status == tessera::kOk) mm::refill_pcache(min<u64>(refill, memory::kPCacheSlots));
    mm::fold_oplog();
    return status == tessera::kOk;
}

// Woken when the PCache runs low or half the OPLog waits; else now and then, so that the
// last records of a burst are folded too.
constexpr u64 kPagingPeriod = 50 * kNsPerMs;

bool paging_wanted_now() {
    return mm::wait_paging_wanted(uptime_ns() + kPagingPeriod) || mm::paging_stats().unfolded;
}

void paging_worker(void*) {
    bool said = false;
    for (;;) {
        if (!paging_wanted_now() || paging_round()) continue;
        if (!said) LOG_WARN("mm: the memory manager failed a paging round: its OPLog records were dropped");
        said = true;
        sleep_ns(10 * kNsPerMs);  // (until a call restarts it)
    }
}

enum HostOp : u64 { kAttach = 0, kPagingWorker = 1 };  // ic2_program.cpp's
Process* g_starting = nullptr;                          // the IC2 manager being started

// The IC2 manager's first thread, lent to the kernel as its paging worker, at the lowest
// priority a program's thread runs at (off the critical path). Returns when the manager
// fails a round or its process is no longer the manager.
i64 lend_paging_worker(Process& self) {
    thread_set_priority(current_thread(), kPriorityIdle + 1);
    while (still_the_manager(self))
        if (paging_wanted_now() && !paging_round(&self)) break;
    return -linux_errno::kEIO;
}

// The manager program's host operations, from its own thread: its entry (once), after which
// the kernel calls it; then that thread, as the paging worker.
i64 program_host(u64 op, u64 a, u64, u64, u64) {
    UserContext* u = current_thread()->user;
    Process& self = *u->domain;
    if (u->depth || self.dead()) return -linux_errno::kEPERM;
    if (op == kPagingWorker) {
        if (!still_the_manager(self) || !mm::paging_object()) return -linux_errno::kEPERM;
        return lend_paging_worker(self);
    }
    if (__atomic_load_n(&g_program.entry, __ATOMIC_ACQUIRE)) return -linux_errno::kEPERM;
    if (op != kAttach) return -linux_errno::kENOSYS;
    Process* none = nullptr;  // (the spawning thread may not know the process yet)
    if (!__atomic_compare_exchange_n(&g_starting, &none, &self, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return -linux_errno::kEPERM;
    return managers::attach(g_program, self, a);
}

bool start_program() {
    if (service_isolation_class("memory-manager") != config::kIC2) return false;
    __atomic_store_n(&g_starting, nullptr, __ATOMIC_RELEASE);  // (a restart's predecessor is dead)
    __atomic_store_n(&g_program.entry, nullptr, __ATOMIC_RELEASE);
    if (!managers::start(g_program, "bin/memory-service", program_host)) return false;
    g_where.service = g_program.entry;
    return true;
}

}  // namespace

void boot() {
    (void)kernel_command_line().get_u64("mm.fault_test", &g_fault_test_at);
    if (!attach_module(true)) (void)start_program();
    __atomic_store_n(&g_paging_view, grant_paging(), __ATOMIC_RELEASE);
    // At IC2 the program lends a thread of its own (kPagingWorker).
    if (mm::paging_object() && !g_where.service) {
        Thread* worker = thread_create("mm-paging", paging_worker, nullptr, kPriorityIdle + 1);
        if (worker) thread_start(worker);
    }
    LOG_INFO("mm: the memory manager runs %s; each process's VSpace is granted to it",
             g_coalesced ? "in the FS's PKS domain (IC1, coalesced)"
             : g_where.domain  ? "in its own PKS domain (IC1)"
             : g_where.service ? "in its own process (IC2)"
                         : "linked into the kernel (IC0)");
}

const char* placement() {
    return g_coalesced ? "IC1 (coalesced with the FS)" : g_where.domain ? "IC1" : g_where.service ? "IC2" : "IC0";
}

memory::VSpace* vspace(u32 slot) {
    if (slot >= pm::kSlots) return nullptr;
    if (memory::VSpace* vs = __atomic_load_n(&g_spaces[slot].kernel, __ATOMIC_ACQUIRE)) return vs;
    Result<u64> pages = mm::alloc_pages_phys(kVSpaceOrder);  // zeroed: no ranges
    if (!pages.ok()) return nullptr;
    IrqSpinLockGuard guard(g_spaces_lock);
    if (g_spaces[slot].kernel) {  // (a slot has one process at a time: not expected)
        mm::free_pages_phys(pages.value(), kVSpaceOrder);
        return g_spaces[slot].kernel;
    }
    uptr view = grant(slot, pages.value());
    if (!view) {
        mm::free_pages_phys(pages.value(), kVSpaceOrder);
        return nullptr;
    }
    g_spaces[slot].phys = pages.value();
    set_view(slot, view);
    __atomic_store_n(&g_spaces[slot].kernel, arch::phys_to_ptr<memory::VSpace>(pages.value()), __ATOMIC_RELEASE);
    return g_spaces[slot].kernel;
}

i64 reset(u32 slot, u64 brk_start) { return call(k_mm_reset, slot, brk_start); }
i64 map(u32 slot, u64 start, u64 length, u64 attributes, u64 offset, u64 as_limit) {
    return call(k_mm_map, slot, start, length, attributes, offset, as_limit);
}
i64 unmap(u32 slot, u64 start, u64 length) { return call(k_mm_unmap, slot, start, length); }
i64 protect(u32 slot, u64 start, u64 length, u64 prot) { return call(k_mm_protect, slot, start, length, prot); }
i64 brk(u32 slot, u64 want, u64 data_limit, u64 as_limit) { return call(k_mm_brk, slot, want, data_limit, as_limit); }
i64 remap(u32 slot, u64 old, u64 old_size, u64 new_size, u64 destination, u64 as_limit) {
    return call(k_mm_remap, slot, old, old_size, new_size, destination, as_limit);
}
i64 copy(u32 to, u32 from) { return call(k_mm_copy, to, 0, 0, 0, 0, 0, from); }
i64 fault(u32 slot, u64 address, u64 state, bool may_enter) {
    // A fault that found the PCache empty (or the OPLog full) hands the manager the records
    // it has not folded, when it goes to the manager itself.
    u64 from = 0, to = 0;
    bool handed = (state & memory::kFaultPCacheEmpty) && may_enter && callable() &&
                  __atomic_load_n(&g_paging_view, __ATOMIC_ACQUIRE) && mm::claim_oplog(&from, &to);
    i64 answer = call(k_mm_fault, slot, address, state, handed, from, to, pm::kNoSlot, !may_enter);
    if (handed) mm::oplog_handed_back();
    return answer;
}

}  // namespace kernel::shim::mmc
