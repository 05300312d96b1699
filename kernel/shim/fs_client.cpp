// The shim's client of the file system service (fs_client.hpp). See there for what it is;
// here is how a call crosses into the FS, wherever the manifest placed it, and how the FS's
// host operations are served.
//
// A call takes one of the FS's handler stacks for the calling thread, the arguments that
// are pointers (paths, credentials, structures, data) are copied into space reserved at its
// top, the FS function runs below it, and what it wrote is copied back. Node* values are
// the FS's own addresses: the shim keeps them as handles and never looks inside.
//   IC1 (perf): a DomainCall; the FS runs in ring 0 with its domain's PKRS.
//   IC2 (strict): the FS is a ring-3 process (services/fs/ic2_program.cpp); the stack is
//     one of its service's, written through its address space with SMAP opened, and the
//     FS runs as an upcall on the calling thread (ipc_upcall), preemptible, under a
//     sleeping lock of its own (g_fs_lock, fs_host.cpp) that its waits give up. Only
//     user threads with interrupts on can enter it: releases from elsewhere (kernel
//     threads, a thread that is ending) wait for the next call, and the console's input
//     notification reaches pollers without entering it.
//
// The host side: the FS's Env operations are the kernel's own Env (fs_host.cpp, the one
// the kernel-linked FS uses), behind checks that whatever the FS passes lies in its memory
// (FsSpace); wait queues are named by index (the FS cannot hand the kernel a pointer of
// its choosing); page-cache pages are mapped into a window of the FS's memory, the file's
// reference being the mapping.

#include "shim/fs_client.hpp"

#include "arch/user.hpp"
#include "boot/boot.hpp"
#include "config/manifest.hpp"
#include "debug/log.hpp"
#include "fs/host_ops.hpp"
#include "fs/initramfs.hpp"
#include "fs/pipe.hpp"
#include "ic1/domain.hpp"
#include "ipc/fastpath.hpp"
#include "ipc/service.hpp"
#include "lib/string.hpp"
#include "loader/cpio.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "time/clock.hpp"

namespace kernel::shim::fsc {
namespace {

using namespace fs::ic1;

enum Export : usize {
#define FS_EXPORT(name, function) k_##name,
#include "fs/exports.def"
#undef FS_EXPORT
    kExportCount
};
constexpr const char* kExportNames[] = {
#define FS_EXPORT(name, function) #name,
#include "fs/exports.def"
#undef FS_EXPORT
};

constexpr usize kStackSize = 64 * KiB;     // the FS's handler stacks: its own frames and the arguments
constexpr usize kRunSpace = 16 * KiB;      // of which the called code keeps this much for itself
constexpr usize kMaxTransfer = 16 * KiB;   // data per read/write/getdents call

// The FS's memory, seen from the kernel: its IC1 domain or its IC2 process. Addresses are
// the FS's own.
class FsSpace {
public:
    // Whether [va, va + bytes) is the FS's memory (checked before the kernel trusts a
    // pointer the FS handed back).
    virtual bool contains(uptr va, usize bytes) = 0;
    // A kernel frame lent to the FS: mapped into its page window.
    virtual Result<uptr> map_frame(u64 phys, bool writable) = 0;
    // Frames lent read-only, contiguous (the boot archive).
    virtual Result<uptr> map_range(u64 phys, usize bytes) = 0;
    // Takes a frame out of the window; returns it (0 if nothing was there).
    virtual u64 unmap_frame(uptr va) = 0;
    virtual u64 frame_at(uptr va) = 0;
    virtual bool in_window(uptr va) = 0;
    // Copies from and to the FS's memory while it runs a host operation; false when the
    // range is not all its own.
    virtual bool read(void* out, u64 from, usize bytes) = 0;
    virtual bool write(u64 to, const void* in, usize bytes) = 0;
    virtual bool dead() = 0;
};

class DomainSpace final : public FsSpace {
public:
    explicit DomainSpace(ic1::Domain& domain) : d_(domain) {}
    bool contains(uptr va, usize bytes) override { return d_.contains(va, bytes); }
    Result<uptr> map_frame(u64 phys, bool writable) override { return d_.map_frame(phys, writable); }
    Result<uptr> map_range(u64 phys, usize bytes) override { return d_.map_range(phys, bytes); }
    u64 unmap_frame(uptr va) override { return d_.unmap_frame(va); }
    u64 frame_at(uptr va) override { return d_.frame_at(va); }
    bool in_window(uptr va) override { return d_.in_window(va); }
    bool read(void* out, u64 from, usize bytes) override {
        if (bytes && !d_.contains(from, bytes)) return false;
        memcpy(out, reinterpret_cast<const void*>(from), bytes);
        return true;
    }
    bool write(u64 to, const void* in, usize bytes) override {
        if (bytes && !d_.contains(to, bytes)) return false;
        memcpy(reinterpret_cast<void*>(to), in, bytes);
        return true;
    }
    bool dead() override { return d_.dead(); }

private:
    ic1::Domain& d_;
};

// The IC2 FS's address space. Its host operations arrive as syscalls from its own code, so
// its space is the active one and user copies reach its memory. The window is a range of
// its address space reserved at attach; slots are handed out from the bottom and reused.
class ProgramSpace final : public FsSpace {
public:
    static constexpr usize kWindowPages = 256 * 1024;  // 1 GiB of page-cache pages

    explicit ProgramSpace(Process& fs) : fs_(fs) {}
    Result<void> init() {
        base_ = TRY(fs_.address_space().reserve(kWindowPages));
        return {};
    }
    bool contains(uptr va, usize bytes) override {
        if (!arch::is_user_address(va) || bytes > arch::kUserTop - va) return false;
        for (uptr page = align_down<uptr>(va, arch::kPageSize); page < va + bytes; page += arch::kPageSize)
            if (!fs_.address_space().translate(page).ok()) return false;
        return true;
    }
    Result<uptr> map_frame(u64 phys, bool writable) override {
        uptr va = TRY(take_slot());
        Result<void> mapped = fs_.address_space().map_physical(va, phys, 1, writable ? arch::kPageWrite : arch::kPageRead);
        if (!mapped.ok()) {
            give_slot(va);
            return mapped.error();
        }
        return va;
    }
    Result<uptr> map_range(u64 phys, usize bytes) override {
        usize pages = (bytes + (phys & (arch::kPageSize - 1)) + arch::kPageSize - 1) / arch::kPageSize;
        uptr va = TRY(fs_.address_space().reserve(pages));
        TRY(fs_.address_space().map_physical(va, align_down<u64>(phys, arch::kPageSize), pages, arch::kPageRead));
        return va + (phys & (arch::kPageSize - 1));
    }
    u64 unmap_frame(uptr va) override {
        u64 phys = frame_at(va);
        if (!phys) return 0;
        (void)fs_.address_space().unmap(va, 1);
        give_slot(va);
        return phys;
    }
    u64 frame_at(uptr va) override {
        if (!in_window(va)) return 0;
        Result<u64> phys = fs_.address_space().translate(align_down<uptr>(va, arch::kPageSize));
        return phys.ok() ? align_down<u64>(phys.value(), arch::kPageSize) : 0;
    }
    bool in_window(uptr va) override { return va >= base_ && va < base_ + kWindowPages * arch::kPageSize; }
    bool read(void* out, u64 from, usize bytes) override { return arch::copy_from_user(out, from, bytes); }
    bool write(u64 to, const void* in, usize bytes) override { return arch::copy_to_user(to, in, bytes); }
    bool dead() override { return fs_.dead(); }

private:
    Result<uptr> take_slot() {
        IrqSpinLockGuard guard(lock_);
        if (free_count_) return free_[--free_count_];
        if (next_ == kWindowPages) return Error::NoMemory;
        return base_ + (next_++) * arch::kPageSize;
    }
    void give_slot(uptr va) {
        IrqSpinLockGuard guard(lock_);
        if (free_count_ == free_capacity_) {
            // Grown under the lock: a slot that cannot be kept is only address space lost.
            usize capacity = free_capacity_ ? 2 * free_capacity_ : 256;
            auto* grown = static_cast<uptr*>(kmalloc(capacity * sizeof(uptr)));
            if (!grown) return;
            if (free_count_) memcpy(grown, free_, free_count_ * sizeof(uptr));
            kfree(free_);
            free_ = grown;
            free_capacity_ = capacity;
        }
        free_[free_count_++] = va;
    }

