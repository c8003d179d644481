/* IDX (.gz) reading: headers, prefixes, and truncated or corrupt files. */
#include "io_fixture.h"

#include <zlib.h>

#include "io/idx.h"

TestSuite(idx, .init = io_setup, .fini = io_teardown);

static void put_be32(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* An IDX file: magic, dims, then `have` data bytes (k % 251), gzip'd unless plain. */
static const char *idx_fixture(const char *name, unsigned magic, int ndim, const unsigned *dims,
                               size_t have, int plain) {
  unsigned char hdr[16];
  put_be32(hdr, magic);
  for (int k = 0; k < ndim; k++) put_be32(hdr + 4 + 4 * k, dims[k]);
  unsigned char *data = malloc(have + 1);
  for (size_t k = 0; k < have; k++) data[k] = (unsigned char)(k % 251);
  const char *p = io_path(name);
  if (plain) {
    FILE *fp = fopen(p, "wb");
    fwrite(hdr, 1, 4 + 4 * (size_t)ndim, fp);
    fwrite(data, 1, have, fp);
    fclose(fp);
  } else {
    gzFile gz = gzopen(p, "wb");
    cr_assert(gz);
    gzwrite(gz, hdr, 4 + 4 * (unsigned)ndim);
    if (have) gzwrite(gz, data, (unsigned)have);
    gzclose(gz);
  }
  free(data);
  return p;
}

Test(idx, reads_images_and_labels) {
  unsigned d3[3] = {5, 4, 3}, d1[1] = {7};
  const char *p = idx_fixture("img.gz", 0x803, 3, d3, 60, 0);
  hs_idx x;
  io_assert_ok(hs_idx_read(io_ctx, p, 0, &x));
  cr_assert_eq(x.ndim, 3);
  cr_assert_eq(x.n, 5);
  cr_assert_eq(x.item_size, 12);
  cr_assert_eq(x.data[59], 59);
  hs_idx_free(&x);
  /* a prefix: only what is asked for is read */
  io_assert_ok(hs_idx_read(io_ctx, p, 2, &x));
  cr_assert_eq(x.n, 2);
  cr_assert_eq(x.dim[0], 5);
  cr_assert_eq(x.data[23], 23);
  hs_idx_free(&x);
  p = idx_fixture("lab", 0x801, 1, d1, 7, 1); /* uncompressed works too */
  io_assert_ok(hs_idx_read(io_ctx, p, 100, &x));
  cr_assert_eq(x.ndim, 1);
  cr_assert_eq(x.n, 7);
  cr_assert_eq(x.data[6], 6);
  hs_idx_free(&x);
}

Test(idx, truncated_data) {
  unsigned d3[3] = {10, 2, 2};
  const char *p = idx_fixture("t.gz", 0x803, 3, d3, 30, 0);
  hs_idx x;
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p,
                 "truncated: header says 10x2x2 u8, 10 items (40 bytes) needed but 30 bytes follow");
  io_assert_ok(hs_idx_read(io_ctx, p, 7, &x)); /* the first 7 items are all there */
  hs_idx_free(&x);
  p = idx_fixture("h.gz", 0x803, 1, d3, 0, 0); /* magic says 3 dims, file has 1 */
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "ends inside the header");
}

/* A header claiming 4 billion 4096-byte items in a file of a few bytes: refused as truncated
 * without first allocating what the header claims (fuzz_idx found a 10 GB malloc). */
Test(idx, header_claims_more_than_the_file_holds) {
  unsigned d3[3] = {0xFFFFFFFFu, 64, 64};
  const char *p = idx_fixture("huge.idx", 0x803, 3, d3, 5, 1);
  hs_idx x;
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "but 5 bytes follow");
}

Test(idx, bad_magic_and_trailing_data) {
  unsigned d[3] = {4, 2, 2};
  hs_idx x;
  const char *p = idx_fixture("f.gz", 0xd03, 3, d, 16, 0); /* float IDX */
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "magic 0x00000d03");
  p = idx_fixture("two.gz", 0x802, 2, d, 8, 0);
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "not a u8 IDX file");
  p = idx_fixture("long.gz", 0x801, 1, d, 9, 0);
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "trailing data");
  p = io_path("empty.gz");
  io_write(p, "", 0);
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "not a u8 IDX file");
}

Test(idx, corrupt_gzip) {
  unsigned d[1] = {5000};
  const char *p = idx_fixture("c.gz", 0x801, 1, d, 5000, 0);
  FILE *fp = fopen(p, "r+b");
  fseek(fp, -6, SEEK_END); /* inside the CRC32 of the gzip trailer */
  fputc(0x5a, fp);
  fputc(0xa5, fp);
  fclose(fp);
  hs_idx x;
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_INVALID, p, "corrupt gzip data");
}

Test(idx, missing_file) {
  const char *p = io_path("none.gz");
  hs_idx x;
  io_assert_fail(hs_idx_read(io_ctx, p, 0, &x), HS_E_IO, p, "cannot open");
}
