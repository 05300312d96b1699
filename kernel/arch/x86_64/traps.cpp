// Exception and interrupt dispatch. Kernel faults either resume at a FaultRecovery point
// the current thread registered, or panic with registers and a symbolized backtrace.

#include "arch/cpu.hpp"
#include "arch/interrupts.hpp"
#include "arch/lapic.hpp"
#include "debug/log.hpp"
#include "debug/panic.hpp"
#include "debug/symbols.hpp"
#include "lib/format.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"

namespace arch {
namespace {

InterruptHandler g_handlers[256];

const char* const kExceptionNames[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
    "#SX security", "reserved"};

void describe_page_fault(const TrapFrame& f, u64 cr2) {
    u64 e = f.error_code;
    kernel::kprintf("page fault at %p: %s %s in %s mode%s%s%s\n", reinterpret_cast<void*>(cr2),
                    (e & 1) ? "protection violation on" : "non-present page on",
                    (e & 16) ? "instruction fetch" : (e & 2) ? "write" : "read", (e & 4) ? "user" : "kernel",
                    (e & 8) ? ", reserved bit set" : "", (e & 32) ? ", protection key (PK)" : "",
                    (e & (1 << 15)) ? ", SGX" : "");
}

[[noreturn]] void fatal_exception(TrapFrame& f) {
    kernel::console_enter_panic_mode();
    u64 cr2 = read_cr2();
    kernel::kprintf("\n*** KERNEL FAULT on cpu%u: %s (vector %llu, error 0x%llx)\n", kernel::current_cpu_index(),
                    f.vector < 32 ? kExceptionNames[f.vector] : "interrupt",
                    static_cast<unsigned long long>(f.vector), static_cast<unsigned long long>(f.error_code));
    if (f.vector == vector::kPageFault) describe_page_fault(f, cr2);
    kernel::SymbolLookup at = kernel::symbolize(f.rip);
    kernel::kprintf("rip %016llx  %s+0x%lx\n", static_cast<unsigned long long>(f.rip), at.name ? at.name : "?",
                    static_cast<unsigned long>(at.offset));
    kernel::kprintf("rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", (unsigned long long)f.rax,
                    (unsigned long long)f.rbx, (unsigned long long)f.rcx, (unsigned long long)f.rdx);
    kernel::kprintf("rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n", (unsigned long long)f.rsi,
                    (unsigned long long)f.rdi, (unsigned long long)f.rbp, (unsigned long long)f.rsp);
    kernel::kprintf("r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n", (unsigned long long)f.r8,
                    (unsigned long long)f.r9, (unsigned long long)f.r10, (unsigned long long)f.r11);
    kernel::kprintf("r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n", (unsigned long long)f.r12,
                    (unsigned long long)f.r13, (unsigned long long)f.r14, (unsigned long long)f.r15);
    kernel::kprintf("cs %04llx ss %04llx rflags %08llx cr2 %016llx cr3 %016llx\n", (unsigned long long)f.cs,
                    (unsigned long long)f.ss, (unsigned long long)f.rflags, (unsigned long long)cr2,
                    (unsigned long long)read_cr3());
    if (f.rsp >= 0xffff800000000000 && (f.rsp & 7) == 0) {
        auto* stack = reinterpret_cast<const u64*>(f.rsp);
        kernel::kprintf("stack: %016llx %016llx %016llx %016llx\n", (unsigned long long)stack[0],
                        (unsigned long long)stack[1], (unsigned long long)stack[2], (unsigned long long)stack[3]);
    }
    kernel::print_backtrace(f.rip, f.rbp);
    kernel::panic("unrecoverable %s in kernel", f.vector < 32 ? kExceptionNames[f.vector] : "interrupt");
}

bool try_recover(TrapFrame& f) {
    kernel::Thread* t = kernel::current_thread();
    if (!t || !t->fault_recovery) return false;
    FaultRecovery* r = t->fault_recovery;
    // NMI, #DF and #MC are never recoverable: they say nothing about the code that ran.
    if (f.vector == 2 || f.vector == 8 || f.vector == 18) return false;
    // Say what happened even though it is recovered: the report is the same as a fatal
    // one, minus the panic.
    kernel::SymbolLookup at = kernel::symbolize(f.rip);
    LOG_DEBUG("recovered %s at %s+0x%lx (rip %p)", kExceptionNames[f.vector], at.name ? at.name : "?",
             static_cast<unsigned long>(at.offset), reinterpret_cast<void*>(f.rip));
    r->faulted = true;
    r->vector = f.vector;
    r->error_code = f.error_code;
    f.pkrs = 0;  // resume in kernel code with the kernel's rights, even if an IC1 service faulted
    r->fault_address = f.vector == vector::kPageFault ? read_cr2() : 0;
    r->fault_rip = f.rip;
    f.rip = r->resume_rip;
    f.rflags &= ~(u64{1} << 18);  // AC: a fault inside a user copy must not leave SMAP open
    f.rsp = r->resume_rsp;
    f.rbp = r->resume_rbp;
    return true;
}

}  // namespace

void set_interrupt_handler(u8 vec, InterruptHandler handler) { g_handlers[vec] = handler; }

extern "C" bool arch_call_with_fault_recovery(FaultRecovery* recovery, void (*fn)(void*), void* arg);

bool call_with_fault_recovery(FaultRecovery& recovery, void (*fn)(void*), void* arg) {
    kernel::Thread* t = kernel::current_thread();
    recovery = {};
    arch::FaultRecovery* outer = t->fault_recovery;
    t->fault_recovery = &recovery;
    bool faulted = arch_call_with_fault_recovery(&recovery, fn, arg);
    t->fault_recovery = outer;
    return faulted;
}

const char* exception_name(u64 vec) { return vec < 32 ? kExceptionNames[vec] : "interrupt"; }

}  // namespace arch

namespace kernel {
void prepare_return_to_user(arch::TrapFrame& frame);
void handle_user_exception(arch::TrapFrame& frame, u64 fault_address);
bool resolve_kernel_access_fault(u64 address, u64 error_code, bool interrupts_were_on);
}

extern "C" void trap_dispatch(arch::TrapFrame* frame) {
    using namespace arch;
    TrapFrame& f = *frame;
    if (f.vector < 32) {
        if (f.vector == 2 && g_handlers[2]) {
            g_handlers[2](f);  // NMI: the panic path uses it to stop other CPUs
            return;
        }
        if (f.from_user()) {
            kernel::handle_user_exception(f, f.vector == vector::kPageFault ? read_cr2() : 0);
            kernel::prepare_return_to_user(f);
            return;
        }
        // The kernel touching user memory the memory manager has not mapped yet (a lazily
        // allocated or copy-on-write page): map it and retry the access.
        if (f.vector == vector::kPageFault &&
            kernel::resolve_kernel_access_fault(read_cr2(), f.error_code, (f.rflags & 0x200) != 0))  // RFLAGS.IF of the interrupted code
            return;
        if (try_recover(f)) return;
        fatal_exception(f);
    }
    kernel::current_cpu().interrupts++;
    if (f.vector != vector::kSpurious) {
        if (InterruptHandler h = g_handlers[f.vector])
            h(f);
        else
            LOG_WARN("unexpected interrupt vector %llu", static_cast<unsigned long long>(f.vector));
        lapic_eoi();
    }
    if (f.from_user())
        kernel::prepare_return_to_user(f);
    else
        kernel::preempt_on_interrupt_return();
}