    Process& fs_;  // held by g_service's owner reference
    uptr base_ = 0;
    SpinLock lock_;
    usize next_ TA_GUARDED(lock_) = 0;
    uptr* free_ TA_GUARDED(lock_) = nullptr;
    usize free_count_ TA_GUARDED(lock_) = 0;
    usize free_capacity_ TA_GUARDED(lock_) = 0;
};

FsSpace* g_space = nullptr;       // nullptr: the FS is linked into the kernel
fs::ReadinessTable* g_readiness_table = nullptr;
ic1::Domain* g_domain = nullptr;  // IC1: its domain
uptr g_functions[kExportCount];   // IC1: the exported functions' addresses
Service* g_service = nullptr;     // IC2: its entry (a reference), in its process

// Pages the FS let go of wait here until the call has ended: taking them out of the FS's
// memory needs a TLB shootdown, which must not run with interrupts off while another CPU
// spins with them off on a lock this thread may hold (host operations run some of their
// work under the Env's spinlock). Each keeps its reference until then, so no frame is
// reused while the FS could still reach it.
SpinLock g_released_lock;
uptr* g_released TA_GUARDED(g_released_lock) = nullptr;
usize g_released_count TA_GUARDED(g_released_lock) = 0;
usize g_released_capacity TA_GUARDED(g_released_lock) = 0;

void unmap_released_pages() {
    for (;;) {
        uptr va;
        {
            IrqSpinLockGuard guard(g_released_lock);
            if (!g_released_count) return;
            va = g_released[--g_released_count];
        }
        if (u64 phys = g_space->unmap_frame(va)) mm::user_page_release(phys);
    }
}

// The FS released `va`: queued for unmap_released_pages; false when out of memory.
bool queue_released_page(uptr va) {
    for (;;) {
        usize capacity;
        {
            IrqSpinLockGuard guard(g_released_lock);
            if (g_released_count < g_released_capacity) {
                g_released[g_released_count++] = va;
                return true;
            }
            capacity = g_released_capacity ? 2 * g_released_capacity : 256;
        }
        auto* grown = static_cast<uptr*>(kmalloc(capacity * sizeof(uptr)));
        if (!grown) return false;
        uptr* old = nullptr;
        {
            IrqSpinLockGuard guard(g_released_lock);
            if (capacity > g_released_capacity) {
                if (g_released_count) memcpy(grown, g_released, g_released_count * sizeof(uptr));
                old = g_released;
                g_released = grown;
                g_released_capacity = capacity;
            } else {
                old = grown;  // another thread grew it meanwhile
            }
        }
        kfree(old);
    }
}

i64 failed(i64 status) {
    if (status == tessera::kErrNoMemory) return -linux_errno::kENOMEM;  // no stack to run on: out of memory
    static bool said = false;
    if (!said) {
        said = true;
        LOG_ERROR("fs: the file system service is gone (status %lld): file calls fail with EIO from now on",
                  static_cast<long long>(status));
    }
    return -linux_errno::kEIO;
}

// The frames of the pages the FS referenced for the caller during one call (file_page,
// read_pages, file_page_around), recorded by kPageRef while the FS holds its lock: the
// shim gets them as direct-map addresses, which stay valid as long as its reference does,
// where the domain address goes when the file lets go of the page.
struct PageLog {
    static constexpr usize kMax = 32;
    struct {
        uptr va;
        u64 phys;
    } pages[kMax];
    usize count = 0;

    u8* direct(const u8* va) const {
        for (usize i = 0; i < count; ++i)
            if (pages[i].va == reinterpret_cast<uptr>(va)) return arch::phys_to_ptr<u8>(pages[i].phys);
        return nullptr;
    }
};

// Why a call could not be made at all: the FS at IC2 is entered only by threads with a
// user context (kernel threads have no user mode to lend it) that hold no spinlock (its
// lock sleeps).
i64 unusable_context(Export function) {
    static bool said = false;
    if (!said) {
        said = true;
        LOG_ERROR("fs: %s from %s thread %s: the FS at IC2 is called from user threads with interrupts on only; "
                  "the call fails with EIO",
                  kExportNames[function], current_thread()->user ? "a user" : "kernel", current_thread()->name);
    }
    return -linux_errno::kEIO;
}

// Releases asked by threads that cannot enter the FS at IC2 (kernel threads, and a thread
// whose user context is already gone as it ends), made by the next call that can: they
// need no argument space and return nothing.
struct DeferredRelease {
    Export function;  // node_unref, close or lock_release_owner
    u64 a0, a1;
    DeferredRelease* next;
};
SpinLock g_deferred_lock;
DeferredRelease* g_deferred TA_GUARDED(g_deferred_lock) = nullptr;

// True when the release was queued (the FS is at IC2 and this thread cannot enter it).
bool defer_release(Export function, u64 a0, u64 a1 = 0) {
    if (!g_service || (current_thread()->user && arch::interrupts_enabled())) return false;
    auto* d = knew<DeferredRelease>();
    if (!d) {
        LOG_WARN("fs: no memory to defer %s from kernel thread %s: the reference is lost", kExportNames[function],
                 current_thread()->name);
        return true;
    }
    *d = {function, a0, a1, nullptr};
    IrqSpinLockGuard guard(g_deferred_lock);
    d->next = g_deferred;
    g_deferred = d;
    return true;
}

DeferredRelease* take_deferred() {
    if (!__atomic_load_n(&g_deferred, __ATOMIC_RELAXED)) return nullptr;
    IrqSpinLockGuard guard(g_deferred_lock);
    DeferredRelease* list = g_deferred;
    g_deferred = nullptr;
    return list;
}

[[gnu::noinline]] i64 call_failed(Export function, i64 status) {
    return status == tessera::kErrNoSyscall ? unusable_context(function) : failed(status);
}

// One call into the FS, under the FS's lock (g_fs_lock, fs_host.cpp): the kernel takes
// it around the call (the FS's own lock operations are empty), unless this thread holds it
// already (a call from one of the FS's host operations) or the caller takes it itself
// around the call only (read_to_user/write_from_user at IC1, so that data may be copied
// from and to user memory outside it: a user fault may call the FS). The FS runs with
// interrupts on, preemptible, at IC1 and IC2. A FS that dies holding the lock leaves
// nothing locked.
//
// At IC2 the argument space is the FS's memory: from the constructor to the destructor its
// address space is active, SMAP open and interrupts off (no switch may take the space
// away), except while the FS runs; the thread's own space comes back at the end.
class Call {
public:
    enum Lock { kTake, kTakenByCaller };
    explicit Call(Lock lock = kTake) {
        if (!g_domain) {
            enter_program();
            return;
        }
        domain_call_ = new (domain_call_storage_) ic1::DomainCall(*g_domain);
        owns_lock_ = lock == kTake && !g_fs_lock.held();
        if (owns_lock_) g_fs_lock.lock();
    }
    ~Call() {
        if (!g_domain) {
            leave_program();
            return;
        }
        if (owns_lock_) g_fs_lock.unlock();
        domain_call_->~DomainCall();
        // After the call, outside the FS lock: when the caller holds no spinlock either.
        if (__atomic_load_n(&g_released_count, __ATOMIC_RELAXED) && arch::interrupts_enabled()) unmap_released_pages();
    }
    TESSERA_NO_COPY(Call);

