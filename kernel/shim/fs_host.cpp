// Hosting the FS service (services/fs/env.hpp): the kernel's Env, which the kernel-linked
// FS uses directly (the IC0 placement) and the FS's IC1 module and IC2 program through the
// host operations of fs_client.cpp. Linked in, the FS's lock is g_linux_lock, taken with interrupts off;
// as a service (IC1, IC2) it runs under a sleeping lock of its own (g_fs_lock, a ServiceLock).
// Its sleeps are the shim's interruptible sleeps, so a signal ends a blocked pipe or tty
// read.
// At boot the FS is started where the manifest places it (fs_client.cpp), the initramfs is
// unpacked into the tmpfs root, devfs is mounted on /dev and the console tty registered
// (the tty's line discipline, services/fs/tty.cpp, stays in the kernel as the console
// driver's).

#include "arch/cpu.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "fs/devfs.hpp"
#include "fs/initramfs.hpp"
#include "fs/procfs.hpp"
#include "fs/vfs.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"
#include "object/kernel_page.hpp"
#include "sched/cpu.hpp"
#include "shim/fs_client.hpp"
#include "shim/console.hpp"
#include "shim/linux.hpp"
#include "shim/mm_client.hpp"
#include "time/clock.hpp"

namespace kernel {
// Reviewed: a generation counter and words of poll bits; nothing the kernel trusts.
template <>
inline constexpr bool kPlainValuesOnly<fs::ReadinessTable> = true;
}  // namespace kernel

