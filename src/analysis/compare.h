/* The compare driver: trains several network kinds of the same depth and width on the same
 * data from several seeds and analyses the loss Hessian at chosen epochs (0 = the
 * initialisation): SLQ density (src/linalg/slq.h; its trace estimate and negative mass), the
 * extreme eigenvalues by Lanczos (src/linalg/eig.h), loss, gradient norm, train and test
 * accuracy. Results go to one folder (the report: analysis/report.h); docs/compare.md.
 *
 * The analysed function is the training loss on the first `analysis_samples` training
 * samples (batch `analysis_batch`, also the batch-norm batch), at the parameters after the
 * epoch; batch-norm kinds use the mode `bn_mode` ("batch": PyTorch training mode, the
 * default; "running": eval mode with the running statistics training accumulated).
 */
#ifndef HS_ANALYSIS_COMPARE_H
#define HS_ANALYSIS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/landscape.h"
#include "core/settings.h"
#include "io/density.h"
#include "linalg/slq.h"
#include "hesspec.h"
#include "train/curvature.h"
#include "train/train.h"

#define HS_CMP_MAX_KINDS 8
#define HS_CMP_MAX_SEEDS 16
#define HS_CMP_MAX_STAGES 32

typedef struct {
  char name[32];          /* "linear", "relu", "relu-bn", "relu-res", "relu-bn-res", ...;
                           * conv kinds: "conv", "conv-bn", "resnet", "resnet-bn" */
  hs_activation act;
  int batchnorm, residual;
  int conv;               /* a conv net of the hidden widths as channels (compare.c, conv_spec) */
} hs_cmp_kind;

typedef struct hs_compare_config { /* hs_compare_config in include/hesspec.h */
  /* data */
  char dataset[256];      /* "fashion-mnist" (test split: fashion-mnist:test), "mixture[:sep=S]" or "teacher[:...]" */
  size_t train_samples, test_samples, analysis_samples, analysis_batch;
  int synthetic_dim, synthetic_classes; /* the mixture's shape (also the fallback's) */
  /* networks */
  int n_hidden, hidden[HS_MAX_HIDDEN];
  int bias;
  hs_loss loss;           /* cross_entropy, or mse on one-hot targets (teacher data: its targets) */
  hs_batchnorm bn_mode;   /* HS_BN_BATCH or HS_BN_RUNNING for the BN kinds */
  size_t n_kinds;
  hs_cmp_kind kinds[HS_CMP_MAX_KINDS];
  size_t n_seeds;
  uint64_t seeds[HS_CMP_MAX_SEEDS];
  hs_dtype dtype;
  /* training (epochs, batch, optimiser...; seed = the run's seed) */
  hs_train_config train;  /* its paths, resume, curvature and hook unused: compare sets its own */
  /* analysis */
  size_t n_stages;
  size_t stages[HS_CMP_MAX_STAGES]; /* epochs, ascending; the last epoch is always added */
  size_t slq_steps, slq_probes;
  uint64_t probe_seed;
  double eig_tol;
  /* Negative mass counts SLQ nodes below -neg_tol_rel * max(|lambda_max|, |lambda_min|)
   * (Lanczos). Why not SLQ's default 1e-4: the bulk near zero is lumped into one Gauss node
   * of weight ~0.95 whose position (+-1e-4 of the range) is noise, which made the fraction
   * jump between 0.01 and 0.9 from probe set to probe set. */
  double neg_tol_rel;
  int save_checkpoints;   /* checkpoints at the stages in each run folder */
  /* after the last epoch, the top 2C eigenvalues (outliers) instead of the top one; costs one
   * longer Lanczos chain per run (docs/experiments.md, section 6) */
  int outliers;
  /* The landscape panel (docs/experiments.md, section 7): the loss on a points x points grid
   * theta + alpha d1 + beta d2, alpha, beta in [-range, range], around the final weights of the
   * first seed of each listed kind (those not compared are skipped), on the analysis samples;
   * d1, d2 filter-normalised Gaussian directions (analysis/landscape.h, seed probe_seed).
   * points is odd, so that the trained weights themselves are a grid point. */
  int landscape;
  size_t n_landscape_kinds;
  hs_cmp_kind landscape_kinds[HS_CMP_MAX_KINDS];
  size_t landscape_points;
  double landscape_range;
  /* The critical-point panel: a network of kind critical_kind with the (small) widths
   * critical_hidden is trained like the others (first seed) and Newton-MR (analysis/critical.h)
   * runs from critical_starts copies of its weights perturbed by critical_noise, on the first
   * critical_samples training samples (0: the analysis samples), to ||grad|| <= critical_gtol
   * or critical_max_iter steps; index exact when P <= critical_exact_limit, else SLQ. Small,
   * because Newton-MR costs up to ~1000 HVPs per step: the compared widths would take minutes. */
  int critical;
  hs_cmp_kind critical_kind;
  int n_critical_hidden, critical_hidden[HS_MAX_HIDDEN];
  size_t critical_samples, critical_starts, critical_max_iter, critical_exact_limit;
  double critical_noise, critical_gtol;
  /* Curvature along training (docs/experiments.md section 4): with curvature_every = N > 0 every
   * run carries `hesspec train --curvature-every N`'s tracker (train/curvature.h): lambda_max,
   * lambda_min and the top-k gradient overlap of the Hessian on the first curvature_samples
   * training samples (0: the analysis samples; one batch) after every N-th step, every epoch's
   * last step and before the first, into runs/<kind>-s<seed>/curvature.csv; k =
   * curvature_overlap_k (0: the classes). Lanczos tolerance eig_tol, start seed probe_seed. */
  size_t curvature_every, curvature_samples, curvature_overlap_k;
  /* Operators and blocks (docs/experiments.md section 5): after the last epoch of the first seed
   * of every kind, the SLQ densities of the Gauss-Newton matrix G and the residual H - G (the
   * Hessian's analysis settings) and lambda_max of every layer's diagonal block of H (the layers
   * of `--block all`; Lanczos, eig_tol). */
  int operators;
} hs_cmp_config;

