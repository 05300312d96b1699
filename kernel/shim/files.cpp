// Linux file calls. The shim owns the fd table and the open file descriptions (DESIGN §2):
// fd -> OpenFile {FS node, offset, flags}. Everything else — names, data, pipes, devices —
// is the FS service's (services/fs), called with kernel buffers: the shim copies paths and
// data between user memory and bounce buffers, so the FS never sees a user pointer.
//
// The FS runs where the manifest places it (fs_client.cpp) and its lock is g_linux_lock;
// fd-table updates take the same lock briefly, FS calls are made without it.

#include "debug/log.hpp"
#include "fs/pipe.hpp"
#include "fs/procfs.hpp"
#include "fs/tty.hpp"
#include "fs/vfs.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "mm/user_pages.hpp"
#include "shim/fs_client.hpp"
#include "shim/console.hpp"
#include "shim/fd_table.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;
namespace flag = fs::flag;

constexpr i64 kAtFdcwd = -100;
constexpr u64 kAtSymlinkNofollow = 0x100, kAtRemovedir = 0x200, kAtSymlinkFollow = 0x400, kAtEmptyPath = 0x1000;
constexpr usize kBounce = 64 * KiB;

fs::Credentials creds() { return fs_credentials(*current_linux()); }

// Where SEEK_SET (0), SEEK_CUR (1) and SEEK_END (2) count from, for lseek and record locks.
i64 whence_base(const OpenFile& of, u64 whence, i64* base) {
    switch (whence) {
    case 0: *base = 0; return 0;
    case 1: *base = static_cast<i64>(of.offset); return 0;
    case 2: {
        fs::Stat st;
        if (i64 r = fsc::stat(of.node, &st); r < 0) return r;
        *base = static_cast<i64>(st.size);
        return 0;
    }
    default: return -kEINVAL;
    }
}

}  // namespace

// --- fd table ---------------------------------------------------------------------------

OpenFile* get_file(u64 fd) {
    LinuxProcess* l = current_linux();
    IrqSpinLockGuard guard(g_linux_lock);
    if (fd >= kMaxFds || !l->fds[fd].file) return nullptr;
    OpenFile* of = l->fds[fd].file;
    ++of->refs;
    return of;
}

void put_file(OpenFile* of) {
    {
        IrqSpinLockGuard guard(g_linux_lock);
        if (--of->refs) return;
        epoll_forget_locked(of);
        if (of->epoll) epoll_destroy_locked(of->epoll);
    }
    fsc::close(of->node, of->flags);
    kfree(of->path);
    kdelete(of);
}

i64 install(OpenFile* of, bool cloexec, u64 from) {
    LinuxProcess* l = current_linux();
    {
        IrqSpinLockGuard guard(g_linux_lock);
        u64 limit = min<u64>(l->limits[kRlimitNofile].soft, kMaxFds);
        for (u64 fd = from; fd < limit; ++fd)
            if (!l->fds[fd].file) {
                l->fds[fd] = {of, cloexec};
                return static_cast<i64>(fd);
            }
    }
    put_file(of);
    return -kEMFILE;
}

void close_fd_file(LinuxProcess& l, OpenFile* of) {
    // POSIX: closing any fd of a file releases the process's record locks on it (asked of
    // the FS only by processes that ever took one: close stays free of it otherwise).
    if (!of->epoll && __atomic_load_n(&l.holds_record_locks, __ATOMIC_RELAXED)) fsc::lock_release_owner(of->node, l.pid);
    put_file(of);
}

OpenFile* make_file(fs::Node* node, fs::NodeType type, u32 flags, const char* path) {
    auto* of = knew<OpenFile>();
    if (!of) return nullptr;
    of->node = node;
    of->type = type;
    of->flags = flags & ~flag::kCloseOnExec;
    usize n = strlen(path);
    of->path = static_cast<char*>(kmalloc(n + 1));
    if (of->path) memcpy(of->path, path, n + 1);
    return of;
}

namespace {


// --- paths --------------------------------------------------------------------------------

// Paths up to PATH_MAX live on the heap: kernel stacks are 16 KiB.
class PathBuffer {
public:
    PathBuffer() : text(static_cast<char*>(kmalloc(fs::kPathMax))) {}
    ~PathBuffer() { kfree(text); }
    TESSERA_NO_COPY(PathBuffer);
    char* text;
};

// The absolute names kept for getcwd, fchdir and /proc are at most this long (longer
// ones are cut; the FS itself takes full PATH_MAX paths).
constexpr usize kNameRoom = sizeof(LinuxProcess::cwd_path);

// Copies a user path; -EFAULT, -ENAMETOOLONG, or -ENOENT for an empty one.
i64 copy_path(u64 user, PathBuffer& out, bool allow_empty = false) {
    if (!out.text) return -kENOMEM;
    i64 n = copy_string_from_user(user, out.text, fs::kPathMax);
    if (n == -1) return -kEFAULT;
    if (n < 0) return -kENAMETOOLONG;
    if (n == 0 && !allow_empty) return -kENOENT;
    return n;
}

// Lexically normalized absolute form of `path` relative to `base` (for getcwd and the
// names /proc shows; symlinks are not resolved).
void absolute_path(const char* base, const char* path, char* out, usize room) {
    char joined[2 * kNameRoom];
    usize n = 0;
    auto append = [&](const char* s) {
        while (*s && n + 1 < sizeof(joined)) joined[n++] = *s++;
    };
    if (path[0] != '/') {
        append(base);
        append("/");
    }
    append(path);
    joined[n] = 0;
    // Split at '/', drop "." and empty parts, let ".." pop.
    usize out_len = 0;
    out[0] = 0;
    for (usize i = 0; i < n;) {
        while (i < n && joined[i] == '/') ++i;
        usize start = i;
        while (i < n && joined[i] != '/') ++i;
        usize len = i - start;
        if (len == 0 || (len == 1 && joined[start] == '.')) continue;
        if (len == 2 && joined[start] == '.' && joined[start + 1] == '.') {
            while (out_len > 0 && out[out_len] != '/') --out_len;
            out[out_len] = 0;
            continue;
        }
        if (out_len + 1 + len + 1 > room) break;
        out[out_len++] = '/';
        memcpy(out + out_len, joined + start, len);
        out_len += len;
        out[out_len] = 0;
    }
    if (out_len == 0) {
        out[0] = '/';
        out[1] = 0;
    }
}

}  // namespace

fs::Node* cwd_ref(LinuxProcess& l, char* path, usize room) {
    fs::Node* node;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        if (path) {
            usize n = min<usize>(strlen(l.cwd_path), room - 1);
            memcpy(path, l.cwd_path, n);
            path[n] = 0;
        }
        node = l.cwd;
        if (!node) return nullptr;
        ++l.cwd_readers;
    }
    fsc::node_ref(node);
    IrqSpinLockGuard guard(g_linux_lock);
    if (--l.cwd_readers == 0) l.cwd_unused.wake_all();
    return node;
}

namespace {

// Makes `node` (a reference, or nullptr at exit) the process's cwd, named `path`, and drops
// the old one once no thread is still taking a reference to it (cwd_ref).
void replace_cwd(LinuxProcess& l, fs::Node* node, const char* path) {
    fs::Node* old;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        old = l.cwd;
        l.cwd = node;
        usize n = min<usize>(strlen(path), sizeof(l.cwd_path) - 1);
        memcpy(l.cwd_path, path, n);
        l.cwd_path[n] = 0;
        while (l.cwd_readers) (void)l.cwd_unused.wait_unlocking(g_linux_lock);
    }
    if (old) fsc::node_unref(old);
}

