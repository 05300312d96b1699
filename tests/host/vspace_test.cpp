// The memory manager's decisions on a VSpace (services/memory/manager.hpp): mmap over
// ranges, partial munmap splits, mprotect over holes, gap search, merging, the break,
// fork's copy, the range limit, the kernel's lookup while the manager writes, what the
// manager answers for the faults the kernel does not serve alone, and its fold of the
// OPLog with the PCache refill it asks for.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "memory/manager.hpp"

namespace {

using namespace memory;

std::unique_ptr<VSpace> fresh() {
    auto vs = std::make_unique<VSpace>();
    reset(vs.get(), 0);
    return vs;
}

i64 fixed(VSpace* vs, u64 page, u64 pages, u32 prot, VmaKind kind = VmaKind::Private, u32 file = kNoFile,
          u64 offset = 0) {
    return map(vs, page * kPage, pages * kPage, map_attributes(prot, kind, true, file), offset, kUnlimited);
}

// "start-end:prot" for every range, in pages, for compact expectations.
std::string describe(const VSpace& vs) {
    std::string out;
    for (usize i = 0; i < vs.count; ++i) {
        const Range& r = vs.ranges[i];
        if (!out.empty()) out += " ";
        out += std::to_string(r.start / kPage) + "-" + std::to_string(r.end / kPage) + ":" + std::to_string(r.prot);
    }
    return out;
}

const Range* find(const VSpace& vs, u64 address) {
    static Range found;
    return lookup(vs, address, &found) == Lookup::kFound ? &found : nullptr;
}

TEST(VSpaceTest, MapFindAndReplace) {
    auto vs = fresh();
    ASSERT_EQ(fixed(vs.get(), 10, 5, 3), i64(10 * kPage));
    ASSERT_EQ(fixed(vs.get(), 20, 2, 1), i64(20 * kPage));
    EXPECT_EQ(describe(*vs), "10-15:3 20-22:1");
    EXPECT_EQ(find(*vs, 10 * kPage)->prot, 3u);
    EXPECT_EQ(find(*vs, 15 * kPage - 1)->start, 10 * kPage);
    EXPECT_EQ(find(*vs, 15 * kPage), nullptr);
    EXPECT_EQ(find(*vs, 9 * kPage), nullptr);
    // MAP_FIXED over the middle of the first and the start of a hole.
    ASSERT_GE(fixed(vs.get(), 12, 6, 7, VmaKind::Shared), 0);
    EXPECT_EQ(describe(*vs), "10-12:3 12-18:7 20-22:1");
    EXPECT_EQ(find(*vs, 13 * kPage)->kind, VmaKind::Shared);
    EXPECT_EQ(map(vs.get(), kPage + 1, kPage, map_attributes(3, VmaKind::Private, true, 0), 0, kUnlimited), -kEINVAL);
}

TEST(VSpaceTest, HintsAreTakenWhenFreeAndNoReplaceNeverReplaces) {
    auto vs = fresh();
    u64 hint = kMmapFloor + 100 * kPage;
    EXPECT_EQ(map(vs.get(), hint, 2 * kPage, map_attributes(3, VmaKind::Private, false, 0), 0, kUnlimited), i64(hint));
    // Taken: the lowest gap instead. Below vm.mmap_min_addr or into the kernel's window: no hint.
    EXPECT_EQ(map(vs.get(), hint + kPage, kPage, map_attributes(3, VmaKind::Private, false, 0), 0, kUnlimited),
              i64(kMmapFloor));
    EXPECT_EQ(map(vs.get(), kPage, kPage, map_attributes(3, VmaKind::Private, false, 0), 0, kUnlimited),
              i64(kMmapFloor + kPage));
    EXPECT_EQ(map(vs.get(), kMmapCeiling - kPage, 2 * kPage, map_attributes(3, VmaKind::Private, false, 0), 0, kUnlimited),
              i64(kMmapFloor + 2 * kPage));
    EXPECT_EQ(map(vs.get(), 0x20000, kPage, map_attributes(3, VmaKind::Private, false, 0), 0, kUnlimited), i64(0x20000));
    u64 no_replace = map_attributes(1, VmaKind::Private, true, 0) | kAttrNoReplace;
    EXPECT_EQ(map(vs.get(), hint, kPage, no_replace, 0, kUnlimited), -kEEXIST);
    EXPECT_EQ(find(*vs, hint)->prot, 3u);
    EXPECT_EQ(map(vs.get(), hint + 2 * kPage, kPage, no_replace, 0, kUnlimited), i64(hint + 2 * kPage));
}

TEST(VSpaceTest, PartialUnmapSplits) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 0, 10, 3), 0);
    ASSERT_EQ(unmap(vs.get(), 4 * kPage, 2 * kPage), 0);
    EXPECT_EQ(describe(*vs), "0-4:3 6-10:3");
    ASSERT_EQ(unmap(vs.get(), 0, kPage), 0);
    EXPECT_EQ(describe(*vs), "1-4:3 6-10:3");
    ASSERT_EQ(unmap(vs.get(), 3 * kPage, 5 * kPage), 0);  // across a hole
    EXPECT_EQ(describe(*vs), "1-3:3 8-10:3");
    ASSERT_EQ(unmap(vs.get(), 50 * kPage, kPage), 0);  // nothing there: fine
    EXPECT_EQ(describe(*vs), "1-3:3 8-10:3");
}

