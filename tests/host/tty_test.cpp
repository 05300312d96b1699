// The tty line discipline (services/fs/tty.cpp) against what Linux's n_tty does: the exact
// bytes echoed, what each read returns, the termios values, the job-control ioctls.

#include "fs/tty.hpp"

#include <gtest/gtest.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

// The Linux UAPI headers, to check the tty's ABI constants against (after tty.hpp: they
// define macros such as ECHO).
#include <asm/ioctls.h>
#include <asm/termbits.h>

namespace {

using namespace fs::tty;

// ---- A host for the tty: malloc, a lock that checks its own use, scripted waits ----------

struct Host {
    bool locked = false;
    int lock_errors = 0;      // lock taken twice or released unheld
    int emits_unlocked = 0;   // emit must run under the FS lock
    int signals_locked = 0;   // the lock-taking entry points signal after unlocking
    std::string emitted;
    std::vector<std::pair<int, int>> signals;  // (pgid, signal)
    int wakes = 0;
    int ready_calls = 0;
    int waits = 0;
    // What happens while a reader sleeps (the lock is released meanwhile): feed input and
    // return true, or return false for "interrupted by a signal". Unset: interrupted.
    std::function<bool()> on_wait;
};

Host* g_host = nullptr;
int g_queue_token;

void* host_alloc(usize bytes) { return calloc(1, bytes); }
void host_free(void* memory) { free(memory); }
u64 host_now() { return 0; }
void host_lock() {
    if (g_host->locked) ++g_host->lock_errors;
    g_host->locked = true;
}
void host_unlock() {
    if (!g_host->locked) ++g_host->lock_errors;
    g_host->locked = false;
}
fs::WaitQueue* host_wait_create() { return reinterpret_cast<fs::WaitQueue*>(&g_queue_token); }
void host_wait_destroy(fs::WaitQueue*) {}
bool host_wait(fs::WaitQueue* queue) {
    EXPECT_EQ(reinterpret_cast<fs::WaitQueue*>(&g_queue_token), queue);
    EXPECT_TRUE(g_host->locked) << "wait called without the FS lock";
    // Bounded, so a read that never gets its data fails instead of hanging the test binary.
    if (++g_host->waits > 100) return false;
    g_host->locked = false;
    bool woken = g_host->on_wait ? g_host->on_wait() : false;
    g_host->locked = true;
    return woken;
}
void host_wake_all(fs::WaitQueue*) { ++g_host->wakes; }
void host_random(void* buffer, usize length) { memset(buffer, 0x5a, length); }

void sink_emit(void*, const char* bytes, usize length) {
    if (!g_host->locked) ++g_host->emits_unlocked;
    g_host->emitted.append(bytes, length);
}
void sink_signal(void*, i32 pgid, int signal) {
    if (g_host->locked) ++g_host->signals_locked;
    g_host->signals.emplace_back(pgid, signal);
}
void sink_ready(void*) { ++g_host->ready_calls; }

class TtyTest : public ::testing::Test {
protected:
    void SetUp() override {
        saved_env_ = fs::env();  // other suites' env comes back in TearDown
        g_host = &host_;
        fs::Env env{};
        env.alloc = host_alloc;
        env.free = host_free;
        env.now_ns = host_now;
        env.lock = host_lock;
        env.unlock = host_unlock;
        env.wait_create = host_wait_create;
        env.wait_destroy = host_wait_destroy;
        env.wait = host_wait;
        env.wake_all = host_wake_all;
        env.random = host_random;
        fs::set_env(env);
        fs::TtySinks sinks;
        sinks.emit = sink_emit;
        sinks.signal_group = sink_signal;
        sinks.input_ready = sink_ready;
        tty_ = fs::Tty::create(sinks);
        ASSERT_NE(nullptr, tty_);
    }
    void TearDown() override {
        fs::Tty::destroy(tty_);
        EXPECT_EQ(0, host_.lock_errors);
        EXPECT_FALSE(host_.locked);
        EXPECT_EQ(0, host_.emits_unlocked);
        EXPECT_EQ(0, host_.signals_locked);
        g_host = nullptr;
        fs::set_env(saved_env_);
    }

    void type(const std::string& bytes) { tty_->input(bytes.data(), bytes.size()); }

    // read(2) into a string; `result` is the return value.
    std::string read(usize length = 8192, bool nonblock = true, i64* result = nullptr) {
        std::string buffer(length, '\0');
        i64 r = tty_->read(buffer.data(), length, nonblock);
        if (result) *result = r;
        buffer.resize(r > 0 ? static_cast<usize>(r) : 0);
        return buffer;
    }
    i64 read_status(usize length = 8192, bool nonblock = true) {
        i64 r;
        read(length, nonblock, &r);
        return r;
    }

