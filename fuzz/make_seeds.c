/*
 * fuzz/make_seeds.c: writes the generated seed inputs: checkpoints saved by
 * the library from the checkpoint fuzzer's models (valid ones, and near-valid
 * ones with one thing wrong and the checksum fixed so the loader gets past
 * it), and IDX image/label pairs in fuzz_idx's length-prefixed layout.
 * Usage: make_seeds DIR (writes DIR/checkpoint/ and DIR/idx/, which must exist).
 */
#define _POSIX_C_SOURCE 200809L

#include "checkpoint_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static char *path_of(const char *sub, const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s/%s", dir, sub, name);
    return buf;
}

static void put(const char *sub, const char *name, const void *data, size_t len)
{
    FILE *f = fopen(path_of(sub, name), "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        die(path_of(sub, name));
    }
}

static unsigned char *get(const char *sub, const char *name, size_t *len)
{
    FILE *f = fopen(path_of(sub, name), "rb");
    static unsigned char buf[1 << 16];
    if (!f) {
        die(path_of(sub, name));
    }
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
    }
    return ~c;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* Copies checkpoint `from`, sets the u32 at offset to v, fixes the CRC, saves it as `name`. */
static void patched(const char *from, size_t offset, uint32_t v, const char *name)
{
    size_t len;
    unsigned char *b = get("checkpoint", from, &len);
    put_le32(b + offset, v);
    put_le32(b + len - 4, crc32(b, len - 4));
    put("checkpoint", name, b, len);
}

static void save(nb_graph *g, const char *name, size_t n, nb_node *const *params,
                 const nb_optim *opt)
{
    if (nb_checkpoint_save(g, path_of("checkpoint", name), n, params, opt) != NB_OK) {
        die(nb_graph_error(g));
    }
}

static void checkpoints(void)
{
    nbf_ckpt_model m;
    if (!nbf_ckpt_build(&m)) {
        die("cannot build the checkpoint model");
    }
    double x[3] = { 1, 2, 3 };
    nb_node_write_f64(m.g, m.x, x, 3);
    save(m.g, "params.ckpt", NBF_CKPT_PARAMS, m.params, NULL);
    save(m.g, "w.ckpt", 1, m.params, NULL);
    const char *names[NBF_CKPT_OPTIMS] = { "sgd.ckpt", "adam.ckpt", "rmsprop.ckpt" };
    for (int k = 0; k < NBF_CKPT_OPTIMS; k++) {
        for (int s = 0; s < 2; s++) {
            if (nb_optim_step(m.opts[k]) != NB_OK) {
                die(nb_graph_error(m.g));
            }
        }
        save(m.g, names[k], NBF_CKPT_PARAMS, m.params, m.opts[k]);
    }
    nb_node *reordered[NBF_CKPT_PARAMS] = { m.params[3], m.params[2], m.params[1], m.params[0] };
    save(m.g, "reordered.ckpt", NBF_CKPT_PARAMS, reordered, NULL);
    int32_t labels[3] = { 0, 2, 1 };
    nb_node_write(m.g32, m.p32[1], labels, 3);
    save(m.g32, "f32_labels.ckpt", 2, m.p32, NULL);
    save(m.g32, "labels.ckpt", 1, m.p32 + 1, NULL);
    nbf_ckpt_free(&m);

    /* near misses: one field wrong, the checksum right */
    patched("params.ckpt", 8, 2, "bad_version.ckpt");
    patched("params.ckpt", 12, 2, "bad_flags.ckpt");
    patched("params.ckpt", 16, 3, "bad_count.ckpt");
    patched("params.ckpt", 20, 5000, "bad_name_length.ckpt");
    patched("params.ckpt", 25, 7, "bad_dtype.ckpt"); /* w: name length, "w", dtype */
    patched("params.ckpt", 29, 5, "bad_rank.ckpt");
    patched("params.ckpt", 33, 4, "bad_dim.ckpt");
    patched("adam.ckpt", 20, 0, "wrong_optimizer.ckpt");
    patched("adam.ckpt", 24, 9, "bad_slots.ckpt");
    patched("adam.ckpt", 32, 0x80000000u, "negative_steps.ckpt");
    size_t len;
    unsigned char *b = get("checkpoint", "params.ckpt", &len);
    put("checkpoint", "truncated.ckpt", b, len - 9);
    b[40] ^= 1;
    put("checkpoint", "bad_crc.ckpt", b, len);
}

/* One fuzz_idx input: u16 images length, images, labels. */
static void idx(const char *name, uint32_t imagic, uint32_t n, uint32_t rows, uint32_t cols,
                size_t pixels, uint32_t lmagic, uint32_t nl, size_t labels)
{
    unsigned char buf[1024];
    size_t ilen = 16 + pixels, at = 2;
    uint32_t head[4] = { imagic, n, rows, cols };
    buf[0] = (unsigned char)ilen;
    buf[1] = (unsigned char)(ilen >> 8);
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 4; k++) {
            buf[at++] = (unsigned char)(head[i] >> (24 - 8 * k));
        }
    }
    for (size_t i = 0; i < pixels; i++) {
        buf[at++] = (unsigned char)(i * 37 % 256);
    }
    uint32_t lhead[2] = { lmagic, nl };
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++) {
            buf[at++] = (unsigned char)(lhead[i] >> (24 - 8 * k));
        }
    }
    for (size_t i = 0; i < labels; i++) {
        buf[at++] = (unsigned char)(i % 10);
    }
    put("idx", name, buf, at);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        die("usage: make_seeds DIR");
    }
    dir = argv[1];
    checkpoints();
    idx("valid_2x2x3.bin", 0x803, 2, 2, 3, 12, 0x801, 2, 2);
    idx("valid_1x1x1.bin", 0x803, 1, 1, 1, 1, 0x801, 1, 1);
    idx("valid_10x4x4.bin", 0x803, 10, 4, 4, 160, 0x801, 10, 10);
    idx("count_mismatch.bin", 0x803, 2, 2, 2, 8, 0x801, 3, 3);
    idx("trailing.bin", 0x803, 1, 2, 2, 5, 0x801, 1, 1);
    idx("truncated.bin", 0x803, 3, 2, 2, 11, 0x801, 3, 3);
    idx("swapped_magic.bin", 0x801, 1, 1, 1, 1, 0x803, 1, 1);
    idx("zero_dim.bin", 0x803, 1, 0, 1, 0, 0x801, 1, 1);
    idx("huge_dims.bin", 0x803, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 4, 0x801, 1, 1);
    unsigned char tiny[6] = { 3, 0, 0, 0, 8, 3 };
    put("idx", "short_headers.bin", tiny, sizeof tiny);
    return 0;
}
