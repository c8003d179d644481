/* The CLI's MPI side (docs/mpi.md): start-up under mpirun/srun, the deterministic reduction
 * the library calls through hs_context_options, device choice per rank, outputs and
 * printing on rank 0 only, and ending every rank when one fails. Without MPI in the build
 * every function is a single-process no-op (and a launch under mpirun is refused). */
#ifndef HS_CLI_MPI_H
#define HS_CLI_MPI_H

#include <stddef.h>

#include "hesspec.h"

/* Initialises MPI when launched by mpirun/srun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK
 * in the environment); never otherwise. On ranks > 0 the values of --out, --plot and
 * --vectors-out in argv are pointed into a private scratch folder (removed at the end) and
 * stdout goes to /dev/null, so only rank 0 writes files and prints. Returns 0 or an exit code
 * (after printing why). */
int hs_cli_mpi_init(int argc, char **argv);
/* Removes the launcher's variables from the environment, so that processes started from
 * here (the tasks of `hesspec run`) run alone instead of as ranks of the launch. */
void hs_cli_mpi_forget_launcher(void);
/* Ends the run with exit code `code`: MPI_Finalize when every rank succeeded; after a failure
 * (already printed) MPI_Abort, which ends the other ranks too, even those waiting in a
 * reduction. Returns the exit code for a single process. */
int hs_cli_mpi_finish(int code);

int hs_cli_mpi_rank(void);  /* 0 outside MPI */
int hs_cli_mpi_ranks(void); /* 1 outside MPI */

/* Data-parallel context options: rank, ranks and the MPI reduction (nothing outside MPI, or
 * after hs_cli_mpi_set_data_parallel(0): a probe-parallel run, where each rank works alone
 * on all the data). */
void hs_cli_mpi_context_options(hs_context_options *co);
void hs_cli_mpi_set_data_parallel(int on);
/* The device of this rank: for "auto" and "cuda" under MPI, cuda:(local rank mod device
 * count) from OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID when a GPU is there; otherwise
 * `device` itself. buf holds the result when it is new. */
const char *hs_cli_mpi_device(const char *device, char *buf, size_t len);

/* The allgather hook (hs_allgather_fn) of probe-parallel runs (--parallel probes): the
 * doubles of rank r are appended in rank order. counts[r] values from rank r; all has
 * sum(counts) room. Returns HS_OK, or exits through MPI_Abort on an MPI failure. */
hs_status hs_cli_mpi_allgather(void *user, const double *mine, size_t n, const size_t *counts, double *all);

/* Test hook HESSPEC_MPI_FAIL_RANK=r: 1 on rank r of an MPI run (docs/mpi.md). */
int hs_cli_mpi_should_fail(void);

#endif
