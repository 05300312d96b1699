// Linux memory: the kernel's side of the memory manager (DESIGN §1, paper §4.5).
//
// The layout of each address space — which ranges exist, with what protection, where mmap
// puts them, how far brk goes — is the memory manager's (services/memory/manager.hpp),
// wherever the manifest placed it (mm_client.hpp). It writes each process's VSpace, a
// co-managed object this file reads without calling anyone; a change is a call to the
// manager under the process's vm_writer, after which this file brings the page tables in
// line with the new layout under vm_lock (a fault that raced with the change is undone
// there).
//
// Faults (paper §4.5). The kernel serves the common one alone, without a call: a first
// touch of private anonymous memory maps the shared zero page (a read) or a pre-zeroed
// PCache page logged in the OPLog (a write), on the kernel's mechanism (kernel/mm/
// user_pages: share counts, the zero page, the PCache and the OPLog). Every other fault —
// a file page, copy on write, a write to shared memory, an empty PCache — asks the manager
// on the faulting thread what it means (manager.hpp's fault) and carries the answer out
// after checking it against the VSpace and the page tables; the page-cache policy
// (fault-around, a copy or the FS's page) and the PCache refill on that path are the
// manager's. Where no call can be made (interrupts off) the linked-in copy of the
// manager's code answers.
//
// Anonymous memory is mapped when first touched: reads map the shared zero page, writes a
// PCache page; fork shares every private page read-only and copies it on the first write.
// MAP_SHARED anonymous memory is populated when mapped.
//
// File mappings (and exec's segments) are ranges naming a file and are filled on first
// touch from the FS's page cache. With the shared page cache (the default; the FS and the
// memory manager coalesced) the fault maps the FS's own page: shared mappings write into
// it, private ones map it read-only and copy it on their first write. With
// `mm.page_cache=separate` the memory manager keeps its own copies of the file pages it
// maps privately, in a cache of its own beside the FS's (the separated design's double
// bookkeeping, kept for measurement: Table 3 of the paper; see KeptCopy); shared mappings
// use the FS's page in both modes, as they must.

#include "arch/smp.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "fs/vfs.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "memory/manager.hpp"
#include "shim/fd_table.hpp"
#include "shim/fs_client.hpp"
#include "shim/linux.hpp"
#include "shim/mm_client.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {

using namespace linux_errno;

// A file mapped into an address space: one FS node reference, held by the process's file
// table (its ranges name it by handle) and by faults reading a page of it. The FS must
// never be called with vm_lock held, so the last reference does not drop the node at once:
// it queues the file, and the memory calls drop queued files once they hold no lock
// (drop_unmapped_files).
struct MappedFile {
    u32 refs = 0;
    fs::Node* node = nullptr;
    MappedFile* next_dead = nullptr;
    // The version mapped: the file's ctime when it was mapped, and a key for it that the
    // memory manager files its copies under (separate caches only).
    u64 ctime_ns = 0;
    u32 copy_key = 0;
};

namespace {

using memory::Range;
using memory::VmaKind;

// The memory manager's copies of file pages, with separate caches: slot n of its cache
// (manager.hpp, copy_slot) holds a copy of page `index` of `node` as it was at `ctime_ns`,
// the version a mapping made then maps. The manager picks the slot and says whether the
// copy is there; the kernel keeps the page (the slot's hold on it) and maps it only for a
// mapping of that same version and page, so a wrong answer costs a copy, never another
// file's data. `node` is compared, never followed: a node freed and made again has another
// ctime. A later write to the file makes a new version, which new mappings map. A kept
// copy does not show later changes (MAP_PRIVATE leaves them unspecified; Linux shows them
// in the pages a mapping has not copied yet).
struct KeptCopy {
    const fs::Node* node;
    u64 ctime_ns, index;
    u64 frame;  // 0: empty
};
SpinLock g_kept_lock;
KeptCopy g_kept[memory::kCopySlots] TA_GUARDED(g_kept_lock);

SpinLock g_dead_files_lock;
MappedFile* g_dead_files TA_GUARDED(g_dead_files_lock) = nullptr;

// Who the OPLog records a page for from now on: the process's slot and the generation the
// manager gave its VSpace (after exec's reset and fork's copy).
void set_oplog_owner(LinuxProcess& l) {
    l.oplog_owner = memory::record_owner(l.pm_slot, __atomic_load_n(&l.vspace->generation, __ATOMIC_RELAXED));
}

// The version of the file `m` maps: its ctime when mapped, and the key the manager files
// its copies under (KeptCopy).
void set_version(MappedFile& m, u64 ctime_ns) {
    m.ctime_ns = ctime_ns;
    u64 mixed = reinterpret_cast<u64>(m.node) * 0x9e3779b97f4a7c15ull ^ ctime_ns * 0xc2b2ae3d27d4eb4full;
    m.copy_key = static_cast<u32>(mixed >> 32) | 1;  // (0 is none)
}

void mapped_file_ref(void* file) { __atomic_fetch_add(&static_cast<MappedFile*>(file)->refs, 1, __ATOMIC_RELAXED); }

void mapped_file_unref(void* file) {
    auto* f = static_cast<MappedFile*>(file);
    if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    IrqSpinLockGuard guard(g_dead_files_lock);
    f->next_dead = g_dead_files;
    g_dead_files = f;
}

bool g_shared_page_cache = true;  // mm.page_cache=separate turns it off (see the top)
bool g_parallel_fork = true;       // mm.parallel_fork=0 turns it off (fork_pages_locked)
usize g_total_pages = ~usize{0};   // the machine's memory in pages (for overcommit checks), set once

// Mappable user addresses for mmap without MAP_FIXED (the manager places ranges there):
// above the program and below the kernel-managed window (IPC buffers).
static_assert(memory::kMmapFloor == AddressSpace::kDynamicBase && memory::kMmapCeiling == AddressSpace::kKernelWindowBase);
constexpr uptr kMmapFloor = memory::kMmapFloor;
constexpr uptr kMmapCeiling = memory::kMmapCeiling;

// PROT_NONE pages stay mapped but without the user bit: user accesses fault with the
// present bit set (SEGV_ACCERR, as Linux reports them).
u32 page_flags(u64 prot) {
    if ((prot & (kProtRead | kProtWrite | kProtExec)) == 0) return 0;
    return arch::kPageUser | (prot & kProtWrite ? arch::kPageWrite : 0) | (prot & kProtExec ? arch::kPageExecute : 0);
}

// Other CPUs can hold translations of the calling process only when another of its threads
// runs there (without PCIDs every address-space switch flushes). Shootdowns wait for every
// CPU to answer an IPI, so they are never sent with interrupts off or a spinlock held
// (two CPUs doing that would wait for each other forever).
bool other_threads(LinuxProcess& l) { return __atomic_load_n(&l.live_threads, __ATOMIC_RELAXED) > 1; }

// Applies `prot` to the present pages of [va, va + pages): shared and zero pages stay
// read-only whatever `prot` says (their first write copies them).
// Only the present pages are visited: a large reservation costs what is mapped in it.
void protect_present(AddressSpace& space, uptr va, usize pages, u64 prot) {
    struct Protect {
        arch::PageTable table;
        u32 flags;
    } p{arch::PageTable(space.root()), page_flags(prot)};
    arch::for_each_user_page_in(space.root(), va, va + pages * arch::kPageSize,
                                {&p, [](void* raw, uptr at, u64 phys, u32) {
        auto* p = static_cast<Protect*>(raw);
        u32 these = p->flags;
        if ((these & arch::kPageWrite) && mm::user_page_shared(phys)) these &= ~arch::kPageWrite;
        (void)p->table.protect(at, these);
    }});
}

// Whose ranges describe the calling process's memory: its own, or — for a vfork child
// still running in its parent's address space — the parent's.
LinuxProcess* memory_owner(LinuxProcess* l) {
    if (!l->vspace && l->vfork_parent) return l->vfork_parent;
    return l;
}

// The ranges of a VSpace, read directly: with vm_writer held no change is under way; without
// it (the OOM killer) what is read is an estimate. Either way nothing read is trusted: the
// count is clamped and a range that is not a page-aligned user range is skipped.
usize range_count(const memory::VSpace& vs) { return min<usize>(vs.count, memory::kMaxRanges); }
bool sane(const Range& r) {
    return r.start < r.end && r.end <= arch::kUserTop && is_aligned<u64>(r.start | r.end, arch::kPageSize);
}

// --- the file table: what the handles in a process's ranges name -------------------------

MappedFile* file_of(const LinuxProcess& l, u32 handle) TA_REQ(l.vm_lock) {
    return handle != memory::kNoFile && handle <= l.mapped_file_capacity ? l.mapped_files[handle - 1] : nullptr;
}

// The handle of `file` in the owner's table, which takes a reference of its own (an entry
// for the same node is reused); kNoFile when out of memory. Under vm_writer.
u32 add_file(LinuxProcess& l, MappedFile* file) {
    u32 free_slot = ~0u;
    for (u32 i = 0; i < l.mapped_file_capacity; ++i) {
        if (l.mapped_files[i] && l.mapped_files[i]->node == file->node) return i + 1;
        if (!l.mapped_files[i] && free_slot == ~0u) free_slot = i;
    }
    if (free_slot == ~0u) {
        u32 capacity = l.mapped_file_capacity ? l.mapped_file_capacity * 2 : 8;
        auto** grown = static_cast<MappedFile**>(kmalloc(capacity * sizeof(MappedFile*)));
        if (!grown) return memory::kNoFile;
        memset(grown, 0, capacity * sizeof(MappedFile*));
        MappedFile** old;
        {
            IrqSpinLockGuard guard(l.vm_lock);  // (the fault path reads the table under it)
            if (l.mapped_file_capacity) memcpy(grown, l.mapped_files, l.mapped_file_capacity * sizeof(MappedFile*));
            old = l.mapped_files;
            free_slot = l.mapped_file_capacity;
            l.mapped_files = grown;
            l.mapped_file_capacity = capacity;
        }
        kfree(old);
    }
    mapped_file_ref(file);
    IrqSpinLockGuard guard(l.vm_lock);
    l.mapped_files[free_slot] = file;
    return free_slot + 1;
}

// Lets go of the files no range names any more. Under vm_writer; the nodes go at the next
// drop_unmapped_files.
void sweep_files(LinuxProcess& l) {
    if (!l.mapped_file_capacity) return;
    constexpr u32 kTracked = 1024;  // handles beyond are kept (a process with that many files)
    u64 named[kTracked / 64] = {};
    const memory::VSpace& vs = *l.vspace;
    for (usize i = 0; i < range_count(vs); ++i) {
        u32 handle = vs.ranges[i].file;
        if (handle != memory::kNoFile && handle <= kTracked) named[(handle - 1) / 64] |= u64{1} << ((handle - 1) % 64);
    }
    for (u32 i = 0; i < l.mapped_file_capacity && i < kTracked; ++i) {
        if (!l.mapped_files[i] || (named[i / 64] & (u64{1} << (i % 64)))) continue;
        MappedFile* gone;
        {
            IrqSpinLockGuard guard(l.vm_lock);
            gone = l.mapped_files[i];
            l.mapped_files[i] = nullptr;
        }
        mapped_file_unref(gone);
    }
}

void release_files(LinuxProcess& l) {
    MappedFile** files;
    u32 capacity;
    {
        IrqSpinLockGuard guard(l.vm_lock);
        files = l.mapped_files;
        capacity = l.mapped_file_capacity;
        l.mapped_files = nullptr;
        l.mapped_file_capacity = 0;
    }
    for (u32 i = 0; i < capacity; ++i)
        if (files[i]) mapped_file_unref(files[i]);
    kfree(files);
}

// Fork: the child's table is the parent's, with references of its own. Under the parent's
// vm_writer.
bool copy_files(LinuxProcess& parent, LinuxProcess& child) {
    if (!parent.mapped_file_capacity) return true;
    auto** files = static_cast<MappedFile**>(kmalloc(parent.mapped_file_capacity * sizeof(MappedFile*)));
    if (!files) return false;
    for (u32 i = 0; i < parent.mapped_file_capacity; ++i) {
        files[i] = parent.mapped_files[i];
        if (files[i]) mapped_file_ref(files[i]);
    }
    child.mapped_files = files;
    child.mapped_file_capacity = parent.mapped_file_capacity;
    return true;
}

// The range holding `address`, for a syscall that can wait for the manager (vm_writer not
// held by the caller); false when there is none.
bool find_range(LinuxProcess& l, u64 address, Range* out) {
    for (;;) {
        memory::Lookup found;
        {
            IrqSpinLockGuard guard(l.vm_lock);
            found = memory::lookup(*l.vspace, address, out);
        }
        if (found != memory::Lookup::kBusy) return found == memory::Lookup::kFound;
        l.vm_writer.lock();  // the manager is writing: wait for the change to end
        l.vm_writer.unlock();
    }
}

}  // namespace

