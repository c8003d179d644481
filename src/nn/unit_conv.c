/* 2-D convolution (nn.Conv2d: zero padding, dilation 1, groups 1) by im2col and GEMM.
 *
 * For a chunk of n samples, im2col lays the inputs out as cols (CK, n*L), CK = C*kh*kw,
 * L = Ho*Wo, so that the layer is one GEMM, Yt (O, n*L) = W (O, CK) cols, and the weight
 * gradient another, dW += dYt cols^T, with the chunk's samples side by side in the inner
 * dimension. Yt is the (O, n, L) view of the output; one transpose maps it to and from NCHW.
 * Chunks are as many samples as fit the conv workspace (hs_scratch; the count depends on the
 * shapes and the budget only, never on threads). Equations: docs/hvp-math.md ("Conv2d"). */
#include <stdint.h>

#include "nn/unit.h"

static void conv_sizes(const hs_model *m, const hs_node *n, hs_unit_sizes *z) { *z = (hs_unit_sizes){0}; }

typedef struct {
  int C, O, CK, L;
  long long in_s, out_s; /* per-sample elements of input and output */
} conv_dims;

static conv_dims dims_of(const hs_node *n) {
  conv_dims d;
  d.C = n->g.C;
  d.O = n->fout;
  d.CK = n->g.C * n->g.kh * n->g.kw;
  d.L = n->g.Ho * n->g.Wo;
  d.in_s = n->in_numel;
  d.out_s = n->out_numel;
  return d;
}

/* Yt (O, nL) <- (n, O, L) block of an NCHW array, and back */
static hs_status to_yt(hs_pass *p, const conv_dims *d, int nb, const void *src, void *yt) {
  return NN_OPS(p)->transpose(NN_BE(p), NN_T(p), 1, nb, d->O, d->L, src, yt);
}
static hs_status from_yt(hs_pass *p, const conv_dims *d, int nb, const void *yt, void *dst) {
  return NN_OPS(p)->transpose(NN_BE(p), NN_T(p), 1, d->O, nb, d->L, yt, dst);
}

/* Yt += bias (O) ones^T */
static hs_status add_bias(hs_pass *p, const conv_dims *d, int nL, const void *bias, void *yt) {
  return NN_OPS(p)->gemm(NN_BE(p), NN_T(p), HS_NOTRANS, HS_NOTRANS, d->O, nL, 1, 1.0, bias, 1, p->m->scr.conv_ones,
                         nL, 1.0, yt, nL);
}

static hs_status conv_forward(hs_pass *p, const hs_node *n, int node, const void *X, void *Y) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  const conv_dims d = dims_of(n);
  hs_scratch *w = &p->m->scr;
  for (int b0 = 0; b0 < p->rows; b0 += w->conv_chunk) {
    int nb = p->rows - b0 < w->conv_chunk ? p->rows - b0 : w->conv_chunk, nL = nb * d.L;
    HS_OP(ctx, op->im2col(be, t, nb, n->g, hs_dptr(X, t, (size_t)b0 * d.in_s), w->conv_cols[0], nL));
    /* Yt (O, nL) = W (O, CK) cols (CK, nL) [+ b ones^T] */
    HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, d.O, nL, d.CK, 1.0, NN_THETA(p, n->w), d.CK, w->conv_cols[0],
                        nL, 0.0, w->conv_yt[0], nL));
    if (n->b != SIZE_MAX) HS_OP(ctx, add_bias(p, &d, nL, NN_THETA(p, n->b), w->conv_yt[0]));
    HS_OP(ctx, from_yt(p, &d, nb, w->conv_yt[0], hs_dptr(Y, t, (size_t)b0 * d.out_s)));
  }
cleanup:
  return st;
}

/* RY_j = conv(RX_j; W) + conv(X; V_W,j) + V_b,j */
static hs_status conv_rforward(hs_pass *p, const hs_node *n, int node, const void *RX, void *RY) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  const conv_dims d = dims_of(n);
  const size_t P = p->m->P, B = (size_t)p->rows;
  hs_scratch *w = &p->m->scr;
  const void *X = p->s->X[n->in];
  for (int b0 = 0; b0 < p->rows; b0 += w->conv_chunk) {
    int nb = p->rows - b0 < w->conv_chunk ? p->rows - b0 : w->conv_chunk, nL = nb * d.L;
    HS_OP(ctx, op->im2col(be, t, nb, n->g, hs_dptr(X, t, (size_t)b0 * d.in_s), w->conv_cols[0], nL));
    for (int j = 0; j < p->k; j++) {
      HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, d.O, nL, d.CK, 1.0, NN_VDIR(p, j * P + n->w), d.CK,
                          w->conv_cols[0], nL, 0.0, w->conv_yt[0], nL));
      if (RX) {
        const void *rx = hs_dptr(RX, t, ((size_t)j * B + b0) * d.in_s);
        HS_OP(ctx, op->im2col(be, t, nb, n->g, rx, w->conv_cols[1], nL));
        HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_NOTRANS, d.O, nL, d.CK, 1.0, NN_THETA(p, n->w), d.CK,
                            w->conv_cols[1], nL, 1.0, w->conv_yt[0], nL));
      }
      if (n->b != SIZE_MAX) HS_OP(ctx, add_bias(p, &d, nL, NN_VDIR(p, j * P + n->b), w->conv_yt[0]));
      HS_OP(ctx, from_yt(p, &d, nb, w->conv_yt[0], hs_dptr(RY, t, ((size_t)j * B + b0) * d.out_s)));
    }
  }