TEST(VSpaceTest, ProtectSplitsRefusesHolesAndMergesBack) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 0, 8, 3), 0);
    EXPECT_EQ(protect(vs.get(), 2 * kPage, 2 * kPage, 1), 0);
    EXPECT_EQ(describe(*vs), "0-2:3 2-4:1 4-8:3");
    ASSERT_GE(fixed(vs.get(), 10, 2, 3), 0);
    EXPECT_EQ(protect(vs.get(), 6 * kPage, 6 * kPage, 0), -kENOMEM);  // pages 8-9 are a hole
    EXPECT_EQ(describe(*vs), "0-2:3 2-4:1 4-8:3 10-12:3");
    EXPECT_EQ(protect(vs.get(), 0, 8 * kPage, 0), 0);  // one range again, as Linux merges
    EXPECT_EQ(describe(*vs), "0-8:0 10-12:3");
}

TEST(VSpaceTest, NeighboursMergeOnlyWhenTheyAgree) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 0, 2, 3), 0);
    ASSERT_GE(fixed(vs.get(), 2, 2, 3), 0);
    ASSERT_GE(fixed(vs.get(), 4, 2, 3, VmaKind::Shared), 0);
    EXPECT_EQ(vs->count, 2u);
    // A file range merges with the next only if the file continues there.
    ASSERT_GE(fixed(vs.get(), 10, 2, 1, VmaKind::Private, 7, 0), 0);
    ASSERT_GE(fixed(vs.get(), 12, 2, 1, VmaKind::Private, 7, 2 * kPage), 0);
    ASSERT_GE(fixed(vs.get(), 14, 2, 1, VmaKind::Private, 7, 0), 0);
    EXPECT_EQ(describe(*vs), "0-4:3 4-6:3 10-14:1 14-16:1");
}

TEST(VSpaceTest, FindFreeTakesTheLowestGap) {
    auto vs = fresh();
    u64 base = kMmapFloor / kPage;
    ASSERT_GE(fixed(vs.get(), base, 10, 3), 0);
    ASSERT_GE(fixed(vs.get(), base + 12, 10, 1), 0);
    u64 attributes = map_attributes(3, VmaKind::Private, false, 0);
    EXPECT_EQ(map(vs.get(), 0, 2 * kPage, attributes, 0, kUnlimited), i64((base + 10) * kPage));
    EXPECT_EQ(map(vs.get(), 0, 3 * kPage, attributes, 0, kUnlimited), i64((base + 22) * kPage));
    // RLIMIT_AS counts what is mapped.
    EXPECT_EQ(map(vs.get(), 0, kPage, attributes, 0, 25 * kPage), -kENOMEM);
    EXPECT_GE(map(vs.get(), 0, kPage, attributes, 0, 26 * kPage), 0);
}