/* The settings of a comparison (src/core/settings.h): preset keys ("analysis.slq_steps") and,
 * where there is one, the command-line name ("steps"); the "train" keys are hs_train_settings'. */
extern const hs_setting hs_cmp_settings[];

/* The setting of the preset key ("kinds", "analysis.slq_steps", "train.lr") and, in *base, the
 * struct its offsets point into (c or c->train); NULL when the key is unknown. */
const hs_setting *hs_cmp_setting_at(const char *key, const hs_cmp_config *c, const void **base);
/* The preset defaults (the same as examples/compare-demo.json). */
hs_cmp_config hs_cmp_defaults(void);
/* Reads a preset JSON over cfg: every key must be known (HS_E_INVALID naming the file and
 * the key or value otherwise); keys absent keep cfg's values. */
hs_status hs_cmp_load_preset(hs_context *ctx, const char *path, hs_cmp_config *cfg);
/* Ranges and consistency (sizes, stages <= epochs, ...): HS_E_INVALID naming the field. */
hs_status hs_cmp_validate(hs_context *ctx, hs_cmp_config *cfg);
/* The trainer's options of one run: the config's training settings with the run's seed, its
 * log (NULL: none), the test evaluation's batch and the config's dtype; no checkpoints. */
hs_status hs_cmp_train_options(hs_context *ctx, const hs_cmp_config *c, uint64_t seed, const char *log, size_t eval_batch,
                               hs_train_options *o);
/* "relu-bn-res" or "resnet-bn" -> kind; HS_E_INVALID naming it when unknown. */
hs_status hs_cmp_parse_kind(hs_context *ctx, const char *name, hs_cmp_kind *out);
/* The configuration as JSON (provenance; a valid preset). Caller frees. */
char *hs_cmp_config_json(const hs_cmp_config *cfg);