MemoryUsage memory_usage(LinuxProcess& p) {
    // Counted when asked, by walking the page tables under the ranges (for /proc and the
    // OOM killer; nothing is counted on the fault path). A vfork child uses its parent's.
    LinuxProcess& owner = !p.vspace && p.vfork_parent ? *p.vfork_parent : p;
    MemoryUsage usage;
    if (!owner.vspace || !owner.process) return usage;
    IrqSpinLockGuard guard(owner.vm_lock);
    const memory::VSpace& vs = *owner.vspace;
    for (usize i = 0; i < range_count(vs); ++i) {
        Range v = vs.ranges[i];
        if (!sane(v)) continue;
        usage.mapped_bytes += v.end - v.start;
        arch::for_each_user_page_in(owner.process->address_space().root(), v.start, v.end,
                                    {&usage.resident_pages, [](void* raw, uptr, u64, u32 flags) {
            if (flags & arch::kPageOwned) ++*static_cast<u64*>(raw);  // not the shared zero page
        }});
    }
    return usage;
}

namespace {
[[gnu::noinline]] void drop_dead_files() {
    MappedFile* dead;
    {
        IrqSpinLockGuard guard(g_dead_files_lock);
        dead = g_dead_files;
        g_dead_files = nullptr;
    }
    while (dead) {
        MappedFile* next = dead->next_dead;
        fsc::node_unref(dead->node);
        kdelete(dead);
        dead = next;
    }
}
}  // namespace

void drop_unmapped_files() {
    if (__atomic_load_n(&g_dead_files, __ATOMIC_RELAXED)) drop_dead_files();
}

void memory_configure() {
    g_total_pages = mm::physical_stats().total_pages;
    if (kernel_command_line().get("mm.parallel_fork") == StringView("0")) {
        g_parallel_fork = false;
        LOG_INFO("mm: fork copies page tables on one CPU (mm.parallel_fork=0)");
    }
    if (kernel_command_line().get("mm.page_cache") == StringView("separate")) {
        g_shared_page_cache = false;
        LOG_INFO("mm: separate page caches (mm.page_cache=separate): the memory manager maps copies of private file "
                 "pages from a cache of its own");
    }
}

bool segments_mappable(const loader::ElfImage& image) {
    u64 previous_end = 0;
    for (usize i = 0; i < image.segment_count; ++i) {
        const loader::ElfSegment& s = image.segments[i];
        if (s.vaddr % arch::kPageSize != s.offset % arch::kPageSize) return false;
        if (align_down<u64>(s.vaddr, arch::kPageSize) < previous_end) return false;  // shares a page
        previous_end = align_up<u64>(s.vaddr + s.memsz, arch::kPageSize);
    }
    return true;
}

namespace {
u32 segment_prot(const loader::ElfSegment& s) {
    return kProtRead | (s.write ? kProtWrite : 0) | (s.execute ? kProtExec : 0);
}

bool map_fixed(LinuxProcess& l, uptr start, uptr end, u32 prot, u32 file = memory::kNoFile, u64 offset = 0) {
    return mmc::map(l.pm_slot, start, end - start, memory::map_attributes(prot, VmaKind::Private, true, file), offset,
                    memory::kUnlimited) >= 0;
}

// Exec's ranges for one segment mapped from file `handle`: the whole pages of file bytes
// map the file; a page where the file bytes end and zeroes (.bss) begin is filled now (it
// differs from the file); the rest of .bss is anonymous.
bool map_segment_from_file(LinuxProcess& l, AddressSpace& space, const loader::ElfSegment& s, uptr bias, u32 handle,
                           const u8* data) {
    u32 prot = segment_prot(s);
    uptr start = align_down<uptr>(bias + s.vaddr, arch::kPageSize);
    uptr file_end = bias + s.vaddr + s.filesz;
    uptr end = align_up<uptr>(bias + s.vaddr + s.memsz, arch::kPageSize);
    bool partial = s.memsz > s.filesz && file_end % arch::kPageSize != 0;
    uptr file_pages_end = partial ? align_down<uptr>(file_end, arch::kPageSize) : align_up<uptr>(file_end, arch::kPageSize);
    u64 offset = align_down<u64>(s.offset, arch::kPageSize);
    if (file_pages_end > start && !map_fixed(l, start, file_pages_end, prot, handle, offset)) return false;
    uptr anonymous = max(start, file_pages_end);
    if (partial) {
        IrqSpinLockGuard guard(l.vm_lock);
        if (!space.map_anonymous(anonymous, 1, page_flags(prot)).ok()) return false;
        uptr from = max<uptr>(anonymous, bias + s.vaddr);
        if (!space.write(from, data + s.offset + (from - (bias + s.vaddr)), file_end - from).ok()) return false;
    }
    return anonymous >= end || map_fixed(l, anonymous, end, prot);
}
}  // namespace

bool setup_linux_memory(LinuxProcess& l, const loader::ElfImage& image, const LinuxEntry& entry, fs::Node* file,
                        const u8* data) {
    // Exec gives the process a VSpace of its own (a vfork child ran on its parent's).
    if (!l.vspace) l.vspace = mmc::vspace(l.pm_slot);
    if (!l.vspace) return false;
    MappedFile* mapped = nullptr;
    if (file) {
        mapped = knew<MappedFile>();
        if (!mapped) return false;
        fsc::node_ref(file);
        mapped->node = file;
        fs::Stat st;  // (the version matters only to the manager's own copies)
        if (!g_shared_page_cache && fsc::stat(file, &st) >= 0) set_version(*mapped, st.ctime_ns);
        mapped_file_ref(mapped);  // ours, while the ranges are made
    }
    l.vm_writer.lock();
    bool ok = mmc::reset(l.pm_slot, entry.brk_start) >= 0;
    set_oplog_owner(l);
    sweep_files(l);  // the old image's
    u32 handle = ok && mapped ? add_file(l, mapped) : memory::kNoFile;
    ok = ok && (!mapped || handle != memory::kNoFile);
    l.image_start = ~uptr{0};
    l.image_end = 0;
    AddressSpace& space = l.process->address_space();
    for (usize i = 0; i < image.segment_count && ok; ++i) {
        const loader::ElfSegment& s = image.segments[i];
        uptr start = align_down<uptr>(entry.bias + s.vaddr, arch::kPageSize);
        uptr end = align_up<uptr>(entry.bias + s.vaddr + s.memsz, arch::kPageSize);
        l.image_start = min(l.image_start, start);
        l.image_end = max(l.image_end, end);
        if (mapped) {
            ok = map_segment_from_file(l, space, s, entry.bias, handle, data);
            continue;
        }
        // Copied in by the loader. Two segments may share a boundary page; it gets both
        // permissions (the loader maps it so).
        u32 prot = segment_prot(s);
        Range previous;
        if (memory::lookup(*l.vspace, start, &previous) == memory::Lookup::kFound) prot |= previous.prot;
        ok = map_fixed(l, start, end, prot);
    }
    // The stack may grow to 8 MiB (RLIMIT_STACK); the loader mapped its top.
    ok = ok && map_fixed(l, entry.stack_top - kLinuxStackLimit, entry.stack_top, kProtRead | kProtWrite);
    l.stack_top = entry.stack_top;
    l.vm_writer.unlock();
    if (mapped) mapped_file_unref(mapped);
    drop_unmapped_files();
    return ok;
}

