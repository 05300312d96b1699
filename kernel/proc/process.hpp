#pragma once
// A process: an address space, a handle table and the accounting of everything its
// threads cause — including the CPU time and kernel memory they use inside services, since
// with thread migration the process is the root caller of every chain its threads start.

#include "mm/address_space.hpp"
#include "mm/charge.hpp"
#include "object/handle_table.hpp"
#include "lib/string.hpp"
#include "object/object.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

namespace shim {
struct LinuxProcess;
}

class Process final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Process;

    static Result<RefPtr<Process>> create(const char* name);
    // A fresh id from the pid space (Linux thread ids share it).
    static u32 allocate_id();
    // A process running in an existing address space (vfork's child, until it execs).
    static Result<RefPtr<Process>> create_in(const char* name, RefPtr<AddressSpace> space);
    // Gives the process a new, empty address space (exec in a vfork child). The calling
    // thread's IPC buffer page moves along; the caller activates the new space.
    Result<void> replace_address_space(uptr ipc_buffer_va);
    ~Process() override;

    AddressSpace& address_space() { return *space_; }
    HandleTable& handles() { return handles_; }
    const char* name() const { return name_; }
    void set_name(StringView name);  // execve
    u32 pid() const { return pid_; }

    // Accounting (atomics: charged from any CPU).
    void charge_cpu(u64 ns) { __atomic_fetch_add(&cpu_ns_, ns, __ATOMIC_RELAXED); }
    void charge_in_service(u64 ns) { __atomic_fetch_add(&in_service_ns_, ns, __ATOMIC_RELAXED); }
    void charge_kernel_bytes(i64 bytes) { __atomic_fetch_add(&kernel_bytes_, bytes, __ATOMIC_RELAXED); }
    void count_call() { __atomic_fetch_add(&ipc_calls_, 1, __ATOMIC_RELAXED); }
    u64 cpu_ns() const { return __atomic_load_n(&cpu_ns_, __ATOMIC_RELAXED); }
    u64 in_service_ns() const { return __atomic_load_n(&in_service_ns_, __ATOMIC_RELAXED); }
    u64 ipc_calls() const { return __atomic_load_n(&ipc_calls_, __ATOMIC_RELAXED); }
    i64 kernel_bytes() const { return __atomic_load_n(&kernel_bytes_, __ATOMIC_RELAXED); }
    // User pages charged to it as root caller (mm/charge.hpp): its anonymous memory and the
    // page-cache pages services allocated on its calls.
    mm::MemoryAccount* memory_account() const { return memory_account_; }
    u64 charged_pages() const;  // folds the OPLog first

    // IPC buffers (paper §4.1: arguments beyond six words). Each thread of the process gets a
    // page at an address unique system-wide (a per-process window), mapped owned in the home
    // space and, on first use, in every service space the thread calls into. A dying
    // thread's buffer is recycled to the next thread of the same process, so thread exit
    // needs no unmapping (no TLB shootdown); the service-side mappings go when the process
    // dies.
    struct IpcBuffer {
        uptr va;
        u64 phys;
    };
    Result<IpcBuffer> take_ipc_buffer();
    void recycle_ipc_buffer(IpcBuffer buffer);
    // Maps `buffer` into `space` (a service's) if it is not there yet.
    void map_ipc_buffer_into(AddressSpace& space, IpcBuffer buffer);

    // Address-token grants: which kernel page is mapped where (kobj_write finds the object
    // by address). Each grant holds a reference until the process dies.
    // Memory regions and device registers mapped into the process hold references the
    // same way.
    Result<void> add_grant(uptr va, KernelObject* object, bool writable);
    class KernelPage* find_grant(uptr va, bool* writable);

    // Started by the kernel from the boot archive (boot services, init): may create device
    // objects. A first step until the device manager hands out device capabilities.
    bool privileged() const { return privileged_; }
    void set_privileged() { privileged_ = true; }

    // The process of an IC1 domain or of the IC0 services: its code runs in the kernel
    // half, so a thread inside it keeps the address space of the user code that called.
    bool kernel_resident() const { return kernel_resident_; }
    void set_kernel_resident() { kernel_resident_ = true; }

    // I/O permission bitmap (a set bit denies the port, as the TSS wants it), allocated when
    // the process is first granted ports; nullptr means no ports.
    const u8* io_bitmap() const { return __atomic_load_n(&io_bitmap_, __ATOMIC_ACQUIRE); }
    u64 io_version() const { return __atomic_load_n(&io_version_, __ATOMIC_ACQUIRE); }
    // Makes the CPU's port permissions this process's (on every switch into its code).
    void apply_io_permissions();
    Result<void> allow_ports(u16 first, u16 count);

    // Operations the kernel offers this process as a service (the FS at IC2: its Env, as
    // fs/host_ops.hpp lists them), reached through the service_host syscall; nullptr for
    // every other process. Set before its first thread starts.
    using ServiceHost = i64 (*)(u64 op, u64 a, u64 b, u64 c, u64 d);
    ServiceHost service_host() const { return service_host_; }
    void set_service_host(ServiceHost host) { service_host_ = host; }

    // Linux ABI state; nullptr for native Tessera programs.
    shim::LinuxProcess* linux_state() const { return linux_; }
    void set_linux_state(shim::LinuxProcess* state) { linux_ = state; }

    u32 thread_count() const { return __atomic_load_n(&threads_, __ATOMIC_RELAXED); }
    void thread_started() { __atomic_fetch_add(&threads_, 1, __ATOMIC_RELAXED); }
    // Returns true when this was the last thread.
    bool thread_exited() { return __atomic_fetch_sub(&threads_, 1, __ATOMIC_ACQ_REL) == 1; }

    bool dead() const { return __atomic_load_n(&dead_, __ATOMIC_ACQUIRE); }
    void mark_dead(i64 code) {
        exit_code_ = code;
        __atomic_store_n(&dead_, true, __ATOMIC_RELEASE);
    }
    i64 exit_code() const { return exit_code_; }

