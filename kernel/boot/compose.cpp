// Starting the services the composition manifest (etc/manifest in the boot archive) names,
// each in its isolation class: IC1 modules go into PKS domains, IC2 services are spawned as
// programs, and the IC0 services linked into the kernel are published at boot.

#include "boot/boot.hpp"
#include "config/manifest.hpp"
#include "debug/log.hpp"
#include "ic1/domain.hpp"
#include "ipc/registry.hpp"
#include "lib/format.hpp"
#include "loader/cpio.hpp"
#include "proc/loader.hpp"

namespace tessera::service {
extern Module g_module;  // the IC0 build of services/echo
}

namespace kernel {
namespace {

config::Manifest g_manifest;  // static: ~2 KiB, too big for a kernel stack frame

Result<loader::CpioEntry> archive_file(StringView path) {
    const BootInfo& boot = boot_info();
    const char* why = nullptr;
    if (!boot.initrd_size) return Error::NotFound;
    return loader::cpio_find(arch::phys_to_ptr<const u8>(boot.initrd_phys), boot.initrd_size, path, &why);
}

// Publishes every handler of a module as "<handler>-<suffix>"; in a coalesced domain the
// module also answers those names itself.
void publish_module(const tessera::service::Module& module, Process& owner, ic1::Domain* domain, StringView suffix,
                    bool coalesced = false) {
    for (u64 i = 0; i < module.count; ++i) {
        const tessera::service::Entry& e = module.entries[i];
        char name[32];
        snformat(name, sizeof(name), "%s-%.*s", e.name, static_cast<int>(suffix.length), suffix.data);
        if (coalesced) domain->add_local_name(StringView(name), i);
        Result<RefPtr<Service>> s =
            Service::create_in_kernel(RefPtr<Process>(&owner), reinterpret_cast<uptr>(e.handler), domain);
        if (!s.ok() || !publish_service(StringView(name), s.value().get()).ok())
            LOG_ERROR("compose: cannot publish %s", name);
    }
}

// The IC1 domain each coalescing group got (one module image per group).
struct GroupDomain {
    char group[32];
    ic1::Domain* domain;
};
GroupDomain g_groups[config::kMaxServices];
usize g_group_count = 0;

// echo-ic1, echo-ic1b, echo-peer and echo-ic2 are the same service source; the manifest
// decides where each instance runs and which share a domain. The IC2 program takes the
// instance as its argument.
void start_echo(const config::ServicePlacement& p) {
    StringView name(p.name);
    StringView suffix = name.substr(5);  // after "echo-"
    u64 instance = suffix == StringView("ic1") ? 0 : suffix == StringView("ic1b") ? 1 : suffix == StringView("peer") ? 3 : 2;
    if (p.isolation_class != config::kIC1) {
        (void)spawn_from_boot_archive("bin/echo-service", instance, true);
        return;
    }
    // Coalesced services share the group's domain, loaded by the first member.
    ic1::Domain* domain = nullptr;
    for (usize i = 0; p.grouped() && i < g_group_count; ++i)
        if (StringView(g_groups[i].group) == StringView(p.group)) domain = g_groups[i].domain;
    if (!domain) {
        Result<loader::CpioEntry> module = archive_file("lib/echo.ic1");
        if (!module.ok()) {
            LOG_ERROR("compose: %s: lib/echo.ic1 is not in the boot archive", p.name);
            return;
        }
        Result<ic1::Domain*> loaded =
            ic1::load_module(p.grouped() ? StringView(p.group) : name, module.value().data, module.value().size);
        if (!loaded.ok()) return;
        domain = loaded.value();
        if (p.grouped()) {
            snformat(g_groups[g_group_count].group, sizeof(g_groups[0].group), "%s", p.group);
            g_groups[g_group_count++].domain = domain;
        }
    }
    publish_module(domain->module(), domain->process(), domain, suffix, p.grouped());
}

}  // namespace

int service_isolation_class(StringView name) {
    for (usize i = 0; i < g_manifest.count; ++i)
        if (StringView(g_manifest.services[i].name) == name) return g_manifest.services[i].isolation_class;
    return -1;
}

bool services_coalesced(StringView a, StringView b) {
    const config::ServicePlacement* first = nullptr;
    const config::ServicePlacement* second = nullptr;
    for (usize i = 0; i < g_manifest.count; ++i) {
        if (StringView(g_manifest.services[i].name) == a) first = &g_manifest.services[i];
        if (StringView(g_manifest.services[i].name) == b) second = &g_manifest.services[i];
    }
    return first && second && first->grouped() && first->isolation_class == second->isolation_class &&
           StringView(first->group) == StringView(second->group);
}

void compose_services() {
    if (ic1::ic0_init().ok()) publish_module(tessera::service::g_module, ic1::ic0_process_ref(), nullptr, "ic0");

    Result<loader::CpioEntry> file = archive_file("etc/manifest");
    if (!file.ok()) {
        LOG_WARN("compose: no etc/manifest in the boot archive; starting no services");
        return;
    }
    config::ManifestError error{};
    Result<config::Manifest> parsed =
        config::parse_manifest(reinterpret_cast<const char*>(file.value().data), file.value().size, &error);
    if (!parsed.ok()) {
        // The build checks manifests, so this is a damaged archive: say so and go on.
        LOG_ERROR("compose: etc/manifest:%u: %s", error.line, error.message);
        return;
    }
    g_manifest = parsed.release_value();
    LOG_INFO("compose: %zu services in the manifest, %zu IC1 domains", g_manifest.count, g_manifest.ic1_domains);
    for (usize i = 0; i < g_manifest.count; ++i) {
        const config::ServicePlacement& p = g_manifest.services[i];
        if (StringView(p.name).starts_with("echo-"))
            start_echo(p);
        else
            LOG_DEBUG("compose: %s (IC%u): not built yet", p.name, p.isolation_class);
    }
}

}  // namespace kernel