    i64 ioctl(u32 cmd, void* buffer, uptr value = 0) { return tty_->ioctl(caller_, cmd, value, buffer); }
    Termios get() {
        Termios t;
        memset(&t, 0xee, sizeof(t));
        EXPECT_EQ(0, ioctl(kTCGETS, &t));
        return t;
    }
    void set(const Termios& t) {
        Termios copy = t;
        EXPECT_EQ(0, ioctl(kTCSETS, &copy));
    }
    void set_lflag(u32 on, u32 off) {
        Termios t = get();
        t.c_lflag = (t.c_lflag | on) & ~off;
        set(t);
    }
    void set_iflag(u32 on, u32 off) {
        Termios t = get();
        t.c_iflag = (t.c_iflag | on) & ~off;
        set(t);
    }
    void make_raw(u8 vmin, u8 vtime) {
        Termios t = get();
        t.c_lflag &= ~(kICANON | kECHO);
        t.c_cc[kVMIN] = vmin;
        t.c_cc[kVTIME] = vtime;
        set(t);
    }
    i32 fionread() {
        i32 n = -1;
        EXPECT_EQ(0, ioctl(kFIONREAD, &n));
        return n;
    }

    Host host_;
    fs::Env saved_env_{};
    fs::Tty* tty_ = nullptr;
    fs::TtyCaller caller_{};
};

// ---- ABI ---------------------------------------------------------------------------------

TEST(TtyAbi, MatchesLinuxHeaders) {
    static_assert(sizeof(Termios) == sizeof(struct termios));
    static_assert(offsetof(Termios, c_lflag) == offsetof(struct termios, c_lflag));
    static_assert(offsetof(Termios, c_line) == offsetof(struct termios, c_line));
    static_assert(offsetof(Termios, c_cc) == offsetof(struct termios, c_cc));
    static_assert(kNccs == NCCS);
    EXPECT_EQ(0x5401u, kTCGETS);
    EXPECT_EQ(static_cast<u32>(TCGETS), kTCGETS);
    EXPECT_EQ(static_cast<u32>(TCSETS), kTCSETS);
    EXPECT_EQ(static_cast<u32>(TCSETSW), kTCSETSW);
    EXPECT_EQ(static_cast<u32>(TCSETSF), kTCSETSF);
    EXPECT_EQ(static_cast<u32>(TCXONC), kTCXONC);
    EXPECT_EQ(static_cast<u32>(TCFLSH), kTCFLSH);
    EXPECT_EQ(static_cast<u32>(TIOCSCTTY), kTIOCSCTTY);
    EXPECT_EQ(static_cast<u32>(TIOCGPGRP), kTIOCGPGRP);
    EXPECT_EQ(static_cast<u32>(TIOCSPGRP), kTIOCSPGRP);
    EXPECT_EQ(static_cast<u32>(TIOCGWINSZ), kTIOCGWINSZ);
    EXPECT_EQ(static_cast<u32>(TIOCSWINSZ), kTIOCSWINSZ);
    EXPECT_EQ(static_cast<u32>(FIONREAD), kFIONREAD);
    EXPECT_EQ(static_cast<u32>(TIOCNOTTY), kTIOCNOTTY);
    EXPECT_EQ(static_cast<u32>(TIOCGSID), kTIOCGSID);
    EXPECT_EQ(static_cast<u32>(TIOCOUTQ), kTIOCOUTQ);
    EXPECT_EQ(static_cast<u32>(TIOCGETD), kTIOCGETD);
    EXPECT_EQ(static_cast<u32>(TCSBRK), kTCSBRK);
    EXPECT_EQ(static_cast<u32>(ICRNL | IXON | ISTRIP | INLCR | IGNCR | IUTF8), kICRNL | kIXON | kISTRIP | kINLCR | kIGNCR | kIUTF8);
    EXPECT_EQ(static_cast<u32>(OPOST | ONLCR | OCRNL | ONOCR | ONLRET), kOPOST | kONLCR | kOCRNL | kONOCR | kONLRET);
    EXPECT_EQ(static_cast<u32>(ISIG), kISIG);
    EXPECT_EQ(static_cast<u32>(ICANON), kICANON);
    EXPECT_EQ(static_cast<u32>(ECHO), kECHO);
    EXPECT_EQ(static_cast<u32>(ECHOE), kECHOE);
    EXPECT_EQ(static_cast<u32>(ECHOK), kECHOK);
    EXPECT_EQ(static_cast<u32>(ECHONL), kECHONL);
    EXPECT_EQ(static_cast<u32>(NOFLSH), kNOFLSH);
    EXPECT_EQ(static_cast<u32>(ECHOCTL), kECHOCTL);
    EXPECT_EQ(static_cast<u32>(ECHOKE), kECHOKE);
    EXPECT_EQ(static_cast<u32>(IEXTEN), kIEXTEN);
    EXPECT_EQ(static_cast<usize>(VINTR), kVINTR);
    EXPECT_EQ(static_cast<usize>(VMIN), kVMIN);
    EXPECT_EQ(static_cast<usize>(VTIME), kVTIME);
    EXPECT_EQ(static_cast<usize>(VEOF), kVEOF);
    EXPECT_EQ(static_cast<usize>(VEOL2), kVEOL2);
    EXPECT_EQ(static_cast<usize>(VWERASE), kVWERASE);
    EXPECT_EQ(static_cast<usize>(VLNEXT), kVLNEXT);
    EXPECT_EQ(static_cast<usize>(VREPRINT), kVREPRINT);
}

TEST(TtyAbi, IoctlArgumentSizes) {
    usize in = 99, out = 99;
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kTCGETS, &in, &out));
    EXPECT_EQ(0u, in);
    EXPECT_EQ(36u, out);
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kTCSETSF, &in, &out));
    EXPECT_EQ(36u, in);
    EXPECT_EQ(0u, out);
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kTIOCGWINSZ, &in, &out));
    EXPECT_EQ(0u, in);
    EXPECT_EQ(8u, out);
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kTIOCSPGRP, &in, &out));
    EXPECT_EQ(4u, in);
    EXPECT_EQ(0u, out);
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kFIONREAD, &in, &out));
    EXPECT_EQ(0u, in);
    EXPECT_EQ(4u, out);
    EXPECT_TRUE(fs::Tty::ioctl_arg_size(kTCFLSH, &in, &out));  // integer passed by value
    EXPECT_EQ(0u, in);
    EXPECT_EQ(0u, out);
    EXPECT_FALSE(fs::Tty::ioctl_arg_size(0x5432, &in, &out));  // TCGETX
}