TEST(VSpaceTest, BreakGrowsAsOneRangeAndStopsAtMappings) {
    auto vs = fresh();
    reset(vs.get(), 100 * kPage);
    EXPECT_EQ(brk(vs.get(), 100 * kPage + 10, kUnlimited, kUnlimited), i64(100 * kPage + 10));
    for (u64 i = 2; i < 40; ++i) ASSERT_EQ(brk(vs.get(), (100 + i) * kPage, kUnlimited, kUnlimited), i64((100 + i) * kPage));
    EXPECT_EQ(describe(*vs), "100-139:3");
    EXPECT_EQ(brk(vs.get(), 99 * kPage, kUnlimited, kUnlimited), i64(139 * kPage));  // below the start: refused
    ASSERT_GE(fixed(vs.get(), 150, 1, 1), 0);
    EXPECT_EQ(brk(vs.get(), 151 * kPage, kUnlimited, kUnlimited), i64(139 * kPage));  // into a mapping
    EXPECT_EQ(brk(vs.get(), 145 * kPage, 40 * kPage, kUnlimited), i64(139 * kPage));  // past RLIMIT_DATA
    EXPECT_EQ(brk(vs.get(), 110 * kPage, kUnlimited, kUnlimited), i64(110 * kPage));  // shrinks
    EXPECT_EQ(describe(*vs), "100-110:3 150-151:1");
    EXPECT_EQ(vs->brk_mapped, 110 * kPage);
}

TEST(VSpaceTest, CopyForFork) {
    auto parent = fresh(), child = fresh();
    ASSERT_GE(fixed(parent.get(), 0, 4, 3), 0);
    ASSERT_GE(fixed(parent.get(), 8, 4, 3, VmaKind::Shared), 0);
    ASSERT_GE(fixed(child.get(), 100, 1, 1), 0);
    ASSERT_EQ(copy(child.get(), parent.get()), 0);
    EXPECT_EQ(describe(*child), describe(*parent));
    ASSERT_EQ(unmap(parent.get(), 0, 4 * kPage), 0);
    EXPECT_EQ(describe(*child), "0-4:3 8-12:3");  // independent copies
}

TEST(VSpaceTest, FullChangesNothing) {
    auto vs = fresh();
    for (u64 i = 0; vs->count < kMaxRanges; ++i) ASSERT_GE(fixed(vs.get(), i * 2, 1, 3), 0);
    std::string before = describe(*vs);
    EXPECT_EQ(fixed(vs.get(), 100000, 1, 3), -kENOMEM);
    EXPECT_EQ(unmap(vs.get(), 0, 1), -kEINVAL);
    EXPECT_EQ(protect(vs.get(), 2 * kPage, kPage, 1), 0);  // whole range: no split needed, fits
    EXPECT_EQ(unmap(vs.get(), 4 * kPage, kPage), 0);  // one range fewer
    EXPECT_EQ(vs->count, kMaxRanges - 1);
}

// File ranges keep each part's file offset right when split.
TEST(VSpaceTest, FileRangesTrackOffsets) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 8, 1, VmaKind::Private, 5, 2 * kPage), 0);
    ASSERT_EQ(unmap(vs.get(), 12 * kPage, 2 * kPage), 0);  // [10,12) and [14,18)
    EXPECT_EQ(find(*vs, 15 * kPage)->offset, 6 * kPage);   // 2 pages + (14 - 10) pages
    EXPECT_EQ(find(*vs, 10 * kPage)->offset, 2 * kPage);
    ASSERT_EQ(protect(vs.get(), 16 * kPage, kPage, 3), 0);  // [14,16) [16,17) [17,18)
    EXPECT_EQ(find(*vs, 17 * kPage)->offset, 9 * kPage);
    EXPECT_EQ(find(*vs, 17 * kPage)->file, 5u);
}

