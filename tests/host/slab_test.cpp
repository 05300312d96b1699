// Host tests for slab caches and the size-class heap. The reference behaviour is Linux's
// kmalloc/kmem_cache: distinct, aligned objects, reusable memory, empty slabs returned on
// shrink, and (like SLUB debug) double and foreign frees reported rather than absorbed.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "mm/slab.hpp"

using kernel::mm::Heap;
using kernel::mm::kSlabPageSize;
using kernel::mm::LargePageSource;
using kernel::mm::PageSource;
using kernel::mm::SlabCache;

namespace {

bool page_aligned(const void* p) { return reinterpret_cast<uptr>(p) % kSlabPageSize == 0; }

// Hands out 4 KiB pages from aligned_alloc. Returned pages go to a pool instead of back to
// libc, so a test may still read a page after the cache released it (to check its header
// was invalidated) without tripping AddressSanitizer.
class HostPageSource final : public PageSource {
public:
    explicit HostPageSource(usize limit = ~usize{0}) : limit_(limit) {}
    ~HostPageSource() {
        for (void* p : all_) std::free(p);
    }

    void* alloc_page() override {
        if (live_ >= limit_) return nullptr;
        void* page;
        if (!pool_.empty()) {
            page = pool_.back();
            pool_.pop_back();
        } else {
            page = std::aligned_alloc(kSlabPageSize, kSlabPageSize);
            if (!page) return nullptr;
            all_.push_back(page);
        }
        // Fresh pages in the kernel hold garbage; make sure nothing relies on zeroes.
        std::memset(page, 0xa5, kSlabPageSize);
        ++live_;
        return page;
    }

    void free_page(void* page) override {
        EXPECT_TRUE(page_aligned(page));
        EXPECT_GT(live_, 0u);
        --live_;
        pool_.push_back(page);
    }

    usize live() const { return live_; }
    void set_limit(usize limit) { limit_ = limit; }

private:
    usize limit_;
    usize live_ = 0;
    std::vector<void*> all_;
    std::vector<void*> pool_;
};

// Page runs for large heap allocations. Like the kernel's source, it ignores the count on
// free and finds the size itself.
class HostLargeSource final : public LargePageSource {
public:
    ~HostLargeSource() {
        for (auto& [p, count] : live_) std::free(p);
    }

    void* alloc_pages(usize count) override {
        last_count = count;
        if (count == 0 || count > 1024) return nullptr;
        void* p = std::aligned_alloc(kSlabPageSize, count * kSlabPageSize);
        if (p) live_[p] = count;
        return p;
    }

    void free_pages(void* p, usize count) override {
        EXPECT_EQ(count, 0u) << "Heap::free cannot know the size";
        auto it = live_.find(p);
        ASSERT_NE(it, live_.end()) << "free of a block this source never handed out";
        std::free(p);
        live_.erase(it);
    }

    usize live_blocks() const { return live_.size(); }
    usize count_of(void* p) const {
        auto it = live_.find(p);
        return it == live_.end() ? 0 : it->second;
    }

    usize last_count = 0;

private:
    std::map<void*, usize> live_;
};

}  // namespace

TEST(SlabCache, Geometry) {
    HostPageSource source;
    SlabCache tiny("tiny", 1, 1, &source);
    EXPECT_TRUE(tiny.valid());
    EXPECT_EQ(tiny.object_size(), 16u) << "free objects need two words";
    SlabCache odd("odd", 24, 16, &source);
    EXPECT_EQ(odd.object_size(), 32u);
    SlabCache big("big", 2048, 16, &source);
    EXPECT_TRUE(big.valid());
    EXPECT_EQ(big.objects_per_slab(), 1u);
    EXPECT_STREQ(odd.name(), "odd");
    EXPECT_EQ(source.live(), 0u) << "caches take pages lazily";
}

TEST(SlabCache, InvalidParametersGiveNullNotCrash) {
    HostPageSource source;
    SlabCache zero("zero", 0, 8, &source);
    SlabCache whole_page("page", kSlabPageSize, 8, &source);
    SlabCache page_align("align", 64, kSlabPageSize, &source);
    SlabCache odd_align("odd-align", 64, 24, &source);
    SlabCache too_big("too-big", kSlabPageSize - 16, 8, &source);  // no room beside the header
    for (SlabCache* c : {&zero, &whole_page, &page_align, &odd_align, &too_big}) {
        EXPECT_FALSE(c->valid()) << c->name();
        EXPECT_EQ(c->alloc(), nullptr) << c->name();
    }
    EXPECT_EQ(source.live(), 0u);
}

class SlabSizes : public ::testing::TestWithParam<std::pair<usize, usize>> {};

