#pragma once
// Kernel objects for memory and devices: physical memory regions, device registers,
// interrupts, I/O port ranges and timers. Device objects can only be created by
// privileged processes (a first step: the boot services and init; the device manager will
// hand them out).

#include "ipc/notification.hpp"
#include "lib/result.hpp"
#include "object/object.hpp"
#include "time/timer.hpp"

namespace kernel {

class AddressSpace;

// Zeroed physical pages that can be mapped into several processes (shared memory).
class MemoryRegion final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::MemoryRegion;
    static constexpr usize kMaxPages = 4096;
    static Result<RefPtr<MemoryRegion>> create(usize pages);
    ~MemoryRegion() override;
    Result<uptr> map_into(AddressSpace& space, bool writable);
    usize pages() const { return count_; }

    MemoryRegion() : KernelObject(kType) {}  // use create()

private:
    u64* phys_ = nullptr;
    usize count_ = 0;
};

// Device registers, mapped uncached.
class MmioRegion final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::MmioRegion;
    MmioRegion(u64 phys, usize size) : KernelObject(kType), phys_(phys), size_(size) {}
    Result<uptr> map_into(AddressSpace& space, bool writable);

private:
    u64 phys_;
    usize size_;
};

// An ISA interrupt line, routed through the IOAPIC to a vector of its own.
class Interrupt final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Interrupt;
    static Result<RefPtr<Interrupt>> create(u8 irq);
    ~Interrupt() override;
    Result<void> bind(Notification& notification, u64 bits);

    explicit Interrupt(u8 irq) : KernelObject(kType), irq_(irq) {}  // use create()

private:
    u8 irq_;
    bool bound_ = false;
};

// Ports a process may use with in/out (through the TSS I/O bitmap).
class IoPortRange final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::IoPortRange;
    IoPortRange(u16 first, u16 count) : KernelObject(kType), first_(first), count_(count) {}
    u16 first() const { return first_; }
    u16 count() const { return count_; }

private:
    u16 first_, count_;
};

// A one-shot timer that signals a notification.
class TimerObject final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Timer;
    TimerObject() : KernelObject(kType) {}
    ~TimerObject() override;
    void set(u64 deadline_ns, RefPtr<Notification> target, u64 bits);
    void cancel();

private:
    static void fire(void* arg);
    Timer timer_;
    Notification* target_ = nullptr;  // reference while armed
    u64 bits_ = 0;
};

}  // namespace kernel
