// The file system service built as an IC1 module (DESIGN §2, paper §4.2): the same FS
// sources, loaded by the kernel into a PKS domain of their own, where the FS can touch only
// its own pages. What the FS needs from its host (env.hpp) comes through Runtime::host
// (host_ops.hpp); the kernel calls the functions listed in exports.def directly, through
// the IC1 gate, with every pointer argument in the domain (kernel/shim/fs_client.cpp).
//
// Memory: the module's heap is pages from Runtime::alloc, carved into size classes here;
// page-cache pages come from the kernel (kPageAlloc), mapped into the domain's window.
// Every call into the module runs under the FS lock (the kernel takes it around each one),
// so the heap needs no lock of its own.

#include "fs/devfs.hpp"
#include "fs/host_ops.hpp"
#include "fs/initramfs.hpp"
#include "fs/pipe.hpp"
#include "fs/procfs.hpp"
#include "fs/vfs.hpp"
#include "memory/manager.hpp"
#include "lib/string.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
}

namespace fs::ic1 {
namespace {

using tessera::service::g_module;

i64 host(u64 op, u64 a = 0, u64 b = 0, u64 c = 0, u64 d = 0) { return g_module.runtime.host(op, a, b, c, d); }
template <typename T>
u64 word(T* pointer) {
    return reinterpret_cast<u64>(pointer);
}

// --- the heap ----------------------------------------------------------------------------
// Blocks carry a 16-byte header naming their class. Small classes (16 B .. 2 KiB, powers
// of two) come from 64 KiB chunks; larger blocks are whole pages, kept on a free list per
// page count up to kLargeClasses pages (beyond that they are not reused).

constexpr usize kHeader = 16;
constexpr usize kSmallClasses = 8;  // 16 << 0 .. 16 << 7 = 2048 bytes with the header
constexpr usize kChunk = 64 * KiB;
constexpr usize kLargeClasses = 64;

struct FreeBlock {
    FreeBlock* next;
};

FreeBlock* g_small[kSmallClasses];
FreeBlock* g_large[kLargeClasses + 1];
u8* g_chunk = nullptr;
usize g_chunk_left = 0;

void* heap_alloc(usize bytes) {
    usize total = bytes + kHeader;
    u64* header;
    if (total <= (usize{16} << (kSmallClasses - 1))) {
        usize cls = 0;
        while ((usize{16} << cls) < total) ++cls;
        usize size = usize{16} << cls;
        if (FreeBlock* b = g_small[cls]) {
            g_small[cls] = b->next;
            header = reinterpret_cast<u64*>(b);
        } else {
            if (g_chunk_left < size) {
                g_chunk = static_cast<u8*>(g_module.runtime.alloc(kChunk));
                if (!g_chunk) return nullptr;
                g_chunk_left = kChunk;
            }
            header = reinterpret_cast<u64*>(g_chunk);
            g_chunk += size;
            g_chunk_left -= size;
        }
        *header = cls;
        memset(reinterpret_cast<u8*>(header) + kHeader, 0, size - kHeader);
    } else {
        usize pages = (total + kPageSize - 1) / kPageSize;
        if (pages <= kLargeClasses && g_large[pages]) {
            FreeBlock* b = g_large[pages];
            g_large[pages] = b->next;
            header = reinterpret_cast<u64*>(b);
            memset(header, 0, pages * kPageSize);
        } else {
            header = static_cast<u64*>(g_module.runtime.alloc(pages * kPageSize));  // zeroed
            if (!header) return nullptr;
        }
        *header = kSmallClasses + pages;
    }
    return reinterpret_cast<u8*>(header) + kHeader;
}

void heap_free(void* memory) {
    if (!memory) return;
    u64* header = reinterpret_cast<u64*>(static_cast<u8*>(memory) - kHeader);
    u64 cls = *header;
    auto* b = reinterpret_cast<FreeBlock*>(header);
    if (cls < kSmallClasses) {
        b->next = g_small[cls];
        g_small[cls] = b;
        return;
    }
    usize pages = cls - kSmallClasses;
    if (pages <= kLargeClasses) {
        b->next = g_large[pages];
        g_large[pages] = b;
    }
}

// --- the Env ------------------------------------------------------------------------------

u64 now_ns() { return g_module.runtime.clock_ns(); }
// The kernel holds the FS's lock around every call into the module (fs_client.cpp), so the
// FS's own lock and unlock have nothing left to do: no gate round trip per FS call. Its
// sleeps (kWait) still release and retake it.
void lock() {}
void unlock() {}
WaitQueue* wait_create() { return reinterpret_cast<WaitQueue*>(host(kWaitCreate)); }
void wait_destroy(WaitQueue* q) { host(kWaitDestroy, word(q)); }
bool wait(WaitQueue* q) { return host(kWait, word(q)) != 0; }
void wake_all(WaitQueue* q) { host(kWakeAll, word(q)); }
void random(void* buffer, usize length) { host(kRandom, word(buffer), length); }
void* page_alloc() { return reinterpret_cast<void*>(host(kPageAlloc)); }
void page_ref(void* const* pages, usize count) { host(kPageRef, word(pages), count); }
void page_free(void* page) { host(kPageFree, word(page)); }
u32 page_holders(void* page) { return static_cast<u32>(host(kPageHolders, word(page))); }

const Env kEnv = {heap_alloc, heap_free, now_ns, lock, unlock, wait_create, wait_destroy, wait, wake_all,
                  random, page_alloc, page_ref, page_free, page_holders};

// --- the kernel's devices and procfs provider, by proxy -----------------------------------

struct RemoteDevice {
    u64 handle;  // the kernel's name for the device
    DeviceOps ops;
};
u64 handle_of(void* context) { return static_cast<RemoteDevice*>(context)->handle; }

i64 device_read(void* c, void* buffer, usize length, bool nonblock) {
    return host(kDeviceRead, handle_of(c), word(buffer), length, nonblock);
}
i64 device_write(void* c, const void* buffer, usize length, bool nonblock) {
    return host(kDeviceWrite, handle_of(c), word(buffer), length, nonblock);
}
i64 device_ioctl(void* c, u64 command, void* argument) { return host(kDeviceIoctl, handle_of(c), command, word(argument)); }
u32 device_poll(void* c) { return static_cast<u32>(host(kDevicePoll, handle_of(c))); }
i64 device_open(void* c, u32 flags) { return host(kDeviceOpen, handle_of(c), flags); }
void device_release(void* c, u32 flags) { host(kDeviceRelease, handle_of(c), flags); }

usize proc_list_pids(u32* out, usize max) { return static_cast<usize>(host(kProcListPids, word(out), max)); }
i64 proc_generate(u32 pid, const char* name, char* buffer, usize capacity) {
    return host(kProcGenerate, pid, word(name), word(buffer), capacity);
}
i64 proc_link(u32 pid, const char* name, char* buffer, usize capacity) {
    return host(kProcLink, pid, word(name), word(buffer), capacity);
}
usize proc_list_fds(u32 pid, u32* out, usize max) { return static_cast<usize>(host(kProcListFds, pid, word(out), max)); }

}  // namespace

i64 open_packed(OpenArguments* a) {
    i64 r = open(a->cwd, a->path, a->flags, a->perm, a->umask, *a->creds, &a->out);
    if (r >= 0) a->type = node_type(a->out);
    return r;
}

i64 mknod_packed(const MknodArguments* a) {
    return mknod(a->cwd, a->path, a->mode_and_type, a->umask, a->major, a->minor, *a->creds);
}

i64 mount_procfs_remote(const char* path) {
    return mount_procfs(path, ProcProvider{proc_list_pids, proc_generate, proc_link, proc_list_fds});
}

// What a FS gone wrong would do: write where the kernel says (its own memory, for the test).
void fault_for_test(volatile u64* target) { *target = 0xdead; }

// A FS busy for a while (fs.spin_test: whether the kernel still takes interrupts meanwhile).
void spin_for_test(u64 nanoseconds) {
    u64 end = g_module.runtime.clock_ns() + nanoseconds;
    while (g_module.runtime.clock_ns() < end) {
    }
}

// A device whose driver is the kernel's: `present` (host_ops.hpp) says which callbacks it
// has, so that missing ones keep devfs's defaults (EOF, EINVAL, ENOTTY, always ready).
i64 devfs_register_remote(const char* name, u32 major, u32 minor, u32 perm, u64 handle, u32 present) {
    auto* d = static_cast<RemoteDevice*>(heap_alloc(sizeof(RemoteDevice)));
    if (!d) return -err::kENOMEM;
    d->handle = handle;
    if (present & kHasRead) d->ops.read = device_read;
    if (present & kHasWrite) d->ops.write = device_write;
    if (present & kHasIoctl) d->ops.ioctl = device_ioctl;
    if (present & kHasPoll) d->ops.poll = device_poll;
    if (present & kHasOpen) d->ops.open = device_open;
    if (present & kHasRelease) d->ops.release = device_release;
    i64 r = devfs_register(name, major, minor, perm, &d->ops, d);
    if (r < 0) heap_free(d);
    return r;  // (a registration that is removed later keeps its small proxy)
}

}  // namespace fs::ic1

