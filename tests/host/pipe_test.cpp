// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/pipe.hpp"
#include "fs_test_env.hpp"

using namespace fs;
namespace e = fs::err;

namespace {

constexpr u32 kRead = flag::kReadOnly, kWrite = flag::kWriteOnly;

class PipeTest : public fs_test::FsTest {
protected:
    void SetUp() override {
        FsTest::SetUp();
        ASSERT_EQ(pipe_create(&pipe_), 0);
        node_ref(pipe_);  // the second description
    }
    void TearDown() override {
        if (reader_open_) close(pipe_, kRead);
        if (writer_open_) close(pipe_, kWrite);
        FsTest::TearDown();
    }
    i64 put(usize n, char c = 'w', u32 flags = 0) {
        std::vector<char> data(n, c);
        u64 offset = 0;
        return write(pipe_, &offset, data.data(), n, flags);
    }
    i64 get(std::string* out, usize n, u32 flags = 0) {
        std::vector<char> data(n);
        u64 offset = 0;
        i64 rc = read(pipe_, &offset, data.data(), n, flags);
        if (rc > 0 && out) out->assign(data.data(), static_cast<size_t>(rc));
        return rc;
    }
    void close_reader() {
        close(pipe_, kRead);
        reader_open_ = false;
    }
    void close_writer() {
        close(pipe_, kWrite);
        writer_open_ = false;
    }