    // `bytes` of the FS's memory, 16-byte aligned, writable by the kernel until the call
    // ends; nullptr when there is no room (or no stack).
    void* space(usize bytes) {
        if (domain_call_) return domain_call_->reserve(bytes);
        usize size = (bytes + 15) & ~usize{15};
        if (!top_ || cursor_ - floor_ < size) return nullptr;
        cursor_ -= size;
        return reinterpret_cast<void*>(cursor_);
    }
    template <typename T>
    T* put(const T& value) {
        T* at = static_cast<T*>(space(sizeof(T)));
        if (at) *at = value;
        return at;
    }
    const char* put_string(const char* text) {
        usize n = strlen(text) + 1;
        if (n > fs::kPathMax) n = fs::kPathMax;  // the FS refuses it (ENAMETOOLONG) by its length
        char* at = static_cast<char*>(space(n));
        if (!at) return nullptr;
        memcpy(at, text, n);
        at[n - 1] = 0;
        return at;
    }
    const Credentials* put_creds(const Credentials& creds) {
        Credentials copy = creds;
        if (creds.group_count) {
            auto* groups = static_cast<u32*>(space(creds.group_count * sizeof(u32)));
            if (!groups) return nullptr;
            memcpy(groups, creds.groups, creds.group_count * sizeof(u32));
            copy.groups = groups;
        }
        return put(copy);
    }
    // The function's result, or EIO when the FS is gone (ENOMEM when there was no stack).
    [[gnu::always_inline]] i64 run(Export function, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0,
                                   u64 a5 = 0) {
        u64 result = 0;
        if (!run_raw(&result, function, a0, a1, a2, a3, a4, a5)) return error_;
        return static_cast<i64>(result);
    }
    // For a result that is a pointer (whose kernel-half address reads as negative): false
    // when the call did not happen or the FS is gone.
    [[gnu::always_inline]] bool run_raw(u64* result, Export function, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0,
                                        u64 a4 = 0, u64 a5 = 0) {
        u64 arguments[6] = {a0, a1, a2, a3, a4, a5};
        Thread* t = current_thread();
        void* outer = t->fs_page_log;
        t->fs_page_log = &pages;
        i64 status = domain_call_ ? domain_call_->call(g_functions[function], arguments, result)
                                  : program_call(function, arguments, result);
        t->fs_page_log = outer;
        if (status == tessera::kOk) [[likely]]
            return true;
        error_ = call_failed(function, status);
        return false;
    }

    PageLog pages;

private:
    // IC2, out of line (the IC1 path stays small enough to inline).
    // IC2: the FS's (sleeping) lock, then the stack the thread keeps (taken while in use,
    // so that a nested call gets another from the pool), then the FS's address space with
    // SMAP open and interrupts off, so that no switch can take the space away while the
    // kernel writes through it. The FS itself runs with interrupts on (ipc_upcall).
    [[gnu::noinline]] void enter_program() {
        Thread* t = current_thread();
        if (!g_service || !t->user || !arch::interrupts_enabled()) return;  // run fails: unusable_context
        // A call from inside a call (a host operation of the FS's) already holds the lock.
        owns_lock_ = !g_fs_lock.held();
        if (owns_lock_) g_fs_lock.lock();
        locked_ = true;
        if (t->fs_stack) {
            top_ = t->fs_stack;
            t->fs_stack = 0;
        } else {
            Result<uptr> stack = g_service->take_stack(t->user->home);
            if (!stack.ok()) return;  // no room: the arguments cannot be placed (ENOMEM)
            top_ = stack.value();
        }
        cursor_ = top_;
        floor_ = top_ - kStackSize + kRunSpace;
        arch::disable_interrupts();
        g_service->owner().address_space().activate();
        arch::user_access_begin();
    }
    [[gnu::noinline]] void leave_program() {
        if (top_) {
            arch::user_access_end();
            ipc_activate_current_space();
            arch::enable_interrupts();
            Thread* t = current_thread();
            if (!t->fs_stack)
                t->fs_stack = top_;
            else
                g_service->return_stack(top_);
        }
        if (owns_lock_) g_fs_lock.unlock();
        // Pages the FS let go of leave its memory now, outside every lock.
        if (__atomic_load_n(&g_released_count, __ATOMIC_RELAXED)) unmap_released_pages();
    }
    [[gnu::noinline]] i64 program_call(Export function, const u64 (&arguments)[6], u64* result) {
        if (!locked_) return tessera::kErrNoSyscall;
        if (!top_) return tessera::kErrNoMemory;
        run_deferred();
        return upcall(function, arguments, result);
    }
    i64 upcall(Export function, const u64 (&arguments)[6], u64* result) {
        // The function's index rides where a message's root-caller pid would.
        tessera::service::Message message{{arguments[0], arguments[1], arguments[2], arguments[3], arguments[4],
                                           arguments[5]},
                                          function};
        arch::user_access_end();
        i64 status = ipc_upcall(*g_service, &message, align_down<uptr>(cursor_, 16));
        *result = message.words[0];
        arch::user_access_begin();  // the FS's space is still active (ipc_upcall, lent stack)
        return status;
    }
    void run_deferred() {
        for (DeferredRelease* d = take_deferred(); d;) {
            u64 ignored;
            (void)upcall(d->function, {d->a0, d->a1, 0, 0, 0, 0}, &ignored);
            DeferredRelease* next = d->next;
            kdelete(d);
            d = next;
        }
    }

