#include "proc/process.hpp"

#include "lib/format.hpp"
#include "mm/heap.hpp"
#include "object/kernel_page.hpp"

namespace kernel {
namespace {
u32 g_next_pid = 1;
}

Result<RefPtr<Process>> Process::create(const char* name) {
    RefPtr<AddressSpace> space = TRY(AddressSpace::create());
    void* memory = kmalloc(sizeof(Process));
    if (!memory) return Error::NoMemory;
    auto* p = new (memory) Process();
    p->space_ = space;
    p->pid_ = __atomic_fetch_add(&g_next_pid, 1, __ATOMIC_RELAXED);
    snformat(p->name_, sizeof(p->name_), "%s", name);
    return RefPtr<Process>::adopt(p);
}

namespace {
constexpr uptr kIpcBufferWindow = 0x0000700000000000;
}

uptr Process::ipc_window() const { return kIpcBufferWindow + u64{pid_} * kIpcSlots * arch::kPageSize; }

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

Result<void> Process::add_grant(uptr va, KernelPage* page, bool writable) {
    IrqSpinLockGuard guard(ipc_lock_);
    for (Grant& g : grants_)
        if (!g.page) {
            page->ref();
            g = {va, page, writable};
            return {};
        }
    return Error::OutOfRange;
}

KernelPage* Process::find_grant(uptr va, bool* writable) {
    IrqSpinLockGuard guard(ipc_lock_);
    for (Grant& g : grants_)
        if (g.page && g.va == align_down<uptr>(va, arch::kPageSize)) {
            *writable = g.writable;
            g.page->ref();
            return g.page;
        }
    return nullptr;
}

Process::~Process() {
    for (Grant& g : grants_)
        if (g.page) g.page->unref();
    // Service spaces still map our buffer pages, which die with our address space.
    for (u32 i = 0; i < buffer_space_count_; ++i) {
        (void)buffer_spaces_[i]->unmap(ipc_window(), next_ipc_slot_);
        buffer_spaces_[i]->unref();
    }
}

}  // namespace kernel
