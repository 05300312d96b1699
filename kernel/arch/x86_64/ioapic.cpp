#include "arch/ioapic.hpp"

#include "arch/mmu.hpp"
#include "debug/log.hpp"

namespace arch {
namespace {

struct IoApic {
    volatile u32* regs;
    u32 gsi_base;
    u32 inputs;
};

constexpr usize kMaxIoApics = 8;
IoApic g_ioapics[kMaxIoApics];
usize g_count = 0;
IrqOverride g_overrides[16];
usize g_override_count = 0;

u32 read(IoApic& a, u32 reg) {
    a.regs[0] = reg;
    return a.regs[4];
}
void write(IoApic& a, u32 reg, u32 value) {
    a.regs[0] = reg;
    a.regs[4] = value;
}

}  // namespace

void ioapic_init(const IoApicDesc* ioapics, usize count, const IrqOverride* overrides, usize override_count) {
    for (usize i = 0; i < count && g_count < kMaxIoApics; ++i) {
        Result<uptr> va = map_mmio(ioapics[i].phys, 0x20);
        if (!va.ok()) {
            LOG_ERROR("ioapic: cannot map IOAPIC %u at %llx", ioapics[i].id, (unsigned long long)ioapics[i].phys);
            continue;
        }
        IoApic& a = g_ioapics[g_count++];
        a.regs = reinterpret_cast<volatile u32*>(va.value());
        a.gsi_base = ioapics[i].gsi_base;
        a.inputs = ((read(a, 1) >> 16) & 0xff) + 1;
        for (u32 pin = 0; pin < a.inputs; ++pin) {
            write(a, 0x10 + 2 * pin, 1u << 16);  // masked
            write(a, 0x11 + 2 * pin, 0);
        }
        LOG_INFO("ioapic: id %u, %u inputs from GSI %u", ioapics[i].id, a.inputs, a.gsi_base);
    }
    for (usize i = 0; i < override_count && i < 16; ++i) g_overrides[g_override_count++] = overrides[i];
}

usize ioapic_input_count() {
    usize n = 0;
    for (usize i = 0; i < g_count; ++i) n += g_ioapics[i].inputs;
    return n;
}

namespace {
u32 gsi_of(u8 irq, u16* flags) {
    u32 gsi = irq;
    *flags = 0;
    for (usize i = 0; i < g_override_count; ++i)
        if (g_overrides[i].source == irq) {
            gsi = g_overrides[i].gsi;
            *flags = g_overrides[i].flags;
        }
    return gsi;
}
}  // namespace

void ioapic_mask_isa_irq(u8 irq) {
    u16 flags;
    u32 gsi = gsi_of(irq, &flags);
    for (usize i = 0; i < g_count; ++i) {
        IoApic& a = g_ioapics[i];
        if (gsi >= a.gsi_base && gsi < a.gsi_base + a.inputs) write(a, 0x10 + 2 * (gsi - a.gsi_base), 1u << 16);
    }
}

Result<void> ioapic_route_isa_irq(u8 irq, u8 vector, u32 apic_id) {
    u16 flags;
    u32 gsi = gsi_of(irq, &flags);
    for (usize i = 0; i < g_count; ++i) {
        IoApic& a = g_ioapics[i];
        if (gsi < a.gsi_base || gsi >= a.gsi_base + a.inputs) continue;
        u32 pin = gsi - a.gsi_base;
        u32 low = vector;
        if ((flags & 3) == 3) low |= 1u << 13;         // active low
        if (((flags >> 2) & 3) == 3) low |= 1u << 15;  // level triggered
        write(a, 0x11 + 2 * pin, apic_id << 24);
        write(a, 0x10 + 2 * pin, low);
        return {};
    }
    return Error::NotFound;
}

}  // namespace arch
