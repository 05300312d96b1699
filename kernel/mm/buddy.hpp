#pragma once
// Buddy allocator for physical page frames.
//
// Caller serializes: BuddyAllocator holds no lock of its own. The kernel wraps the single
// instance in an IRQ-safe spinlock; host tests use it single-threaded.

#include "lib/list.hpp"
#include "lib/result.hpp"
#include "lib/types.hpp"

namespace kernel::mm {

inline constexpr usize kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;
// Orders 0..kMaxOrder; the largest block is 2^10 pages = 4 MiB.
inline constexpr unsigned kMaxOrder = 10;

static_assert(usize{1} << kPageShift == kPageSize);

enum class FrameState : u8 {
    Reserved,   // never handed to the allocator (firmware, holes, kernel image, frame array)
    Free,       // inside a free block; only a block's first frame carries a valid order
    Allocated,  // first frame of a block returned by alloc()
    Slab,       // like Allocated, retagged by the kernel's slab page source; `owner` is its cache
};

// One per physical frame, in an array the caller provides. Kept at 32 bytes so the array
// costs under 1% of RAM (32 B per 4 KiB).
struct PageFrame {
    ListNode link;           // membership in a free list; unlinked unless state == Free
    void* owner = nullptr;   // for state == Slab: the owning cache; otherwise unused
    u32 refcount = 0;        // reserved for shared mappings; the allocator never reads it
    u8 order = 0;            // block order; meaningful only on a block's first frame
    FrameState state = FrameState::Reserved;
};
static_assert(sizeof(PageFrame) <= 32, "the frame array is sized per physical page");

class BuddyAllocator {
public:
    BuddyAllocator() = default;
    TESSERA_NO_COPY(BuddyAllocator);
    TESSERA_NO_MOVE(BuddyAllocator);

    // Call once. Covers pfns [first_pfn, first_pfn + frame_count). Every frame starts Reserved; only
    // add_free_range makes pages allocatable. Blocks are aligned on absolute pfns, so
    // first_pfn need not be aligned to anything.
    void init(PageFrame* frames, u64 first_pfn, usize frame_count);

    // Hands usable RAM to the allocator, merging with neighbouring free blocks, including
    // ones from earlier calls. Fails with InvalidArgument, changing nothing, if the range
    // leaves the covered pfns or overlaps a frame that is not Reserved (an overlapping
    // memory map would otherwise hand out the same page twice).
    Result<void> add_free_range(u64 pfn, usize count);

    // First pfn of a block of 2^order pages aligned to 2^order pfns. NoMemory when no block
    // that large is free; InvalidArgument when order > kMaxOrder.
    Result<u64> alloc(unsigned order);

    // Returns a block from alloc(). InvalidArgument, changing nothing, for a pfn this
    // allocator does not own, a pfn that does not start a live block (double free, a frame
    // inside a block, a Reserved frame) or an order different from the one allocated. The
    // kernel turns that into a panic: any of them means memory is already corrupt.
    Result<void> free(u64 pfn, unsigned order);

    // nullptr when !owns(pfn).
    PageFrame* frame(u64 pfn);
    const PageFrame* frame(u64 pfn) const;
    // `frame` must point into this allocator's frame array.
    u64 pfn_of(const PageFrame* frame) const;

    usize free_pages() const { return free_pages_; }
    // Pages ever handed over by add_free_range (usable RAM), not the covered span.
    usize total_pages() const { return total_pages_; }
    // Free blocks of exactly this order; for diagnostics and tests.
    usize free_blocks(unsigned order) const;
    bool owns(u64 pfn) const { return pfn >= first_pfn_ && pfn - first_pfn_ < frame_count_; }

private:
    using FreeList = IntrusiveList<PageFrame, &PageFrame::link>;

    // Inserts the free block at `pfn`, merging it with its buddy as long as the buddy is a
    // free block of the same order. The block's frames must already be in state Free.
    void insert_and_merge(u64 pfn, unsigned order);

    PageFrame* frames_ = nullptr;
    u64 first_pfn_ = 0;
    usize frame_count_ = 0;
    usize free_pages_ = 0;
    usize total_pages_ = 0;
    FreeList free_lists_[kMaxOrder + 1];
};

}  // namespace kernel::mm