cleanup:
  return st;
}

/* dW_j += dYt_j cols(X)^T [+ dYt cols(RX_j)^T]; db_j += dYt_j 1;
 * dX_j = col2im(W^T dYt_j [+ V_W,j^T dYt]), dYt the gradient pass's cotangent */
static hs_status conv_backward(hs_pass *p, const hs_node *n, int node, const void *dY, void *dX) {
  hs_context *ctx = p->m->ctx;
  const hs_backend_ops *op = NN_OPS(p);
  hs_backend *be = NN_BE(p);
  hs_dtype t = NN_T(p);
  hs_status st = HS_OK;
  const conv_dims d = dims_of(n);
  const size_t P = p->m->P, B = (size_t)p->rows;
  hs_scratch *w = &p->m->scr;
  const void *X = p->s->X[n->in];
  const void *RX = p->V ? p->m->rs.RX[n->in] : NULL;
  const void *dYc = p->s->D[n->out];
  for (int b0 = 0; b0 < p->rows; b0 += w->conv_chunk) {
    int nb = p->rows - b0 < w->conv_chunk ? p->rows - b0 : w->conv_chunk, nL = nb * d.L;
    if (p->G) HS_OP(ctx, op->im2col(be, t, nb, n->g, hs_dptr(X, t, (size_t)b0 * d.in_s), w->conv_cols[0], nL));
    if (p->V) HS_OP(ctx, to_yt(p, &d, nb, hs_dptr(dYc, t, (size_t)b0 * d.out_s), w->conv_yt[1]));
    for (int j = 0; j < p->k; j++) {
      HS_OP(ctx, to_yt(p, &d, nb, hs_dptr(dY, t, ((size_t)j * B + b0) * d.out_s), w->conv_yt[0]));
      if (p->G) {
        void *gw = NN_GRAD(p, j * P + n->w);
        HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, d.O, d.CK, nL, 1.0, w->conv_yt[0], nL, w->conv_cols[0], nL,
                            1.0, gw, d.CK));
        if (n->b != SIZE_MAX)
          HS_OP(ctx, op->gemv(be, t, HS_NOTRANS, d.O, nL, 1.0, w->conv_yt[0], nL, w->conv_ones, 1.0,
                              NN_GRAD(p, j * P + n->b)));
        if (RX) {
          HS_OP(ctx, op->im2col(be, t, nb, n->g, hs_dptr(RX, t, ((size_t)j * B + b0) * d.in_s), w->conv_cols[1], nL));
          HS_OP(ctx, op->gemm(be, t, HS_NOTRANS, HS_TRANS, d.O, d.CK, nL, 1.0, w->conv_yt[1], nL, w->conv_cols[1], nL,
                              1.0, gw, d.CK));
        }
      }
      if (dX) {
        /* dcols (CK, nL) = W^T dYt_j [+ V_W,j^T dYt] */
        HS_OP(ctx, op->gemm(be, t, HS_TRANS, HS_NOTRANS, d.CK, nL, d.O, 1.0, NN_THETA(p, n->w), d.CK, w->conv_yt[0],
                            nL, 0.0, w->conv_cols[1], nL));
        if (p->V)
          HS_OP(ctx, op->gemm(be, t, HS_TRANS, HS_NOTRANS, d.CK, nL, d.O, 1.0, NN_VDIR(p, j * P + n->w), d.CK,
                              w->conv_yt[1], nL, 1.0, w->conv_cols[1], nL));
        HS_OP(ctx, op->col2im(be, t, nb, n->g, w->conv_cols[1], nL, hs_dptr(dX, t, ((size_t)j * B + b0) * d.in_s)));
      }
    }
  }
cleanup:
  return st;
}

const hs_unit hs_unit_conv = {
    .name = "conv2d",
    .sizes = conv_sizes,
    .alloc_state = NULL,
    .alloc_rstate = NULL,
    .forward = conv_forward,
    .backward = conv_backward,
    .rforward = conv_rforward,
};
