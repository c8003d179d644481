/* A growing string: the one home of the text builders (SVG, HTML, Markdown reports, the
 * canonical JSON of a model spec). */
#ifndef HS_SBUF_H
#define HS_SBUF_H

#include <stddef.h>

/* hs_sbuf, hs_sbuf_printf and hs_sbuf_finish are public (include/hesspec.h): the CLI builds
 * its texts with them too. */
#include "hesspec.h"

#endif
