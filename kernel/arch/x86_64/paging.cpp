// x86_64 4-level page tables. Intermediate tables come from the generic physical allocator
// through set_page_table_allocator(); before it exists (paging_init) they come from a small
// static pool in .bss.

#include "arch/cpu.hpp"
#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "debug/panic.hpp"
#include "lib/string.hpp"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __kernel_end[];
extern "C" u64 boot_pml4[];

namespace arch {
namespace {

constexpr u64 kPresent = 1ull << 0;
constexpr u64 kWritable = 1ull << 1;
constexpr u64 kUser = 1ull << 2;
constexpr u64 kWriteThrough = 1ull << 3;
constexpr u64 kCacheDisable = 1ull << 4;
constexpr u64 kHuge = 1ull << 7;
constexpr u64 kGlobal = 1ull << 8;
constexpr u64 kOwnedBit = 1ull << 9;  // software-available bit
constexpr u64 kNoExecute = 1ull << 63;
constexpr u64 kAddressMask = 0x000ffffffffff000ull;
// How many present entries a page table holds, kept in bits 52-61 of the entry that points
// to it (ignored by the CPU in non-leaf entries): walks skip empty tables, which munmap
// leaves behind, without reading their 512 entries.
constexpr u64 kCountUnit = 1ull << 52, kCountMask = 0x3ffull << 52;

// Early tables: enough for the direct map of a few hundred GiB of RAM with 2 MiB pages
// plus the image, all allocated before the buddy allocator exists.
constexpr usize kEarlyTables = 96;
alignas(4096) u64 g_early_tables[kEarlyTables][512];
usize g_early_used = 0;

alignas(4096) u64 g_kernel_pml4[512];
PageTable g_kernel_table(0);

PageTableAllocator g_alloc = nullptr;
PageTableFree g_free = nullptr;

uptr g_mmio_next = kMmioBase;

u64 alloc_table() {
    if (g_alloc) return g_alloc();
    if (g_early_used == kEarlyTables) kernel::panic("paging: early page-table pool exhausted");
    u64* t = g_early_tables[g_early_used++];
    memset(t, 0, 4096);
    return virt_to_phys(reinterpret_cast<uptr>(t));
}

u64* table_ptr(u64 entry) { return phys_to_ptr<u64>(entry & kAddressMask); }

// Without branches: it is on the page-fault fast path (PageSlot::fill).
u64 leaf_bits(u32 flags) {
    static_assert(kPageWrite << 1 == kWritable && kPageUser == kUser && kPageGlobal << 4 == kGlobal &&
                  kPageOwned << 4 == kOwnedBit);
    u64 f = flags;
    u64 bits = kPresent | ((f & kPageWrite) << 1) | (f & kPageUser) | ((f & (kPageGlobal | kPageOwned)) << 4);
    bits |= ((f >> 3) & 1) * (kCacheDisable | kWriteThrough);  // kPageUncached
    bits |= ((f >> 8) & 0xf) << 59;                             // protection key
    bits |= ((~f >> 1) & u64{g_cpu_features.nx}) << 63;         // no kPageExecute: NX
    return bits;
}

unsigned index_at(uptr va, unsigned level) { return (va >> (12 + 9 * level)) & 511; }

}  // namespace

void set_page_table_allocator(PageTableAllocator alloc, PageTableFree free) {
    g_alloc = alloc;
    g_free = free;
}

PageTable& kernel_page_table() { return g_kernel_table; }

// Walks to the level-0 entry for `va`. With `create`, missing tables are allocated; a
// 2 MiB mapping stops the walk at level 1 and sets *large.
u64* PageTable::walk(uptr va, bool create, bool* large, u64** parent) const {
    u64* table = phys_to_ptr<u64>(pml4_phys_);
    for (unsigned level = 3; level > 0; --level) {
        u64& entry = table[index_at(va, level)];
        if (!(entry & kPresent)) {
            if (!create) return nullptr;
            u64 phys = alloc_table();
            if (!phys) return nullptr;
            // Intermediate entries allow everything; the leaf decides.
            entry = phys | kPresent | kWritable | (va < kUserTop ? kUser : 0);
        } else if (entry & kHuge) {
            if (large) *large = true;
            return &entry;
        }
        if (level == 1 && parent) *parent = &entry;
        table = table_ptr(entry);
    }
    return &table[index_at(va, 0)];
}

Result<PageSlot> PageTable::slot(uptr va) {
    bool large = false;
    u64* parent = nullptr;
    u64* pte = walk(va, true, &large, &parent);
    if (!pte) return Error::NoMemory;
    if (large) return Error::Exists;
    return PageSlot(pte, parent);
}

void PageSlot::fill(u64 pa, u32 flags) {
    *pte_ = (pa & kAddressMask) | leaf_bits(flags);
    __atomic_fetch_add(parent_, kCountUnit, __ATOMIC_RELAXED);
}

Result<void> PageTable::map(uptr va, u64 pa, u32 flags) {
    bool large = false;
    u64* parent = nullptr;
    u64* pte = walk(va, true, &large, &parent);
    if (!pte) return Error::NoMemory;
    if (large || (*pte & kPresent)) return Error::Exists;
    *pte = (pa & kAddressMask) | leaf_bits(flags);
    __atomic_fetch_add(parent, kCountUnit, __ATOMIC_RELAXED);
    return {};
}

Result<void> PageTable::map_large(uptr va, u64 pa, u32 flags) {
    u64* table = phys_to_ptr<u64>(pml4_phys_);
    for (unsigned level = 3; level > 1; --level) {
        u64& entry = table[index_at(va, level)];
        if (!(entry & kPresent)) {
            u64 phys = alloc_table();
            if (!phys) return Error::NoMemory;
            entry = phys | kPresent | kWritable | (va < kUserTop ? kUser : 0);
        }
        table = table_ptr(entry);
    }
    u64& pde = table[index_at(va, 1)];
    if (pde & kPresent) return Error::Exists;
    pde = (pa & kAddressMask) | leaf_bits(flags) | kHuge;
    return {};
}

Result<u64> PageTable::unmap(uptr va, bool* owned) {
    bool large = false;
    u64* parent = nullptr;
    u64* pte = walk(va, false, &large, &parent);
    if (!pte || !(*pte & kPresent) || large) return Error::NotFound;
    u64 pa = *pte & kAddressMask;
    if (owned) *owned = *pte & kOwnedBit;
    *pte = 0;
    __atomic_fetch_sub(parent, kCountUnit, __ATOMIC_RELAXED);
    flush_tlb_page(va);
    return pa;
}

Result<void> PageTable::protect(uptr va, u32 flags) {
    bool large = false;
    u64* pte = walk(va, false, &large);
    if (!pte || !(*pte & kPresent) || large) return Error::NotFound;
    *pte = (*pte & kAddressMask) | leaf_bits(flags) | (*pte & kOwnedBit);
    flush_tlb_page(va);
    return {};
}

Result<u64> PageTable::translate(uptr va) const {
    bool large = false;
    u64* pte = walk(va, false, &large);
    if (!pte || !(*pte & kPresent)) return Error::NotFound;
    if (large) return (*pte & kAddressMask & ~(kLargePageSize - 1)) + (va & (kLargePageSize - 1));
    return (*pte & kAddressMask) + (va & (kPageSize - 1));
}

void paging_init(const PhysRange* ram, usize count) {
    // The boot tables map the first GiB twice (identity and -2 GiB); their direct map is
    // not there yet, so the new PML4 is filled through the image mapping.
    g_kernel_table = PageTable(virt_to_phys(reinterpret_cast<uptr>(g_kernel_pml4)));
    // While building, tables are reached through the boot identity map of the first GiB:
    // every early table lives in .bss, inside it. phys_to_ptr uses the direct map, so
    // install a temporary alias of the boot identity tables at the direct-map slot.
    boot_pml4[256] = boot_pml4[0];

    for (usize r = 0; r < count; ++r) {
        u64 start = align_down<u64>(ram[r].base, kLargePageSize);
        u64 end = align_up<u64>(ram[r].base + ram[r].size, kLargePageSize);
        for (u64 pa = start; pa < end; pa += kLargePageSize) {
            Result<void> res = g_kernel_table.map_large(kDirectMapBase + pa, pa, kPageWrite | kPageGlobal);
            if (!res.ok() && res.error() != Error::Exists) kernel::panic("paging: cannot map RAM at %llx", (unsigned long long)pa);
        }
    }

    // The image: text RX, rodata R, data/bss RW; all NX but text.
    auto map_image = [](char* from, char* to, u32 flags) {
        for (uptr va = align_down<uptr>(reinterpret_cast<uptr>(from), kPageSize); va < reinterpret_cast<uptr>(to); va += kPageSize)
            if (!g_kernel_table.map(va, virt_to_phys(va), flags | kPageGlobal).ok())
                kernel::panic("paging: cannot map kernel image");
    };
    map_image(__text_start, __text_end, kPageExecute);
    map_image(__rodata_start, __rodata_end, kPageRead);
    map_image(__data_start, __kernel_end, kPageWrite);

    // Identity map of the first GiB for the AP trampoline (dropped after SMP bring-up).
    for (u64 pa = 0; pa < GiB; pa += kLargePageSize) (void)g_kernel_table.map_large(pa, pa, kPageWrite | kPageExecute);

    write_cr3(g_kernel_table.root());
}

void paging_populate_kernel_half() {
    // Every upper-half PML4 entry exists from now on, so address spaces can share the
    // kernel half by copying slots 256..511 once and never need to hear about new ones.
    for (unsigned i = 256; i < 512; ++i)
        if (!(g_kernel_pml4[i] & kPresent)) {
            u64 table = alloc_table();
            if (!table) kernel::panic("paging: no memory for kernel page tables");
            g_kernel_pml4[i] = table | kPresent | kWritable;
        }
}

void paging_drop_identity_map() {
    g_kernel_pml4[0] = 0;
    write_cr3(read_cr3());
}

Result<u64> create_user_root() {
    u64 root = alloc_table();
    if (!root) return Error::NoMemory;
    u64* pml4 = phys_to_ptr<u64>(root);
    for (unsigned i = 256; i < 512; ++i) pml4[i] = g_kernel_pml4[i];
    return root;
}

namespace {
void free_level(u64 table_phys, unsigned level, void (*free_page)(u64)) {
    u64* table = phys_to_ptr<u64>(table_phys);
    for (unsigned i = 0; i < 512; ++i) {
        u64 e = table[i];
        if (!(e & kPresent)) continue;
        if (level == 0 || (e & kHuge)) {
            if ((e & kOwnedBit) && level == 0) free_page(e & kAddressMask);
        } else {
            free_level(e & kAddressMask, level - 1, free_page);
        }
    }
    if (g_free) g_free(table_phys);
}
}  // namespace

namespace {
// With `tables`, the walk stops one level early and visits the last-level tables.
void visit_level(u64 table_phys, unsigned level, uptr base, uptr from, uptr to, const UserPageVisitor& visit,
                 bool tables) {
    const u64* table = phys_to_ptr<u64>(table_phys);
    uptr span = uptr{1} << (12 + 9 * level);
    // Only the entries that can overlap [from, to): tables outside it are not read.
    unsigned first = from > base ? static_cast<unsigned>(min<uptr>((from - base) / span, 512)) : 0;
    unsigned last = to > base ? static_cast<unsigned>(min<uptr>((to - base + span - 1) / span, 512)) : 0;
    for (unsigned i = first; i < last; ++i) {
        u64 e = table[i];
        if (!(e & kPresent)) continue;
        uptr va = base + uptr{i} * span;
        if (level == 0) {
            u32 flags = ((e & kWritable) ? kPageWrite : 0) | ((e & kNoExecute) ? 0 : kPageExecute) |
                        ((e & kOwnedBit) ? kPageOwned : 0) | ((e & kUser) ? kPageUser : 0);
            visit.fn(visit.context, va, e & kAddressMask, flags);
        } else if (!(e & kHuge) && (level != 1 || (e & kCountMask))) {  // an empty page table: nothing to visit
            if (tables && level == 1)
                visit.fn(visit.context, va, e & kAddressMask, 0);
            else
                visit_level(e & kAddressMask, level - 1, va, from, to, visit, tables);
        }
        if (visit.stop && *visit.stop) return;  // checked only after a visit: empty slots cost nothing more
    }
}
}  // namespace

void for_each_user_page(u64 root, const UserPageVisitor& visit) { for_each_user_page_in(root, 0, kUserTop, visit); }

namespace {
void visit_user_half(u64 root, uptr from, uptr to, const UserPageVisitor& visit, bool tables) {
    const u64* pml4 = phys_to_ptr<u64>(root);
    for (unsigned i = static_cast<unsigned>(min<uptr>(from >> 39, 256)); i < 256; ++i) {
        if (visit.stop && *visit.stop) return;
        uptr va = uptr{i} << 39;
        if (va >= to) break;
        if (pml4[i] & kPresent) visit_level(pml4[i] & kAddressMask, 2, va, from, to, visit, tables);
    }
}
}  // namespace

void for_each_user_page_in(u64 root, uptr from, uptr to, const UserPageVisitor& visit) {
    visit_user_half(root, from, to, visit, false);
}

void for_each_user_table_in(u64 root, uptr from, uptr to, const UserPageVisitor& visit) {
    visit_user_half(root, from, to, visit, true);
}

void destroy_user_root(u64 root, void (*free_page)(u64)) {
    u64* pml4 = phys_to_ptr<u64>(root);
    for (unsigned i = 0; i < 256; ++i)
        if (pml4[i] & kPresent) free_level(pml4[i] & kAddressMask, 2, free_page);
    if (g_free) g_free(root);
}

// Decided once at boot (enable_cpu_features) and the same on every CPU.
bool pcid_enabled() { return g_cpu_features.pcid; }

void activate_root(u64 root, u16 pcid) {
    if (pcid_enabled())
        write_cr3(root | pcid | (1ull << 63));  // bit 63: keep this PCID's TLB entries
    else
        write_cr3(root);
}

Result<uptr> map_mmio(u64 phys, usize size) {
    u64 base = align_down<u64>(phys, kPageSize);
    usize pages = (align_up<u64>(phys + size, kPageSize) - base) / kPageSize;
    uptr va = __atomic_fetch_add(&g_mmio_next, pages * kPageSize + kPageSize, __ATOMIC_RELAXED);  // + guard page
    for (usize i = 0; i < pages; ++i)
        TRY(g_kernel_table.map(va + i * kPageSize, base + i * kPageSize, kPageWrite | kPageUncached | kPageGlobal));
    return va + (phys - base);
}

}  // namespace arch
