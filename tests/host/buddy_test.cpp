// Host tests for the buddy page allocator. There is no Linux equivalent to compare with at
// this level; the reference is the buddy invariants themselves: blocks naturally aligned,
// never overlapping, never outside usable RAM, and fully coalesced once everything is free.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "mm/buddy.hpp"

using kernel::mm::BuddyAllocator;
using kernel::mm::FrameState;
using kernel::mm::kMaxOrder;
using kernel::mm::PageFrame;

namespace {

struct Range {
    u64 pfn;
    usize count;
};

// A covered span with holes and ragged edges, starting at an unaligned pfn so that block
// alignment has to be computed on absolute pfns.
constexpr u64 kFirstPfn = 0x100003;
constexpr usize kFrameCount = 5000;
const std::vector<Range> kRanges = {
    {0x100003 + 0, 997},    // starts unaligned
    {0x100400, 2048},       // exactly two 4 MiB blocks, 0x100400 is 1024-aligned
    {0x100c00 + 7, 900},    // unaligned both ends
    {0x100003 + 4600, 5},   // tiny, near the end
};

usize range_pages() {
    usize n = 0;
    for (const Range& r : kRanges) n += r.count;
    return n;
}

bool in_ranges(u64 pfn) {
    for (const Range& r : kRanges)
        if (pfn >= r.pfn && pfn < r.pfn + r.count) return true;
    return false;
}

class BuddyTest : public ::testing::Test {
protected:
    void SetUp() override {
        frames_.resize(kFrameCount);
        buddy_.init(frames_.data(), kFirstPfn, kFrameCount);
        for (const Range& r : kRanges) ASSERT_TRUE(buddy_.add_free_range(r.pfn, r.count).ok());
        for (unsigned o = 0; o <= kMaxOrder; ++o) initial_blocks_[o] = buddy_.free_blocks(o);
    }

    void expect_fully_coalesced() {
        EXPECT_EQ(buddy_.free_pages(), range_pages());
        // The buddy decomposition of a set of free pages is unique, so a fully merged
        // allocator has exactly the block counts it had right after add_free_range.
        for (unsigned o = 0; o <= kMaxOrder; ++o)
            EXPECT_EQ(buddy_.free_blocks(o), initial_blocks_[o]) << "order " << o;
    }

    std::vector<PageFrame> frames_;
    BuddyAllocator buddy_;
    usize initial_blocks_[kMaxOrder + 1] = {};
};

}  // namespace

TEST_F(BuddyTest, FrameIsSmall) {
    EXPECT_LE(sizeof(PageFrame), 32u);
}

TEST_F(BuddyTest, CountsAfterInit) {
    EXPECT_EQ(buddy_.free_pages(), range_pages());
    EXPECT_EQ(buddy_.total_pages(), range_pages());
    EXPECT_TRUE(buddy_.owns(kFirstPfn));
    EXPECT_TRUE(buddy_.owns(kFirstPfn + kFrameCount - 1));
    EXPECT_FALSE(buddy_.owns(kFirstPfn - 1));
    EXPECT_FALSE(buddy_.owns(kFirstPfn + kFrameCount));
    EXPECT_EQ(buddy_.frame(kFirstPfn + kFrameCount), nullptr);
    // The aligned 2048-page range must have become two max-order blocks.
    EXPECT_GE(buddy_.free_blocks(kMaxOrder), 2u);
    // A hole stays Reserved.
    EXPECT_EQ(buddy_.frame(0x100003 + 997)->state, FrameState::Reserved);
}

TEST_F(BuddyTest, PfnOfRoundTrips) {
    for (u64 pfn : {kFirstPfn, kFirstPfn + 1234, kFirstPfn + kFrameCount - 1})
        EXPECT_EQ(buddy_.pfn_of(buddy_.frame(pfn)), pfn);
}

TEST_F(BuddyTest, AllocAllSinglePagesThenCoalesce) {
    const usize start_free = buddy_.free_pages();
    std::vector<u64> pages;
    for (;;) {
        auto r = buddy_.alloc(0);
        if (!r.ok()) {
            EXPECT_EQ(r.error(), Error::NoMemory);
            break;
        }
        ASSERT_TRUE(in_ranges(r.value())) << std::hex << r.value();
        EXPECT_EQ(buddy_.frame(r.value())->state, FrameState::Allocated);
        pages.push_back(r.value());
    }
    EXPECT_EQ(pages.size(), start_free);
    EXPECT_EQ(buddy_.free_pages(), 0u);
    std::sort(pages.begin(), pages.end());
    EXPECT_EQ(std::adjacent_find(pages.begin(), pages.end()), pages.end()) << "page handed out twice";

    // Free in a scrambled order so merging happens from both sides.
    std::mt19937_64 rng(42);
    std::shuffle(pages.begin(), pages.end(), rng);
    for (u64 pfn : pages) ASSERT_TRUE(buddy_.free(pfn, 0).ok());
    expect_fully_coalesced();

    // The 2048-page aligned range yields exactly two 4 MiB blocks, nothing else does.
    auto a = buddy_.alloc(kMaxOrder);
    auto b = buddy_.alloc(kMaxOrder);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(std::min(a.value(), b.value()), 0x100400u);
    EXPECT_EQ(std::max(a.value(), b.value()), 0x100800u);
    auto c = buddy_.alloc(kMaxOrder);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error(), Error::NoMemory);
}

