#pragma once
// The tty line discipline of the serial console: Linux's N_TTY semantics, the parts busybox
// needs (canonical line editing with echo, ISIG characters, VMIN reads, termios ioctls, job
// control bookkeeping). The UART driver feeds received bytes to `Tty::input` and the tty
// hands processed output (echo and writes) to an `emit` sink, so the line discipline knows
// nothing about the hardware.
//
// Locking: all state is guarded by the FS lock (`env().lock`), which on the kernel side is an
// IRQ-safe spinlock, so `input` can run from the UART interrupt path. The lock is a pair of
// host-provided functions the thread-safety analysis cannot see; functions that expect it held
// end in `_locked` (devfs callbacks run with it held, so a devfs driver uses those), the others
// take it. `emit` and `input_ready` are called with the lock held (so echo and write output
// never interleave); they must neither block nor take the FS lock: the kernel's emit should
// queue into the UART's transmit ring, its input_ready call devfs's poll_notify_locked.
// `signal_group` is called after the lock is dropped by the lock-taking functions (signal
// delivery takes scheduler locks), but with it held by the `_locked` ones, which cannot drop
// it: the FS lock then orders before the scheduler's, as it already does for the UART
// interrupt path.
//
// Simplifications (documented where they are implemented):
//  - VTIME timers are treated as expiring at once (Env has no timed wait): VMIN=0,VTIME>0
//    reads like VMIN=0,VTIME=0; VMIN>0,VTIME>0 returns once the first byte has arrived and
//    nothing more is queued.
//  - Output flow control (IXON's ^S/^Q) consumes the characters but never stops output:
//    writes do not block.
//  - ECHOPRT, PARMRK/INPCK/BRKINT (the UART reports no errors), IUCLC/OLCUC, output delays
//    and packet mode are not implemented.
//  - Characters that do not fit the 4096-byte input buffer are dropped without echo (Linux
//    overwrites the last byte of an overlong canonical line instead).

#include "fs/env.hpp"
#include "lib/types.hpp"