// The kernel's reader: never blocks on the manager, and never trusts its counts.
TEST(VSpaceTest, LookupSaysBusyWhileTheManagerWritesAndClampsCounts) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 5, 3), 0);
    Range r;
    EXPECT_EQ(lookup(*vs, 11 * kPage, &r), Lookup::kFound);
    vs->sequence |= 1;
    EXPECT_EQ(lookup(*vs, 11 * kPage, &r), Lookup::kBusy);
    vs->sequence += 1;
    vs->count = 0xffffffff;  // a manager gone wrong
    vs->ranges[0].start = 20 * kPage;  // and a range that does not hold what it is found for
    EXPECT_EQ(lookup(*vs, 11 * kPage, &r), Lookup::kNone);
    EXPECT_NE(lookup(*vs, ~u64{0} - 1, &r), Lookup::kFound);
}

TEST(VSpaceRemapTest, ShrinksAndGrowsWhereItIsWhenItCan) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 8, kProtRead | kProtWrite), 0);
    ASSERT_GE(fixed(vs.get(), 30, 2, kProtRead), 0);
    // Shrinking leaves the head.
    EXPECT_EQ(remap(vs.get(), 10 * kPage, 8 * kPage, 4 * kPage, 0, kUnlimited), i64(10 * kPage));
    EXPECT_EQ(describe(*vs), "10-14:3 30-32:1");
    // Growing into free pages stays, and merges into one range.
    EXPECT_EQ(remap(vs.get(), 10 * kPage, 4 * kPage, 20 * kPage, 0, kUnlimited), i64(10 * kPage));
    EXPECT_EQ(describe(*vs), "10-30:3 30-32:1");
    // Blocked by the next range: ENOMEM without MREMAP_MAYMOVE, and RLIMIT_AS holds.
    EXPECT_EQ(remap(vs.get(), 10 * kPage, 20 * kPage, 21 * kPage, 0, kUnlimited), -kENOMEM);
    EXPECT_EQ(remap(vs.get(), 30 * kPage, 2 * kPage, 3 * kPage, 0, 22 * kPage), -kENOMEM);
    // Not one mapped range: EFAULT.
    EXPECT_EQ(remap(vs.get(), 5 * kPage, kPage, 2 * kPage, kRemapMayMove, kUnlimited), -kEFAULT);
    EXPECT_EQ(remap(vs.get(), 28 * kPage, 4 * kPage, 8 * kPage, kRemapMayMove, kUnlimited), -kEFAULT);
}

