#include "arch/pks.hpp"

#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "debug/panic.hpp"
#include "sched/cpu.hpp"

namespace arch {

namespace {
bool g_tagged = false;

void tag_range(uptr start, usize size) {
    for (uptr va = align_down<uptr>(start, kPageSize); va < start + size; va += kPageSize)
        if (!kernel_page_table().protect(va, kPageWrite | kPageGlobal | page_key(kCpuStructuresKey)).ok())
            kernel::panic("pks: cannot tag CPU structures at %p", reinterpret_cast<void*>(va));
}
}  // namespace

bool pks_available() { return g_cpu_features.pks; }

void pks_init_cpu() {
    if (!g_cpu_features.pks) return;
    if (!g_tagged) {
        tag_range(reinterpret_cast<uptr>(idt_page()), kPageSize);
        for (usize i = 0; i < kernel::kMaxCpus; ++i)
            tag_range(reinterpret_cast<uptr>(&kernel::g_cpus[i].arch), sizeof(CpuArchState));
        g_tagged = true;
    }
    wrmsr(msr::kPkrs, 0);
    write_cr4(read_cr4() | (1u << 24));
}

}  // namespace arch
