// The memory manager's range bookkeeping (services/mm/vmas): mmap over ranges, partial
// munmap splits, mprotect over holes, gap search, fork's copy.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "memory/vmas.hpp"

namespace {

using memory::kPage;
using memory::VmaKind;
using memory::VmaSet;

long g_live = 0;
void* counting_alloc(usize bytes) {
    ++g_live;
    return calloc(1, bytes);
}
void counting_free(void* p) {
    if (p) --g_live;
    free(p);
}
// File handles are counters: each range naming one holds a reference.
int g_file_refs[4];
void file_ref(void* file) { ++*static_cast<int*>(file); }
void file_unref(void* file) { --*static_cast<int*>(file); }
const VmaSet::Allocator kAllocator = {counting_alloc, counting_free, file_ref, file_unref};

// "start-end:prot" for every range, in pages, for compact expectations.
std::string describe(const VmaSet& set) {
    std::string out;
    for (usize i = 0; i < set.count(); ++i) {
        const memory::Vma& v = set.at(i);
        if (!out.empty()) out += " ";
        out += std::to_string(v.start / kPage) + "-" + std::to_string(v.end / kPage) + ":" + std::to_string(v.prot);
    }
    return out;
}

TEST(VmaSetTest, MapFindAndReplace) {
    {
        VmaSet set(kAllocator);
        ASSERT_TRUE(set.map(10 * kPage, 5 * kPage, 3, VmaKind::Private));
        ASSERT_TRUE(set.map(20 * kPage, 2 * kPage, 1, VmaKind::Private));
        EXPECT_EQ(describe(set), "10-15:3 20-22:1");
        EXPECT_EQ(set.find(10 * kPage)->prot, 3u);
        EXPECT_EQ(set.find(15 * kPage - 1)->start, 10 * kPage);
        EXPECT_EQ(set.find(15 * kPage), nullptr);
        EXPECT_EQ(set.find(9 * kPage), nullptr);
        // MAP_FIXED over the middle of the first and the start of a hole.
        ASSERT_TRUE(set.map(12 * kPage, 6 * kPage, 7, VmaKind::Shared));
        EXPECT_EQ(describe(set), "10-12:3 12-18:7 20-22:1");
        EXPECT_EQ(set.find(13 * kPage)->kind, VmaKind::Shared);
    }
    EXPECT_EQ(g_live, 0);
}

TEST(VmaSetTest, PartialUnmapSplits) {
    VmaSet set(kAllocator);
    ASSERT_TRUE(set.map(0, 10 * kPage, 3, VmaKind::Private));
    ASSERT_TRUE(set.unmap(4 * kPage, 2 * kPage));
    EXPECT_EQ(describe(set), "0-4:3 6-10:3");
    ASSERT_TRUE(set.unmap(0, 1 * kPage));
    EXPECT_EQ(describe(set), "1-4:3 6-10:3");
    ASSERT_TRUE(set.unmap(3 * kPage, 5 * kPage));  // across a hole
    EXPECT_EQ(describe(set), "1-3:3 8-10:3");
    ASSERT_TRUE(set.unmap(50 * kPage, kPage));  // nothing there: fine
    EXPECT_EQ(describe(set), "1-3:3 8-10:3");
}

TEST(VmaSetTest, ProtectSplitsAndRefusesHoles) {
    VmaSet set(kAllocator);
    ASSERT_TRUE(set.map(0, 8 * kPage, 3, VmaKind::Private));
    EXPECT_EQ(set.protect(2 * kPage, 2 * kPage, 1), 1);
    EXPECT_EQ(describe(set), "0-2:3 2-4:1 4-8:3");
    ASSERT_TRUE(set.map(10 * kPage, 2 * kPage, 3, VmaKind::Private));
    EXPECT_EQ(set.protect(6 * kPage, 6 * kPage, 0), 0);  // pages 8-9 are a hole
    EXPECT_EQ(describe(set), "0-2:3 2-4:1 4-8:3 10-12:3");
    EXPECT_EQ(set.protect(0, 8 * kPage, 0), 1);
    EXPECT_EQ(describe(set), "0-2:0 2-4:0 4-8:0 10-12:3");
}

TEST(VmaSetTest, FindFreeTakesTheLowestGap) {
    VmaSet set(kAllocator);
    ASSERT_TRUE(set.map(100 * kPage, 10 * kPage, 3, VmaKind::Private));
    ASSERT_TRUE(set.map(112 * kPage, 10 * kPage, 3, VmaKind::Private));
    EXPECT_EQ(set.find_free(2 * kPage, 100 * kPage, 1000 * kPage), 110 * kPage);
    EXPECT_EQ(set.find_free(3 * kPage, 100 * kPage, 1000 * kPage), 122 * kPage);
    EXPECT_EQ(set.find_free(3 * kPage, 0, 1000 * kPage), 0u * kPage);  // below everything
    EXPECT_EQ(set.find_free(3 * kPage, 100 * kPage, 124 * kPage), 0u);  // no room below the ceiling
}

TEST(VmaSetTest, CopyForFork) {
    VmaSet parent(kAllocator), child(kAllocator);
    ASSERT_TRUE(parent.map(0, 4 * kPage, 3, VmaKind::Private));
    ASSERT_TRUE(parent.map(8 * kPage, 4 * kPage, 3, VmaKind::Shared));
    ASSERT_TRUE(child.map(100 * kPage, kPage, 1, VmaKind::Private));
    ASSERT_TRUE(child.copy_from(parent));
    EXPECT_EQ(describe(child), describe(parent));
    ASSERT_TRUE(parent.unmap(0, 4 * kPage));
    EXPECT_EQ(describe(child), "0-4:3 8-12:3");  // independent copies
}

TEST(VmaSetTest, OutOfMemoryChangesNothing) {
    static int budget;
    VmaSet::Allocator limited = {[](usize bytes) -> void* { return budget-- > 0 ? calloc(1, bytes) : nullptr; },
                                 [](void* p) { free(p); }, file_ref, file_unref};
    budget = 1;
    VmaSet set(limited);
    ASSERT_TRUE(set.map(0, 4 * kPage, 3, VmaKind::Private));  // 16 slots
    for (u64 i = 1; i < 14; ++i) ASSERT_TRUE(set.map(i * 10 * kPage, kPage, 3, VmaKind::Private));
    std::string before = describe(set);
    EXPECT_FALSE(set.map(500 * kPage, kPage, 3, VmaKind::Private));  // needs to grow
    EXPECT_EQ(describe(set), before);
}

// File ranges: splitting keeps each part's file offset right and takes a reference per
// part; unmapping, replacing, clearing and destroying drop them; fork's copy takes its own.
TEST(VmaSetTest, FileRangesCountReferencesAndTrackOffsets) {
    int& file = g_file_refs[0];
    file = 0;
    {
        VmaSet set(kAllocator);
        ASSERT_TRUE(set.map(10 * kPage, 8 * kPage, 1, VmaKind::Private, &file, 2 * kPage));
        EXPECT_EQ(file, 1);
        ASSERT_TRUE(set.unmap(12 * kPage, 2 * kPage));  // splits: [10,12) and [14,18)
        EXPECT_EQ(file, 2);
        const memory::Vma* right = set.find(15 * kPage);
        ASSERT_NE(right, nullptr);
        EXPECT_EQ(right->offset, 6 * kPage);  // 2 pages + (14 - 10) pages
        EXPECT_EQ(set.find(10 * kPage)->offset, 2 * kPage);
        ASSERT_EQ(set.protect(16 * kPage, kPage, 3), 1);  // [14,16) [16,17) [17,18)
        EXPECT_EQ(file, 4);
        EXPECT_EQ(set.find(17 * kPage)->offset, 9 * kPage);
        VmaSet child(kAllocator);
        ASSERT_TRUE(child.copy_from(set));
        EXPECT_EQ(file, 8);
        ASSERT_TRUE(child.map(0, 100 * kPage, 3, VmaKind::Private));  // anonymous over everything
        EXPECT_EQ(file, 4);
        set.clear();
        EXPECT_EQ(file, 0);
        ASSERT_TRUE(set.map(0, kPage, 1, VmaKind::Shared, &file, 0));
    }
    EXPECT_EQ(file, 0);  // the destructor let go of the last range
}

}  // namespace