TEST(VSpaceRemapTest, MovesKeepingAttributesAndFileOffsets) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 8, kProtRead, VmaKind::Shared, 5, 100 * kPage), 0);
    ASSERT_GE(fixed(vs.get(), 18, 2, kProtRead | kProtWrite), 0);
    // Pages 12..16 of the file range, grown to 6 pages: they move to the lowest gap.
    i64 to = remap(vs.get(), 12 * kPage, 4 * kPage, 6 * kPage, kRemapMayMove, kUnlimited);
    ASSERT_EQ(to, i64(kMmapFloor));
    EXPECT_EQ(describe(*vs), "10-12:1 16-18:1 18-20:3 " + std::to_string(kMmapFloor / kPage) + "-" +
                                 std::to_string(kMmapFloor / kPage + 6) + ":1");
    const Range* moved = find(*vs, kMmapFloor);
    EXPECT_EQ(moved->kind, VmaKind::Shared);
    EXPECT_EQ(moved->file, 5u);
    EXPECT_EQ(moved->offset, 102 * kPage);
    // MREMAP_FIXED replaces what is at the destination; an overlap with the source is EINVAL.
    EXPECT_EQ(remap(vs.get(), 18 * kPage, 2 * kPage, 2 * kPage, (10 * kPage) | kRemapMayMove | kRemapFixed, kUnlimited),
              i64(10 * kPage));
    EXPECT_EQ(describe(*vs).substr(0, 16), "10-12:3 16-18:1 ");
    EXPECT_EQ(remap(vs.get(), 10 * kPage, 2 * kPage, 4 * kPage, (11 * kPage) | kRemapMayMove | kRemapFixed, kUnlimited),
              -kEINVAL);
    // MREMAP_DONTUNMAP keeps the source, for private anonymous memory of the same size only.
    i64 copy = remap(vs.get(), 10 * kPage, 2 * kPage, 2 * kPage, kRemapMayMove | kRemapDontUnmap, kUnlimited);
    ASSERT_GT(copy, 0);
    EXPECT_NE(find(*vs, 10 * kPage), nullptr);
    EXPECT_NE(find(*vs, u64(copy)), nullptr);
    EXPECT_EQ(remap(vs.get(), 16 * kPage, 2 * kPage, 2 * kPage, kRemapMayMove | kRemapDontUnmap, kUnlimited), -kEINVAL);
}

// Shared anonymous memory has an object of its first size behind it (as Linux's shmem): what
// mremap grows it by is a range of its own past the object, where a fault is SIGBUS.
TEST(VSpaceRemapTest, SharedAnonymousMemoryGrownIsPastItsObject) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 2, kProtRead | kProtWrite, VmaKind::Shared), 0);
    ASSERT_EQ(remap(vs.get(), 10 * kPage, 2 * kPage, 4 * kPage, 0, kUnlimited), i64(10 * kPage));  // in place
    EXPECT_EQ(describe(*vs), "10-12:3 12-14:3");
    EXPECT_EQ(find(*vs, 12 * kPage)->flags, kRangePastObject);
    EXPECT_EQ(fault_kind(fault(vs.get(), 13 * kPage, kFaultWrite)), kFaultPastObject);
    EXPECT_EQ(fault_kind(fault(vs.get(), 11 * kPage, kFaultWrite)), kFaultNewPage);
    ASSERT_GE(fixed(vs.get(), 40, 1, kProtRead | kProtWrite, VmaKind::Shared), 0);
    ASSERT_GE(fixed(vs.get(), 41, 1, kProtRead), 0);  // no room to grow where it is
    i64 moved = remap(vs.get(), 40 * kPage, kPage, 3 * kPage, kRemapMayMove, kUnlimited);
    ASSERT_GT(moved, 0);
    EXPECT_EQ(find(*vs, u64(moved))->flags, 0u);
    EXPECT_EQ(find(*vs, u64(moved) + kPage)->flags, kRangePastObject);
    EXPECT_EQ(find(*vs, u64(moved) + 2 * kPage)->end, u64(moved) + 3 * kPage);
    // Private memory grows as memory of its own.
    ASSERT_GE(fixed(vs.get(), 60, 1, kProtRead | kProtWrite), 0);
    ASSERT_EQ(remap(vs.get(), 60 * kPage, kPage, 2 * kPage, 0, kUnlimited), i64(60 * kPage));
    EXPECT_EQ(find(*vs, 61 * kPage)->flags, 0u);
    EXPECT_EQ(find(*vs, 61 * kPage)->start, 60 * kPage);
}

