#include "mm/buddy.hpp"

namespace kernel::mm {

namespace {

// Order stored in every Free frame that is not the first frame of a free block. The merge
// test "buddy is Free with order o" then cannot be fooled by a frame that used to head a
// block before it was merged into a larger one.
constexpr u8 kNoOrder = 0xff;
static_assert(kMaxOrder < kNoOrder);

constexpr u64 pages_in(unsigned order) { return u64{1} << order; }

}  // namespace

void BuddyAllocator::init(PageFrame* frames, u64 first_pfn, usize frame_count) {
    frames_ = frames;
    first_pfn_ = first_pfn;
    frame_count_ = frame_count;
    free_pages_ = 0;
    total_pages_ = 0;
    // The array is raw memory the kernel carved out of RAM; construct every frame.
    for (usize i = 0; i < frame_count; ++i) new (&frames[i]) PageFrame{};
}

Result<void> BuddyAllocator::add_free_range(u64 pfn, usize count) {
    if (count == 0) return {};
    if (!owns(pfn) || count > frame_count_ - (pfn - first_pfn_)) return Error::InvalidArgument;
    // Validate everything before changing anything, so a bad memory map entry leaves the
    // allocator exactly as it was.
    for (u64 p = pfn; p < pfn + count; ++p)
        if (frame(p)->state != FrameState::Reserved) return Error::InvalidArgument;

    for (u64 p = pfn; p < pfn + count; ++p) {
        PageFrame* f = frame(p);
        f->state = FrameState::Free;
        f->order = kNoOrder;
    }

    // Cut the range into the largest naturally aligned blocks it contains; insert_and_merge
    // joins them with each other and with free blocks from earlier ranges.
    const u64 end = pfn + count;
    for (u64 p = pfn; p < end;) {
        unsigned order = kMaxOrder;
        while (!is_aligned(p, pages_in(order)) || pages_in(order) > end - p) --order;
        insert_and_merge(p, order);
        p += pages_in(order);
    }
    free_pages_ += count;
    total_pages_ += count;
    return {};
}

Result<u64> BuddyAllocator::alloc(unsigned order) {
    if (order > kMaxOrder) return Error::InvalidArgument;

    unsigned found = order;
    while (found <= kMaxOrder && free_lists_[found].empty()) ++found;
    if (found > kMaxOrder) return Error::NoMemory;

    PageFrame* head = free_lists_[found].pop_front();
    const u64 pfn = pfn_of(head);
    // Keep the lower half each time; the upper halves become free blocks of falling order.
    while (found > order) {
        --found;
        PageFrame* upper = frame(pfn + pages_in(found));
        upper->order = static_cast<u8>(found);
        free_lists_[found].push_front(upper);
    }
    head->state = FrameState::Allocated;
    head->order = static_cast<u8>(order);
    head->owner = nullptr;
    free_pages_ -= pages_in(order);
    return pfn;
}

Result<void> BuddyAllocator::free(u64 pfn, unsigned order) {
    if (order > kMaxOrder || !owns(pfn) || !is_aligned(pfn, pages_in(order)))
        return Error::InvalidArgument;
    PageFrame* head = frame(pfn);
    // Only a block's first frame is ever Allocated/Slab (frames inside a live block are Free
    // with kNoOrder, or untouched), so this rejects double frees, interior pfns and Reserved
    // frames alike.
    const bool live = head->state == FrameState::Allocated || head->state == FrameState::Slab;
    if (!live || head->order != order) return Error::InvalidArgument;

    head->state = FrameState::Free;
    head->owner = nullptr;
    insert_and_merge(pfn, order);
    free_pages_ += pages_in(order);
    return {};
}

void BuddyAllocator::insert_and_merge(u64 pfn, unsigned order) {
    while (order < kMaxOrder) {
        const u64 buddy_pfn = pfn ^ pages_in(order);
        if (!owns(buddy_pfn)) break;
        PageFrame* buddy = frame(buddy_pfn);
        if (buddy->state != FrameState::Free || buddy->order != order) break;
        free_lists_[order].remove(buddy);
        // Whichever half is upper stops being a block head.
        const u64 upper = pfn | pages_in(order);
        frame(upper)->order = kNoOrder;
        pfn &= ~pages_in(order);
        ++order;
    }
    PageFrame* head = frame(pfn);
    head->state = FrameState::Free;
    head->order = static_cast<u8>(order);
    free_lists_[order].push_front(head);
}

PageFrame* BuddyAllocator::frame(u64 pfn) {
    return owns(pfn) ? &frames_[pfn - first_pfn_] : nullptr;
}

const PageFrame* BuddyAllocator::frame(u64 pfn) const {
    return owns(pfn) ? &frames_[pfn - first_pfn_] : nullptr;
}

u64 BuddyAllocator::pfn_of(const PageFrame* f) const {
    return first_pfn_ + static_cast<u64>(f - frames_);
}

usize BuddyAllocator::free_blocks(unsigned order) const {
    return order <= kMaxOrder ? free_lists_[order].size() : 0;
}

}  // namespace kernel::mm