    Node* pipe_ = nullptr;
    bool reader_open_ = true, writer_open_ = true;
};

TEST_F(PipeTest, DataFlowsInOrder) {
    u64 offset = 0;
    EXPECT_EQ(write(pipe_, &offset, "abc", 3, 0), 3);
    EXPECT_EQ(write(pipe_, &offset, "def", 3, 0), 3);
    EXPECT_EQ(offset, 0u);  // pipes ignore offsets
    std::string got;
    EXPECT_EQ(get(&got, 4), 4);
    EXPECT_EQ(got, "abcd");
    EXPECT_EQ(get(&got, 100), 2);
    EXPECT_EQ(got, "ef");
    Stat st{};
    stat(pipe_, &st);
    EXPECT_EQ(st.mode & mode::kTypeMask, mode::kFifo);
}

TEST_F(PipeTest, EmptyReadBlocksOrFails) {
    EXPECT_EQ(get(nullptr, 10, flag::kNonBlock), -e::kEAGAIN);
    // Blocking with nobody to write: the (test) wait reports a signal.
    EXPECT_EQ(get(nullptr, 10), -e::kEINTR);
    EXPECT_EQ(fs_test::g_waits, 1);
    // A writer "on another thread" fills it while the reader sleeps.
    fs_test::g_wait_hook = [&] {
        fs_test::g_wait_hook = nullptr;
        u64 offset = 0;
        return write(pipe_, &offset, "late", 4, 0) == 4;
    };
    std::string got;
    EXPECT_EQ(get(&got, 10), 4);
    EXPECT_EQ(got, "late");
}

TEST_F(PipeTest, EofWhenNoWritersRemain) {
    ASSERT_EQ(put(5), 5);
    close_writer();
    std::string got;
    EXPECT_EQ(get(&got, 10), 5);  // buffered data first
    EXPECT_EQ(get(&got, 10), 0);  // then EOF, also without O_NONBLOCK
    EXPECT_EQ(poll(pipe_, kRead), kPollHup);
}

TEST_F(PipeTest, EpipeWhenNoReadersRemain) {
    close_reader();
    EXPECT_EQ(put(1), -e::kEPIPE);
    EXPECT_EQ(poll(pipe_, kWrite), kPollOut | kPollErr);
}

TEST_F(PipeTest, SmallWritesAreAtomic) {
    // Leave 4095 bytes free: a 4096-byte write must not be split (PIPE_BUF).
    ASSERT_EQ(put(kPipeCapacity - 4095), static_cast<i64>(kPipeCapacity - 4095));
    EXPECT_EQ(poll(pipe_, kWrite), 0u);
    EXPECT_EQ(put(4096, 'a', flag::kNonBlock), -e::kEAGAIN);
    EXPECT_EQ(put(4095, 'a', flag::kNonBlock), 4095);
    EXPECT_EQ(put(1, 'a', flag::kNonBlock), -e::kEAGAIN);
    EXPECT_EQ(poll(pipe_, kRead), kPollIn);
}

TEST_F(PipeTest, LargeWritesArePartial) {
    ASSERT_EQ(put(kPipeCapacity - 100), static_cast<i64>(kPipeCapacity - 100));
    EXPECT_EQ(put(8192, 'b', flag::kNonBlock), 100);  // what fits, no more
    // Blocking: the interrupted writer reports what it did write.
    std::string got;
    ASSERT_EQ(get(&got, 1000), 1000);
    EXPECT_EQ(put(8192, 'c'), 1000);
    // A reader draining as the writer sleeps lets a large blocking write complete, and the
    // data arrives intact across the ring's wrap-around.
    std::string drained;
    fs_test::g_wait_hook = [&] {
        u64 offset = 0;
        std::vector<char> buffer(kPipeCapacity);
        i64 n = read(pipe_, &offset, buffer.data(), buffer.size(), flag::kNonBlock);
        if (n > 0) drained.append(buffer.data(), static_cast<size_t>(n));
        return n > 0;
    };
    EXPECT_EQ(put(100000, 'd'), 100000);
    fs_test::g_wait_hook = nullptr;
    while (get(&got, 65536, flag::kNonBlock) > 0) drained += got;
    // The full ring the earlier writes left, then all of the large write.
    ASSERT_EQ(drained.size(), kPipeCapacity + 100000);
    EXPECT_EQ(drained.substr(drained.size() - 100000), std::string(100000, 'd'));
}

TEST_F(PipeTest, FifoOpenSemantics) {
    ASSERT_EQ(mknod(cwd_, "/fifo", mode::kFifo | 0644, 0, 0, 0, root_), 0);
    EXPECT_EQ(stat_path("/fifo").mode, mode::kFifo | 0644);
    // fifo(7): O_WRONLY|O_NONBLOCK without a reader is ENXIO; O_RDONLY|O_NONBLOCK succeeds.
    EXPECT_EQ(open_rc("/fifo", kWrite | flag::kNonBlock), -e::kENXIO);
    Node* reader = nullptr;
    ASSERT_EQ(open(cwd_, "/fifo", kRead | flag::kNonBlock, 0, 0, root_, &reader), 0);
    Node* writer = nullptr;
    ASSERT_EQ(open(cwd_, "/fifo", kWrite | flag::kNonBlock, 0, 0, root_, &writer), 0);
    u64 offset = 0;
    EXPECT_EQ(write(writer, &offset, "via fifo", 8, 0), 8);
    char buffer[16];
    EXPECT_EQ(read(reader, &offset, buffer, sizeof(buffer), 0), 8);
    close(writer, kWrite);
    EXPECT_EQ(read(reader, &offset, buffer, sizeof(buffer), 0), 0);
    close(reader, kRead | flag::kNonBlock);

    // A blocking open waits for the other side: interrupted, it fails with EINTR and leaves
    // no reader counted behind; with a writer arriving meanwhile, it succeeds.
    EXPECT_EQ(open_rc("/fifo", kRead), -e::kEINTR);
    EXPECT_EQ(open_rc("/fifo", kWrite | flag::kNonBlock), -e::kENXIO);
    fs_test::g_wait_hook = [&] {
        fs_test::g_wait_hook = nullptr;
        return open(cwd_, "/fifo", kWrite, 0, 0, root_, &writer) == 0;
    };
    ASSERT_EQ(open(cwd_, "/fifo", kRead, 0, 0, root_, &reader), 0);
    close(writer, kWrite);
    close(reader, kRead);
    // O_RDWR never waits.
    EXPECT_EQ(open_rc("/fifo", flag::kReadWrite), 0);
}

TEST_F(PipeTest, PollGenerationCatchesChanges) {
    u64 generation = poll_generation();
    ASSERT_EQ(put(1), 1);
    EXPECT_EQ(poll_wait(generation), 0);  // changed already: no sleep
    EXPECT_EQ(fs_test::g_waits, 0);
    EXPECT_EQ(poll_wait(poll_generation()), -e::kEINTR);
}

// The readiness word the shim reads without calling the FS: masks per side, and events
// counted for the side they concern (epoll's edge triggering).
TEST_F(PipeTest, ReadinessWordIsPublished) {
    u32 slot = readiness_slot(pipe_);
    ASSERT_GE(slot, kFirstObjectSlot);
    const ReadinessTable* table = readiness_table();
    auto word = [&] { return table->words[slot]; };
    EXPECT_EQ(readiness_for(word(), kRead), 0u);
    EXPECT_EQ(readiness_for(word(), kWrite), kPollOut);
    u64 reader_events = readiness_events(word(), kRead), writer_events = readiness_events(word(), kWrite);
    ASSERT_EQ(put(3), 3);
    EXPECT_EQ(readiness_for(word(), kRead), kPollIn);
    EXPECT_EQ(readiness_events(word(), kRead), reader_events + 1);  // a write is news for readers
    EXPECT_EQ(readiness_events(word(), kWrite), writer_events);     // not for writers
    ASSERT_EQ(get(nullptr, 1), 1);
    EXPECT_EQ(readiness_events(word(), kRead), reader_events + 1);  // a read is not news for readers
    EXPECT_EQ(readiness_events(word(), kWrite), writer_events + 1);
    close_writer();
    EXPECT_EQ(readiness_for(word(), kRead), kPollIn | kPollHup);
    EXPECT_EQ(readiness_for(word(), flag::kReadWrite), kPollIn | kPollHup | kPollOut);  // both sides
    // Files and directories share the always-ready slot.
    EXPECT_EQ(readiness_slot(cwd_), kAlwaysReadySlot);
    EXPECT_EQ(readiness_for(table->words[kAlwaysReadySlot], kRead), kPollIn | kPollOut);
}

// Slots are a fixed table: when they run out, pipe creation fails with ENFILE, and freeing a
// pipe returns its slot.
TEST_F(PipeTest, ReadinessSlotsRunOutWithEnfile) {
    std::vector<Node*> pipes;
    Node* extra = nullptr;
    i64 rc;
    while ((rc = pipe_create(&extra)) == 0) pipes.push_back(extra);
    EXPECT_EQ(rc, -e::kENFILE);
    EXPECT_EQ(pipes.size(), kReadinessSlots - kFirstObjectSlot - 1);  // the fixture's pipe holds one
    node_ref(pipes.back());
    close(pipes.back(), kRead);
    close(pipes.back(), kWrite);
    pipes.pop_back();
    ASSERT_EQ(pipe_create(&extra), 0);
    pipes.push_back(extra);
    for (Node* p : pipes) {
        node_ref(p);
        close(p, kRead);
        close(p, kWrite);
    }
}

}  // namespace