private:
    Process() : KernelObject(kType) {}

    RefPtr<AddressSpace> space_;
    HandleTable handles_;
    char name_[32] = {};
    u32 pid_ = 0;
    u64 cpu_ns_ = 0;
    u64 in_service_ns_ = 0;
    u64 ipc_calls_ = 0;
    i64 kernel_bytes_ = 0;
    u32 threads_ = 0;

    static constexpr usize kIpcSlots = 2048;  // threads alive at once per process
    static constexpr usize kMaxBufferSpaces = 32;
    SpinLock ipc_lock_;
    u32 next_ipc_slot_ TA_GUARDED(ipc_lock_) = 0;
    IpcBuffer recycled_[kIpcSlots] TA_GUARDED(ipc_lock_);
    u32 recycled_count_ TA_GUARDED(ipc_lock_) = 0;
    AddressSpace* buffer_spaces_[kMaxBufferSpaces] TA_GUARDED(ipc_lock_) = {};  // references
    u32 buffer_space_count_ TA_GUARDED(ipc_lock_) = 0;
    uptr ipc_window() const;

    static constexpr usize kMaxGrants = 32;
    struct Grant {
        uptr va;
        KernelObject* object;
        bool writable;
    };
    mm::MemoryAccount* memory_account_ = nullptr;  // closed with the process
    shim::LinuxProcess* linux_ = nullptr;  // owned
    ServiceHost service_host_ = nullptr;
    bool privileged_ = false;
    bool kernel_resident_ = false;
    u8* io_bitmap_ = nullptr;
    u64 io_version_ = 0;
    Grant grants_[kMaxGrants] TA_GUARDED(ipc_lock_) = {};
    bool dead_ = false;
    i64 exit_code_ = 0;
};

// The account of the running thread's root caller (its home process), for pages allocated
// on its behalf; nullptr on a kernel thread.
mm::MemoryAccount* root_caller_account();

}  // namespace kernel