// ---- termios -----------------------------------------------------------------------------

TEST_F(TtyTest, DefaultTermiosIsLinuxConsole) {
    Termios t = get();
    EXPECT_EQ(0x500u, t.c_iflag);   // ICRNL | IXON
    EXPECT_EQ(0x5u, t.c_oflag);     // OPOST | ONLCR
    EXPECT_EQ(0x4bfu, t.c_cflag);   // B38400 | CS8 | CREAD | HUPCL
    EXPECT_EQ(0x8a3bu, t.c_lflag);  // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
    EXPECT_EQ(0u, t.c_line);
    const u8 expected_cc[19] = {0x03, 0x1c, 0x7f, 0x15, 0x04, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0};
    for (usize i = 0; i < 19; ++i) EXPECT_EQ(expected_cc[i], t.c_cc[i]) << "c_cc[" << i << "]";
}

TEST_F(TtyTest, TcsetsRoundTrip) {
    Termios t = get();
    t.c_iflag = kIGNCR | kISTRIP;
    t.c_oflag = 0;
    t.c_cflag = 0x1cb2;
    t.c_lflag = kISIG | kECHONL;
    t.c_line = 0;
    for (usize i = 0; i < kNccs; ++i) t.c_cc[i] = static_cast<u8>(0x40 + i);
    Termios in = t;
    EXPECT_EQ(0, ioctl(kTCSETSW, &in));
    Termios back = get();
    EXPECT_EQ(0, memcmp(&t, &back, sizeof(t)));
}

TEST_F(TtyTest, UnknownIoctlIsEnotty) {
    char buffer[64] = {};
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(0x5432, buffer));
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(0x1234, buffer));
    i32 d = -1;
    EXPECT_EQ(0, ioctl(kTIOCGETD, &d));
    EXPECT_EQ(0, d);  // N_TTY
}

// ---- Canonical mode ----------------------------------------------------------------------

TEST_F(TtyTest, LineIsReadableOnlyAfterNewline) {
    type("hello");
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    EXPECT_EQ(0, fionread());
    EXPECT_EQ(0u, tty_->poll() & kPollIn);
    EXPECT_EQ(kPollOut, tty_->poll() & kPollOut);
    type("\r");  // ICRNL: CR ends the line as NL
    EXPECT_EQ(6, fionread());
    EXPECT_EQ(kPollIn | kPollOut, tty_->poll());
    EXPECT_EQ("hello\n", read());
    EXPECT_EQ("hello\r\n", host_.emitted);  // echo, with ONLCR on the newline
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
}

TEST_F(TtyTest, OneLinePerRead) {
    type("one\rtwo\r");
    EXPECT_EQ("on", read(2));
    EXPECT_EQ("e\n", read());
    EXPECT_EQ("two\n", read());
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
}

TEST_F(TtyTest, ZeroLengthReadReturnsZero) {
    EXPECT_EQ(0, read_status(0, false));
    EXPECT_EQ(0, host_.waits);
}

TEST_F(TtyTest, EraseRemovesLastCharacter) {
    type("abc\x7f\x7f" "d\r");
    EXPECT_EQ("ad\n", read());
    EXPECT_EQ("abc\b \b\b \bd\r\n", host_.emitted);
}

