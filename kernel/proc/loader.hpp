#pragma once
// Starting programs from the boot archive (the -initrd cpio): static ELF executables,
// classic or static-PIE, each in a new process.

#include "lib/result.hpp"
#include "lib/string.hpp"
#include "proc/process.hpp"

namespace kernel {

// Loads `path` from the boot archive into a new process and starts its first thread with
// `arg` in rdi. Failures are logged with the file name and what was wrong with it.
// `privileged`: the kernel's own boot programs (boot services, init) may create device
// objects; processes spawned by programs may not. `linux_args` (space-separated) become
// argv[1..] of a Linux program.
Result<RefPtr<Process>> spawn_from_boot_archive(StringView path, u64 arg, bool privileged,
                                                StringView linux_args = StringView());

// True when the boot archive holds `path`.
bool boot_archive_has(StringView path);

}  // namespace kernel