TEST_P(SlabSizes, ManyObjectsDistinctAlignedReusable) {
    const auto [size, align] = GetParam();
    HostPageSource source;
    SlabCache cache("test", size, align, &source);
    ASSERT_TRUE(cache.valid());
    const usize stride = cache.object_size();
    constexpr usize kCount = 1000;

    std::vector<u8*> objects;
    for (usize i = 0; i < kCount; ++i) {
        auto* p = static_cast<u8*>(cache.alloc());
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uptr>(p) % align, 0u);
        EXPECT_FALSE(page_aligned(p)) << "heap routing relies on this";
        EXPECT_EQ(SlabCache::cache_of(p), &cache);
        std::memset(p, static_cast<int>(i & 0xff), size);
        objects.push_back(p);
    }
    EXPECT_EQ(cache.objects_in_use(), kCount);
    const usize per_slab = cache.objects_per_slab();
    EXPECT_EQ(cache.pages(), (kCount + per_slab - 1) / per_slab);
    EXPECT_EQ(source.live(), cache.pages());

    std::vector<u8*> sorted = objects;
    std::sort(sorted.begin(), sorted.end());
    for (usize i = 1; i < sorted.size(); ++i)
        ASSERT_GE(static_cast<usize>(sorted[i] - sorted[i - 1]), stride) << "objects overlap";
    for (usize i = 0; i < kCount; ++i)
        for (usize b = 0; b < size; ++b) ASSERT_EQ(objects[i][b], i & 0xff) << "object " << i << " clobbered";

    for (u8* p : objects) ASSERT_TRUE(cache.free(p));
    EXPECT_EQ(cache.objects_in_use(), 0u);
    const usize pages = cache.pages();

    // The same number of objects fits in the retained slabs without new pages.
    std::set<void*> first_round(objects.begin(), objects.end());
    objects.clear();
    for (usize i = 0; i < kCount; ++i) {
        auto* p = static_cast<u8*>(cache.alloc());
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(first_round.count(p)) << "memory not reused";
        objects.push_back(p);
    }
    EXPECT_EQ(cache.pages(), pages);
    for (u8* p : objects) ASSERT_TRUE(cache.free(p));

    cache.shrink();
    EXPECT_EQ(cache.pages(), 0u);
    EXPECT_EQ(source.live(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SlabSizes,
                         ::testing::Values(std::pair<usize, usize>{8, 8}, std::pair<usize, usize>{16, 16},
                                           std::pair<usize, usize>{24, 8}, std::pair<usize, usize>{100, 64},
                                           std::pair<usize, usize>{512, 16}, std::pair<usize, usize>{700, 256},
                                           std::pair<usize, usize>{2048, 16}));

TEST(SlabCache, ShrinkKeepsSlabsWithLiveObjects) {
    HostPageSource source;
    SlabCache cache("c", 256, 16, &source);
    std::vector<void*> objects;
    for (usize i = 0; i < 5 * cache.objects_per_slab(); ++i) objects.push_back(cache.alloc());
    EXPECT_EQ(cache.pages(), 5u);
    // Keep one object in the third slab alive.
    void* survivor = objects[2 * cache.objects_per_slab()];
    for (void* p : objects) {
        if (p != survivor) {
            ASSERT_TRUE(cache.free(p));
        }
    }
    cache.shrink();
    EXPECT_EQ(cache.pages(), 1u);
    EXPECT_EQ(source.live(), 1u);
    EXPECT_EQ(SlabCache::cache_of(survivor), &cache);
    ASSERT_TRUE(cache.free(survivor));
    cache.shrink();
    EXPECT_EQ(source.live(), 0u);
}

TEST(SlabCache, ReleasedPageNoLongerLooksLikeASlab) {
    HostPageSource source;
    SlabCache cache("c", 64, 16, &source);
    void* p = cache.alloc();
    ASSERT_TRUE(cache.free(p));
    cache.shrink();
    // The host source keeps the page readable; the kernel may have reused it for anything.
    EXPECT_EQ(SlabCache::cache_of(p), nullptr);
    EXPECT_FALSE(cache.free(p));
}

TEST(SlabCache, SourceExhaustionIsNullAndRecoverable) {
    HostPageSource source(2);
    SlabCache cache("c", 1024, 16, &source);
    std::vector<void*> objects;
    while (void* p = cache.alloc()) objects.push_back(p);
    EXPECT_EQ(objects.size(), 2 * cache.objects_per_slab());
    EXPECT_EQ(cache.alloc(), nullptr) << "still out of memory, still no crash";
    ASSERT_TRUE(cache.free(objects.back()));
    objects.pop_back();
    void* again = cache.alloc();
    EXPECT_NE(again, nullptr);
    objects.push_back(again);
    for (void* p : objects) ASSERT_TRUE(cache.free(p));
    cache.shrink();
}

TEST(SlabCache, DoubleFreeDetected) {
    HostPageSource source;
    SlabCache cache("c", 32, 8, &source);
    void* a = cache.alloc();
    void* b = cache.alloc();
    ASSERT_TRUE(cache.free(a));
    EXPECT_FALSE(cache.free(a));
    EXPECT_EQ(cache.objects_in_use(), 1u) << "a rejected free changes nothing";
    ASSERT_TRUE(cache.free(b));
    EXPECT_FALSE(cache.free(b));
    EXPECT_FALSE(cache.free(a));
    // The free list is intact: exactly the two objects come back, once each.
    void* c = cache.alloc();
    void* d = cache.alloc();
    EXPECT_NE(c, d);
    EXPECT_TRUE((c == a && d == b) || (c == b && d == a));
    ASSERT_TRUE(cache.free(c));
    ASSERT_TRUE(cache.free(d));
    cache.shrink();
    EXPECT_EQ(source.live(), 0u);
}

TEST(SlabCache, LiveObjectHoldingThePoisonStillFrees) {
    HostPageSource source;
    SlabCache cache("c", 64, 16, &source);
    void* freed = cache.alloc();
    void* live = cache.alloc();
    ASSERT_TRUE(cache.free(freed));
    // Whatever the allocator wrote into a freed object's first word, live data may equal it.
    u64 poison;
    std::memcpy(&poison, freed, sizeof(poison));
    std::memcpy(live, &poison, sizeof(poison));
    EXPECT_TRUE(cache.free(live));
    EXPECT_EQ(cache.objects_in_use(), 0u);
    cache.shrink();
}

TEST(SlabCache, ForeignPointersDetected) {
    HostPageSource source;
    SlabCache a("a", 64, 16, &source);
    SlabCache b("b", 64, 16, &source);
    auto* pa = static_cast<u8*>(a.alloc());
    auto* pb = static_cast<u8*>(b.alloc());
    EXPECT_EQ(SlabCache::cache_of(pa), &a);
    EXPECT_EQ(SlabCache::cache_of(pb), &b);

    EXPECT_FALSE(a.free(pb)) << "object of another cache";
    EXPECT_FALSE(a.free(pa + 8)) << "inside an object";
    auto* page = reinterpret_cast<u8*>(reinterpret_cast<uptr>(pa) & ~uptr{kSlabPageSize - 1});
    EXPECT_FALSE(a.free(page)) << "page-aligned";
    EXPECT_FALSE(a.free(page + 16)) << "inside the slab header";
    EXPECT_FALSE(a.free(page + kSlabPageSize - 16)) << "slack after the last object";

    // A page that never was a slab.
    void* plain = std::aligned_alloc(kSlabPageSize, kSlabPageSize);
    std::memset(plain, 0, kSlabPageSize);
    void* inside = static_cast<u8*>(plain) + 64;
    EXPECT_EQ(SlabCache::cache_of(inside), nullptr);
    EXPECT_FALSE(a.free(inside));
    // Nor does a forged cache pointer without the matching magic pass.
    SlabCache* forged = &a;
    std::memcpy(static_cast<u8*>(plain) + 8, &forged, sizeof(forged));
    EXPECT_EQ(SlabCache::cache_of(inside), nullptr);
    std::free(plain);

    EXPECT_EQ(a.objects_in_use(), 1u);
    EXPECT_EQ(b.objects_in_use(), 1u);
    EXPECT_TRUE(a.free(nullptr));
    ASSERT_TRUE(a.free(pa));
    ASSERT_TRUE(b.free(pb));
    a.shrink();
    b.shrink();
    EXPECT_EQ(source.live(), 0u);
}

TEST(Heap, RoutesSmallSizesToSizeClasses) {
    HostPageSource small;
    HostLargeSource large;
    Heap heap(&small, &large);
    struct Case {
        usize size;
        usize class_size;
    };
    for (Case c : {Case{1, 16}, Case{16, 16}, Case{17, 32}, Case{33, 64}, Case{64, 64}, Case{65, 128},
                   Case{200, 256}, Case{257, 512}, Case{1000, 1024}, Case{1025, 2048}, Case{2048, 2048}}) {
        void* p = heap.alloc(c.size);
        ASSERT_NE(p, nullptr) << c.size;
        EXPECT_FALSE(page_aligned(p)) << c.size;
        EXPECT_EQ(reinterpret_cast<uptr>(p) % Heap::kSmallAlign, 0u) << c.size;
        SlabCache* cache = SlabCache::cache_of(p);
        ASSERT_NE(cache, nullptr) << c.size;
        EXPECT_EQ(cache->object_size(), c.class_size) << c.size;
        EXPECT_EQ(cache, heap.cache_for(c.size));
        std::memset(p, 0x5a, c.size);
        EXPECT_TRUE(heap.free(p));
    }
    EXPECT_EQ(large.live_blocks(), 0u);
    heap.shrink();
    EXPECT_EQ(small.live(), 0u);
}

TEST(Heap, RoutesLargeSizesToPages) {
    HostPageSource small;
    HostLargeSource large;
    Heap heap(&small, &large);
    struct Case {
        usize size;
        usize pages;
    };
    for (Case c : {Case{2049, 1}, Case{4096, 1}, Case{4097, 2}, Case{3 * 4096 + 1, 4}}) {
        void* p = heap.alloc(c.size);
        ASSERT_NE(p, nullptr) << c.size;
        EXPECT_TRUE(page_aligned(p)) << c.size;
        EXPECT_EQ(large.count_of(p), c.pages) << c.size;
        std::memset(p, 0x5a, c.size);
        EXPECT_TRUE(heap.free(p));
        EXPECT_EQ(large.count_of(p), 0u) << "freed through free_pages(p, 0)";
    }
    EXPECT_EQ(small.live(), 0u) << "large sizes never touch the slab source";
}

TEST(Heap, ZeroAndOverflowingSizes) {
    HostPageSource small;
    HostLargeSource large;
    Heap heap(&small, &large);
    EXPECT_EQ(heap.alloc(0), nullptr);
    EXPECT_EQ(heap.cache_for(0), nullptr);
    // The page count of the largest size must not wrap to something small.
    large.last_count = 0;
    EXPECT_EQ(heap.alloc(~usize{0}), nullptr);
    EXPECT_EQ(large.last_count, ~usize{0} / kSlabPageSize + 1);
    large.last_count = 0;
    EXPECT_EQ(heap.alloc_array(~usize{0} / 2 + 1, 2), nullptr);
    EXPECT_EQ(large.last_count, 0u) << "an overflowing product never reaches a source";
    void* p = heap.alloc_array(4, 8);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(SlabCache::cache_of(p)->object_size(), 32u);
    EXPECT_TRUE(heap.free(p));
    EXPECT_EQ(small.live(), 1u) << "empty slab kept until shrink";
    heap.shrink();
    EXPECT_EQ(small.live(), 0u);
}

TEST(Heap, BadFreesDetected) {
    HostPageSource small;
    HostLargeSource large;
    Heap heap(&small, &large);
    SlabCache outsider("outsider", 64, 16, &small);
    void* foreign = outsider.alloc();
    EXPECT_FALSE(heap.free(foreign)) << "object of a cache the heap does not own";
    void* p = heap.alloc(100);
    EXPECT_TRUE(heap.free(p));
    EXPECT_FALSE(heap.free(p)) << "double free";
    EXPECT_TRUE(heap.free(nullptr));
    ASSERT_TRUE(outsider.free(foreign));
    outsider.shrink();
    heap.shrink();
    EXPECT_EQ(small.live(), 0u);
}

TEST(Heap, RandomizedStressPatterns) {
    HostPageSource small;
    HostLargeSource large;
    Heap heap(&small, &large);
    std::mt19937_64 rng(0x51ab);
    struct Block {
        u8* p;
        usize size;
        u8 pattern;
    };
    std::vector<Block> live;

    auto check_and_free = [&](usize i) {
        Block b = live[i];
        live[i] = live.back();
        live.pop_back();
        for (usize k = 0; k < b.size; ++k)
            ASSERT_EQ(b.p[k], static_cast<u8>(b.pattern + k)) << "size " << b.size << " byte " << k;
        ASSERT_TRUE(heap.free(b.p));
    };

    for (int op = 0; op < 50000; ++op) {
        if (live.empty() || rng() % 100 < 55) {
            const usize size = rng() % 100 < 95 ? 1 + rng() % Heap::kMaxSmallSize : 1 + rng() % (4 * kSlabPageSize);
            auto* p = static_cast<u8*>(heap.alloc(size));
            ASSERT_NE(p, nullptr);
            const auto pattern = static_cast<u8>(rng());
            for (usize k = 0; k < size; ++k) p[k] = static_cast<u8>(pattern + k);
            live.push_back({p, size, pattern});
        } else {
            check_and_free(rng() % live.size());
        }
        if (op % 10000 == 0) heap.shrink();
    }
    while (!live.empty()) check_and_free(live.size() - 1);
    for (usize i = 0; i < Heap::kSizeClasses; ++i) EXPECT_EQ(heap.size_class(i).objects_in_use(), 0u);
    heap.shrink();
    EXPECT_EQ(small.live(), 0u);
    EXPECT_EQ(large.live_blocks(), 0u);
}
