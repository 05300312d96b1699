// The N_TTY line discipline (see tty.hpp). The behaviour follows Linux's n_tty: where a
// choice looks arbitrary (which characters echo as ^X, when a newline echoes raw, what a
// kill echoes), it is what Linux does, so programs written against Linux see the same bytes.

#include "fs/tty.hpp"

#include "lib/string.hpp"

namespace fs {

namespace tty {

Termios default_termios() {
    Termios t{};
    t.c_iflag = kICRNL | kIXON;
    t.c_oflag = kOPOST | kONLCR;
    t.c_cflag = kB38400 | kCS8 | kCREAD | kHUPCL;
    t.c_lflag = kISIG | kICANON | kECHO | kECHOE | kECHOK | kECHOCTL | kECHOKE | kIEXTEN;
    t.c_line = 0;  // N_TTY
    t.c_cc[kVINTR] = 0x03;     // ^C
    t.c_cc[kVQUIT] = 0x1c;     // ^\ (FS)
    t.c_cc[kVERASE] = 0x7f;    // DEL
    t.c_cc[kVKILL] = 0x15;     // ^U
    t.c_cc[kVEOF] = 0x04;      // ^D
    t.c_cc[kVTIME] = 0;
    t.c_cc[kVMIN] = 1;
    t.c_cc[kVSWTC] = 0;
    t.c_cc[kVSTART] = 0x11;    // ^Q
    t.c_cc[kVSTOP] = 0x13;     // ^S
    t.c_cc[kVSUSP] = 0x1a;     // ^Z
    t.c_cc[kVEOL] = 0;
    t.c_cc[kVREPRINT] = 0x12;  // ^R
    t.c_cc[kVDISCARD] = 0x0f;  // ^O: Linux sets it though n_tty ignores it
    t.c_cc[kVWERASE] = 0x17;   // ^W
    t.c_cc[kVLNEXT] = 0x16;    // ^V
    t.c_cc[kVEOL2] = 0;
    return t;
}

}  // namespace tty

using namespace tty;

namespace {

// The FS lock for one scope.
class FsLockGuard {
public:
    FsLockGuard() { env().lock(); }
    ~FsLockGuard() { env().unlock(); }
    TESSERA_NO_COPY(FsLockGuard);
    TESSERA_NO_MOVE(FsLockGuard);
};

// The kernel's ctype: only C0 and DEL are control characters (bytes 0x80-0x9f are not, so
// UTF-8 input echoes unchanged under ECHOCTL).
bool is_control(u8 c) { return c < 0x20 || c == 0x7f; }

// Word characters for VWERASE: alphanumerics and '_' (Linux's ALTWERASE rule). Bytes >= 0x80
// count as word characters so a UTF-8 word erases as one word; Linux's Latin-1 ctype gets
// the same for letters and differs only for Latin-1 punctuation.
bool is_word_char(u8 c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

// An end-of-file push is stored as a line terminator holding this byte, which read() drops.
// VEOL/VEOL2 cannot be 0 (0 disables them), so a 0 terminator is always a ^D.
constexpr u8 kEofMarker = 0;

// Longest stretch of one write processed under the lock: bounds how long the UART interrupt
// path can spin on the FS lock behind a large write.
constexpr usize kWriteChunk = 256;

}  // namespace

// Signals raised while the lock is held, delivered after it is dropped. Duplicates collapse
// (standard signals do not queue), so three entries per group cover every ISIG character.
struct Tty::SignalBatch {
    struct Entry {
        i32 pgid;
        int signal;
    };
    Entry entries[8];
    usize count = 0;