// The directory node relative paths start from: the cwd or a dirfd's, as a new reference;
// nullptr for an absolute path. `base_path` gets the start's absolute name.
i64 start_dir(i64 dirfd, const char* path, fs::Node** out, char* base_path = nullptr, usize base_room = 0) {
    LinuxProcess* l = current_linux();
    if (path[0] == '/' || dirfd == kAtFdcwd) {
        // An absolute path needs no start (the FS takes nullptr then): no reference to take
        // and drop, which with the FS in its own domain are two gate crossings.
        if (path[0] == '/') {
            *out = nullptr;
            if (base_path) {
                IrqSpinLockGuard guard(g_linux_lock);
                usize n = min<usize>(strlen(l->cwd_path), base_room - 1);
                memcpy(base_path, l->cwd_path, n);
                base_path[n] = 0;
            }
            return 0;
        }
        *out = cwd_ref(*l, base_path, base_room);
        return *out ? 0 : -kENOENT;
    }
    FileRef file(static_cast<u64>(dirfd));
    if (!file) return -kEBADF;
    *out = file->node;
    if (base_path) {
        const char* p = file->path ? file->path : "/";
        usize n = min<usize>(strlen(p), base_room - 1);
        memcpy(base_path, p, n);
        base_path[n] = 0;
    }
    fsc::node_ref(*out);
    return 0;
}

class NodeRef {
public:
    NodeRef() = default;
    ~NodeRef() {
        if (node) fsc::node_unref(node);
    }
    TESSERA_NO_COPY(NodeRef);
    fs::Node* node = nullptr;
};

// --- data ---------------------------------------------------------------------------------


// The kernel buffer user data passes through on its way to or from the FS: on the stack for
// small transfers (a 1-byte read of /dev/zero should not cost a heap allocation), else on
// the heap (data is nullptr when that fails).
class Bounce {
public:
    explicit Bounce(usize size) : data(size <= sizeof(small_) ? small_ : static_cast<u8*>(kmalloc(size))) {}
    ~Bounce() {
        if (data != small_) kfree(data);
    }
    TESSERA_NO_COPY(Bounce);
    u8* data;

private:
    u8 small_[256];
};

// Maps an interrupted blocking FS call to a restartable one.
i64 restartable(i64 r) { return r == -kEINTR ? -kERestartSys : r; }

// Regular files: copies straight from the page cache's pages to the user, one copy, as long
// as the pages are cached. Returns bytes copied; *more is false at the end of the file or
// on an error (*error then says which).
u64 read_from_page_cache(OpenFile& of, u64 user, u64 length, u64* offset, bool* more, i64* error) {
    constexpr usize kBatch = 16;  // pages per FS call
    u64 done = 0;
    *more = true;
    *error = 0;
    while (done < length) {
        u8* pages[kBatch];
        u32 lengths[kBatch];
        usize want = static_cast<usize>(min<u64>(kBatch, (length - done + fs::kPageSize - 1) / fs::kPageSize + 1));
        i64 n = fsc::read_pages(of.node, *offset, want, pages, lengths);
        if (n == -kEAGAIN) break;  // not cached: the FS copies the rest
        if (n <= 0) {
            *more = false;
            *error = n;
            break;
        }
        for (i64 i = 0; i < n; ++i) {
            usize count = static_cast<usize>(min<u64>(lengths[i], length - done));
            bool copied = count && !*error && arch::copy_to_user(user + done, pages[i] + *offset % fs::kPageSize, count);
            mm::user_page_release(fsc::page_phys(pages[i]));
            if (!copied) {
                if (count && !*error) *error = -kEFAULT;
                continue;  // (every page's reference still goes)
            }
            done += count;
            *offset += count;
        }
        if (*error) {
            *more = false;
            break;
        }
        if (static_cast<usize>(n) < want) break;  // the next page is not cached (or the end): the FS copies the rest
    }
    return done;
}

i64 do_read(OpenFile& of, u64 user, u64 length, u64* offset) {
    if (of.epoll) return -kEINVAL;
    if (!readable(of)) return -kEBADF;
    if (length == 0) return 0;
    bool stream = of.type != fs::NodeType::Regular;
    u64 direct = 0;
    if (!stream) {
        bool more;
        i64 error;
        direct = read_from_page_cache(of, user, length, offset, &more, &error);
        if (!more) return direct ? static_cast<i64>(direct) : error;
        if (direct == length) return static_cast<i64>(direct);
        user += direct;
        length -= direct;
    }
    usize chunk = min<usize>(length, min(kBounce, fsc::max_transfer()));
    // With the FS in its own domain, the call's argument space is the bounce buffer.
    bool via_domain = fsc::in_domain();
    Bounce bounce(via_domain ? 0 : chunk);
    u8* buffer = bounce.data;
    if (!buffer) return -kENOMEM;
    u64 done = 0;
    i64 result = 0;
    while (done < length) {
        usize want = min<usize>(length - done, chunk);
        // Pipes, ttys and devices block only until the first bytes: later chunks of the same
        // read take what is there (a 1 MiB read of /dev/zero gets 1 MiB, of a pipe what it holds).
        u32 flags = done && stream ? of.flags | flag::kNonBlock : of.flags;
        i64 n = via_domain ? fsc::read_to_user(of.node, offset, user + done, want, flags)
                           : fsc::read(of.node, offset, buffer, want, flags);
        if (n < 0) {
            result = n;
            break;
        }
        if (n > 0 && !via_domain && !arch::copy_to_user(user + done, buffer, static_cast<usize>(n))) {
            result = -kEFAULT;
            break;
        }
        done += static_cast<u64>(n);
        if (static_cast<usize>(n) < want) break;
    }
    done += direct;
    return done ? static_cast<i64>(done) : restartable(result);
}

i64 do_write(OpenFile& of, u64 user, u64 length, u64* offset) {
    if (of.epoll) return -kEINVAL;
    if (!writable(of)) return -kEBADF;
    if (length == 0) return 0;
    usize chunk = min<usize>(length, min(kBounce, fsc::max_transfer()));
    bool via_domain = fsc::in_domain();  // (see do_read)
    Bounce bounce(via_domain ? 0 : chunk);
    u8* buffer = bounce.data;
    if (!buffer) return -kENOMEM;
    u64 done = 0;
    i64 result = 0;
    while (done < length) {
        usize want = min<usize>(length - done, chunk);
        if (!via_domain && !arch::copy_from_user(buffer, user + done, want)) {
            result = -kEFAULT;
            break;
        }
        i64 n = via_domain ? fsc::write_from_user(of.node, offset, user + done, want, of.flags)
                           : fsc::write(of.node, offset, buffer, want, of.flags);
        if (n < 0) {
            result = n;
            break;
        }
        done += static_cast<u64>(n);
        if (static_cast<usize>(n) < want) break;
    }
    if (result == -kEPIPE) {
        IrqSpinLockGuard guard(g_linux_lock);
        send_signal(*current_linux(), kSigPipe, current_linux()->pid, kSiKernel);
    }
    return done ? static_cast<i64>(done) : restartable(result);
}

}  // namespace

// --- fd table management used by fork, exec and exit --------------------------------------