    alignas(ic1::DomainCall) u8 domain_call_storage_[sizeof(ic1::DomainCall)];
    ic1::DomainCall* domain_call_ = nullptr;
    uptr top_ = 0, cursor_ = 0, floor_ = 0;  // IC2: the stack lent to the upcall
    bool locked_ = false;                     // IC2: the FS's lock is held (by this call or its caller)
    bool owns_lock_ = false;                  // this call took the FS's lock
    i64 error_ = 0;
};

template <typename T>
u64 w(T* pointer) {
    return reinterpret_cast<u64>(pointer);
}

constexpr i64 kNoRoom = -linux_errno::kENOMEM;

// --- host operations ------------------------------------------------------------------

// Wait queues the FS made, by index: the module names them, the kernel owns them.
SpinLock g_queues_lock;
fs::WaitQueue** g_queues TA_GUARDED(g_queues_lock) = nullptr;
usize g_queue_capacity TA_GUARDED(g_queues_lock) = 0;

i64 queue_create() {
    fs::WaitQueue* q = fs::env().wait_create();
    if (!q) return 0;
    IrqSpinLockGuard guard(g_queues_lock);
    for (usize i = 0; i < g_queue_capacity; ++i)
        if (!g_queues[i]) {
            g_queues[i] = q;
            return static_cast<i64>(i + 1);
        }
    usize capacity = g_queue_capacity ? g_queue_capacity * 2 : 64;
    auto* grown = static_cast<fs::WaitQueue**>(kmalloc(capacity * sizeof(fs::WaitQueue*)));
    if (!grown) {
        fs::env().wait_destroy(q);
        return 0;
    }
    memset(grown, 0, capacity * sizeof(fs::WaitQueue*));
    if (g_queues) memcpy(grown, g_queues, g_queue_capacity * sizeof(fs::WaitQueue*));
    kfree(g_queues);
    g_queues = grown;
    g_queues[g_queue_capacity] = q;
    i64 handle = static_cast<i64>(g_queue_capacity + 1);
    g_queue_capacity = capacity;
    return handle;
}

fs::WaitQueue* queue_of(u64 handle, bool remove = false) {
    IrqSpinLockGuard guard(g_queues_lock);
    if (handle == 0 || handle > g_queue_capacity) return nullptr;
    fs::WaitQueue* q = g_queues[handle - 1];
    if (remove) g_queues[handle - 1] = nullptr;
    return q;
}

// The kernel's devices registered with the FS, by index.
struct KernelDevice {
    const fs::DeviceOps* ops;
    void* context;
};
constexpr usize kMaxDevices = 16;
KernelDevice g_devices[kMaxDevices];
usize g_device_count = 0;
fs::ProcProvider g_provider{};

const KernelDevice* device_of(u64 handle) { return handle < g_device_count ? &g_devices[handle] : nullptr; }

// Page-cache pages the FS holds (allocated and not yet let go of), for /proc/meminfo: asked
// from inside an FS call (procfs's provider, under the Env's lock), where the FS cannot be
// entered again.
u64 g_cache_pages = 0;

// A kernel buffer for data passing between a host operation and the FS's memory.
struct HostBuffer {
    explicit HostBuffer(usize bytes) : data(bytes ? static_cast<u8*>(kmalloc(bytes)) : nullptr) {}
    ~HostBuffer() { kfree(data); }
    TESSERA_NO_COPY(HostBuffer);
    u8* data;
};

// The Env's lock (g_linux_lock) around a host operation that needs it: the kernel's devices
// and procfs provider expect it, as the FS's own sleeps do. The FS itself runs under the
// service lock, not under this one.
class EnvLock {
public:
    EnvLock() { fs::env().lock(); }
    ~EnvLock() { fs::env().unlock(); }
    TESSERA_NO_COPY(EnvLock);
};

i64 host_ops(FsSpace& space, u64 op, u64 a, u64 b, u64 c, u64 e) {
    const fs::Env& env = fs::env();
    constexpr i64 kFault = -linux_errno::kEFAULT;
    constexpr i64 kNoMemory = -linux_errno::kENOMEM;
    switch (op) {
    case kWaitCreate: return queue_create();
    case kWaitDestroy:
        if (fs::WaitQueue* q = queue_of(a, true)) env.wait_destroy(q);
        return 0;
    case kWait: {
        fs::WaitQueue* q = queue_of(a);
        if (!q) return 0;
        EnvLock lock;
        return env.wait(q);  // drops the FS's lock while asleep and takes it again
    }
    case kWakeAll:
        if (fs::WaitQueue* q = queue_of(a)) env.wake_all(q);
        return 0;
    case kRandom: {
        u8 bytes[256];
        for (u64 done = 0; done < b;) {
            usize n = min<usize>(b - done, sizeof(bytes));
            env.random(bytes, n);
            if (!space.write(a + done, bytes, n)) return kFault;
            done += n;
        }
        return 0;
    }
    case kPageAlloc: {
        Result<u64> phys = mm::alloc_page_phys();  // zeroed; the file's reference
        if (!phys.ok()) return 0;
        mm::charge_page(phys.value(), root_caller_account());  // the process whose call this is
        Result<uptr> va = space.map_frame(phys.value(), true);
        if (!va.ok()) {
            mm::free_page_phys(phys.value());
            return 0;
        }
        __atomic_fetch_add(&g_cache_pages, 1, __ATOMIC_RELAXED);
        return static_cast<i64>(va.value());
    }
    case kPageRef: {
        auto* log = static_cast<PageLog*>(current_thread()->fs_page_log);
        uptr chunk[PageLog::kMax];
        for (u64 done = 0; done < b;) {
            usize n = min<usize>(b - done, PageLog::kMax);
            if (!space.read(chunk, a + done * sizeof(uptr), n * sizeof(uptr))) return kFault;
            for (usize i = 0; i < n; ++i) {
                u64 phys = chunk[i] ? space.frame_at(chunk[i]) : 0;
                if (!phys) continue;
                mm::user_page_share(phys);
                if (log && log->count < PageLog::kMax) log->pages[log->count++] = {chunk[i], phys};
            }
            done += n;
        }
        return 0;
    }
    case kPageFree:
        // The file lets go of its page: it leaves the FS's memory (after this call, see
        // g_released), and lives on while a mapping or a reader still holds it.
        if (!space.in_window(a) || !space.frame_at(a)) return 0;
        if (!queue_released_page(a)) LOG_WARN("fs: no memory to queue a released page: it stays mapped in the FS");
        __atomic_fetch_sub(&g_cache_pages, 1, __ATOMIC_RELAXED);
        return 0;
    case kPageHolders: {
        u64 phys = space.frame_at(a);
        return phys ? mm::user_page_holders(phys) : 0;
    }
    case kDeviceRead: case kDeviceWrite: {
        const KernelDevice* dev = device_of(a);
        if (!dev || c > kMaxTransfer) return kFault;
        HostBuffer buffer(c);
        if (c && !buffer.data) return kNoMemory;
        if (op == kDeviceWrite) {
            if (!space.read(buffer.data, b, c)) return kFault;
            EnvLock lock;
            return dev->ops->write(dev->context, buffer.data, c, e);
        }
        i64 n;
        {
            EnvLock lock;
            n = dev->ops->read(dev->context, buffer.data, c, e);
        }
        if (n > 0 && !space.write(b, buffer.data, static_cast<usize>(n))) return kFault;
        return n;
    }
    case kDeviceIoctl: {
        const KernelDevice* dev = device_of(a);
        if (!dev || !dev->ops->ioctl) return kFault;
        // The argument is the shim's copy in the FS's memory; the device knows its size, and
        // a page at most was reserved for it (ioctl below).
        u8 argument[arch::kPageSize];
        if (c && !space.read(argument, c, sizeof(argument))) return kFault;
        i64 r;
        {
            EnvLock lock;
            r = dev->ops->ioctl(dev->context, b, c ? argument : nullptr);
        }
        if (c && !space.write(c, argument, sizeof(argument))) return kFault;
        return r;
    }
    case kDevicePoll: {
        const KernelDevice* dev = device_of(a);
        EnvLock lock;
        return dev && dev->ops->poll ? dev->ops->poll(dev->context) : 0;
    }
    case kDeviceOpen: {
        const KernelDevice* dev = device_of(a);
        EnvLock lock;
        return dev && dev->ops->open ? dev->ops->open(dev->context, static_cast<u32>(b)) : 0;
    }
    case kDeviceRelease: {
        const KernelDevice* dev = device_of(a);
        EnvLock lock;
        if (dev && dev->ops->release) dev->ops->release(dev->context, static_cast<u32>(b));
        return 0;
    }
    case kProcListPids: case kProcListFds: {
        u64 out = op == kProcListPids ? a : b;
        usize max = min<usize>(op == kProcListPids ? b : c, 4096);
        HostBuffer ids(max * sizeof(u32));
        if (max && !ids.data) return 0;
        auto* list = reinterpret_cast<u32*>(ids.data);
        // How many exist, which may be more than fit: the FS asks again with more room.
        usize n;
        {
            EnvLock lock;
            n = op == kProcListPids ? g_provider.list_pids(list, max) : g_provider.list_fds(static_cast<u32>(a), list, max);
        }
        return space.write(out, list, min(n, max) * sizeof(u32)) ? static_cast<i64>(n) : 0;
    }
    case kProcGenerate: case kProcLink: {
        char name[32];
        usize n = 0;
        for (; n < sizeof(name); ++n) {
            if (!space.read(&name[n], b + n, 1)) return kFault;
            if (!name[n]) break;
        }
        if (n == sizeof(name) || e > fs::kProcFileMax) return kFault;
        HostBuffer text(e);
        if (e && !text.data) return kNoMemory;
        auto* buffer = reinterpret_cast<char*>(text.data);
        i64 r;
        {
            EnvLock lock;
            r = op == kProcGenerate ? g_provider.generate(static_cast<u32>(a), name, buffer, e)
                                    : g_provider.link(static_cast<u32>(a), name, buffer, e);
        }
        if (r > 0 && !space.write(c, buffer, min<usize>(static_cast<usize>(r), e))) return kFault;
        return r;
    }
    default: return -linux_errno::kENOSYS;
    }
}

i64 domain_host(ic1::Domain&, u64 op, u64 a, u64 b, u64 c, u64 e) { return host_ops(*g_space, op, a, b, c, e); }

}  // namespace

bool attach_module() {
    if (service_isolation_class("fs") != config::kIC1) return false;
    const BootInfo& boot = boot_info();
    const char* why = nullptr;
    Result<loader::CpioEntry> file =
        loader::cpio_find(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, "lib/fs.ic1", &why);
    if (!file.ok()) {
        LOG_ERROR("fs: the manifest places the FS at IC1 but lib/fs.ic1 is not in the boot archive: linked in instead");
        return false;
    }
    Result<ic1::Domain*> domain = ic1::load_module("fs", file.value().data, file.value().size, kStackSize);
    if (!domain.ok()) {
        LOG_ERROR("fs: the FS module did not load: the FS runs linked into the kernel instead");
        return false;
    }
    const tessera::service::Module& module = domain.value()->module();
    if (module.count < kExportCount) {  // (the memory manager's follow when coalesced: mm_client.cpp)
        LOG_ERROR("fs: the FS module exports %llu functions, the kernel expects %zu: linked in instead",
                  static_cast<unsigned long long>(module.count), kExportCount);
        domain.value()->kill("export table mismatch");
        return false;
    }
    for (usize i = 0; i < kExportCount; ++i) {
        if (StringView(module.entries[i].name) != StringView(kExportNames[i]) ||
            !domain.value()->contains(reinterpret_cast<uptr>(module.entries[i].handler), 1)) {
            LOG_ERROR("fs: the FS module's export %zu is not %s: linked in instead", i, kExportNames[i]);
            domain.value()->kill("export table mismatch");
            return false;
        }
        g_functions[i] = reinterpret_cast<uptr>(module.entries[i].handler);
    }
    auto* space = knew<DomainSpace>(*domain.value());
    if (!space) {
        LOG_ERROR("fs: no memory to attach the FS module: linked in instead");
        domain.value()->kill("no memory");
        return false;
    }
    domain.value()->set_host(domain_host);
    g_space = space;
    g_domain = domain.value();
    return true;
}

namespace {

bool g_attach_failed = false;

// The FS program's first host operation, from its own thread: its entry service. The FS
// is booted on this thread (boot_file_system), which can enter it, where the boot thread
// that started it could not.
i64 attach_program(u64 handle) {
    UserContext* u = current_thread()->user;
    // Only the FS program has this host (spawned with it), and only its first thread, once:
    // the process that asks is the FS. (The boot thread may not even have the process's
    // handle back from spawn yet.)
    if (g_space || u->depth || u->domain->dead()) return -linux_errno::kEPERM;
    Result<RefPtr<Service>> entry = u->domain->handles().get<Service>(handle, tessera::kRightCall);
    auto* space = knew<ProgramSpace>(*u->domain);
    if (!entry.ok() || !space || !space->init().ok() || entry.value()->placement() != Placement::User) {
        LOG_ERROR("fs: the FS program's entry is not usable (handle %llu)", static_cast<unsigned long long>(handle));
        kdelete(space);
        __atomic_store_n(&g_attach_failed, true, __ATOMIC_RELEASE);
        return -linux_errno::kEINVAL;
    }
    g_service = entry.release_value().leak();
    __atomic_store_n(&g_space, space, __ATOMIC_RELEASE);
    boot_file_system();
    return 0;
}

i64 program_host(u64 op, u64 a, u64 b, u64 c, u64 e) {
    if (op == kAttach) return attach_program(a);
    if (!g_space) return -linux_errno::kENOSYS;
    return host_ops(*g_space, op, a, b, c, e);
}

}  // namespace

bool start_program() {
    if (service_isolation_class("fs") != config::kIC2) return false;
    Result<RefPtr<Process>> started = spawn_from_boot_archive("bin/fs-service", 0, false, StringView(), program_host);
    if (!started.ok()) {
        LOG_ERROR("fs: the manifest places the FS at IC2 but bin/fs-service did not start: linked in instead");
        return false;
    }
    Process& program = *started.value();
    // Booting it takes a few million instructions; a FS that neither boots nor dies within
    // this is hung. Once attached, its thread finishes the boot even if the FS dies (its
    // calls then fail).
    u64 deadline = uptime_ns() + 10 * kNsPerSec;
    auto attached = [] { return __atomic_load_n(&g_space, __ATOMIC_ACQUIRE) != nullptr; };
    while (!linux_ready() && !(program.dead() && !attached()) && !__atomic_load_n(&g_attach_failed, __ATOMIC_ACQUIRE) &&
           uptime_ns() < deadline)
        sleep_ns(kNsPerMs);
    if (linux_ready()) return true;
    if (!attached()) {
        LOG_ERROR("fs: the FS program ended before it attached: linked in instead");
        program.mark_dead(-1);
        return false;
    }
    LOG_ERROR("fs: the FS program hung while it was booted: file calls fail with EIO");
    return true;
}

void release_thread_stack(Thread* t) {
    if (t->fs_stack) g_service->return_stack(t->fs_stack);
    t->fs_stack = 0;
}

bool in_domain() { return g_domain != nullptr; }
ic1::Domain* domain() { return g_domain; }
bool in_program() { return g_service != nullptr; }

bool fault_test() {
    if (!g_space) {
        LOG_WARN("fs: fs.fault_test needs the FS in a domain or process of its own (perf: IC1, strict: IC2)");
        return false;
    }
    static volatile u64 canary = 0x5afe;
    i64 r;
    {
        Call call;
        r = call.run(k_fault_for_test, reinterpret_cast<u64>(&canary));
    }
    const char* how = g_domain ? "PKS" : "the MMU (it is a ring-3 process)";
    bool stopped = r == -linux_errno::kEIO && canary == 0x5afe && g_space->dead();
    LOG_INFO("fs: fault test: the FS stored to kernel memory: %s%s", stopped ? "stopped by " : "NOT STOPPED",
             stopped ? how : "");
    if (stopped) LOG_INFO("fs: fault test: canary intact, the FS is dead");
    return stopped;
}

bool spin_test() {
    if (!g_space) {
        LOG_WARN("fs: fs.spin_test needs the FS in a domain or process of its own (perf: IC1, strict: IC2)");
        return false;
    }
    constexpr u64 kSpin = 100 * kNsPerMs;
    u64 before = __atomic_load_n(&current_cpu().interrupts, __ATOMIC_RELAXED);  // one CPU: the thread stays here
    {
        Call call;
        call.run(k_spin_for_test, kSpin);
    }
    u64 taken = __atomic_load_n(&current_cpu().interrupts, __ATOMIC_RELAXED) - before;
    LOG_INFO("fs: spin test: the FS ran %llu ms; its CPU took %llu interrupts meanwhile: %s",
             static_cast<unsigned long long>(kSpin / kNsPerMs), static_cast<unsigned long long>(taken),
             taken ? "it runs preemptible" : "NOT PREEMPTIBLE");
    return taken > 0;
}

u64 page_phys(const void* page) { return arch::virt_to_phys(reinterpret_cast<uptr>(page)); }

usize max_transfer() { return g_space ? kMaxTransfer : ~usize{0}; }

i64 init(fs::ReadinessTable* readiness) {
    g_readiness_table = readiness;
    if (!g_space) return fs::init(readiness);
    // The readiness page is granted to the FS read-write (it holds plain values only).
    Result<uptr> va = g_space->map_frame(arch::virt_to_phys(reinterpret_cast<uptr>(readiness)), true);
    if (!va.ok()) return -linux_errno::kENOMEM;
    Call call;
    return call.run(k_init, va.value());
}

namespace {
// The boot archive as lent to the FS: its kernel and FS addresses.
const u8* g_archive = nullptr;
uptr g_archive_in_fs = 0;
usize g_archive_size = 0;
}  // namespace

i64 unpack_initramfs(const u8* data, usize size, const char** why) {
    if (!g_space) return fs::unpack_initramfs(data, size, why);
    // The archive is lent to the FS read-only: files point into it until written.
    Result<uptr> va = g_space->map_range(arch::virt_to_phys(reinterpret_cast<uptr>(data)), size);
    if (!va.ok()) {
        *why = "no room in the FS's memory for the archive";
        return -linux_errno::kENOMEM;
    }
    g_archive = data;
    g_archive_in_fs = va.value();
    g_archive_size = size;
    Call call;
    auto** reason = call.put<const char*>(nullptr);
    i64 r = call.run(k_unpack_initramfs, va.value(), size, w(reason));
    // The reason is a string of the FS's own (its read-only data), copied while its memory
    // is still reachable.
    static char text[96];
    text[0] = 0;
    if (r < 0 && reason && *reason && g_space->contains(reinterpret_cast<uptr>(*reason), 1)) {
        const char* from = *reason;
        usize n = 0;
        for (; n + 1 < sizeof(text) && g_space->contains(reinterpret_cast<uptr>(from + n), 1) && from[n]; ++n) text[n] = from[n];
        text[n] = 0;
    }
    if (r < 0 && why) *why = text[0] ? text : "?";
    return r;
}

Node* root() {
    if (!g_space) return fs::root();
    Call call;
    u64 node = 0;
    return call.run_raw(&node, k_root) ? reinterpret_cast<Node*>(node) : nullptr;
}

void node_ref(Node* node) {
    if (!g_space) return fs::node_ref(node);
    Call call;
    call.run(k_node_ref, w(node));
}

void node_unref(Node* node) {
    if (!g_space) return fs::node_unref(node);
    if (defer_release(k_node_unref, w(node))) return;
    Call call;
    call.run(k_node_unref, w(node));
}

NodeType node_type(Node* node) {
    if (!g_space) return fs::node_type(node);
    Call call;
    return static_cast<NodeType>(call.run(k_node_type, w(node)));
}

i64 lookup(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out) {
    if (!g_space) return fs::lookup(cwd, path, follow_last, creds, out);
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    Node** result = call.put<Node*>(nullptr);
    if (!p || !c || !result) return kNoRoom;
    i64 r = call.run(k_lookup, w(cwd), w(p), follow_last, w(c), w(result));
    if (r >= 0) *out = *result;
    return r;
}

i64 open(Node* cwd, const char* path, u32 flags, u32 perm, u32 umask, const Credentials& creds, Node** out,
         NodeType* type) {
    if (!g_space) {
        i64 r = fs::open(cwd, path, flags, perm, umask, creds, out);
        if (r >= 0 && type) *type = fs::node_type(*out);
        return r;
    }
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !c) return kNoRoom;
    OpenArguments* a = call.put(OpenArguments{cwd, p, flags, perm, umask, c, nullptr, NodeType::Regular});
    if (!a) return kNoRoom;
    i64 r = call.run(k_open, w(a));
    if (r >= 0) {
        *out = a->out;
        if (type) *type = a->type;
    }
    return r;
}