TEST_F(BuddyTest, EveryOrderIsNaturallyAligned) {
    for (unsigned order = 0; order <= kMaxOrder; ++order) {
        std::vector<u64> blocks;
        for (;;) {
            auto r = buddy_.alloc(order);
            if (!r.ok()) break;
            EXPECT_EQ(r.value() % (u64{1} << order), 0u) << "order " << order;
            for (u64 p = r.value(); p < r.value() + (u64{1} << order); ++p)
                ASSERT_TRUE(in_ranges(p)) << "order " << order << " pfn " << std::hex << p;
            blocks.push_back(r.value());
        }
        for (unsigned o = order; o <= kMaxOrder; ++o)
            EXPECT_EQ(buddy_.free_blocks(o), 0u) << "order " << order << " failed with a block free";
        for (u64 pfn : blocks) ASSERT_TRUE(buddy_.free(pfn, order).ok());
        expect_fully_coalesced();
    }
}

TEST_F(BuddyTest, SplitsFromSmallestAvailableOrder) {
    // The 5-page tail range holds an order-0 and an order-2 block (or similar small ones);
    // an order-0 request must not break up a 4 MiB block while smaller ones exist.
    const usize max_blocks = buddy_.free_blocks(kMaxOrder);
    auto r = buddy_.alloc(0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(buddy_.free_blocks(kMaxOrder), max_blocks);
    ASSERT_TRUE(buddy_.free(r.value(), 0).ok());
}

TEST_F(BuddyTest, RandomizedStressNoOverlap) {
    std::mt19937_64 rng(0x7e55e7a);
    std::vector<bool> owned(kFrameCount, false);
    struct Block {
        u64 pfn;
        unsigned order;
    };
    std::vector<Block> live;
    usize live_pages = 0;
    const usize total = buddy_.free_pages();

    for (int op = 0; op < 100000; ++op) {
        const bool do_alloc = live.empty() || (rng() % 100) < 55;
        if (do_alloc) {
            // Mostly small orders, like a kernel, with the occasional large block.
            unsigned order = static_cast<unsigned>(rng() % 100 < 80 ? rng() % 3 : rng() % (kMaxOrder + 1));
            auto r = buddy_.alloc(order);
            if (!r.ok()) {
                ASSERT_EQ(r.error(), Error::NoMemory);
                continue;
            }
            const u64 pfn = r.value();
            ASSERT_EQ(pfn % (u64{1} << order), 0u);
            for (u64 p = pfn; p < pfn + (u64{1} << order); ++p) {
                ASSERT_TRUE(in_ranges(p));
                ASSERT_FALSE(owned[p - kFirstPfn]) << "overlap at pfn " << std::hex << p;
                owned[p - kFirstPfn] = true;
            }
            live.push_back({pfn, order});
            live_pages += usize{1} << order;
        } else {
            const usize i = rng() % live.size();
            Block b = live[i];
            live[i] = live.back();
            live.pop_back();
            for (u64 p = b.pfn; p < b.pfn + (u64{1} << b.order); ++p) owned[p - kFirstPfn] = false;
            ASSERT_TRUE(buddy_.free(b.pfn, b.order).ok());
            live_pages -= usize{1} << b.order;
        }
        ASSERT_EQ(buddy_.free_pages() + live_pages, total);
    }
    for (const Block& b : live) ASSERT_TRUE(buddy_.free(b.pfn, b.order).ok());
    expect_fully_coalesced();
}

TEST_F(BuddyTest, DoubleFreeRejected) {
    auto r = buddy_.alloc(2);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(buddy_.free(r.value(), 2).ok());
    const usize free_before = buddy_.free_pages();
    auto again = buddy_.free(r.value(), 2);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error(), Error::InvalidArgument);
    EXPECT_EQ(buddy_.free_pages(), free_before);
    expect_fully_coalesced();
}

TEST_F(BuddyTest, DoubleFreeOfMergedHalfRejected) {
    // After merging, the upper half of a block is no longer a block head; freeing it again
    // must still be caught even though its frame was once a valid head.
    auto a = buddy_.alloc(0);
    auto b = buddy_.alloc(0);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(buddy_.free(a.value(), 0).ok());
    ASSERT_TRUE(buddy_.free(b.value(), 0).ok());
    EXPECT_FALSE(buddy_.free(a.value(), 0).ok());
    EXPECT_FALSE(buddy_.free(b.value(), 0).ok());
    expect_fully_coalesced();
}

