/* A QEMU TCG plugin for tools/profile: counts how many guest instructions each translated
 * block executes. At exit it writes "address instructions" lines (hex, decimal) to the
 * file given as out=PATH. Under -icount every guest instruction is one tick, so these
 * counts are the profile of what the benchmark numbers measure.
 *
 * QEMU 7.2 ships the plugin loader but not its header (Debian has no -dev package for
 * it), so the few entry points used are declared here from the documented plugin API. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t plugin_id;
struct qemu_plugin_tb;
enum plugin_op { INLINE_ADD_U64 = 0 };

extern void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id id, void (*cb)(plugin_id, struct qemu_plugin_tb*));
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb* tb, enum plugin_op op, void* ptr,
                                                     uint64_t imm);
extern void qemu_plugin_register_atexit_cb(plugin_id id, void (*cb)(plugin_id, void*), void* userdata);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb* tb);

EXPORT int qemu_plugin_version = 1;

/* One counter per translation; blocks translated again get another (summed by address
 * when written out). Records never move: the translated code holds their address. */
struct block {
    uint64_t address;
    uint64_t executed_instructions;
};
enum { kChunk = 65536 };
static struct block* chunks[4096];
static size_t used;
static char out_path[4096] = "tbcount.out";

static struct block* new_block(void) {
    size_t chunk = used / kChunk;
    if (chunk >= sizeof chunks / sizeof chunks[0]) return NULL;
    if (!chunks[chunk] && !(chunks[chunk] = calloc(kChunk, sizeof(struct block)))) return NULL;
    return &chunks[chunk][used++ % kChunk];
}

static void on_translate(plugin_id id, struct qemu_plugin_tb* tb) {
    (void)id;
    struct block* b = new_block();
    if (!b) return;
    b->address = qemu_plugin_tb_vaddr(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &b->executed_instructions, qemu_plugin_tb_n_insns(tb));
}

static void on_exit_(plugin_id id, void* unused) {
    (void)id;
    (void)unused;
    FILE* f = fopen(out_path, "w");
    if (!f) return;
    for (size_t i = 0; i < used; ++i) {
        struct block* b = &chunks[i / kChunk][i % kChunk];
        if (b->executed_instructions) fprintf(f, "%" PRIx64 " %" PRIu64 "\n", b->address, b->executed_instructions);
    }
    fclose(f);
}

EXPORT int qemu_plugin_install(plugin_id id, const void* info, int argc, char** argv) {
    (void)info;
    for (int i = 0; i < argc; ++i)
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