TEST_F(TtyTest, EraseOnEmptyLineDoesNothing) {
    type("\x7f\x7f" "a\r");
    EXPECT_EQ("a\n", read());
    EXPECT_EQ("a\r\n", host_.emitted);
}

TEST_F(TtyTest, BackspaceIsDataNotErase) {
    // Linux erases only with VERASE (DEL); ^H is an ordinary, ^H-echoed character.
    type("ab\bc\r");
    EXPECT_EQ("ab\bc\n", read());
    EXPECT_EQ("ab^Hc\r\n", host_.emitted);
}

TEST_F(TtyTest, ErasingControlCharacterRubsOutBothColumns) {
    type("a\x01\x7f\r");
    EXPECT_EQ("a\n", read());
    EXPECT_EQ("a^A\b \b\b \b\r\n", host_.emitted);
}

TEST_F(TtyTest, EraseWithoutEchoeEchoesEraseCharacter) {
    set_lflag(0, kECHOE);
    type("ab\x7f\r");
    EXPECT_EQ("a\n", read());
    EXPECT_EQ("ab^?\r\n", host_.emitted);
}

TEST_F(TtyTest, EraseTabBacksUpToTabStart) {
    type("ab\t\x7f" "c\r");
    EXPECT_EQ("abc\n", read());
    // The tab went from column 2 to 8: six backspaces (no spaces) return to column 2.
    EXPECT_EQ("ab\t\b\b\b\b\b\bc\r\n", host_.emitted);
}

TEST_F(TtyTest, KillErasesLineVisually) {
    type("abc\x15xy\r");
    EXPECT_EQ("xy\n", read());
    EXPECT_EQ("abc\b \b\b \b\b \bxy\r\n", host_.emitted);
}

TEST_F(TtyTest, KillWithoutEchokeEchoesKillAndNewline) {
    set_lflag(0, kECHOKE);
    type("abc\x15xy\r");
    EXPECT_EQ("xy\n", read());
    EXPECT_EQ("abc^U\r\nxy\r\n", host_.emitted);
}

TEST_F(TtyTest, WordEraseRemovesTrailingPunctuationAndWord) {
    type("foo bar..\x17" "baz\r");
    EXPECT_EQ("foo baz\n", read());
    std::string rubouts;
    for (int i = 0; i < 5; ++i) rubouts += "\b \b";
    EXPECT_EQ("foo bar.." + rubouts + "baz\r\n", host_.emitted);
}

TEST_F(TtyTest, WordEraseSkipsTrailingSpaces) {
    type("one two  \x17\r");
    EXPECT_EQ("one \n", read());
}

TEST_F(TtyTest, WordEraseNeedsIexten) {
    set_lflag(0, kIEXTEN);
    type("ab\x17\r");
    EXPECT_EQ("ab\x17\n", read());
}

TEST_F(TtyTest, EofAtLineStartReadsZero) {
    type("\x04");
    EXPECT_EQ(0, fionread());  // the push is not data
    EXPECT_EQ(kPollIn | kPollOut, tty_->poll());
    EXPECT_EQ(0, read_status());
    EXPECT_EQ("", host_.emitted);  // ^D is not echoed
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    type("x\r");
    EXPECT_EQ("x\n", read());
}

TEST_F(TtyTest, EofMidLinePushesPartialLine) {
    type("abc\x04");
    EXPECT_EQ(3, fionread());
    EXPECT_EQ("abc", read());
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());  // the push was consumed with the line
    EXPECT_EQ("abc", host_.emitted);
}

TEST_F(TtyTest, EofPushConsumedWhenReadEndsExactlyBeforeIt) {
    type("abcd\x04\x04");
    EXPECT_EQ("ab", read(2));
    EXPECT_EQ("cd", read(2));
    EXPECT_EQ(0, read_status());  // the second ^D, on an empty line: end of file
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
}

TEST_F(TtyTest, VeolEndsLineAndIsReturned) {
    Termios t = get();
    t.c_cc[kVEOL] = ';';
    set(t);
    type("ab;cd");
    EXPECT_EQ("ab;", read());
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    EXPECT_EQ("ab;cd", host_.emitted);
}

TEST_F(TtyTest, NulIsDataNotDisabledEol) {
    // VEOL and VEOL2 are 0 = disabled; a NUL byte must not end a line.
    type(std::string("a\0b", 3));
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    type("\r");
    EXPECT_EQ(std::string("a\0b\n", 4), read());
}

TEST_F(TtyTest, LiteralNextQuotesSignalCharacter) {
    tty_->set_controlling_session(5, 5);
    type("\x16\x03\r");
    EXPECT_EQ("\x03\n", read());
    EXPECT_TRUE(host_.signals.empty());
    EXPECT_EQ("^\b^C\r\n", host_.emitted);
}