namespace {
// What the faulting access was, in one register: a write, an instruction fetch; whether
// the context may sleep and interrupt other CPUs (interrupts were on); whether the CPU
// found no page there.
struct Access {
    bool write, execute, may_flush_others, not_present;
};

// How far a fault got. Busy: the memory manager is changing the layout; the fault waits
// for the change and looks again. AskManager: not the fast path; the manager says what it
// means. Again: an answer that the layout or the page tables overtook; look again.
enum class Resolved : u8 { No, Yes, YesFlushOthers, BeyondFile, OutOfMemory, Busy, AskManager, Again };

// What a fault in a file range needs from the FS, as the manager's answer and the range
// say: page `index` of `file`, and for a read fault the neighbours to map with it if the
// page cache has them (fault-around): pages [around_first, around_first + around_count) of
// the file at addresses from around_va. `copy`: the process gets its own copy of the page.
struct FileFault {
    MappedFile* file;  // a reference, taken under vm_lock
    u32 handle;        // the range's name for it
    bool copy;
    bool kept;        // the manager says its copy is in copy_slot
    usize copy_slot;  // a slot of the manager's copies (kCopySlots: none)
    u64 index;
    u64 around_first;
    usize around_count;
    uptr around_va;
};
using memory::kFaultAround;
constexpr usize kReclaimBatch = 64;  // page-cache pages dropped per reclaim under pressure
usize drop_kept_copies(usize pages);

Resolved resolve_fast_locked(LinuxProcess* l, AddressSpace& space, uptr address, Access a, u64* state)
    TA_REQ(l->vm_lock);
[[gnu::noinline]] Resolved not_fast_locked(arch::PageSlot& pte, bool write, bool execute, bool not_present,
                                           u64* state);
Resolved install_file_page_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write,
                                  const FileFault& need, u64 phys) TA_REQ(l->vm_lock);

// Maps the cached neighbours of a read fault (each a reference this consumes; when the
// fault itself was not resolved, they are only let go).
void map_around(LinuxProcess* l, AddressSpace& space, const FileFault& need, u8* const* pages, bool resolved) {
    if (!need.around_count) return;
    IrqSpinLockGuard guard(l->vm_lock);
    for (usize i = 0; i < need.around_count; ++i) {
        if (!pages[i]) continue;
        u64 phys = fsc::page_phys(pages[i]);
        uptr va = need.around_va + i * arch::kPageSize;
        FileFault one = need;
        one.index = need.around_first + i;
        if (!resolved || one.index == need.index) {
            mm::user_page_release(phys);  // (the faulting page itself is mapped already)
            continue;
        }
        (void)install_file_page_locked(l, space, va, false, one, phys);  // maps it or lets it go
    }
}
}  // namespace

namespace {
Resolved resolve_once(LinuxProcess* l, AddressSpace& space, uptr address, Access a);
// The uncommon ends of a fault, out of line so that the common one (an anonymous page)
// does not pay for their stack frames.
[[gnu::noinline]] Resolved ask_manager(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                                       bool may_flush_others, u64 state);
[[gnu::noinline]] bool resolve_user_fault_rest(LinuxProcess* l, AddressSpace& space, uptr address, Access a,
                                               Resolved r);

// The OOM killer (Linux's, simplified): the Linux process with the most resident pages of
// its own — init only when nobody else is left — gets SIGKILL, so that the rest of the
// system keeps running.
void oom_kill(LinuxProcess* faulting) {
    IrqSpinLockGuard guard(g_linux_lock);
    LinuxProcess* victim = nullptr;
    u64 most = 0;
    for (LinuxProcess* p : g_linux_processes) {
        if (p->exited || p->exiting) continue;
        if (p->pending & signal_bit(kSigKill)) return;  // a kill is on its way already: wait for it
        if (p->pid == 1) continue;  // never init, as in Linux
        u64 pages = memory_usage(*p).resident_pages + 1;
        if (pages > most) {
            most = pages;
            victim = p;
        }
    }
    if (!victim) return;
    LOG_WARN("mm: out of memory (a fault or mmap of pid %u): killing pid %u (%s), %llu resident pages", faulting->pid,
             victim->pid, victim->process->name(), (unsigned long long)most);
    send_signal(*victim, kSigKill, 0, kSiKernel);
}

// Memory ran out for the calling Linux process (a fault's page, or the kernel memory an
// mmap's range needs): reclaim drops clean page-cache pages first (§4.5: page cache
// first); when there are none left, the OOM killer frees some. True when trying again may
// succeed; false when no sleep is possible here (reclaim calls the FS, which may sleep
// too), after 20 kills, or when this process is the one killed (it dies on its way out).
bool relieve_memory_pressure(bool may_sleep, int* kills) {
    if (!may_sleep) return false;
    if (drop_kept_copies(kReclaimBatch) > 0 || fsc::reclaim_pages(kReclaimBatch) > 0) return true;
    if (++*kills > 20) return false;
    oom_kill(current_linux());
    if (kill_pending(*current_linux())) return false;
    sleep_ns(10 * kNsPerMs);  // for the victim to exit and give its pages back
    return true;
}
}  // namespace

bool resolve_user_fault(uptr address, bool write, bool execute, bool interrupts_on, bool not_present) {
    Thread* t = current_thread();
    UserContext* u = t->user;
    if (!u || !arch::is_user_address(address)) return false;
    LinuxProcess* l = u->home->linux_state();
    if (!l || u->depth) return false;
    l = memory_owner(l);
    if (!l->vspace) return false;
    AddressSpace& space = u->home->address_space();
    Access a{write, execute, interrupts_on, not_present};
    Resolved r = resolve_once(l, space, address, a);
    if (r == Resolved::Yes) return true;  // the common case, kept free of the rest's stack frame
    return resolve_user_fault_rest(l, space, address, a, r);
}

namespace {
bool resolve_user_fault_rest(LinuxProcess* l, AddressSpace& space, uptr address, Access a, Resolved r) {
    // The manager is changing the layout (the kernel never waits for it under a spinlock):
    // wait for the change outside them, then look again. Not from a context that cannot
    // sleep, nor from inside a change of our own.
    for (int waits = 0; r == Resolved::Busy && a.may_flush_others && !l->vm_writer.held() && waits < 1000; ++waits) {
        l->vm_writer.lock();
        l->vm_writer.unlock();
        r = resolve_once(l, space, address, a);
    }
    // Out of memory: make room and try the fault again.
    int kills = 0;
    while (r == Resolved::OutOfMemory && relieve_memory_pressure(a.may_flush_others, &kills))
        r = resolve_once(l, space, address, a);
    if (r == Resolved::BeyondFile) {
        __atomic_store_n(&current_linux()->bus_error_address, address, __ATOMIC_RELAXED);  // SIGBUS (raise_fault_signal)
        return false;
    }
    if (r == Resolved::YesFlushOthers) arch::tlb_shootdown(align_down<uptr>(address, arch::kPageSize), 1);
    return r == Resolved::Yes || r == Resolved::YesFlushOthers;
}

// One attempt at a fault: the fast path in the kernel, else the manager's answer carried
// out. An answer that a change overtook is asked for again, a few times.
Resolved resolve_once(LinuxProcess* l, AddressSpace& space, uptr address, Access a) {
    for (int attempt = 0; attempt < 4; ++attempt) {
        u64 state = 0;
        Resolved r;
        {
            IrqSpinLockGuard guard(l->vm_lock);
            r = resolve_fast_locked(l, space, address, a, &state);
        }
        if (r == Resolved::AskManager) r = ask_manager(l, space, address, a.write, a.execute, a.may_flush_others, state);
        if (r != Resolved::Again) return r;
    }
    // The answers never fitted what the kernel found: a manager that is wrong about the
    // layout it keeps. The process gets SIGSEGV; nothing is mapped on its word.
    LOG_WARN("mm: the memory manager's answers for a fault at %llx in pid %u do not fit its VSpace: SIGSEGV",
             static_cast<unsigned long long>(address), l->pid);
    return Resolved::No;
}

// The kernel's own part, under vm_lock: the layout as the manager left it, read without a
// call (vspace.hpp) and checked; a never-touched page of private anonymous memory is
// served here — reads map the shared zero page, writes a pre-zeroed page from the PCache
// logged in the OPLog (paper §4.5: no call leaves the kernel). Everything else asks the
// manager, with what the kernel found in *state.
Resolved resolve_fast_locked(LinuxProcess* l, AddressSpace& space, uptr address, Access a, u64* state) {
    bool write = a.write, execute = a.execute;
    uptr va = align_down<uptr>(address, arch::kPageSize);
    Range range;
    memory::Lookup found = memory::lookup(*l->vspace, va, &range, &l->range_hint);
    if (found != memory::Lookup::kFound) [[unlikely]]
        return found == memory::Lookup::kBusy ? Resolved::Busy : Resolved::No;
    const Range* v = &range;
    if (v->prot == 0) return Resolved::No;
    if ((write && !(v->prot & kProtWrite)) || (execute && !(v->prot & kProtExec))) return Resolved::No;
    arch::PageTable table(space.root());
    Result<arch::PageSlot> slot = table.slot(va);  // one walk to test and, below, to fill
    if (!slot.ok()) return slot.error() == Error::NoMemory ? Resolved::OutOfMemory : Resolved::No;
    bool present = slot.value().present();
    if (!present && v->file == memory::kNoFile && v->kind == VmaKind::Private && mm::kernel_paging()) [[likely]] {
        u32 flags = page_flags(v->prot);
        if (!write) {
            slot.value().fill(mm::zero_page(), flags & ~arch::kPageWrite);
            return Resolved::Yes;
        }
        if (u64 page = mm::take_pcache_page(l->process->memory_account(), va, l->oplog_owner)) {
            slot.value().fill(page, flags | arch::kPageOwned);
            return Resolved::Yes;  // a new translation: nothing to flush anywhere
        }
        *state = memory::kFaultPCacheEmpty;  // the slow path, where the manager refills it
    }
    if (!g_shared_page_cache && v->file != memory::kNoFile) [[unlikely]]
        if (MappedFile* f = file_of(*l, v->file)) *state |= u64{f->copy_key} << 32;  // (see KeptCopy)
    return not_fast_locked(slot.value(), write, execute, a.not_present, state);
}

// What the fast path leaves: a fault another thread resolved meanwhile, a real protection
// fault, or one to ask the manager about, with *state filled in. Out of line, so that the
// fast path does not pay for its frame.
Resolved not_fast_locked(arch::PageSlot& pte, bool write, bool execute, bool not_present, u64* state) {
    bool present = pte.present();
    if (present) {
        // The CPU found no page, and another thread of the process mapped one before this
        // one got here: the access goes through when it is retried. (Only then: a fault on
        // a present page that looks right, say a kernel access without STAC, must fail.)
        // Else a read of a present page is a real protection fault (PROT_NONE is refused
        // above).
        if (not_present && pte.user() && (!write || pte.writable()) && (!execute || pte.executable()))
            return Resolved::Yes;
        if (!write) return Resolved::No;
    }
    *state |= (write ? memory::kFaultWrite : 0) | (execute ? memory::kFaultExecute : 0) |
              (g_shared_page_cache ? memory::kFaultSharedCache : 0);
    if (present)
        *state |= memory::kFaultPresent | (mm::user_page_shared(pte.phys()) ? memory::kFaultPageShared : 0);
    return Resolved::AskManager;
}

// The slow path (paper §4.5): the manager says what the fault means, on the faulting
// thread; the kernel checks the answer against what it finds now and carries it out. With
// interrupts off no call can be made: the linked-in copy of the manager's code answers;
// so it does when the manager is gone for good, so that the processes it laid out go on.
Resolved carry_out_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                          bool may_flush_others, u64 answer) TA_REQ(l->vm_lock);
Resolved file_fault(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool may_flush_others,
                    u64 answer);