void close(Node* node, u32 flags) {
    if (!g_space) return fs::close(node, flags);
    if (defer_release(k_close, w(node), flags)) return;
    Call call;
    call.run(k_close, w(node), flags);
}

i64 open_end(Node* node, u32 flags) {
    if (!g_space) return fs::open_end(node, flags);
    Call call;
    return call.run(k_open_end, w(node), flags);
}

i64 mkdir(Node* cwd, const char* path, u32 perm, u32 umask, const Credentials& creds) {
    if (!g_space) return fs::mkdir(cwd, path, perm, umask, creds);
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !c) return kNoRoom;
    return call.run(k_mkdir, w(cwd), w(p), perm, umask, w(c));
}

i64 mknod(Node* cwd, const char* path, u32 mode_and_type, u32 umask, u32 major, u32 minor, const Credentials& creds) {
    if (!g_space) return fs::mknod(cwd, path, mode_and_type, umask, major, minor, creds);
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !c) return kNoRoom;
    MknodArguments* a = call.put(MknodArguments{cwd, p, mode_and_type, umask, major, minor, c});
    if (!a) return kNoRoom;
    return call.run(k_mknod, w(a));
}

namespace {
// unlink, rmdir: (cwd, path, creds).
i64 path_call(Export function, Node* cwd, const char* path, const Credentials& creds) {
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !c) return kNoRoom;
    return call.run(function, w(cwd), w(p), w(c));
}
}  // namespace

