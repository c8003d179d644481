/* Device-level entry points of the HVP engine, for src/linalg and src/train. */
#ifndef HS_NN_HVP_H
#define HS_NN_HVP_H

#include "hesspec.h"

/* Y (k, P) = H V or G V (+ weight decay) over all batches; V, Y device arrays. Any k:
 * the directions are processed in chunks that fit the R-state memory budget. */
hs_status hs_nn_apply(hs_model *m, hs_curvature which, size_t k, const void *V, void *Y);
/* Loss over the bound data; the gradient into the device vector G (P) when non-NULL. */
hs_status hs_nn_loss_grad(hs_model *m, double *loss, void *G);

#endif
