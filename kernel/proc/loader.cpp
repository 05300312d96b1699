#include "proc/loader.hpp"

#include "arch/mmu.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "loader/cpio.hpp"
#include "loader/elf.hpp"
#include "proc/user_thread.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux_abi.hpp"
#include "shim/linux.hpp"
#include "mm/heap.hpp"

namespace kernel {
namespace {

using namespace shim;

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
            TRY(space.map_anonymous(page, 1, flags, root_caller_account()));  // (execve's caller)
        }
        TRY(space.write(bias + s.vaddr, file + s.offset, s.filesz));
        previous_flags = flags;
        previous_last_page = end - arch::kPageSize;
    }
    return {};
}

// Native Tessera programs carry an ELF note named "Tessera" (user/lib/start.S); anything
// else is started as a Linux program. The program headers were validated by elf_parse.
bool is_native(const u8* file, usize size) {
    u64 phoff = *reinterpret_cast<const u64*>(file + 32);
    u16 phnum = *reinterpret_cast<const u16*>(file + 56);
    for (u16 i = 0; i < phnum; ++i) {
        const u8* ph = file + phoff + u64{i} * 56;
        if (*reinterpret_cast<const u32*>(ph) != 4) continue;  // PT_NOTE
        u64 off = *reinterpret_cast<const u64*>(ph + 8);
        u64 len = *reinterpret_cast<const u64*>(ph + 32);
        if (off > size || len > size - off) continue;
        for (u64 at = 0; at + 12 <= len;) {
            const u8* note = file + off + at;
            u32 namesz = *reinterpret_cast<const u32*>(note);
            u32 descsz = *reinterpret_cast<const u32*>(note + 4);
            u64 next = 12 + align_up<u64>(namesz, 4) + align_up<u64>(descsz, 4);
            if (next > len - at) break;
            if (namesz == 8 && memcmp(note + 12, "Tessera", 8) == 0) return true;
            at += next;
        }
    }
    return false;
}

// The initial stack of a Linux program, as Linux's ELF loader lays it out: argc, argv,
// envp, the auxiliary vector, then the strings and AT_RANDOM's bytes above them.
Result<uptr> build_linux_stack(AddressSpace& space, const LinuxArguments& args, const loader::ElfImage& image,
                              uptr bias) {
    usize strings = sizeof(u64) * 2 + args.exec_path.length + 1;
    for (usize i = 0; i < args.argc; ++i) strings += strlen(args.argv[i]) + 1;
    for (usize i = 0; i < args.envc; ++i) strings += strlen(args.envp[i]) + 1;
    constexpr usize kAuxvWords = 13 * 2;
    usize words = 1 + args.argc + 1 + args.envc + 1 + kAuxvWords;
    usize area_size = align_up<usize>(strings + words * 8 + 64, arch::kPageSize);
    if (area_size > kStackPages * arch::kPageSize / 2) return Error::OutOfRange;  // E2BIG
    // Only the pages the arguments fill are mapped now: the rest of a Linux stack is the
    // memory manager's, mapped when first touched (its range reaches kLinuxStackLimit down).
    TRY(space.map_anonymous(kStackTop - area_size, area_size / arch::kPageSize, arch::kPageWrite,
                            root_caller_account()));
    auto* area = static_cast<u8*>(kmalloc(area_size));
    if (!area) return Error::NoMemory;
    memset(area, 0, area_size);
    uptr area_base = kStackTop - area_size;
    usize top = area_size;
    auto push_bytes = [&](const void* data, usize n) -> uptr {
        top -= n;
        memcpy(area + top, data, n);
        return area_base + top;
    };
    auto push_string = [&](const char* text, usize n) -> uptr {
        top -= n + 1;
        memcpy(area + top, text, n);
        area[top + n] = 0;
        return area_base + top;
    };
    uptr execfn = push_string(args.exec_path.data, args.exec_path.length);
    // Pointers are collected in the words area first and written below the strings.
    auto* argv_at = static_cast<uptr*>(kmalloc((args.argc + args.envc + 1) * sizeof(uptr)));
    if (!argv_at) {
        kfree(area);
        return Error::NoMemory;
    }
    for (usize i = 0; i < args.argc; ++i) argv_at[i] = push_string(args.argv[i], strlen(args.argv[i]));
    for (usize i = 0; i < args.envc; ++i) argv_at[args.argc + i] = push_string(args.envp[i], strlen(args.envp[i]));
    u64 random[2] = {arch::rdtsc() * 0x9e3779b97f4a7c15ull, arch::rdtsc() ^ 0xd1b54a32d192ed03ull};
    uptr random_at = push_bytes(random, sizeof(random));
    top = align_down<usize>(top, 16);

    const u64 auxv[][2] = {
        {kAtPhdr, image.phdr_vaddr ? bias + image.phdr_vaddr : 0},
        {kAtPhent, image.phentsize},
        {kAtPhnum, image.phnum},
        {kAtPagesz, arch::kPageSize},
        {kAtEntry, bias + image.entry},
        {kAtUid, 0}, {kAtEuid, 0}, {kAtGid, 0}, {kAtEgid, 0},
        {kAtSecure, 0},
        {kAtRandom, random_at},
        {kAtExecfn, execfn},
        {kAtNull, 0},
    };
    static_assert(sizeof(auxv) / sizeof(u64) == kAuxvWords);
    top -= words * 8;
    top = align_down<usize>(top, 16);  // rsp is 16-byte aligned at entry
    auto* w = reinterpret_cast<u64*>(area + top);
    usize i = 0;
    w[i++] = args.argc;
    for (usize a = 0; a < args.argc; ++a) w[i++] = argv_at[a];
    w[i++] = 0;
    for (usize e = 0; e < args.envc; ++e) w[i++] = argv_at[args.argc + e];
    w[i++] = 0;
    for (const auto& a : auxv) {
        w[i++] = a[0];
        w[i++] = a[1];
    }
    Result<void> written = space.write(area_base + top, area + top, area_size - top);
    kfree(argv_at);
    kfree(area);
    if (!written.ok()) return written.error();
    return area_base + top;
}