TEST(VSpaceRemapTest, OldSizeZeroMapsSharedMemoryAgain) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 4, kProtRead | kProtWrite, VmaKind::Shared, 7, 20 * kPage), 0);
    ASSERT_GE(fixed(vs.get(), 30, 4, kProtRead | kProtWrite), 0);
    i64 twin = remap(vs.get(), 11 * kPage, 0, 2 * kPage, kRemapMayMove, kUnlimited);
    ASSERT_EQ(twin, i64(kMmapFloor));
    EXPECT_NE(find(*vs, 11 * kPage), nullptr);  // the source stays
    EXPECT_EQ(find(*vs, kMmapFloor)->offset, 21 * kPage);
    EXPECT_EQ(find(*vs, kMmapFloor)->kind, VmaKind::Shared);
    EXPECT_EQ(remap(vs.get(), 30 * kPage, 0, kPage, kRemapMayMove, kUnlimited), -kEINVAL);  // private
    EXPECT_EQ(remap(vs.get(), 11 * kPage, 0, kPage, 0, kUnlimited), -kEINVAL);             // no MAYMOVE
    EXPECT_EQ(remap(vs.get(), 20 * kPage, 0, kPage, kRemapMayMove, kUnlimited), -kEFAULT);
}

TEST(VSpaceFaultTest, RefusesWhatTheRangesDoNotAllow) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 4, kProtRead), 0);
    ASSERT_GE(fixed(vs.get(), 20, 1, 0), 0);
    EXPECT_EQ(fault(vs.get(), 5 * kPage, 0), i64(kFaultUnmapped));
    EXPECT_EQ(fault(vs.get(), 10 * kPage, kFaultWrite), i64(kFaultDenied));
    EXPECT_EQ(fault(vs.get(), 10 * kPage, kFaultExecute), i64(kFaultDenied));
    EXPECT_EQ(fault(vs.get(), 20 * kPage, 0), i64(kFaultDenied));  // PROT_NONE
    // While the manager writes, the answer is to wait, never a guess.
    vs->sequence |= 1;
    EXPECT_EQ(fault(vs.get(), 10 * kPage, 0), i64(kFaultBusy));
}

TEST(VSpaceFaultTest, AnonymousMemoryZeroPageNewPageAndRefill) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 4, kProtRead | kProtWrite), 0);
    ASSERT_GE(fixed(vs.get(), 20, 4, kProtRead | kProtWrite, VmaKind::Shared), 0);
    EXPECT_EQ(fault(vs.get(), 11 * kPage, 0), i64(kFaultZeroPage));
    EXPECT_EQ(fault(vs.get(), 11 * kPage, kFaultWrite), i64(kFaultNewPage));
    EXPECT_EQ(fault(vs.get(), 21 * kPage, 0), i64(kFaultNewPage));  // shared memory never maps the zero page
    // An empty PCache: a new page, and the PCache refilled first.
    i64 answer = fault(vs.get(), 11 * kPage, kFaultWrite | kFaultPCacheEmpty);
    EXPECT_EQ(fault_kind(u64(answer)), kFaultNewPage);
    EXPECT_EQ(fault_refill(u64(answer)), kPCacheRefill);
}

TEST(VSpaceFaultTest, CopyOnWriteOnlyWhileThePageIsShared) {
    auto vs = fresh();
    ASSERT_GE(fixed(vs.get(), 10, 4, kProtRead | kProtWrite), 0);
    ASSERT_GE(fixed(vs.get(), 20, 4, kProtRead | kProtWrite, VmaKind::Shared), 0);
    u64 present = kFaultPresent | kFaultWrite;
    EXPECT_EQ(fault(vs.get(), 10 * kPage, present | kFaultPageShared), i64(kFaultCopyPage));
    EXPECT_EQ(fault(vs.get(), 10 * kPage, present), i64(kFaultWriteInPlace));  // its last holder
    EXPECT_EQ(fault(vs.get(), 20 * kPage, present | kFaultPageShared), i64(kFaultWriteInPlace));  // MAP_SHARED
    EXPECT_EQ(fault(vs.get(), 10 * kPage, kFaultPresent), i64(kFaultResolved));
}

