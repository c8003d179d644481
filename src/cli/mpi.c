/* The CLI's MPI side (cli/mpi.h; design and determinism argument: docs/mpi.md). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli/mpi.h"

#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#ifdef HS_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_ranks = 1, g_active = 0;
static int g_data_parallel = 1;

void hs_cli_mpi_set_data_parallel(int on) { g_data_parallel = on; }

int hs_cli_mpi_rank(void) { return g_rank; }
int hs_cli_mpi_ranks(void) { return g_ranks; }

/* What mpirun (OpenMPI), srun/PMI and PMIx set in the environment of the processes they
 * launch: their presence means "start MPI". PMIX_RANK alone gives no size. */
static const char *const launcher_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "PMIX_RANK", NULL};

static const char *launcher_size(void) {
  for (size_t i = 0; launcher_vars[i]; i++) {
    const char *v = getenv(launcher_vars[i]);
    if (v) return strcmp(launcher_vars[i], "PMIX_RANK") == 0 ? "?" : v;
  }
  return NULL;
}

void hs_cli_mpi_forget_launcher(void) {
  for (size_t i = 0; launcher_vars[i]; i++) unsetenv(launcher_vars[i]);
}

int hs_cli_mpi_should_fail(void) {
  const char *v = getenv("HESSPEC_MPI_FAIL_RANK");
  return g_active && v && *v && atoi(v) == g_rank;
}

#ifdef HS_HAVE_MPI

static char g_scratch[4096]; /* ranks > 0: the folder their outputs go to, "" if none */

/* reduction accounting, printed by rank 0 with HESSPEC_MPI_STATS=1 */
static int g_stats;
static double g_seconds, g_wait;
static size_t g_calls, g_values;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* MPI_Abort on another rank reaches this one as SIGTERM (then SIGKILL): the scratch folder
 * is empty unless an output was being written, so rmdir (async-signal-safe) usually leaves
 * nothing behind. */
