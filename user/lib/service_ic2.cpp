// The IC2 build of a service (tessera/service.hpp): a ring-3 program that creates one IPC
// entry per handler and publishes it as "<handler>-<suffix>". The spawn argument picks the
// suffix, i.e. which manifest entry this instance stands for.

#include "tessera.hpp"
#include "tessera/service.hpp"

namespace tessera::service {
extern Module g_module;
}

namespace {

using namespace tessera;

constexpr const char* kSuffixes[] = {"ic1", "ic1b", "ic2", "peer"};
constexpr int kMaxEntries = 8;

int64_t rt_call(uint64_t target, service::Message& m) {
    SyscallResult r = call(target, m.words[0], m.words[1], m.words[2], m.words[3], m.words[4], m.words[5]);
    for (int i = 0; i < 6; ++i) m.words[i] = r.words[i];
    return r.status;
}
int64_t rt_lookup(const char* name) { return lookup(name); }
uint64_t rt_clock_ns() { return static_cast<uint64_t>(sys::clock_ns()); }
void rt_log(const char* text) { print(text); }
void* rt_alloc(uint64_t bytes) {
    int64_t region = sys::memory_create((bytes + 4095) / 4096);
    int64_t va = region >= 0 ? sys::memory_map(static_cast<uint64_t>(region), 1) : -1;
    if (region >= 0) sys::handle_close(static_cast<uint64_t>(region));  // the mapping keeps it
    return va > 0 ? reinterpret_cast<void*>(va) : nullptr;
}

int64_t rt_host(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) { return tessera::kErrNoSyscall; }

const service::Runtime kRuntime{rt_call, rt_lookup, rt_clock_ns, rt_log, rt_alloc, rt_host};

template <int Index>
void dispatch(Message& m) {
    service::Message message{{m.words[0], m.words[1], m.words[2], m.words[3], m.words[4], m.words[5]}, m.caller_pid};
    service::g_module.entries[Index].handler(message);
    for (int i = 0; i < 6; ++i) m.words[i] = message.words[i];
}

}  // namespace

namespace tessera::service {
const Runtime& runtime() { return kRuntime; }
}  // namespace tessera::service

TESSERA_SERVICE_ENTRY(service_entry_0, dispatch<0>);
TESSERA_SERVICE_ENTRY(service_entry_1, dispatch<1>);
TESSERA_SERVICE_ENTRY(service_entry_2, dispatch<2>);
TESSERA_SERVICE_ENTRY(service_entry_3, dispatch<3>);
TESSERA_SERVICE_ENTRY(service_entry_4, dispatch<4>);
TESSERA_SERVICE_ENTRY(service_entry_5, dispatch<5>);
TESSERA_SERVICE_ENTRY(service_entry_6, dispatch<6>);
TESSERA_SERVICE_ENTRY(service_entry_7, dispatch<7>);

long main(unsigned long arg) {
    void (*const entries[kMaxEntries])() = {service_entry_0, service_entry_1, service_entry_2, service_entry_3,
                                           service_entry_4, service_entry_5, service_entry_6, service_entry_7};
    if (arg >= sizeof(kSuffixes) / sizeof(kSuffixes[0]) || tessera::service::g_module.count > kMaxEntries) return 1;
    for (uint64_t i = 0; i < tessera::service::g_module.count; ++i) {
        char name[32];
        size_t n = 0;
        for (const char* p = tessera::service::g_module.entries[i].name; *p && n < 20; ++p) name[n++] = *p;
        name[n++] = '-';
        for (const char* p = kSuffixes[arg]; *p && n < 31; ++p) name[n++] = *p;
        name[n] = 0;
        int64_t service = sys::service_create(reinterpret_cast<uint64_t>(entries[i]), 16384, 2, 0);
        if (service < 0 || publish(static_cast<uint64_t>(service), name) != kOk) return 1;
    }
    int64_t forever = sys::notification_create();
    sys::notification_wait(static_cast<uint64_t>(forever), 0);  // calls run on the callers' threads
    return 0;
}