TEST_F(TtyTest, ReprintEchoesLineAgain) {
    type("ab\x12");
    EXPECT_EQ("ab^R\r\nab", host_.emitted);
    type("\r");
    EXPECT_EQ("ab\n", read());
}

TEST_F(TtyTest, CanonicalLineStopsAt4096) {
    // 4095 ordinary bytes fit; the rest are dropped; the newline still ends the line.
    type(std::string(5000, 'a'));
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    type("\r");
    EXPECT_EQ(4096, fionread());
    std::string line = read();
    EXPECT_EQ(std::string(4095, 'a') + "\n", line);
    EXPECT_EQ(std::string(4095, 'a') + "\r\n", host_.emitted);
}

TEST_F(TtyTest, FullLineCanStillBeEdited) {
    type(std::string(4095, 'a'));
    type("b");  // dropped
    type("\x7f" "c\r");
    EXPECT_EQ(std::string(4094, 'a') + "c\n", read());
}

TEST_F(TtyTest, BufferWrapsAround) {
    // Many lines through the 4096-byte ring keep their content.
    for (int i = 0; i < 50; ++i) {
        std::string line = std::string(300, static_cast<char>('a' + i % 26)) + std::to_string(i);
        type(line + "\r");
        ASSERT_EQ(line + "\n", read());
    }
}

// ---- Input flags -------------------------------------------------------------------------

TEST_F(TtyTest, WithoutIcrnlCarriageReturnIsData) {
    set_iflag(0, kICRNL);
    type("a\r");
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    type("\n");
    EXPECT_EQ("a\r\n", read());
    EXPECT_EQ("a^M\r\n", host_.emitted);
}

TEST_F(TtyTest, IgncrDropsCarriageReturn) {
    set_iflag(kIGNCR, 0);
    type("a\rb\n");
    EXPECT_EQ("ab\n", read());
}

TEST_F(TtyTest, InlcrTurnsNewlineIntoCarriageReturn) {
    set_iflag(kINLCR, kICRNL);
    type("a\n");
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());  // the NL became a CR: data, no line end
    set_lflag(0, kICANON);
    EXPECT_EQ("a\r", read());
}

TEST_F(TtyTest, IstripClearsHighBit) {
    set_iflag(kISTRIP, 0);
    type("\xe1\xb1\r");
    EXPECT_EQ("a1\n", read());
}

TEST_F(TtyTest, IxonCharactersAreConsumed) {
    type("a\x13\x11" "b\r");
    EXPECT_EQ("ab\n", read());
    set_iflag(0, kIXON);
    type("a\x13\r");
    EXPECT_EQ("a\x13\n", read());
}

// ---- Echo flags --------------------------------------------------------------------------

TEST_F(TtyTest, NoEchoEmitsNothing) {
    set_lflag(0, kECHO);
    type("secret\r");
    EXPECT_EQ("secret\n", read());
    EXPECT_EQ("", host_.emitted);
}

TEST_F(TtyTest, EchonlEchoesOnlyNewline) {
    set_lflag(kECHONL, kECHO);
    type("pw\r");
    EXPECT_EQ("\r\n", host_.emitted);
}

TEST_F(TtyTest, EchoctlOffEchoesControlBytesRaw) {
    set_lflag(0, kECHOCTL);
    type("a\x01\r");
    EXPECT_EQ("a\x01\r\n", host_.emitted);
}

// ---- Signals -----------------------------------------------------------------------------

TEST_F(TtyTest, InterruptSignalsForegroundGroupAndFlushes) {
    tty_->set_controlling_session(7, 42);
    type("done\rabc\x03");
    ASSERT_EQ(1u, host_.signals.size());
    EXPECT_EQ(std::make_pair(42, 2), host_.signals[0]);  // SIGINT
    EXPECT_EQ("done\r\nabc^C", host_.emitted);
    EXPECT_EQ(0, fionread());  // both the complete line and the partial one are gone
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    type("x\r");
    EXPECT_EQ("x\n", read());
}

TEST_F(TtyTest, QuitAndSuspendSignals) {
    tty_->set_controlling_session(7, 9);
    type("\x1c");
    type("\x1a");
    ASSERT_EQ(2u, host_.signals.size());
    EXPECT_EQ(std::make_pair(9, 3), host_.signals[0]);   // SIGQUIT
    EXPECT_EQ(std::make_pair(9, 20), host_.signals[1]);  // SIGTSTP
    EXPECT_EQ("^\\^Z", host_.emitted);
}

TEST_F(TtyTest, NoflshKeepsInput) {
    tty_->set_controlling_session(7, 42);
    set_lflag(kNOFLSH, 0);
    type("ab\x03" "c\r");
    EXPECT_EQ(1u, host_.signals.size());
    EXPECT_EQ("abc\n", read());
}

