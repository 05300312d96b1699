#pragma once
// What the file system service needs from whoever hosts it. The FS is written against
// this table only, so the same code runs linked into the kernel (the IC0 placement:
// kernel/shim/fs_host.cpp), as an IC1 module in a PKS domain (ic1_module.cpp, which
// forwards to the kernel's table through Runtime::host), as an IC2 program in a process of
// its own (ic2_program.cpp: the same module code, Runtime::host a syscall), and in host
// unit tests (tests/host), where the table is backed by malloc and no-op locking.
//
// Thread migration (paper §4.1) means the FS runs on the caller's thread: a read from an
// empty pipe blocks that thread inside the FS, which is what `wait` is for.

#include "lib/types.hpp"

namespace fs {

// Linux errno values the FS returns, negated (the shim passes them through unchanged).
namespace err {
inline constexpr i64 kEPERM = 1, kENOENT = 2, kEINTR = 4, kEIO = 5, kENXIO = 6, kE2BIG = 7, kENOEXEC = 8,
                     kEBADF = 9, kECHILD = 10, kEAGAIN = 11, kENOMEM = 12, kEACCES = 13, kEFAULT = 14,
                     kEBUSY = 16, kEEXIST = 17, kEXDEV = 18, kENODEV = 19, kENOTDIR = 20, kEISDIR = 21,
                     kEINVAL = 22, kENFILE = 23, kEMFILE = 24, kENOTTY = 25, kEFBIG = 27, kENOSPC = 28,
                     kESPIPE = 29, kEROFS = 30, kEMLINK = 31, kEPIPE = 32, kERANGE = 34, kEDEADLK = 35, kENAMETOOLONG = 36,
                     kENOLCK = 37, kENOSYS = 38, kENOTEMPTY = 39, kELOOP = 40;
}  // namespace err

struct WaitQueue;  // opaque: the host's

struct Env {
    // Zeroed memory; nullptr when there is none. `free` takes what `alloc` returned.
    void* (*alloc)(usize bytes);
    void (*free)(void* memory);
    // Wall-clock time for timestamps, nanoseconds since the epoch.
    u64 (*now_ns)();
    // The FS-wide lock (first step: one lock for the whole FS).
    void (*lock)();
    void (*unlock)();
    // Blocking. `wait` is called with the FS lock held; it releases the lock, sleeps until a
    // `wake_all` on the queue (or a spurious wakeup) and retakes the lock. It returns false
    // when the sleep was interrupted by a signal (the caller then returns -EINTR).
    WaitQueue* (*wait_create)();
    void (*wait_destroy)(WaitQueue* queue);
    bool (*wait)(WaitQueue* queue);
    void (*wake_all)(WaitQueue* queue);
    // Random bytes for /dev/random and /dev/urandom.
    void (*random)(void* buffer, usize length);
    // File data pages: the page cache. The memory manager maps them into programs, so they
    // are whole pages with a reference count: page_alloc returns a zeroed page holding one
    // reference (the file's), page_ref adds one to each of several (a mapping's: one call
    // for a fault-around's or a read's batch), page_free drops one and the
    // last frees the page. A page the file lets go of (truncate, unlink) lives on while a
    // mapping holds it.
    void* (*page_alloc)();
    void (*page_ref)(void* const* pages, usize count);  // one more on each; nullptr entries skipped
    void (*page_free)(void* page);
    // How many references the page has (1: only the file's). Reclaim drops only such pages:
    // a page a mapping or a reader holds stays.
    u32 (*page_holders)(void* page);
};

// Set once before any other FS call.
void set_env(const Env& env);
const Env& env();

}  // namespace fs
