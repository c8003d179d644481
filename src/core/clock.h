/* The one timer of the library and the CLI: wall-clock seconds for the timings that results
 * and progress lines report. */
#ifndef HS_CLOCK_H
#define HS_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC: never steps back when the system
 * clock is set), so only differences mean something. */
double hs_now(void);

#endif
