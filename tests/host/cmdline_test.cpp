// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <string>

#include "lib/cmdline.hpp"

using kernel::CommandLine;

namespace {

std::string str(StringView view) { return std::string(view.data ? view.data : "", view.length); }

std::string value_of(const CommandLine& cmdline, const char* key) {
    StringView value;
    if (!cmdline.get(key, &value)) return "<absent>";
    return str(value);
}

TEST(CommandLine, NullptrIsEmpty) {
    CommandLine cmdline;
    cmdline.parse(nullptr);
    EXPECT_EQ(cmdline.count(), 0u);
    EXPECT_EQ(cmdline.rejected_count(), 0u);
    EXPECT_EQ(cmdline.dropped_count(), 0u);
    EXPECT_FALSE(cmdline.truncated());
    EXPECT_FALSE(cmdline.has("x"));
}

TEST(CommandLine, EmptyAndBlankOnly) {
    CommandLine cmdline;
    cmdline.parse("");
    EXPECT_EQ(cmdline.count(), 0u);
    cmdline.parse(" \t  \n ");
    EXPECT_EQ(cmdline.count(), 0u);
    EXPECT_EQ(cmdline.rejected_count(), 0u);
}

TEST(CommandLine, KeysAndValuesInOrder) {
    CommandLine cmdline;
    cmdline.parse("  quiet\tconsole=ttyS0,115200   loglevel=7 empty= ");
    ASSERT_EQ(cmdline.count(), 4u);
    EXPECT_EQ(str(cmdline.at(0).key), "quiet");
    EXPECT_FALSE(cmdline.at(0).has_value);
    EXPECT_EQ(str(cmdline.at(1).key), "console");
    EXPECT_EQ(str(cmdline.at(1).value), "ttyS0,115200");
    EXPECT_TRUE(cmdline.at(1).has_value);
    EXPECT_EQ(str(cmdline.at(2).key), "loglevel");
    EXPECT_EQ(str(cmdline.at(2).value), "7");
    EXPECT_EQ(str(cmdline.at(3).key), "empty");
    EXPECT_TRUE(cmdline.at(3).has_value);
    EXPECT_EQ(cmdline.at(3).value.length, 0u);
    EXPECT_TRUE(cmdline.at(4).key.empty());

    EXPECT_TRUE(cmdline.has("quiet"));
    EXPECT_FALSE(cmdline.has("quie"));
    EXPECT_FALSE(cmdline.has("quiet2"));
    EXPECT_EQ(value_of(cmdline, "quiet"), "");
    EXPECT_EQ(value_of(cmdline, "missing"), "<absent>");
    EXPECT_EQ(str(cmdline.get("console")), "ttyS0,115200");
    EXPECT_TRUE(cmdline.get("missing").empty());
}

TEST(CommandLine, OnlyFirstEqualsSplits) {
    CommandLine cmdline;
    cmdline.parse("root=UUID=1234");
    ASSERT_EQ(cmdline.count(), 1u);
    EXPECT_EQ(str(cmdline.at(0).key), "root");
    EXPECT_EQ(str(cmdline.at(0).value), "UUID=1234");
}

TEST(CommandLine, QuotesAllowBlanks) {
    CommandLine cmdline;
    cmdline.parse("init=\"/bin/sh -l\" after \"quoted key\"=v x=\"\" y=a\"b c\"d");
    ASSERT_EQ(cmdline.count(), 5u);
    EXPECT_EQ(value_of(cmdline, "init"), "/bin/sh -l");
    EXPECT_TRUE(cmdline.has("after"));
    EXPECT_EQ(value_of(cmdline, "quoted key"), "v");
    EXPECT_EQ(value_of(cmdline, "x"), "");
    EXPECT_TRUE(cmdline.at(3).has_value);
    EXPECT_EQ(value_of(cmdline, "y"), "ab cd");
    EXPECT_EQ(cmdline.rejected_count(), 0u);
}

TEST(CommandLine, UnterminatedQuoteRejectsTheRest) {
    CommandLine cmdline;
    cmdline.parse("a=1 init=\"/bin/sh b=2");
    ASSERT_EQ(cmdline.count(), 1u);
    EXPECT_EQ(value_of(cmdline, "a"), "1");
    EXPECT_FALSE(cmdline.has("init"));
    EXPECT_FALSE(cmdline.has("b"));
    EXPECT_EQ(cmdline.rejected_count(), 1u);
}

TEST(CommandLine, LastDuplicateWins) {
    CommandLine cmdline;
    cmdline.parse("log=1 other log=2 log");
    EXPECT_EQ(cmdline.count(), 4u);
    // The bare `log` comes last, so it wins with an empty value.
    EXPECT_EQ(value_of(cmdline, "log"), "");
    cmdline.parse("log=1 log=2");
    EXPECT_EQ(value_of(cmdline, "log"), "2");
}

TEST(CommandLine, ParseReplacesPreviousContents) {
    CommandLine cmdline;
    cmdline.parse("a b c \x01");
    EXPECT_EQ(cmdline.count(), 3u);
    EXPECT_EQ(cmdline.rejected_count(), 1u);
    cmdline.parse("d");
    EXPECT_EQ(cmdline.count(), 1u);
    EXPECT_EQ(cmdline.rejected_count(), 0u);
    EXPECT_FALSE(cmdline.has("a"));
}

TEST(CommandLine, NonPrintableBytesRejectTheirArgument) {
    CommandLine cmdline;
    const char text[] = "good=1 bad\x07key=2 val=\x1b[31m high=\xff\xfe quoted=\"a\x7f\" ok";
    cmdline.parse(text);
    ASSERT_EQ(cmdline.count(), 2u);
    EXPECT_EQ(str(cmdline.at(0).key), "good");
    EXPECT_EQ(str(cmdline.at(1).key), "ok");
    EXPECT_EQ(cmdline.rejected_count(), 4u);
    EXPECT_FALSE(cmdline.has("val"));
    EXPECT_FALSE(cmdline.has("high"));
}

TEST(CommandLine, EmptyKeysAreRejected) {
    CommandLine cmdline;
    cmdline.parse("=value \"\" k");
    ASSERT_EQ(cmdline.count(), 1u);
    EXPECT_EQ(str(cmdline.at(0).key), "k");
    EXPECT_EQ(cmdline.rejected_count(), 2u);
}

TEST(CommandLine, TooManyArgumentsAreDropped) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "k" + std::to_string(i) + "=" + std::to_string(i) + " ";
    CommandLine cmdline;
    cmdline.parse(text.c_str());
    EXPECT_EQ(cmdline.count(), CommandLine::kMaxArguments);
    EXPECT_EQ(cmdline.dropped_count(), 8u);
    EXPECT_EQ(cmdline.rejected_count(), 0u);
    EXPECT_EQ(value_of(cmdline, "k31"), "31");
    EXPECT_FALSE(cmdline.has("k32"));
}

