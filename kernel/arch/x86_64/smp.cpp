// SMP bring-up (INIT-SIPI-SIPI) and cross-CPU calls.

#include "arch/smp.hpp"

#include "arch/cpu.hpp"
#include "arch/interrupts.hpp"
#include "arch/lapic.hpp"
#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "lib/string.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "sync/spinlock.hpp"
#include "time/clock.hpp"

extern "C" char ap_trampoline_start[], ap_trampoline_end[];
extern "C" u64 ap_param_cr3, ap_param_efer, ap_param_entry, ap_param_count, ap_param_table[];

namespace arch {
namespace {

constexpr u64 kTrampolinePhys = 0x8000;

// Waits with the CPU halted between LAPIC timer ticks rather than spinning: under TCG a
// spinning BSP keeps the vCPU thread busy and the APs it is waiting for barely run.
template <typename Done>
void halt_until(u64 ns, Done done) {
    u64 end = rdtsc() + kernel::ns_to_tsc(ns);
    while (!done() && rdtsc() < end) {
        lapic_timer_oneshot(100 * 1000);
        asm volatile("sti; hlt; cli" : : : "memory");
    }
}

// One cross-CPU call at a time; the caller waits for every target to acknowledge. Each
// target has a flag as well as the IPI: a CPU that wants to make a call itself spins for
// the lock with interrupts off, so it answers the call in progress by its flag instead of
// by the interrupt (two callers would otherwise wait for each other forever).
kernel::SpinLock g_call_lock;
void (*g_call_fn)(void*) = nullptr;
void* g_call_arg = nullptr;
u32 g_call_pending = 0;
bool g_call_for[kernel::kMaxCpus] = {};

// Runs the call in progress on this CPU if it is one of its targets and has not yet.
void answer_call() {
    u32 self = kernel::current_cpu_index();
    if (!__atomic_exchange_n(&g_call_for[self], false, __ATOMIC_ACQ_REL)) return;
    g_call_fn(g_call_arg);
    __atomic_fetch_sub(&g_call_pending, 1, __ATOMIC_ACQ_REL);
}

void call_ipi_handler(TrapFrame&) { answer_call(); }

void (*g_help_for[kernel::kMaxCpus])() = {};

void help_ipi_handler(TrapFrame&) {
    if (void (*fn)() = __atomic_exchange_n(&g_help_for[kernel::current_cpu_index()], nullptr, __ATOMIC_ACQ_REL)) fn();
}

void halt_ipi_handler(TrapFrame&) { halt_forever(); }

}  // namespace

void smp_start_aps(ApEntry ap_entry) {
    set_interrupt_handler(vector::kIpiCall, call_ipi_handler);
    set_interrupt_handler(vector::kIpiHelp, help_ipi_handler);
    set_interrupt_handler(2, halt_ipi_handler);  // NMI from halt_other_cpus
    if (kernel::g_cpu_count <= 1) return;

    usize size = static_cast<usize>(ap_trampoline_end - ap_trampoline_start);
    u8* trampoline = phys_to_ptr<u8>(kTrampolinePhys);
    memcpy(trampoline, ap_trampoline_start, size);
    // The parameter block is addressed through the copy, at the same offsets.
    auto param = [&](u64* symbol) {
        return reinterpret_cast<u64*>(trampoline + (reinterpret_cast<u8*>(symbol) - reinterpret_cast<u8*>(ap_trampoline_start)));
    };
    *param(&ap_param_cr3) = read_cr3();
    *param(&ap_param_efer) = rdmsr(msr::kEfer);
    *param(&ap_param_entry) = reinterpret_cast<u64>(ap_entry);
    u64* table = param(ap_param_table);
    u64 count = 0;
    for (u32 i = 1; i < kernel::g_cpu_count; ++i) {
        kernel::Cpu& cpu = kernel::g_cpus[i];
        Result<u64> stack = kernel::mm::alloc_pages_phys(2);  // 16 KiB: the AP's idle stack
        if (!stack.ok()) {
            LOG_ERROR("smp: no memory for cpu%u's stack; leaving it offline", i);
            continue;
        }
        table[count * 3 + 0] = cpu.apic_id;
        table[count * 3 + 1] = phys_to_virt(stack.value()) + 4 * kPageSize;
        table[count * 3 + 2] = reinterpret_cast<u64>(&cpu);
        ++count;
    }
    *param(&ap_param_count) = count;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // INIT, then two STARTUPs, to every AP at once rather than one AP at a time: the
    // waits below are paid once, not per CPU.
    auto each_ap = [&](auto&& fn) {
        for (u32 i = 1; i < kernel::g_cpu_count; ++i) fn(kernel::g_cpus[i]);
    };
    auto all_online = [] { return __atomic_load_n(&kernel::g_cpus_online, __ATOMIC_ACQUIRE) == kernel::g_cpu_count; };
    each_ap([](kernel::Cpu& cpu) { lapic_send_init(cpu.apic_id); });
    // The 10 ms INIT settle time is for pre-P6 processors; like Linux, skip it on family 6
    // and later.
    u32 family = (cpuid(1).eax >> 8) & 0xf;
    if (family < 6) halt_until(10 * kernel::kNsPerMs, [] { return false; });
    for (int attempt = 0; attempt < 2 && !all_online(); ++attempt) {
        each_ap([](kernel::Cpu& cpu) {
            if (!__atomic_load_n(&cpu.online, __ATOMIC_ACQUIRE))
                lapic_send_startup(cpu.apic_id, static_cast<u8>(kTrampolinePhys >> 12));
        });
        halt_until(200 * 1000, all_online);
    }
    // TCG starts vCPUs slowly; give them up to a second of guest time.
    halt_until(kernel::kNsPerSec, all_online);
    each_ap([&](kernel::Cpu& cpu) {
        if (!__atomic_load_n(&cpu.online, __ATOMIC_ACQUIRE))
            LOG_ERROR("smp: cpu%u (APIC id %u) did not come online", cpu.index, cpu.apic_id);
    });
}

void smp_call_others(void (*fn)(void*), void* arg) TA_NO_THREAD_SAFETY_ANALYSIS {
    if (kernel::g_cpus_online <= 1) return;
    // Interrupts off for the whole call: no preemption or migration between choosing the
    // targets and waiting for them (a preempted caller holding the lock stalls every CPU).
    u64 flags = save_and_disable_interrupts();
    while (!g_call_lock.try_lock()) {
        answer_call();
        pause();
    }
    u32 self = kernel::current_cpu_index();
    u32 targets = 0;
    for (u32 i = 0; i < kernel::g_cpu_count; ++i)
        if (i != self && __atomic_load_n(&kernel::g_cpus[i].online, __ATOMIC_ACQUIRE)) ++targets;
    g_call_fn = fn;
    g_call_arg = arg;
    __atomic_store_n(&g_call_pending, targets, __ATOMIC_RELEASE);
    for (u32 i = 0; i < kernel::g_cpu_count; ++i)
        if (i != self && __atomic_load_n(&kernel::g_cpus[i].online, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&g_call_for[i], true, __ATOMIC_RELEASE);
            lapic_send_ipi(kernel::g_cpus[i].apic_id, vector::kIpiCall);
        }
    while (__atomic_load_n(&g_call_pending, __ATOMIC_ACQUIRE)) pause();
    g_call_lock.unlock();
    restore_interrupts(flags);
}

void smp_offer_help(void (*fn)()) {
    u32 self = kernel::current_cpu_index();
    for (u32 i = 0; i < kernel::g_cpu_count; ++i)
        if (i != self && __atomic_load_n(&kernel::g_cpus[i].online, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&g_help_for[i], fn, __ATOMIC_RELEASE);
            lapic_send_ipi(kernel::g_cpus[i].apic_id, vector::kIpiHelp);
        }
}

void smp_send_reschedule(u32 cpu_index) { lapic_send_ipi(kernel::g_cpus[cpu_index].apic_id, vector::kIpiReschedule); }

void halt_other_cpus() {
    u32 self = kernel::current_cpu_index();
    for (u32 i = 0; i < kernel::g_cpu_count; ++i)
        if (i != self && kernel::g_cpus[i].online) lapic_send_nmi(kernel::g_cpus[i].apic_id);
}

namespace {
struct ShootdownRequest {
    uptr va;
    usize pages;
};
void shootdown_local(void* arg) {
    auto* r = static_cast<ShootdownRequest*>(arg);
    if (r->pages > 64) {
        write_cr3(read_cr3());  // cheaper than many invlpg; global pages need CR4.PGE toggle
        u64 cr4 = read_cr4();
        write_cr4(cr4 & ~(1ull << 7));
        write_cr4(cr4);
    } else {
        for (usize i = 0; i < r->pages; ++i) flush_tlb_page(r->va + i * kPageSize);
    }
}
}  // namespace

void tlb_shootdown(uptr va, usize pages) {
    ShootdownRequest r{va, pages};
    shootdown_local(&r);
    smp_call_others(shootdown_local, &r);
}

}  // namespace arch
