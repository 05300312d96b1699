// Boot: from the PVH entry to every CPU running the scheduler. The order matters and each
// step says what the next one needs.

#include "acpi/platform.hpp"
#include "arch/cpu.hpp"
#include "arch/debug_exit.hpp"
#include "arch/interrupts.hpp"
#include "arch/ioapic.hpp"
#include "arch/lapic.hpp"
#include "arch/mmu.hpp"
#include "arch/pks.hpp"
#include "arch/pvh.hpp"
#include "arch/serial.hpp"
#include "arch/smp.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "debug/panic.hpp"
#include "debug/symbols.hpp"
#include "ktest/ktest.hpp"
#include "lib/cmdline.hpp"
#include "loader/cpio.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "arch/user.hpp"
#include "ipc/service.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "mm/user_pages.hpp"
#include "shim/linux.hpp"
#include "time/clock.hpp"

extern "C" char boot_stack_bottom[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();
extern "C" char __kernel_start[], __kernel_end[];

namespace kernel {
namespace {

CommandLine g_cmdline;
BootInfo g_boot;

// A boot that cannot continue: say why, then leave QEMU with a distinct code (tools/run
// reports it) or halt on real hardware.
[[noreturn]] void boot_failure(const char* what) {
    kprintf("\ntessera: boot failed: %s\n", what);
    arch::debug_exit(kBootFailureExitCode);
    arch::halt_forever();
}

u64 alloc_page_table_page() {
    Result<u64> page = mm::alloc_page_phys();
    return page.ok() ? page.value() : 0;
}
void free_page_table_page(u64 phys) { mm::free_page_phys(phys); }

void timer_vector(arch::TrapFrame&) { timer_interrupt(); }
void reschedule_vector(arch::TrapFrame&) { current_cpu().need_resched = true; }

void ap_main(Cpu* cpu) {
    cpu_install(*cpu);
    LOG_DEBUG("cpu%u entered the kernel", cpu->index);
    arch::enable_cpu_features();
    arch::load_descriptor_tables(cpu->arch);
    arch::pks_init_cpu();
    arch::syscall_init_cpu();
    arch::fpu_init_cpu();
    arch::lapic_enable();
    uptr rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    scheduler_init_cpu(cpu->index, align_down<uptr>(rsp, kKernelStackSize));
    __atomic_fetch_add(&g_cpus_online, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&cpu->online, true, __ATOMIC_RELEASE);
    LOG_INFO("cpu%u online (APIC id %u)", cpu->index, cpu->apic_id);
    scheduler_run_idle("idle");
}

void setup_cpus(const acpi::AcpiInfo* acpi) {
    Cpu& bsp = g_cpus[0];
    bsp.apic_id = arch::lapic_id();
    u64 max_cpus = kMaxCpus;
    if (g_cmdline.get_u64("maxcpus", &max_cpus) && max_cpus == 0) max_cpus = 1;
    g_cpu_count = 1;
    if (!acpi) return;
    for (usize i = 0; i < acpi->madt.cpu_count && g_cpu_count < max_cpus && g_cpu_count < kMaxCpus; ++i) {
        u32 id = acpi->madt.cpu_apic_ids[i];
        if (id == bsp.apic_id) continue;
        Cpu& cpu = g_cpus[g_cpu_count];
        cpu.index = g_cpu_count++;
        cpu.apic_id = id;
    }
    if (acpi->madt.cpus_dropped) LOG_WARN("smp: %zu CPUs beyond the supported %zu ignored", acpi->madt.cpus_dropped, kMaxCpus);
}

// crash=pagefault: a deliberate kernel fault, so tests can check what a fault report says.
[[gnu::noinline]] void deliberate_page_fault() {
    volatile u64* bad = reinterpret_cast<volatile u64*>(0xffff9ffffffff000);  // nothing is mapped there
    *bad = 0xdead;
}

u64 g_entry_tsc = 0;

// Boot services: the programs named in the archive's etc/boot-services (one path per
// line), started before init. A bad entry is reported and skipped.
void start_boot_services() {
    const BootInfo& boot = boot_info();
    if (!boot.initrd_size) return;
    const char* why = nullptr;
    Result<loader::CpioEntry> list =
        loader::cpio_find(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, "etc/boot-services", &why);
    if (!list.ok()) {
        if (list.error() != Error::NotFound) LOG_ERROR("boot archive unreadable: %s", why ? why : "?");
        return;
    }
    StringView rest(reinterpret_cast<const char*>(list.value().data), list.value().size);
    while (!rest.empty()) {
        usize nl = rest.find('\n');
        StringView line = rest.substr(0, nl);
        rest = rest.substr(nl == rest.length ? nl : nl + 1);
        if (line.empty() || line[0] == '#') continue;
        (void)spawn_from_boot_archive(line, 0, true);  // errors are logged with the file name
    }
}

// Runs init and ends the machine when it exits, with its exit code as the result.
void run_init(StringView path) {
    u64 arg = 0;
    (void)g_cmdline.get_u64("initarg", &arg);
    StringView args;
    (void)g_cmdline.get("initargs", &args);
    Result<RefPtr<Process>> init = spawn_from_boot_archive(path, arg, true, args);
    if (!init.ok()) {
        kprintf("tessera: cannot start init (%.*s)\n", static_cast<int>(path.length), path.data);
        arch::debug_exit(kBootFailureExitCode);
        return;
    }
    while (!init.value()->dead()) sleep_ns(5 * kNsPerMs);
    i64 code = init.value()->exit_code();
    kprintf("tessera: init exited with code %lld\n", static_cast<long long>(code));
    arch::debug_exit(code == 0 ? 0 : 1);
    kprintf("tessera: power off\n");
    arch::acpi_power_off();
}

void init_thread(void*) {
    // Under --icount guest time is one nanosecond per instruction, so these are also
    // instruction counts.
    u64 now = arch::rdtsc();
    LOG_INFO("all %u CPUs online: %llu us after kernel entry, %llu us after reset", g_cpus_online,
             (unsigned long long)(tsc_to_ns(now - g_entry_tsc) / 1000), (unsigned long long)(tsc_to_ns(now) / 1000));
    kprintf("tessera: all %u CPUs online\n", g_cpus_online);
    if (g_boot.initrd_size)
        LOG_INFO("initrd: %llu KiB at %llx",
                 (unsigned long long)(g_boot.initrd_size / KiB), (unsigned long long)g_boot.initrd_phys);
    else
        LOG_WARN("no initrd was passed (-initrd): no services, no init");

    mm::user_pages_init();  // the zero page, the PCache and the OPLog (ktests use them too)
    StringView filter;
    if (g_cmdline.get("ktest", &filter)) {
        char name[128];
        usize n = min<usize>(filter.length, sizeof(name) - 1);
        memcpy(name, filter.data, n);
        name[n] = 0;
        u32 passed = 0;
        u32 failed = ktest::run_tests(n ? name : "all", &passed);
        arch::debug_exit(failed ? 1 : 0);
        arch::acpi_power_off();
        return;
    }
    StringView crash;
    if (g_cmdline.get("crash", &crash)) {
        if (crash == StringView("pagefault")) deliberate_page_fault();
        if (crash == StringView("panic")) panic("crash=panic requested on the command line");
        LOG_ERROR("crash=%.*s: unknown kind (pagefault, panic)", static_cast<int>(crash.length), crash.data);
    }
    ipc_init();
    compose_services();
    if (g_boot.initrd_size) shim::linux_boot();  // the FS service and the console tty
    start_boot_services();
    StringView init_path("sbin/init");
    bool explicit_init = g_cmdline.get("init", &init_path);
    if (explicit_init || boot_archive_has(init_path)) {
        run_init(init_path);
        return;
    }
    if (g_cmdline.has("poweroff")) {
        kprintf("tessera: power off\n");
        arch::acpi_power_off();
        sleep_ns(500 * kNsPerMs);  // QEMU stops the machine asynchronously
        LOG_ERROR("ACPI S5 power-off did not take effect");
        arch::debug_exit(0);
        return;
    }
    boot_monitor(g_cmdline);
}

}  // namespace

const CommandLine& kernel_command_line() { return g_cmdline; }
const BootInfo& boot_info() { return g_boot; }

}  // namespace kernel

extern "C" [[noreturn]] void kernel_main(u32 start_info_phys) {
    using namespace kernel;
    g_entry_tsc = arch::rdtsc();
    // Global constructors (intrusive list heads in per-CPU data and the like).
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
    // Per-CPU data next: logging reads the CPU index through GS.
    g_cpus[0].index = 0;
    cpu_install(g_cpus[0]);
    arch::serial_init();
    kprintf("\nTessera microkernel (x86_64), %zu symbols embedded\n", symbol_count());

    // The boot tables identity-map the first GiB, where QEMU puts hvm_start_info.
    if (start_info_phys == 0 || start_info_phys >= GiB ||
        reinterpret_cast<const arch::HvmStartInfo*>(static_cast<uptr>(start_info_phys))->magic != arch::kHvmStartMagic)
        boot_failure("not started through the PVH boot protocol (no hvm_start_info)");
    Result<void> parsed = parse_boot_info(*reinterpret_cast<const arch::HvmStartInfo*>(static_cast<uptr>(start_info_phys)),
                                          start_info_phys, &g_boot, &g_cmdline);
    if (!parsed.ok()) boot_failure(g_boot.error);
    report_command_line(g_cmdline);

    arch::detect_cpu_features();
    arch::enable_cpu_features();
    arch::idt_init();
    arch::load_descriptor_tables(g_cpus[0].arch);
    arch::syscall_init_cpu();
    arch::fpu_init_cpu();
    const arch::CpuFeatures& f = arch::g_cpu_features;
    LOG_INFO("cpu: nx=%d smep=%d smap=%d pcid=%d invpcid=%d fsgsbase=%d pks=%d xsave=%d x2apic=%d", f.nx, f.smep,
             f.smap, f.pcid, f.invpcid, f.fsgsbase, f.pks, f.xsave, f.x2apic);

    arch::paging_init(g_boot.ram, g_boot.ram_count);
    arch::pks_init_cpu();
    if (!mm::physical_init(g_boot.memory).ok()) boot_failure("not enough usable memory (see the mm: line above)");
    arch::set_page_table_allocator(alloc_page_table_page, free_page_table_page);
    arch::paging_populate_kernel_half();
    heap_init();

    const acpi::AcpiInfo* acpi = nullptr;
    if (acpi::platform_init(g_boot.rsdp_phys).ok())
        acpi = acpi::platform_info();
    else
        LOG_WARN("acpi: continuing with one CPU, the PIT and the default LAPIC address");

    // Legacy 8259 PICs: mask everything, the IOAPIC routes device interrupts.
    arch::outb(0x21, 0xff);
    arch::outb(0xa1, 0xff);
    arch::lapic_init_bsp(acpi && acpi->madt.local_apic_address ? acpi->madt.local_apic_address : 0xfee00000);
    arch::lapic_enable();
    if (acpi) {
        arch::IoApicDesc ioapics[acpi::kMaxIoApics];
        arch::IrqOverride overrides[acpi::kMaxInterruptOverrides];
        for (usize i = 0; i < acpi->madt.io_apic_count; ++i)
            ioapics[i] = {acpi->madt.io_apics[i].id, acpi->madt.io_apics[i].address, acpi->madt.io_apics[i].gsi_base};
        for (usize i = 0; i < acpi->madt.override_count; ++i)
            overrides[i] = {acpi->madt.overrides[i].source_irq, acpi->madt.overrides[i].gsi, acpi->madt.overrides[i].flags};
        arch::ioapic_init(ioapics, acpi->madt.io_apic_count, overrides, acpi->madt.override_count);
    }

    arch::TimerCalibration cal = arch::calibrate_timers(acpi && acpi->hpet.present ? acpi->hpet.address : 0);
    clock_init(cal.tsc_hz);
    arch::lapic_timer_set_rate(cal.lapic_ticks_per_ms);
    LOG_INFO("time: TSC %llu MHz, LAPIC timer %llu ticks/ms (calibrated against the %s)",
             (unsigned long long)(cal.tsc_hz / 1000000), (unsigned long long)cal.lapic_ticks_per_ms, cal.reference);
    arch::set_interrupt_handler(arch::vector::kTimer, timer_vector);
    arch::set_interrupt_handler(arch::vector::kIpiReschedule, reschedule_vector);

    setup_cpus(acpi);
    scheduler_init_cpu(0, reinterpret_cast<uptr>(boot_stack_bottom));
    g_cpus_online = 1;
    g_cpus[0].online = true;
    LOG_INFO("cpu0 online (APIC id %u, bootstrap processor)", g_cpus[0].apic_id);
    arch::smp_start_aps(ap_main);
    arch::paging_drop_identity_map();
    arch::tlb_shootdown(0, 512);  // the APs may still cache identity-map entries

    Thread* init = thread_create("init", init_thread, nullptr);
    if (!init) boot_failure("no memory for the init thread");
    thread_start(init);
    scheduler_run_idle("idle0");
}