StringView basename(StringView path) {
    usize start = 0;
    for (usize i = 0; i < path.length; ++i)
        if (path[i] == '/') start = i + 1;
    return path.substr(start);
}

}  // namespace

Result<LinuxEntry> load_linux_image(AddressSpace& space, const u8* file, usize size, const loader::ElfImage& image,
                                    const LinuxArguments& args, const char** why, bool map_segments) {
    (void)size;
    uptr bias = image.type == loader::kElfTypeDyn ? kPieBase : 0;
    if (Result<void> r = map_segments ? load_segments(space, image, file, bias) : Result<void>{}; !r.ok()) {
        *why = "cannot map its segments";
        return r.error();
    }
    Result<uptr> rsp = build_linux_stack(space, args, image, bias);
    if (!rsp.ok()) {
        *why = rsp.error() == Error::OutOfRange ? "arguments and environment too large" : "cannot build its stack";
        return rsp.error();
    }
    uptr image_end = 0;
    for (usize i = 0; i < image.segment_count; ++i)
        image_end = max<uptr>(image_end, bias + image.segments[i].vaddr + image.segments[i].memsz);
    return LinuxEntry{bias + image.entry, rsp.value(), align_up<uptr>(image_end, arch::kPageSize), bias, kStackTop};
}

bool is_native_program(const u8* file, usize size) { return is_native(file, size); }

bool boot_archive_has(StringView path) {
    const char* why = nullptr;
    return find(path, &why).ok();
}

Result<RefPtr<Process>> spawn_from_boot_archive(StringView path, u64 arg, bool privileged, StringView linux_args,
                                                Process::ServiceHost host) {
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
    process->set_service_host(host);
    uptr entry_point;
    uptr rsp;
    if (!is_native(entry.value().data, entry.value().size)) {
        // argv: the path, then `linux_args` split at spaces.
        constexpr usize kMaxArgs = 16;
        char words[kMaxArgs][64];
        const char* argv[kMaxArgs + 1];
        usize argc = 0;
        usize n = min<usize>(path.length, sizeof(words[0]) - 1);
        memcpy(words[0], path.data, n);
        words[0][n] = 0;
        argv[argc++] = words[0];
        StringView rest = linux_args;
        while (!rest.empty() && argc < kMaxArgs) {
            usize space_at = rest.find(' ');
            StringView word = rest.substr(0, space_at);
            rest = rest.substr(space_at == rest.length ? space_at : space_at + 1);
            if (word.empty() || word.length >= sizeof(words[0])) continue;
            memcpy(words[argc], word.data, word.length);
            words[argc][word.length] = 0;
            argv[argc] = words[argc];
            ++argc;
        }
        const char* const env[] = {"HOME=/", "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "TERM=linux"};
        LinuxArguments args{argv, argc, env, 3, path};
        shim::LinuxProcess* state = shim::create_initial_linux_state(*process, path, argv, argc);
        if (!state) return fail(Error::NoMemory);
        Result<LinuxEntry> loaded = load_linux_image(process->address_space(), entry.value().data, entry.value().size,
                                                     image.value(), args, &why);
        if (!loaded.ok()) return fail(loaded.error());
        if (!shim::setup_linux_memory(*state, image.value(), loaded.value())) return fail(Error::NoMemory);
        entry_point = loaded.value().entry;
        rsp = loaded.value().stack_pointer;
        arg = 0;  // Linux entry: rdi is unspecified, rdx = 0 (no dynamic-linker fini)
    } else {
        uptr bias = image.value().type == loader::kElfTypeDyn ? kPieBase : 0;
        Result<void> loaded = load_segments(process->address_space(), image.value(), entry.value().data, bias);
        if (!loaded.ok()) {
            why = "cannot map its segments";
            return fail(loaded.error());
        }
        Result<void> stack = process->address_space().map_anonymous(kStackTop - kStackPages * arch::kPageSize,
                                                                     kStackPages, arch::kPageWrite);
        if (!stack.ok()) return fail(stack.error());
        entry_point = bias + image.value().entry;
        rsp = kStackTop;
    }
    Result<Thread*> thread = create_user_thread(*process, entry_point, rsp, arg, name);
    if (!thread.ok()) return fail(thread.error());
    thread_start(thread.value());
    LOG_INFO("started %s (pid %u) from the boot archive", name, process->pid());
    return process;
}

}  // namespace kernel