void copy_fd_table(LinuxProcess& parent, LinuxProcess& child) {
    for (usize fd = 0; fd < kMaxFds; ++fd) {
        child.fds[fd] = parent.fds[fd];
        if (child.fds[fd].file) ++child.fds[fd].file->refs;
    }
}

void close_all_files(LinuxProcess& l) {
    for (usize fd = 0; fd < kMaxFds; ++fd) {
        OpenFile* of;
        {
            IrqSpinLockGuard guard(g_linux_lock);
            of = l.fds[fd].file;
            l.fds[fd] = {};
        }
        if (of) close_fd_file(l, of);
    }
    replace_cwd(l, nullptr, "/");
}

void close_on_exec(LinuxProcess& l) {
    for (usize fd = 0; fd < kMaxFds; ++fd) {
        OpenFile* of = nullptr;
        {
            IrqSpinLockGuard guard(g_linux_lock);
            if (l.fds[fd].file && l.fds[fd].close_on_exec) {
                of = l.fds[fd].file;
                l.fds[fd] = {};
            }
        }
        if (of) close_fd_file(l, of);
    }
}

void setup_initial_files(LinuxProcess& l) {
    l.cwd = fsc::root();
    l.cwd_path[0] = '/';
    fs::Node* console = nullptr;
    fs::NodeType type;
    fs::Credentials c = fs_credentials(l);
    if (fsc::open(nullptr, "/dev/console", flag::kReadWrite, 0, 0, c, &console, &type) < 0) {
        LOG_WARN("linux: /dev/console cannot be opened: %s starts without fds 0-2", l.process->name());
        return;
    }
    OpenFile* of = make_file(console, type, flag::kReadWrite, "/dev/console");
    if (!of) {
        fsc::close(console, flag::kReadWrite);
        return;
    }
    of->refs = 3;
    for (int fd = 0; fd < 3; ++fd) l.fds[fd] = {of, false};
    console_attach_session(sid_of(l), pgid_of(l));
}

i64 open_executable(LinuxProcess& l, const char* path, Executable* out) {
    NodeRef start, node;
    if (path[0] != '/' && !(start.node = cwd_ref(l))) return -kENOENT;
    fs::Credentials c = fs_credentials(l);
    i64 r = fsc::lookup(start.node, path, true, c, &node.node);
    if (r < 0) return r;
    if (fsc::node_type(node.node) == fs::NodeType::Directory) return -kEACCES;
    if (fsc::node_type(node.node) != fs::NodeType::Regular) return -kEACCES;
    if (i64 a = fsc::access_node(node.node, fs::kAccessExecute, c); a < 0) return a;
    fs::Stat st;  // the set-user-ID and set-group-ID bits and the owner, for the process manager
    if (i64 s = fsc::stat(node.node, &st); s < 0) return s;
    out->mode = st.mode;
    out->uid = st.uid;
    out->gid = st.gid;
    const u8* data;
    usize length;
    if (fsc::file_data_view(node.node, &data, &length) == 0) {
        out->data = data;
        out->size = length;
        out->owned = nullptr;
        out->node = node.node;
        node.node = nullptr;
        return 0;
    }
    // Written since boot: read the whole file into kernel memory.
    if (st.size > 64 * MiB) return -kENOMEM;
    auto* copy = static_cast<u8*>(kmalloc(st.size ? st.size : 1));
    if (!copy) return -kENOMEM;
    i64 n = fsc::read_all(node.node, copy, st.size);
    if (n < 0) {
        kfree(copy);
        return n;
    }
    out->data = copy;
    out->size = static_cast<usize>(n);
    out->owned = copy;
    out->node = node.node;
    node.node = nullptr;
    return 0;
}

void release_executable(Executable& e) {
    if (e.owned) kfree(e.owned);
    if (e.node) fsc::node_unref(e.node);
    e = {};
}

// --- syscalls -----------------------------------------------------------------------------

i64 sys_read(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    return do_read(*of.get(), f.rsi, f.rdx, &of->offset);
}

i64 sys_write(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    return do_write(*of.get(), f.rsi, f.rdx, &of->offset);
}

i64 sys_pread64(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (of->type != fs::NodeType::Regular) return of->type == fs::NodeType::Directory ? -kEISDIR : -kESPIPE;
    if (static_cast<i64>(f.r10) < 0) return -kEINVAL;
    u64 offset = f.r10;
    return do_read(*of.get(), f.rsi, f.rdx, &offset);
}

i64 sys_pwrite64(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (of->type != fs::NodeType::Regular) return -kESPIPE;
    if (static_cast<i64>(f.r10) < 0) return -kEINVAL;
    u64 offset = f.r10;  // with O_APPEND the data still goes to the end, as on Linux (pwrite(2) BUGS)
    return do_write(*of.get(), f.rsi, f.rdx, &offset);
}

namespace {
i64 vectored(arch::TrapFrame& f, bool write, u64* offset_override) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (f.rdx > 1024) return -kEINVAL;
    u64* offset = offset_override ? offset_override : &of->offset;
    i64 total = 0;
    for (u64 i = 0; i < f.rdx; ++i) {
        LinuxIovec v;
        if (!UserIn<LinuxIovec>(f.rsi + i * sizeof(LinuxIovec)).read(&v)) return total ? total : -kEFAULT;
        if (v.length == 0) continue;
        i64 n = write ? do_write(*of.get(), v.base, v.length, offset) : do_read(*of.get(), v.base, v.length, offset);
        if (n < 0) return total ? total : n;
        total += n;
        if (static_cast<u64>(n) < v.length) break;
    }
    return total;
}
}  // namespace

i64 sys_readv(arch::TrapFrame& f) { return vectored(f, false, nullptr); }
i64 sys_writev(arch::TrapFrame& f) { return vectored(f, true, nullptr); }

i64 sys_lseek(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    fs::NodeType type = of->type;
    if (type == fs::NodeType::Fifo || of->epoll) return -kESPIPE;
    if (type == fs::NodeType::CharDevice) return 0;  // Linux: ttys and /dev/null accept and report 0
    i64 offset = static_cast<i64>(f.rsi);
    i64 base;
    if (i64 r = whence_base(*of.get(), f.rdx, &base); r < 0) return r;
    if (type == fs::NodeType::Directory) {
        if (f.rdx != 0 || offset != 0) return -kEINVAL;  // only rewinddir
    }
    i64 target = base + offset;
    if (target < 0) return -kEINVAL;
    of->offset = static_cast<u64>(target);
    return target;
}

i64 sys_openat_impl(i64 dirfd, u64 user_path, u32 flags, u32 perm) {
    PathBuffer path;
    if (i64 r = copy_path(user_path, path); r < 0) return r;
    char base[kNameRoom];
    NodeRef dir;
    if (i64 r = start_dir(dirfd, path.text, &dir.node, base, sizeof(base)); r < 0) return r;
    fs::Node* node;
    fs::NodeType type;
    LinuxProcess* l = current_linux();
    i64 r = fsc::open(dir.node, path.text, flags, perm, l->umask, creds(), &node, &type);
    if (r < 0) return restartable(r);
    char absolute[kNameRoom];
    absolute_path(base, path.text, absolute, sizeof(absolute));
    OpenFile* of = make_file(node, type, flags, absolute);
    if (!of) {
        fsc::close(node, flags);
        return -kENOMEM;
    }
    return install(of, flags & flag::kCloseOnExec);
}

