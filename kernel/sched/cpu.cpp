#include "sched/cpu.hpp"

#include "arch/cpu.hpp"

namespace kernel {

Cpu g_cpus[kMaxCpus];
u32 g_cpu_count = 1;
u32 g_cpus_online = 0;

void cpu_install(Cpu& cpu) {
    cpu.self = &cpu;
    arch::wrmsr(arch::msr::kGsBase, reinterpret_cast<u64>(&cpu));
    // While in the kernel, KERNEL_GS_BASE holds the user's GS base (swapgs swaps them).
    arch::wrmsr(arch::msr::kKernelGsBase, 0);
}

u32 current_cpu_index() { return current_cpu().index; }

}  // namespace kernel
