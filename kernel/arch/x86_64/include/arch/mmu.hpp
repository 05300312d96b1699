#pragma once
// Virtual memory layout and the page-table mechanism. Policy (what to map where, for whom)
// lives outside arch/; this is only how x86_64 page tables encode it.

#include "lib/result.hpp"
#include "lib/types.hpp"

namespace arch {

inline constexpr usize kPageSize = 4096;
inline constexpr usize kLargePageSize = 2 * MiB;
inline constexpr uptr kDirectMapBase = 0xffff800000000000;  // all RAM, PML4 slot 256
inline constexpr uptr kMmioBase = 0xffffc00000000000;       // device registers, uncached
inline constexpr uptr kKernelImageBase = 0xffffffff80000000;
inline constexpr uptr kUserTop = 0x0000800000000000;

inline uptr phys_to_virt(u64 phys) { return kDirectMapBase + phys; }
template <typename T>
inline T* phys_to_ptr(u64 phys) {
    return reinterpret_cast<T*>(kDirectMapBase + phys);
}
inline u64 virt_to_phys(uptr virt) {
    if (virt >= kKernelImageBase) return virt - kKernelImageBase;
    return virt - kDirectMapBase;
}

// Mapping permissions, architecture-neutral. Absence of Write/Execute means read-only,
// non-executable.
enum PageFlags : u32 {
    kPageRead = 0,
    kPageWrite = 1 << 0,
    kPageExecute = 1 << 1,
    kPageUser = 1 << 2,
    kPageUncached = 1 << 3,
    kPageGlobal = 1 << 4,
    // Bits 8..11: the PKS protection key of a supervisor page (see arch/pks.hpp).
};
inline constexpr u32 page_key(u32 key) { return (key & 0xf) << 8; }

// Allocates zeroed physical pages for page tables; provided by the generic mm layer.
using PageTableAllocator = u64 (*)();  // returns physical address, 0 on failure
using PageTableFree = void (*)(u64 phys);
void set_page_table_allocator(PageTableAllocator alloc, PageTableFree free);

// The level-0 entry of one address, found with one walk: the fault path tests it and, if
// it is empty, fills it without walking again.
class PageSlot {
public:
    bool present() const { return *pte_ & 1; }                      // the Present bit
    u64 phys() const { return *pte_ & 0x000ffffffffff000ull; }      // of a present entry
    bool writable() const { return *pte_ & 2; }                      // the R/W bit
    bool user() const { return *pte_ & 4; }                          // the U/S bit
    bool executable() const { return !(*pte_ >> 63); }               // NX clear
    void fill(u64 pa, u32 flags);  // an empty entry

private:
    friend class PageTable;
    PageSlot(u64* pte, u64* parent) : pte_(pte), parent_(parent) {}
    u64* pte_;
    u64* parent_;
};

class PageTable {
public:
    constexpr explicit PageTable(u64 pml4_phys) : pml4_phys_(pml4_phys) {}

    // The slot for a 4 KiB user or kernel page at `va`, making missing tables (NoMemory);
    // Exists when a 2 MiB page covers it.
    Result<PageSlot> slot(uptr va);

    Result<void> map(uptr va, u64 pa, u32 flags);
    // Maps a 2 MiB page (va and pa 2 MiB aligned).
    Result<void> map_large(uptr va, u64 pa, u32 flags);
    // Returns the physical address that was mapped, or NotFound; *owned tells whether the
    // mapping carried kPageOwned (the caller then frees the page).
    Result<u64> unmap(uptr va, bool* owned = nullptr);
    Result<void> protect(uptr va, u32 flags);
    Result<u64> translate(uptr va) const;
    u64 root() const { return pml4_phys_; }

private:
    // The level-0 entry for `va`; `parent`, if given, gets the level-1 entry above it.
    u64* walk(uptr va, bool create, bool* large = nullptr, u64** parent = nullptr) const;
    u64 pml4_phys_;
};

// The kernel's page table, shared (upper half) by every address space.
PageTable& kernel_page_table();
// Builds the kernel page tables: direct map of [0, ram_top) restricted to `ram` ranges,
// the image with W^X permissions, and an identity map of low memory for AP startup.
struct PhysRange {
    u64 base, size;
};
void paging_init(const PhysRange* ram, usize count);
// Allocates the remaining upper-half tables (needs the page-table allocator).
void paging_populate_kernel_half();
// Drops the low identity map once every AP is in long mode.
void paging_drop_identity_map();
// Maps device registers uncached; returns the virtual address.
Result<uptr> map_mmio(u64 phys, usize size);

// Invalidates one page on this CPU.
inline void flush_tlb_page(uptr va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
// Invalidates [va, va + pages * 4K) on every online CPU and waits until all have done it.
void tlb_shootdown(uptr va, usize pages);

}  // namespace arch

namespace arch {

// Marks a user leaf page as owned by its address space: freed when the space dies. Pages
// mapped from elsewhere (shared objects, device memory) lack it.
inline constexpr u32 kPageOwned = 1 << 5;

// User address-space roots: a PML4 whose upper half is the kernel's.
Result<u64> create_user_root();
// Frees the user half's page tables and every kPageOwned page; `free_page` returns pages.
void destroy_user_root(u64 root, void (*free_page)(u64 phys));
// Calls `fn` for every present 4 KiB user page of `root`, in address order, with the
// page's flags (kPageWrite/kPageExecute/kPageOwned). The visitor must not change the
// tables it walks. When `stop` is given, the walk ends as soon as *stop is true.
struct UserPageVisitor {
    void* context;
    void (*fn)(void* context, uptr va, u64 phys, u32 flags);
    const bool* stop = nullptr;
};
void for_each_user_page(u64 root, const UserPageVisitor& visit);
// The same for the pages in [from, to) only; page tables outside it are not read.
void for_each_user_page_in(u64 root, uptr from, uptr to, const UserPageVisitor& visit);
// Calls `fn` once for every non-empty last-level page table that maps user pages of
// [from, to), with the 2 MiB-aligned address it starts at (and its physical address,
// flags 0): the units in which work on a range's pages can be shared between CPUs, since
// no two of them touch the same table.
void for_each_user_table_in(u64 root, uptr from, uptr to, const UserPageVisitor& visit);
// Switches to `root`. With PCID the switch keeps the TLB entries tagged with `pcid`.
void activate_root(u64 root, u16 pcid);
bool pcid_enabled();

}  // namespace arch
