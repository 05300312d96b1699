#include "arch/cpu.hpp"

namespace arch {

CpuFeatures g_cpu_features;

void detect_cpu_features() {
    CpuidResult l1 = cpuid(1);
    CpuidResult l7 = cpuid(7, 0);
    u32 max_ext = cpuid(0x80000000).eax;
    CpuidResult e1 = max_ext >= 0x80000001 ? cpuid(0x80000001) : CpuidResult{};
    CpuidResult e7 = max_ext >= 0x80000007 ? cpuid(0x80000007) : CpuidResult{};
    CpuFeatures& f = g_cpu_features;
    f.pcid = l1.ecx & (1u << 17);
    f.x2apic = l1.ecx & (1u << 21);
    f.tsc_deadline = l1.ecx & (1u << 24);
    f.xsave = l1.ecx & (1u << 26);
    f.fsgsbase = l7.ebx & (1u << 0);
    f.smep = l7.ebx & (1u << 7);
    f.invpcid = l7.ebx & (1u << 10);
    f.smap = l7.ebx & (1u << 20);
    f.pks = l7.ecx & (1u << 31);
    f.nx = e1.edx & (1u << 20);
    f.pdpe1gb = e1.edx & (1u << 26);
    f.invariant_tsc = e7.edx & (1u << 8);
}

void enable_cpu_features() {
    const CpuFeatures& f = g_cpu_features;
    if (f.nx) wrmsr(msr::kEfer, rdmsr(msr::kEfer) | (1u << 11));
    write_cr0(read_cr0() | (1u << 16));  // WP: the kernel honours read-only pages too
    u64 cr4 = read_cr4();
    cr4 |= 1u << 7;  // PGE: kernel mappings are global
    if (f.fsgsbase) cr4 |= 1u << 16;
    if (f.pcid) cr4 |= 1u << 17;
    if (f.smep) cr4 |= 1u << 20;
    if (f.smap) cr4 |= 1u << 21;
    write_cr4(cr4);
}

}  // namespace arch
