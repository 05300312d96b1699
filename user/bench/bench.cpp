// Native microbenchmarks, run by tools/bench under `-icount shift=0,sleep=off`. There the
// TSC advances one tick per guest instruction, so TSC deltas are instruction counts and two
// runs print the same numbers. Output: one line per result, "bench: name value unit".

#include "tessera.hpp"
#include "tessera/kobj.hpp"

using namespace tessera;

namespace {

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
}

void report(const char* name, uint64_t total, uint64_t iterations, const char* unit) {
    print("bench: ");
    print(name);
    print(" ");
    print_u64(total / iterations);
    print(" ");
    print(unit);
    print("\n");
}

constexpr uint64_t kIterations = 2000;

void null_syscall() {
    for (int i = 0; i < 100; ++i) sys::process_info(kInfoPid);  // warm up
    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < kIterations; ++i) sys::process_info(kInfoPid);
    report("null_native_syscall", rdtsc() - start, kIterations, "instructions");
}

void ipc_round_trip(const char* name, uint64_t service) {
    for (int i = 0; i < 100; ++i) call(service, 1);
    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < kIterations; ++i) call(service, 1);
    report(name, rdtsc() - start, kIterations, "instructions");
}

// Notification signal -> wake of a thread blocked in wait, and back (ping-pong); reported
// per one-way signal-to-wake.
int64_t g_ping = -1, g_pong = -1;
alignas(16) char g_stack[16384];
extern "C" void ponger(uint64_t) {
    for (;;) {
        sys::notification_wait(static_cast<uint64_t>(g_ping), 0);
        sys::notification_signal(static_cast<uint64_t>(g_pong), 1);
    }
}

void notification_wake() {
    g_ping = sys::notification_create();
    g_pong = sys::notification_create();
    sys::thread_create(reinterpret_cast<uint64_t>(ponger), reinterpret_cast<uint64_t>(g_stack + sizeof(g_stack)), 0);
    constexpr uint64_t n = 500;
    for (int i = 0; i < 20; ++i) {
        sys::notification_signal(static_cast<uint64_t>(g_ping), 1);
        sys::notification_wait(static_cast<uint64_t>(g_pong), 0);
    }
    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) {
        sys::notification_signal(static_cast<uint64_t>(g_ping), 1);
        sys::notification_wait(static_cast<uint64_t>(g_pong), 0);
    }
    report("notification_signal_to_wake", rdtsc() - start, 2 * n, "instructions");
}

// The paper's Figure 6: reaching a kernel object through a capability (a syscall naming a
// handle) against an address token (a load or store on the mapped object), and a checked
// kobj_write to a read-only grant.
void kernel_object_access(uint64_t service) {
    uint64_t thread_h = static_cast<uint64_t>(sys::kobj_thread_params());
    auto* ro = reinterpret_cast<volatile ThreadParams*>(sys::kobj_map(thread_h, 0));
    uint64_t pool_h = static_cast<uint64_t>(sys::kobj_service_pool(service));
    auto* rw = reinterpret_cast<volatile ServicePoolParams*>(sys::kobj_map(pool_h, 1));
    constexpr uint64_t n = kIterations;
    uint64_t sink = 0;

    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) sink += static_cast<uint64_t>(sys::kobj_read_cap(pool_h, 8));
    report("kobj_read_capability", rdtsc() - start, n, "instructions");
    start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) sink += rw->low_water;
    report("kobj_read_rw_token", rdtsc() - start, n, "instructions");
    start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) sink += ro->priority;
    report("kobj_read_ro_token", rdtsc() - start, n, "instructions");

    start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) sys::kobj_write_cap(thread_h, offsetof(ThreadParams, priority), 16);
    report("kobj_write_capability", rdtsc() - start, n, "instructions");
    start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) rw->refill_batch = 4;
    report("kobj_write_rw_token", rdtsc() - start, n, "instructions");
    uint64_t prio = reinterpret_cast<uint64_t>(ro) + offsetof(ThreadParams, priority);
    start = rdtsc();
    for (uint64_t i = 0; i < n; ++i) sys::kobj_write(prio, 16);
    report("kobj_write_ro_token_checked", rdtsc() - start, n, "instructions");
    if (sink == 42) print("");  // keep the loads
}

// The paper's Figure 4: a call round trip between isolation classes. The relays run inside
// a service and time N calls to their target with the service clock (guest nanoseconds =
// instructions under icount).
void relay_round_trip(const char* name, const char* relay, uint64_t target_index) {
    int64_t h = lookup(relay);
    constexpr uint64_t n = 1000;
    SyscallResult r = call(static_cast<uint64_t>(h), 0, target_index, n);
    if (h < 0 || r.status != kOk || r.words[0] != 0) {
        print("bench: ");
        print(name);
        print(" failed\n");
        return;
    }
    report(name, r.words[1], n, "instructions");
}

void isolation_classes() {
    ipc_round_trip("ipc_round_trip_ic2_to_ic0", static_cast<uint64_t>(lookup("echo-ic0")));
    ipc_round_trip("ipc_round_trip_ic2_to_ic1", static_cast<uint64_t>(lookup("echo-ic1")));
    ipc_round_trip("ipc_round_trip_ic2_to_ic2", static_cast<uint64_t>(lookup("echo-ic2")));
    relay_round_trip("ipc_round_trip_ic0_to_ic0", "relay-ic0", 0);
    relay_round_trip("ipc_round_trip_ic0_to_ic1", "relay-ic0", 1);
    relay_round_trip("ipc_round_trip_ic1_to_ic1", "relay-ic1", 3);
    relay_round_trip("call_ic1_coalesced_peer", "relay-ic1", 4);
    relay_round_trip("ipc_round_trip_ic1_to_ic2", "relay-ic1", 2);
}

void echo_handler(Message& m) { m.words[1] = m.words[0] + 1; }

}  // namespace

TESSERA_SERVICE_ENTRY(bench_echo_entry, echo_handler);

long main(unsigned long) {
    null_syscall();
    // IC2 <-> IC2: a service in another process (another address space).
    if (spawn("bin/test-services", 1) < 0) return 1;
    ipc_round_trip("ipc_round_trip_ic2_ic2", static_cast<uint64_t>(lookup("echo")));
    // Same-process call: the path without an address-space switch.
    int64_t local = sys::service_create(reinterpret_cast<uint64_t>(bench_echo_entry), 16384, 2, 0);
    ipc_round_trip("ipc_round_trip_same_space", static_cast<uint64_t>(local));
    notification_wake();
    isolation_classes();
    kernel_object_access(static_cast<uint64_t>(local));
    return 0;
}