TEST_F(BuddyTest, FreeOfReservedFrameRejected) {
    const u64 hole = 0x100003 + 997;  // between the first two ranges
    auto r = buddy_.free(hole, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::InvalidArgument);
    EXPECT_EQ(buddy_.frame(hole)->state, FrameState::Reserved);
    expect_fully_coalesced();
}

TEST_F(BuddyTest, BadFreesRejected) {
    auto r = buddy_.alloc(3);
    ASSERT_TRUE(r.ok());
    const u64 pfn = r.value();
    EXPECT_FALSE(buddy_.free(pfn, 2).ok()) << "wrong order";
    EXPECT_FALSE(buddy_.free(pfn, 4).ok()) << "wrong order";
    EXPECT_FALSE(buddy_.free(pfn + 1, 0).ok()) << "interior frame";
    EXPECT_FALSE(buddy_.free(pfn + 4, 2).ok()) << "interior, aligned";
    EXPECT_FALSE(buddy_.free(pfn, kMaxOrder + 1).ok()) << "order too large";
    EXPECT_FALSE(buddy_.free(kFirstPfn - 1, 0).ok()) << "below range";
    EXPECT_FALSE(buddy_.free(kFirstPfn + kFrameCount, 0).ok()) << "above range";
    EXPECT_TRUE(buddy_.free(pfn, 3).ok());
    expect_fully_coalesced();
}

TEST_F(BuddyTest, SlabStateFreesLikeAllocated) {
    auto r = buddy_.alloc(0);
    ASSERT_TRUE(r.ok());
    PageFrame* f = buddy_.frame(r.value());
    int cache = 0;
    f->state = FrameState::Slab;
    f->owner = &cache;
    ASSERT_TRUE(buddy_.free(r.value(), 0).ok());
    EXPECT_EQ(f->owner, nullptr);
    expect_fully_coalesced();
}

TEST_F(BuddyTest, AllocOrderTooLarge) {
    auto r = buddy_.alloc(kMaxOrder + 1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::InvalidArgument);
}

TEST(BuddyRanges, AddFreeRangeValidates) {
    std::vector<PageFrame> frames(2048);
    BuddyAllocator buddy;
    buddy.init(frames.data(), 1024, frames.size());
    EXPECT_EQ(buddy.free_pages(), 0u);
    EXPECT_EQ(buddy.alloc(0).error(), Error::NoMemory) << "everything starts Reserved";

    EXPECT_FALSE(buddy.add_free_range(1000, 100).ok()) << "starts below the covered span";
    EXPECT_FALSE(buddy.add_free_range(3000, 100).ok()) << "ends above the covered span";
    EXPECT_TRUE(buddy.add_free_range(1024, 10).ok());
    EXPECT_FALSE(buddy.add_free_range(1030, 10).ok()) << "overlaps a free range";
    EXPECT_EQ(buddy.free_pages(), 10u) << "a rejected range changes nothing";
    EXPECT_TRUE(buddy.add_free_range(1030, 0).ok()) << "empty range is a no-op";
}

TEST(BuddyRanges, AdjacentRangesMergeAcrossCalls) {
    std::vector<PageFrame> frames(2048);
    BuddyAllocator buddy;
    buddy.init(frames.data(), 0, frames.size());
    // Two halves of one 4 MiB block, added separately and out of order, in odd pieces.
    ASSERT_TRUE(buddy.add_free_range(700, 324).ok());
    ASSERT_TRUE(buddy.add_free_range(0, 3).ok());
    ASSERT_TRUE(buddy.add_free_range(3, 697).ok());
    EXPECT_EQ(buddy.free_pages(), 1024u);
    EXPECT_EQ(buddy.free_blocks(kMaxOrder), 1u);
    for (unsigned o = 0; o < kMaxOrder; ++o) EXPECT_EQ(buddy.free_blocks(o), 0u) << o;
    auto r = buddy.alloc(kMaxOrder);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 0u);
}

TEST(BuddyRanges, NoMergeAcrossCoveredSpanEdge) {
    // The buddy of pfn 1024's block would be pfn 0, which this allocator does not cover.
    std::vector<PageFrame> frames(512);
    BuddyAllocator buddy;
    buddy.init(frames.data(), 512, frames.size());
    ASSERT_TRUE(buddy.add_free_range(512, 512).ok());
    EXPECT_EQ(buddy.free_blocks(9), 1u);
    EXPECT_EQ(buddy.alloc(kMaxOrder).error(), Error::NoMemory);
    auto r = buddy.alloc(9);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 512u);
    ASSERT_TRUE(buddy.free(r.value(), 9).ok());
    EXPECT_EQ(buddy.free_blocks(9), 1u);
}
