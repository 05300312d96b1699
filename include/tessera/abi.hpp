#pragma once
// The native ABI shared by the kernel and user space: syscall numbers, status codes,
// handle rights and the structures syscalls exchange. Plain C++ with fixed-width types so
// both the freestanding kernel and user programs include it unchanged.

#include <stdint.h>

namespace tessera {

enum class Syscall : uint32_t {
#define TESSERA_SYSCALL(number, name, args) name = number,
#include "tessera/syscalls.def"
#undef TESSERA_SYSCALL
};

// Negative results. Kept separate from Linux errno values: the ABI shim translates.
enum Status : int64_t {
    kOk = 0,
    kErrNoSyscall = -1,
    kErrBadHandle = -2,     // not a handle of this process (closed, forged, revoked)
    kErrWrongType = -3,     // a handle to the wrong kind of object
    kErrAccessDenied = -4,  // the handle lacks a right the operation needs
    kErrInvalidArgs = -5,
    kErrNoMemory = -6,
    kErrFault = -7,         // a user pointer was bad
    kErrTimedOut = -8,
    kErrCalleeFailed = -9,  // the service faulted or exited during the call
    kErrTooDeep = -10,      // invocation stack full
    kErrNoResources = -11,  // handle table full, ...
    kErrDead = -12,         // the object is gone (service exited, ...)
};

enum Rights : uint32_t {
    kRightRead = 1 << 0,
    kRightWrite = 1 << 1,
    kRightDuplicate = 1 << 2,
    kRightTransfer = 1 << 3,
    kRightCall = 1 << 4,
    kRightSignal = 1 << 5,
    kRightWait = 1 << 6,
    kRightMap = 1 << 7,
    kRightManage = 1 << 8,
    kRightsAll = 0x1ff,
};

enum class ObjectType : uint8_t {
    Process = 1,
    AddressSpace,
    Thread,
    Service,
    Notification,
    MemoryRegion,
    Interrupt,
    IoPortRange,
    MmioRegion,
    Timer,
    KernelPage,  // a kernel object on a page of its own, grantable by address token
};

// service_create flags.
enum ServiceFlags : uint64_t {
    kServiceHot = 1 << 0,  // pre-bind one stack per calling thread (process, memory, FS)
};

// account_query(what, out).
enum AccountWhat : uint64_t {
    kAccountSelf = 0,  // the calling thread's process as root caller
};
struct AccountInfo {
    uint64_t cpu_ns;           // all CPU time of the process's threads, in services too
    uint64_t in_service_ns;    // time its outermost calls spent inside services (entry to return)
    uint64_t ipc_calls;        // calls its threads made (root calls and nested)
    uint64_t kernel_bytes;     // kernel memory charged to it (IPC stacks, objects)
    uint64_t user_pages;       // user pages charged to it: its memory, page cache it caused
};

// test_control(command, argument): hooks for the test suite.
enum TestCommand : uint64_t {
    kTestInjectAllocFailures = 1,  // fail the next N kernel page allocations
    kTestSetReclaimService = 2,    // (service handle): the kernel calls it when memory runs out
};

// process_info(what).
enum ProcessInfoWhat : uint64_t {
    kInfoPid = 0,
    kInfoThreadCount = 1,
    kInfoInvocationDepth = 2,  // frames on the calling thread's invocation stack
    kInfoCpu = 3,              // CPU the caller runs on
};

// First argument of a kernel-initiated call to the reclaim service (second: pages wanted).
inline constexpr uint64_t kReclaimRequest = 0x7265636c61696d;  // "reclaim"

inline constexpr uint64_t kIpcBufferSize = 4096;
inline constexpr uint64_t kMaxInvocationDepth = 16;

}  // namespace tessera