TEST(VSpaceFaultTest, FilePagesFaultAroundInsideTheRangeAndCopiesWhenCachesAreSeparate) {
    auto vs = fresh();
    // File pages 100.. at pages 40..60: the window of page 50 is [48, 64), cut at the end.
    ASSERT_GE(fixed(vs.get(), 40, 20, kProtRead | kProtWrite, VmaKind::Private, 3, 100 * kPage), 0);
    u64 answer = u64(fault(vs.get(), 50 * kPage + 17, kFaultSharedCache));
    EXPECT_EQ(fault_kind(answer), kFaultFilePage);
    EXPECT_FALSE(answer & kFaultCopyNow);
    EXPECT_EQ(fault_around_back(answer), 2u);
    EXPECT_EQ(fault_around_count(answer), 12u);
    // ... and cut at the start: page 41's window is [32, 48).
    answer = u64(fault(vs.get(), 41 * kPage, kFaultSharedCache));
    EXPECT_EQ(fault_around_back(answer), 1u);
    EXPECT_EQ(fault_around_count(answer), 8u);
    // A private write, and every private page with separate caches: a copy, alone.
    EXPECT_EQ(u64(fault(vs.get(), 50 * kPage, kFaultWrite | kFaultSharedCache)), file_page_answer(true, 0, 0));
    EXPECT_EQ(u64(fault(vs.get(), 50 * kPage, 0)), file_page_answer(true, 0, 0));
    // A shared mapping maps the FS's page either way, and writes it.
    ASSERT_GE(fixed(vs.get(), 40, 20, kProtRead | kProtWrite, VmaKind::Shared, 3, 100 * kPage), 0);
    EXPECT_EQ(u64(fault(vs.get(), 50 * kPage, kFaultWrite)), file_page_answer(false, 0, 0));
    EXPECT_EQ(fault_around_count(u64(fault(vs.get(), 50 * kPage, 0))), 12u);
}

}  // namespace

// The manager's part of kernel paging (paging.hpp): it folds the OPLog records it is handed
// into the VSpaces they name, and sizes the PCache's refill by them.
TEST(PagingTest, FoldsTheOpLogIntoTheVSpacesAndSizesTheRefill) {
    auto object = std::make_unique<Paging>();
    auto a = fresh(), b = fresh();
    object->vspaces[3] = reinterpret_cast<u64>(a.get());
    object->vspaces[9] = reinterpret_cast<u64>(b.get());
    // Records 100..111: seven of slot 3, three of slot 9; one of a slot with no VSpace, and
    // one of slot 3's program before its exec (an older generation).
    ASSERT_EQ(a->generation, b->generation);
    u64 now = a->generation;
    for (u64 n = 100; n < 111; ++n)
        object->log[n % kOpLogSlots] = {(n << 12) | record_owner(n < 107 ? 3 : n < 110 ? 9 : 500, now), n << 12};
    object->log[111 % kOpLogSlots] = {(111 << 12) | record_owner(3, now - 1), 111 << 12};
    object->pcache_count = 20;
    EXPECT_EQ(paging(object.get(), 100, 112), i64(2 * kPCacheLowWater - 20));  // the floor
    EXPECT_EQ(a->kernel_paged, 7u);
    EXPECT_EQ(b->kernel_paged, 3u);
    // A burst: twice what was taken since the last fold, up to the ring.
    object->pcache_count = 0;
    EXPECT_EQ(paging(object.get(), 1000, 1100), 200);
    EXPECT_EQ(paging(object.get(), 1000, 1000 + 5 * kOpLogSlots), i64(kPCacheSlots));
    object->pcache_count = kPCacheSlots;
    EXPECT_EQ(paging(object.get(), 0, 0), 0);
    // exec's reset and fork's copy start the count again, in a new generation.
    reset(a.get(), 0);
    EXPECT_EQ(a->kernel_paged, 0u);
    EXPECT_EQ(a->generation, now + 1);
    copy(a.get(), b.get());
    EXPECT_EQ(a->kernel_paged, 0u);
    EXPECT_EQ(a->generation, now + 2);
    (void)paging(object.get(), 100, 107);  // the old program's records
    EXPECT_EQ(a->kernel_paged, 0u);
}

