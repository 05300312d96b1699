#include "proc/process.hpp"

#include "lib/format.hpp"
#include "lib/string.hpp"
#include "sched/cpu.hpp"
#include "mm/heap.hpp"
#include "mm/user_pages.hpp"
#include "object/kernel_page.hpp"
#include "shim/linux.hpp"

namespace kernel {
namespace {
u32 g_next_pid = 1;
}

u32 Process::allocate_id() { return __atomic_fetch_add(&g_next_pid, 1, __ATOMIC_RELAXED); }

Result<RefPtr<Process>> Process::create(const char* name) {
    RefPtr<AddressSpace> space = TRY(AddressSpace::create());
    return create_in(name, space);
}

Result<RefPtr<Process>> Process::create_in(const char* name, RefPtr<AddressSpace> space) {
    void* memory = kmalloc(sizeof(Process));
    if (!memory) return Error::NoMemory;
    auto* p = new (memory) Process();
    p->space_ = space;
    p->pid_ = allocate_id();
    p->memory_account_ = mm::MemoryAccount::create();
    snformat(p->name_, sizeof(p->name_), "%s", name);
    return RefPtr<Process>::adopt(p);
}

Result<void> Process::replace_address_space(uptr ipc_buffer_va) {
    RefPtr<AddressSpace> fresh = TRY(AddressSpace::create());
    TRY(space_->move_page_to(*fresh, ipc_buffer_va));
    space_ = fresh;
    return {};
}

namespace {
constexpr uptr kIpcBufferWindow = 0x0000700000000000;
}

uptr Process::ipc_window() const { return kIpcBufferWindow + u64{pid_} * kIpcSlots * arch::kPageSize; }

void Process::set_name(StringView name) {
    usize n = min<usize>(name.length, sizeof(name_) - 1);
    memcpy(name_, name.data, n);
    name_[n] = 0;
}

Result<Process::IpcBuffer> Process::take_ipc_buffer() {
    u32 slot;
    {
        IrqSpinLockGuard guard(ipc_lock_);
        if (recycled_count_) return recycled_[--recycled_count_];
        if (next_ipc_slot_ == kIpcSlots) return Error::OutOfRange;
        slot = next_ipc_slot_++;
    }
    uptr va = ipc_window() + u64{slot} * arch::kPageSize;
    TRY(space_->map_anonymous(va, 1, arch::kPageWrite));
    u64 phys = TRY(space_->translate(va));
    return IpcBuffer{va, phys};
}

void Process::recycle_ipc_buffer(IpcBuffer buffer) {
    IrqSpinLockGuard guard(ipc_lock_);
    recycled_[recycled_count_++] = buffer;  // at most one per slot ever handed out
}

void Process::map_ipc_buffer_into(AddressSpace& space, IpcBuffer buffer) {
    if (&space == space_.get() || space.translate(buffer.va).ok()) return;
    {
        IrqSpinLockGuard guard(ipc_lock_);
        bool known = false;
        for (u32 i = 0; i < buffer_space_count_; ++i) known |= buffer_spaces_[i] == &space;
        if (!known) {
            // Remembered so the mappings can be removed when this process (and its buffer
            // pages) die. Beyond the table's size the buffer is not shared: the call still
            // works, with the six register words only.
            if (buffer_space_count_ == kMaxBufferSpaces) return;
            space.ref();
            buffer_spaces_[buffer_space_count_++] = &space;
        }
    }
    (void)space.map_physical(buffer.va, buffer.phys, 1, arch::kPageWrite);
}

Result<void> Process::add_grant(uptr va, KernelObject* object, bool writable) {
    IrqSpinLockGuard guard(ipc_lock_);
    for (Grant& g : grants_)
        if (!g.object) {
            object->ref();
            g = {va, object, writable};
            return {};
        }
    return Error::OutOfRange;
}

KernelPage* Process::find_grant(uptr va, bool* writable) {
    IrqSpinLockGuard guard(ipc_lock_);
    for (Grant& g : grants_) {
        KernelPage* page = downcast<KernelPage>(g.object);
        if (page && g.va == align_down<uptr>(va, arch::kPageSize)) {
            *writable = g.writable;
            page->ref();
            return page;
        }
    }
    return nullptr;
}

Result<void> Process::allow_ports(u16 first, u16 count) {
    if (u32{first} + count > 65536) return Error::InvalidArgument;
    IrqSpinLockGuard guard(ipc_lock_);
    if (!io_bitmap_) {
        auto* bitmap = static_cast<u8*>(kmalloc(8192));
        if (!bitmap) return Error::NoMemory;
        memset(bitmap, 0xff, 8192);
        __atomic_store_n(&io_bitmap_, bitmap, __ATOMIC_RELEASE);
    }
    for (u32 port = first; port < u32{first} + count; ++port) io_bitmap_[port / 8] &= static_cast<u8>(~(1u << (port % 8)));
    static u64 next_version = 1;
    __atomic_store_n(&io_version_, __atomic_fetch_add(&next_version, 1, __ATOMIC_RELAXED), __ATOMIC_RELEASE);
    return {};
}

void Process::apply_io_permissions() { arch::set_io_bitmap(current_cpu().arch, io_bitmap(), io_version()); }

Process::~Process() {
    if (linux_) shim::release_linux_state(linux_);
    if (memory_account_) memory_account_->close();
    for (Grant& g : grants_)
        if (g.object) g.object->unref();
    if (io_bitmap_) kfree(io_bitmap_);
    // Service spaces still map our buffer pages, which die with our address space.
    for (u32 i = 0; i < buffer_space_count_; ++i) {
        (void)buffer_spaces_[i]->unmap(ipc_window(), next_ipc_slot_);
        buffer_spaces_[i]->unref();
    }
}

u64 Process::charged_pages() const {
    if (!memory_account_) return 0;
    mm::fold_oplog();
    return memory_account_->pages();
}

mm::MemoryAccount* root_caller_account() {
    UserContext* u = current_thread()->user;
    return u ? u->home->memory_account() : nullptr;
}

}  // namespace kernel
