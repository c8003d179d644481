/* The diagonal block of an operator on a subset of its coordinates.
 *
 * For a selection of coordinates S (a union of contiguous segments of [0, n)), with P_S the
 * n x |S| matrix of the unit vectors e_i, i in S (in increasing order), the block operator is
 *     A_S = P_S^T A P_S        (|S| x |S|, symmetric when A is),
 * applied as embed (x into a zero n-vector), multiply by A, restrict (the S entries of the
 * product). Its eigenvalues are those of the principal submatrix A[S, S]. k directions go
 * through the base operator as one block of k, so a block of a model's Hessian costs one
 * block HVP of k directions per call, whatever the block's size. */
#ifndef HS_BLOCK_LINOP_H
#define HS_BLOCK_LINOP_H

#include <stddef.h>

#include "linalg/linop.h"

typedef struct {
  size_t offset, length; /* coordinates [offset, offset + length) of the base operator */
} hs_segment;

/* segs: nseg >= 1 segments, increasing, non-overlapping, inside [0, base->n) (HS_E_INVALID
 * otherwise); copied. The base operator is borrowed and must outlive the block operator.
 * kind is the base's kind (for provenance). */
hs_status hs_linop_block(hs_linop *base, size_t nseg, const hs_segment *segs, hs_linop **out);

#endif
