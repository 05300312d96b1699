// Intrusive list, bitmap and formatting: the kernel's basic containers and its printf.
#include <gtest/gtest.h>

#include <vector>

#include "lib/bitmap.hpp"
#include "lib/format.hpp"
#include "lib/list.hpp"

namespace {

struct Item {
    int value;
    ListNode node;
    ListNode other;  // an object can sit on two lists at once through two nodes
};
using ItemList = IntrusiveList<Item, &Item::node>;

std::vector<int> values(ItemList& list) {
    std::vector<int> out;
    for (Item* i : list) out.push_back(i->value);
    return out;
}

TEST(IntrusiveList, PushPopKeepsOrderAndSize) {
    Item a{1, {}, {}}, b{2, {}, {}}, c{3, {}, {}};
    ItemList list;
    EXPECT_TRUE(list.empty());
    list.push_back(&b);
    list.push_front(&a);
    list.push_back(&c);
    EXPECT_EQ(list.size(), 3u);
    EXPECT_EQ(values(list), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(list.pop_front(), &a);
    EXPECT_EQ(list.pop_back(), &c);
    EXPECT_EQ(list.front(), &b);
    EXPECT_EQ(list.pop_front(), &b);
    EXPECT_EQ(list.pop_front(), nullptr);
    EXPECT_FALSE(a.node.linked());
}

TEST(IntrusiveList, RemoveFromMiddleAndInsertBefore) {
    Item items[5] = {{0, {}, {}}, {1, {}, {}}, {2, {}, {}}, {3, {}, {}}, {4, {}, {}}};
    ItemList list;
    for (Item& i : items) list.push_back(&i);
    list.remove(&items[2]);
    EXPECT_FALSE(items[2].node.linked());
    EXPECT_FALSE(list.contains(&items[2]));
    EXPECT_EQ(values(list), (std::vector<int>{0, 1, 3, 4}));
    list.insert_before(&items[0], &items[2]);
    EXPECT_EQ(values(list), (std::vector<int>{2, 0, 1, 3, 4}));
    EXPECT_EQ(list.size(), 5u);
}

TEST(IntrusiveList, TwoNodesTwoLists) {
    Item a{7, {}, {}};
    ItemList first;
    IntrusiveList<Item, &Item::other> second;
    first.push_back(&a);
    second.push_back(&a);
    EXPECT_EQ(first.front(), &a);
    EXPECT_EQ(second.front(), &a);
    first.remove(&a);
    EXPECT_EQ(second.front(), &a);
}

TEST(Bitmap, SetClearFindAcrossWords) {
    Bitmap<130> bits;
    EXPECT_EQ(bits.find_first_set(), 130u);
    EXPECT_EQ(bits.find_first_clear(), 0u);
    bits.set(0);
    bits.set(64);
    bits.set(129);
    EXPECT_TRUE(bits.test(64));
    EXPECT_FALSE(bits.test(65));
    EXPECT_EQ(bits.count(), 3u);
    EXPECT_EQ(bits.find_first_set(1), 64u);
    EXPECT_EQ(bits.find_first_set(65), 129u);
    EXPECT_EQ(bits.find_first_clear(), 1u);
    bits.clear(64);
    EXPECT_EQ(bits.find_first_set(1), 129u);
}

TEST(Bitmap, FullBitmapHasNoClearBit) {
    Bitmap<70> bits;
    for (usize i = 0; i < 70; ++i) bits.set(i);
    EXPECT_EQ(bits.find_first_clear(), 70u);  // bits past the capacity never count
    bits.clear(69);
    EXPECT_EQ(bits.find_first_clear(), 69u);
}

std::string fmt(const char* format, ...) {
    char buffer[256];
    va_list args;
    va_start(args, format);
    vsnformat(buffer, sizeof(buffer), format, args);
    va_end(args);
    return buffer;
}

TEST(Format, MatchesPrintfForTheConversionsTheKernelUses) {
    EXPECT_EQ(fmt("%d %i %u", -42, 7, 3000000000u), "-42 7 3000000000");
    EXPECT_EQ(fmt("%x %X %o", 0xbeefu, 0xbeefu, 8u), "beef BEEF 10");
    EXPECT_EQ(fmt("%08x|%-6d|%6d", 0x1234u, 5, -5), "00001234|5     |    -5");
    EXPECT_EQ(fmt("%lld %llu %zu", -9000000000ll, 18446744073709551615ull, sizeof(u64)),
              "-9000000000 18446744073709551615 8");
    EXPECT_EQ(fmt("%s|%.3s|%5s|%-5s|", "abc", "abcdef", "ab", "ab"), "abc|abc|   ab|ab   |");
    EXPECT_EQ(fmt("%c%%", 'x'), "x%");
    EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1000)), "0x0000000000001000");
    EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
    EXPECT_EQ(fmt("%d", -2147483647 - 1), "-2147483648");
    EXPECT_EQ(fmt("%lld", static_cast<long long>(-9223372036854775807ll - 1)), "-9223372036854775808");
}

TEST(Format, UnknownConversionIsPrintedVerbatim) { EXPECT_EQ(fmt("a%qb"), "a%qb"); }

TEST(Format, TruncatesButReportsFullLength) {
    char small[6];
    usize n = snformat(small, sizeof(small), "%s", "hello world");
    EXPECT_EQ(n, 11u);
    EXPECT_STREQ(small, "hello");
}

}  // namespace