/* One analysed point. */
typedef struct {
  size_t kind, seed_index, epoch;
  double loss, grad_norm, train_acc, test_acc;
  double lambda_max, lambda_min;       /* Lanczos (converged pairs; NaN if none) */
  double slq_lambda_max, slq_lambda_min; /* extreme SLQ nodes (as in the density file) */
  double trace, trace_se, neg_frac, neg_frac_se;
  /* linear kinds with mse: the loss on the whole training set and its excess over the closed-form
   * global optimum of the same network on the same data (analysis/optimum.h); NaN otherwise */
  double train_loss_all, optimum_gap;
  /* after the last epoch: the top 2C Hessian eigenvalues (C = classes; Lanczos, converged ones)
   * and how many stand apart from the bulk (hs_cmp_outliers); outliers = -1 elsewhere */
  int outliers;
  double outlier_gap;
  size_t top_found;
  /* ReLU kinds: hidden units whose output is 0 on every analysed sample (nn/engine.h) */
  size_t dead_units, relu_units;
  double dead_frac;                    /* NaN for kinds without ReLU */
  double seconds;
  char density_file[96], eig_top_file[96], eig_bottom_file[96]; /* relative to the folder */
  size_t grid_n;
  double *grid, *density;              /* the SLQ density (owned by the result) */
} hs_cmp_point;

/* One Newton-MR start of the critical-point panel. */
typedef struct {
  double loss, grad_norm0, grad_norm; /* at the end; grad_norm0 at the perturbed start */
  size_t iterations, minres_iterations;
  int converged;                      /* grad_norm <= critical_gtol */
  const char *stop;                   /* why Newton-MR stopped (static text) */
  int exact;                          /* index from the dense spectrum (else SLQ) */
  double index, index_se;             /* fraction of negative eigenvalues; SLQ's standard error */
  size_t negative;                    /* exact: the count */
  double lambda_min, lambda_max;
  double seconds;
  char checkpoint[64];                /* the point, relative to the report folder */
} hs_cmp_critical_start;

typedef struct {
  size_t params, samples, n_starts;
  double trained_loss, trained_grad_norm; /* at the trained weights, on the same samples */
  double train_seconds, seconds;          /* training; the starts with their indices */
  int fit;                                /* the fit below exists (hs_critical_fit) */
  double alpha0, eps_c, rms;
  hs_cmp_critical_start *starts;          /* (n_starts), owned */
} hs_cmp_critical;

/* One run's curvature measurements (curvature_every > 0). */
typedef struct {
  size_t n;
  hs_curvature_row *rows; /* (n) owned */
  size_t overlap_k, samples;
  double seconds;         /* the measurements' time */
} hs_cmp_curvature;

/* One operator's SLQ result after training, as drawn and tabulated. */
typedef struct {
  double lambda_min, lambda_max;      /* extreme Ritz nodes */
  double trace, trace_se, neg_frac;
  size_t grid_n;
  double *grid, *density;             /* owned */
  char file[96];                      /* the density file, relative to the report folder */
} hs_cmp_op_density;

/* The operators panel of one kind (first seed, after the last epoch). */
typedef struct {
  hs_cmp_op_density ggn, residual;    /* G and H - G (H: the analysis point of that epoch) */
  size_t n_layers;
  char (*layer)[80];                  /* (n_layers) the layers of `--block all` */
  size_t *layer_params;
  double *layer_lambda_max;           /* Lanczos top eigenvalue of each diagonal block; NaN: not converged */
  char layers_file[96];               /* "hesspec.eig/1" with one entry per block */
  double seconds;
} hs_cmp_operators;

typedef struct {
  hs_cmp_config cfg;
  char data_desc[1024];
  int synthetic_fallback;  /* Fashion-MNIST was missing: a synthetic mixture was used */
  size_t params[HS_CMP_MAX_KINDS];
  int classes;             /* C: outputs of the networks (classes, or the teacher's outputs) */
  /* the closed-form optimum on the training set per kind (linear kinds with mse; NaN otherwise) */
  double optimum[HS_CMP_MAX_KINDS];
  size_t optimum_rank[HS_CMP_MAX_KINDS];
  const char *optimum_method[HS_CMP_MAX_KINDS]; /* static strings; NULL where none */
  hs_cmp_point *points;
  size_t n_points;
  /* training logs: per (kind, seed) the epoch records, in run order */
  hs_train_epoch *epochs;  /* (n_kinds * n_seeds * epochs) */
  size_t n_epoch_recs;     /* per run: cfg.train.epochs */
  /* the landscape panel: per compared kind, the grid around the first seed's final weights
   * (NULL where not drawn) and its file (relative to the folder; "hesspec.landscape/1") */
  hs_ls_result *landscape[HS_CMP_MAX_KINDS];
  char landscape_file[HS_CMP_MAX_KINDS][96];
  hs_cmp_critical *critical; /* the critical-point panel; NULL when off */
  hs_cmp_curvature *curvature; /* (n_kinds * n_seeds) in run order; NULL when off */
  hs_cmp_operators *operators[HS_CMP_MAX_KINDS]; /* per compared kind; NULL when off */
  double seconds;
  const char *backend, *device;
} hs_cmp_result;