namespace fs {

// The Linux ABI of terminals (asm-generic/termbits.h, ioctls.h). The shim and the user-side
// tests see the same values.
namespace tty {

// struct termios as the kernel's TCGETS/TCSETS ioctls use it (not glibc's larger one).
inline constexpr usize kNccs = 19;
struct Termios {
    u32 c_iflag;
    u32 c_oflag;
    u32 c_cflag;
    u32 c_lflag;
    u8 c_line;
    u8 c_cc[kNccs];
};
static_assert(sizeof(Termios) == 36, "Linux's kernel struct termios is 36 bytes");

struct WinSize {
    u16 ws_row;
    u16 ws_col;
    u16 ws_xpixel;
    u16 ws_ypixel;
};
static_assert(sizeof(WinSize) == 8);

// c_cc indices.
inline constexpr usize kVINTR = 0, kVQUIT = 1, kVERASE = 2, kVKILL = 3, kVEOF = 4, kVTIME = 5, kVMIN = 6,
                       kVSWTC = 7, kVSTART = 8, kVSTOP = 9, kVSUSP = 10, kVEOL = 11, kVREPRINT = 12,
                       kVDISCARD = 13, kVWERASE = 14, kVLNEXT = 15, kVEOL2 = 16;

// c_iflag.
inline constexpr u32 kIGNBRK = 0x001, kBRKINT = 0x002, kIGNPAR = 0x004, kPARMRK = 0x008, kINPCK = 0x010,
                     kISTRIP = 0x020, kINLCR = 0x040, kIGNCR = 0x080, kICRNL = 0x100, kIUCLC = 0x200,
                     kIXON = 0x400, kIXANY = 0x800, kIXOFF = 0x1000, kIMAXBEL = 0x2000, kIUTF8 = 0x4000;
// c_oflag.
inline constexpr u32 kOPOST = 0x01, kOLCUC = 0x02, kONLCR = 0x04, kOCRNL = 0x08, kONOCR = 0x10,
                     kONLRET = 0x20, kTABDLY = 0x1800, kXTABS = 0x1800;
// c_cflag.
inline constexpr u32 kB38400 = 0x0f, kCSIZE = 0x30, kCS8 = 0x30, kCSTOPB = 0x40, kCREAD = 0x80,
                     kPARENB = 0x100, kHUPCL = 0x400, kCLOCAL = 0x800;
// c_lflag.
inline constexpr u32 kISIG = 0x1, kICANON = 0x2, kECHO = 0x8, kECHOE = 0x10, kECHOK = 0x20, kECHONL = 0x40,
                     kNOFLSH = 0x80, kTOSTOP = 0x100, kECHOCTL = 0x200, kECHOPRT = 0x400, kECHOKE = 0x800,
                     kIEXTEN = 0x8000;

// ioctl requests.
inline constexpr u32 kTCGETS = 0x5401, kTCSETS = 0x5402, kTCSETSW = 0x5403, kTCSETSF = 0x5404,
                     kTCSBRK = 0x5409, kTCXONC = 0x540A, kTCFLSH = 0x540B, kTIOCSCTTY = 0x540E,
                     kTIOCGPGRP = 0x540F, kTIOCSPGRP = 0x5410, kTIOCOUTQ = 0x5411, kTIOCGWINSZ = 0x5413,
                     kTIOCSWINSZ = 0x5414, kFIONREAD = 0x541B, kTIOCNOTTY = 0x5422, kTIOCGETD = 0x5424,
                     kTIOCGSID = 0x5429;
// TCFLSH and TCXONC arguments.
inline constexpr uptr kTCIFLUSH = 0, kTCOFLUSH = 1, kTCIOFLUSH = 2;
inline constexpr uptr kTCOOFF = 0, kTCOON = 1, kTCIOFF = 2, kTCION = 3;

// poll(2) bits.
inline constexpr u32 kPollIn = 0x1, kPollOut = 0x4;

// Signals the line discipline raises.
inline constexpr int kSIGHUP = 1, kSIGINT = 2, kSIGQUIT = 3, kSIGCONT = 18, kSIGTSTP = 20, kSIGWINCH = 28;

// The termios Linux gives a console (tty_std_termios): ICRNL|IXON, OPOST|ONLCR,
// B38400|CS8|CREAD|HUPCL, ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN and INIT_C_CC.
Termios default_termios();

}  // namespace tty

// Where the tty's output goes and how it raises signals; `context` is passed back unchanged.
struct TtySinks {
    void* context = nullptr;
    // Bytes for the terminal (echo and processed writes). Called with the FS lock held.
    void (*emit)(void* context, const char* bytes, usize length) = nullptr;
    // Send `signal` to process group `pgid` (^C, ^\, ^Z, SIGWINCH, TIOCNOTTY's SIGHUP).
    // Never called with pgid <= 0. Optional.
    void (*signal_group)(void* context, i32 pgid, int signal) = nullptr;
    // Input became readable, or termios changed what a read or poll would see (the readers'
    // wait queue has been woken too). For poll(2) bookkeeping; lock held. Optional.
    void (*input_ready)(void* context) = nullptr;
};

// What an ioctl needs to know about its caller; the process-side checks (does the caller
// already have a controlling tty, does a TIOCSPGRP target group exist in the caller's
// session, is the caller in the background: SIGTTOU/SIGTTIN) are the shim's.
struct TtyCaller {
    i32 sid = 0;   // session of the calling process
    i32 pgid = 0;  // its process group
    bool session_leader = false;
    bool privileged = false;  // CAP_SYS_ADMIN: TIOCSCTTY with argument 1 may steal the tty
};

class Tty {
public:
    static constexpr usize kBufferSize = 4096;  // N_TTY_BUF_SIZE: also the longest canonical line

    // Fully built (buffers, wait queue) or nullptr when memory runs out.
    static Tty* create(const TtySinks& sinks);
    // Nobody may use the tty any more (no reader blocked in it).
    static void destroy(Tty* tty);

    // Kernel side: bytes received from the UART. Never blocks; takes the FS lock.
    void input(const char* bytes, usize length);

    // read(2) per ICANON / VMIN: bytes read, 0 at end of file (^D at line start, or VMIN=0 with
    // nothing queued), -EAGAIN when `nonblock` and nothing is ready, -EINTR when a signal
    // interrupts the wait before anything was read. Sleeps on `read_queue` (which releases
    // the lock).
    i64 read(char* buffer, usize length, bool nonblock);
    i64 read_locked(char* buffer, usize length, bool nonblock);
    // write(2): output processing (OPOST/ONLCR) and emit; never blocks; returns `length`.
    // `write` drops the lock every few hundred bytes so input is not held up behind a long
    // write; `write_locked` cannot.
    i64 write(const char* buffer, usize length);
    i64 write_locked(const char* buffer, usize length);

    // How many bytes of `buffer` the shim copies in from user memory before `ioctl`, and out
    // to user memory after a successful one. False for requests the tty does not know (the
    // shim still calls `ioctl`, which returns -ENOTTY).
    static bool ioctl_arg_size(u32 cmd, usize* in_bytes, usize* out_bytes);
    // `value` is the raw argument (the integer for TCFLSH, TCXONC, TIOCSCTTY); `buffer` the
    // kernel copy described by ioctl_arg_size. 0 or a negative errno; unknown -> -ENOTTY.
    i64 ioctl(const TtyCaller& caller, u32 cmd, uptr value, void* buffer);
    i64 ioctl_locked(const TtyCaller& caller, u32 cmd, uptr value, void* buffer);

