#include "proc/loader.hpp"

#include "arch/mmu.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "loader/cpio.hpp"
#include "loader/elf.hpp"
#include "proc/user_thread.hpp"
#include "sched/scheduler.hpp"

namespace kernel {
namespace {

constexpr uptr kPieBase = 0x400000;
constexpr uptr kStackTop = 0x00007ffffffff000;
constexpr usize kStackPages = 64;  // 256 KiB

Result<loader::CpioEntry> find(StringView path, const char** why) {
    const BootInfo& boot = boot_info();
    if (!boot.initrd_size) {
        *why = "no boot archive (-initrd)";
        return Error::NotFound;
    }
    auto* data = arch::phys_to_ptr<const u8>(boot.initrd_phys);
    return loader::cpio_find(data, boot.initrd_size, path, why);
}

u32 flags_of(const loader::ElfSegment& s) {
    return (s.write ? arch::kPageWrite : 0) | (s.execute ? arch::kPageExecute : 0);
}

Result<void> load_segments(AddressSpace& space, const loader::ElfImage& image, const u8* file, uptr bias) {
    u32 previous_flags = 0;
    uptr previous_last_page = ~uptr{0};
    for (usize i = 0; i < image.segment_count; ++i) {
        const loader::ElfSegment& s = image.segments[i];
        uptr start = align_down<uptr>(bias + s.vaddr, arch::kPageSize);
        uptr end = align_up<uptr>(bias + s.vaddr + s.memsz, arch::kPageSize);
        u32 flags = flags_of(s);
        arch::PageTable table(space.root());
        for (uptr page = start; page < end; page += arch::kPageSize) {
            if (page == previous_last_page) {
                // Two segments share this page (ELF allows it at their boundary): it gets
                // both segments' permissions.
                TRY(table.protect(page, previous_flags | flags | arch::kPageUser));
                continue;
            }
            TRY(space.map_anonymous(page, 1, flags));
        }
        TRY(space.write(bias + s.vaddr, file + s.offset, s.filesz));
        previous_flags = flags;
        previous_last_page = end - arch::kPageSize;
    }
    return {};
}

StringView basename(StringView path) {
    usize start = 0;
    for (usize i = 0; i < path.length; ++i)
        if (path[i] == '/') start = i + 1;
    return path.substr(start);
}

}  // namespace

bool boot_archive_has(StringView path) {
    const char* why = nullptr;
    return find(path, &why).ok();
}

Result<RefPtr<Process>> spawn_from_boot_archive(StringView path, u64 arg, bool privileged) {
    const char* why = nullptr;
    auto fail = [&](Error e) -> Result<RefPtr<Process>> {
        LOG_ERROR("spawn %.*s: %s", static_cast<int>(path.length), path.data, why ? why : error_name(e));
        return e;
    };
    Result<loader::CpioEntry> entry = find(path, &why);
    if (!entry.ok()) return fail(entry.error());
    Result<loader::ElfImage> image = loader::elf_parse(entry.value().data, entry.value().size, &why);
    if (!image.ok()) return fail(image.error());
    if (image.value().has_interp) {
        why = "dynamically linked (needs an ELF interpreter; only static binaries run yet)";
        return fail(Error::Unsupported);
    }
    char name[32];
    StringView base = basename(path);
    usize n = min<usize>(base.length, sizeof(name) - 1);
    memcpy(name, base.data, n);
    name[n] = 0;
    Result<RefPtr<Process>> created = Process::create(name);
    if (!created.ok()) return fail(created.error());
    RefPtr<Process> process = created.release_value();
    if (privileged) process->set_privileged();
    uptr bias = image.value().type == loader::kElfTypeDyn ? kPieBase : 0;
    Result<void> loaded = load_segments(process->address_space(), image.value(), entry.value().data, bias);
    if (!loaded.ok()) {
        why = "cannot map its segments";
        return fail(loaded.error());
    }
    Result<void> stack = process->address_space().map_anonymous(kStackTop - kStackPages * arch::kPageSize, kStackPages,
                                                                 arch::kPageWrite);
    if (!stack.ok()) return fail(stack.error());
    Result<Thread*> thread = create_user_thread(*process, bias + image.value().entry, kStackTop, arg, name);
    if (!thread.ok()) return fail(thread.error());
    thread_start(thread.value());
    LOG_INFO("started %s (pid %u) from the boot archive", name, process->pid());
    return process;
}

}  // namespace kernel