/* Runs everything, writing the per-run files into `dir` (an existing empty folder):
 * runs/<kind>-s<seed>/{log.csv, density-eEEEE.json/.csv, eig-top-eEEEE.json, eig-bottom-eEEEE.json}. The report is
 * written by hs_cmp_report. Progress: hook "compare". */
typedef void (*hs_cmp_note_fn)(void *user, const char *line);
/* note (may be NULL) receives one line per finished training run and analysis, for the
 * CLI's plain progress lines. */
hs_status hs_cmp_run(hs_context *ctx, const hs_cmp_config *cfg, const char *dir, hs_cmp_note_fn note,
                     void *note_user, hs_cmp_result **out);
void hs_cmp_result_free(hs_cmp_result *r);
/* hs_cmp_run and hs_cmp_report into the report folder `dir`, built under a temporary name beside
 * it and renamed into place: an existing report there is replaced, any other existing folder
 * refused (HS_E_INVALID); HS_E_OUTPUT when the folder cannot be made or renamed. */
hs_status hs_cmp_run_into(hs_context *ctx, const hs_cmp_config *cfg, const char *dir, hs_cmp_note_fn note,
                          void *note_user, hs_cmp_result **out);

/* Outliers of the top of a spectrum (Sagun et al. 2017; Papyan 2019: about C, or C - 1, for C
 * classes): given the n >= 2 largest eigenvalues in descending order, the k in [1, n-1] where
 * the relative gap (v[k-1] - v[k]) / max(|v[k]|, 1e-12 |v[0]|) is largest; *gap gets it. */
int hs_cmp_outliers(const double *desc, size_t n, double *gap);

/* The network of a kind under the configuration's widths and loss (conv kinds: a conv net of
 * the widths as channels, which needs square one-channel images: HS_E_INVALID otherwise). */
hs_status hs_cmp_kind_spec(hs_context *ctx, const hs_cmp_config *c, const hs_cmp_kind *k, const hs_dataset *data,
                           hs_model_spec *s);
/* Evaluation batches of b (0 = all) over n samples, one more row where the last batch would
 * hold a single sample (batch-mode BN needs two). */
size_t hs_cmp_eval_batch(size_t n, size_t b);
/* The SLQ options of the compare's Hessian analysis for a P-parameter operator: slq_steps
 * (capped at P) x slq_probes, seed probe_seed, negative-mass threshold neg_tol_rel *
 * max(|lambda_max|, |lambda_min|) when that is finite and positive (else SLQ's default). */
hs_slq_options hs_cmp_slq_options(const hs_cmp_config *c, size_t P, double lambda_max, double lambda_min);
/* The provenance of a compare result file about kind k, seed index si after `epoch` epochs of the
 * model m bound to the analysis samples: op_kind "hessian", "ggn", "residual", "loss"; weights is
 * a buffer of at least 200 bytes that receives the weights' description. */
hs_provenance hs_cmp_provenance(const hs_cmp_config *c, hs_model *m, size_t k, size_t si, size_t epoch,
                                const char *op_kind, const char *spec_json, const char *data_desc, char *weights);
/* Copies an SLQ result's grid and density into *grid, *density (caller frees; *grid_n set). */
hs_status hs_cmp_keep_density(hs_context *ctx, const hs_slq_result *r, size_t *grid_n, double **grid, double **density);
/* Index of the compared kind named `name`, or -1. */
int hs_cmp_kind_index(const hs_cmp_config *c, const char *name);

/* The point of (kind, seed index, epoch), or NULL. */
const hs_cmp_point *hs_cmp_find(const hs_cmp_result *r, size_t kind, size_t seed, size_t epoch);

#endif
