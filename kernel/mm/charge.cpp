#include "mm/charge.hpp"

#include "mm/heap.hpp"
#include "mm/user_pages.hpp"

namespace kernel::mm {

MemoryAccount* MemoryAccount::create() { return knew<MemoryAccount>(); }

void MemoryAccount::close() {
    fold_oplog();
    unref();
}

void MemoryAccount::unref() {
    if (__atomic_sub_fetch(&references_, 1, __ATOMIC_ACQ_REL) == 0) kdelete(this);
}

void uncharge_frame(PageFrame& frame) {
    if (!__atomic_load_n(&frame.owner, __ATOMIC_RELAXED) || frame.state != FrameState::Allocated) return;
    // An exchange, against the OPLog's fold charging the page on another CPU: a PCache
    // page's record, if not folded yet, now charges nothing.
    auto owner = reinterpret_cast<uptr>(__atomic_exchange_n(&frame.owner, nullptr, __ATOMIC_ACQ_REL));
    if (owner && owner != kOwnerPCache) reinterpret_cast<MemoryAccount*>(owner)->unref();
}

}  // namespace kernel::mm