i64 sys_open(arch::TrapFrame& f) { return sys_openat_impl(kAtFdcwd, f.rdi, static_cast<u32>(f.rsi), static_cast<u32>(f.rdx)); }
i64 sys_openat(arch::TrapFrame& f) {
    return sys_openat_impl(static_cast<i32>(f.rdi), f.rsi, static_cast<u32>(f.rdx), static_cast<u32>(f.r10));
}
i64 sys_creat(arch::TrapFrame& f) {
    return sys_openat_impl(kAtFdcwd, f.rdi, flag::kCreate | flag::kWriteOnly | flag::kTruncate, static_cast<u32>(f.rsi));
}

i64 sys_close(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    OpenFile* of;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        if (f.rdi >= kMaxFds || !l->fds[f.rdi].file) return -kEBADF;
        of = l->fds[f.rdi].file;
        l->fds[f.rdi] = {};
    }
    close_fd_file(*l, of);
    return 0;
}

namespace {
i64 dup_to(u64 old_fd, u64 new_fd, bool cloexec) {
    LinuxProcess* l = current_linux();
    OpenFile* replaced;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        if (new_fd >= min<u64>(l->limits[kRlimitNofile].soft, kMaxFds)) return -kEBADF;
        if (old_fd >= kMaxFds || !l->fds[old_fd].file) return -kEBADF;
        if (old_fd == new_fd) return static_cast<i64>(new_fd);
        replaced = l->fds[new_fd].file;
        ++l->fds[old_fd].file->refs;
        l->fds[new_fd] = {l->fds[old_fd].file, cloexec};
    }
    if (replaced) close_fd_file(*l, replaced);
    return static_cast<i64>(new_fd);
}
}  // namespace

i64 sys_dup(arch::TrapFrame& f) {
    OpenFile* of = get_file(f.rdi);
    if (!of) return -kEBADF;
    return install(of, false);
}
i64 sys_dup2(arch::TrapFrame& f) { return dup_to(f.rdi, f.rsi, false); }
i64 sys_dup3(arch::TrapFrame& f) {
    if (f.rdi == f.rsi) return -kEINVAL;
    if (f.rdx & ~u64{flag::kCloseOnExec}) return -kEINVAL;
    return dup_to(f.rdi, f.rsi, f.rdx & flag::kCloseOnExec);
}

namespace {
// struct flock (x86-64: the 64-bit one).
struct LinuxFlock {
    i16 type;
    i16 whence;
    i64 start;
    i64 length;
    i32 pid;
};
static_assert(sizeof(LinuxFlock) == 32);

i64 record_lock(LinuxProcess& l, u64 fd, u64 command, u64 user) {
    constexpr u64 kGetLock = 5, kSetLockWait = 7;
    FileRef of(fd);
    if (!of) return -kEBADF;
    LinuxFlock lock;
    if (!UserIn<LinuxFlock>(user).read(&lock)) return -kEFAULT;
    if (lock.type < 0 || lock.type > static_cast<i16>(fs::kUnlock)) return -kEINVAL;
    i64 base;
    if (i64 r = whence_base(*of.get(), static_cast<u64>(lock.whence), &base); r < 0) return r;
    // l_len > 0: [start, start + len); 0: to the end, however far; < 0: [start + len, start).
    constexpr i64 kOffsetMax = static_cast<i64>(fs::kLockToEnd);
    if (lock.start > 0 && base > kOffsetMax - lock.start) return -kEOVERFLOW;
    i64 start = base + lock.start;
    u64 end;
    if (lock.length > 0) {
        if (start > kOffsetMax - (lock.length - 1)) return -kEOVERFLOW;
        end = static_cast<u64>(start + lock.length - 1);
    } else if (lock.length == 0) {
        end = fs::kLockToEnd;
    } else {
        end = static_cast<u64>(start - 1);
        if (start < 0 || lock.length < -start) return -kEINVAL;
        start += lock.length;
    }
    if (start < 0) return -kEINVAL;
    u32 type = static_cast<u32>(lock.type);
    if (command == kGetLock) {
        if (type == fs::kUnlock) return -kEINVAL;
        fs::RecordLock test{type, static_cast<u64>(start), end, 0};
        if (i64 r = fsc::lock_test(of->node, l.pid, &test); r < 0) return r;
        lock.type = static_cast<i16>(test.type);
        if (test.type != fs::kUnlock) {
            lock.whence = 0;
            lock.start = static_cast<i64>(test.start);
            lock.length = test.end == fs::kLockToEnd ? 0 : static_cast<i64>(test.end - test.start + 1);
            lock.pid = static_cast<i32>(test.owner);
        }
        return UserOut<LinuxFlock>(user).write(lock) ? 0 : -kEFAULT;
    }
    if ((type == fs::kLockRead && !readable(*of.get())) || (type == fs::kLockWrite && !writable(*of.get())))
        return -kEBADF;
    if (type != fs::kUnlock) __atomic_store_n(&l.holds_record_locks, true, __ATOMIC_RELAXED);
    i64 r = fsc::lock_set(of->node, l.pid, type, static_cast<u64>(start), end, command == kSetLockWait);
    return r == -kEINTR ? -kERestartSys : r;
}
}  // namespace

i64 sys_fcntl(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    u64 fd = f.rdi;
    switch (f.rsi) {
    case 0:     // F_DUPFD
    case 1030:  // F_DUPFD_CLOEXEC
    {
        if (f.rdx >= min<u64>(l->limits[kRlimitNofile].soft, kMaxFds)) return -kEINVAL;
        OpenFile* of = get_file(fd);
        if (!of) return -kEBADF;
        return install(of, f.rsi == 1030, f.rdx);
    }
    case 1: {  // F_GETFD
        IrqSpinLockGuard guard(g_linux_lock);
        if (fd >= kMaxFds || !l->fds[fd].file) return -kEBADF;
        return l->fds[fd].close_on_exec ? 1 : 0;
    }
    case 2: {  // F_SETFD
        IrqSpinLockGuard guard(g_linux_lock);
        if (fd >= kMaxFds || !l->fds[fd].file) return -kEBADF;
        l->fds[fd].close_on_exec = f.rdx & 1;
        return 0;
    }
    case 3: {  // F_GETFL
        FileRef of(fd);
        if (!of) return -kEBADF;
        return of->flags & ~flag::kCloseOnExec;
    }
    case 4: {  // F_SETFL: only O_APPEND and O_NONBLOCK change
        FileRef of(fd);
        if (!of) return -kEBADF;
        constexpr u32 kChangeable = flag::kAppend | flag::kNonBlock;
        of->flags = (of->flags & ~kChangeable) | (static_cast<u32>(f.rdx) & kChangeable);
        return 0;
    }
    case 5: case 6: case 7:  // F_GETLK, F_SETLK, F_SETLKW
        return record_lock(*l, fd, f.rsi, f.rdx);
    case 1032: {  // F_GETPIPE_SZ
        FileRef of(fd);
        if (!of) return -kEBADF;
        return of->type == fs::NodeType::Fifo ? static_cast<i64>(fs::kPipeCapacity) : -kEBADF;
    }
    default: {
        FileRef of(fd);
        if (!of) return -kEBADF;
        return -kEINVAL;
    }
    }
}

