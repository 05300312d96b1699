#include "mm/slab.hpp"

namespace kernel::mm {

namespace {

constexpr u64 kSlabMagic = 0x5e55e7a5'1ab0'cafeull;

// Non-canonical on x86_64, so no live kernel pointer stored in an object's first word can
// equal it; other live data can, which is why a match is confirmed on the free list.
constexpr u64 kFreePoison = 0xdead'f4ee'dead'f4eeull;

// Free objects are two words: the poison, then the next free object. Hence the 16-byte
// minimum object size and 8-byte minimum alignment.
constexpr usize kMinObjectSize = 2 * sizeof(u64);
constexpr usize kMinAlign = alignof(u64);

static_assert(alignof(SlabHeader) <= Heap::kSmallAlign);
static_assert(sizeof(SlabHeader) <= 64, "the header is per-page overhead");
// The largest size class must fit at least once beside the header.
static_assert(align_up(sizeof(SlabHeader), Heap::kSmallAlign) + Heap::kMaxSmallSize <= kSlabPageSize);
static_assert(Heap::kMinSmallSize << (Heap::kSizeClasses - 1) == Heap::kMaxSmallSize);

// Words are accessed with memcpy because the object's memory held caller data of any type.
u64 load_word(const void* object, usize index) {
    u64 value;
    __builtin_memcpy(&value, static_cast<const u64*>(object) + index, sizeof(value));
    return value;
}

void store_word(void* object, usize index, u64 value) {
    __builtin_memcpy(static_cast<u64*>(object) + index, &value, sizeof(value));
}

u64 expected_magic(const SlabCache* cache) {
    return kSlabMagic ^ static_cast<u64>(reinterpret_cast<uptr>(cache));
}

SlabHeader* header_of(const void* object) {
    return reinterpret_cast<SlabHeader*>(align_down(reinterpret_cast<uptr>(object), uptr{kSlabPageSize}));
}

}  // namespace

SlabCache::SlabCache(const char* name, usize object_size, usize align, PageSource* source)
    : name_(name), source_(source) {
    if (align < kMinAlign) align = kMinAlign;
    const bool power_of_two = (align & (align - 1)) == 0;
    // align == kSlabPageSize would put the first object at the next page.
    if (!power_of_two || align > kSlabPageSize / 2 || object_size == 0 || object_size > kSlabPageSize)
        return;
    stride_ = align_up(max(object_size, kMinObjectSize), align);
    // The header occupies offset 0, so every object sits at a nonzero page offset: the
    // invariant Heap::free depends on.
    first_offset_ = align_up(sizeof(SlabHeader), align);
    if (first_offset_ + stride_ > kSlabPageSize) {
        stride_ = 0;
        return;
    }
    objects_per_slab_ = (kSlabPageSize - first_offset_) / stride_;
}

SlabCache::SlabList& SlabCache::list_for(u32 in_use) {
    if (in_use == 0) return empty_;
    return in_use == objects_per_slab_ ? full_ : partial_;
}

SlabHeader* SlabCache::grow() {
    void* page = source_->alloc_page();
    if (!page) return nullptr;
    auto* slab = new (page) SlabHeader{};
    slab->magic = expected_magic(this);
    slab->cache = this;
    slab->in_use = 0;
    // Thread the free list in address order so fresh slabs hand out objects sequentially.
    auto* base = static_cast<u8*>(page) + first_offset_;
    void* next = nullptr;
    for (usize i = objects_per_slab_; i-- > 0;) {
        void* object = base + i * stride_;
        store_word(object, 0, kFreePoison);
        store_word(object, 1, static_cast<u64>(reinterpret_cast<uptr>(next)));
        next = object;
    }
    slab->free_objects = next;
    empty_.push_back(slab);
    ++pages_;
    return slab;
}

void* SlabCache::alloc() {
    if (!valid()) return nullptr;
    // Fill partial slabs first so empty ones stay reclaimable by shrink().
    SlabHeader* slab = partial_.front();
    if (!slab) slab = empty_.front();
    if (!slab) slab = grow();
    if (!slab) return nullptr;

    void* object = slab->free_objects;
    slab->free_objects = reinterpret_cast<void*>(static_cast<uptr>(load_word(object, 1)));
    // A live object must not look freed to free()'s double-free test.
    store_word(object, 0, 0);

    list_for(slab->in_use).remove(slab);
    ++slab->in_use;
    list_for(slab->in_use).push_back(slab);
    ++objects_in_use_;
    return object;
}

bool SlabCache::is_on_free_list(const SlabHeader* slab, const void* object) const {
    // Bounded by objects_per_slab_ even if the list was corrupted into a cycle.
    const void* p = slab->free_objects;
    for (usize n = 0; p && n < objects_per_slab_; ++n) {
        if (p == object) return true;
        p = reinterpret_cast<const void*>(static_cast<uptr>(load_word(p, 1)));
    }
    return false;
}

bool SlabCache::free(void* object) {
    if (!object) return true;
    if (!valid() || cache_of(object) != this) return false;

    SlabHeader* slab = header_of(object);
    const usize offset = reinterpret_cast<uptr>(object) - reinterpret_cast<uptr>(slab);
    if (offset < first_offset_ || (offset - first_offset_) % stride_ != 0 ||
        (offset - first_offset_) / stride_ >= objects_per_slab_)
        return false;
    if (load_word(object, 0) == kFreePoison && is_on_free_list(slab, object)) return false;

    store_word(object, 0, kFreePoison);
    store_word(object, 1, static_cast<u64>(reinterpret_cast<uptr>(slab->free_objects)));
    slab->free_objects = object;

    list_for(slab->in_use).remove(slab);
    --slab->in_use;
    list_for(slab->in_use).push_back(slab);
    --objects_in_use_;
    return true;
}

void SlabCache::shrink() {
    while (SlabHeader* slab = empty_.pop_front()) {
        // A stale pointer into a page that has been reused must not pass cache_of().
        slab->magic = 0;
        slab->cache = nullptr;
        source_->free_page(slab);
        --pages_;
    }
}

SlabCache* SlabCache::cache_of(void* object) {
    if (!object || is_aligned(reinterpret_cast<uptr>(object), uptr{kSlabPageSize})) return nullptr;
    const SlabHeader* slab = header_of(object);
    if (!slab->cache || slab->magic != expected_magic(slab->cache)) return nullptr;
    return slab->cache;
}

Heap::Heap(PageSource* small_pages, LargePageSource* large_pages)
    : caches_{
          {"kmalloc-16", 16, kSmallAlign, small_pages},
          {"kmalloc-32", 32, kSmallAlign, small_pages},
          {"kmalloc-64", 64, kSmallAlign, small_pages},
          {"kmalloc-128", 128, kSmallAlign, small_pages},
          {"kmalloc-256", 256, kSmallAlign, small_pages},
          {"kmalloc-512", 512, kSmallAlign, small_pages},
          {"kmalloc-1024", 1024, kSmallAlign, small_pages},
          {"kmalloc-2048", 2048, kSmallAlign, small_pages},
      },
      large_(large_pages) {}

SlabCache* Heap::cache_for(usize size) {
    if (size == 0 || size > kMaxSmallSize) return nullptr;
    if (size <= kMinSmallSize) return &caches_[0];
    // Index of the smallest power of two >= size, counted from kMinSmallSize = 2^4.
    const auto log2_ceil = static_cast<usize>(64 - __builtin_clzll(static_cast<u64>(size - 1)));
    return &caches_[log2_ceil - 4];
}

void* Heap::alloc(usize size) {
    if (size == 0) return nullptr;
    if (SlabCache* cache = cache_for(size)) return cache->alloc();
    // Divide rather than align_up(size, page) so a size near the top of usize cannot wrap.
    const usize pages = size / kSlabPageSize + (size % kSlabPageSize != 0);
    void* p = large_->alloc_pages(pages);
    if (p && !is_aligned(reinterpret_cast<uptr>(p), uptr{kSlabPageSize})) {
        // free() could not route it back; refuse rather than hand out an unfreeable block.
        large_->free_pages(p, pages);
        return nullptr;
    }
    return p;
}

void* Heap::alloc_array(usize count, usize size) {
    usize bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) return nullptr;
    return alloc(bytes);
}

bool Heap::free(void* p) {
    if (!p) return true;
    if (is_aligned(reinterpret_cast<uptr>(p), uptr{kSlabPageSize})) {
        large_->free_pages(p, 0);
        return true;
    }
    SlabCache* owner = SlabCache::cache_of(p);
    for (SlabCache& cache : caches_)
        if (&cache == owner) return cache.free(p);
    return false;
}

void Heap::shrink() {
    for (SlabCache& cache : caches_) cache.shrink();
}

}  // namespace kernel::mm
