// In-kernel tests of cross-CPU calls, TLB shootdown and the kernel fault report.

#include "arch/cpu.hpp"
#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "arch/smp.hpp"
#include "debug/log.hpp"
#include "debug/symbols.hpp"
#include "ktest/ktest.hpp"
#include "lib/string.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"

namespace kernel {
namespace {

bool cpu_online(u32 i) { return __atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE); }

// Runs fn(arg) in a thread pinned to `cpu`: smp_call_others excludes the calling CPU, so
// the caller must not migrate while it runs.
bool run_on_cpu(u32 cpu, ThreadEntry fn, void* arg) {
    Thread* t = thread_create("ktest-pinned", fn, arg, kPriorityDefault, u64{1} << cpu);
    if (!t) return false;
    thread_start(t);
    thread_join(t);
    return true;
}

// ---- cross-CPU calls -----------------------------------------------------------------

constexpr u32 kCallRounds = 20;

struct CallCheck {
    u32 caller;
    u32 hits[kMaxCpus];
    u32 interrupts_on;  // calls that ran with interrupts enabled (must be none: IPI context)
};

void count_call(void* arg) {
    auto& c = *static_cast<CallCheck*>(arg);
    __atomic_fetch_add(&c.hits[current_cpu_index()], 1, __ATOMIC_ACQ_REL);
    if (arch::interrupts_enabled()) __atomic_fetch_add(&c.interrupts_on, 1, __ATOMIC_ACQ_REL);
}

void call_from_here(void* arg) {
    auto& c = *static_cast<CallCheck*>(arg);
    c.caller = current_cpu_index();
    for (u32 round = 0; round < kCallRounds; ++round) arch::smp_call_others(count_call, &c);
}

KTEST(smp_call_others_once_per_cpu) {
    // Every CPU takes a turn as the caller.
    for (u32 caller = 0; caller < g_cpu_count; ++caller) {
        if (!cpu_online(caller)) continue;
        CallCheck c{};
        KASSERT_TRUE(run_on_cpu(caller, call_from_here, &c));
        KEXPECT_EQ(c.caller, caller);
        KEXPECT_EQ(c.interrupts_on, 0u);
        for (u32 i = 0; i < g_cpu_count; ++i) {
            // smp_call_others returns only after every target ran fn, so the counts are final.
            u32 expected = (i == caller || !cpu_online(i)) ? 0 : kCallRounds;
            if (c.hits[i] != expected)
                ctx.fail(__FILE__, __LINE__, "caller cpu%u: cpu%u ran the call %u times, expected %u", caller, i, c.hits[i],
                         expected);
        }
    }
}

// ---- TLB shootdown -------------------------------------------------------------------

// PML4 slot 416, 2 MiB above the mm test's page: nothing else maps here.
constexpr uptr kShootdownVa = 0xffffd00000200000;

struct TlbProbe {
    u64 seen[kMaxCpus];
};

void read_probe(void* arg) {
    auto& p = *static_cast<TlbProbe*>(arg);
    p.seen[current_cpu_index()] = *reinterpret_cast<volatile u64*>(kShootdownVa);
}

// Every online CPU reads the test address (this one directly, the rest by IPI), which
// also loads the translation into every TLB.
void read_on_all_cpus(TlbProbe& p) {
    for (u64& v : p.seen) v = 0;
    read_probe(&p);
    arch::smp_call_others(read_probe, &p);
}

struct ShootdownRun {
    u64 page_a, page_b;
    bool mapped_ok, remapped_ok, unmapped_ok;
    TlbProbe first, second;
};

void shootdown_body(void* arg) {
    auto& r = *static_cast<ShootdownRun*>(arg);
    arch::PageTable& pt = arch::kernel_page_table();
    r.mapped_ok = pt.map(kShootdownVa, r.page_a, arch::kPageRead).ok();
    if (!r.mapped_ok) return;
    read_on_all_cpus(r.first);
    // Retarget the address. unmap() flushes only this CPU: without the shootdown the
    // other CPUs keep translating to page A and read 1.
    Result<u64> old = pt.unmap(kShootdownVa);
    r.remapped_ok = old.ok() && old.value() == r.page_a && pt.map(kShootdownVa, r.page_b, arch::kPageRead).ok();
    arch::tlb_shootdown(kShootdownVa, 1);
    if (r.remapped_ok) read_on_all_cpus(r.second);
    Result<u64> last = pt.unmap(kShootdownVa);
    r.unmapped_ok = last.ok() && last.value() == r.page_b;
    arch::tlb_shootdown(kShootdownVa, 1);
}

KTEST(smp_tlb_shootdown) {
    KASSERT_TRUE(!arch::kernel_page_table().translate(kShootdownVa).ok());
    Result<u64> a = mm::alloc_page_phys();
    Result<u64> b = mm::alloc_page_phys();
    KASSERT_TRUE(a.ok() && b.ok());
    *arch::phys_to_ptr<u64>(a.value()) = 1;
    *arch::phys_to_ptr<u64>(b.value()) = 2;
    ShootdownRun r{};
    r.page_a = a.value();
    r.page_b = b.value();
    KASSERT_TRUE(run_on_cpu(current_cpu_index(), shootdown_body, &r));
    KEXPECT(r.mapped_ok);
    KEXPECT(r.remapped_ok);
    KEXPECT(r.unmapped_ok);
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!cpu_online(i)) continue;
        if (r.first.seen[i] != 1) ctx.fail(__FILE__, __LINE__, "cpu%u read %llu through page A", i, (unsigned long long)r.first.seen[i]);
        if (r.second.seen[i] != 2)
            ctx.fail(__FILE__, __LINE__, "cpu%u read %llu after the remap to page B (stale TLB entry)", i,
                     (unsigned long long)r.second.seen[i]);
    }
    mm::free_page_phys(a.value());
    mm::free_page_phys(b.value());
}