TEST_F(TtyTest, WithoutIsigControlCIsData) {
    tty_->set_controlling_session(7, 42);
    set_lflag(0, kISIG);
    type("\x03\r");
    EXPECT_TRUE(host_.signals.empty());
    EXPECT_EQ("\x03\n", read());
}

TEST_F(TtyTest, NoForegroundGroupNoSignal) {
    type("ab\x03");
    EXPECT_TRUE(host_.signals.empty());
    EXPECT_EQ(0, fionread());  // the flush still happens
}

// ---- Output ------------------------------------------------------------------------------

TEST_F(TtyTest, WriteMapsNewlineToCrLf) {
    EXPECT_EQ(4, tty_->write("a\nb\n", 4));
    EXPECT_EQ("a\r\nb\r\n", host_.emitted);
}

TEST_F(TtyTest, WriteWithoutOnlcrOrOpostIsRaw) {
    Termios t = get();
    t.c_oflag = kOPOST;
    set(t);
    EXPECT_EQ(2, tty_->write("a\n", 2));
    t.c_oflag = kONLCR;  // ONLCR without OPOST does nothing
    set(t);
    EXPECT_EQ(2, tty_->write("b\n", 2));
    EXPECT_EQ("a\nb\n", host_.emitted);
}

TEST_F(TtyTest, LongWriteIsEmittedCompletely) {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += "line\n";
    EXPECT_EQ(static_cast<i64>(text.size()), tty_->write(text.data(), text.size()));
    std::string expected;
    for (int i = 0; i < 1000; ++i) expected += "line\r\n";
    EXPECT_EQ(expected, host_.emitted);
}

TEST_F(TtyTest, TabStopsCountWrittenOutput) {
    // Column tracking spans writes and echo: after "abcde" written, a typed tab starts at 5.
    tty_->write("abcde", 5);
    type("\t\x7f");
    EXPECT_EQ("abcde\t\b\b\b", host_.emitted);
}

// ---- Non-canonical mode ------------------------------------------------------------------

TEST_F(TtyTest, RawVmin1ReturnsWhatIsThere) {
    make_raw(1, 0);
    type("xy");
    EXPECT_EQ("xy", read(10, false));
    EXPECT_EQ(0, host_.waits);
    EXPECT_EQ("", host_.emitted);  // ECHO is off too
}

TEST_F(TtyTest, RawBlockingReadWokenByInput) {
    make_raw(1, 0);
    host_.on_wait = [&] {
        type("z");
        return true;
    };
    EXPECT_EQ("z", read(10, false));
    EXPECT_EQ(1, host_.waits);
    EXPECT_GE(host_.wakes, 1);
}

TEST_F(TtyTest, RawVminWaitsForMinimum) {
    make_raw(3, 0);
    type("ab");
    EXPECT_EQ(kPollOut, tty_->poll());  // poll wants VMIN bytes
    host_.on_wait = [&] {
        type("cd");
        return true;
    };
    EXPECT_EQ("abcd", read(10, false));
    EXPECT_EQ(1, host_.waits);
}

TEST_F(TtyTest, RawVminBoundedByReadLength) {
    make_raw(5, 0);
    type("ab");
    EXPECT_EQ("ab", read(2, false));
    EXPECT_EQ(0, host_.waits);
}

TEST_F(TtyTest, RawVminNonblockingReturnsPartial) {
    make_raw(3, 0);
    EXPECT_EQ(-fs::err::kEAGAIN, read_status(10, true));
    type("ab");
    EXPECT_EQ("ab", read(10, true));
}

TEST_F(TtyTest, RawVminInterruptedReturnsPartial) {
    make_raw(3, 0);
    type("a");
    host_.on_wait = [] { return false; };
    EXPECT_EQ("a", read(10, false));
    EXPECT_EQ(-fs::err::kEINTR, read_status(10, false));
}

TEST_F(TtyTest, RawVmin0Vtime0NeverBlocks) {
    make_raw(0, 0);
    EXPECT_EQ(0, read_status(10, false));
    EXPECT_EQ(0, read_status(10, true));  // 0, not EAGAIN: the timer expired
    EXPECT_EQ(0, host_.waits);
    type("q");
    EXPECT_EQ("q", read(10, false));
}

TEST_F(TtyTest, RawVtimeTimerExpiresImmediately) {
    // Documented simplification: no timed wait, so VTIME behaves as if it ran out at once.
    make_raw(0, 5);
    EXPECT_EQ(0, read_status(10, false));
    make_raw(4, 5);
    host_.on_wait = [&] {
        type("ab");
        return true;
    };
    EXPECT_EQ("ab", read(10, false));  // first byte awaited, then the interbyte timer "expires"
    EXPECT_EQ(1, host_.waits);
}