i64 sys_ioctl(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    u32 cmd = static_cast<u32>(f.rsi);
    switch (cmd) {
    case 0x5421: {  // FIONBIO
        i32 on;
        if (!UserIn<i32>(f.rdx).read(&on)) return -kEFAULT;
        of->flags = on ? (of->flags | flag::kNonBlock) : (of->flags & ~flag::kNonBlock);
        return 0;
    }
    case 0x5451:  // FIOCLEX
    case 0x5450: {  // FIONCLEX
        LinuxProcess* l = current_linux();
        IrqSpinLockGuard guard(g_linux_lock);
        l->fds[f.rdi].close_on_exec = cmd == 0x5451;
        return 0;
    }
    default: break;
    }
    if (console_owns(of->node)) return console_ioctl(*current_linux(), cmd, f.rdx);
    if (cmd == 0x541B) {  // FIONREAD
        i32 bytes = 0;
        if (i64 r = fsc::ioctl(of->node, cmd, &bytes, sizeof(bytes)); r < 0) return r;
        return UserOut<i32>(f.rdx).write(bytes) ? 0 : -kEFAULT;
    }
    return -kENOTTY;  // no other device has ioctls yet
}

namespace {

struct LinuxStat {
    u64 dev, ino, nlink;
    u32 mode, uid, gid, pad0;
    u64 rdev;
    i64 size, blksize, blocks;
    i64 atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    i64 unused[3];
};
static_assert(sizeof(LinuxStat) == 144);

i64 write_stat(const fs::Stat& st, u64 user) {
    LinuxStat s{};
    s.dev = st.dev;
    s.ino = st.ino;
    s.nlink = st.nlink;
    s.mode = st.mode;
    s.uid = st.uid;
    s.gid = st.gid;
    s.rdev = st.rdev;
    s.size = static_cast<i64>(st.size);
    s.blksize = st.block_size;
    s.blocks = static_cast<i64>(st.blocks);
    s.atime = static_cast<i64>(st.atime_ns / kNsPerSec), s.atime_ns = static_cast<i64>(st.atime_ns % kNsPerSec);
    s.mtime = static_cast<i64>(st.mtime_ns / kNsPerSec), s.mtime_ns = static_cast<i64>(st.mtime_ns % kNsPerSec);
    s.ctime = static_cast<i64>(st.ctime_ns / kNsPerSec), s.ctime_ns = static_cast<i64>(st.ctime_ns % kNsPerSec);
    return UserOut<LinuxStat>(user).write(s) ? 0 : -kEFAULT;
}

// Resolves (dirfd, path, flags) for the stat family; AT_EMPTY_PATH with "" is the dirfd itself.
i64 resolve_at(i64 dirfd, u64 user_path, u64 at_flags, bool follow_default, NodeRef& out) {
    PathBuffer path;
    i64 n = copy_path(user_path, path, at_flags & kAtEmptyPath);
    if (n < 0) return n;
    if (n == 0) {
        if (dirfd == kAtFdcwd) {
            out.node = cwd_ref(*current_linux());
            return out.node ? 0 : -kENOENT;
        }
        FileRef of(static_cast<u64>(dirfd));
        if (!of) return -kEBADF;
        out.node = of->node;
        fsc::node_ref(out.node);
        return 0;
    }
    NodeRef dir;
    if (i64 r = start_dir(dirfd, path.text, &dir.node); r < 0) return r;
    bool follow = follow_default && !(at_flags & kAtSymlinkNofollow);
    if (at_flags & kAtSymlinkFollow) follow = true;
    return fsc::lookup(dir.node, path.text, follow, creds(), &out.node);
}

}  // namespace

// The stat family: (dirfd, path, flags) to the node's attributes, one FS call for a path
// (fsc::stat_path); AT_EMPTY_PATH with "" is the dirfd itself.
i64 stat_at(i64 dirfd, u64 user_path, u64 at_flags, fs::Stat* st) {
    PathBuffer path;
    i64 n = copy_path(user_path, path, at_flags & kAtEmptyPath);
    if (n < 0) return n;
    if (n == 0) {
        if (dirfd == kAtFdcwd) {
            NodeRef cwd;
            cwd.node = cwd_ref(*current_linux());
            return cwd.node ? fsc::stat(cwd.node, st) : -kENOENT;
        }
        FileRef of(static_cast<u64>(dirfd));
        return of ? fsc::stat(of->node, st) : -kEBADF;
    }
    NodeRef dir;
    if (i64 r = start_dir(dirfd, path.text, &dir.node); r < 0) return r;
    return fsc::stat_path(dir.node, path.text, !(at_flags & kAtSymlinkNofollow), creds(), st);
}

i64 sys_stat(arch::TrapFrame& f) {
    fs::Stat st;
    if (i64 r = stat_at(kAtFdcwd, f.rdi, 0, &st); r < 0) return r;
    return write_stat(st, f.rsi);
}
i64 sys_lstat(arch::TrapFrame& f) {
    fs::Stat st;
    if (i64 r = stat_at(kAtFdcwd, f.rdi, kAtSymlinkNofollow, &st); r < 0) return r;
    return write_stat(st, f.rsi);
}
i64 sys_fstat(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    fs::Stat st;
    if (i64 r = fsc::stat(of->node, &st); r < 0) return r;
    return write_stat(st, f.rsi);
}
i64 sys_newfstatat(arch::TrapFrame& f) {
    if (f.r10 & ~(kAtSymlinkNofollow | kAtEmptyPath | 0x800 /* AT_NO_AUTOMOUNT */)) return -kEINVAL;
    fs::Stat st;
    if (i64 r = stat_at(static_cast<i32>(f.rdi), f.rsi, f.r10, &st); r < 0) return r;
    return write_stat(st, f.rdx);
}

i64 sys_statx(arch::TrapFrame& f) {
    fs::Stat st;
    if (i64 r = stat_at(static_cast<i32>(f.rdi), f.rsi, f.rdx & (kAtSymlinkNofollow | kAtEmptyPath), &st); r < 0)
        return r;
    struct Timestamp {
        i64 seconds;
        u32 nanoseconds;
        i32 pad;
    };
    struct Statx {
        u32 mask, blksize;
        u64 attributes;
        u32 nlink, uid, gid;
        u16 mode, pad0;
        u64 ino, size, blocks, attributes_mask;
        Timestamp atime, btime, ctime, mtime;
        u32 rdev_major, rdev_minor, dev_major, dev_minor;
        u64 spare[14];
    };
    static_assert(sizeof(Statx) == 256);
    auto ts = [](u64 ns) { return Timestamp{static_cast<i64>(ns / kNsPerSec), static_cast<u32>(ns % kNsPerSec), 0}; };
    Statx s{};
    s.mask = 0x7ff;  // STATX_BASIC_STATS
    s.blksize = st.block_size;
    s.nlink = st.nlink;
    s.uid = st.uid;
    s.gid = st.gid;
    s.mode = static_cast<u16>(st.mode);
    s.ino = st.ino;
    s.size = st.size;
    s.blocks = st.blocks;
    s.atime = ts(st.atime_ns);
    s.btime = ts(st.ctime_ns);
    s.ctime = ts(st.ctime_ns);
    s.mtime = ts(st.mtime_ns);
    s.rdev_major = st.rdev_major;
    s.rdev_minor = st.rdev_minor;
    s.dev_major = st.dev_major;
    s.dev_minor = st.dev_minor;
    return UserOut<Statx>(f.r8).write(s) ? 0 : -kEFAULT;
}

