#include "ic1/domain.hpp"

#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "arch/pks.hpp"
#include "debug/log.hpp"
#include "ic1/scanner.hpp"
#include "lib/format.hpp"
#include "ipc/fastpath.hpp"
#include "ipc/registry.hpp"
#include "loader/elf.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "time/clock.hpp"

extern "C" i64 ic1_gate_call(u64 service, tessera::service::Message& message);
extern "C" i64 ic1_gate_lookup(const char* name);
extern "C" u64 ic1_gate_clock_ns();
extern "C" void ic1_gate_log(const char* text);
extern "C" void* ic1_gate_alloc(u64 bytes);
extern "C" i64 ic1_gate_host(u64 op, u64 a, u64 b, u64 c, u64 d);
extern "C" bool ic1_call6(arch::FaultRecovery* recovery, u64 function, const u64* arguments, uptr stack_top, u64 pkrs,
                          u64* result);

namespace kernel::ic1 {
namespace {

using tessera::service::Message;
using tessera::service::Module;

SpinLock g_domains_lock;
Domain* g_domains[arch::kLastDomainKey + 1] TA_GUARDED(g_domains_lock);

// The domain whose code the current thread runs (set by invoke for the duration).
Domain* current_domain() { return static_cast<Domain*>(current_thread()->ic1_domain); }

// Message copies word by word: a string copy costs one instruction per byte under QEMU's
// instruction counting and is no faster on hardware for 56 bytes.
void copy_message(Message& to, const Message& from) {
    for (int i = 0; i < 6; ++i) to.words[i] = from.words[i];
    to.caller_pid = from.caller_pid;
}

// A handler stack for `domain`: this thread's cached one if it has it, else the pool's.
Result<uptr> take_thread_stack(Thread* t, Domain* domain) {
    for (auto& slot : t->ic1_stacks)
        if (slot.domain == domain) {
            slot.domain = nullptr;  // in use until returned (a nested call to the same domain takes another)
            return slot.top;
        }
    return domain->take_stack();
}

void return_thread_stack(Thread* t, Domain* domain, uptr top) {
    if (domain->is_reserved_stack(top)) return domain->return_stack(top);  // never kept by a thread
    for (auto& slot : t->ic1_stacks)
        if (!slot.domain) {
            slot.domain = domain;
            slot.top = top;
            return;
        }
    domain->return_stack(top);
}

u32 segment_flags(const loader::ElfSegment& s, u32 key) {
    return (s.write ? arch::kPageWrite : 0) | (s.execute ? arch::kPageExecute : 0) | arch::kPageGlobal |
           arch::page_key(key);
}

// Applies the image's R_X86_64_RELATIVE relocations (the only kind a static PIE has).
Result<void> relocate(const u8* file, usize file_size, uptr base, uptr image_size, const char** why) {
    // Program headers were validated by elf_parse; find PT_DYNAMIC.
    u64 phoff = *reinterpret_cast<const u64*>(file + 32);
    u16 phnum = *reinterpret_cast<const u16*>(file + 56);
    u64 dyn_vaddr = 0, dyn_size = 0;
    for (u16 i = 0; i < phnum; ++i) {
        const u8* ph = file + phoff + u64{i} * 56;
        if (*reinterpret_cast<const u32*>(ph) == 2) {  // PT_DYNAMIC
            dyn_vaddr = *reinterpret_cast<const u64*>(ph + 16);
            dyn_size = *reinterpret_cast<const u64*>(ph + 40);
        }
    }
    (void)file_size;
    if (!dyn_vaddr) return {};  // nothing to relocate
    if (dyn_vaddr > image_size || dyn_size > image_size - dyn_vaddr) {
        *why = "PT_DYNAMIC outside the image";
        return Error::Corrupt;
    }
    u64 rela = 0, rela_size = 0, rela_entry = 24;
    for (u64 off = 0; off + 16 <= dyn_size; off += 16) {
        auto* d = reinterpret_cast<const u64*>(base + dyn_vaddr + off);
        if (d[0] == 0) break;
        if (d[0] == 7) rela = d[1];
        if (d[0] == 8) rela_size = d[1];
        if (d[0] == 9) rela_entry = d[1];
    }
    if (!rela_size) return {};
    if (rela_entry != 24 || rela > image_size || rela_size > image_size - rela) {
        *why = "relocation table outside the image";
        return Error::Corrupt;
    }
    for (u64 off = 0; off < rela_size; off += 24) {
        auto* r = reinterpret_cast<const u64*>(base + rela + off);
        u64 offset = r[0], info = r[1], addend = r[2];
        if ((info & 0xffffffff) != 8) {  // R_X86_64_RELATIVE
            *why = "unsupported relocation type (only R_X86_64_RELATIVE in a static PIE)";
            return Error::Unsupported;
        }
        if (offset > image_size - 8 || addend >= image_size) {
            *why = "relocation outside the image";
            return Error::Corrupt;
        }
        *reinterpret_cast<u64*>(base + offset) = base + addend;
    }
    return {};
}

// A fault inside `domain` (recorded in `recovery`): the domain dies, saying why.
[[gnu::noinline]] void kill_after_fault(Domain& domain, const arch::FaultRecovery& recovery) {
    char reason[96];
    bool pk = recovery.vector == arch::vector::kPageFault && (recovery.error_code & (1u << 5));
    snformat(reason, sizeof(reason), "%s%s at rip %p, address %p", arch::exception_name(recovery.vector),
             pk ? " (protection key)" : "", reinterpret_cast<void*>(recovery.fault_rip),
             reinterpret_cast<void*>(recovery.fault_address));
    domain.kill(reason);
}

// Runs function(arguments) in `domain` on `stack_top` (ic1_call6, which sets the recovery
// point itself: this is the IC1 call path and every instruction counts). A fault inside
// kills the domain and returns false.
bool enter_domain(Domain& domain, uptr function, const u64 (&arguments)[6], uptr stack_top, u64* result) {
    Thread* t = current_thread();
    void* saved_domain = t->ic1_domain;
    t->ic1_domain = &domain;
    arch::FaultRecovery recovery;
    recovery.faulted = false;
    arch::FaultRecovery* outer = t->fault_recovery;
    t->fault_recovery = &recovery;
    bool faulted = ic1_call6(&recovery, function, arguments, stack_top, domain.pkrs(), result);
    t->fault_recovery = outer;
    t->ic1_domain = saved_domain;
    if (faulted) kill_after_fault(domain, recovery);
    return !faulted;
}

}  // namespace

void Domain::kill(const char* why) {
    if (dead()) return;
    LOG_ERROR("ic1: domain %s (key %u) killed: %s; its callers get kErrCalleeFailed", name_, key_, why);
    process_->mark_dead(-1);
}

void Domain::add_local_name(StringView name, u64 entry) {
    tessera::service::Module& m = *module_;
    if (m.local_count >= tessera::service::kMaxLocalNames || name.length >= sizeof(m.local[0].name)) return;
    tessera::service::LocalName& slot = m.local[m.local_count];
    memcpy(slot.name, name.data, name.length);
    slot.name[name.length] = 0;
    slot.entry = entry;
    ++m.local_count;
}

Result<uptr> Domain::window_slots(usize pages) {
    constexpr usize kSlots = (kDomainSpan - kWindowOffset) / arch::kPageSize;
    if (!window_used_) {
        window_used_ = static_cast<u64*>(kmalloc(kSlots / 8));
        if (!window_used_) return Error::NoMemory;
        memset(window_used_, 0, kSlots / 8);
    }
    // Next fit from the hint: a run of `pages` clear bits.
    for (usize tries = 0, at = window_hint_; tries < kSlots; ++tries, at = (at + 1) % kSlots) {
        if (at + pages > kSlots) {
            at = kSlots - 1;
            continue;
        }
        usize n = 0;
        while (n < pages && !(window_used_[(at + n) / 64] & (u64{1} << ((at + n) % 64)))) ++n;
        if (n < pages) {
            tries += n;
            at += n;
            continue;
        }
        for (usize i = 0; i < pages; ++i) window_used_[(at + i) / 64] |= u64{1} << ((at + i) % 64);
        window_hint_ = (at + pages) % kSlots;
        return base_ + kWindowOffset + at * arch::kPageSize;
    }
    return Error::NoMemory;
}

Result<uptr> Domain::map_frame(u64 phys, bool writable) {
    IrqSpinLockGuard guard(lock_);
    uptr va = TRY(window_slots(1));
    u32 flags = (writable ? arch::kPageWrite : 0) | arch::kPageGlobal | arch::page_key(key_);
    if (!arch::kernel_page_table().map(va, phys, flags).ok()) {
        usize slot = (va - base_ - kWindowOffset) / arch::kPageSize;
        window_used_[slot / 64] &= ~(u64{1} << (slot % 64));
        return Error::NoMemory;
    }
    return va;
}

u64 Domain::unmap_frame(uptr va) {
    if (!in_window(va)) return 0;
    va = align_down<uptr>(va, arch::kPageSize);
    u64 phys;
    {
        IrqSpinLockGuard guard(lock_);
        Result<u64> found = arch::kernel_page_table().translate(va);
        if (!found.ok()) return 0;
        phys = found.value();
        bool owned = false;
        (void)arch::kernel_page_table().unmap(va, &owned);
        usize slot = (va - base_ - kWindowOffset) / arch::kPageSize;
        window_used_[slot / 64] &= ~(u64{1} << (slot % 64));
    }
    arch::tlb_shootdown(va, 1);
    return phys;
}

u64 Domain::frame_at(uptr va) const {
    if (!in_window(va)) return 0;
    Result<u64> found = arch::kernel_page_table().translate(align_down<uptr>(va, arch::kPageSize));
    return found.ok() ? found.value() : 0;
}

Result<uptr> Domain::map_range(u64 phys, usize bytes, bool writable) {
    usize offset = phys % arch::kPageSize;
    usize pages = align_up<usize>(bytes + offset, arch::kPageSize) / arch::kPageSize;
    IrqSpinLockGuard guard(lock_);
    uptr va = TRY(window_slots(pages));
    u64 first = phys - offset;
    for (usize i = 0; i < pages; ++i)
        if (!arch::kernel_page_table()
                 .map(va + i * arch::kPageSize, first + i * arch::kPageSize,
                      (writable ? arch::kPageWrite : 0) | arch::kPageGlobal | arch::page_key(key_))
                 .ok())
            return Error::NoMemory;  // (the window stays taken: this is boot-time setup)
    return va + offset;
}

Result<uptr> Domain::take_stack() {
    {
        IrqSpinLockGuard guard(lock_);
        if (stack_count_) return stacks_[--stack_count_];
    }
    Result<uptr> made = map_new_stack();
    if (made.ok()) return made;
    IrqSpinLockGuard guard(lock_);
    if (reserved_stack_ && !reserved_in_use_) {
        reserved_in_use_ = true;
        return reserved_stack_;
    }
    return made.error();
}

Result<uptr> Domain::map_new_stack() {
    uptr base;
    {
        IrqSpinLockGuard guard(lock_);
        base = next_stack_;
        next_stack_ += stack_size_ + arch::kPageSize;  // a guard page below each stack
        if (next_stack_ > base_ + kHeapOffset) return Error::NoMemory;
    }
    for (uptr va = base; va < base + stack_size_; va += arch::kPageSize) {
        u64 phys = TRY(mm::alloc_page_phys());
        if (!arch::kernel_page_table().map(va, phys, arch::kPageWrite | arch::kPageGlobal | arch::page_key(key_)).ok()) {
            mm::free_page_phys(phys);
            return Error::NoMemory;
        }
    }
    return base + stack_size_;
}

Result<uptr> Domain::allocate(usize bytes) {
    if (bytes == 0 || bytes > 64 * MiB) return Error::InvalidArgument;
    usize size = align_up<usize>(bytes, arch::kPageSize);
    uptr base;
    {
        IrqSpinLockGuard guard(lock_);
        base = next_heap_;
        if (size > base_ + kWindowOffset - base) return Error::NoMemory;
        next_heap_ += size;
    }
    for (uptr va = base; va < base + size; va += arch::kPageSize) {
        u64 phys = TRY(mm::alloc_page_phys());
        if (!arch::kernel_page_table().map(va, phys, arch::kPageWrite | arch::kPageGlobal | arch::page_key(key_)).ok()) {
            mm::free_page_phys(phys);
            return Error::NoMemory;
        }
    }
    return base;
}

void Domain::return_stack(uptr top) {
    IrqSpinLockGuard guard(lock_);
    if (top == reserved_stack_) {
        reserved_in_use_ = false;
        return;
    }
    if (stack_count_ < 64) stacks_[stack_count_++] = top;
}

Result<Domain*> load_module(StringView name, const u8* image, usize size, usize stack_size) {
    const char* why = nullptr;
    auto fail = [&](Error e) -> Result<Domain*> {
        LOG_ERROR("ic1: cannot load %.*s: %s", static_cast<int>(name.length), name.data, why ? why : error_name(e));
        return e;
    };
    if (!arch::pks_available()) {
        why = "the CPU has no PKS";
        return fail(Error::Unsupported);
    }
    Result<loader::ElfImage> parsed = loader::elf_parse(image, size, &why);
    if (!parsed.ok()) return fail(parsed.error());
    const loader::ElfImage& elf = parsed.value();
    if (elf.type != loader::kElfTypeDyn || elf.has_interp || elf.has_tls) {
        why = "not a static PIE without TLS";
        return fail(Error::Unsupported);
    }
    uptr image_size = 0;
    for (usize i = 0; i < elf.segment_count; ++i) {
        const loader::ElfSegment& s = elf.segments[i];
        if (s.write && s.execute) {
            why = "a segment is both writable and executable (W^X)";
            return fail(Error::Unsupported);
        }
        image_size = max<uptr>(image_size, align_up<uptr>(s.vaddr + s.memsz, arch::kPageSize));
        if (s.execute) {
            ScanFinding finding{};
            // See ic1/scanner.hpp: the any-offset rules reject ordinary compiled code (privileged
            // encodings turn up inside ModRM, SIB and displacement bytes); the loader checks every
            // instruction the module's code is made of. What a jump into the middle of an
            // instruction could reach stays open until CET-IBT, with the jump into kernel text.
            if (!scan_executable_bytes(image + s.offset, s.filesz, &finding, ScanMode::Instructions)) {
                LOG_ERROR("ic1: %.*s: privileged instruction %s at file offset 0x%lx", static_cast<int>(name.length),
                          name.data, finding.instruction, static_cast<unsigned long>(s.offset + finding.offset));
                why = "holds a privileged instruction encoding";
                return fail(Error::InvalidArgument);
            }
        }
    }
    if (image_size > kImageLimit) {
        why = "image larger than 64 MiB";
        return fail(Error::OutOfRange);
    }

    u32 key = 0;
    auto* domain = knew<Domain>();
    if (!domain) return fail(Error::NoMemory);
    {
        IrqSpinLockGuard guard(g_domains_lock);
        for (u32 k = arch::kFirstDomainKey; k <= arch::kLastDomainKey && !key; ++k)
            if (!g_domains[k]) key = k;
        if (key) g_domains[key] = domain;
    }
    if (!key) {
        kdelete(domain);
        why = "no protection key left (14 IC1 domains at most)";
        return fail(Error::OutOfRange);
    }
    domain->key_ = key;
    domain->pkrs_ = arch::pkrs_for_domain(key);
    domain->stack_size_ = align_up<usize>(max<usize>(stack_size, kStackSize), arch::kPageSize);
    usize n = min<usize>(name.length, sizeof(domain->name_) - 1);
    memcpy(domain->name_, name.data, n);
    domain->base_ = kRegionBase + u64{key} * kDomainSpan;
    domain->image_end_ = domain->base_ + image_size;
    {
        IrqSpinLockGuard guard(domain->lock_);
        domain->next_stack_ = domain->base_ + kImageLimit;
        domain->next_heap_ = domain->base_ + kHeapOffset;
    }
    Result<RefPtr<Process>> process = Process::create(domain->name_);
    if (!process.ok()) return fail(process.error());
    domain->process_ = process.release_value();
    domain->process_->set_privileged();
    domain->process_->set_kernel_resident();

    // Map writable first (the kernel copies and relocates), then set each page's final
    // permissions. Pages shared by two segments get the union (the ELF allows a boundary
    // page to be both, e.g. text end and rodata start).
    uptr base = domain->base_;
    arch::PageTable& kernel = arch::kernel_page_table();
    for (uptr va = base; va < base + image_size; va += arch::kPageSize) {
        Result<u64> phys = mm::alloc_page_phys();
        if (!phys.ok() || !kernel.map(va, phys.value(), arch::kPageWrite | arch::kPageGlobal | arch::page_key(key)).ok())
            return fail(Error::NoMemory);
    }
    for (usize i = 0; i < elf.segment_count; ++i)
        memcpy(reinterpret_cast<void*>(base + elf.segments[i].vaddr), image + elf.segments[i].offset, elf.segments[i].filesz);
    if (!relocate(image, size, base, image_size, &why).ok()) return fail(Error::Corrupt);
    for (uptr va = base; va < base + image_size; va += arch::kPageSize) {
        u32 flags = arch::kPageGlobal | arch::page_key(key);
        for (usize i = 0; i < elf.segment_count; ++i) {
            const loader::ElfSegment& s = elf.segments[i];
            if (va + arch::kPageSize > base + s.vaddr && va < base + s.vaddr + s.memsz) flags |= segment_flags(s, key);
        }
        if ((flags & arch::kPageWrite) && (flags & arch::kPageExecute)) {
            why = "a page is shared by writable and executable segments (W^X)";
            return fail(Error::Unsupported);
        }
        (void)kernel.protect(va, flags);
    }
    arch::tlb_shootdown(base, image_size / arch::kPageSize);

    Result<uptr> reserved = domain->map_new_stack();
    if (!reserved.ok()) return fail(reserved.error());
    domain->reserved_stack_ = reserved.value();

    // The entry point returns the module descriptor; it runs inside the domain already.
    Message scratch{};
    u64 descriptor = 0;
    i64 status = invoke(domain, base + elf.entry, scratch, &descriptor);
    if (status != tessera::kOk || !domain->contains(descriptor, sizeof(Module)) || descriptor >= domain->image_end_) {
        why = "its entry point did not return a module descriptor";
        return fail(Error::Corrupt);
    }
    auto* module = reinterpret_cast<Module*>(descriptor);
    if (module->magic != tessera::service::kModuleMagic || module->count > kMaxEntries ||
        !domain->contains(reinterpret_cast<uptr>(module->entries), module->count * sizeof(tessera::service::Entry))) {
        why = "bad module descriptor";
        return fail(Error::Corrupt);
    }
    module->runtime = {ic1_gate_call, ic1_gate_lookup, ic1_gate_clock_ns, ic1_gate_log, ic1_gate_alloc, ic1_gate_host};
    module->local_count = 0;
    domain->module_ = module;
    LOG_INFO("ic1: loaded %s into PKS domain %u at %p (%zu KiB, %llu handlers)", domain->name_, key,
             reinterpret_cast<void*>(base), image_size / KiB, static_cast<unsigned long long>(module->count));
    return domain;
}

i64 invoke(Domain* domain, uptr handler, Message& message, u64* result) {
    if (!domain) {
        // IC0: a plain function call.
        reinterpret_cast<tessera::service::Handler>(handler)(message);
        return tessera::kOk;
    }
    if (domain->dead()) return tessera::kErrDead;
    Thread* t = current_thread();
    Result<uptr> stack = take_thread_stack(t, domain);
    if (!stack.ok()) return tessera::kErrNoMemory;
    // The message travels on the handler's stack, inside the domain.
    uptr message_at = align_down<uptr>(stack.value() - sizeof(Message), 16);
    copy_message(*reinterpret_cast<Message*>(message_at), message);
    const u64 arguments[6] = {message_at, 0, 0, 0, 0, 0};
    u64 returned = 0;
    if (!enter_domain(*domain, handler, arguments, message_at, &returned))
        return tessera::kErrCalleeFailed;  // the stack is abandoned with the domain
    copy_message(message, *reinterpret_cast<Message*>(message_at));
    return_thread_stack(t, domain, stack.value());
    if (result) *result = returned;
    return tessera::kOk;
}

DomainCall::DomainCall(Domain& domain) : domain_(domain) {
    constexpr usize kRunSpace = 16 * KiB;  // what the called code keeps for itself
    Result<uptr> stack = take_thread_stack(current_thread(), &domain);
    if (!stack.ok()) return;
    top_ = cursor_ = stack.value();
    floor_ = top_ - domain.stack_size() + kRunSpace;
}

DomainCall::~DomainCall() {
    if (top_ && !abandoned_) return_thread_stack(current_thread(), &domain_, top_);
}

i64 DomainCall::call(uptr function, const u64 (&arguments)[6], u64* result) {
    if (!top_) return tessera::kErrNoMemory;
    if (domain_.dead()) return tessera::kErrDead;
    if (enter_domain(domain_, function, arguments, align_down<uptr>(cursor_, 16), result)) return tessera::kOk;
    abandoned_ = true;
    return tessera::kErrCalleeFailed;
}

// --- the runtime, kernel side --------------------------------------------------------------

namespace {

i64 call_service(Process& caller, u64 handle, Message& message) {
    Result<RefPtr<Service>> found = caller.handles().get<Service>(handle, tessera::kRightCall);
    if (!found.ok()) return tessera::kErrBadHandle;
    Service& target = *found.value();
    if (target.dead()) return tessera::kErrDead;
    if (target.placement() == Placement::User) return ipc_upcall(target, &message);
    return invoke(target.domain(), target.entry(), message);
}

i64 lookup_service(Process& caller, StringView name) {
    RefPtr<Service> found = find_service(name);
    if (!found) return tessera::kErrBadHandle;
    Result<Handle> h = caller.handles().add(found.get(), tessera::kRightCall | tessera::kRightDuplicate);
    return h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources;
}

// Copies a NUL-terminated string out of a domain; false if it is not all inside it.
bool copy_domain_string(Domain& d, const char* text, char* out, usize size) {
    uptr at = reinterpret_cast<uptr>(text);
    for (usize i = 0; i < size; ++i) {
        if (!d.contains(at + i, 1)) return false;
        out[i] = text[i];
        if (!out[i]) return true;
    }
    out[size - 1] = 0;
    return true;
}

Process& ic0_process();

}  // namespace
void release_thread_stacks(Thread* t) {
    for (auto& slot : t->ic1_stacks)
        if (slot.domain) {
            static_cast<Domain*>(slot.domain)->return_stack(slot.top);
            slot.domain = nullptr;
        }
}

}  // namespace kernel::ic1