i64 unlink(Node* cwd, const char* path, const Credentials& creds) {
    if (!g_space) return fs::unlink(cwd, path, creds);
    return path_call(k_unlink, cwd, path, creds);
}

i64 rmdir(Node* cwd, const char* path, const Credentials& creds) {
    if (!g_space) return fs::rmdir(cwd, path, creds);
    return path_call(k_rmdir, cwd, path, creds);
}

i64 rename(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, const Credentials& creds) {
    if (!g_space) return fs::rename(old_cwd, old_path, new_cwd, new_path, creds);
    Call call;
    const char* p = call.put_string(old_path);
    const char* q = call.put_string(new_path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !q || !c) return kNoRoom;
    return call.run(k_rename, w(old_cwd), w(p), w(new_cwd), w(q), w(c));
}

i64 link(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, bool follow_old,
         const Credentials& creds) {
    if (!g_space) return fs::link(old_cwd, old_path, new_cwd, new_path, follow_old, creds);
    Call call;
    const char* p = call.put_string(old_path);
    const char* q = call.put_string(new_path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !q || !c) return kNoRoom;
    return call.run(k_link, w(old_cwd), w(p), w(new_cwd), w(q), follow_old, w(c));
}

i64 symlink(const char* target, Node* cwd, const char* path, const Credentials& creds) {
    if (!g_space) return fs::symlink(target, cwd, path, creds);
    Call call;
    const char* t = call.put_string(target);
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!t || !p || !c) return kNoRoom;
    return call.run(k_symlink, w(t), w(cwd), w(p), w(c));
}

i64 readlink(Node* cwd, const char* path, char* buffer, usize length, const Credentials& creds) {
    if (!g_space) return fs::readlink(cwd, path, buffer, length, creds);
    Call call;
    length = min(length, fs::kPathMax);
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    char* out = static_cast<char*>(call.space(length));
    if (!p || !c || !out) return kNoRoom;
    i64 r = call.run(k_readlink, w(cwd), w(p), w(out), length, w(c));
    if (r > 0) memcpy(buffer, out, min<usize>(static_cast<usize>(r), length));
    return r;
}

i64 access(Node* cwd, const char* path, u32 mode, bool follow_last, const Credentials& creds) {
    if (!g_space) return fs::access(cwd, path, mode, follow_last, creds);
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    if (!p || !c) return kNoRoom;
    return call.run(k_access, w(cwd), w(p), mode, follow_last, w(c));
}

