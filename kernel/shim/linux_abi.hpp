#pragma once
// The parts of the Linux x86-64 ABI the shim speaks: errno values and structure layouts,
// as in Debian's linux-libc-dev headers (written out here: the kernel includes no host
// headers).

#include "lib/types.hpp"

namespace kernel::shim {

namespace linux_errno {
inline constexpr i64 kEPERM = 1;
inline constexpr i64 kENOENT = 2;
inline constexpr i64 kEBADF = 9;
inline constexpr i64 kENOMEM = 12;
inline constexpr i64 kEFAULT = 14;
inline constexpr i64 kEINVAL = 22;
inline constexpr i64 kENOTTY = 25;
inline constexpr i64 kENOSYS = 38;
}  // namespace linux_errno

struct LinuxIovec {
    u64 base;
    u64 length;
};

struct LinuxTimespec {
    i64 seconds;
    i64 nanoseconds;
};

struct LinuxUtsname {
    char sysname[65];
    char nodename[65];
    char release[65];
    char version[65];
    char machine[65];
    char domainname[65];
};

// mmap
inline constexpr u64 kProtRead = 1, kProtWrite = 2, kProtExec = 4;
inline constexpr u64 kMapShared = 0x01, kMapPrivate = 0x02, kMapFixed = 0x10, kMapAnonymous = 0x20;

// arch_prctl
inline constexpr u64 kArchSetFs = 0x1002, kArchGetFs = 0x1003, kArchSetGs = 0x1001, kArchGetGs = 0x1004;

// auxv
inline constexpr u64 kAtNull = 0, kAtPhdr = 3, kAtPhent = 4, kAtPhnum = 5, kAtPagesz = 6, kAtEntry = 9,
                     kAtUid = 11, kAtEuid = 12, kAtGid = 13, kAtEgid = 14, kAtSecure = 23, kAtRandom = 25,
                     kAtExecfn = 31;

}  // namespace kernel::shim