Resolved ask_manager(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                     bool may_flush_others, u64 state) {
    uptr va = align_down<uptr>(address, arch::kPageSize);
    i64 answer = mmc::fault(l->pm_slot, va, state, may_flush_others);
    if (answer < 0) answer = mmc::fault(l->pm_slot, va, state, false);
    switch (memory::fault_kind(static_cast<u64>(answer))) {
    case memory::kFaultUnmapped:
    case memory::kFaultDenied: return Resolved::No;
    case memory::kFaultBusy: return Resolved::Busy;
    case memory::kFaultPastObject: return Resolved::BeyondFile;  // SIGBUS, as Linux past a shmem object
    case memory::kFaultFilePage: return file_fault(l, space, address, write, may_flush_others, answer);
    case memory::kFaultNewPage:
        if (memory::fault_refill(static_cast<u64>(answer)) && may_flush_others)
            mm::refill_pcache(memory::fault_refill(static_cast<u64>(answer)));
        [[fallthrough]];
    default: {
        IrqSpinLockGuard guard(l->vm_lock);
        return carry_out_locked(l, space, address, write, execute, may_flush_others, answer);
    }
    }
}

// Anything but a file page. Each answer is carried out only where it fits the range and
// the page as they are now; else Again.
Resolved carry_out_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                          bool may_flush_others, u64 answer) {
    uptr va = align_down<uptr>(address, arch::kPageSize);
    Range v;
    memory::Lookup found = memory::lookup(*l->vspace, va, &v, &l->range_hint);
    if (found == memory::Lookup::kBusy) return Resolved::Busy;
    if (found == memory::Lookup::kNone || v.prot == 0 || (write && !(v.prot & kProtWrite)) ||
        (execute && !(v.prot & kProtExec)))
        return Resolved::Again;  // (changed meanwhile: the fast path refuses it next time)
    arch::PageTable table(space.root());
    Result<arch::PageSlot> slot = table.slot(va);
    if (!slot.ok()) return slot.error() == Error::NoMemory ? Resolved::OutOfMemory : Resolved::No;
    u32 flags = page_flags(v.prot);
    bool present = slot.value().present();
    bool anonymous = v.file == memory::kNoFile;
    mm::MemoryAccount* account = l->process->memory_account();
    switch (memory::fault_kind(static_cast<u64>(answer))) {
    case memory::kFaultZeroPage:
        if (present || write || !anonymous || v.kind != VmaKind::Private) return Resolved::Again;
        slot.value().fill(mm::zero_page(), flags & ~arch::kPageWrite);
        return Resolved::Yes;
    case memory::kFaultNewPage: {
        if (present || !anonymous || (!write && v.kind == VmaKind::Private)) return Resolved::Again;
        Result<u64> page = mm::take_fault_page(account, va, l->oplog_owner);
        if (!page.ok()) return Resolved::OutOfMemory;
        slot.value().fill(page.value(), flags | arch::kPageOwned);
        return Resolved::Yes;
    }
    case memory::kFaultResolved:
        // Another thread mapped it: done if the entry allows the access now.
        if (!present) return Resolved::Again;
        return !write || slot.value().writable() ? Resolved::Yes : Resolved::Again;
    case memory::kFaultWriteInPlace: {
        if (!present || !write) return Resolved::Again;
        u64 phys = slot.value().phys();
        // Only MAP_SHARED memory, or a private page nobody else holds, is written in place.
        if (v.kind != VmaKind::Shared && (phys == mm::zero_page() || mm::user_page_shared(phys))) return Resolved::Again;
        if (!table.protect(va, flags | arch::kPageOwned).ok()) return Resolved::No;
        arch::flush_tlb_page(va);  // elsewhere a stale read-only entry only faults again
        return Resolved::Yes;
    }
    case memory::kFaultCopyPage: {
        if (!present || !write || v.kind != VmaKind::Private) return Resolved::Again;
        u64 phys = slot.value().phys();
        // Only a page someone else still holds is copied: another thread may have copied it
        // since the manager was asked, and writes into that copy now (copying it again
        // would lose them).
        if (phys != mm::zero_page() && !mm::user_page_shared(phys)) return Resolved::Again;
        // The page moves: other threads' CPUs must drop the old translation, which needs an
        // IPI; from a context with interrupts off (a kernel copy under a spinlock) give up.
        bool flush_others = other_threads(*l);
        if (flush_others && !may_flush_others) return Resolved::No;
        // Copy on write (or the first write after reads of the zero page).
        Result<u64> copy = phys == mm::zero_page() ? mm::take_fault_page(account, va, l->oplog_owner) : mm::alloc_page_phys();
        if (!copy.ok()) return Resolved::OutOfMemory;
        if (phys != mm::zero_page()) {
            mm::charge_page(copy.value(), account);
            memcpy(arch::phys_to_ptr<u8>(copy.value()), arch::phys_to_ptr<const u8>(phys), arch::kPageSize);
        }
        bool owned = false;
        (void)table.unmap(va, &owned);
        if (!table.map(va, copy.value(), flags | arch::kPageOwned).ok()) {
            mm::user_page_release(copy.value());
            return Resolved::No;
        }
        arch::flush_tlb_page(va);
        if (owned) mm::user_page_release(phys);
        return flush_others ? Resolved::YesFlushOthers : Resolved::Yes;
    }
    default: return Resolved::Again;  // not an answer this fault can have
    }
}

// The manager's copy of `need`'s page kept in its slot, with a hold for the caller: its
// frame, or 0 when the slot holds something else.
u64 kept_copy(const FileFault& need) {
    IrqSpinLockGuard guard(g_kept_lock);
    const KeptCopy& k = g_kept[need.copy_slot];
    if (!k.frame || k.node != need.file->node || k.ctime_ns != need.file->ctime_ns || k.index != need.index) return 0;
    mm::user_page_share(k.frame);
    return k.frame;
}

// A copy of the FS's page `phys` (the caller's hold, which this consumes) made for the
// process and kept in `need`'s slot in place of what the slot held: the copy, with a hold
// for the caller; or `phys` itself when there is no memory for a copy.
u64 keep_copy(LinuxProcess* l, const FileFault& need, u64 phys) {
    Result<u64> copy = mm::alloc_page_phys();
    if (!copy.ok()) return phys;
    mm::charge_page(copy.value(), l->process->memory_account());  // (its root caller)
    memcpy(arch::phys_to_ptr<u8>(copy.value()), arch::phys_to_ptr<const u8>(phys), arch::kPageSize);
    mm::user_page_release(phys);
    mm::user_page_share(copy.value());  // the slot's hold and the caller's
    u64 replaced;
    {
        IrqSpinLockGuard guard(g_kept_lock);
        KeptCopy& k = g_kept[need.copy_slot];
        replaced = k.frame;
        k = {need.file->node, need.file->ctime_ns, need.index, copy.value()};
    }
    if (replaced) mm::user_page_release(replaced);  // (still mapped wherever it was)
    return copy.value();
}

