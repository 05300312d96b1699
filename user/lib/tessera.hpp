#pragma once
// The native user runtime: syscall stubs generated from include/tessera/syscalls.def,
// IPC helpers, a service-entry macro and a few freestanding utilities. Programs define
// `long main(unsigned long arg)`.

#include <stddef.h>
#include <stdint.h>

#include "tessera/abi.hpp"

namespace tessera {

struct SyscallResult {
    int64_t status;
    uint64_t words[6];
};

inline int64_t raw_syscall(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                           uint64_t a4 = 0, uint64_t a5 = 0) {
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    int64_t result;
    asm volatile("syscall"
                 : "=a"(result), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
                 : "a"(number)
                 : "rcx", "r11", "memory");
    return result;
}

// One function per native syscall: tessera::sys::<name>(args...) -> int64_t.
namespace sys {
#define TESSERA_SYSCALL(number, name, args)                                                          \
    inline int64_t name(uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, \
                        uint64_t a5 = 0) {                                                             \
        return raw_syscall(number, a0, a1, a2, a3, a4, a5);                                           \
    }
#include "tessera/syscalls.def"
#undef TESSERA_SYSCALL
}  // namespace sys

// A call with six words each way. The handle rides in rax's upper half.
inline SyscallResult call(uint64_t service, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                          uint64_t a4 = 0, uint64_t a5 = 0) {
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    int64_t status;
    uint64_t number = (service << 32) | static_cast<uint64_t>(Syscall::ipc_call);
    asm volatile("syscall"
                 : "=a"(status), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
                 : "a"(number)
                 : "rcx", "r11", "memory");
    return {status, {a0, a1, a2, r10, r8, r9}};
}

// What a service handler sees: six words in (overwritten with the six result words) and
// the pid of the root caller.
struct Message {
    uint64_t words[6];
    uint64_t caller_pid;
};
using Handler = void (*)(Message& message);

void print(const char* text);
void print_u64(uint64_t value);
void print_i64(int64_t value);
[[noreturn]] void exit(int64_t code);

inline size_t length_of(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}
inline int64_t spawn(const char* path, uint64_t arg = 0) { return sys::process_spawn(reinterpret_cast<uint64_t>(path), length_of(path), arg); }
inline int64_t publish(uint64_t service, const char* name) {
    return sys::service_publish(service, reinterpret_cast<uint64_t>(name), length_of(name));
}
// Looks a published service up, retrying while its process is still starting.
int64_t lookup(const char* name);

}  // namespace tessera

// Defines `entry_symbol`, a service entry point that runs `handler` and returns its
// message to the caller with ipc_return. The kernel enters it with rsp = 16n - 8.
#define TESSERA_SERVICE_ENTRY(entry_symbol, handler)                                          \
    extern "C" void entry_symbol();                                                          \
    extern "C" void entry_symbol##_dispatch(tessera::Message* m) { handler(*m); }             \
    asm(".text\n.globl " #entry_symbol "\n" #entry_symbol ":\n"                               \
        "  sub $56, %rsp\n"                                                                  \
        "  mov %rdi, 0(%rsp)\n  mov %rsi, 8(%rsp)\n  mov %rdx, 16(%rsp)\n"                  \
        "  mov %r10, 24(%rsp)\n  mov %r8, 32(%rsp)\n  mov %r9, 40(%rsp)\n  mov %rax, 48(%rsp)\n" \
        "  mov %rsp, %rdi\n"                                                                 \
        "  call " #entry_symbol "_dispatch\n"                                                \
        "  mov 0(%rsp), %rdi\n  mov 8(%rsp), %rsi\n  mov 16(%rsp), %rdx\n"                  \
        "  mov 24(%rsp), %r10\n  mov 32(%rsp), %r8\n  mov 40(%rsp), %r9\n"                  \
        "  mov $0x1022, %eax\n"                                                              \
        "  syscall\n"                                                                        \
        "  ud2\n")