using namespace kernel;
using namespace kernel::ic1;

// Reached through the runtime gates with the kernel's rights, on the kernel stack.
extern "C" i64 ic1_runtime_call(u64 handle, Message* message) {
    Domain* d = current_domain();
    if (!d || !d->contains(reinterpret_cast<uptr>(message), sizeof(Message))) return tessera::kErrFault;
    // The message stays in the caller's domain: the kernel copies it straight to the
    // callee's stack and back (the caller can only race with itself over it).
    return call_service(d->process(), handle, *message);
}

extern "C" i64 ic1_runtime_lookup(const char* name) {
    Domain* d = current_domain();
    char copy[32];
    if (!d || !copy_domain_string(*d, name, copy, sizeof(copy))) return tessera::kErrFault;
    return lookup_service(d->process(), StringView(copy));
}

extern "C" u64 ic1_runtime_clock_ns() { return uptime_ns(); }

extern "C" i64 ic1_runtime_host(u64 op, u64 a, u64 b, u64 c, u64 d) {
    Domain* domain = current_domain();
    if (!domain || !domain->host()) return tessera::kErrNoSyscall;
    return domain->host()(*domain, op, a, b, c, d);
}

extern "C" void* ic1_runtime_alloc(u64 bytes) {
    Domain* d = current_domain();
    if (!d) return nullptr;
    Result<uptr> va = d->allocate(bytes);
    return va.ok() ? reinterpret_cast<void*>(va.value()) : nullptr;
}