// Reclaim: up to `pages` of the manager's kept copies let go (it makes them again from the
// FS's pages); how many.
usize drop_kept_copies(usize pages) {
    usize dropped = 0;
    for (usize slot = 0; slot < memory::kCopySlots && dropped < pages; ++slot) {
        u64 frame;
        {
            IrqSpinLockGuard guard(g_kept_lock);
            frame = g_kept[slot].frame;
            g_kept[slot].frame = 0;
        }
        if (frame) {
            mm::user_page_release(frame);
            ++dropped;
        }
    }
    return dropped;
}

// A file page: the range and the answer say which and how (the window, a copy); the page
// comes from the FS, which is called without vm_lock, and only where no spinlock is held
// (interrupts on: the FS takes its lock; a kernel copy under a lock gets EFAULT).
Resolved file_fault(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool may_flush_others,
                    u64 answer) {
    uptr va = align_down<uptr>(address, arch::kPageSize);
    FileFault need{};
    {
        IrqSpinLockGuard guard(l->vm_lock);
        Range v;
        memory::Lookup found = memory::lookup(*l->vspace, va, &v, &l->range_hint);
        if (found == memory::Lookup::kBusy) return Resolved::Busy;
        if (found == memory::Lookup::kNone || v.file == memory::kNoFile) return Resolved::Again;
        // The window must lie in the range and hold the page; a private write is always a copy.
        u64 back = memory::fault_around_back(answer), count = memory::fault_around_count(answer);
        need.copy = v.kind == VmaKind::Private && (write || (answer & memory::kFaultCopyNow));
        if (count && !write && !need.copy && count <= kFaultAround && back < count &&
            va - back * arch::kPageSize >= v.start && va + (count - back) * arch::kPageSize <= v.end) {
            need.around_va = va - back * arch::kPageSize;
            need.around_first = (v.offset + (need.around_va - v.start)) / arch::kPageSize;
            need.around_count = count;
        }
        need.file = file_of(*l, v.file);
        if (!need.file) return Resolved::No;  // a handle the process never had
        mapped_file_ref(need.file);
        need.handle = v.file;
        need.index = (v.offset + (va - v.start)) / arch::kPageSize;
        bool cached = need.copy && !write && !g_shared_page_cache && (answer & memory::kFaultCopyCached) &&
                      memory::fault_copy_slot(answer) < memory::kCopySlots;
        need.copy_slot = cached ? memory::fault_copy_slot(answer) : memory::kCopySlots;
        need.kept = cached && (answer & memory::kFaultCopyKept);
    }
    Resolved r;
    u8* page = nullptr;
    u8* around[kFaultAround];
    // The manager's kept copy, if the kernel's record agrees: no call to the FS.
    u64 kept = need.kept ? kept_copy(need) : 0;
    i64 got = kept || !may_flush_others ? -kEFAULT
                                        : fsc::file_page_around(need.file->node, need.index, need.around_first,
                                                                need.around_count, &page, around);
    if (kept || got == 0) {
        // A kept copy is mapped as the FS's page would be: read-only, copied on write.
        u64 phys = kept;
        if (!kept) {
            phys = fsc::page_phys(page);
            if (need.copy_slot < memory::kCopySlots) {
                u64 copy = keep_copy(l, need, phys);
                need.copy = copy == phys;  // (no memory for the copy: the process's own, as before)
                phys = copy;
            }
        }
        need.copy = need.copy && !kept;
        {
            IrqSpinLockGuard guard(l->vm_lock);
            r = install_file_page_locked(l, space, address, write, need, phys);
        }
        map_around(l, space, need, around, r == Resolved::Yes);
    } else {
        r = got == -kEINVAL ? Resolved::BeyondFile : got == -kENOMEM ? Resolved::OutOfMemory : Resolved::No;
    }
    mapped_file_unref(need.file);
    drop_unmapped_files();
    return r;
}

// Maps page `phys` of the page cache (the caller's reference, which this consumes) for a
// fault in a file range, if the range is still what it was when the page was asked for.
Resolved install_file_page_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write,
                                  const FileFault& need, u64 phys) {
    uptr va = align_down<uptr>(address, arch::kPageSize);
    Range range;
    const Range* v = &range;
    if (memory::lookup(*l->vspace, va, &range, &l->range_hint) != memory::Lookup::kFound ||
        v->file != need.handle || file_of(*l, v->file) != need.file ||
        (v->offset + (va - v->start)) / arch::kPageSize != need.index) {
        mm::user_page_release(phys);
        return Resolved::Again;  // unmapped, replaced or changing meanwhile: look again
    }
    arch::PageTable table(space.root());
    if (table.translate(va).ok()) {  // another thread of ours mapped it meanwhile
        mm::user_page_release(phys);
        return Resolved::Yes;  // a write to it, if it was read-only, faults once more
    }
    u32 flags = page_flags(v->prot);
    if (v->kind == VmaKind::Private && (write || need.copy)) {
        // The program's own copy: on its first write, or when the manager keeps its own.
        Result<u64> copy = mm::alloc_page_phys();
        if (!copy.ok()) {
            mm::user_page_release(phys);
            return Resolved::OutOfMemory;
        }
        mm::charge_page(copy.value(), l->process->memory_account());
        memcpy(arch::phys_to_ptr<u8>(copy.value()), arch::phys_to_ptr<const u8>(phys), arch::kPageSize);
        mm::user_page_release(phys);
        phys = copy.value();
    } else if (v->kind == VmaKind::Private) {
        flags &= ~arch::kPageWrite;  // the page cache's page: the first write copies it
    }
    if (!table.map(va, phys, flags | arch::kPageOwned).ok()) {
        mm::user_page_release(phys);
        return Resolved::No;
    }
    return Resolved::Yes;
}
}  // namespace

bool address_mapped(uptr address) {
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return false;
    Range range;
    for (int attempt = 0; attempt < 64; ++attempt) {  // (called where it cannot wait for the manager)
        memory::Lookup found;
        {
            IrqSpinLockGuard guard(l->vm_lock);
            found = memory::lookup(*l->vspace, address, &range);
        }
        if (found != memory::Lookup::kBusy) return found == memory::Lookup::kFound;
        arch::pause();
    }
    return false;
}

