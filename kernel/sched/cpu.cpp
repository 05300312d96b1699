#include "sched/cpu.hpp"

#include "arch/cpu.hpp"

namespace kernel {

Cpu g_cpus[kMaxCpus];
u32 g_cpu_count = 1;
u32 g_cpus_online = 0;

void cpu_install(Cpu& cpu) {
    cpu.self = &cpu;
    arch::wrmsr(arch::msr::kGsBase, reinterpret_cast<u64>(&cpu));
    // Until user mode exists the "other" GS base is also the kernel's, so a stray swapgs
    // cannot leave GS pointing at nothing.
    arch::wrmsr(arch::msr::kKernelGsBase, reinterpret_cast<u64>(&cpu));
}

u32 current_cpu_index() { return current_cpu().index; }

}  // namespace kernel
