#pragma once
// Slab object caches and the size-class heap built on them.
//
// Caller serializes: neither SlabCache nor Heap takes a lock. The kernel wraps each in an
// IRQ-safe spinlock; page sources are called with that lock held, so they must not call
// back into the cache.
//
// Layout invariant the kernel heap relies on: a slab is one 4 KiB page whose first bytes
// are a SlabHeader, so every slab object lies at a nonzero offset within its page. A
// page-aligned pointer is therefore never a slab object, and Heap::free tells large
// (page-aligned) allocations from small ones by alignment alone.

#include "lib/list.hpp"
#include "lib/types.hpp"

namespace kernel::mm {

inline constexpr usize kSlabPageSize = 4096;

// Where slab pages come from. Returns kSlabPageSize-aligned, writable virtual addresses,
// or nullptr when out of memory.
struct PageSource {
    virtual void* alloc_page() = 0;
    virtual void free_page(void* page) = 0;

protected:
    // Sources are never destroyed through this interface.
    ~PageSource() = default;
};

// Where the heap's large (> Heap::kMaxSmallSize) allocations come from: page-aligned runs.
struct LargePageSource {
    virtual void* alloc_pages(usize count) = 0;
    // Heap::free does not know how many pages a large allocation spans (storing a size
    // header would break page alignment), so it passes count == 0 and the source looks the
    // size up itself; the kernel's source reads the block order from the PageFrame.
    virtual void free_pages(void* pages, usize count) = 0;

protected:
    ~LargePageSource() = default;
};

class SlabCache;

// The first bytes of every slab page. Exposed only because IntrusiveList needs a complete
// type; nothing outside slab.cpp touches it.
struct SlabHeader {
    // kSlabMagic ^ address of `cache`: a page whose first words merely look like a pointer
    // to a cache does not pass for a slab.
    u64 magic;
    SlabCache* cache;
    ListNode link;       // in the cache's empty, partial or full list, as in_use says
    void* free_objects;  // first free object; each free object holds the next in word 1
    u32 in_use;
};

class SlabCache {
public:
    // `align` below 8 is raised to 8 (free objects hold pointers); it must be a power of two
    // no larger than kSlabPageSize / 2. Parameters that cannot give at least one object per
    // page make an invalid cache whose alloc() always returns nullptr: a constructor cannot
    // return an error, and the caches are built from constants the tests cover.
    SlabCache(const char* name, usize object_size, usize align, PageSource* source);
    TESSERA_NO_COPY(SlabCache);
    TESSERA_NO_MOVE(SlabCache);

    // nullptr when the source is out of pages (or the cache is invalid).
    void* alloc();

    // false, changing nothing, if `object` is not a live object of this cache: another
    // cache's object, a pointer into the middle of an object or the slab header, a page
    // with no slab header, or a double free. free(nullptr) is a no-op returning true. The
    // kernel panics on false.
    //
    // Double frees are found by poisoning the first word of every free object and, when a
    // freed object still carries the poison, confirming on the slab's free list. That
    // catches every double free that was not preceded by a write to the freed object; a
    // use-after-free that overwrote the poison defeats it, and the free list is then corrupt.
    [[nodiscard]] bool free(void* object);

    // Returns every completely free slab to the source. Empty slabs are otherwise kept, so
    // free() never calls the source and bursts don't thrash the page allocator; the kernel
    // calls shrink() under memory pressure.
    void shrink();

    const char* name() const { return name_; }
    bool valid() const { return objects_per_slab_ != 0; }
    usize objects_in_use() const { return objects_in_use_; }
    // Pages currently held from the source, including empty slabs.
    usize pages() const { return pages_; }
    // Usable bytes per object: the requested size rounded up to the alignment (min 16).
    usize object_size() const { return stride_; }
    usize objects_per_slab() const { return objects_per_slab_; }

    // The cache owning the slab that `object` lies in, or nullptr if its page does not
    // start with a slab header. Reads align_down(object, 4096): only pass pointers into
    // mapped memory. It does not check that `object` is a live object; free() does.
    static SlabCache* cache_of(void* object);

private:
    using SlabList = IntrusiveList<SlabHeader, &SlabHeader::link>;

    SlabHeader* grow();
    SlabList& list_for(u32 in_use);
    bool is_on_free_list(const SlabHeader* slab, const void* object) const;

    const char* name_;
    PageSource* source_;
    usize stride_ = 0;
    usize first_offset_ = 0;
    usize objects_per_slab_ = 0;  // 0 marks an invalid cache
    usize objects_in_use_ = 0;
    usize pages_ = 0;
    SlabList empty_;
    SlabList partial_;
    SlabList full_;
};

// kmalloc-style heap: sizes up to kMaxSmallSize come from power-of-two slab caches, larger
// ones are whole pages from a LargePageSource. Small objects are 16-byte aligned, large
// ones page-aligned, which is how free() tells them apart (see the invariant at the top).
class Heap {
public:
    static constexpr usize kMinSmallSize = 16;
    static constexpr usize kMaxSmallSize = 2048;
    static constexpr usize kSizeClasses = 8;  // 16, 32, ..., 2048
    static constexpr usize kSmallAlign = 16;

    Heap(PageSource* small_pages, LargePageSource* large_pages);
    TESSERA_NO_COPY(Heap);
    TESSERA_NO_MOVE(Heap);

    // nullptr for size 0 and when out of memory.
    void* alloc(usize size);
    // alloc(count * size), nullptr if the product overflows.
    void* alloc_array(usize count, usize size);
    // free(nullptr) is a no-op. false for a pointer this heap did not hand out (see
    // SlabCache::free); page-aligned pointers go to LargePageSource::free_pages(p, 0)
    // unchecked, since only the page allocator knows whether they are live.
    [[nodiscard]] bool free(void* p);
    void shrink();

    // The cache serving `size`, or nullptr for sizes it does not serve (0, large).
    SlabCache* cache_for(usize size);
    SlabCache& size_class(usize index) { return caches_[index]; }

private:
    SlabCache caches_[kSizeClasses];
    LargePageSource* large_;
};

}  // namespace kernel::mm