namespace {

struct ForkWalk {
    AddressSpace* parent_space;
    AddressSpace* child_space;
    const Range* vma;  // the range being walked
    bool failed;
};

// One page of the parent's range: a shared page is mapped into the child as it is; a
// private one becomes read-only in both, shared, and is copied by the first write
// (resolve_user_fault).
void fork_page(void* raw, uptr va, u64 phys, u32 flags) {
    auto* w = static_cast<ForkWalk*>(raw);
    if (w->failed) return;
    arch::PageTable child_table(w->child_space->root());
    bool owned = flags & arch::kPageOwned;
    u32 child_flags = flags;
    if (w->vma->kind == VmaKind::Private && (flags & arch::kPageWrite)) {
        child_flags &= ~arch::kPageWrite;
        arch::PageTable parent_table(w->parent_space->root());
        (void)parent_table.protect(va, flags & ~(arch::kPageWrite | arch::kPageOwned));
    }
    if (owned) mm::user_page_share(phys);
    if (!child_table.map(va, phys, child_flags).ok()) {
        if (owned) mm::user_page_release(phys);
        w->failed = true;
    }
}

void fork_range(ForkWalk& walk, uptr from, uptr to) {
    arch::for_each_user_page_in(walk.parent_space->root(), from, to, {&walk, fork_page, &walk.failed});
}

// Parallel fork (paper §6.2): a large address space's pages are shared out to the other
// CPUs. The work is cut into pieces of one last-level page table each (2 MiB of one range),
// and the child's tables above them are made first, by the forking CPU alone, so that no
// two CPUs ever write the same table. The other CPUs are offered the job by IPI
// (arch::smp_offer_help) and take pieces from a shared counter in their interrupt handler,
// with interrupts off; the forking CPU takes pieces too and never waits for a CPU that has
// not started, so a CPU that is busy with interrupts off (maybe spinning on this very
// process's vm_lock) only means less help. Once the pieces are gone the job is closed, and
// the forking CPU waits for the helpers still inside it, which are all running. One job
// at a time: a second fork meanwhile copies alone.
constexpr usize kParallelForkPieces = 16;  // 32 MiB of page tables: below that, one CPU
constexpr usize kForkPieceCapacity = 4096;  // 8 GiB; pieces beyond are copied at once
constexpr u32 kForkJobClosed = 1u << 31;    // in ForkJob::state, above the helper count

struct ForkPiece {
    uptr start, end;
    const Range* vma;
};

struct ForkJob {
    bool busy;   // taken by a fork (the slot's lock)
    u32 state;   // kForkJobClosed, or the number of helpers inside
    usize next;  // the next piece to take
    usize count;
    bool failed;
    AddressSpace* parent_space;
    AddressSpace* child_space;
    usize helped;  // pieces the other CPUs took
    ForkPiece pieces[kForkPieceCapacity];
};
ForkJob g_fork_job = {.state = kForkJobClosed};

void take_fork_pieces(ForkJob& job, bool helper) {
    ForkWalk walk{job.parent_space, job.child_space, nullptr, false};
    usize taken = 0;
    for (;;) {
        usize i = __atomic_fetch_add(&job.next, 1, __ATOMIC_RELAXED);
        if (i >= job.count || __atomic_load_n(&job.failed, __ATOMIC_RELAXED)) break;
        walk.vma = job.pieces[i].vma;
        fork_range(walk, job.pieces[i].start, job.pieces[i].end);
        ++taken;
    }
    if (walk.failed) __atomic_store_n(&job.failed, true, __ATOMIC_RELAXED);
    if (helper) __atomic_fetch_add(&job.helped, taken, __ATOMIC_RELAXED);
}

void help_with_fork() {
    ForkJob& job = g_fork_job;
    u32 state = __atomic_load_n(&job.state, __ATOMIC_ACQUIRE);
    do {
        if (state & kForkJobClosed) return;
    } while (!__atomic_compare_exchange_n(&job.state, &state, state + 1, true, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE));
    take_fork_pieces(job, true);
    __atomic_fetch_sub(&job.state, 1, __ATOMIC_RELEASE);
}

// The child's tables down to the last level for every piece, and the pieces themselves.
bool prepare_fork_pieces(LinuxProcess& parent, ForkJob& job) {
    struct Prepare {
        ForkJob* job;
        arch::PageTable child_table;
        ForkWalk overflow;  // pieces beyond the capacity, copied at once
        const Range* vma;
        bool failed;
    } prep{&job, arch::PageTable(job.child_space->root()), {job.parent_space, job.child_space, nullptr, false},
           nullptr, false};
    const memory::VSpace& vs = *parent.vspace;
    for (usize i = 0; i < range_count(vs) && !prep.failed; ++i) {
        prep.vma = &vs.ranges[i];
        if (!sane(*prep.vma)) continue;
        arch::for_each_user_table_in(job.parent_space->root(), prep.vma->start, prep.vma->end,
                                     {&prep, [](void* raw, uptr va, u64, u32) {
            auto* p = static_cast<Prepare*>(raw);
            uptr start = max<uptr>(va, p->vma->start), end = min<uptr>(va + 512 * arch::kPageSize, p->vma->end);
            if (p->job->count == kForkPieceCapacity) {
                p->overflow.vma = p->vma;
                fork_range(p->overflow, start, end);
                p->failed |= p->overflow.failed;
                return;
            }
            if (!p->child_table.slot(start).ok()) {  // makes the tables above this piece's
                p->failed = true;
                return;
            }
            p->job->pieces[p->job->count++] = {start, end, p->vma};
        }, &prep.failed});
    }
    return !prep.failed;
}

void fork_pages_locked(LinuxProcess& parent, ForkWalk& walk) TA_REQ(parent.vm_lock) {
    const memory::VSpace& vs = *parent.vspace;  // (parent.vm_writer is held: no change under way)
    // Every page in the parent's ranges (the walk reads only the page tables that cover
    // them). Pages outside every range (the kernel-managed window: IPC buffers) are not
    // the program's.
    ForkJob& job = g_fork_job;
    u64 span = 0;
    for (usize i = 0; i < range_count(vs); ++i)
        if (sane(vs.ranges[i])) span += vs.ranges[i].end - vs.ranges[i].start;
    bool parallel = g_parallel_fork && g_cpus_online > 1 && span >= kParallelForkPieces * 512 * arch::kPageSize &&
                    !__atomic_exchange_n(&job.busy, true, __ATOMIC_ACQUIRE);
    if (!parallel) {
        for (usize i = 0; i < range_count(vs) && !walk.failed; ++i) {
            walk.vma = &vs.ranges[i];
            if (sane(*walk.vma)) fork_range(walk, walk.vma->start, walk.vma->end);
        }
        return;
    }
    job.count = 0;
    job.next = 0;
    job.failed = false;
    job.helped = 0;
    job.parent_space = walk.parent_space;
    job.child_space = walk.child_space;
    if (!prepare_fork_pieces(parent, job)) {
        walk.failed = true;
    } else {
        bool offered = job.count >= kParallelForkPieces;
        if (offered) {
            __atomic_store_n(&job.state, 0u, __ATOMIC_RELEASE);  // open
            arch::smp_offer_help(help_with_fork);
        }
        take_fork_pieces(job, false);
        if (offered) {
            u32 state = __atomic_load_n(&job.state, __ATOMIC_ACQUIRE);
            while (!__atomic_compare_exchange_n(&job.state, &state, state | kForkJobClosed, true, __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE)) {
            }
            while (__atomic_load_n(&job.state, __ATOMIC_ACQUIRE) != kForkJobClosed) arch::pause();
            LOG_DEBUG("mm: fork of pid %u copied %zu page tables, %zu of them on other CPUs", parent.pid, job.count,
                      job.helped);
        }
        walk.failed = job.failed;
    }
    __atomic_store_n(&job.busy, false, __ATOMIC_RELEASE);
}
}  // namespace

bool fork_memory(LinuxProcess& parent, LinuxProcess& child, AddressSpace& parent_space, AddressSpace& child_space) {
    if (!parent.vspace) return child_space.copy_owned_pages_from(parent_space).ok();
    child.vspace = mmc::vspace(child.pm_slot);
    if (!child.vspace) return false;
    ForkWalk walk{&parent_space, &child_space, nullptr, false};
    parent.vm_writer.lock();  // the layout holds still while it is copied and its pages shared
    bool ok = mmc::copy(child.pm_slot, parent.pm_slot) >= 0 && copy_files(parent, child);
    set_oplog_owner(child);
    if (ok) {
        IrqSpinLockGuard guard(parent.vm_lock);
        fork_pages_locked(parent, walk);
        // The parent's pages just lost their write permission: this CPU drops its
        // translations now; other threads' CPUs below, once interrupts are on again.
        arch::activate_root(parent_space.root(), parent_space.pcid());
    }
    parent.vm_writer.unlock();
    if (ok && other_threads(parent)) arch::tlb_shootdown(0, ~usize{0} / arch::kPageSize);
    return ok && !walk.failed;
}

void release_file_mappings(LinuxProcess& l) {
    release_files(l);
    drop_unmapped_files();
}

void release_linux_memory(LinuxProcess& l) {
    // Any file this still references is queued and dropped by the next memory call (this
    // runs wherever the process's last reference goes, which may hold the FS lock). The
    // VSpace stays with the slot.
    release_files(l);
    l.vspace = nullptr;
}

i64 sys_brk(arch::TrapFrame& f) {
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    const memory::VSpace& vs = *l->vspace;
    l->vm_writer.lock();
    u64 mapped_before = vs.brk_mapped;
    i64 r = mmc::brk(l->pm_slot, f.rdi, current_linux()->limits[kRlimitData].soft,
                     current_linux()->limits[kRlimitAs].soft);
    // The heap's range shrank: its pages go (the manager's word is checked: a heap end
    // inside user memory, below the old one).
    u64 mapped_after = vs.brk_mapped;
    if (r >= 0 && mapped_after < mapped_before && is_aligned<u64>(mapped_after, arch::kPageSize) &&
        mapped_before <= arch::kUserTop)
        (void)current_process().address_space().unmap(mapped_after, (mapped_before - mapped_after) / arch::kPageSize);
    if (r < 0) r = static_cast<i64>(vs.brk);  // Linux: failure leaves the break unchanged
    l->vm_writer.unlock();
    return r;
}

namespace {
// Shared anonymous memory (and shared /dev/zero) is populated when mapped, so that fork
// shares its pages. A page a racing fault put there first stays.
bool populate(LinuxProcess& l, AddressSpace& space, uptr va, usize pages, u64 prot) {
    mm::MemoryAccount* account = root_caller_account();
    arch::PageTable table(space.root());
    for (usize i = 0; i < pages; ++i) {
        uptr at = va + i * arch::kPageSize;
        Result<u64> page = mm::alloc_page_phys();  // zeroed
        if (!page.ok()) return false;
        mm::charge_page(page.value(), account);
        IrqSpinLockGuard guard(l.vm_lock);
        if (table.translate(at).ok() || !table.map(at, page.value(), arch::kPageWrite | arch::kPageUser | arch::kPageOwned).ok())
            mm::free_page_phys(page.value());
    }
    IrqSpinLockGuard guard(l.vm_lock);
    protect_present(space, va, pages, prot);
    return true;
}

// Why a mapping failed for want of memory: not at all, or populating shared anonymous
// memory (worth reclaiming the page cache for, not killing: the request itself may be the
// hog). The layout itself needs no kernel memory: the VSpace is the slot's.
enum class Shortage { None, Populate };

// mmap's work once the file (or none) is known, once. *shortage: it failed because memory
// ran out (not the address space or a limit).
i64 map_range_once(u64 addr, u64 length, u64 prot, u64 flags, MappedFile* file, u64 offset, Shortage* shortage) {
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    usize pages = align_up<u64>(length, arch::kPageSize) / arch::kPageSize;
    usize bytes = pages * arch::kPageSize;
    AddressSpace& space = current_process().address_space();
    // Memory the mapping may need pages for (private writable without MAP_NORESERVE, or
    // shared anonymous, which is populated now) that is larger than the machine is refused
    // outright, as Linux's default overcommit heuristic does: nothing could make room for
    // it, and trying would only kill other processes.
    bool accountable = (!(flags & kMapShared) && (prot & kProtWrite) && !(flags & kMapNoreserve)) ||
                       (!file && (flags & kMapShared));
    if (accountable && pages > g_total_pages) return -kENOMEM;
    bool fixed = flags & (kMapFixed | kMapFixedNoreplace);
    bool replaces = flags & kMapFixed;  // (MAP_FIXED_NOREPLACE alone: EEXIST over a mapping)
    if (fixed) {
        if (!is_aligned<u64>(addr, arch::kPageSize) || !arch::is_user_address(addr) ||
            pages > (arch::kUserTop - addr) / arch::kPageSize)
            return -kEINVAL;
        if (addr + bytes > AddressSpace::kKernelWindowBase && addr < AddressSpace::kKernelWindowEnd) return -kEINVAL;
    }
    VmaKind kind = (flags & kMapShared) ? VmaKind::Shared : VmaKind::Private;
    l->vm_writer.lock();
    u32 handle = file ? add_file(*l, file) : memory::kNoFile;
    i64 va = file && handle == memory::kNoFile
                 ? -kENOMEM
                 : mmc::map(l->pm_slot, align_down<u64>(addr, arch::kPageSize), bytes,
                            memory::map_attributes(static_cast<u32>(prot & 7), kind, fixed, handle) |
                                (fixed && !replaces ? memory::kAttrNoReplace : 0),
                            offset, current_linux()->limits[kRlimitAs].soft);
    if (va >= 0 && (static_cast<u64>(va) % arch::kPageSize || !arch::is_user_address(static_cast<u64>(va)) ||
                    pages > (arch::kUserTop - static_cast<u64>(va)) / arch::kPageSize ||
                    (static_cast<u64>(va) + bytes > AddressSpace::kKernelWindowBase &&
                     static_cast<u64>(va) < AddressSpace::kKernelWindowEnd))) {
        LOG_ERROR("mm: the memory manager placed a mapping of pid %u at %#llx, outside user memory: refused",
                  l->pid, static_cast<unsigned long long>(va));
        va = -kENOMEM;
    }
    if (va >= 0) {
        // What the range replaced (MAP_FIXED) goes, with anything a racing fault mapped.
        if (fixed) (void)space.unmap(static_cast<u64>(va), pages);
        if (!file && kind == VmaKind::Shared && !populate(*l, space, static_cast<u64>(va), pages, prot)) {
            (void)mmc::unmap(l->pm_slot, static_cast<u64>(va), bytes);
            (void)space.unmap(static_cast<u64>(va), pages);
            *shortage = Shortage::Populate;
            va = -kENOMEM;
        }
    }
    if (file || fixed) sweep_files(*l);  // a failed mapping's file, and the files it replaced
    l->vm_writer.unlock();
    return va;
}

// mmap does not fail because the kernel's memory ran out, as Linux's does not: shared
// anonymous memory that cannot be populated gets the page cache's reclaim, and the mapping
// is tried again.
i64 map_range(u64 addr, u64 length, u64 prot, u64 flags, MappedFile* file, u64 offset) {
    for (;;) {
        Shortage shortage = Shortage::None;
        i64 r = map_range_once(addr, length, prot, flags, file, offset, &shortage);
        if (shortage == Shortage::None) return r;
        if (!arch::interrupts_enabled() || fsc::reclaim_pages(kReclaimBatch) == 0) return r;
    }
}
}  // namespace