static void on_term(int sig) {
  if (g_scratch[0]) rmdir(g_scratch);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ranks > 0: outputs into the scratch folder, stdout to /dev/null */
static int silence(int argc, char **argv) {
  static const char *const outputs[] = {"--out", "--plot", "--vectors-out"};
  const char *tmp = getenv("TMPDIR");
  if (snprintf(g_scratch, sizeof g_scratch, "%s/hesspec-rank%d.XXXXXX", tmp && *tmp ? tmp : "/tmp", g_rank) >=
          (int)sizeof g_scratch ||
      !mkdtemp(g_scratch)) {
    fprintf(stderr, "hesspec: rank %d: cannot create a scratch folder for its discarded outputs in %s\n", g_rank,
            tmp && *tmp ? tmp : "/tmp");
    g_scratch[0] = '\0';
    return 1;
  }
  for (int i = 1; i + 1 < argc; i++)
    for (size_t k = 0; k < sizeof outputs / sizeof *outputs; k++)
      if (strcmp(argv[i], outputs[k]) == 0) {
        const char *base = strrchr(argv[i + 1], '/');
        base = base && base[1] ? base + 1 : argv[i + 1];
        size_t len = strlen(g_scratch) + strlen(base) + 2;
        char *p = malloc(len); /* lives as long as argv: freed by the process exit */
        if (!p) return 1;
        snprintf(p, len, "%s/%s", g_scratch, base);
        argv[++i] = p;
        break;
      }
  if (!freopen("/dev/null", "w", stdout)) return 1;
  signal(SIGTERM, on_term);
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Values per round: bounds the receive buffers whatever the vector (and MPI's int counts). */
#define CHUNK ((size_t)1 << 22)

static double *g_recv; /* gather: R x CHUNK on rank 0; owner: CHUNK on every rank */
static size_t g_recv_cap;
static int *g_cnt, *g_disp, *g_scnt, *g_sdisp; /* (R) each */
static int g_gather_algo; /* HESSPEC_MPI_REDUCE=gather: the reference algorithm */

static void need_recv(size_t n) {
  if (g_recv_cap >= n) return;
  free(g_recv);
  g_recv_cap = n;
  g_recv = malloc(n * sizeof *g_recv + 1);
  if (!g_recv) {
    fprintf(stderr, "hesspec: rank %d: out of memory for a reduction buffer of %zu values\n", g_rank, n);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

/* Both algorithms compute every value as ((x_0 + x_1) + x_2) + ... + x_{R-1}, x_r being rank
 * r's partial sum: one fixed sequence of roundings, whatever the arrival order of messages,
 * so every rank holds the same bits and a rerun at the same R reproduces them; the two give
 * the same bits (test_mpi checks). MPI_Allreduce is not used: MPI leaves its summation order
 * (and its tree) to the implementation.
 *
 * gather: rank 0 gathers every rank's vector, adds, broadcasts. Rank 0 receives and adds
 *   (R - 1) n values: simple, but its link and its memory bandwidth bound the run.
 * owner (default): reduce-scatter then allgather. Rank r owns the values [n r / R, n (r+1) / R):
 *   an all-to-all brings it every rank's part of its range, it adds them in rank order, and
 *   an allgather returns the sums to all. Each rank sends and receives about 2 n (R-1) / R
 *   values and adds n values: the bandwidth-optimal schedule of a ring allreduce, with the
 *   order of the additions fixed. */
static void reduce_gather(double *buf, int c) {
  size_t R = (size_t)g_ranks;
  if (g_rank == 0) need_recv(R * (size_t)c);
  /* MPI's default error handler (MPI_ERRORS_ARE_FATAL) ends every rank on a failure */
  MPI_Gather(buf, c, MPI_DOUBLE, g_recv, c, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (g_rank == 0)
    for (int i = 0; i < c; i++) {
      double s = g_recv[i];
      for (size_t r = 1; r < R; r++) s += g_recv[r * (size_t)c + (size_t)i];
      buf[i] = s;
    }
  MPI_Bcast(buf, c, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

static void reduce_owner(double *buf, int c) {
  const int R = g_ranks, me = g_rank;
  /* owner ranges: rank r holds [c r / R, c (r + 1) / R) */
  for (int r = 0; r < R; r++) {
    int lo = (int)((long long)c * r / R), hi = (int)((long long)c * (r + 1) / R);
    g_scnt[r] = hi - lo; /* what this rank sends to r: its values of r's range */
    g_sdisp[r] = lo;
  }
  const int mine = g_scnt[me], my_lo = g_sdisp[me];
  need_recv((size_t)mine * (size_t)R);
  for (int r = 0; r < R; r++) {
    g_cnt[r] = mine; /* from every rank: its values of my range, stacked in rank order */
    g_disp[r] = r * mine;
  }
  MPI_Alltoallv(buf, g_scnt, g_sdisp, MPI_DOUBLE, g_recv, g_cnt, g_disp, MPI_DOUBLE, MPI_COMM_WORLD);
  for (int i = 0; i < mine; i++) {
    double s = g_recv[i];
    for (int r = 1; r < R; r++) s += g_recv[(size_t)r * (size_t)mine + (size_t)i];
    buf[my_lo + i] = s;
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, g_scnt, g_sdisp, MPI_DOUBLE, MPI_COMM_WORLD);
}

/* The library's reduction (hesspec.h hs_allreduce_fn). */
static hs_status mpi_allreduce(void *user, double *buf, size_t n) {
  (void)user;
  if (g_stats) {
    /* instrumented runs only: the ranks' arrival skew (load imbalance) timed apart from the
     * reduction itself, at the price of one barrier per call */
    double tw = now_s();
    MPI_Barrier(MPI_COMM_WORLD);
    g_wait += now_s() - tw;
  }
  double t0 = now_s();
  for (size_t off = 0; off < n; off += CHUNK) {
    int c = (int)(n - off < CHUNK ? n - off : CHUNK);
    if (g_gather_algo) reduce_gather(buf + off, c);
    else reduce_owner(buf + off, c);
  }
  g_seconds += now_s() - t0;
  g_calls++;
  g_values += n;
  return HS_OK;
}

int hs_cli_mpi_init(int argc, char **argv) {
  if (!launcher_size()) return 0;
  if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
    fprintf(stderr, "hesspec: MPI_Init failed (launched by mpirun/srun: %s set)\n", "OMPI_COMM_WORLD_SIZE/PMI_SIZE");
    return 1;
  }
  g_active = 1;
  const char *stats = getenv("HESSPEC_MPI_STATS");
  g_stats = stats && *stats && strcmp(stats, "0") != 0;
  const char *algo = getenv("HESSPEC_MPI_REDUCE");
  g_gather_algo = algo && strcmp(algo, "gather") == 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_ranks);
  g_cnt = malloc(4 * (size_t)g_ranks * sizeof *g_cnt);
  if (!g_cnt) {
    fprintf(stderr, "hesspec: rank %d: out of memory\n", g_rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  g_disp = g_cnt + g_ranks;
  g_scnt = g_disp + g_ranks;
  g_sdisp = g_scnt + g_ranks;
  if (g_rank > 0 && silence(argc, argv) != 0) {
    fprintf(stderr, "hesspec: rank %d: cannot redirect its outputs\n", g_rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}

int hs_cli_mpi_finish(int code) {
  if (g_scratch[0]) nftw(g_scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  g_scratch[0] = '\0';
  if (!g_active) return code;
  if (code != 0) {
    /* the message is printed; the other ranks may wait in a reduction for this one */
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  if (g_stats) {
    double mine[2] = {g_seconds, g_wait}, mx[2] = {0, 0};
    MPI_Reduce(mine, mx, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (g_rank == 0)
      fprintf(stderr, "mpi: %d ranks, %zu reductions, %zu doubles in all (%.1f MiB per rank), %.4f s in reductions, "
              "%.4f s waiting for the slowest rank (maxima over ranks)\n",
              g_ranks, g_calls, g_values, (double)g_values * 8.0 / 1048576.0, mx[0], mx[1]);
  }
  free(g_recv);
  free(g_cnt);
  g_recv = NULL;
  g_cnt = NULL;
  MPI_Finalize();
  return code;
}

void hs_cli_mpi_context_options(hs_context_options *co) {
  if (!g_active || g_ranks <= 1 || !g_data_parallel) return;
  co->rank = g_rank;
  co->ranks = g_ranks;
  co->allreduce = mpi_allreduce;
  co->allreduce_user = NULL;
}

hs_status hs_cli_mpi_allgather(void *user, const double *mine, size_t n, const size_t *counts, double *all) {
  (void)user;
  if (!g_active || g_ranks <= 1) {
    memcpy(all, mine, n * sizeof *mine);
    return HS_OK;
  }
  int *cnt = malloc((size_t)g_ranks * sizeof *cnt), *disp = malloc((size_t)g_ranks * sizeof *disp);
  if (!cnt || !disp) {
    fprintf(stderr, "hesspec: rank %d: out of memory\n", g_rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  size_t off = 0;
  for (int r = 0; r < g_ranks; r++) {
    if (counts[r] > INT32_MAX || off > INT32_MAX) {
      fprintf(stderr, "hesspec: rank %d: %zu values to gather exceed MPI's int counts\n", g_rank, off + counts[r]);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    cnt[r] = (int)counts[r];
    disp[r] = (int)off;
    off += counts[r];
  }
  MPI_Allgatherv(mine, (int)n, MPI_DOUBLE, all, cnt, disp, MPI_DOUBLE, MPI_COMM_WORLD);
  free(cnt);
  free(disp);
  return HS_OK;
}

#else /* no MPI in this build */

int hs_cli_mpi_init(int argc, char **argv) {
  (void)argc;
  (void)argv;
  const char *size = launcher_size();
  if (size && strcmp(size, "1") != 0) {
    fprintf(stderr,
            "hesspec: launched as one of %s MPI ranks, but this build has no MPI (configure with -DHS_MPI=ON and "
            "libopenmpi-dev installed); refusing to run the same job %s times over\n",
            size, size);
    return 2;
  }
  return 0;
}

int hs_cli_mpi_finish(int code) { return code; }

void hs_cli_mpi_context_options(hs_context_options *co) {
  (void)co;
  (void)g_data_parallel;
}

hs_status hs_cli_mpi_allgather(void *user, const double *mine, size_t n, const size_t *counts, double *all) {
  (void)user;
  (void)counts;
  memcpy(all, mine, n * sizeof *mine);
  return HS_OK;
}

#endif

const char *hs_cli_mpi_device(const char *device, char *buf, size_t len) {
  if (!g_active || !device || (strcmp(device, "auto") != 0 && strcmp(device, "cuda") != 0)) return device;
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (!local) local = getenv("SLURM_LOCALID");
  if (!local) local = getenv("MPI_LOCALRANKID"); /* MPICH/Intel MPI */
  if (!local) return device;
  int n = hs_cuda_device_count();
  if (n <= 0) return device; /* auto falls back to the CPU; cuda reports the missing GPU */
  snprintf(buf, len, "cuda:%d", atoi(local) % n);
  return buf;
}
