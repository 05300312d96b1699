#pragma once
// Starting programs from the boot archive (the -initrd cpio): static ELF executables,
// classic or static-PIE, each in a new process.

#include "lib/result.hpp"
#include "lib/string.hpp"
#include "loader/elf.hpp"
#include "proc/process.hpp"

namespace kernel {

// Loads `path` from the boot archive into a new process and starts its first thread with
// `arg` in rdi. Failures are logged with the file name and what was wrong with it.
// `privileged`: the kernel's own boot programs (boot services, init) may create device
// objects; processes spawned by programs may not. `linux_args` (space-separated) become
// argv[1..] of a Linux program. `host`: the process is a service the kernel hosts
// (Process::service_host).
Result<RefPtr<Process>> spawn_from_boot_archive(StringView path, u64 arg, bool privileged,
                                                StringView linux_args = StringView(),
                                                Process::ServiceHost host = nullptr);

// Loads a static Linux program (elf_parse'd) into `space`, which holds no image: its
// segments, a stack with argv, envp and the auxiliary vector laid out as Linux does.
// Used for the first program and by execve. Failures set *why.
struct LinuxArguments {
    const char* const* argv;
    usize argc;
    const char* const* envp;
    usize envc;
    StringView exec_path;  // AT_EXECFN
};
struct LinuxEntry {
    uptr entry;
    uptr stack_pointer;
    uptr brk_start;  // end of the image, page aligned
    uptr bias;       // where a static-PIE image was placed (0 for a classic one)
    uptr stack_top;
};
// How far a Linux stack may grow (RLIMIT_STACK's default); only its top is mapped at exec.
inline constexpr usize kLinuxStackLimit = 8 * MiB;
// `map_segments` false leaves the segments to the caller (the memory manager maps them from
// the page cache on demand) and builds only the stack.
Result<LinuxEntry> load_linux_image(AddressSpace& space, const u8* file, usize size, const loader::ElfImage& image,
                                    const LinuxArguments& args, const char** why, bool map_segments = true);
// True when the program carries Tessera's ELF note (a native program).
bool is_native_program(const u8* file, usize size);

// True when the boot archive holds `path`.
bool boot_archive_has(StringView path);

}  // namespace kernel