TEST_F(TtyTest, RawEchoesControlsAndCrAsNewline) {
    Termios t = get();
    t.c_lflag &= ~kICANON;  // ECHO stays on
    set(t);
    type("a\r\n\x7f");
    // CR became NL through ICRNL: echoed as a newline; a typed ^J echoes as "^J"; DEL is data.
    EXPECT_EQ("a\r\n^J^?", host_.emitted);
    EXPECT_EQ("a\n\n\x7f", read());
}

TEST_F(TtyTest, RawBufferHolds4095Bytes) {
    make_raw(1, 0);
    type(std::string(5000, 'r'));
    EXPECT_EQ(4095, fionread());
    EXPECT_EQ(std::string(4095, 'r'), read());
}

TEST_F(TtyTest, LeavingCanonicalModeReleasesPartialLine) {
    type("part");
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
    make_raw(1, 0);
    EXPECT_EQ("part", read());
}

TEST_F(TtyTest, EnteringCanonicalModeMakesPendingBytesALine) {
    make_raw(1, 0);
    type("xy");
    set_lflag(kICANON, 0);
    type("z\r");  // a line of its own, not appended to the pushed bytes
    EXPECT_EQ("xy", read());
    EXPECT_EQ("z\n", read());
    EXPECT_EQ(-fs::err::kEAGAIN, read_status());
}

// ---- Blocking canonical reads ------------------------------------------------------------

TEST_F(TtyTest, BlockingReadWokenByCompleteLine) {
    int step = 0;
    host_.on_wait = [&] {
        type(step++ == 0 ? "h" : "i\r");
        return true;
    };
    EXPECT_EQ("hi\n", read(100, false));
    EXPECT_EQ(2, host_.waits);
    EXPECT_EQ(1, host_.ready_calls);  // only the completed line made data readable
}

TEST_F(TtyTest, BlockingReadInterruptedIsEintr) {
    type("partial");
    host_.on_wait = [] { return false; };
    EXPECT_EQ(-fs::err::kEINTR, read_status(100, false));
    EXPECT_EQ(1, host_.waits);
}

// ---- ioctls ------------------------------------------------------------------------------

TEST_F(TtyTest, WindowSize) {
    WinSize size{};
    EXPECT_EQ(0, ioctl(kTIOCGWINSZ, &size));
    EXPECT_EQ(24, size.ws_row);
    EXPECT_EQ(80, size.ws_col);
    EXPECT_EQ(0, size.ws_xpixel);
    EXPECT_EQ(0, size.ws_ypixel);

    tty_->set_controlling_session(3, 11);
    WinSize bigger{50, 132, 0, 0};
    EXPECT_EQ(0, ioctl(kTIOCSWINSZ, &bigger));
    ASSERT_EQ(1u, host_.signals.size());
    EXPECT_EQ(std::make_pair(11, 28), host_.signals[0]);  // SIGWINCH to the foreground
    EXPECT_EQ(0, ioctl(kTIOCSWINSZ, &bigger));              // unchanged: no second signal
    EXPECT_EQ(1u, host_.signals.size());
    WinSize back{};
    EXPECT_EQ(0, ioctl(kTIOCGWINSZ, &back));
    EXPECT_EQ(50, back.ws_row);
    EXPECT_EQ(132, back.ws_col);
}

TEST_F(TtyTest, FionreadCountsCompleteLinesInCanonicalMode) {
    type("abc\rde");
    EXPECT_EQ(4, fionread());
    type("\x04");
    EXPECT_EQ(6, fionread());  // "de" pushed; the ^D itself is not counted
    make_raw(1, 0);
    type("xyz");
    EXPECT_EQ(10, fionread());  // raw: every byte, the ^D marker included (a NUL, as Linux)
}

TEST_F(TtyTest, FlushIoctls) {
    type("abc\rdef");
    EXPECT_EQ(0, ioctl(kTCFLSH, nullptr, kTCOFLUSH));
    EXPECT_EQ(4, fionread());
    EXPECT_EQ(0, ioctl(kTCFLSH, nullptr, kTCIFLUSH));
    EXPECT_EQ(0, fionread());
    type("g\r");
    EXPECT_EQ("g\n", read());  // the partial "def" went too
    EXPECT_EQ(-fs::err::kEINVAL, ioctl(kTCFLSH, nullptr, 7));

    type("keep\r");
    Termios t = get();
    EXPECT_EQ(0, ioctl(kTCSETSF, &t));
    EXPECT_EQ(0, fionread());
}

