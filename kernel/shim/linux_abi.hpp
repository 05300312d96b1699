#pragma once
// The parts of the Linux x86-64 ABI the shim speaks: errno values and structure layouts,
// as in Debian's linux-libc-dev headers (written out here: the kernel includes no host
// headers).

#include "lib/types.hpp"

namespace kernel::shim {

namespace linux_errno {
inline constexpr i64 kEPERM = 1, kENOENT = 2, kESRCH = 3, kEINTR = 4, kEIO = 5, kE2BIG = 7, kENOEXEC = 8, kEBADF = 9,
                     kECHILD = 10, kEAGAIN = 11, kENOMEM = 12, kEACCES = 13, kEFAULT = 14, kEBUSY = 16, kEEXIST = 17,
                     kENOTDIR = 20, kEISDIR = 21, kEINVAL = 22, kEMFILE = 24, kENOTTY = 25, kESPIPE = 29,
                     kEPIPE = 32, kENODEV = 19, kETIMEDOUT = 110, kERANGE = 34, kEDEADLK = 35, kEOVERFLOW = 75, kENAMETOOLONG = 36, kENOSYS = 38, kELOOP = 40;
// Internal: a blocking call interrupted by a signal; becomes EINTR or a restart of the call,
// depending on the handler's SA_RESTART (Linux's ERESTARTSYS). Never seen by user code.
inline constexpr i64 kERestartSys = 512;
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
inline constexpr u64 kMapShared = 0x01, kMapPrivate = 0x02, kMapFixed = 0x10, kMapAnonymous = 0x20, kMapNoreserve = 0x4000,
                     kMapFixedNoreplace = 0x100000;

// arch_prctl
inline constexpr u64 kArchSetFs = 0x1002, kArchGetFs = 0x1003, kArchSetGs = 0x1001, kArchGetGs = 0x1004;

// auxv
inline constexpr u64 kAtNull = 0, kAtPhdr = 3, kAtPhent = 4, kAtPhnum = 5, kAtPagesz = 6, kAtEntry = 9,
                     kAtUid = 11, kAtEuid = 12, kAtGid = 13, kAtEgid = 14, kAtSecure = 23, kAtRandom = 25,
                     kAtExecfn = 31;

}  // namespace kernel::shim