namespace {
// What mmap of `fd` maps: a regular file (a new MappedFile holding one reference, ours),
// /dev/zero (anonymous memory: *file stays nullptr), or an error.
i64 file_to_map(u64 fd, u64 prot, u64 flags, MappedFile** file) {
    FileRef of(fd);
    if (!of) return -kEBADF;
    if (of->epoll) return -kENODEV;
    if (!readable(*of.get())) return -kEACCES;
    if ((flags & kMapShared) && (prot & kProtWrite) && !writable(*of.get())) return -kEACCES;
    fs::Stat st;
    if (i64 r = fsc::stat(of->node, &st); r < 0) return r;
    u32 type = st.mode & fs::mode::kTypeMask;
    if (type == fs::mode::kCharDevice && st.rdev_major == 1 && st.rdev_minor == 5) return 0;  // /dev/zero
    if (type != fs::mode::kRegular) return -kENODEV;
    auto* mapped = knew<MappedFile>();
    if (!mapped) return -kENOMEM;
    // A shared mapping of a file open for writing may store into the page cache, now or
    // after mprotect: the FS's initramfs view of the file is stale from here on.
    if ((flags & kMapShared) && writable(*of.get())) fsc::file_mapped_writable(of->node);
    fsc::node_ref(of->node);
    mapped->node = of->node;
    set_version(*mapped, st.ctime_ns);
    mapped_file_ref(mapped);
    *file = mapped;
    return 0;
}
}  // namespace

i64 sys_mmap(arch::TrapFrame& f) {
    u64 addr = f.rdi, length = f.rsi, prot = f.rdx, flags = f.r10;
    if (length == 0) return -kEINVAL;
    if (length > kMmapCeiling - kMmapFloor) return -kENOMEM;  // more than the mmap area (Linux: TASK_SIZE)
    if ((flags & (kMapShared | kMapPrivate)) == 0) return -kEINVAL;
    u64 offset = f.r9;
    MappedFile* file = nullptr;
    if (!(flags & kMapAnonymous)) {
        if (!is_aligned<u64>(offset, arch::kPageSize)) return -kEINVAL;
        if (i64 r = file_to_map(f.r8, prot, flags, &file); r < 0) return r;
    }
    i64 r = map_range(addr, length, prot, flags, file, offset);
    if (file) mapped_file_unref(file);  // the range holds its own reference
    drop_unmapped_files();
    return r;
}

i64 sys_munmap(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || f.rsi == 0 || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    if (f.rdi + pages * arch::kPageSize > AddressSpace::kKernelWindowBase && f.rdi < AddressSpace::kKernelWindowEnd)
        return -kEINVAL;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    l->vm_writer.lock();
    i64 r = mmc::unmap(l->pm_slot, f.rdi, pages * arch::kPageSize);
    if (r >= 0) (void)current_process().address_space().unmap(f.rdi, pages);
    sweep_files(*l);
    l->vm_writer.unlock();
    drop_unmapped_files();
    return r < 0 ? r : 0;
}

namespace {
// mremap's move of the pages present in [from, from + pages) to the same offsets from `to`,
// with their flags and ownership (no copy), under vm_lock a batch at a time; the old
// translations are shot down after each batch. The destination's page tables are made
// first, so that no page is ever left without a place: false (nothing moved) when they
// cannot be. A page a racing fault put at the destination meanwhile gives way to the one
// moved there (the data the program had).
bool move_pages(LinuxProcess& l, AddressSpace& space, uptr from, uptr to, usize pages) {
    arch::PageTable table(space.root());
    uptr end = from + pages * arch::kPageSize;
    constexpr usize kBatch = 64;
    struct Collect {
        struct {
            uptr va;
            u64 phys;
            u32 flags;
        } pages[kBatch];
        usize count;
        bool full;  // ends the walk: the next batch starts after the last page taken
    } c;
    auto collect = [&](uptr at) {
        c.count = 0;
        c.full = false;
        arch::for_each_user_page_in(space.root(), at, end, {&c, [](void* raw, uptr va, u64 phys, u32 flags) {
            auto* c = static_cast<Collect*>(raw);
            c->pages[c->count++] = {va, phys, flags};
            c->full = c->count == kBatch;
        }, &c.full});
        return c.count > 0;
    };
    auto next = [&] { return c.pages[c.count - 1].va + arch::kPageSize; };
    for (uptr at = from; at < end && collect(at); at = next()) {  // the tables, first
        IrqSpinLockGuard guard(l.vm_lock);
        for (usize i = 0; i < c.count; ++i)
            if (!table.slot(to + (c.pages[i].va - from)).ok()) return false;
    }
    for (uptr at = from; at < end && collect(at); at = next()) {
        bool displaced = false;
        {
            IrqSpinLockGuard guard(l.vm_lock);
            for (usize i = 0; i < c.count; ++i) {
                const auto& p = c.pages[i];
                Result<u64> now = table.translate(p.va);
                if (!now.ok() || (now.value() & ~u64{arch::kPageSize - 1}) != p.phys || !table.unmap(p.va).ok())
                    continue;  // (no longer what was collected)
                uptr target = to + (p.va - from);
                bool owned = false;
                if (Result<u64> was = table.unmap(target, &owned); was.ok()) {
                    displaced = true;
                    if (owned) mm::user_page_release(was.value() & ~u64{arch::kPageSize - 1});
                }
                Result<arch::PageSlot> slot = table.slot(target);  // (made above)
                if (slot.ok()) {
                    slot.value().fill(p.phys, p.flags);
                } else if (p.flags & arch::kPageOwned) {
                    mm::user_page_release(p.phys);
                }
            }
        }
        arch::tlb_shootdown(c.pages[0].va, (c.pages[c.count - 1].va - c.pages[0].va) / arch::kPageSize + 1);
        if (displaced)
            arch::tlb_shootdown(to + (c.pages[0].va - from), (c.pages[c.count - 1].va - c.pages[0].va) / arch::kPageSize + 1);
    }
    return true;
}

// mremap's second mapping of shared memory: the pages present in [from, from + pages) are
// mapped at the same offsets from `to` too, each one more holder of its page.
bool share_pages(LinuxProcess& l, AddressSpace& space, uptr from, uptr to, usize pages) {
    struct Share {
        LinuxProcess* l;
        arch::PageTable table;
        uptr from, to;
        bool failed;
    } w{&l, arch::PageTable(space.root()), from, to, false};
    // (The walk is over the source's tables, the mapping into the destination's: they are
    // apart, as the manager made them.)
    IrqSpinLockGuard guard(l.vm_lock);
    arch::for_each_user_page_in(space.root(), from, from + pages * arch::kPageSize, {&w, [](void* raw, uptr va, u64 phys, u32 flags) {
        auto* w = static_cast<Share*>(raw);
        Result<arch::PageSlot> slot = w->table.slot(w->to + (va - w->from));
        if (!slot.ok()) {
            w->failed = true;
            return;
        }
        if (slot.value().present()) return;  // (a racing fault came first)
        if (flags & arch::kPageOwned) mm::user_page_share(phys);
        slot.value().fill(phys, flags);
    }, &w.failed});
    return !w.failed;
}
}  // namespace