i64 sys_getdents64(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (of->type != fs::NodeType::Directory) return -kENOTDIR;
    usize length = min<usize>(f.rdx, kBounce);
    auto* buffer = static_cast<u8*>(kmalloc(length ? length : 1));
    if (!buffer) return -kENOMEM;
    i64 n = fsc::getdents64(of->node, &of->offset, buffer, length);
    if (n > 0 && !arch::copy_to_user(f.rsi, buffer, static_cast<usize>(n))) n = -kEFAULT;
    kfree(buffer);
    return n;
}

namespace {
// The calls of the form (dirfd, path, ...) -> fs::op(dir, path, ...).
template <typename Op>
i64 with_path(i64 dirfd, u64 user_path, Op op) {
    PathBuffer path;
    if (i64 r = copy_path(user_path, path); r < 0) return r;
    NodeRef dir;
    if (i64 r = start_dir(dirfd, path.text, &dir.node); r < 0) return r;
    return op(dir.node, path.text);
}

template <typename Op>
i64 with_two_paths(i64 old_dirfd, u64 old_user, i64 new_dirfd, u64 new_user, Op op) {
    PathBuffer from, to;
    if (i64 r = copy_path(old_user, from); r < 0) return r;
    if (i64 r = copy_path(new_user, to); r < 0) return r;
    NodeRef old_dir, new_dir;
    if (i64 r = start_dir(old_dirfd, from.text, &old_dir.node); r < 0) return r;
    if (i64 r = start_dir(new_dirfd, to.text, &new_dir.node); r < 0) return r;
    return op(old_dir.node, from.text, new_dir.node, to.text);
}
}  // namespace

i64 sys_mkdirat_impl(i64 dirfd, u64 path, u32 perm) {
    u32 umask = current_linux()->umask;
    return with_path(dirfd, path, [&](fs::Node* d, const char* p) { return fsc::mkdir(d, p, perm, umask, creds()); });
}
i64 sys_mkdir(arch::TrapFrame& f) { return sys_mkdirat_impl(kAtFdcwd, f.rdi, static_cast<u32>(f.rsi)); }
i64 sys_mkdirat(arch::TrapFrame& f) { return sys_mkdirat_impl(static_cast<i32>(f.rdi), f.rsi, static_cast<u32>(f.rdx)); }

i64 sys_mknodat_impl(i64 dirfd, u64 path, u32 mode, u64 dev) {
    u32 umask = current_linux()->umask;
    u32 major = static_cast<u32>(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffu));
    u32 minor = static_cast<u32>((dev & 0xff) | ((dev >> 12) & ~0xffu));
    if ((mode & fs::mode::kTypeMask) == 0) mode |= fs::mode::kRegular;
    return with_path(dirfd, path,
                     [&](fs::Node* d, const char* p) { return fsc::mknod(d, p, mode, umask, major, minor, creds()); });
}
i64 sys_mknod(arch::TrapFrame& f) { return sys_mknodat_impl(kAtFdcwd, f.rdi, static_cast<u32>(f.rsi), f.rdx); }
i64 sys_mknodat(arch::TrapFrame& f) {
    return sys_mknodat_impl(static_cast<i32>(f.rdi), f.rsi, static_cast<u32>(f.rdx), f.r10);
}

i64 sys_unlink(arch::TrapFrame& f) {
    return with_path(kAtFdcwd, f.rdi, [](fs::Node* d, const char* p) { return fsc::unlink(d, p, creds()); });
}
i64 sys_rmdir(arch::TrapFrame& f) {
    return with_path(kAtFdcwd, f.rdi, [](fs::Node* d, const char* p) { return fsc::rmdir(d, p, creds()); });
}
i64 sys_unlinkat(arch::TrapFrame& f) {
    if (f.rdx & ~kAtRemovedir) return -kEINVAL;
    bool dir = f.rdx & kAtRemovedir;
    return with_path(static_cast<i32>(f.rdi), f.rsi, [&](fs::Node* d, const char* p) {
        return dir ? fsc::rmdir(d, p, creds()) : fsc::unlink(d, p, creds());
    });
}

i64 sys_rename(arch::TrapFrame& f) {
    return with_two_paths(kAtFdcwd, f.rdi, kAtFdcwd, f.rsi, [](fs::Node* a, const char* p, fs::Node* b, const char* q) {
        return fsc::rename(a, p, b, q, creds());
    });
}
i64 sys_renameat(arch::TrapFrame& f) {
    return with_two_paths(static_cast<i32>(f.rdi), f.rsi, static_cast<i32>(f.rdx), f.r10,
                          [](fs::Node* a, const char* p, fs::Node* b, const char* q) {
                              return fsc::rename(a, p, b, q, creds());
                          });
}
i64 sys_renameat2(arch::TrapFrame& f) {
    constexpr u64 kNoReplace = 1;
    if (f.r8 & ~kNoReplace) return -kEINVAL;  // RENAME_EXCHANGE and RENAME_WHITEOUT: not yet
    if (f.r8 & kNoReplace) {
        // Checked, then renamed: not atomic against a concurrent creator (first step).
        NodeRef existing;
        i64 r = resolve_at(static_cast<i32>(f.rdx), f.r10, kAtSymlinkNofollow, true, existing);
        if (r == 0) return -kEEXIST;
        if (r != -kENOENT) return r;
    }
    return sys_renameat(f);
}

i64 sys_link(arch::TrapFrame& f) {
    return with_two_paths(kAtFdcwd, f.rdi, kAtFdcwd, f.rsi, [](fs::Node* a, const char* p, fs::Node* b, const char* q) {
        return fsc::link(a, p, b, q, false, creds());
    });
}
i64 sys_linkat(arch::TrapFrame& f) {
    bool follow = f.r8 & kAtSymlinkFollow;
    return with_two_paths(static_cast<i32>(f.rdi), f.rsi, static_cast<i32>(f.rdx), f.r10,
                          [&](fs::Node* a, const char* p, fs::Node* b, const char* q) {
                              return fsc::link(a, p, b, q, follow, creds());
                          });
}

i64 sys_symlinkat_impl(u64 target_user, i64 dirfd, u64 path) {
    PathBuffer target;
    if (i64 r = copy_path(target_user, target); r < 0) return r;
    return with_path(dirfd, path, [&](fs::Node* d, const char* p) { return fsc::symlink(target.text, d, p, creds()); });
}
i64 sys_symlink(arch::TrapFrame& f) { return sys_symlinkat_impl(f.rdi, kAtFdcwd, f.rsi); }
i64 sys_symlinkat(arch::TrapFrame& f) { return sys_symlinkat_impl(f.rdi, static_cast<i32>(f.rsi), f.rdx); }

i64 sys_readlinkat_impl(i64 dirfd, u64 path, u64 user_buffer, u64 length) {
    if (static_cast<i64>(length) <= 0) return -kEINVAL;
    PathBuffer target;
    if (!target.text) return -kENOMEM;
    char* buffer = target.text;
    usize want = min<usize>(length, fs::kPathMax);
    // /proc/self/exe and friends resolve in the shim (it knows the process).
    i64 n = with_path(dirfd, path, [&](fs::Node* d, const char* p) { return fsc::readlink(d, p, buffer, want, creds()); });
    if (n < 0) return n;
    return arch::copy_to_user(user_buffer, buffer, static_cast<usize>(n)) ? n : -kEFAULT;
}
i64 sys_readlink(arch::TrapFrame& f) { return sys_readlinkat_impl(kAtFdcwd, f.rdi, f.rsi, f.rdx); }
i64 sys_readlinkat(arch::TrapFrame& f) { return sys_readlinkat_impl(static_cast<i32>(f.rdi), f.rsi, f.rdx, f.r10); }

