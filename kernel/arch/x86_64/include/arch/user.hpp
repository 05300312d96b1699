#pragma once
// Entering and leaving user mode, and the per-thread user state the CPU holds.

#include "arch/trap_frame.hpp"
#include "lib/types.hpp"

namespace arch {

inline constexpr u64 kSyscallVector = 0x80;

// Programs STAR/LSTAR/FMASK and EFER.SCE on this CPU.
void syscall_init_cpu();
// XSAVE: enables OSXSAVE and XCR0 on this CPU (BSP first: it sizes the save area).
void fpu_init_cpu();
usize fpu_area_size();
// Fills a new save area with the initial state (MXCSR default, all components init).
void fpu_init_area(u8* area);
void fpu_save(u8* area);
void fpu_restore(const u8* area);
// Makes a save area that came from user memory (a signal frame) safe to restore.
void fpu_sanitize(u8* area);

// Starts user mode in the current thread at `frame` (built on its kernel stack).
[[noreturn]] void enter_user(TrapFrame* frame);
// Fills `frame` for a first entry to user mode at rip with rsp and one argument.
void make_user_frame(TrapFrame* frame, u64 rip, u64 rsp, u64 arg);

inline bool is_user_address(u64 va) { return va < 0x0000800000000000; }

// Opens (and closes) SMAP for plain loads and stores to user memory that the caller knows
// is mapped and cannot fault (pages it mapped itself), with interrupts off: the shim
// writing a call's arguments into an IC2 service's stack.
void user_access_begin();
void user_access_end();

void set_user_fs_base(u64 base);
void set_user_gs_base(u64 base);
u64 user_fs_base();
u64 user_gs_base();

// Copies to/from user memory with SMAP opened only for the copy; false if any byte faulted
// or the range is not in the user half.
[[nodiscard]] bool copy_from_user(void* dst, u64 user_src, usize length);
[[nodiscard]] bool copy_to_user(u64 user_dst, const void* src, usize length);
// Atomically replaces the aligned user word with `desired` if it holds `expected`; *seen
// gets the value it held (== expected when replaced). False if the word faulted.
[[nodiscard]] bool compare_exchange_user(u64 user_word, u32 expected, u32 desired, u32* seen);

}  // namespace arch
