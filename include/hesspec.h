/* hesspec — exact Hessian spectra of neural networks.
 *
 * The only public header. Every handle is opaque; every array crossing this API lives in
 * host memory and is double precision (the engine converts to the model's dtype).
 *
 * Conventions (libuv/SQLite style):
 *  - Every fallible call returns hs_status. On failure the context keeps a one-line message
 *    (hs_last_error) naming the file, field or value at fault. The library never prints,
 *    exits or aborts.
 *  - Ownership: an object returned through an `out` pointer belongs to the caller, who frees
 *    it with the matching _destroy/_free call. Objects borrow their context: destroy every
 *    model and dataset before the context. Input arrays are copied; the caller keeps them.
 *  - Threads: a context and everything made from it (models, datasets, operators) belong to
 *    one thread at a time; calls on one context are never concurrent. Different contexts
 *    may be used from different threads at once (one context per thread): they share no
 *    mutable state, except the process-wide settings below. hs_status_string, the
 *    hs_*_defaults and hs_dtype_* are pure and callable from anywhere.
 *  - Process-wide settings: creating a context sets OpenBLAS to one thread
 *    (openblas_set_num_threads(1)) for the whole process, because OpenBLAS's own threading
 *    changes summation orders with the thread count; the library threads around it on
 *    fixed tiles (OpenMP, `threads` of the context), so results do not depend on it. A
 *    program that uses OpenBLAS threads itself must set them again after hs_context_create.
 *    cJSON's allocation hooks are pointed at the library's allocator (same malloc/free).
 *    The library installs no signal handlers and reads no environment variable.
 */
#ifndef HESSPEC_H
#define HESSPEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HS_VERSION "0.2.0"

typedef enum {
  HS_OK = 0,
  HS_E_INVALID,     /* bad input or usage: a file, field or value is wrong (CLI exit 2) */
  HS_E_IO,          /* an input could not be read: missing, unreadable, truncated (CLI exit 2) */
  HS_E_NOMEM,       /* host or device memory exhausted (CLI exit 1) */
  HS_E_BACKEND,     /* a BLAS/LAPACK/CUDA call failed (CLI exit 1) */
  HS_E_UNSUPPORTED, /* the build or the device lacks the feature asked for (CLI exit 2) */
  HS_E_NUMERIC,     /* NaN/Inf or a breakdown the method cannot recover from (CLI exit 1) */
  HS_E_INTERNAL,    /* a bug: an invariant of the library does not hold (CLI exit 1) */
  /* Appended (the values above are stable): */
  HS_E_CANCELLED,   /* a hook (progress, epoch) asked to stop; nothing half-written is left
                     * (CLI: 130 after SIGINT, 143 after SIGTERM, else 1) */
  HS_E_OUTPUT       /* a result could not be written: the folder is missing or not a folder,
                     * the disk is full, a write/fsync/rename failed. The older file at that
                     * path, if any, is untouched and no temporary file is left (CLI exit 1) */
} hs_status;
/* Reading and writing are told apart by status, not by errno: every reader reports HS_E_IO
 * (the user's input is at fault: exit 2), every writer of results HS_E_OUTPUT (the run
 * failed: exit 1). */

typedef enum { HS_F64 = 0, HS_F32 = 1 } hs_dtype;

typedef struct hs_context hs_context;
typedef struct hs_model hs_model;
typedef struct hs_dataset hs_dataset;

const char *hs_status_string(hs_status s);
size_t hs_dtype_size(hs_dtype t);
const char *hs_dtype_name(hs_dtype t);

/* ---- context ------------------------------------------------------------------------- */

/* Progress hook: the library calls it during long work (at least once per Lanczos step,
 * probe, epoch batch or assembled column); only the CLI draws. `done` of `total` units of
 * the phase `what` are complete. Return HS_OK to go on; any other status stops the work at
 * once, and the call that was running returns that very status (HS_E_CANCELLED by
 * convention) with the message "<what>: cancelled after <done> of <total>". This is the
 * only way to cancel: the library installs no signal handlers (the CLI's handlers set a
 * flag that its hook turns into HS_E_CANCELLED). The hook runs on the calling thread. */
typedef hs_status (*hs_progress_fn)(void *user, const char *what, size_t done, size_t total);

/* Sum over the processes of a data-parallel run (docs/mpi.md). Contract for an implementation:
 *  - buf holds n doubles of this process's partial sums (host memory); on return it holds
 *    their sum over all ranks, in place;
 *  - every rank receives bit-identical results, and the result depends only on the inputs
 *    and the number of ranks (a fixed summation order, e.g. rank 0 + rank 1 + ... ; never an
 *    order that depends on message arrival), so a run is reproducible at a given R;
 *  - every rank calls it the same number of times with the same n (the library guarantees
 *    that: every rank runs the same sequence of operations);
 *  - it returns HS_OK, or a failure status that every rank sees (or it ends the run, as
 *    MPI_Abort does): a rank must never be left waiting.
 * The library never calls it from more than one thread at a time. */
typedef hs_status (*hs_allreduce_fn)(void *user, double *buf, size_t n);

typedef struct {
  const char *device; /* "auto" (GPU if usable, else CPU), "cpu", "cuda", "cuda:N"; NULL = "auto" */
  hs_dtype dtype;     /* arithmetic of models and operators created in this context */
  int threads;        /* CPU threads; 0 = all cores */
  int tf32;           /* allow TF32 tensor-core GEMMs on the GPU (f32 only) */
  /* Memory budgets in MiB (the library reads no environment variable; the CLI passes
   * HESSPEC_CACHE_MB, HESSPEC_RSTATE_MB and HESSPEC_CONV_MB here). They trade memory for
   * recomputation only: results are the same bits whatever they are (docs/engine.md). */
  size_t cache_mb;  /* per-batch states kept for every batch while they fit (4096; 0 = none) */
  size_t rstate_mb; /* R-pass state per chunk of directions (1024; at least one direction) */
  size_t conv_mb;   /* im2col workspace per conv chunk of samples (256; at least 1) */
  /* The folder of the Fashion-MNIST IDX files (copied); NULL or "" = the Debian package's
   * /usr/share/datasets/fashion-mnist. The CLI passes $HESSPEC_DATA. */
  const char *data_dir;
  /* Data parallel over `ranks` processes, this one being `rank` (0-based); ranks <= 1 (the
   * default 0) is a single process and allreduce is never called. With ranks > 1 every rank
   * creates its context with the same options (but rank), builds the same model and binds
   * the SAME full dataset with the same batch size. hs_model_bind then keeps only this
   * rank's shard: of the n_b = ceil(N / B) batches, rank r holds the contiguous whole
   * batches [floor(n_b r / R), floor(n_b (r + 1) / R)) (a rank may hold none when n_b < R).
   * Loss, gradient, accuracy, outputs and curvature products sum the per-rank partial sums
   * with allreduce and normalise by the GLOBAL sample count N, so every rank gets the same
   * numbers, equal to one process's to rounding and bit-identical from run to run for a
   * given R. Training (src/train) splits each minibatch into R contiguous row ranges instead
   * (replicated on every rank for models with batch norm, whose batch statistics would
   * otherwise be per rank). */
  int rank, ranks;
  hs_allreduce_fn allreduce; /* required when ranks > 1 */
  void *allreduce_user;      /* passed to allreduce; borrowed, must outlive the context */
} hs_context_options;

hs_context_options hs_context_defaults(void);
/* On failure *out is still set (unless memory ran out) so that hs_last_error can tell why;
 * the caller destroys it either way. */
hs_status hs_context_create(const hs_context_options *opt, hs_context **out);
void hs_context_destroy(hs_context *ctx);
/* The message of the last failure, "" if none. Valid until the next call on ctx. */
const char *hs_last_error(const hs_context *ctx);
/* Records a formatted message as the context's last error and returns st: for code that
 * reports through the context, such as hooks (progress, allreduce) returning a failure, or a
 * client that keeps the library's convention. */