TEST(PagingTest, AFaultThatFoundThePCacheEmptyFoldsAndAsksForAtMostOneRefill) {
    auto object = std::make_unique<Paging>();
    auto vs = fresh();
    ASSERT_EQ(fixed(vs.get(), 16, 4, kProtRead | kProtWrite), i64(16 * kPage));
    object->vspaces[1] = reinterpret_cast<u64>(vs.get());
    object->log[0] = {(16 * kPage) | record_owner(1, vs->generation), 0x1000};
    i64 answer = fault(vs.get(), 17 * kPage, kFaultWrite | kFaultPCacheEmpty, object.get(), 0, 1);
    EXPECT_EQ(fault_kind(answer), kFaultNewPage);
    EXPECT_EQ(fault_refill(answer), kPCacheRefill);  // the rest off the critical path
    EXPECT_EQ(vs->kernel_paged, 1u);
    // Handed nothing (the kernel could not), it still asks for the refill.
    EXPECT_EQ(fault_refill(fault(vs.get(), 18 * kPage, kFaultWrite | kFaultPCacheEmpty)), kPCacheRefill);
}

// With separate caches the manager keeps its own copies of file pages: a slot per (file
// version, page), found again while it stays, the least recently used way of its set
// replaced when the set is full.
TEST(CopyCacheTest, ASlotIsFoundAgainUntilNewerPagesPushItOut) {
    u64 first = copy_slot(0x1001, 5);
    ASSERT_NE(first, 0u);
    EXPECT_TRUE(first & kFaultCopyCached);
    EXPECT_FALSE(first & kFaultCopyKept);
    u64 again = copy_slot(0x1001, 5);
    EXPECT_TRUE(again & kFaultCopyKept);
    EXPECT_EQ(fault_copy_slot(again), fault_copy_slot(first));
    EXPECT_LT(fault_copy_slot(first), kCopySlots);
    EXPECT_FALSE(copy_slot(0x1001, 6) & kFaultCopyKept);  // another page
    EXPECT_FALSE(copy_slot(0x1003, 5) & kFaultCopyKept);  // another file, or version
    // Twice the cache's worth of other pages: the first is gone, the last is still there.
    for (u64 i = 0; i < 2 * kCopySlots; ++i) (void)copy_slot(0x2001, i);
    EXPECT_FALSE(copy_slot(0x1001, 5) & kFaultCopyKept);
    EXPECT_TRUE(copy_slot(0x2001, 2 * kCopySlots - 1) & kFaultCopyKept);
}

TEST(CopyCacheTest, APrivateFileReadWithSeparateCachesAsksForTheCopyInItsSlot) {
    auto vs = fresh();
    ASSERT_EQ(fixed(vs.get(), 16, 4, kProtRead | kProtWrite, VmaKind::Private, 3, 8 * kPage), i64(16 * kPage));
    u64 key = u64{0x3001} << 32;
    i64 answer = fault(vs.get(), 18 * kPage, key);  // a read, caches separate
    EXPECT_EQ(fault_kind(answer), kFaultFilePage);
    EXPECT_TRUE(answer & kFaultCopyNow);
    EXPECT_TRUE(answer & kFaultCopyCached);
    EXPECT_EQ(fault_copy_slot(answer), fault_copy_slot(copy_slot(0x3001, 10)));  // page 8 + 2 of the file
    EXPECT_FALSE(fault(vs.get(), 18 * kPage, key | kFaultWrite) & kFaultCopyCached);  // a write: its own copy
    EXPECT_FALSE(fault(vs.get(), 18 * kPage, key | kFaultSharedCache) & kFaultCopyCached);  // the FS's page
}
