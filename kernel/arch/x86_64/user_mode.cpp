#include "arch/user.hpp"

#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/interrupts.hpp"
#include "lib/string.hpp"

extern "C" void syscall_entry();
extern "C" void trap_return();

namespace arch {
namespace {
u64 g_xcr0 = 0;
usize g_fpu_size = 512 + 64;

inline void stac() {
    if (g_cpu_features.smap) asm volatile("stac" : : : "memory");
}
inline void clac() {
    if (g_cpu_features.smap) asm volatile("clac" : : : "memory");
}

struct CopyRequest {
    void* dst;
    const void* src;
    usize length;
};
void do_copy(void* arg) {
    auto* r = static_cast<CopyRequest*>(arg);
    stac();
    memcpy(r->dst, r->src, r->length);
    clac();
}
bool user_range_ok(u64 va, usize length) {
    return length <= 0x0000800000000000 && va <= 0x0000800000000000 - length;
}
}  // namespace

void user_access_begin() { stac(); }
void user_access_end() { clac(); }

void syscall_init_cpu() {
    wrmsr(msr::kEfer, rdmsr(msr::kEfer) | 1);  // SCE
    // SYSCALL loads CS = STAR[47:32], SS = +8; SYSRET loads CS = STAR[63:48] + 16, SS = +8.
    wrmsr(msr::kStar, (u64{0x18 | 3} << 48) | (u64{selector::kKernelCode} << 32));
    wrmsr(msr::kLstar, reinterpret_cast<u64>(syscall_entry));
    // Clear IF (entry runs with interrupts off until on the kernel stack), DF, TF, AC.
    wrmsr(msr::kFmask, (1u << 9) | (1u << 10) | (1u << 8) | (1u << 18));
}

void fpu_init_cpu() {
    // User code may use x87/SSE/AVX (the kernel, built -mgeneral-regs-only, never does):
    // CR0.MP on, EM and TS off; CR4.OSFXSR and OSXMMEXCPT on.
    write_cr0((read_cr0() | (1u << 1)) & ~u64{(1u << 2) | (1u << 3)});
    write_cr4(read_cr4() | (1u << 9) | (1u << 10));
    if (!g_cpu_features.xsave) return;
    write_cr4(read_cr4() | (1u << 18));  // OSXSAVE
    if (!g_xcr0) {
        CpuidResult d = cpuid(0xd, 0);
        u64 supported = (u64{d.edx} << 32) | d.eax;
        g_xcr0 = supported & 0x7;  // x87, SSE, AVX
        asm volatile("xsetbv" : : "c"(0), "a"(static_cast<u32>(g_xcr0)), "d"(static_cast<u32>(g_xcr0 >> 32)));
        g_fpu_size = cpuid(0xd, 0).ebx;  // size for the components enabled in XCR0
        return;
    }
    asm volatile("xsetbv" : : "c"(0), "a"(static_cast<u32>(g_xcr0)), "d"(static_cast<u32>(g_xcr0 >> 32)));
}

usize fpu_area_size() { return g_fpu_size; }

void fpu_init_area(u8* area) {
    memset(area, 0, g_fpu_size);
    *reinterpret_cast<u16*>(area) = 0x37f;        // FCW default
    *reinterpret_cast<u32*>(area + 24) = 0x1f80;  // MXCSR default
}

void fpu_save(u8* area) {
    if (g_xcr0)
        asm volatile("xsave64 (%0)" : : "r"(area), "a"(static_cast<u32>(g_xcr0)), "d"(static_cast<u32>(g_xcr0 >> 32)) : "memory");
    else
        asm volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

void fpu_sanitize(u8* area) {
    // The fields XRSTOR/FXRSTOR fault on: MXCSR reserved bits, and for XSAVE's header,
    // components not enabled in XCR0, a compacted-format flag and reserved bytes.
    auto* mxcsr = reinterpret_cast<u32*>(area + 24);
    *mxcsr &= 0xffbf;
    if (g_xcr0) {
        auto* header = reinterpret_cast<u64*>(area + 512);
        header[0] &= g_xcr0;
        for (int i = 1; i < 8; ++i) header[i] = 0;
    }
}

void fpu_restore(const u8* area) {
    if (g_xcr0)
        asm volatile("xrstor64 (%0)" : : "r"(area), "a"(static_cast<u32>(g_xcr0)), "d"(static_cast<u32>(g_xcr0 >> 32)) : "memory");
    else
        asm volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

void make_user_frame(TrapFrame* f, u64 rip, u64 rsp, u64 arg) {
    // Every register the kernel does not set is zero (nothing of the kernel's leaks). One
    // string store: this runs on every upcall.
    static_assert(sizeof(*f) % 8 == 0);
    u64* words = reinterpret_cast<u64*>(f);
    usize count = sizeof(*f) / 8;
    asm volatile("rep stosq" : "+D"(words), "+c"(count) : "a"(0) : "memory");
    f->rip = rip;
    f->cs = selector::kUserCode;
    f->rflags = 0x202;  // IF
    f->rsp = rsp;
    f->ss = selector::kUserData;
    f->rdi = arg;
}

void enter_user(TrapFrame* frame) {
    disable_interrupts();
    asm volatile("mov %0, %%rsp\n"
                 "jmp trap_return\n"
                 :
                 : "r"(frame)
                 : "memory");
    __builtin_unreachable();
}

void set_user_fs_base(u64 base) { wrmsr(msr::kFsBase, base); }
// In the kernel the user's GS base sits in KERNEL_GS_BASE (swapgs exchanges them).
void set_user_gs_base(u64 base) { wrmsr(msr::kKernelGsBase, base); }
u64 user_fs_base() { return rdmsr(msr::kFsBase); }
u64 user_gs_base() { return rdmsr(msr::kKernelGsBase); }

bool copy_from_user(void* dst, u64 user_src, usize length) {
    if (!user_range_ok(user_src, length)) return false;
    CopyRequest r{dst, reinterpret_cast<const void*>(user_src), length};
    FaultRecovery recovery;
    return !call_with_fault_recovery(recovery, do_copy, &r);
}

bool copy_to_user(u64 user_dst, const void* src, usize length) {
    if (!user_range_ok(user_dst, length)) return false;
    CopyRequest r{reinterpret_cast<void*>(user_dst), src, length};
    FaultRecovery recovery;
    return !call_with_fault_recovery(recovery, do_copy, &r);
}

namespace {
struct CompareExchangeRequest {
    u32* word;
    u32 expected, desired, seen;
};

void do_compare_exchange(void* arg) {
    auto* r = static_cast<CompareExchangeRequest*>(arg);
    stac();
    u32 seen = r->expected;
    __atomic_compare_exchange_n(r->word, &seen, r->desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    clac();
    r->seen = seen;
}
}  // namespace

bool compare_exchange_user(u64 user_word, u32 expected, u32 desired, u32* seen) {
    if (user_word % 4 || !user_range_ok(user_word, 4)) return false;
    CompareExchangeRequest r{reinterpret_cast<u32*>(user_word), expected, desired, 0};
    FaultRecovery recovery;
    if (call_with_fault_recovery(recovery, do_compare_exchange, &r)) return false;
    *seen = r.seen;
    return true;
}

}  // namespace arch