TEST_F(TtyTest, FlowControlIoctls) {
    EXPECT_EQ(0, ioctl(kTCXONC, nullptr, kTCOOFF));
    EXPECT_EQ(0, ioctl(kTCXONC, nullptr, kTCOON));
    EXPECT_EQ(0, ioctl(kTCXONC, nullptr, kTCIOFF));
    EXPECT_EQ(0, ioctl(kTCXONC, nullptr, kTCION));
    EXPECT_EQ("\x13\x11", host_.emitted);  // STOP then START sent to the terminal
    EXPECT_EQ(-fs::err::kEINVAL, ioctl(kTCXONC, nullptr, 9));
    EXPECT_EQ(0, ioctl(kTCSBRK, nullptr, 1));  // tcdrain
}

TEST_F(TtyTest, ControllingTerminalAndForegroundGroup) {
    i32 value = -1;
    caller_ = {100, 100, false, false};
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(kTIOCGPGRP, &value));  // not our controlling tty
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(kTIOCGSID, &value));
    EXPECT_EQ(-fs::err::kEPERM, ioctl(kTIOCSCTTY, nullptr));  // not a session leader

    caller_.session_leader = true;
    EXPECT_EQ(0, ioctl(kTIOCSCTTY, nullptr));
    EXPECT_EQ(100, tty_->session());
    EXPECT_EQ(100, tty_->foreground_pgrp());
    EXPECT_EQ(0, ioctl(kTIOCSCTTY, nullptr));  // again: already ours
    EXPECT_EQ(0, ioctl(kTIOCGSID, &value));
    EXPECT_EQ(100, value);

    fs::TtyCaller child{100, 104, false, false};
    i32 pgid = 104;
    EXPECT_EQ(0, tty_->ioctl(child, kTIOCSPGRP, 0, &pgid));
    EXPECT_EQ(0, tty_->ioctl(child, kTIOCGPGRP, 0, &value));
    EXPECT_EQ(104, value);
    pgid = -3;
    EXPECT_EQ(-fs::err::kEINVAL, tty_->ioctl(child, kTIOCSPGRP, 0, &pgid));

    // Another session cannot take the tty, unless privileged and asking with argument 1.
    fs::TtyCaller other{200, 200, true, false};
    EXPECT_EQ(-fs::err::kEPERM, tty_->ioctl(other, kTIOCSCTTY, 0, nullptr));
    other.privileged = true;
    EXPECT_EQ(-fs::err::kEPERM, tty_->ioctl(other, kTIOCSCTTY, 0, nullptr));
    EXPECT_EQ(0, tty_->ioctl(other, kTIOCSCTTY, 1, nullptr));
    EXPECT_EQ(200, tty_->session());
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(kTIOCGPGRP, &value));  // session 100 lost it
}

TEST_F(TtyTest, NottyByLeaderHangsUpForeground) {
    caller_ = {100, 100, true, false};
    EXPECT_EQ(0, ioctl(kTIOCSCTTY, nullptr));
    fs::TtyCaller member{100, 101, false, false};
    EXPECT_EQ(0, tty_->ioctl(member, kTIOCNOTTY, 0, nullptr));  // only the member detaches
    EXPECT_TRUE(host_.signals.empty());
    EXPECT_EQ(100, tty_->session());

    i32 pgid = 101;
    EXPECT_EQ(0, ioctl(kTIOCSPGRP, &pgid));
    EXPECT_EQ(0, ioctl(kTIOCNOTTY, nullptr));
    ASSERT_EQ(2u, host_.signals.size());
    EXPECT_EQ(std::make_pair(101, 1), host_.signals[0]);   // SIGHUP
    EXPECT_EQ(std::make_pair(101, 18), host_.signals[1]);  // SIGCONT
    EXPECT_EQ(0, tty_->session());
    EXPECT_EQ(0, tty_->foreground_pgrp());
    EXPECT_EQ(-fs::err::kENOTTY, ioctl(kTIOCNOTTY, nullptr));
}

TEST_F(TtyTest, ReleaseSessionOnlyForOwner) {
    tty_->set_controlling_session(5, 6);
    tty_->release_session(4);
    EXPECT_EQ(5, tty_->session());
    tty_->release_session(5);
    EXPECT_EQ(0, tty_->session());
    EXPECT_EQ(0, tty_->foreground_pgrp());
}

TEST_F(TtyTest, LockedEntryPointsWorkUnderCallersLock) {
    // devfs callbacks run with the FS lock held and use the _locked variants.
    type("hey\r");
    host_lock();
    char buffer[16];
    EXPECT_EQ(4, tty_->read_locked(buffer, sizeof(buffer), true));
    EXPECT_EQ(0, memcmp(buffer, "hey\n", 4));
    EXPECT_EQ(3, tty_->write_locked("x\ny", 3));
    EXPECT_EQ(kPollOut, tty_->poll_locked());
    Termios t;
    EXPECT_EQ(0, tty_->ioctl_locked(caller_, kTCGETS, 0, &t));
    EXPECT_EQ(0x8a3bu, t.c_lflag);
    host_unlock();
    EXPECT_EQ("hey\r\nx\r\ny", host_.emitted);
}

}  // namespace
