#include "core/rng.h"

#include <math.h>

/* The finaliser of MurmurHash3 (fmix64): a bijection on 64 bits with full avalanche. Two
 * rounds over a key that mixes seed, stream and counter with distinct odd constants give
 * a keyed hash that passes BigCrush-style use as a counter-based generator (the same
 * construction as SplitMix64, applied to a counter instead of a state). */
static uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint64_t hs_rng_bits(uint64_t seed, uint64_t stream, uint64_t i) {
  uint64_t key = fmix64(seed * 0x9e3779b97f4a7c15ULL + stream * 0xbf58476d1ce4e5b9ULL + 0x94d049bb133111ebULL);
  return fmix64(key ^ (i * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL));
}

double hs_rng_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return (double)(hs_rng_bits(seed, stream, i) >> 11) * 0x1.0p-53;
}

/* Box-Muller: draws 2j and 2j+1 give the pair (r cos t, r sin t); normal i is member i % 2
 * of pair i / 2, so a run of normals costs one log, sqrt and sincos per two values. */
static void normal_pair(uint64_t seed, uint64_t stream, uint64_t j, double *z0, double *z1) {
  double u1 = 1.0 - hs_rng_uniform(seed, stream, 2 * j); /* (0, 1]: log is finite */
  double u2 = hs_rng_uniform(seed, stream, 2 * j + 1);
  double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
  *z0 = r * cos(t);
  *z1 = r * sin(t);
}

double hs_rng_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  double z0, z1;
  normal_pair(seed, stream, i / 2, &z0, &z1);
  return i % 2 ? z1 : z0;
}

void hs_rng_rademacher(uint64_t seed, uint64_t stream, uint64_t first, size_t n, double *out) {
  for (size_t j = 0; j < n; j++) out[j] = (hs_rng_bits(seed, stream, first + j) >> 63) ? 1.0 : -1.0;
}

void hs_rng_normals(uint64_t seed, uint64_t stream, uint64_t first, size_t n, double *out) {
  size_t j = 0;
  if (n && first % 2) out[j++] = hs_rng_normal(seed, stream, first);
  for (; j + 1 < n; j += 2) normal_pair(seed, stream, (first + j) / 2, &out[j], &out[j + 1]);
  if (j < n) out[j] = hs_rng_normal(seed, stream, first + j);
}