    void add(i32 pgid, int signal) {
        if (pgid <= 0) return;  // no foreground group: Linux sends nothing
        for (usize i = 0; i < count; ++i)
            if (entries[i].pgid == pgid && entries[i].signal == signal) return;
        if (count < sizeof(entries) / sizeof(entries[0])) entries[count++] = {pgid, signal};
    }
    void deliver(const TtySinks& sinks) const {
        if (!sinks.signal_group) return;
        for (usize i = 0; i < count; ++i) sinks.signal_group(sinks.context, entries[i].pgid, entries[i].signal);
    }
};

// Bytes on their way to the terminal, handed to `emit` in chunks. Declared after the lock
// guard in a scope so its destructor (the final flush) runs while the lock is still held.
class Tty::Output {
public:
    explicit Output(const TtySinks& sinks) : sinks_(sinks) {}
    ~Output() { flush(); }
    TESSERA_NO_COPY(Output);
    TESSERA_NO_MOVE(Output);

    void put(u8 c) {
        if (length_ == sizeof(buffer_)) flush();
        buffer_[length_++] = static_cast<char>(c);
    }
    void flush() {
        if (length_ != 0 && sinks_.emit) sinks_.emit(sinks_.context, buffer_, length_);
        length_ = 0;
    }

private:
    const TtySinks& sinks_;
    char buffer_[128];
    usize length_ = 0;
};

Tty::Tty(const TtySinks& sinks, WaitQueue* readers)
    : sinks_(sinks), readers_(readers), termios_(default_termios()), ring_{}, line_end_{} {}

Tty* Tty::create(const TtySinks& sinks) {
    WaitQueue* readers = env().wait_create();
    if (!readers) return nullptr;
    void* memory = env().alloc(sizeof(Tty));
    if (!memory) {
        env().wait_destroy(readers);
        return nullptr;
    }
    return new (memory) Tty(sinks, readers);
}

void Tty::destroy(Tty* tty) {
    if (!tty) return;
    WaitQueue* readers = tty->readers_;
    tty->~Tty();
    env().free(tty);
    env().wait_destroy(readers);
}

bool Tty::is_line_end(usize position) const {
    usize index = position & (kBufferSize - 1);
    return (line_end_[index / 64] >> (index % 64)) & 1;
}

void Tty::set_line_end(usize position, bool value) {
    usize index = position & (kBufferSize - 1);
    u64 bit = u64{1} << (index % 64);
    if (value)
        line_end_[index / 64] |= bit;
    else
        line_end_[index / 64] &= ~bit;
}

// ---- Input ------------------------------------------------------------------------------

void Tty::input(const char* bytes, usize length) {
    SignalBatch signals;
    {
        FsLockGuard guard;
        Output out(sinks_);
        usize commit_before = commit_head_;
        for (usize i = 0; i < length; ++i) receive_locked(static_cast<u8>(bytes[i]), out, signals);
        if (commit_head_ != commit_before) notify_readers_locked();
    }
    signals.deliver(sinks_);
}

// One received byte, in Linux's order: ISTRIP, flow control, signals, CR/NL mapping, then
// canonical editing or plain storage.
void Tty::receive_locked(u8 c, Output& out, SignalBatch& signals) {
    if (literal_next_) {
        // After VLNEXT only ISTRIP applies: the byte is data, even if it is ^C or a newline.
        literal_next_ = false;
        if (iflag(kISTRIP)) c &= 0x7f;
        store_char_locked(c, false, out);
        return;
    }
    if (iflag(kISTRIP)) c &= 0x7f;
    // Output is never stopped (writes do not block), so the flow characters are only eaten.
    if (iflag(kIXON) && (is_cc(c, kVSTART) || is_cc(c, kVSTOP))) return;
    if (lflag(kISIG)) {
        if (is_cc(c, kVINTR)) return receive_signal_char_locked(kSIGINT, c, out, signals);
        if (is_cc(c, kVQUIT)) return receive_signal_char_locked(kSIGQUIT, c, out, signals);
        if (is_cc(c, kVSUSP)) return receive_signal_char_locked(kSIGTSTP, c, out, signals);
    }
    bool from_cr = false;
    if (c == '\r') {
        if (iflag(kIGNCR)) return;
        if (iflag(kICRNL)) {
            c = '\n';
            from_cr = true;
        }
    } else if (c == '\n' && iflag(kINLCR)) {
        c = '\r';
    }
    if (lflag(kICANON) && receive_canonical_locked(c, out)) return;
    // Linux echoes a newline made from CR as a newline but a typed ^J (raw mode) as "^J".
    store_char_locked(c, from_cr, out);
}

void Tty::receive_signal_char_locked(int signal, u8 c, Output& out, SignalBatch& signals) {
    if (!lflag(kNOFLSH)) flush_input_locked();
    signals.add(fg_pgrp_, signal);
    if (lflag(kECHO)) echo_char_locked(c, out);
}

// Canonical mode's special characters; false when `c` is ordinary data.
bool Tty::receive_canonical_locked(u8 c, Output& out) {
    if (is_cc(c, kVERASE) || is_cc(c, kVKILL) || (is_cc(c, kVWERASE) && lflag(kIEXTEN))) {
        erase_locked(c, out);
        return true;
    }
    if (is_cc(c, kVLNEXT) && lflag(kIEXTEN)) {
        literal_next_ = true;
        if (lflag(kECHO) && lflag(kECHOCTL)) {
            // A '^' the next character's echo overwrites.
            output_char_locked('^', out);
            output_char_locked('\b', out);
        }
        return true;
    }
    if (is_cc(c, kVREPRINT) && lflag(kECHO) && lflag(kIEXTEN)) {
        echo_char_locked(c, out);
        output_char_locked('\n', out);
        for (usize p = commit_head_; p != edit_head_; ++p) echo_char_locked(at(p), out);
        return true;
    }
    // Terminators always fit unless the buffer is completely full (see store_char_locked).
    bool room = edit_head_ - read_tail_ < kBufferSize;
    if (c == '\n') {
        if (!room) return true;
        if (lflag(kECHO) || lflag(kECHONL)) output_char_locked('\n', out);
        push_line_end_locked('\n');
        return true;
    }
    if (is_cc(c, kVEOF)) {
        // ^D is not echoed; it ends the line without becoming part of it.
        if (room) push_line_end_locked(kEofMarker);
        return true;
    }
    if (is_cc(c, kVEOL) || (is_cc(c, kVEOL2) && lflag(kIEXTEN))) {
        if (!room) return true;
        if (lflag(kECHO)) {
            if (edit_head_ == commit_head_) canon_column_ = column_;
            echo_char_locked(c, out);
        }
        push_line_end_locked(c);
        return true;
    }
    return false;
}

void Tty::store_char_locked(u8 c, bool raw_newline_echo, Output& out) {
    // Ordinary bytes leave the last slot free, so a canonical line of 4095 bytes can still be
    // ended by a newline (and raw data switched to canonical mode still gets its terminator).
    if (edit_head_ - read_tail_ >= kBufferSize - 1) return;
    if (lflag(kECHO)) {
        if (c == '\n' && raw_newline_echo) {
            output_char_locked('\n', out);
        } else {
            if (edit_head_ == commit_head_) canon_column_ = column_;
            echo_char_locked(c, out);
        }
    }
    at(edit_head_) = c;
    set_line_end(edit_head_, false);
    ++edit_head_;
    if (!lflag(kICANON)) commit_head_ = edit_head_;
}

void Tty::push_line_end_locked(u8 c) {
    at(edit_head_) = c;
    set_line_end(edit_head_, true);
    ++edit_head_;
    commit_head_ = edit_head_;
}

// VERASE, VWERASE and VKILL on the line being edited, with Linux's echo: "\b \b" per erased
// column under ECHOE (two for a ^X echo), the erase character itself without ECHOE, and for
// a kill without all of ECHOK, ECHOKE and ECHOE the kill character plus (ECHOK) a newline.
void Tty::erase_locked(u8 c, Output& out) {
    if (edit_head_ == commit_head_) return;
    enum class Kind { Erase, WordErase, Kill } kind;
    if (is_cc(c, kVERASE)) {
        kind = Kind::Erase;
    } else if (is_cc(c, kVWERASE)) {
        kind = Kind::WordErase;
    } else {
        kind = Kind::Kill;
        if (!lflag(kECHO)) {
            edit_head_ = commit_head_;
            return;
        }
        if (!lflag(kECHOK) || !lflag(kECHOKE) || !lflag(kECHOE)) {
            edit_head_ = commit_head_;
            echo_char_locked(c, out);
            if (lflag(kECHOK)) output_char_locked('\n', out);
            return;
        }
    }
    bool utf8 = iflag(kIUTF8);
    bool seen_word = false;
    while (edit_head_ != commit_head_) {
        // One character: a UTF-8 sequence goes as a whole, never half.
        usize head = edit_head_;
        u8 erased;
        do {
            erased = at(--head);
        } while (utf8 && (erased & 0xc0) == 0x80 && head != commit_head_);
        if (utf8 && (erased & 0xc0) == 0x80) break;
        if (kind == Kind::WordErase) {
            if (is_word_char(erased))
                seen_word = true;
            else if (seen_word)
                break;
        }
        edit_head_ = head;
        if (lflag(kECHO)) {
            if (kind == Kind::Erase && !lflag(kECHOE)) {
                echo_char_locked(termios_.c_cc[kVERASE], out);
            } else if (erased == '\t') {
                echo_erase_tab_locked(head, out);
            } else {
                int rubouts = is_control(erased) ? (lflag(kECHOCTL) ? 2 : 0) : 1;
                for (int i = 0; i < rubouts; ++i) {
                    output_char_locked('\b', out);
                    output_char_locked(' ', out);
                    output_char_locked('\b', out);
                }
            }
        }
        if (kind == Kind::Erase) break;
    }
}

// Backs the cursor up over the tab that was at `tab_position`: the tab ended at the next
// multiple of 8 after the column where it started, which is the line's start column plus the
// echo width of what precedes it (or, after an earlier tab, just that width modulo 8).
void Tty::echo_erase_tab_locked(usize tab_position, Output& out) {
    bool utf8 = iflag(kIUTF8);
    u32 width = 0;
    bool after_tab = false;
    for (usize p = tab_position; p != commit_head_;) {
        u8 c = at(--p);
        if (c == '\t') {
            after_tab = true;
            break;
        }
        if (is_control(c)) {
            if (lflag(kECHOCTL)) width += 2;
        } else if (!(utf8 && (c & 0xc0) == 0x80)) {
            ++width;
        }
    }
    if (!after_tab) width += canon_column_;
    u32 backspaces = min<u32>(8 - (width & 7), column_);
    for (u32 i = 0; i < backspaces; ++i) {
        out.put('\b');
        --column_;
    }
}

// ---- Output -----------------------------------------------------------------------------

// Echo of one input byte: control characters as "^X" under ECHOCTL (DEL as "^?"), except tab.
void Tty::echo_char_locked(u8 c, Output& out) {
    if (lflag(kECHOCTL) && is_control(c) && c != '\t') {
        out.put('^');
        out.put(c ^ 0x40);
        column_ += 2;
        return;
    }
    output_char_locked(c, out);
}

// OPOST processing of one byte, tracking the column for tab erasure.
void Tty::output_char_locked(u8 c, Output& out) {
    if (!oflag(kOPOST)) {
        out.put(c);
        return;
    }
    switch (c) {
    case '\n':
        if (oflag(kONLRET)) column_ = 0;
        if (oflag(kONLCR)) {
            column_ = canon_column_ = 0;
            out.put('\r');
            out.put('\n');
            return;
        }
        canon_column_ = column_;
        break;
    case '\r':
        if (oflag(kONOCR) && column_ == 0) return;
        if (oflag(kOCRNL)) {
            c = '\n';
            if (oflag(kONLRET)) column_ = canon_column_ = 0;
            break;
        }
        column_ = canon_column_ = 0;
        break;
    case '\t': {
        u32 spaces = 8 - (column_ & 7);
        column_ += spaces;
        if ((termios_.c_oflag & kTABDLY) == kXTABS) {
            for (u32 i = 0; i < spaces; ++i) out.put(' ');
            return;
        }
        break;
    }
    case '\b':
        if (column_ > 0) --column_;
        break;
    default:
        if (!is_control(c) && !(iflag(kIUTF8) && (c & 0xc0) == 0x80)) ++column_;
        break;
    }
    out.put(c);
}

i64 Tty::write(const char* buffer, usize length) {
    for (usize done = 0; done < length;) {
        usize chunk = min(length - done, kWriteChunk);
        FsLockGuard guard;
        write_locked(buffer + done, chunk);
        done += chunk;
    }
    return static_cast<i64>(length);
}

i64 Tty::write_locked(const char* buffer, usize length) {
    Output out(sinks_);
    for (usize i = 0; i < length; ++i) output_char_locked(static_cast<u8>(buffer[i]), out);
    return static_cast<i64>(length);
}

// ---- Reading ----------------------------------------------------------------------------

// Whether a read would find data. poll() additionally waits for VMIN bytes when VTIME is 0,
// as Linux's does, so a poller is not woken for a read that would still block.
bool Tty::input_available_locked(bool for_poll) const {
    if (lflag(kICANON)) return commit_head_ != read_tail_;
    usize amount = 1;
    if (for_poll && termios_.c_cc[kVTIME] == 0 && termios_.c_cc[kVMIN] != 0) amount = termios_.c_cc[kVMIN];
    return commit_head_ - read_tail_ >= amount;
}

// At most one line: its bytes up to `length`, the terminator included unless it is an
// end-of-file push. A push is consumed once everything before it has been read.
usize Tty::copy_canonical_locked(char* buffer, usize length) {
    usize available = commit_head_ - read_tail_;
    usize line = available;
    for (usize i = 0; i < available; ++i) {
        if (is_line_end(read_tail_ + i)) {
            line = i + 1;
            break;
        }
    }
    bool eof = line != 0 && is_line_end(read_tail_ + line - 1) && at(read_tail_ + line - 1) == kEofMarker;
    usize data = eof ? line - 1 : line;
    usize take = min(length, data);
    for (usize i = 0; i < take; ++i) buffer[i] = static_cast<char>(at(read_tail_ + i));
    read_tail_ += take;
    if (eof && take == data) ++read_tail_;
    return take;
}

usize Tty::copy_raw_locked(char* buffer, usize length) {
    usize take = min(length, commit_head_ - read_tail_);
    for (usize i = 0; i < take; ++i) buffer[i] = static_cast<char>(at(read_tail_ + i));
    read_tail_ += take;
    return take;
}

i64 Tty::read(char* buffer, usize length, bool nonblock) {
    FsLockGuard guard;
    return read_locked(buffer, length, nonblock);
}

i64 Tty::read_locked(char* buffer, usize length, bool nonblock) {
    if (length == 0) return 0;
    // Linux's n_tty_read: canonical reads return after one (possibly partial) line; raw reads
    // gather min(VMIN, length) bytes, or return what is there at once when VMIN is 0.
    bool canonical = lflag(kICANON);
    usize minimum = canonical ? 0 : termios_.c_cc[kVMIN];
    // VTIME timers are not implemented (Env has no timed wait); they expire immediately.
    bool timer_expired = !canonical && minimum == 0;
    bool interbyte_timer = !canonical && minimum != 0 && termios_.c_cc[kVTIME] != 0;
    if (!canonical && minimum == 0) minimum = 1;

    usize copied = 0;
    i64 status = 0;
    while (copied < length) {
        if (!input_available_locked(false)) {
            if (timer_expired) break;
            if (nonblock) {
                status = -err::kEAGAIN;
                break;
            }
            if (!env().wait(readers_)) {
                status = -err::kEINTR;
                break;
            }
            continue;
        }
        if (lflag(kICANON))
            copied += copy_canonical_locked(buffer + copied, length - copied);
        else
            copied += copy_raw_locked(buffer + copied, length - copied);
        if (copied >= minimum) break;
        if (interbyte_timer) timer_expired = true;
    }
    return copied != 0 ? static_cast<i64>(copied) : status;
}

u32 Tty::poll() {
    FsLockGuard guard;
    return poll_locked();
}

u32 Tty::poll_locked() const { return kPollOut | (input_available_locked(true) ? kPollIn : 0); }

// FIONREAD: what reads would return, so end-of-file pushes do not count.
usize Tty::readable_bytes_locked() {
    if (!lflag(kICANON)) return edit_head_ - read_tail_;
    usize count = 0;
    for (usize p = read_tail_; p != commit_head_; ++p)
        if (!(is_line_end(p) && at(p) == kEofMarker)) ++count;
    return count;
}

void Tty::flush_input_locked() {
    read_tail_ = commit_head_ = edit_head_;
    literal_next_ = false;
}

void Tty::notify_readers_locked() {
    env().wake_all(readers_);
    if (sinks_.input_ready) sinks_.input_ready(sinks_.context);
}

// ---- termios and ioctls -----------------------------------------------------------------

void Tty::set_termios_locked(const Termios& termios) {
    bool canonical_changed = ((termios_.c_lflag ^ termios.c_lflag) & kICANON) != 0;
    termios_ = termios;
    if (canonical_changed) {
        // Leaving canonical mode makes the partial line readable; entering it makes pending
        // raw bytes one line, as if ^D had been typed after them (Linux's "push").
        for (u64& word : line_end_) word = 0;
        if (lflag(kICANON) && edit_head_ != read_tail_) set_line_end(edit_head_ - 1, true);
        commit_head_ = edit_head_;
        literal_next_ = false;
    }
    // A new mode or VMIN may satisfy a blocked reader.
    notify_readers_locked();
}

bool Tty::ioctl_arg_size(u32 cmd, usize* in_bytes, usize* out_bytes) {
    usize in = 0, out = 0;
    switch (cmd) {
    case kTCGETS: out = sizeof(Termios); break;
    case kTCSETS:
    case kTCSETSW:
    case kTCSETSF: in = sizeof(Termios); break;
    case kTIOCGWINSZ: out = sizeof(WinSize); break;
    case kTIOCSWINSZ: in = sizeof(WinSize); break;
    case kTIOCGPGRP:
    case kTIOCGSID:
    case kFIONREAD:
    case kTIOCOUTQ:
    case kTIOCGETD: out = sizeof(i32); break;
    case kTIOCSPGRP: in = sizeof(i32); break;
    case kTCSBRK:
    case kTCXONC:
    case kTCFLSH:
    case kTIOCSCTTY:
    case kTIOCNOTTY: break;  // no argument, or an integer passed by value
    default: return false;
    }
    *in_bytes = in;
    *out_bytes = out;
    return true;
}

i64 Tty::ioctl(const TtyCaller& caller, u32 cmd, uptr value, void* buffer) {
    SignalBatch signals;
    i64 result;
    {
        FsLockGuard guard;
        result = ioctl_collect_locked(caller, cmd, value, buffer, signals);
    }
    signals.deliver(sinks_);
    return result;
}

i64 Tty::ioctl_locked(const TtyCaller& caller, u32 cmd, uptr value, void* buffer) {
    SignalBatch signals;
    i64 result = ioctl_collect_locked(caller, cmd, value, buffer, signals);
    signals.deliver(sinks_);
    return result;
}

i64 Tty::ioctl_collect_locked(const TtyCaller& caller, u32 cmd, uptr value, void* buffer, SignalBatch& signals) {
    i64 result = 0;
    {
        Output out(sinks_);
        auto put_i32 = [&](i32 v) { memcpy(buffer, &v, sizeof(v)); };
        switch (cmd) {
        case kTCGETS: memcpy(buffer, &termios_, sizeof(Termios)); break;
        case kTCSETSF: flush_input_locked(); [[fallthrough]];
        case kTCSETS:
        case kTCSETSW: {  // output is emitted synchronously, so there is nothing to drain
            Termios termios;
            memcpy(&termios, buffer, sizeof(termios));
            set_termios_locked(termios);
            break;
        }
        case kTCSBRK: break;  // tcdrain(); a break condition cannot be sent through `emit`
        case kTCXONC:
            if (value == kTCIOFF || value == kTCION) {
                u8 c = termios_.c_cc[value == kTCIOFF ? kVSTOP : kVSTART];
                if (c != 0) out.put(c);
            } else if (value != kTCOOFF && value != kTCOON) {
                result = -err::kEINVAL;
            }
            break;
        case kTCFLSH:
            if (value == kTCIFLUSH || value == kTCIOFLUSH)
                flush_input_locked();
            else if (value != kTCOFLUSH)  // no output queue to flush
                result = -err::kEINVAL;
            break;
        case kTIOCGWINSZ: memcpy(buffer, &winsize_, sizeof(WinSize)); break;
        case kTIOCSWINSZ: {
            WinSize size;
            memcpy(&size, buffer, sizeof(size));
            if (memcmp(&size, &winsize_, sizeof(size)) != 0) {
                winsize_ = size;
                signals.add(fg_pgrp_, kSIGWINCH);
            }
            break;
        }
        case kTIOCGPGRP:
            if (!is_controlling_tty_of(caller))
                result = -err::kENOTTY;
            else
                put_i32(fg_pgrp_);
            break;
        case kTIOCSPGRP: {
            i32 pgid;
            memcpy(&pgid, buffer, sizeof(pgid));
            if (!is_controlling_tty_of(caller))
                result = -err::kENOTTY;
            else if (pgid < 0)
                result = -err::kEINVAL;
            else
                fg_pgrp_ = pgid;
            break;
        }
        case kTIOCSCTTY:
            if (caller.session_leader && is_controlling_tty_of(caller)) break;
            if (!caller.session_leader) {
                result = -err::kEPERM;
            } else if (session_ != 0 && !(value == 1 && caller.privileged)) {
                result = -err::kEPERM;  // another session's tty; stealing needs arg 1 and privilege
            } else {
                session_ = caller.sid;
                fg_pgrp_ = caller.pgid;
            }
            break;
        case kTIOCNOTTY:
            if (!is_controlling_tty_of(caller)) {
                result = -err::kENOTTY;
            } else if (caller.session_leader) {
                // The leader gives the tty up for the whole session: the foreground group is
                // hung up and continued, as Linux's disassociate_ctty does.
                signals.add(fg_pgrp_, kSIGHUP);
                signals.add(fg_pgrp_, kSIGCONT);
                session_ = 0;
                fg_pgrp_ = 0;
            }
            break;
        case kTIOCGSID:
            if (!is_controlling_tty_of(caller))
                result = -err::kENOTTY;
            else
                put_i32(session_);
            break;
        case kFIONREAD: put_i32(static_cast<i32>(readable_bytes_locked())); break;
        case kTIOCOUTQ: put_i32(0); break;  // emit takes everything at once
        case kTIOCGETD: put_i32(0); break;  // N_TTY
        default: result = -err::kENOTTY; break;
        }
    }
    return result;
}

// ---- Job control ------------------------------------------------------------------------

i32 Tty::foreground_pgrp() {
    FsLockGuard guard;
    return fg_pgrp_;
}

i32 Tty::session() {
    FsLockGuard guard;
    return session_;
}

void Tty::set_controlling_session(i32 sid, i32 pgid) {
    FsLockGuard guard;
    session_ = sid;
    fg_pgrp_ = pgid;
}

void Tty::release_session(i32 sid) {
    FsLockGuard guard;
    if (session_ != sid) return;
    session_ = 0;
    fg_pgrp_ = 0;
}

}  // namespace fs
