/* Counter-based random numbers: value i of stream s under seed k is a pure function of
 * (k, s, i), so every backend and thread count draws the same numbers, and any slice can be
 * drawn without drawing what comes before it. Draws happen on the host (DESIGN.md). */
#ifndef HS_RNG_H
#define HS_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Streams keep independent uses apart under one user seed. */
enum {
  HS_STREAM_INIT = 1,      /* parameter initialisation; tensor t uses stream INIT + 16*t */
  HS_STREAM_PROBE = 2,     /* Lanczos / Hutchinson probe vectors; probe p uses PROBE + 16*p */
  HS_STREAM_DATA = 3,      /* synthetic datasets */
  HS_STREAM_SHUFFLE = 4,   /* minibatch order in training */
  HS_STREAM_TEST = 5,      /* test vectors */
  HS_STREAM_DIRECTION = 6, /* landscape directions; direction j uses DIRECTION + 16*j */
  HS_STREAM_PERTURB = 7    /* critical starts: start s, tensor t use PERTURB + 16*((s << 20) + t) */
};

uint64_t hs_rng_bits(uint64_t seed, uint64_t stream, uint64_t i);
/* Uniform in [0, 1) with 53 random bits. */
double hs_rng_uniform(uint64_t seed, uint64_t stream, uint64_t i);
/* Standard normal (Box-Muller; normals 2j and 2j+1 share uniforms 2j and 2j+1). */
double hs_rng_normal(uint64_t seed, uint64_t stream, uint64_t i);
/* out[j] = +-1 for j in [0, n): draw first + j. */
void hs_rng_rademacher(uint64_t seed, uint64_t stream, uint64_t first, size_t n, double *out);
void hs_rng_normals(uint64_t seed, uint64_t stream, uint64_t first, size_t n, double *out);

#endif