namespace kernel::shim {

namespace {

const KobjLayout kReadinessLayout{tessera::KobjKind::ReadinessTable, nullptr, 0, nullptr};
// The poll list's readiness page (fs/readiness.hpp): a kernel object the FS writes, read by
// poll/select/epoll with plain loads. With the FS linked into the kernel it writes the page
// through its kernel address; a separate FS gets it by a read-write grant.
// Kept for the life of the system (the reference is never dropped).
KernelPage* g_readiness_page = nullptr;

void* fs_alloc(usize bytes) {
    void* p = kmalloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void fs_lock() TA_NO_THREAD_SAFETY_ANALYSIS {
    arch::disable_interrupts();
    g_linux_lock.lock();
}

void fs_unlock() TA_NO_THREAD_SAFETY_ANALYSIS {
    g_linux_lock.unlock();
    arch::enable_interrupts();
}

fs::WaitQueue* wait_create() { return reinterpret_cast<fs::WaitQueue*>(knew<WaitQueue>()); }
void wait_destroy(fs::WaitQueue* q) { kdelete(reinterpret_cast<WaitQueue*>(q)); }

// With g_linux_lock held (the Env's lock), and the service lock too when this thread holds
// it (a FS at IC1 or IC2): both are given up while asleep, for the FS's own waits and for
// those of the kernel's devices it calls (the console tty's reads).
bool wait(fs::WaitQueue* q) TA_NO_THREAD_SAFETY_ANALYSIS {
    auto* queue = reinterpret_cast<WaitQueue*>(q);
    bool holds_fs_lock = g_fs_lock.held();
    if (holds_fs_lock) g_fs_lock.unlock_locked();
    UserContext* u = current_thread()->user;
    LinuxProcess* l = u ? u->home->linux_state() : nullptr;
    bool woken = true;
    if (!l)
        (void)queue->wait_unlocking(g_linux_lock);
    else if (!sleep_interruptible(*queue, u->linux_wait_deadline))
        woken = false;
    // A poll/select deadline that passed ends the FS's wait like an interruption; the shim
    // tells the two apart (poll_loop).
    else if (u->linux_wait_deadline && uptime_ns() >= u->linux_wait_deadline)
        woken = false;
    if (holds_fs_lock) g_fs_lock.lock_locked();
    return woken;
}

void wake_all(fs::WaitQueue* q) { reinterpret_cast<WaitQueue*>(q)->wake_all(); }

// Not a cryptographic generator: /dev/urandom until an entropy source exists (TCG's
// RDRAND is switched off for deterministic benchmarks).
}  // namespace

// The lock of a service the kernel runs preemptible (linux.hpp): the FS's, and the process
// manager's (pm_client.cpp). A release that sees waiters wakes one under g_linux_lock: a
// waiter that marked the lock contended holds g_linux_lock until it sleeps, so no wakeup is
// lost.
ServiceLock g_fs_lock;

void ServiceLock::lock_locked() {
    while (__atomic_exchange_n(&state_, kContended, __ATOMIC_ACQUIRE) != kFree)
        (void)waiters_.wait_unlocking(g_linux_lock);
    __atomic_store_n(&owner_, current_thread(), __ATOMIC_RELAXED);
}

bool ServiceLock::release() {
    __atomic_store_n(&owner_, nullptr, __ATOMIC_RELAXED);
    return __atomic_exchange_n(&state_, kFree, __ATOMIC_RELEASE) == kContended;
}

void ServiceLock::unlock_locked() {
    if (release()) waiters_.wake_one();
}

void ServiceLock::lock() {
    u32 expected = kFree;
    if (__atomic_compare_exchange_n(&state_, &expected, kHeld, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        __atomic_store_n(&owner_, current_thread(), __ATOMIC_RELAXED);
        return;
    }
    IrqSpinLockGuard guard(g_linux_lock);
    lock_locked();
}

void ServiceLock::unlock() {
    if (!release()) return;
    IrqSpinLockGuard guard(g_linux_lock);
    waiters_.wake_one();
}

// Only the owner stores itself there, so a thread reads its own ownership without the lock.
bool ServiceLock::held() const TA_NO_THREAD_SAFETY_ANALYSIS {
    return __atomic_load_n(&owner_, __ATOMIC_RELAXED) == current_thread();
}

void random_bytes(void* buffer, usize length) {
    static u64 state = 0;
    u64 s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (!s) s = arch::rdtsc() | 1;
    auto* out = static_cast<u8*>(buffer);
    for (usize i = 0; i < length; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out[i] = static_cast<u8>(s >> 32);
    }
    __atomic_store_n(&state, s, __ATOMIC_RELAXED);
}

namespace {

u64 now_ns() { return uptime_ns(); }

// The page cache's pages are user pages (kernel/mm/user_pages): the file holds one
// reference, each mapping another, and the last release frees the frame.
void* page_alloc() {
    Result<u64> phys = mm::alloc_page_phys();  // zeroed
    if (!phys.ok()) return nullptr;
    mm::charge_page(phys.value(), root_caller_account());  // the process whose call this is
    return arch::phys_to_ptr<void>(phys.value());
}
void page_ref(void* const* pages, usize count) {
    for (usize i = 0; i < count; ++i)
        if (pages[i]) mm::user_page_share(arch::virt_to_phys(reinterpret_cast<uptr>(pages[i])));
}
void page_free(void* page) { mm::user_page_release(arch::virt_to_phys(reinterpret_cast<uptr>(page))); }
u32 page_holders(void* page) { return mm::user_page_holders(arch::virt_to_phys(reinterpret_cast<uptr>(page))); }

const fs::Env kEnv = {fs_alloc,     kfree,      now_ns,   fs_lock,   fs_unlock,   wait_create, wait_destroy, wait,
                      wake_all,     random_bytes, page_alloc, page_ref, page_free, page_holders};

bool g_ready = false;

}  // namespace

// The FS's boot: its root from the archive, devfs, procfs and the console. On the boot
// thread, or at IC2 on the FS program's own thread (fsc::start_program), which can enter it.
void boot_file_system() {
    Result<RefPtr<KernelPage>> page = KernelPage::create_read_write<fs::ReadinessTable>(kReadinessLayout, nullptr);
    if (!page) {
        LOG_ERROR("fs: no memory for the readiness page");
        return;
    }
    g_readiness_page = page.release_value().leak();
    auto* table = g_readiness_page->as<fs::ReadinessTable>();
    g_readiness = table;
    if (i64 r = fsc::init(table); r < 0) {
        LOG_ERROR("fs: cannot create the root file system (errno %lld)", static_cast<long long>(-r));
        return;
    }
    const BootInfo& boot = boot_info();
    if (boot.initrd_size) {
        const char* why = nullptr;
        if (fsc::unpack_initramfs(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, &why) < 0)
            LOG_ERROR("fs: the boot archive is corrupt (%s); the root holds what came before the damage", why);
    }
    fs::Credentials root_creds;
    for (const char* dir : {"/dev", "/proc", "/tmp"}) (void)fsc::mkdir(nullptr, dir, dir[1] == 't' ? 01777 : 0755, 0, root_creds);
    if (i64 r = fsc::mount_devfs("/dev"); r < 0) LOG_ERROR("fs: cannot mount devfs on /dev (errno %lld)", static_cast<long long>(-r));
    if (i64 r = fsc::mount_procfs("/proc", kProcProvider); r < 0)
        LOG_ERROR("fs: cannot mount procfs on /proc (errno %lld)", static_cast<long long>(-r));
    console_init();
    if (kernel_command_line().has("fs.fault_test")) (void)fsc::fault_test();
    if (kernel_command_line().has("fs.spin_test")) (void)fsc::spin_test();
    LOG_INFO("fs: %s; root unpacked from the boot archive, devfs on /dev, procfs on /proc, console on /dev/console",
             fsc::in_domain()    ? "the FS runs in its own PKS domain (IC1)"
             : fsc::in_program() ? "the FS runs in its own process (IC2)"
                                 : "the FS is linked into the kernel (IC0)");
    __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
}

void linux_boot() {
    memory_configure();
    pmc::boot();  // the process manager, where the manifest places it
    fs::set_env(kEnv);  // the kernel-linked FS's, and through fs_client.cpp the separate FS's host side
    bool fs_module = fsc::attach_module();
    mmc::boot();  // the memory manager: in the FS's module when the manifest coalesces them
    if (!fs_module && fsc::start_program()) return;  // booted on the FS program's thread
    boot_file_system();
}

bool linux_ready() { return __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE); }

const fs::ReadinessTable* g_readiness = nullptr;

}  // namespace kernel::shim