i64 sys_faccessat_impl(i64 dirfd, u64 path, u64 mode, u64 at_flags) {
    constexpr u64 kAtEaccess = 0x200;
    if (mode & ~u64{7}) return -kEINVAL;
    if (at_flags & ~(kAtSymlinkNofollow | kAtEaccess | kAtEmptyPath)) return -kEINVAL;
    bool follow = !(at_flags & kAtSymlinkNofollow);
    // access(2) checks with the real ids, unless AT_EACCESS asks for the effective ones.
    LinuxProcess& l = *current_linux();
    fs::Credentials c = fs_credentials(l);
    if (!(at_flags & kAtEaccess)) {
        c.uid = pmc::record(l.pm_slot).ruid;
        c.gid = pmc::record(l.pm_slot).rgid;
    }
    return with_path(dirfd, path, [&](fs::Node* d, const char* p) {
        return fsc::access(d, p, static_cast<u32>(mode), follow, c);
    });
}
i64 sys_access(arch::TrapFrame& f) { return sys_faccessat_impl(kAtFdcwd, f.rdi, f.rsi, 0); }
i64 sys_faccessat(arch::TrapFrame& f) { return sys_faccessat_impl(static_cast<i32>(f.rdi), f.rsi, f.rdx, 0); }
i64 sys_faccessat2(arch::TrapFrame& f) { return sys_faccessat_impl(static_cast<i32>(f.rdi), f.rsi, f.rdx, f.r10); }

i64 sys_chmod(arch::TrapFrame& f) {
    NodeRef node;
    if (i64 r = resolve_at(kAtFdcwd, f.rdi, 0, true, node); r < 0) return r;
    return fsc::chmod(node.node, static_cast<u32>(f.rsi), creds());
}
i64 sys_fchmodat(arch::TrapFrame& f) {
    NodeRef node;
    if (i64 r = resolve_at(static_cast<i32>(f.rdi), f.rsi, 0, true, node); r < 0) return r;
    return fsc::chmod(node.node, static_cast<u32>(f.rdx), creds());
}
i64 sys_fchmod(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    return fsc::chmod(of->node, static_cast<u32>(f.rsi), creds());
}
i64 sys_chown(arch::TrapFrame& f) {
    NodeRef node;
    if (i64 r = resolve_at(kAtFdcwd, f.rdi, 0, true, node); r < 0) return r;
    return fsc::chown(node.node, static_cast<u32>(f.rsi), static_cast<u32>(f.rdx), creds());
}
i64 sys_lchown(arch::TrapFrame& f) {
    NodeRef node;
    if (i64 r = resolve_at(kAtFdcwd, f.rdi, kAtSymlinkNofollow, true, node); r < 0) return r;
    return fsc::chown(node.node, static_cast<u32>(f.rsi), static_cast<u32>(f.rdx), creds());
}
i64 sys_fchown(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    return fsc::chown(of->node, static_cast<u32>(f.rsi), static_cast<u32>(f.rdx), creds());
}
i64 sys_fchownat(arch::TrapFrame& f) {
    NodeRef node;
    if (i64 r = resolve_at(static_cast<i32>(f.rdi), f.rsi, f.r8, true, node); r < 0) return r;
    return fsc::chown(node.node, static_cast<u32>(f.rdx), static_cast<u32>(f.r10), creds());
}

i64 sys_utimensat(arch::TrapFrame& f) {
    fs::Timespec times[2];
    bool have = f.rdx != 0;
    if (have && !UserIn<fs::Timespec>(f.rdx).read_array(times, 2)) return -kEFAULT;
    NodeRef node;
    if (f.rsi == 0) {  // futimens: the fd itself
        FileRef of(static_cast<u64>(static_cast<i32>(f.rdi)));
        if (!of) return -kEBADF;
        return fsc::utimens(of->node, have ? times : nullptr, creds());
    }
    if (i64 r = resolve_at(static_cast<i32>(f.rdi), f.rsi, f.r10, true, node); r < 0) return r;
    return fsc::utimens(node.node, have ? times : nullptr, creds());
}

namespace {
// utime, utimes and futimesat: utimensat's older forms, with whole seconds (utimbuf) or
// seconds and microseconds (timeval); no times means now.
i64 set_times_at(i64 dirfd, u64 user_path, u64 user_times, bool microseconds) {
    fs::Timespec times[2];
    if (user_times) {
        i64 raw[4];
        if (!UserIn<i64>(user_times).read_array(raw, microseconds ? 4 : 2)) return -kEFAULT;
        for (int i = 0; i < 2; ++i) {
            i64 seconds = microseconds ? raw[2 * i] : raw[i], micros = microseconds ? raw[2 * i + 1] : 0;
            if (micros < 0 || micros >= 1000000) return -kEINVAL;
            times[i] = {seconds, micros * 1000};
        }
    }
    NodeRef node;
    if (i64 r = resolve_at(dirfd, user_path, 0, true, node); r < 0) return r;
    return fsc::utimens(node.node, user_times ? times : nullptr, creds());
}
}  // namespace

i64 sys_utime(arch::TrapFrame& f) { return set_times_at(kAtFdcwd, f.rdi, f.rsi, false); }
i64 sys_utimes(arch::TrapFrame& f) { return set_times_at(kAtFdcwd, f.rdi, f.rsi, true); }
i64 sys_futimesat(arch::TrapFrame& f) { return set_times_at(static_cast<i32>(f.rdi), f.rsi, f.rdx, true); }

i64 sys_truncate(arch::TrapFrame& f) {
    if (static_cast<i64>(f.rsi) < 0) return -kEINVAL;
    NodeRef node;
    if (i64 r = resolve_at(kAtFdcwd, f.rdi, 0, true, node); r < 0) return r;
    if (fsc::node_type(node.node) == fs::NodeType::Directory) return -kEISDIR;
    if (i64 r = fsc::access_node(node.node, fs::kAccessWrite, creds()); r < 0) return r;
    return fsc::truncate(node.node, f.rsi);
}
i64 sys_ftruncate(arch::TrapFrame& f) {
    if (static_cast<i64>(f.rsi) < 0) return -kEINVAL;
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (!writable(*of.get()) || of->type != fs::NodeType::Regular || of->epoll) return -kEINVAL;
    return fsc::truncate(of->node, f.rsi);
}

i64 sys_fsync(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    return of ? 0 : -kEBADF;  // tmpfs: nothing to write back
}

i64 sys_sync(arch::TrapFrame&) { return 0; }

i64 sys_syncfs(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    return of ? 0 : -kEBADF;  // tmpfs: nothing to write back
}

// posix_fadvise: advice about the page cache's use, which tmpfs (its own backing store)
// has no use for; the arguments are checked as Linux checks them.
i64 sys_fadvise64(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    if (of->type == fs::NodeType::Fifo) return -kESPIPE;
    if (static_cast<i64>(f.rdx) < 0 || f.r10 > 5 /* POSIX_FADV_NOREUSE */) return -kEINVAL;
    return 0;
}