TEST(CommandLine, ExactlyMaxLengthIsNotTruncated) {
    std::string text = "a=" + std::string(CommandLine::kMaxLength - 2, 'x');
    CommandLine cmdline;
    cmdline.parse(text.c_str());
    EXPECT_FALSE(cmdline.truncated());
    ASSERT_EQ(cmdline.count(), 1u);
    EXPECT_EQ(cmdline.at(0).value.length, CommandLine::kMaxLength - 2);
}

TEST(CommandLine, TooLongInputDropsTheCutArgument) {
    // `mem=` straddles the cut: keeping `mem=40` would silently change its meaning.
    std::string text = "a=1 " + std::string(CommandLine::kMaxLength - 10, 'p') + " mem=4096M b=2";
    CommandLine cmdline;
    cmdline.parse(text.c_str());
    EXPECT_TRUE(cmdline.truncated());
    EXPECT_EQ(cmdline.count(), 2u);
    EXPECT_EQ(value_of(cmdline, "a"), "1");
    EXPECT_FALSE(cmdline.has("mem"));
    EXPECT_FALSE(cmdline.has("b"));
    EXPECT_EQ(cmdline.rejected_count(), 1u);
}

TEST(CommandLine, TruncationAtABlankKeepsTheLastArgument) {
    std::string text = std::string(CommandLine::kMaxLength - 4, 'p') + " a=1 b=2";
    ASSERT_EQ(text[CommandLine::kMaxLength], ' ');
    CommandLine cmdline;
    cmdline.parse(text.c_str());
    EXPECT_TRUE(cmdline.truncated());
    EXPECT_EQ(value_of(cmdline, "a"), "1");
    EXPECT_FALSE(cmdline.has("b"));
    EXPECT_EQ(cmdline.rejected_count(), 0u);
}

TEST(CommandLine, GetU64Formats) {
    CommandLine cmdline;
    cmdline.parse("d=1234 h=0x1F H=0XfF k=4K m=16m g=2G hk=0x10M zero=0 max=18446744073709551615");
    u64 v = 0;
    ASSERT_TRUE(cmdline.get_u64("d", &v));
    EXPECT_EQ(v, 1234u);
    ASSERT_TRUE(cmdline.get_u64("h", &v));
    EXPECT_EQ(v, 0x1Fu);
    ASSERT_TRUE(cmdline.get_u64("H", &v));
    EXPECT_EQ(v, 0xFFu);
    ASSERT_TRUE(cmdline.get_u64("k", &v));
    EXPECT_EQ(v, 4096u);
    ASSERT_TRUE(cmdline.get_u64("m", &v));
    EXPECT_EQ(v, 16u << 20);
    ASSERT_TRUE(cmdline.get_u64("g", &v));
    EXPECT_EQ(v, u64{2} << 30);
    ASSERT_TRUE(cmdline.get_u64("hk", &v));
    EXPECT_EQ(v, u64{16} << 20);
    ASSERT_TRUE(cmdline.get_u64("zero", &v));
    EXPECT_EQ(v, 0u);
    ASSERT_TRUE(cmdline.get_u64("max", &v));
    EXPECT_EQ(v, ~u64{0});
}

TEST(CommandLine, GetU64RejectsMalformedValues) {
    CommandLine cmdline;
    cmdline.parse(
        "flag empty= x=0x k=K neg=-1 plus=+1 junk=12ab hexjunk=0xg space=\" 1\" "
        "over=18446744073709551616 overhex=0x10000000000000000 overshift=0x400000000G kk=1KK");
    const char* keys[] = {"flag", "empty", "x", "k", "neg", "plus", "junk", "hexjunk", "space",
                          "over", "overhex", "overshift", "kk", "missing"};
    for (const char* key : keys) {
        u64 v = 77;
        EXPECT_FALSE(cmdline.get_u64(key, &v)) << key;
        EXPECT_EQ(v, 77u) << key;
    }
    u64 v = 0;
    cmdline.parse("edge=0x3FFFFFFFFG");
    ASSERT_TRUE(cmdline.get_u64("edge", &v));
    EXPECT_EQ(v, u64{0x3FFFFFFFF} << 30);
}

TEST(CommandLine, CopiesStayValid) {
    CommandLine original;
    original.parse("init=\"/bin/sh -l\" a=1");
    CommandLine copy = original;
    original.parse("other=2");
    EXPECT_EQ(value_of(copy, "init"), "/bin/sh -l");
    EXPECT_EQ(value_of(copy, "a"), "1");
}

}  // namespace
