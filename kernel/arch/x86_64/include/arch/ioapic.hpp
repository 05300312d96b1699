#pragma once
// I/O APIC: routes device interrupts (GSIs) to a CPU's LAPIC vector.

#include "lib/result.hpp"
#include "lib/types.hpp"

namespace arch {

struct IoApicDesc {
    u32 id;
    u64 phys;
    u32 gsi_base;
};
struct IrqOverride {
    u8 source;  // ISA IRQ
    u32 gsi;
    u16 flags;  // MPS INTI flags: polarity bits 0-1, trigger bits 2-3
};

// Maps every IOAPIC and masks all of its inputs.
void ioapic_init(const IoApicDesc* ioapics, usize count, const IrqOverride* overrides, usize override_count);
// Routes ISA IRQ `irq` (after source overrides) to `vector` on the CPU with `apic_id`.
Result<void> ioapic_route_isa_irq(u8 irq, u8 vector, u32 apic_id);
usize ioapic_input_count();
void ioapic_mask_isa_irq(u8 irq);

}  // namespace arch