// mremap(2): the memory manager decides where the range goes (manager.hpp's remap); the
// kernel moves the pages and drops what a shrink cut off or a MREMAP_FIXED replaced. With
// old_size 0 it maps the pages of the shared memory at the old address a second time.
// Shared anonymous memory grown past its first size gets no pages there: a touch raises
// SIGBUS, as Linux's shmem object past its size (kRangePastObject).
i64 sys_mremap(arch::TrapFrame& f) {
    u64 old = f.rdi, flags = f.r10, destination = f.r8;
    u64 old_size = align_up<u64>(f.rsi, arch::kPageSize), new_size = align_up<u64>(f.rdx, arch::kPageSize);
    if (!is_aligned<u64>(old, arch::kPageSize) || (flags & ~u64{7}) || new_size == 0 || new_size < f.rdx ||
        old_size < f.rsi)
        return -kEINVAL;
    if ((flags & (memory::kRemapFixed | memory::kRemapDontUnmap)) && !(flags & memory::kRemapMayMove)) return -kEINVAL;
    auto user_range = [](u64 start, u64 bytes) {
        return arch::is_user_address(start) && bytes / arch::kPageSize <= (arch::kUserTop - start) / arch::kPageSize &&
               !(start + bytes > AddressSpace::kKernelWindowBase && start < AddressSpace::kKernelWindowEnd);
    };
    if (!user_range(old, old_size)) return -kEFAULT;
    if (flags & memory::kRemapFixed) {
        if (!is_aligned<u64>(destination, arch::kPageSize) || !user_range(destination, new_size)) return -kEINVAL;
    } else {
        destination = 0;
    }
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    AddressSpace& space = current_process().address_space();
    Range before;
    l->vm_writer.lock();
    bool found = memory::lookup(*l->vspace, old, &before) == memory::Lookup::kFound;
    i64 r = mmc::remap(l->pm_slot, old, old_size, new_size, destination | (flags & 7),
                       current_linux()->limits[kRlimitAs].soft);
    u64 to = static_cast<u64>(r);
    if (r >= 0 && (!found || to % arch::kPageSize || !user_range(to, new_size) ||
                   (to != old && to < old + (old_size ? old_size : new_size) && old < to + new_size))) {
        LOG_ERROR("mm: the memory manager moved a mapping of pid %u to %#llx, outside user memory or onto itself: "
                  "refused",
                  l->pid, static_cast<unsigned long long>(to));
        r = -kENOMEM;
    }
    if (r >= 0 && old_size == 0) {
        // A second mapping: the source's pages (and past the source's end, shared
        // anonymous memory past its object).
        usize shared = min<u64>(new_size, before.end - old) / arch::kPageSize;
        (void)space.unmap(to, new_size / arch::kPageSize);  // what MREMAP_FIXED replaced
        if (!share_pages(*l, space, old, to, shared)) {
            (void)mmc::unmap(l->pm_slot, to, new_size);
            (void)space.unmap(to, new_size / arch::kPageSize);
            r = -kENOMEM;
        }
    } else if (r >= 0) {
        usize kept = min(old_size, new_size) / arch::kPageSize;
        bool moved = to != old;
        if (moved) (void)space.unmap(to, new_size / arch::kPageSize);  // what MREMAP_FIXED replaced
        if (moved && !move_pages(*l, space, old, to, kept)) {
            // Out of memory for page tables: the layout goes back as it was (what it grew by
            // first: it may be a range of its own, kRangePastObject).
            if (new_size > old_size) (void)mmc::unmap(l->pm_slot, to + old_size, new_size - old_size);
            (void)mmc::remap(l->pm_slot, to, min(old_size, new_size), old_size,
                             old | memory::kRemapMayMove | memory::kRemapFixed, memory::kUnlimited);
            r = -kENOMEM;
        } else {
            if (new_size < old_size) (void)space.unmap(old + new_size, (old_size - new_size) / arch::kPageSize);
            if (moved && !(flags & memory::kRemapDontUnmap)) (void)space.unmap(old, kept);  // (raced faults)
        }
    }
    sweep_files(*l);
    l->vm_writer.unlock();
    drop_unmapped_files();
    return r;
}

i64 sys_mprotect(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || !arch::is_user_address(f.rdi)) return -kEINVAL;
    if (f.rdx & ~u64{kProtRead | kProtWrite | kProtExec | 0x01000000 /* PROT_GROWSDOWN */}) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    if (pages == 0) return 0;
    AddressSpace& space = current_process().address_space();
    l->vm_writer.lock();
    i64 r = mmc::protect(l->pm_slot, f.rdi, pages * arch::kPageSize, f.rdx & 7);  // -ENOMEM: part is not mapped
    if (r >= 0) {
        IrqSpinLockGuard guard(l->vm_lock);
        protect_present(space, f.rdi, pages, f.rdx);
    }
    l->vm_writer.unlock();
    if (r < 0) return r;
    arch::tlb_shootdown(f.rdi, pages);
    return 0;
}

namespace {
// Whether all of [start, start + pages) is mapped, range by range (a large range must not
// cost a lookup per page with interrupts off): 0, -ENOMEM for a hole, or -EINVAL for
// shared memory when `refuse_shared`.
i64 check_range(LinuxProcess& l, u64 start, usize pages, bool refuse_shared) {
    if (!arch::is_user_address(start) || pages > (arch::kUserTop - start) / arch::kPageSize) return -kENOMEM;
    for (u64 at = start, end = start + pages * arch::kPageSize; at < end;) {
        Range v;
        if (!find_range(l, at, &v)) return -kENOMEM;
        if (refuse_shared && v.kind == VmaKind::Shared) return -kEINVAL;
        at = v.end;
    }
    return 0;
}

usize pages_of(u64 length) { return length > ~u64{0} - arch::kPageSize ? ~usize{0} : align_up<u64>(length, arch::kPageSize) / arch::kPageSize; }
}  // namespace

i64 sys_madvise(arch::TrapFrame& f) {
    constexpr u64 kDontNeed = 4;
    // The advice Linux 6.1 knows: 0-4 and 8-25 (MADV_HWPOISON and MADV_SOFT_OFFLINE only with
    // CONFIG_MEMORY_FAILURE, which this is built without). Anything else is EINVAL, as there.
    u64 advice = f.rdx;
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || (advice > kDontNeed && (advice < 8 || advice > 25)))
        return -kEINVAL;
    if (advice != kDontNeed) return 0;  // advice only: WILLNEED, SEQUENTIAL, ... change nothing
    // MADV_DONTNEED on private anonymous memory: the pages go; the next touch reads zero.
    // Shared pages are not dropped: they are the only copy.
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    usize pages = pages_of(f.rsi);
    if (i64 r = check_range(*l, f.rdi, pages, true); r < 0) return r;
    (void)current_process().address_space().unmap(f.rdi, pages);
    return 0;
}

// msync: tmpfs is the backing store of every file here, and a shared file mapping writes
// into the page cache itself, so there is nothing to write back; what remains is Linux's
// checking of the arguments and the range.
i64 sys_msync(arch::TrapFrame& f) {
    constexpr u64 kAsync = 1, kInvalidate = 2, kSync = 4;
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || (f.rdx & ~(kAsync | kInvalidate | kSync)) ||
        ((f.rdx & kAsync) && (f.rdx & kSync)))
        return -kEINVAL;
    usize pages = pages_of(f.rsi);
    if (!pages) return 0;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    return check_range(*l, f.rdi, pages, false);
}

// mincore: one byte per page, 1 where the page is mapped in (a page of a file mapping that
// is in the page cache but not mapped yet reads 0 here; Linux would say 1).
i64 sys_mincore(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize)) return -kEINVAL;
    usize pages = pages_of(f.rsi);
    if (!pages) return 0;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    if (i64 r = check_range(*l, f.rdi, pages, false); r < 0) return r;
    constexpr usize kChunk = 4096;  // pages per copy out
    auto* residency = static_cast<u8*>(kmalloc(kChunk));
    if (!residency) return -kENOMEM;
    u64 root = current_process().address_space().root();
    i64 result = 0;
    for (usize done = 0; done < pages && result == 0; done += kChunk) {
        usize n = min(kChunk, pages - done);
        uptr from = f.rdi + done * arch::kPageSize;
        memset(residency, 0, n);
        struct Mark {
            u8* out;
            uptr from;
        } mark{residency, from};
        arch::for_each_user_page_in(root, from, from + n * arch::kPageSize, {&mark, [](void* raw, uptr va, u64, u32) {
            auto* m = static_cast<Mark*>(raw);
            m->out[(va - m->from) / arch::kPageSize] = 1;
        }});
        if (!arch::copy_to_user(f.rdx + done, residency, n)) result = -kEFAULT;
    }
    kfree(residency);
    return result;
}

// mlock: the pages are made present now (written ones copied, as a write would), and stay:
// anonymous memory is never swapped out here and reclaim drops only page-cache pages no
// mapping holds, so munlock has nothing to undo. Unprivileged callers are held to
// RLIMIT_MEMLOCK.
namespace {
i64 lock_range(arch::TrapFrame& f, bool lock) {
    uptr start = align_down<u64>(f.rdi, arch::kPageSize);
    usize pages = pages_of(f.rsi + (f.rdi - start));
    if (!pages) return 0;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vspace) return -kENOMEM;
    if (i64 r = check_range(*l, start, pages, false); r < 0 || !lock) return r;
    u64 limit = current_linux()->limits[kRlimitMemlock].soft;
    if (euid_of(*current_linux()) != 0 && limit != kRlimInfinity && pages > limit / arch::kPageSize) return -kENOMEM;
    if (pages > g_total_pages) return -kENOMEM;
    for (usize i = 0; i < pages; ++i) {
        uptr at = start + i * arch::kPageSize;
        Range v;
        if (!find_range(*l, at, &v)) return -kENOMEM;  // unmapped meanwhile
        u32 prot = v.prot;
        if (!(prot & (kProtRead | kProtWrite))) continue;  // PROT_NONE: nothing to make present
        u32 word, seen;
        if (!arch::copy_from_user(&word, at, sizeof(word))) return -kENOMEM;
        if ((prot & kProtWrite) && !arch::compare_exchange_user(at, word, word, &seen)) return -kENOMEM;
    }
    return 0;
}
}  // namespace

i64 sys_mlock(arch::TrapFrame& f) { return lock_range(f, true); }
i64 sys_munlock(arch::TrapFrame& f) { return lock_range(f, false); }

}  // namespace kernel::shim