hs_status hs_set_error(hs_context *ctx, hs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void hs_set_progress(hs_context *ctx, hs_progress_fn fn, void *user);
/* Backend name ("cpu", "cuda") and device name (CPU model or GPU name) actually in use. */
const char *hs_backend_name(const hs_context *ctx);
const char *hs_device_name(const hs_context *ctx);
hs_dtype hs_context_dtype(const hs_context *ctx);
/* One line per compiled-in backend and its devices, for `hesspec info`. Caller frees. */
char *hs_build_info(void);
/* Usable CUDA devices: 0 in a build without CUDA or on a machine without a GPU or driver. */
int hs_cuda_device_count(void);
/* sizeof the public struct named type ("hs_spectrum_options", "hs_eigen_result", ...), 0 for
 * a name it does not know: bindings that mirror the structs check their layouts against it. */
size_t hs_abi_sizeof(const char *type);
/* Testing output failures (a full disk without a full disk): the n-th write-side step of the
 * library's file writers from now on fails with errno err, as the system call would. Steps,
 * each counting one: creating the temporary file, each write, and at commit the flush, the
 * fsync and the rename; a failed file leaves nothing behind (docs/robustness.md). n = 0
 * disarms. Process-wide: for single-threaded tests only. */
void hs_test_fail_writes(size_t n, int err);

/* ---- option tables: the vocabularies of the commands and presets (docs/api.md) ---------------- */

/* A table describes the options of a command or the keys of a preset as data, {name, key,
 * type, field, range, help}: the CLI's parser, `hesspec help`, the job files' checks, the
 * preset reader and the Python package all read the same table, so a name means one thing
 * everywhere. Names match exactly (no prefixes). A table is an array of hs_setting ended by an
 * entry with name == NULL and key == NULL. The field is at `offset` bytes from a base pointer
 * the caller supplies (the struct the table describes), `size` bytes wide, so one table serves
 * every instance; the library's tables describe its public structs (hs_train_config) or its
 * opaque objects (hs_compare_config): pass that object as the base. */
typedef enum {
  HS_SET_FLAG,     /* int: a command-line flag sets it to 1 (flag_off: to 0); JSON true/false */
  HS_SET_UINT,     /* unsigned integer of `size` bytes (size_t, uint64_t, int, unsigned) */
  HS_SET_DOUBLE,   /* double */
  HS_SET_STRING,   /* const char *: the text itself, borrowed (it must outlive the struct's use) */
  HS_SET_STRBUF,   /* char[size]: copied; too long is an error */
  HS_SET_CHOICE,   /* int: the value of the named choice */
  HS_SET_CUSTOM,   /* parsed by `parse` (text; JSON strings are passed as text) */
} hs_setting_type;

typedef struct hs_setting_choice {
  const char *name;
  int value;
} hs_setting_choice;

/* bounds: which of min/max apply, and whether they are strict */
enum { HS_SET_MIN = 1, HS_SET_MAX = 2, HS_SET_MIN_OPEN = 4, HS_SET_MAX_OPEN = 8 };

typedef struct hs_setting hs_setting;
/* Parses one value (one list element for lists) into `field`. `label` names it in messages
 * ("--kinds", "preset.json: 'kinds'"). HS_E_INVALID with the message in ctx when bad. */
typedef hs_status (*hs_setting_parse_fn)(hs_context *ctx, const hs_setting *s, const char *label, const char *text,
                                         void *field);

struct hs_setting {
  const char *name;    /* command-line name without the dashes ("steps"); also the job-file key.
                          NULL: not on the command line */
  const char *key;     /* preset key ("analysis.slq_steps"); NULL: not in presets */
  hs_setting_type type;
  size_t offset, size; /* the field (HS_SET_FIELD); for lists the array, size = one element */
  int bounds;          /* HS_SET_MIN | HS_SET_MAX | ..._OPEN */
  double min, max;
  int flag_off;        /* HS_SET_FLAG: the flag clears the field (--no-keep-last) */
  const hs_setting_choice *choices; /* HS_SET_CHOICE: ended by {NULL, 0} */
  hs_setting_parse_fn parse;        /* HS_SET_CUSTOM */
  /* lists: a comma-separated value on the command line, a JSON array in files. The field is an
   * array of list_max elements; the element count goes to the unsigned field at count_offset,
   * count_size bytes wide. list_max == 0: a single value. */
  size_t list_max, count_offset, count_size;
  const char *metavar; /* "M" in "--steps M" */
  const char *help;    /* one line (or several, '\n'-separated) for `hesspec help` */
};

/* offset and size of a member, for hs_setting's offset/size pair */
#define HS_SET_FIELD(T, m) .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)
/* an array member as a list: element size, capacity, and where the count goes */
#define HS_SET_LIST(T, m, n)                                                                             \
  .offset = offsetof(T, m), .size = sizeof(((T *)0)->m[0]),                                              \
  .list_max = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .count_offset = offsetof(T, n),             \
  .count_size = sizeof(((T *)0)->n)

/* The entry named `name` (command-line name, or preset key when by_key), NULL if none. */
const hs_setting *hs_setting_find(const hs_setting *table, const char *name, int by_key);
/* Does the setting take a value on the command line (everything but flags)? */
int hs_setting_takes_value(const hs_setting *s);
/* Parses a command-line value into base: text, or for a flag NULL (the flag given) or "true",
 * "false", "1", "0" (as JSON true/false in a file). HS_E_INVALID naming label when bad; the
 * field (a list's elements and count) is unchanged then. */
hs_status hs_setting_from_text(hs_context *ctx, const hs_setting *s, const char *label, const char *text, void *base);
/* The same for a caller without a context (a command line parsed before one exists): the
 * message goes to msg (msglen bytes; custom parsers get a context that only holds it). */
hs_status hs_setting_from_text_msg(char *msg, size_t msglen, const hs_setting *s, const char *label, const char *text,
                                   void *base);
/* Checks one JSON value (its text: `40`, `"relu"`, `[1, 2]`, `true`) against the setting's type
 * and range without storing it, as a preset or job file gives it: HS_E_INVALID naming label. */
hs_status hs_setting_check_json(hs_context *ctx, const hs_setting *s, const char *label, const char *json);
/* The numeric value of a scalar field (uint, double, flag, choice) in *out; HS_E_INVALID for
 * other types and lists. */
hs_status hs_setting_number(hs_context *ctx, const hs_setting *s, const void *base, double *out);
/* The name of a choice setting's value, NULL when s is not a choice or value none of its own. */
const char *hs_setting_choice_name(const hs_setting *s, int value);
/* "full|partial" for choices, else the metavar or a word for the type. Static or s's strings. */
const char *hs_setting_value_hint(const hs_setting *s, char *buf, size_t cap);

/* ---- utilities the CLI shares with embedders -------------------------------------------- */

/* A growing string (SQLite's sqlite3_str, in small). Zero-initialise. s is NUL-terminated
 * whenever len > 0; on allocation failure `bad` latches and further output is ignored, so
 * writers check once, at hs_sbuf_finish. */
typedef struct {
  char *s;
  size_t len, cap;
  int bad;
} hs_sbuf;

/* Appends printf-formatted text. */
void hs_sbuf_printf(hs_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Returns the finished string (caller frees with free(); "" when nothing was written), or NULL
 * after an allocation failure, with the buffer freed. Either way b is left empty. */
char *hs_sbuf_finish(hs_sbuf *b);

/* Reads `path` into a new buffer of *len bytes plus a NUL not counted (caller frees *buf with
 * free()), refusing files over max_bytes (a wrong path to a disk image or a FIFO fails with a
 * message instead of exhausting memory). HS_E_IO naming the path when it cannot be read,
 * HS_E_INVALID when it is a folder or too large; *buf is NULL then. */
hs_status hs_read_file_max(hs_context *ctx, const char *path, size_t max_bytes, char **buf, size_t *len);
/* mkdir -p: the folder and every missing parent (an existing folder is fine). HS_E_OUTPUT
 * naming the path and, where a parent failed, that parent: "<path>: cannot create the <what>
 * (<reason>)" (what: "folder", "output folder", ...). An empty path is HS_E_INVALID. */
hs_status hs_mkdir_p(hs_context *ctx, const char *path, const char *what);

/* ---- model ----------------------------------------------------------------------------- */

typedef enum { HS_ACT_LINEAR = 0, HS_ACT_RELU, HS_ACT_TANH } hs_activation;
typedef enum { HS_BN_NONE = 0, HS_BN_BATCH, HS_BN_RUNNING } hs_batchnorm;
typedef enum { HS_LOSS_MSE = 0, HS_LOSS_CROSS_ENTROPY } hs_loss;

#define HS_MAX_HIDDEN 64
#define HS_MAX_LAYERS 256

/* The layer kinds of the layer form (DESIGN.md "Model spec"). */
typedef enum {
  HS_LAYER_LINEAR = 0,
  HS_LAYER_CONV2D,
  HS_LAYER_BATCHNORM,
  HS_LAYER_RELU,
  HS_LAYER_TANH,
  HS_LAYER_IDENTITY,
  HS_LAYER_AVGPOOL,
  HS_LAYER_MAXPOOL,
  HS_LAYER_GLOBAL_AVGPOOL,
  HS_LAYER_FLATTEN,
  HS_LAYER_RESIDUAL
} hs_layer_type;

/* A shape per sample: rank 1 = [F] (features), rank 3 = [C, H, W]. */
typedef struct {
  int rank;
  int dim[3];
} hs_shape;

/* One entry of the layer list. A residual entry's body is the next body_len entries and its
 * shortcut the shortcut_len entries after those (nested residuals count with all their
 * entries: the list is the layer tree in preorder); shortcut_len = 0 is the identity. */
typedef struct {
  hs_layer_type type;
  int out;          /* linear: out_features; conv2d: out_channels */
  int kernel[2];    /* conv2d, avgpool, maxpool: [kh, kw] */
  int stride[2];    /* conv2d (default 1), pools (default = kernel) */
  int padding[2];   /* conv2d (default 0); pools have none */
  int bias;         /* linear, conv2d (default true) */
  double eps;       /* batchnorm (default 1e-5) */
  int body_len;     /* residual */
  int shortcut_len; /* residual */
  /* The module name that prefixes the layer's tensor names. Empty: its path in the list
   * ("layers.3.body.0"), as PyTorch's state_dict names it. The MLP form's expansion sets
   * "blocks.0.linear", "blocks.0.norm", "head", so both forms keep their names. */
  char name[40];
} hs_layer_spec;

typedef enum { HS_SPEC_MLP = 0, HS_SPEC_LAYERS = 1 } hs_spec_form;

/* The model spec of DESIGN.md, in either form.
 *  MLP form (form = HS_SPEC_MLP): input_dim, hidden[0..n_hidden-1], output_dim, activation,
 *    batchnorm (none | batch | running), residual, bias.
 *  Layer form (form = HS_SPEC_LAYERS): input_shape, layers[0..n_layers-1]; batchnorm is the
 *    batchnorm_mode of every batchnorm layer (batch | running, never none); input_dim
 *    (the product of input_shape) and output_dim (the last layer's features) are derived
 *    by hs_spec_validate's shape inference, which the parser runs.
 *  Both: loss, weight_decay. */
typedef struct {
  hs_spec_form form;
  int input_dim;
  int n_hidden;
  int hidden[HS_MAX_HIDDEN];
  int output_dim;
  hs_activation activation;
  hs_batchnorm batchnorm;
  int residual;
  int bias;
  hs_loss loss;
  double weight_decay; /* lambda of lambda/2 ||theta||^2; 0 = off */
  hs_shape input_shape;
  int n_layers;
  hs_layer_spec layers[HS_MAX_LAYERS];
} hs_model_spec;

hs_model_spec hs_spec_defaults(void);
/* Reads a model spec JSON file; unknown keys and values are HS_E_INVALID naming them. */
hs_status hs_spec_load(hs_context *ctx, const char *path, hs_model_spec *out);
/* Checks ranges (positive widths, ...) and, for the layer form, infers and checks every
 * layer's shape; HS_E_INVALID naming the field, or the layer by its path ("layers.3.body.0").
 * A layer-form spec built in code must carry input_dim and output_dim consistent with its
 * layers (hs_spec_infer_dims fills them). */
hs_status hs_spec_validate(hs_context *ctx, const hs_model_spec *spec);
/* Layer form: sets input_dim and output_dim from input_shape and the layers (shape
 * inference, errors as hs_spec_validate). MLP form: checks only. */
hs_status hs_spec_infer_dims(hs_context *ctx, hs_model_spec *spec);
/* The MLP form as the equivalent layer form (same tensor names, same parameter order, same
 * numbers): block i = [linear, batchnorm?, activation], wrapped in a residual with an
 * identity shortcut where the MLP adds the skip; then the linear head. */
hs_status hs_spec_mlp_to_layers(hs_context *ctx, const hs_model_spec *mlp, hs_model_spec *out);
/* The spec as canonical JSON (for provenance). Caller frees. */
char *hs_spec_to_json(const hs_model_spec *spec);

hs_status hs_model_create(hs_context *ctx, const hs_model_spec *spec, hs_model **out);
void hs_model_destroy(hs_model *m);
size_t hs_model_num_params(const hs_model *m);
const hs_model_spec *hs_model_get_spec(const hs_model *m);

/* Parameter layout: tensor i of the flat vector (DESIGN.md order). */
typedef struct {
  const char *name; /* PyTorch name, e.g. "blocks.0.linear.weight", "layers.0.weight" */
  size_t offset;    /* into the flat parameter vector */
  int rows, cols;   /* shape[0] and the product of the other dims (vectors: cols = 1) */
  int ndim;         /* 1 (bias, BN), 2 (linear weight: out x in), 4 (conv: out, in, kh, kw) */
  int shape[4];
} hs_param_info;
size_t hs_model_num_tensors(const hs_model *m);
const hs_param_info *hs_model_tensor(const hs_model *m, size_t i);

/* The batch-norm layers in parameter order, each with its running statistics. */
typedef struct {
  const char *name; /* module name: "blocks.0.norm", "layers.1", "layers.3.body.1" */
  int features;     /* BatchNorm1d features or BatchNorm2d channels */
} hs_norm_info;
size_t hs_model_num_norms(const hs_model *m);
const hs_norm_info *hs_model_norm(const hs_model *m, size_t i);

/* Default initialisation (PyTorch's nn.Linear / nn.Conv2d rule: U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) for weights and biases, fan_in = in (linear) or in*kh*kw (conv); BN weight
 * 1, bias 0, running mean 0, running var 1) from the counter-based RNG. */
hs_status hs_model_init(hs_model *m, uint64_t seed);
hs_status hs_model_get_params(hs_model *m, double *theta /* P */);
hs_status hs_model_set_params(hs_model *m, const double *theta /* P */);
/* Running statistics of batch-norm layer i (hs_model_norm(m, i)->features values each);
 * HS_E_INVALID where the model has no such layer. */
hs_status hs_model_get_running(hs_model *m, int block, double *mean, double *var);
hs_status hs_model_set_running(hs_model *m, int block, const double *mean, const double *var);
/* safetensors checkpoints with the tensor names of DESIGN.md (running stats included). */
hs_status hs_model_load(hs_model *m, const char *path);
hs_status hs_model_save(hs_model *m, const char *path, hs_dtype file_dtype);

/* ---- data ------------------------------------------------------------------------------ */

/* A dataset of n samples. X: (n, input_dim) row-major (layer form with input_shape
 * [C, H, W]: each row is one sample in C, H, W order, input_dim = C*H*W). For cross entropy, labels (n) in
 * [0, output_dim); for mse, targets (n, output_dim). Values are validated (finite, in range). */
hs_status hs_dataset_create(hs_context *ctx, size_t n, int input_dim, const double *X,
                            int output_dim, const int32_t *labels, const double *targets,
                            hs_dataset **out);
void hs_dataset_destroy(hs_dataset *d);
size_t hs_dataset_size(const hs_dataset *d);
/* A dataset by name, the CLI's --dataset (docs/io.md): "fashion-mnist[:train|:test]" (IDX
 * files from the context's data_dir), "mixture[:sep=S]" or "teacher[:hidden=HxH,act=A,noise=E]"
 * (synthetic, drawn from seed), checked against and shaped for spec (its input_dim, output_dim
 * and loss). n > 0 keeps the first n samples (more than the set holds is HS_E_INVALID); 0 = all.
 * source (source_len bytes; may be NULL) receives its provenance, e.g.
 * "fashion-mnist:train (1024 samples) from /usr/share/datasets/fashion-mnist". */
hs_status hs_dataset_open(hs_context *ctx, const char *name, size_t n, uint64_t seed, const hs_model_spec *spec,
                          hs_dataset **out, char *source, size_t source_len);
/* Inputs X.npy (N, input_dim) and targets Y.npy, the CLI's --inputs and --targets: (N,)
 * integer labels in [0, output_dim) for cross_entropy, (N, output_dim) floats for mse; any
 * numeric dtype, finite values. n and source as hs_dataset_open. */
hs_status hs_dataset_load(hs_context *ctx, const char *inputs, const char *targets, size_t n,
                          const hs_model_spec *spec, hs_dataset **out, char *source, size_t source_len);

/* Binds the data (uploaded once) and the batch size B (0 = all samples in one batch). The
 * per-batch state of the current parameters is computed lazily and cached.
 * Lifetime: the model borrows d. It keeps a pointer to d (for its sizes, and for the
 * per-batch uploads of a streaming bind); d must stay alive and unchanged until the model
 * is destroyed or bound to other data (a later hs_model_bind, which drops the old binding
 * first). Destroying d while it is bound and then calling the model is undefined.
 * Failure: HS_E_INVALID (d does not fit the model or B) keeps the previous binding;
 * any other failure (memory, backend) leaves the model unbound. */
hs_status hs_model_bind(hs_model *m, const hs_dataset *d, size_t batch);

/* ---- loss, gradient, Hessian-vector products -------------------------------------------- */

/* Loss over the bound data (sample-weighted mean over batches, + weight decay); gradient
 * into grad (P) when non-NULL. */
hs_status hs_model_loss_grad(hs_model *m, double *loss, double *grad);
/* Network outputs F (N, output_dim) over the bound data (BN per batch as for the loss). */
hs_status hs_model_outputs(hs_model *m, double *F);
/* Classification accuracy (cross entropy only) over the bound data. */
hs_status hs_model_accuracy(hs_model *m, double *acc);

/* H, the Gauss-Newton matrix G = J^T H_loss J, or the residual H - G (the terms of H that
 * come from the network's second derivatives; weight decay, in both H and G, cancels in it). */
typedef enum { HS_CURV_HESSIAN = 0, HS_CURV_GGN = 1, HS_CURV_RESIDUAL = 2 } hs_curvature;

/* Y = H V (or G V, or (H - G) V) for k directions. V and Y: (k, P) row-major (each row one direction).
 * The model keeps its device copies of V and Y (2 k P values of the largest k so far) between
 * calls, so repeated products allocate nothing; hs_model_destroy frees them. */
hs_status hs_model_hvp(hs_model *m, hs_curvature which, size_t k, const double *V, double *Y);

/* ---- models from JSON text, cancellation from another thread ------------------------------ */

/* A model from a spec given as JSON text (either form, as hs_spec_load reads a file); `origin`
 * names the text in messages ("spec.json", "from_torch"; NULL = "spec"). The parameters are
 * the default initialisation of seed 0, as hs_model_create leaves them. */
hs_status hs_model_create_json(hs_context *ctx, const char *json, const char *origin, hs_model **out);

/* The bound data: its sample count N and batch size B (both 0 when unbound). */
void hs_model_binding(const hs_model *m, size_t *samples, size_t *batch);

/* A ready-made progress hook for cancelling from another thread or a signal handler:
 * `user` points at an int flag; the hook returns HS_E_CANCELLED once the flag is nonzero
 * (read atomically) and HS_OK otherwise. hs_set_progress(ctx, hs_progress_cancel_flag, &flag);
 * the flag must outlive the calls it can cancel. The caller clears it before the next call. */
hs_status hs_progress_cancel_flag(void *user, const char *what, size_t done, size_t total);

/* ---- arrays: NumPy .npy files (docs/io.md) ----------------------------------------------- */

#define HS_ARRAY_MAX_DIMS 8

/* A C-order array of doubles; data owned (hs_array_free). */
typedef struct {
  int ndim;                       /* 0 (a scalar) .. HS_ARRAY_MAX_DIMS */
  size_t dim[HS_ARRAY_MAX_DIMS];
  size_t count;                   /* product of the dims (1 for a scalar) */
  double *data;                   /* (count) */
} hs_array;

/* Reads a .npy file (format 1.0-3.0, little-endian f4, f8, i4, i8 or u1) as doubles. HS_E_IO
 * when unreadable; HS_E_INVALID naming the file and the problem when malformed, and naming the
 * first element that is NaN or infinite ("V.npy: element [3, 17] is nan"). *out is zeroed on
 * failure. */
hs_status hs_array_load(hs_context *ctx, const char *path, hs_array *out);
void hs_array_free(hs_array *a);
/* Writes data (dims[0] x ... x dims[ndim-1]) as f8 (HS_F64) or rounded to f4 (HS_F32), a
 * version 1.0 file, atomically (a failed write leaves no file); HS_E_OUTPUT when it cannot. */
hs_status hs_array_save(hs_context *ctx, const char *path, hs_dtype file_dtype, const double *data, int ndim,
                        const size_t *dims);
/* The shape for messages: "1024x784", "5", "()". */
void hs_array_shape_string(int ndim, const size_t *dims, char *out, size_t outlen);

/* ---- operators: what the spectral methods run on ------------------------------------------ */

/* A symmetric operator A of dimension n: a model's curvature, or an explicit matrix. */
typedef struct hs_operator hs_operator;

/* H, G or H - G of a bound model, at the model's parameters and binding AT THE TIME OF EACH
 * PRODUCT (the operator holds no copy). The operator borrows m: destroy it before m. */
hs_status hs_operator_model(hs_model *m, hs_curvature which, hs_operator **out);
/* An explicit symmetric n x n matrix A (row-major host array, copied to the device); entries
 * must be finite, and |A_ij - A_ji| <= sym_tol max|A| (HS_E_INVALID naming the worst entry). */
hs_status hs_operator_matrix(hs_context *ctx, size_t n, const double *A, double sym_tol, hs_operator **out);
void hs_operator_destroy(hs_operator *op);
size_t hs_operator_size(const hs_operator *op);
/* "hessian", "ggn", "residual" (a model's, or a block of it) or "matrix". */
const char *hs_operator_kind(const hs_operator *op);
/* Y = A X for k vectors: X and Y (k, n) row-major, each row one vector; Y must not alias X. */
hs_status hs_operator_apply(hs_operator *op, size_t k, const double *X, double *Y);
/* The diagonal block of a model's operator on one tensor's parameters ("blocks.1.linear.weight")
 * or one layer's or module's ("blocks.1.linear", "layers.3.body.0": every tensor under it),
 * docs/spectra.md: the operator A_bb on the block's coordinates in parameter order, as
 * `--block NAME`; results from it record the block in their files. Borrows op (destroy the
 * block first). HS_E_INVALID naming the name and listing the layers when the model has no
 * such tensor or module; HS_E_UNSUPPORTED for an explicit matrix or a block of a block. */
hs_status hs_operator_block(hs_operator *op, const char *name, hs_operator **out);
/* The layers of op's model in parameter order (what `--block all` runs): *count of them;
 * HS_E_UNSUPPORTED for an explicit matrix or a block. */
hs_status hs_operator_layers(hs_operator *op, size_t *count);
/* The name of layer i (after hs_operator_layers), borrowed from op; NULL when i is out of range. */
const char *hs_operator_layer_name(const hs_operator *op, size_t i);

/* What a result file records besides the numbers and the operator's own provenance (the
 * model's spec, binding, backend, dtype): strings borrowed, NULL = absent. */
typedef struct {
  const char *weights; /* where the parameters came from; NULL: "seeded default initialisation" */
  const char *data;    /* the bound data, e.g. "fashion-mnist:train (1024 samples)"; for an
                        * explicit matrix its name (the file's "matrix"; NULL: "host array") */
  double elapsed;      /* seconds of the whole run; <= 0: the method's own time */
  uint64_t seed;       /* recorded by files whose method has no seed of its own (the optimum's:
                        * that of synthetic data); the others record their options' seed */
} hs_run_info;

/* Probe parallel runs (docs/mpi.md): every part r of R sends counts[r] doubles; each part
 * receives all of them, in part order, in recv (MPI_Allgatherv). HS_OK, or a failure every
 * part sees. */
typedef hs_status (*hs_allgather_fn)(void *user, const double *send, size_t n_send, const size_t *counts,
                                     double *recv);

/* ---- spectral density (stochastic Lanczos quadrature; docs/spectra.md) --------------------- */

typedef struct {
  size_t steps;        /* Lanczos steps per probe, 1..n; 0 = min(80, n) */
  size_t probes;       /* Rademacher probes, >= 1 (10) */
  uint64_t seed;       /* of the probes (0): probe p is the same vector on every backend */
  double sigma;        /* Gaussian kernel STANDARD DEVIATION > 0; 0 = (lambda_max - lambda_min) / 200 */
  size_t grid_points;  /* >= 2; 0 = spacing <= sigma / 4, 1001..100001 points */
  double grid_min, grid_max; /* both 0 = the extreme nodes -/+ 5 sigma; else grid_min < grid_max */
  double neg_tol;      /* nodes below -neg_tol count as negative mass; < 0 = 1e-4 max|lambda| */
  int partial_reorth;  /* 0: full reorthogonalisation; 1: Simon's partial reorthogonalisation */
  /* Provenance only, recorded by hs_density_save (copied; NULL = absent): where the model's
   * parameters came from (NULL with a model: "seeded default initialisation") and a
   * description of the bound data ("fashion-mnist:train", "X.npy, Y.npy", "numpy arrays");
   * for an explicit matrix, `data` names it (the file's "matrix" field). */
  const char *weights;
  const char *data;
  /* Probe parallel: with parts > 1 this process runs probes part, part + parts, ... (part <
   * parts <= probes) and allgather collects every part's rules, so every part returns the
   * density of all probes, equal to one process's. parts 0 or 1: all probes here. */
  size_t part, parts;
  hs_allgather_fn allgather;
  void *allgather_user;
} hs_spectrum_options;

hs_spectrum_options hs_spectrum_defaults(void);

/* The density with its per-probe quadrature rules, summary and provenance. Borrows the
 * context of the operator it came from (or of hs_density_load): destroy it before that. */
typedef struct hs_density hs_density;

typedef struct {
  size_t params;        /* n, the operator's dimension */
  size_t probes, steps; /* steps asked per probe (a probe that broke down has fewer nodes) */
  uint64_t seed;
  double sigma;         /* the kernel's standard deviation used */
  double lambda_min, lambda_max; /* extreme nodes over all probes */
  double trace, trace_stderr;    /* n sum_i w_i theta_i per probe: mean, standard error */
  double negative_fraction, negative_fraction_stderr, negative_tolerance;
  double negative_fraction_bounds[2]; /* Chebyshev-Markov-Stieltjes bracket, probe mean */
  double grid_integral;          /* trapezoid integral of the density (about 1) */
  size_t early_terminated_probes, operator_applications;
  double operator_seconds, reorth_seconds, host_seconds, total_seconds;
} hs_density_summary;
/* Standard errors are NaN with one probe; fields a file did not hold (hs_density_load) are
 * NaN, counts 0. */

/* SLQ on op (docs/spectra.md): HS_E_INVALID naming the option when one is out of range. */
hs_status hs_spectrum(hs_operator *op, const hs_spectrum_options *opt, hs_density **out);
void hs_density_destroy(hs_density *d);
void hs_density_get_summary(const hs_density *d, hs_density_summary *out);
/* The grid, the density on it and its standard error across probes (NaN with one probe):
 * borrowed arrays of the returned length, valid until hs_density_destroy. */
size_t hs_density_grid(const hs_density *d, const double **grid, const double **density,
                       const double **stderr_);
/* Probe p's quadrature rule: borrowed nodes (Ritz values, ascending) and weights (summing to 1)
 * of the returned length; 0 when p >= probes. */
size_t hs_density_probe(const hs_density *d, size_t p, const double **nodes, const double **weights);
/* Writes the "hesspec.density/1" file at path and its CSV beside it (x.json -> x.csv),
 * atomically, as `hesspec spectrum` does (same fields; the provenance from the operator and
 * the options). A density read by hs_density_load has no provenance to write:
 * HS_E_UNSUPPORTED (copy the file instead). */
hs_status hs_density_save(const hs_density *d, const char *path);
/* Reads a "hesspec.density/1" file (nodes, weights, sigma, grid, density and the summary it
 * holds); HS_E_IO if unreadable, HS_E_INVALID naming the field when malformed. */
hs_status hs_density_load(hs_context *ctx, const char *path, hs_density **out);
/* hs_density_save with info's provenance in place of the options' (fields given only). */
hs_status hs_density_save_with(const hs_density *d, const hs_run_info *info, const char *path);

/* The density of the block-diagonal operator diag(A_1, ..., A_B) from densities of its blocks
 * (hs_spectrum on hs_operator_block operators of one model, same probes and seed): probe p's
 * rule is the union of the blocks', block b's weights scaled by n_b / n; sigma, grid and
 * summary follow opt as hs_spectrum does (grid_min/grid_max of opt, or the union's range).
 * Takes the blocks (freed with *out, or here on failure). hs_density_save writes the
 * `--block all` file: the whole on top, the blocks under "blocks". With nb = 0 (or no blocks)
 * there is no context to leave a message in: HS_E_INVALID alone. */
hs_status hs_density_combine(hs_density **blocks, size_t nb, const hs_spectrum_options *opt, hs_density **out);
/* The blocks of a combined density (0 otherwise) and block i's density, borrowed. */
size_t hs_density_num_blocks(const hs_density *d);
const hs_density *hs_density_block(const hs_density *d, size_t i);
/* The name of the block d is the density of ("blocks.1.linear"); NULL for a whole operator's. */
const char *hs_density_block_name(const hs_density *d);

/* Re-smoothing (`hesspec plot --sigma`): the grid size hs_spectrum would choose for [lo, hi]
 * and sigma, and the density of d's quadrature rules with a Gaussian of standard deviation
 * sigma > 0 at the n points x (into y). */
size_t hs_density_grid_size(double lo, double hi, double sigma);
void hs_density_smooth(const hs_density *d, double sigma, size_t n, const double *x, double *y);

/* ---- plots ---------------------------------------------------------------------------------- */

typedef struct {
  const char *label;     /* legend text; NULL: none */
  size_t n;
  const double *x, *y;   /* (n) each; y >= 0 */
} hs_plot_line;

typedef struct {
  int log_y;             /* logarithmic y axis (values below max * 1e-8 clipped) */
  const char *title;     /* NULL: none */
  const char *xlabel;    /* NULL: "eigenvalue" */
  const char *ylabel;    /* NULL: "density" */
  int width, height;     /* pixels; 0: 800 x 500 */
} hs_plot_style;

/* An SVG of count lines (densities, as `hesspec spectrum --plot` and `hesspec plot` draw them),
 * written atomically. style may be NULL. */
hs_status hs_plot_svg(hs_context *ctx, const char *path, const hs_plot_line *lines, size_t count,
                      const hs_plot_style *style);

/* ---- eigenpairs: extremal by Lanczos, all of them densely (docs/spectra.md) --------------- */

typedef enum { HS_EIGEN_TOP = 0, HS_EIGEN_BOTTOM = 1, HS_EIGEN_EXACT = 2 } hs_eigen_which;

typedef struct {
  hs_eigen_which which;
  size_t count;       /* top/bottom: K, 1..n; exact: ignored (all n) */
  double tol;         /* relative residual; <= 0: 1e-9 (f64) or 1e-4 (f32) */
  size_t max_steps;   /* Lanczos steps at most; 0 = min(n, max(300, 4K + 50)) */
  uint64_t seed;      /* of the Rademacher start vector */
  int vectors;        /* also return the eigenvectors */
  size_t exact_limit; /* exact: the largest n accepted (0 = 6000) */
} hs_eigen_options;

hs_eigen_options hs_eigen_defaults(void);

/* Arrays owned by the result; hs_eigen_free releases them (and zeroes the struct). */
typedef struct {
  size_t n, requested, found; /* found < requested: only the converged pairs are here */
  double *values;       /* (found) ascending */
  double *residuals;    /* (found) explicit ||A y - theta y||; NULL for exact */
  double *vectors;      /* (found, n) row i = unit eigenvector of values[i]; NULL unless asked */
  double tol;           /* the relative tolerance used */
  double anorm;         /* the ||A|| estimate the tolerance is relative to */
  double asymmetry;     /* exact: max |A_ij - A_ji| / max |A_ij| before symmetrising */
  size_t steps;         /* Lanczos steps taken (exact: 0) */
  size_t operator_applications;
  double operator_seconds, total_seconds;
} hs_eigen_result;

/* HS_OK also when fewer than `count` pairs converged within max_steps (found says how many). */
hs_status hs_eigen(hs_operator *op, const hs_eigen_options *opt, hs_eigen_result *out);
void hs_eigen_free(hs_eigen_result *r);
/* Writes the "hesspec.eig/1" file of r (from hs_eigen on op with opt), atomically, as
 * `hesspec eig --out` (docs/spectra.md); vectors_path: where the caller saved the eigenvectors
 * (recorded; NULL = none). info may be NULL. */
hs_status hs_eigen_save(hs_operator *op, const hs_eigen_options *opt, const hs_eigen_result *r,
                        const hs_run_info *info, const char *vectors_path, const char *path);
/* The `--block all` file: results[b] from hs_eigen on block operator ops[b] (all of one model,
 * one set of options), the block-diagonal operator's eigenvalues on top. nb = 0: HS_E_INVALID
 * without a message (no context to leave it in). */
hs_status hs_eigen_save_blocks(size_t nb, hs_operator *const *ops, const hs_eigen_options *opt,
                               const hs_eigen_result *results, const hs_run_info *info, const char *path);

/* ---- trace (Hutchinson, Hutch++; docs/spectra.md) ---------------------------------------- */

typedef enum { HS_TRACE_EST_HUTCHINSON = 0, HS_TRACE_EST_HUTCHPP = 1 } hs_trace_est_method;

typedef struct {
  size_t probes;  /* operator products in all, >= 1 (100); Hutch++ needs >= 3 */
  uint64_t seed;  /* probe p: the same Rademacher vector as SLQ's probe p */
  size_t block;   /* probes per operator call; 0 = min(probes, 32) */
  hs_trace_est_method method;
  /* Probe parallel, Hutchinson only: as hs_spectrum_options (every part gets all samples). */
  size_t part, parts;
  hs_allgather_fn allgather;
  void *allgather_user;
} hs_trace_est_options;

hs_trace_est_options hs_trace_est_defaults(void);

/* samples owned by the result; hs_trace_est_free releases them (and zeroes the struct). */
typedef struct {
  size_t n, probes;
  double trace, trace_stderr; /* estimate and standard error (NaN with one sample) */
  double *samples;      /* (nsamples) the Hutchinson quadratic forms z^T A z */
  size_t nsamples;
  size_t sketch_rank;   /* Hutch++: columns of the sketch basis Q kept */
  double sketch_trace;  /* Hutch++: tr(Q^T A Q) */
  size_t operator_applications;
  double operator_seconds, total_seconds;
} hs_trace_est;

hs_status hs_trace_estimate(hs_operator *op, const hs_trace_est_options *opt, hs_trace_est *out);
void hs_trace_est_free(hs_trace_est *t);
/* Writes the "hesspec.trace/1" file of t (from hs_trace_estimate on op with opt), atomically,
 * as `hesspec trace --out`. info may be NULL. */
hs_status hs_trace_save(hs_operator *op, const hs_trace_est_options *opt, const hs_trace_est *t,
                        const hs_run_info *info, const char *path);
/* The `--block all` file: results[b] on block operator ops[b]; the top-level trace is the sum.
 * nb = 0: HS_E_INVALID without a message. */
hs_status hs_trace_save_blocks(size_t nb, hs_operator *const *ops, const hs_trace_est_options *opt,
                               const hs_trace_est *results, const hs_run_info *info, const char *path);

/* ---- training (src/train; docs/training.md) ---------------------------------------------- */

typedef enum { HS_TRAIN_SGD = 0, HS_TRAIN_ADAM = 1 } hs_train_optimizer;
typedef enum { HS_TRAIN_CONSTANT = 0, HS_TRAIN_COSINE = 1 } hs_train_schedule;

/* One epoch (1-based: the state after that many epochs; 0: the initial state, on_epoch only). */
typedef struct {
  size_t epoch;
  double loss;          /* mean minibatch loss over the epoch (before each step), + the spec's decay */
  double accuracy;      /* of those minibatch forwards (NaN for mse) */
  double test_loss;     /* at the end of the epoch, spec's batch-norm mode (NaN without test data) */
  double test_accuracy; /* (NaN without test data or for mse) */
  double lr;            /* used in this epoch */
  double seconds;       /* wall time of the epoch, training and evaluation */
} hs_train_record;

#define HS_TRAIN_MAX_SAVE 64 /* checkpoint epochs in hs_train_config.save_epochs */

/* The options of `hesspec train` (defaults in parentheses, those of the CLI). PyTorch's update
 * rules; the minibatch order of epoch e is a pure function of (seed, e, N), so a resumed run
 * sees the batches of an uninterrupted one (docs/training.md). */
typedef struct {
  hs_train_optimizer optimizer; /* (sgd) */
  double lr;                    /* > 0 (0.01) */
  double momentum;              /* SGD, [0, 1) (0.9); Adam ignores it */
  double dampening;             /* SGD, [0, 1] (0) */
  int nesterov;                 /* SGD; needs momentum > 0 and dampening 0, as PyTorch */
  double beta1, beta2;          /* Adam, [0, 1) (0.9, 0.999) */
  double eps;                   /* Adam, > 0 (1e-8) */
  double weight_decay;          /* the optimiser's coupled L2 (PyTorch's weight_decay), >= 0 (0),
                                 * on top of the spec's weight_decay (which is part of the loss) */
  hs_train_schedule schedule;   /* per-epoch learning rate (constant); cosine: PyTorch's
                                 * CosineAnnealingLR over `epochs` down to lr_min */
  double lr_min;                /* cosine floor, [0, lr] (0) */
  size_t epochs;                /* total epochs, >= 1 (10); after a resume, up to this many */
  size_t batch;                 /* minibatch size, >= 1 (128); with batch norm no batch may be 1 sample */
  uint64_t seed;                /* of the shuffling (0); the initial parameters are the model's
                                 * (hs_model_init: the CLI uses the same seed for both) */
  double bn_momentum;           /* batch-norm running statistics (0.1) */
  size_t eval_batch;            /* batch of the test evaluation (0 = all test samples) */
  /* Checkpoints "<dir>/epoch-EEEE.safetensors" (+ ".optim.safetensors", the optimiser state
   * for resuming) after the epochs in save_epochs (0 = the initial state) and the last one.
   * NULL = none. The folder is made (with its parents) once the options are checked;
   * failing that is HS_E_OUTPUT. */
  const char *checkpoint_dir;
  size_t save_epochs[HS_TRAIN_MAX_SAVE]; /* (n_save) epochs */
  size_t n_save;
  hs_dtype checkpoint_dtype;    /* file dtype (f64); the context's dtype keeps resumes bit-exact */
  int keep_last;                /* with checkpoint_dir: rewrite "<dir>/last.safetensors" (+ .optim)
                                 * after every epoch, the last good state of a run that
                                 * diverges or is cancelled (1) */
  const char *log_path;         /* the CSV log (epoch, loss, accuracy, test_loss, test_accuracy,
                                 * lr, seconds), rewritten atomically every epoch; NULL = none */
  /* A checkpoint of a run with the same options, data and seed ("<dir>/epoch-EEEE.safetensors"
   * with its ".optim.safetensors"): training continues from its epoch bit for bit as if it
   * had not stopped, and the rows of the log.csv beside it come first in the records (as
   * that file has them: 10 significant digits, seconds to 1 ms).
   * NULL = a fresh run from the model's current parameters. */
  const char *resume;
  /* Curvature along training (docs/training.md): before the first step, after every
   * curvature_every-th step and after each epoch's last step, lambda_max and lambda_min of the
   * Hessian on the first curvature_samples training samples (Lanczos) and the gradient's
   * overlap with its top-overlap_k eigenspace, one row each of the CSV at curvature_path
   * (step, epoch, lambda_max, lambda_min, grad_overlap, seconds), rewritten atomically after
   * every measurement; a resume carries over the rows up to its step. 0 = none. */
  size_t curvature_every;
  size_t curvature_samples;   /* 0 = min(N, 1024) */
  size_t overlap_k;           /* 0 = the model's outputs */
  const char *curvature_path; /* required with curvature_every */
  /* Called with every epoch's record, and in a fresh run (not a resume) first with epoch 0,
   * the initial state: its test_loss and test_accuracy with test data, the other values NaN
   * but lr. A status other than HS_OK stops the run with it. NULL = none. */
  hs_status (*on_epoch)(void *user, const hs_train_record *record);
  void *on_epoch_user;
} hs_train_config;

hs_train_config hs_train_config_defaults(void);
/* The vocabulary of hs_train_config (`hesspec train`'s options, the "train" keys of compare
 * presets): command-line names ("lr", "save-epochs"), preset keys ("lr", "batch") and ranges,
 * with offsets into hs_train_config. */
const hs_setting *hs_train_config_settings(void);


/* records owned by the result; hs_train_log_free releases them (and zeroes the struct). */
typedef struct {
  size_t n;                /* records: epoch 1..epochs (after a resume, the carried-over rows first) */
  hs_train_record *records;
  uint64_t steps;          /* optimiser steps taken in all (a resumed run's included) */
  size_t curvature_measurements; /* rows measured by this call (curvature_every > 0) */
  double curvature_seconds;      /* their time */
  double training_seconds;       /* the run's time without the measurements */
} hs_train_log;

/* Trains m in place on train (labels or targets as the model needs), evaluating test after
 * every epoch when it is not NULL. The data are borrowed for the call only. Progress: the
 * context's hook, phase "train", one unit per minibatch; a hook status other than HS_OK stops
 * the run with it (checkpoints already written are kept). A non-finite loss or parameter is
 * HS_E_NUMERIC naming the epoch, batch and the last good checkpoint. Bad options are
 * HS_E_INVALID naming the field, before anything is written or trained.
 * On return, success or not, m holds the parameters reached (those of the last step taken)
 * and is bound to train with the batch size of its binding before the call (one batch if it
 * had none): training binds its own shuffled copies, which do not outlive the call.
 * *out is filled on success only (zeroed otherwise). */
hs_status hs_train(hs_model *m, const hs_dataset *train, const hs_dataset *test, const hs_train_config *c,
                   hs_train_log *out);
void hs_train_log_free(hs_train_log *log);

/* ---- loss landscapes (docs/experiments.md) ------------------------------------------------ */

typedef enum {
  HS_LANDSCAPE_RANDOM = 0, /* Gaussian from seed, filter-normalised (Li et al. 2018): each row of
                            * a weight tensor rescaled to that row's norm in the parameters;
                            * biases and batch-norm parameters zeroed (as `hesspec landscape`) */
  HS_LANDSCAPE_GIVEN = 1,  /* d1 (and d2), used as they are (interpolation: d1 = theta2 - theta) */
  HS_LANDSCAPE_EIG = 2     /* unit eigenvectors of the top 1 (1D) or 2 (2D) Hessian eigenvalues,
                            * by Lanczos from seed, each signed so its largest entry is positive */
} hs_landscape_directions;

typedef struct {
  int dims;                           /* 1 or 2 (1) */
  hs_landscape_directions directions; /* (random) */
  const double *d1, *d2;              /* given: (P) each, host arrays borrowed for the call; d2 in 2D */
  uint64_t seed;                      /* random and eig (0); random direction j is the CLI's --seed */
  double alpha[2];                    /* alpha from alpha[0] to alpha[1], alpha[0] < alpha[1] (-1, 1) */
  double beta[2];                     /* 2D: beta likewise (-1, 1) */
  size_t points[2];                   /* per axis (alpha, beta), >= 2 (21, 21) */
} hs_landscape_options;

hs_landscape_options hs_landscape_defaults(void);

/* Arrays owned by the result; hs_landscape_free releases them (and zeroes the struct). */
typedef struct {
  int dims;
  size_t na, nb;       /* points along alpha and beta (nb = 1 in 1D) */
  size_t params;       /* P */
  double *alpha;       /* (na) */
  double *beta;        /* (nb); NULL in 1D */
  double *loss;        /* (na, nb) row-major: loss[i nb + j] at alpha[i], beta[j] */
  double *accuracy;    /* (na, nb) like loss; NULL unless the loss is cross entropy */
  double *directions;  /* (dims, P) the directions used, row 0 = d1 */
  double eigenvalues[2]; /* eig: the eigenvalues of the directions, largest first; else NaN */
  double seconds;      /* evaluation wall time */
} hs_landscape_result;

/* The loss (and accuracy) at theta + alpha d1 (+ beta d2) on the grid, theta the model's
 * current parameters, over its bound data: each point exactly what hs_model_loss_grad and
 * hs_model_accuracy give there (same batches and batch-norm mode, weight decay included; the
 * running statistics stay the model's). The model is back at theta afterwards. The numbers
 * equal those of `hesspec landscape` for the same model, data and options. Progress: phase
 * "landscape", one unit per point. */
hs_status hs_landscape(hs_model *m, const hs_landscape_options *opt, hs_landscape_result *out);
void hs_landscape_free(hs_landscape_result *r);

/* What a landscape file records besides the result (strings borrowed; NULL = absent). */
typedef struct {
  const char *weights;   /* where the parameters came from (NULL: "seeded default initialisation") */
  const char *data;      /* the bound data, e.g. "fashion-mnist:train (1024 samples)" */
  const char *label;     /* the directions' kind in the file; NULL: "random", "given" or "eig"
                          * from the options ("interpolate" and "files" are the CLI's given kinds) */
  const char *to;        /* interpolation: the checkpoint at alpha = 1 */
  const char *files[2];  /* given directions read from files: their paths */
  double elapsed;        /* seconds of the whole run; <= 0: the result's evaluation seconds */
} hs_landscape_provenance;

/* Writes the "hesspec.landscape/1" file at path and its CSV beside it (x.json -> x.csv),
 * atomically, the CSV first (docs/experiments.md): r as hs_landscape made it on m with opt
 * (the model's spec, binding, backend and dtype, and the options' seed, are recorded). prov
 * may be NULL. The file is byte for byte `hesspec landscape`'s apart from the clock field. */
hs_status hs_landscape_save(hs_model *m, const hs_landscape_options *opt, const hs_landscape_result *r,
                            const hs_landscape_provenance *prov, const char *path);
/* The SVG plot: a curve (1D) or a heat map with contour lines and the origin marked (2D). */
hs_status hs_landscape_plot(hs_context *ctx, const hs_landscape_result *r, const char *title, const char *path);

/* ---- comparisons of network kinds (docs/compare.md) --------------------------------------- */

/* The settings of a comparison (opaque): data, network kinds, seeds, training, analysis and
 * panels, as a preset file gives them (docs/compare.md; examples/compare-demo.json). */
typedef struct hs_compare_config hs_compare_config;

/* The defaults (those of examples/compare-demo.json but its panels); NULL when out of memory.
 * hs_compare_config_free(NULL) is a no-op. */
hs_compare_config *hs_compare_config_new(void);
void hs_compare_config_free(hs_compare_config *c);
/* Lays the preset file's keys over c; keys it does not give keep c's values. An unknown key or
 * a bad value is HS_E_INVALID naming the file and the key, and leaves c as it was. */
hs_status hs_compare_config_load(hs_context *ctx, hs_compare_config *c, const char *preset);
/* Sets one setting by its preset key ("kinds", "analysis.slq_steps", "train.lr") from text as
 * the command line gives it (lists comma-separated: "relu,relu-bn"; flags "true" or "false").
 * HS_E_INVALID naming the key when it is unknown or the value bad; c is unchanged then. */
hs_status hs_compare_config_set(hs_context *ctx, hs_compare_config *c, const char *key, const char *text);
/* The value of a numeric setting by preset key ("train_samples", "dtype": an hs_dtype). */
hs_status hs_compare_config_get(hs_context *ctx, const hs_compare_config *c, const char *key, double *value);
/* Ranges and consistency (sizes, analysis epochs within the training, ...): HS_E_INVALID
 * naming the key. c is not changed (a run analyses the last epoch too, listed or not). */
hs_status hs_compare_config_check(hs_context *ctx, const hs_compare_config *c);
/* The vocabulary, offsets into hs_compare_config (pass the config as base): every preset key
 * but those of "train" (hs_train_config_settings'), and the names of `hesspec compare`'s
 * options. */
const hs_setting *hs_compare_config_settings(void);

/* What a comparison reports besides its folder. */
typedef struct {
  size_t kinds, seeds;    /* the networks compared */
  double seconds;         /* wall time */
  int synthetic_fallback; /* Fashion-MNIST was missing: a synthetic Gaussian mixture stood in */
  char *findings;         /* the report's findings, lines of text (hs_compare_summary_free);
                           * NULL when there was no memory left for them */
} hs_compare_summary;

void hs_compare_summary_free(hs_compare_summary *s);

/* `hesspec compare --out dir` with the settings c: trains every network kind and seed on the
 * data and analyses their Hessians along training, then writes the report folder dir
 * (index.html, summary.csv, summary.md, config.json, plots/, runs/): built under a temporary
 * name beside dir and renamed into place, so a failed run leaves none; an existing report
 * there is replaced, any other existing folder refused (HS_E_INVALID). c is checked first
 * (hs_compare_config_check, on a copy). The context's dtype must be c's (HS_E_INVALID naming
 * both). note (may be NULL) receives one line per training run and analysis. Progress: phase
 * "compare". summary (may be NULL) is filled on success. */
hs_status hs_compare_run(hs_context *ctx, const hs_compare_config *c, const char *dir,
                         void (*note)(void *user, const char *line), void *note_user, hs_compare_summary *summary);
/* hs_compare_run with the preset file's settings (NULL: the defaults), and a notice line to
 * note when the synthetic mixture stood in for Fashion-MNIST. */
hs_status hs_compare(hs_context *ctx, const char *preset, const char *dir,
                     void (*note)(void *user, const char *line), void *note_user);

/* ---- the closed-form optimum of linear networks (docs/experiments.md) ---------------------- */

typedef struct {
  double loss;               /* the global minimum, (1/N) sum 0.5 ||f(x_i) - y_i||^2 */
  double least_squares_loss; /* the unconstrained least-squares loss (= loss unless reduced rank) */
  size_t rank;               /* the bound min(input, output, hidden widths) on the map's rank */
  size_t map_rank;           /* numerical rank of the optimal end-to-end map */
  const char *method;        /* "least_squares" or "reduced_rank" (static) */
  int reduced;               /* the reduced-rank solution (rank < min(input, output)) */
  int bias;                  /* a free output bias (the last layer has one) */
  size_t params;             /* P */
  double *theta;             /* (P) parameters attaining it, factorised into the layers; NULL unless asked */
  double factorisation_loss; /* the model's loss at theta (NaN without theta) */
} hs_linear_optimum_result;

/* The global minimum of the loss of a network with linear activations and mse loss (no batch
 * norm, no weight decay) over its bound data, in closed form: the least-squares fit, or the
 * reduced-rank fit when a hidden width is below min(input, output). Other models are
 * HS_E_INVALID with the reason. With factorise, theta is filled and the model is left at it
 * (hs_model_save writes it); otherwise the model is unchanged. */
hs_status hs_linear_optimum(hs_model *m, int factorise, hs_linear_optimum_result *out);
void hs_linear_optimum_free(hs_linear_optimum_result *r);
/* Writes "hesspec.optimum/1" atomically, as `hesspec optimum --out`; weights_out: where the
 * caller saved theta (recorded; NULL = none). info may be NULL. */
hs_status hs_linear_optimum_save(hs_model *m, const hs_linear_optimum_result *r, const hs_run_info *info,
                                 const char *weights_out, const char *path);

/* ---- critical points by Newton-MR (docs/critical.md) ------------------------------------- */

/* Newton-MR (Roosta et al. 2022) minimises 0.5 ||grad||^2 with MINRES directions and Armijo
 * backtracking, so it converges to critical points of any index (minima, saddles, maxima). */
typedef struct {
  double gtol;        /* stop when ||grad|| <= gtol, absolute, > 0 (1e-8) */
  size_t max_iter;    /* Newton-MR iterations, >= 1 (100) */
  size_t minres_max;  /* MINRES iterations per step; 0 = min(1000, max(100, 4P)) */
  double minres_rtol; /* MINRES relative residual, in (0, 1) (1e-10) */
  double theta;       /* inexact solves: MINRES stops at ||H (H d + grad)|| <= theta ||H grad||,
                       * [0, 1) (1e-2); 0 = solve to minres_rtol (one step on a quadratic) */
  /* Start: before iterating, every parameter tensor t gets
   * theta_t += noise ||theta_t|| / sqrt(n_t) z_t, z_t ~ N(0, 1) from (seed, start, t), as
   * start `start` of `hesspec critical --noise`. noise = 0 (the default) starts at the
   * model's parameters as they are. */
  double noise;
  uint64_t seed;
  size_t start;
} hs_critical_options;

hs_critical_options hs_critical_defaults(void);

/* history owned by the result; hs_critical_free releases it (and zeroes the struct). */
typedef struct {
  double loss, grad_norm;   /* at the point found */
  double grad_norm_start;   /* at the start (after the perturbation) */
  size_t iterations;        /* Newton-MR steps taken */
  int converged;            /* grad_norm <= gtol */
  const char *stop;         /* why it stopped (static text) */
  double *history;          /* (iterations + 1) ||grad|| at the start and after each step */
  size_t minres_iterations, hvps, gradients;
  size_t fallback_steps;    /* steps along -H grad (MINRES's direction did not descend) */
  double seconds;
} hs_critical_result;

/* Newton-MR from the model's current parameters over its bound data. The model is left at
 * the last accepted point (on success, the point reported; also when it did not converge, which
 * is HS_OK with converged = 0). The index of the point is the caller's to compute, exactly
 * as `hesspec critical` does for P <= its exact limit: the negative eigenvalues of
 * hs_eigen (HS_EIGEN_EXACT) on hs_operator_model(m, HS_CURV_HESSIAN), counted below
 * -1e-9 max|lambda| (f64); or SLQ's negative_fraction (hs_spectrum) for large P. */
hs_status hs_critical(hs_model *m, const hs_critical_options *opt, hs_critical_result *out);
void hs_critical_free(hs_critical_result *r);

/* The index of the model's current point: the fraction of Hessian eigenvalues below
 * -negative_tol, from the dense spectrum when P <= exact_limit, else by SLQ. */
typedef struct {
  size_t exact_limit; /* (3000) */
  double tol;         /* exact: below -tol max|lambda| counts; <= 0: 1e-9 (f64), 1e-4 (f32) */
  size_t steps;       /* SLQ: Lanczos steps, <= P (0 = 80 or P) */
  size_t probes;      /* SLQ: probes (10) */
  uint64_t seed;      /* SLQ: of the probes (0) */
} hs_index_options;

hs_index_options hs_index_defaults(void);

typedef struct {
  int exact;           /* 1: dense spectrum; 0: SLQ */
  double index;        /* fraction of eigenvalues below -negative_tol */
  double index_stderr; /* exact: 0; SLQ: the standard error across probes (NaN with one) */
  size_t negative;     /* exact: the count */
  size_t params;
  double negative_tol; /* absolute */
  double lambda_min, lambda_max;
} hs_hessian_index;

hs_status hs_model_index(hs_model *m, const hs_index_options *opt, hs_hessian_index *out);

/* `hesspec critical`: Newton-MR from the model's parameters and starts - 1 perturbed copies,
 * the index of every point reached, a checkpoint per point, and the fit
 * index = alpha0 |1 - loss / eps_c|^(3/2) (Pennington & Bahri 2017) over the starts. */
typedef struct {
  hs_critical_options newton; /* every start's; its `start` is ignored (starts 0, 1, ...) */
  size_t starts;              /* >= 1 (1); > 1 needs newton.noise > 0 */
  hs_index_options index;
  /* Checkpoints: "<prefix>-start-NNN.safetensors" (a prefix "C.json" drops its ".json"), in
   * checkpoint_dtype; NULL = none. */
  const char *checkpoint_prefix;
  hs_dtype checkpoint_dtype;
  /* Called after each start (NULL = none); a status other than HS_OK stops the study with it. */
  hs_status (*on_start)(void *user, size_t start, const hs_critical_result *point, const hs_hessian_index *index,
                        const char *checkpoint);
  void *user;
} hs_critical_study_options;

hs_critical_study_options hs_critical_study_defaults(void);

/* Arrays owned by the study; hs_critical_study_free releases them (and zeroes the struct). */
typedef struct {
  size_t starts, converged;   /* starts run, and how many reached gtol */
  hs_critical_result *points; /* (starts) */
  hs_hessian_index *indices;  /* (starts) */
  char **checkpoints;         /* (starts) paths written, or NULL */
  int fit;                    /* the fit exists (enough distinct points) */
  double alpha0, eps_c, rms;
} hs_critical_study;

/* The model is left at the last start's point. HS_OK also when starts did not converge. */
hs_status hs_critical_study_run(hs_model *m, const hs_critical_study_options *opt, hs_critical_study *out);
void hs_critical_study_free(hs_critical_study *s);
/* Writes "hesspec.critical/1" atomically, as `hesspec critical --out` (docs/critical.md). */
hs_status hs_critical_study_save(hs_model *m, const hs_critical_study_options *opt, const hs_critical_study *s,
                                 const hs_run_info *info, const char *path);
/* The SVG of index against loss with the fit (`hesspec critical --plot`). */
hs_status hs_critical_study_plot(hs_context *ctx, const hs_critical_study *s, const char *path);

#ifdef __cplusplus
}
#endif
#endif
