#pragma once
// Physical memory: the buddy allocator for all RAM, behind one lock, with per-CPU caches of
// single pages in front of it so the common case (one page) takes no shared lock.

#include "lib/result.hpp"
#include "lib/types.hpp"
#include "mm/buddy.hpp"

namespace kernel::mm {

struct MemoryRegion {
    u64 base;
    u64 size;
    bool usable;
};

struct BootMemoryInfo {
    const MemoryRegion* regions;
    usize count;
    // Ranges that hold something the kernel still needs (initrd, boot info) and must not be
    // handed out.
    const MemoryRegion* reserved;
    usize reserved_count;
};

// Sets up the frame array and the buddy allocator. Fails (with a message already logged)
// when there is not enough usable RAM to run.
Result<void> physical_init(const BootMemoryInfo& info);

// 2^order contiguous zero-filled pages; returns the physical address of the first.
Result<u64> alloc_pages_phys(unsigned order);
void free_pages_phys(u64 phys, unsigned order);
// One page through the per-CPU cache (zero-filled).
Result<u64> alloc_page_phys();
void free_page_phys(u64 phys);

// The frame of a page of RAM, or nullptr: inline, as the fault path looks frames up (share
// counts, charges). The array is fixed after physical_init.
namespace detail {
extern PageFrame* g_frames;
extern u64 g_frames_first_pfn, g_frames_count;
}  // namespace detail
inline PageFrame* frame_of(u64 phys) {
    u64 index = (phys >> kPageShift) - detail::g_frames_first_pfn;
    return index < detail::g_frames_count ? &detail::g_frames[index] : nullptr;
}

struct PhysicalStats {
    usize total_pages;
    usize free_pages;        // in the buddy allocator
    usize cached_pages;      // in per-CPU caches
};
PhysicalStats physical_stats();
// Returns every per-CPU cached page of the calling CPU to the buddy allocator.
void drain_page_cache();

// Fails the next `count` allocations (IPC out-of-memory paths are tested with this).
void inject_allocation_failures(u32 count);

}  // namespace kernel::mm
