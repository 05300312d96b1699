// Services the IPC tests call, each in a process of its own so every call crosses address
// spaces. The spawn argument picks which services this instance provides.

#include "tessera.hpp"
#include "tessera/kobj.hpp"

using namespace tessera;

namespace {

enum Mode : unsigned long { kMain = 1, kChainTail = 2, kCrasher = 3, kExiter = 4 };
enum Op : uint64_t { kEcho = 1, kDepth = 2, kStackAddress = 3, kSleep = 4, kWaitForever = 5, kSpin = 6, kCallBack = 7, kCount = 8, kReadIpcBuffer = 9, kSignalHandle = 10, kMapAndSum = 11 };

uint64_t g_counter = 0;
int64_t g_forever = -1;     // a notification nobody signals
int64_t g_callback = -1;    // handle to the caller's "aba-a" service, looked up lazily
int64_t g_chain_tail = -1;  // "chain-c"
uint64_t g_reclaims = 0;

void common(Message& m) {
    switch (m.words[0]) {
    case kEcho:
        for (int i = 1; i < 5; ++i) m.words[i] += 1;
        m.words[5] = m.caller_pid;
        break;
    case kDepth:
        m.words[1] = static_cast<uint64_t>(sys::process_info(kInfoInvocationDepth));
        break;
    case kStackAddress: {
        volatile uint64_t local = 0;
        m.words[1] = reinterpret_cast<uint64_t>(&local);
        break;
    }
    case kSleep:
        sys::sleep_ns(m.words[1]);
        break;
    case kWaitForever:
        m.words[1] = static_cast<uint64_t>(sys::notification_wait(static_cast<uint64_t>(g_forever), 0));
        break;
    case kSpin: {
        uint64_t end = static_cast<uint64_t>(sys::clock_ns()) + m.words[1];
        while (static_cast<uint64_t>(sys::clock_ns()) < end) {
        }
        break;
    }
    case kCount:
        m.words[1] = __atomic_add_fetch(&g_counter, 1, __ATOMIC_RELAXED);
        break;
    case kReadIpcBuffer: {
        auto* buffer = reinterpret_cast<const char*>(sys::ipc_buffer());
        uint64_t sum = 0;
        for (uint64_t i = 0; i < m.words[1]; ++i) sum += static_cast<unsigned char>(buffer[i]);
        m.words[1] = sum;
        break;
    }
    case kSignalHandle:  // a notification handle transferred to this process
        m.words[1] = static_cast<uint64_t>(sys::notification_signal(m.words[1], m.words[2]));
        break;
    case kMapAndSum: {  // a memory region handle transferred to this process
        int64_t va = sys::memory_map(m.words[1], 0);
        uint64_t sum = 0;
        if (va > 0)
            for (uint64_t i = 0; i < m.words[2]; ++i) sum += reinterpret_cast<const unsigned char*>(va)[i];
        m.words[1] = va > 0 ? sum : static_cast<uint64_t>(va);
        break;
    }
    default:
        m.words[0] = ~0ull;
    }
}

void main_service(Message& m) {
    if (m.words[0] == kCallBack) {
        // B in an A -> B -> A chain: call back into the caller's own service.
        if (g_callback < 0) g_callback = lookup("aba-a");
        SyscallResult r = call(static_cast<uint64_t>(g_callback), kStackAddress);
        m.words[1] = r.words[1];
        m.words[2] = static_cast<uint64_t>(r.status);
        volatile uint64_t local = 0;
        m.words[3] = reinterpret_cast<uint64_t>(&local);
        return;
    }
    if (m.words[0] == kDepth + 100) {
        // B in A -> B -> C: forward to C and report what C saw.
        if (g_chain_tail < 0) g_chain_tail = lookup("chain-c");
        SyscallResult r = call(static_cast<uint64_t>(g_chain_tail), kDepth);
        m.words[1] = r.words[1];
        m.words[2] = static_cast<uint64_t>(r.status);
        return;
    }
    common(m);
}

void reclaimer(Message& m) {
    // The kernel calls this with kReclaimRequest when a call could not get a stack.
    if (m.words[0] == kReclaimRequest) ++g_reclaims;
    m.words[1] = g_reclaims;
}

void crasher(Message& m) {
    if (m.words[0] == 1) *reinterpret_cast<volatile uint64_t*>(8) = 1;  // fault mid-call
    m.words[1] = 42;
}

void exiter(Message& m) {
    if (m.words[0] == 1) sys::process_exit(7);  // exit mid-call
    m.words[1] = 43;
}

}  // namespace

TESSERA_SERVICE_ENTRY(main_entry, main_service);
TESSERA_SERVICE_ENTRY(reclaim_entry, reclaimer);
TESSERA_SERVICE_ENTRY(crash_entry, crasher);
TESSERA_SERVICE_ENTRY(exit_entry, exiter);

namespace {
int64_t create(void (*entry)(), uint64_t stacks, uint64_t flags = 0) {
    return sys::service_create(reinterpret_cast<uint64_t>(entry), 16384, stacks, flags);
}
}  // namespace

long main(unsigned long mode) {
    g_forever = sys::notification_create();
    switch (mode) {
    case kMain: {
        publish(create(main_entry, 4), "echo");
        publish(create(main_entry, 2, kServiceHot), "hot");
        int64_t cold = create(main_entry, 0);
        // Tune the pool through its read-write address token: a plain store, read by the
        // kernel's refill logic (the IPC test checks the pool grows to 6 + 4).
        auto* params = reinterpret_cast<volatile ServicePoolParams*>(
            sys::kobj_map(static_cast<uint64_t>(sys::kobj_service_pool(static_cast<uint64_t>(cold))), 1));
        params->low_water = 6;
        publish(cold, "cold");
        publish(create(main_entry, 0), "cold-oom");
        publish(create(main_entry, 0), "cold-account");
        publish(create(main_entry, 2), "chain-b");
        publish(create(main_entry, 2), "aba-b");
        int64_t reclaim = create(reclaim_entry, 0);
        sys::test_control(kTestSetReclaimService, static_cast<uint64_t>(reclaim));
        publish(reclaim, "reclaimer");
        break;
    }
    case kChainTail:
        publish(create(main_entry, 2), "chain-c");
        break;
    case kCrasher:
        publish(create(crash_entry, 2), "crasher");
        break;
    case kExiter:
        publish(create(exit_entry, 2), "exiter");
        break;
    default:
        print("test-services: unknown mode\n");
        return 1;
    }
    // Serve forever: calls run on the callers' threads; this thread only keeps the
    // process alive.
    sys::notification_wait(static_cast<uint64_t>(g_forever), 0);
    return 0;
}