// --- the module descriptor ---------------------------------------------------------------

namespace tessera::service {
namespace {
constexpr u64 kExports = 0
#define FS_EXPORT(name, function) +1
#include "fs/exports.def"
#undef FS_EXPORT
#define MM_EXPORT(name, function) +1
#include "memory/exports.def"
#undef MM_EXPORT
    ;
Entry g_entries[kExports];
}  // namespace
Module g_module = {kModuleMagic, g_entries, 0, {}, {}, 0};
}  // namespace tessera::service

// The FS's exports, then the memory manager's (services/memory/exports.def): the module is
// the domain of the group a manifest coalesces them into (`perf`), where the kernel calls
// the manager's functions as it calls the FS's (kernel/shim/mm_client.cpp).
//
// The entry point the loader calls once, inside the domain: the export table is filled
// here (function addresses are only known after relocation) and the FS gets its Env.
extern "C" const tessera::service::Module* tessera_module_entry() {
    using namespace tessera::service;
    u64 i = 0;
#define FS_EXPORT(name, function) g_entries[i++] = {#name, reinterpret_cast<Handler>(&function)};
#include "fs/exports.def"
#undef FS_EXPORT
#define MM_EXPORT(name, function) g_entries[i++] = {#name, reinterpret_cast<Handler>(&function)};
#include "memory/exports.def"
#undef MM_EXPORT
    g_module.count = i;
    fs::set_env(fs::ic1::kEnv);
    return &g_module;
}