i64 sys_umask(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    u32 old = l->umask;
    l->umask = static_cast<u32>(f.rdi) & 0777;
    return old;
}

i64 sys_getcwd(arch::TrapFrame& f) {
    PathBuffer path;
    if (!path.text) return -kENOMEM;
    // From the FS: follows renames above the cwd and has symlinks resolved, as Linux's.
    NodeRef cwd;
    cwd.node = cwd_ref(*current_linux());
    if (!cwd.node) return -kENOENT;
    i64 n = fsc::path_of(cwd.node, path.text, min<usize>(fs::kPathMax, f.rsi));
    if (n < 0) return n;
    return arch::copy_to_user(f.rdi, path.text, static_cast<usize>(n) + 1) ? n + 1 : -kEFAULT;
}

namespace {
i64 change_dir(fs::Node* node) {
    if (fsc::node_type(node) != fs::NodeType::Directory) return -kENOTDIR;
    if (i64 r = fsc::access_node(node, fs::kAccessExecute, creds()); r < 0) return r;
    char absolute[kNameRoom];
    if (fsc::path_of(node, absolute, sizeof(absolute)) < 0) memcpy(absolute, "/", 2);  // (for /proc only)
    fsc::node_ref(node);
    replace_cwd(*current_linux(), node, absolute);
    return 0;
}
}  // namespace

i64 sys_chdir(arch::TrapFrame& f) {
    PathBuffer path;
    if (i64 r = copy_path(f.rdi, path); r < 0) return r;
    NodeRef dir, node;
    if (i64 r = start_dir(kAtFdcwd, path.text, &dir.node); r < 0) return r;
    if (i64 r = fsc::lookup(dir.node, path.text, true, creds(), &node.node); r < 0) return r;
    return change_dir(node.node);
}

i64 sys_fchdir(arch::TrapFrame& f) {
    FileRef of(f.rdi);
    if (!of) return -kEBADF;
    return change_dir(of->node);
}

i64 sys_pipe2_impl(u64 user_fds, u64 flags) {
    if (flags & ~u64{flag::kCloseOnExec | flag::kNonBlock | 040000 /* O_DIRECT */}) return -kEINVAL;
    fs::Node* node;
    if (i64 r = fsc::pipe_create(&node); r < 0) return r;
    u32 extra = static_cast<u32>(flags & flag::kNonBlock);
    fsc::node_ref(node);
    OpenFile* read_end = make_file(node, fs::NodeType::Fifo, flag::kReadOnly | extra, "pipe:");
    OpenFile* write_end = make_file(node, fs::NodeType::Fifo, flag::kWriteOnly | extra, "pipe:");
    if (!read_end || !write_end) {
        if (read_end) put_file(read_end); else fsc::close(node, flag::kReadOnly);
        if (write_end) put_file(write_end); else fsc::close(node, flag::kWriteOnly);
        return -kENOMEM;
    }
    bool cloexec = flags & flag::kCloseOnExec;
    i64 r = install(read_end, cloexec);
    if (r < 0) {
        put_file(write_end);
        return r;
    }
    i64 w = install(write_end, cloexec);
    if (w < 0) {
        arch::TrapFrame close_frame{};
        close_frame.rdi = static_cast<u64>(r);
        (void)sys_close(close_frame);
        return w;
    }
    i32 fds[2] = {static_cast<i32>(r), static_cast<i32>(w)};
    if (!UserOut<i32>(user_fds).write_array(fds, 2)) {
        arch::TrapFrame close_frame{};
        close_frame.rdi = static_cast<u64>(r);
        (void)sys_close(close_frame);
        close_frame.rdi = static_cast<u64>(w);
        (void)sys_close(close_frame);
        return -kEFAULT;
    }
    return 0;
}
i64 sys_pipe(arch::TrapFrame& f) { return sys_pipe2_impl(f.rdi, 0); }
i64 sys_pipe2(arch::TrapFrame& f) { return sys_pipe2_impl(f.rdi, f.rsi); }

i64 sys_sendfile(arch::TrapFrame& f) {
    FileRef out(f.rdi), in(f.rsi);
    if (!out || !in) return -kEBADF;
    if (in->epoll || out->epoll) return -kEINVAL;
    if (!readable(*in.get()) || !writable(*out.get())) return -kEBADF;
    u64 offset_value = 0;
    u64* offset = &in->offset;
    if (f.rdx) {
        if (!UserIn<u64>(f.rdx).read(&offset_value)) return -kEFAULT;
        offset = &offset_value;
    }
    usize chunk = min<usize>(f.r10, kBounce);
    if (chunk == 0) return 0;
    auto* buffer = static_cast<u8*>(kmalloc(chunk));
    if (!buffer) return -kENOMEM;
    u64 done = 0;
    i64 result = 0;
    while (done < f.r10) {
        i64 n = fsc::read(in->node, offset, buffer, min<usize>(chunk, f.r10 - done), in->flags);
        if (n <= 0) {
            result = n;
            break;
        }
        i64 w = fsc::write(out->node, &out->offset, buffer, static_cast<usize>(n), out->flags);
        if (w < 0) {
            result = w;
            break;
        }
        done += static_cast<u64>(w);
        if (w < n || in->type != fs::NodeType::Regular) break;
    }
    kfree(buffer);
    if (f.rdx && !UserOut<u64>(f.rdx).write(offset_value)) return -kEFAULT;
    return done ? static_cast<i64>(done) : restartable(result);
}

}  // namespace kernel::shim

namespace kernel::shim {

namespace {
// Whether /proc/mounts lists `type` mounted at `path` already.
bool mounted_at(const char* type, const char* path) {
    PathBuffer table;
    if (!table.text) return false;
    usize n = fsc::mounts_text(table.text, fs::kPathMax - 1);
    table.text[min<usize>(n, fs::kPathMax - 1)] = 0;
    char line[512];
    snformat(line, sizeof(line), "%s %s %s ", type, path, type);
    usize want = strlen(line);
    for (const char* at = table.text; *at;) {
        if (strncmp(at, line, want) == 0) return true;
        while (*at && *at != '\n') ++at;
        if (*at) ++at;
    }
    return false;
}
}  // namespace

// mount(2) for the memory file systems: tmpfs, proc, devtmpfs. /proc and /dev are mounted
// at boot; mounting the same type there again succeeds without a second copy (Linux would
// stack an identical one), so a Linux /init runs unchanged.
i64 sys_mount(arch::TrapFrame& f) {
    PathBuffer target, type;
    if (i64 r = copy_path(f.rsi, target); r < 0) return r;
    if (!f.rdx) return -kEINVAL;  // remounts and bind mounts: not yet
    if (i64 r = copy_path(f.rdx, type); r < 0) return r == -kENOENT ? -kENODEV : r;
    char absolute[kNameRoom];
    absolute_path(current_linux()->cwd_path, target.text, absolute, sizeof(absolute));
    i64 r;
    if (strcmp(type.text, "tmpfs") == 0)
        r = fsc::mount_tmpfs(absolute);
    else if (strcmp(type.text, "proc") == 0)
        r = fsc::mount_procfs(absolute, kProcProvider);
    else if (strcmp(type.text, "devtmpfs") == 0)
        r = fsc::mount_devfs(absolute);
    else
        return -kENODEV;
    if (r == -kEBUSY && mounted_at(type.text, absolute)) return 0;
    return r;
}

}  // namespace kernel::shim