i64 access_node(Node* node, u32 mode, const Credentials& creds) {
    if (!g_space) return fs::access_node(node, mode, creds);
    Call call;
    const Credentials* c = call.put_creds(creds);
    if (!c) return kNoRoom;
    return call.run(k_access_node, w(node), mode, w(c));
}

i64 path_of(Node* dir, char* buffer, usize length) {
    if (!g_space) return fs::path_of(dir, buffer, length);
    Call call;
    length = min(length, fs::kPathMax);
    char* out = static_cast<char*>(call.space(length));
    if (!out) return kNoRoom;
    i64 r = call.run(k_path_of, w(dir), w(out), length);
    if (r >= 0) memcpy(buffer, out, min<usize>(static_cast<usize>(r) + 1, length));  // with its NUL
    return r;
}

i64 stat(Node* node, fs::Stat* out) {
    if (!g_space) return fs::stat(node, out);
    Call call;
    fs::Stat* s = call.put(fs::Stat{});
    if (!s) return kNoRoom;
    i64 r = call.run(k_stat, w(node), w(s));
    if (r >= 0) *out = *s;
    return r;
}

i64 stat_path(Node* cwd, const char* path, bool follow_last, const Credentials& creds, fs::Stat* out) {
    if (!g_space) return fs::stat_path(cwd, path, follow_last, creds, out);
    Call call;
    const char* p = call.put_string(path);
    const Credentials* c = call.put_creds(creds);
    fs::Stat* s = call.put(fs::Stat{});
    if (!p || !c || !s) return kNoRoom;
    i64 r = call.run(k_stat_path, w(cwd), w(p), follow_last, w(c), w(s));
    if (r >= 0) *out = *s;
    return r;
}

i64 chmod(Node* node, u32 perm, const Credentials& creds) {
    if (!g_space) return fs::chmod(node, perm, creds);
    Call call;
    const Credentials* c = call.put_creds(creds);
    if (!c) return kNoRoom;
    return call.run(k_chmod, w(node), perm, w(c));
}

i64 chown(Node* node, u32 uid, u32 gid, const Credentials& creds) {
    if (!g_space) return fs::chown(node, uid, gid, creds);
    Call call;
    const Credentials* c = call.put_creds(creds);
    if (!c) return kNoRoom;
    return call.run(k_chown, w(node), uid, gid, w(c));
}

i64 utimens(Node* node, const fs::Timespec* times, const Credentials& creds) {
    if (!g_space) return fs::utimens(node, times, creds);
    Call call;
    fs::Timespec* t = nullptr;
    if (times) {
        t = static_cast<fs::Timespec*>(call.space(2 * sizeof(fs::Timespec)));
        if (!t) return kNoRoom;
        t[0] = times[0];
        t[1] = times[1];
    }
    const Credentials* c = call.put_creds(creds);
    if (!c) return kNoRoom;
    return call.run(k_utimens, w(node), w(t), w(c));
}

i64 truncate(Node* node, u64 size) {
    if (!g_space) return fs::truncate(node, size);
    Call call;
    return call.run(k_truncate, w(node), size);
}

i64 read(Node* node, u64* offset, void* buffer, usize length, u32 flags) {
    if (!g_space) return fs::read(node, offset, buffer, length, flags);
    Call call;
    length = min(length, kMaxTransfer);
    u64* at = call.put(*offset);
    void* data = call.space(length);
    if (!at || !data) return kNoRoom;
    i64 r = call.run(k_read, w(node), w(at), w(data), length, flags);
    if (r > 0) memcpy(buffer, data, static_cast<usize>(r));
    *offset = *at;
    return r;
}

i64 write(Node* node, u64* offset, const void* buffer, usize length, u32 flags) {
    if (!g_space) return fs::write(node, offset, buffer, length, flags);
    Call call;
    length = min(length, kMaxTransfer);
    u64* at = call.put(*offset);
    void* data = call.space(length);
    if (!at || !data) return kNoRoom;
    memcpy(data, buffer, length);
    i64 r = call.run(k_write, w(node), w(at), w(data), length, flags);
    *offset = *at;
    return r;
}

i64 read_to_user(Node* node, u64* offset, u64 user, usize length, u32 flags) {
    Call call(Call::kTakenByCaller);  // the lock is taken around the call only, below
    length = min(length, kMaxTransfer);
    u64* at = call.put(*offset);
    void* data = call.space(length);
    if (!at || !data) return kNoRoom;
    g_fs_lock.lock();
    i64 r = call.run(k_read, w(node), w(at), w(data), length, flags);
    g_fs_lock.unlock();
    *offset = *at;
    if (r > 0 && !arch::copy_to_user(user, data, static_cast<usize>(r))) return -linux_errno::kEFAULT;
    return r;
}

i64 write_from_user(Node* node, u64* offset, u64 user, usize length, u32 flags) {
    Call call(Call::kTakenByCaller);  // the lock is taken around the call only, below
    length = min(length, kMaxTransfer);
    u64* at = call.put(*offset);
    void* data = call.space(length);
    if (!at || !data) return kNoRoom;
    if (!arch::copy_from_user(data, user, length)) return -linux_errno::kEFAULT;
    g_fs_lock.lock();
    i64 r = call.run(k_write, w(node), w(at), w(data), length, flags);
    g_fs_lock.unlock();
    *offset = *at;
    return r;
}

i64 read_all(Node* node, void* buffer, usize length) {
    u64 offset = 0;
    auto* out = static_cast<u8*>(buffer);
    while (offset < length) {
        i64 n = fsc::read(node, &offset, out + offset, length - offset, 0);
        if (n < 0) return n;
        if (n == 0) break;
    }
    return static_cast<i64>(offset);
}

i64 getdents64(Node* dir, u64* cookie, void* buffer, usize length) {
    if (!g_space) return fs::getdents64(dir, cookie, buffer, length);
    Call call;
    length = min(length, kMaxTransfer);
    u64* at = call.put(*cookie);
    void* data = call.space(length);
    if (!at || !data) return kNoRoom;
    i64 r = call.run(k_getdents64, w(dir), w(at), w(data), length);
    if (r > 0) memcpy(buffer, data, static_cast<usize>(r));
    *cookie = *at;
    return r;
}

i64 ioctl(Node* node, u64 command, void* argument, usize size) {
    if (!g_space) return fs::ioctl(node, command, argument);
    Call call;
    void* a = call.space(arch::kPageSize);  // the host side copies a whole page (host_ops)
    if (!a) return kNoRoom;
    memcpy(a, argument, size);
    i64 r = call.run(k_ioctl, w(node), command, w(a));
    memcpy(argument, a, size);
    return r;
}

u32 readiness_slot(Node* node) {
    if (!g_space) return fs::readiness_slot(node);
    Call call;
    i64 r = call.run(k_readiness_slot, w(node));
    return r < 0 ? fs::kAlwaysReadySlot : static_cast<u32>(r);
}

u64 poll_generation() {
    if (!g_space) return fs::poll_generation();
    Call call;
    return static_cast<u64>(call.run(k_poll_generation));
}

i64 poll_wait(u64 seen_generation) {
    if (!g_space) return fs::poll_wait(seen_generation);
    Call call;
    return call.run(k_poll_wait, seen_generation);
}

void poll_notify() {
    if (!g_space) return fs::poll_notify();
    Call call;
    call.run(k_poll_notify);
}