// ---- fault report --------------------------------------------------------------------

// Canonical, in the kernel half, never mapped (PML4 slot 416, far from the test pages).
constexpr uptr kUnmappedVa = 0xffffd000dead0000;
constexpr uptr kNonCanonicalVa = 0xdead000000000000;

// Not inlined and not static-folded: the report must name this very function.
[[gnu::noinline]] void ktest_fault_victim(void* bad) {
    *static_cast<volatile u64*>(bad) = 0x0bad0bad;
    asm volatile("" : : : "memory");  // keep the store (and this frame) where it is
}

bool contains(const char* haystack, const char* needle) {
    if (!haystack) return false;
    StringView h(haystack), n(needle);
    for (usize i = 0; i + n.length <= h.length; ++i)
        if (h.substr(i, n.length) == n) return true;
    return false;
}

KTEST(smp_fault_report_names_function) {
    KEXPECT(contains("kernel::ktest_fault_victim(void*)", "ktest_fault_victim"));  // the helper itself
    KEXPECT(!contains("kernel::ktest_fault(void*)", "ktest_fault_victim"));

    arch::FaultRecovery rec;
    // Unmapped canonical address: #PF, with CR2 naming the address.
    bool faulted = arch::call_with_fault_recovery(rec, ktest_fault_victim, reinterpret_cast<void*>(kUnmappedVa));
    KEXPECT(faulted);
    KEXPECT_EQ(rec.vector, u64{arch::vector::kPageFault});
    KEXPECT_EQ(rec.fault_address, kUnmappedVa);
    SymbolLookup at = symbolize(rec.fault_rip);
    if (!contains(at.name, "ktest_fault_victim"))
        ctx.fail(__FILE__, __LINE__, "fault rip %p symbolized as '%s', not ktest_fault_victim",
                 reinterpret_cast<void*>(rec.fault_rip), at.name ? at.name : "(none)");
    KEXPECT(arch::interrupts_enabled());

    // Non-canonical address: #GP (13), no fault address, same function.
    faulted = arch::call_with_fault_recovery(rec, ktest_fault_victim, reinterpret_cast<void*>(kNonCanonicalVa));
    KEXPECT(faulted);
    KEXPECT_EQ(rec.vector, u64{13});
    at = symbolize(rec.fault_rip);
    KEXPECT(contains(at.name, "ktest_fault_victim"));

    // A good pointer: no fault, and the recovery point is not left armed behind us.
    u64 fine = 0;
    faulted = arch::call_with_fault_recovery(rec, ktest_fault_victim, &fine);
    KEXPECT(!faulted);
    KEXPECT(!rec.faulted);
    KEXPECT_EQ(fine, u64{0x0bad0bad});
    KEXPECT(current_thread()->fault_recovery == nullptr);
}

}  // namespace
}  // namespace kernel
