// tmpfs regular file data: pages in a two-level table, optionally backed by initramfs bytes.
//
// Pages rather than one buffer so the memory manager can map them one by one (they are the
// page cache: counted pages from env().page_alloc that mappings share, see env.hpp), and
// so a sparse file costs only what was written. A file unpacked from the initramfs points at the
// archive (`backing`) and copies a page only when that page is first written: executables
// are never written, so a 2 MiB busybox costs nothing beyond the archive itself.
//
// Reclaim. Pages of such a file that exec or mmap copied into the page cache still equal
// the archive's bytes as long as the file is not written, so under memory pressure any of
// them that only the file holds (no mapping, no reader) can be dropped and made again on
// the next use. The clean-file LRU orders these files by their last page-cache use (a
// fault, a fault-around, a read through the cache); reclaim starts at the cold end. The
// age is per file, not per page: the page table keeps no per-page metadata.

#include "fs/vfs_internal.hpp"

namespace fs {

u64 g_file_pages TA_GUARDED(g_lock) = 0;  // the page cache's size (every tmpfs data page)

namespace {

constexpr u64 kPagesMax = kTableFanout * kTableFanout;

IntrusiveList<FileData, &FileData::lru> g_clean_lru TA_GUARDED(g_lock);

bool reclaimable(const FileData& d) { return d.backing && !d.written && d.pages; }

// A page-cache use of `d`: to the young end of the LRU if reclaim may take its pages.
void lru_touch_locked(FileData& d) TA_REQ(g_lock) {
    if (d.lru.linked()) g_clean_lru.remove(&d);
    if (reclaimable(d)) g_clean_lru.push_back(&d);
}

// Drops up to `limit` pages of a clean file that only the file holds; how many.
usize drop_unheld_pages_locked(FileData& d, usize limit) TA_REQ(g_lock) {
    usize dropped = 0;
    for (u64 l = 0; d.table && l < kTableFanout && dropped < limit; ++l) {
        u8** leaf = d.table[l];
        for (u64 i = 0; leaf && i < kTableFanout && dropped < limit; ++i) {
            if (!leaf[i] || env().page_holders(leaf[i]) != 1) continue;
            env().page_free(leaf[i]);
            leaf[i] = nullptr;
            --d.pages;
            __atomic_store_n(&g_file_pages, g_file_pages - 1, __ATOMIC_RELAXED);
            ++dropped;
        }
    }
    return dropped;
}

// The slot for page `index`, making the table and leaf when `create`; nullptr when absent
// (or when making them failed).
u8** slot_locked(FileData& d, u64 index, bool create) TA_REQ(g_lock) {
    if (index >= kPagesMax) return nullptr;
    if (!d.table) {
        if (!create) return nullptr;
        d.table = static_cast<u8***>(env().alloc(kTableFanout * sizeof(u8**)));
        if (!d.table) return nullptr;
    }
    u8**& leaf = d.table[index / kTableFanout];
    if (!leaf) {
        if (!create) return nullptr;
        leaf = static_cast<u8**>(env().alloc(kTableFanout * sizeof(u8*)));
        if (!leaf) return nullptr;
    }
    return &leaf[index % kTableFanout];
}

u8* page_locked(FileData& d, u64 index) TA_REQ(g_lock) {
    u8** slot = slot_locked(d, index, false);
    return slot ? *slot : nullptr;
}

// Copies the part of page `index` that the backing covers; the rest of `out` is untouched.
void copy_backing_locked(const FileData& d, u64 index, u8* out) TA_REQ(g_lock) {
    u64 start = index * kPageSize;
    if (!d.backing || start >= d.backing_length) return;
    usize n = static_cast<usize>(min<u64>(kPageSize, d.backing_length - start));
    memcpy(out, d.backing + start, n);
}

// Page `index`, materialised: a new zeroed page filled from the backing if needed.
u8* page_make_locked(FileData& d, u64 index) TA_REQ(g_lock) {
    u8** slot = slot_locked(d, index, true);
    if (!slot) return nullptr;
    if (!*slot) {
        u8* page = static_cast<u8*>(env().page_alloc());
        if (!page) return nullptr;
        copy_backing_locked(d, index, page);
        *slot = page;
        ++d.pages;
        __atomic_store_n(&g_file_pages, g_file_pages + 1, __ATOMIC_RELAXED);
    }
    return *slot;
}

// Frees every page at or after `first`, and leaves (and the table) left empty.
void free_pages_from_locked(FileData& d, u64 first) TA_REQ(g_lock) {
    if (!d.table) return;
    for (u64 l = first / kTableFanout; l < kTableFanout; ++l) {
        u8** leaf = d.table[l];
        if (!leaf) continue;
        u64 from = l == first / kTableFanout ? first % kTableFanout : 0;
        for (u64 i = from; i < kTableFanout; ++i) {
            if (leaf[i]) {
                env().page_free(leaf[i]);
                leaf[i] = nullptr;
                --d.pages;
                __atomic_store_n(&g_file_pages, g_file_pages - 1, __ATOMIC_RELAXED);
            }
        }
        if (from == 0) {
            env().free(leaf);
            d.table[l] = nullptr;
        }
    }
    if (first == 0) {
        env().free(d.table);
        d.table = nullptr;
    }
}

}  // namespace

i64 file_read_locked(Node* node, u64 offset, void* buffer, usize length) {
    if (offset >= node->size) return 0;
    usize total = static_cast<usize>(min<u64>(length, node->size - offset));
    auto* out = static_cast<u8*>(buffer);
    FileData& d = node->data;
    usize done = 0;
    while (done < total) {
        u64 position = offset + done;
        u64 index = position / kPageSize;
        usize in_page = static_cast<usize>(position % kPageSize);
        usize n = min<usize>(kPageSize - in_page, total - done);
        if (u8* page = page_locked(d, index)) {
            memcpy(out + done, page + in_page, n);
        } else {
            // A hole, or bytes still in the archive: whatever the backing covers, zero after.
            memset(out + done, 0, n);
            if (d.backing && position < d.backing_length) {
                usize from_backing = static_cast<usize>(min<u64>(n, d.backing_length - position));
                memcpy(out + done, d.backing + position, from_backing);
            }
        }
        done += n;
    }
    return static_cast<i64>(total);
}

i64 file_write_locked(Node* node, u64 offset, const void* buffer, usize length) {
    auto* in = static_cast<const u8*>(buffer);
    FileData& d = node->data;
    usize done = 0;
    while (done < length) {
        u64 position = offset + done;
        u8* page = page_make_locked(d, position / kPageSize);
        if (!page) break;
        usize in_page = static_cast<usize>(position % kPageSize);
        usize n = min<usize>(kPageSize - in_page, length - done);
        memcpy(page + in_page, in + done, n);
        done += n;
    }
    if (offset + done > node->size) node->size = offset + done;
    if (done) d.written = true;
    if (done == 0 && length > 0) return -err::kENOSPC;
    return static_cast<i64>(done);
}

i64 file_truncate_locked(Node* node, u64 size) {
    FileData& d = node->data;
    if (size != node->size) d.written = true;
    if (size < node->size) {
        u64 keep_pages = align_up<u64>(size, kPageSize) / kPageSize;
        free_pages_from_locked(d, keep_pages);
        // The kept part of the last page must read as zero if the file grows again.
        if (size % kPageSize) {
            if (u8* page = page_locked(d, size / kPageSize))
                memset(page + size % kPageSize, 0, kPageSize - size % kPageSize);
        }
        if (d.backing_length > size) d.backing_length = size;
        if (d.backing_length == 0) d.backing = nullptr;
    }
    node->size = size;
    return 0;
}

void file_free_locked(Node* node) {
    if (node->data.lru.linked()) g_clean_lru.remove(&node->data);
    free_pages_from_locked(node->data, 0);
    node->data = FileData{};
}

usize reclaim_clean_pages_locked(usize wanted) {
    usize freed = 0;
    FileData* last = g_clean_lru.back();  // each file is looked at once per call
    while (freed < wanted) {
        FileData* d = g_clean_lru.pop_front();
        if (!d) break;
        if (reclaimable(*d)) {
            freed += drop_unheld_pages_locked(*d, wanted - freed);
            if (d->pages) g_clean_lru.push_back(d);  // pages still mapped: to the young end
        }
        if (d == last) break;
    }
    return freed;
}

i64 file_page_locked(Node* node, u64 index, u8** page) {
    if (index >= align_up<u64>(node->size, kPageSize) / kPageSize) return -err::kEINVAL;
    u8* p = page_make_locked(node->data, index);
    if (!p) return -err::kENOMEM;
    void* ref = p;
    env().page_ref(&ref, 1);  // the caller's reference
    lru_touch_locked(node->data);
    *page = p;
    return 0;
}

usize file_pages_cached_locked(Node* node, u64 first, usize count, u8** pages, bool stop_at_gap) {
    u64 end = align_up<u64>(node->size, kPageSize) / kPageSize;
    usize found = 0, looked = 0;
    for (; looked < count; ++looked) {
        u8* p = first + looked < end ? page_locked(node->data, first + looked) : nullptr;
        if (!p && stop_at_gap) break;
        found += p != nullptr;
        pages[looked] = p;
    }
    if (!found) return 0;
    env().page_ref(reinterpret_cast<void* const*>(pages), looked);  // the caller's references, in one call
    lru_touch_locked(node->data);
    return found;
}

}  // namespace fs