    // kPollIn when a read would not block (for VMIN>0,VTIME=0: VMIN bytes queued), kPollOut
    // always. Changes are announced through `input_ready` and a wake of `read_queue`.
    u32 poll();
    u32 poll_locked() const;
    WaitQueue* read_queue() const { return readers_; }

    // Job control state for the shim (SIGTTIN/SIGTTOU checks, exit of a session leader).
    i32 foreground_pgrp();
    i32 foreground_pgrp_locked() const { return fg_pgrp_; }
    i32 session();
    i32 session_locked() const { return session_; }
    bool stops_background_writes_locked() const { return lflag(tty::kTOSTOP); }  // TOSTOP
    // Kernel side: make this the controlling tty of `sid` with foreground group `pgid`, as
    // TIOCSCTTY would (for the init process's console).
    void set_controlling_session(i32 sid, i32 pgid);
    // The session leader `sid` exited: the tty no longer belongs to any session.
    void release_session(i32 sid);

private:
    struct SignalBatch;
    class Output;

    explicit Tty(const TtySinks& sinks, WaitQueue* readers);
    TESSERA_NO_COPY(Tty);
    TESSERA_NO_MOVE(Tty);

    bool lflag(u32 bit) const { return (termios_.c_lflag & bit) != 0; }
    bool iflag(u32 bit) const { return (termios_.c_iflag & bit) != 0; }
    bool oflag(u32 bit) const { return (termios_.c_oflag & bit) != 0; }
    // A c_cc entry matches `c` unless it is disabled (_POSIX_VDISABLE is 0 on Linux).
    bool is_cc(u8 c, usize index) const { return termios_.c_cc[index] != 0 && termios_.c_cc[index] == c; }

    u8& at(usize position) { return ring_[position & (kBufferSize - 1)]; }
    bool is_line_end(usize position) const;
    void set_line_end(usize position, bool value);

    void receive_locked(u8 c, Output& out, SignalBatch& signals);
    bool receive_canonical_locked(u8 c, Output& out);
    void receive_signal_char_locked(int signal, u8 c, Output& out, SignalBatch& signals);
    void store_char_locked(u8 c, bool raw_newline_echo, Output& out);
    void push_line_end_locked(u8 c);
    void erase_locked(u8 c, Output& out);
    void echo_erase_tab_locked(usize tab_position, Output& out);

    void echo_char_locked(u8 c, Output& out);
    void output_char_locked(u8 c, Output& out);

    bool input_available_locked(bool for_poll) const;
    usize copy_canonical_locked(char* buffer, usize length);
    usize copy_raw_locked(char* buffer, usize length);
    usize readable_bytes_locked();
    void flush_input_locked();
    void notify_readers_locked();
    i64 ioctl_collect_locked(const TtyCaller& caller, u32 cmd, uptr value, void* buffer, SignalBatch& signals);
    void set_termios_locked(const tty::Termios& termios);
    bool is_controlling_tty_of(const TtyCaller& caller) const { return session_ != 0 && session_ == caller.sid; }

    const TtySinks sinks_;
    WaitQueue* const readers_;

    tty::Termios termios_;
    tty::WinSize winsize_{24, 80, 0, 0};
    i32 session_ = 0;    // session this is the controlling tty of, 0 for none
    i32 fg_pgrp_ = 0;    // foreground process group, 0 for none

    // The input ring. Positions only grow; `at` masks them. Invariants:
    // read_tail_ <= commit_head_ <= edit_head_ <= read_tail_ + kBufferSize.
    //  [read_tail_, commit_head_): what readers may take. In canonical mode it ends just after a
    //    line terminator; in raw mode commit_head_ == edit_head_.
    //  [commit_head_, edit_head_): the canonical line being edited.
    // A set bit in line_end_ marks a line terminator; a terminator byte of 0 is an end-of-file
    // push (^D), which read() consumes but does not return (Linux's __DISABLED_CHAR marker).
    usize read_tail_ = 0;
    usize commit_head_ = 0;
    usize edit_head_ = 0;
    u8 ring_[kBufferSize];
    u64 line_end_[kBufferSize / 64];

    bool literal_next_ = false;  // the previous byte was VLNEXT
    // Output column, for erasing tabs; canon_column_ is where the current line's echo began.
    u32 column_ = 0;
    u32 canon_column_ = 0;
};

}  // namespace fs