extern "C" void ic1_runtime_log(const char* text) {
    Domain* d = current_domain();
    char copy[160];
    if (d && copy_domain_string(*d, text, copy, sizeof(copy))) LOG_INFO("[%s] %s", d->name(), copy);
}

// IC0: the kernel's own runtime for services linked into it.
namespace kernel::ic1 {
namespace {

Process* g_ic0_process = nullptr;
Process& ic0_process() { return *g_ic0_process; }

i64 ic0_call(u64 handle, Message& message) { return call_service(ic0_process(), handle, message); }
i64 ic0_lookup(const char* name) { return lookup_service(ic0_process(), StringView(name)); }
u64 ic0_clock_ns() { return uptime_ns(); }
void ic0_log(const char* text) { LOG_INFO("[ic0] %s", text); }
void* ic0_alloc(u64 bytes) {
    if (bytes == 0 || bytes > 4 * MiB) return nullptr;
    unsigned order = 0;
    while ((arch::kPageSize << order) < bytes) ++order;
    Result<u64> phys = mm::alloc_pages_phys(order);  // zeroed
    return phys.ok() ? arch::phys_to_ptr<void>(phys.value()) : nullptr;
}

i64 ic0_host(u64, u64, u64, u64, u64) { return tessera::kErrNoSyscall; }

const tessera::service::Runtime kIc0Runtime{ic0_call, ic0_lookup, ic0_clock_ns, ic0_log, ic0_alloc, ic0_host};

}  // namespace

const tessera::service::Runtime& kernel_runtime() { return kIc0Runtime; }
Process& ic0_process_ref() { return ic0_process(); }

Result<void> ic0_init() {
    RefPtr<Process> p = TRY(Process::create("ic0"));
    p->set_privileged();
    p->set_kernel_resident();
    g_ic0_process = p.leak();
    return {};
}

}  // namespace kernel::ic1

namespace tessera::service {
const Runtime& runtime() { return kernel::ic1::kernel_runtime(); }
}  // namespace tessera::service
