#ifndef HS_NN_LAYOUT_H
#define HS_NN_LAYOUT_H
#include "nn/model.h"
/* Fills m->tensors, m->blocks, m->P from m->spec. */
void hs_nn_build_layout(hs_model *m);
/* Block i adds its input to its output: residual on, i >= 1 and equal widths. */
int hs_block_is_residual(const hs_model_spec *s, int i);
#endif