void poll_notify_locked() {
    if (!g_space) return fs::poll_notify_locked();
    // The console's input thread holds g_linux_lock, so it cannot wait for the FS's lock
    // (and at IC2 it could not enter the FS at all): it wakes the pollers, and the FS
    // publishes the device's new readiness before they sleep again (fs::poll_wait).
    if (g_readiness_table) __atomic_fetch_add(&g_readiness_table->generation, 1, __ATOMIC_RELEASE);
    IrqSpinLockGuard guard(g_queues_lock);
    for (usize i = 0; i < g_queue_capacity; ++i)
        if (g_queues[i]) fs::env().wake_all(g_queues[i]);
}

i64 file_page(Node* node, u64 index, u8** page) {
    if (!g_space) return fs::file_page(node, index, page);
    Call call;
    u8** out = call.put<u8*>(nullptr);
    if (!out) return kNoRoom;
    i64 r = call.run(k_file_page, w(node), index, w(out));
    if (r >= 0 && !(*page = call.pages.direct(*out))) return -linux_errno::kEIO;  // not a page it referenced
    return r;
}

i64 file_page_around(Node* node, u64 index, u64 first, usize count, u8** page, u8** around) {
    if (!g_space) return fs::file_page_around(node, index, first, count, page, around);
    Call call;
    count = min(count, PageLog::kMax - 1);
    u8** out = call.put<u8*>(nullptr);
    auto** near = static_cast<u8**>(call.space(count * sizeof(u8*) + 8));
    if (!out || !near) return kNoRoom;
    i64 r = call.run(k_file_page_around, w(node), index, first, count, w(out), w(near));
    if (r < 0) return r;
    if (!(*page = call.pages.direct(*out))) return -linux_errno::kEIO;  // not a page it referenced
    for (usize i = 0; i < count; ++i) around[i] = near[i] ? call.pages.direct(near[i]) : nullptr;
    return r;
}

i64 read_pages(Node* node, u64 offset, usize count, u8** pages, u32* lengths) {
    if (!g_space) return fs::read_pages(node, offset, count, pages, lengths);
    Call call;
    count = min(count, PageLog::kMax);
    auto** out = static_cast<u8**>(call.space(count * sizeof(u8*)));
    auto* sizes = static_cast<u32*>(call.space(count * sizeof(u32)));
    if (!out || !sizes) return kNoRoom;
    i64 r = call.run(k_read_pages, w(node), offset, count, w(out), w(sizes));
    for (i64 i = 0; i < r; ++i) {
        pages[i] = call.pages.direct(out[i]);
        lengths[i] = sizes[i];
        if (!pages[i]) return -linux_errno::kEIO;  // not a page it referenced
    }
    return r;
}

u64 page_cache_pages() {
    if (!g_space) return fs::page_cache_pages();
    return __atomic_load_n(&g_cache_pages, __ATOMIC_RELAXED);  // (see g_cache_pages)
}

usize reclaim_pages(usize wanted) {
    if (!g_space) return fs::reclaim_pages(wanted);
    Call call;
    i64 r = call.run(k_reclaim_pages, wanted);
    return r < 0 ? 0 : static_cast<usize>(r);
}

i64 file_data_view(Node* node, const u8** data, usize* length) {
    if (!g_space) return fs::file_data_view(node, data, length);
    Call call;
    const u8** at = call.put<const u8*>(nullptr);
    usize* size = call.put<usize>(0);
    if (!at || !size) return kNoRoom;
    i64 r = call.run(k_file_data_view, w(node), w(at), w(size));
    if (r < 0) return r;
    // A view into the archive the kernel lent the FS: it must lie inside it. The shim reads
    // it through the kernel's own address of the archive.
    uptr view = reinterpret_cast<uptr>(*at);
    if (!g_archive || view < g_archive_in_fs || *size > g_archive_size || view - g_archive_in_fs > g_archive_size - *size)
        return -linux_errno::kEAGAIN;
    *data = g_archive + (view - g_archive_in_fs);
    *length = *size;
    return r;
}

void file_mapped_writable(Node* node) {
    if (!g_space) return fs::file_mapped_writable(node);
    Call call;
    call.run(k_file_mapped_writable, w(node));
}

i64 lock_set(Node* node, u32 owner, u32 type, u64 start, u64 end, bool wait) {
    if (!g_space) return fs::lock_set(node, owner, type, start, end, wait);
    Call call;
    return call.run(k_lock_set, w(node), owner, type, start, end, wait);
}

i64 lock_test(Node* node, u32 owner, fs::RecordLock* lock) {
    if (!g_space) return fs::lock_test(node, owner, lock);
    Call call;
    fs::RecordLock* l = call.put(*lock);
    if (!l) return kNoRoom;
    i64 r = call.run(k_lock_test, w(node), owner, w(l));
    if (r >= 0) *lock = *l;
    return r;
}

void lock_release_owner(Node* node, u32 owner) {
    if (!g_space) return fs::lock_release_owner(node, owner);
    if (defer_release(k_lock_release_owner, w(node), owner)) return;
    Call call;
    call.run(k_lock_release_owner, w(node), owner);
}

i64 mount_tmpfs(const char* path) {
    if (!g_space) return fs::mount_tmpfs(path);
    Call call;
    const char* p = call.put_string(path);
    if (!p) return kNoRoom;
    return call.run(k_mount_tmpfs, w(p));
}

i64 mount_devfs(const char* path) {
    if (!g_space) return fs::mount_devfs(path);
    Call call;
    const char* p = call.put_string(path);
    if (!p) return kNoRoom;
    return call.run(k_mount_devfs, w(p));
}

i64 mount_procfs(const char* path, const fs::ProcProvider& provider) {
    if (!g_space) return fs::mount_procfs(path, provider);
    g_provider = provider;  // one per FS, as fs::mount_procfs keeps it
    Call call;
    const char* p = call.put_string(path);
    if (!p) return kNoRoom;
    return call.run(k_mount_procfs_remote, w(p));
}

usize mounts_text(char* buffer, usize length) {
    if (!g_space) return fs::mounts_text(buffer, length);
    Call call;
    length = min(length, fs::kPathMax);
    char* out = static_cast<char*>(call.space(length));
    if (!out) return 0;
    i64 r = call.run(k_mounts_text, w(out), length);
    if (r < 0) return 0;
    memcpy(buffer, out, min<usize>(static_cast<usize>(r), length));
    return static_cast<usize>(r);
}

i64 pipe_create(Node** out) {
    if (!g_space) return fs::pipe_create(out);
    Call call;
    Node** result = call.put<Node*>(nullptr);
    if (!result) return kNoRoom;
    i64 r = call.run(k_pipe_create, w(result));
    if (r >= 0) *out = *result;
    return r;
}

i64 anon_create(Node** out) {
    if (!g_space) return fs::anon_create(out);
    Call call;
    Node** result = call.put<Node*>(nullptr);
    if (!result) return kNoRoom;
    i64 r = call.run(k_anon_create, w(result));
    if (r >= 0) *out = *result;
    return r;
}

i64 devfs_register(const char* name, u32 major, u32 minor, u32 perm, const fs::DeviceOps* ops, void* context) {
    if (!g_space) return fs::devfs_register(name, major, minor, perm, ops, context);
    if (g_device_count == kMaxDevices) return -linux_errno::kENOMEM;
    u64 handle = g_device_count;
    g_devices[g_device_count++] = {ops, context};
    u32 present = (ops->read ? kHasRead : 0) | (ops->write ? kHasWrite : 0) | (ops->ioctl ? kHasIoctl : 0) |
                  (ops->poll ? kHasPoll : 0) | (ops->open ? kHasOpen : 0) | (ops->release ? kHasRelease : 0);
    Call call;
    const char* n = call.put_string(name);
    if (!n) return kNoRoom;
    return call.run(k_devfs_register_remote, w(n), major, minor, perm, handle, present);
}

}  // namespace kernel::shim::fsc
