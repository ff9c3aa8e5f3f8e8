/* blasconv-bench's summary lines: per vendor, threads, layout and pass, the geometric
 * means the speed goals are stated in, over the dense layers. */
#include "bench.h"

#include <math.h>
#include <string.h>

/* Whether rows a and b belong to one summary line. */
static int same_group(const bench_row *a, const bench_row *b)
{
    return strcmp(a->vendor, b->vendor) == 0 && a->threads == b->threads &&
           a->layout == b->layout && a->pass == b->pass;
}

int bench_layer_is_dense(const blasconv_conv2d *d)
{
    const int groups = d->groups ? d->groups : 1;
    return d->in_channels / groups > 1 && d->out_channels > 1;
}

static int counts(const bench_row *r)
{
    return strcmp(r->status, "ok") == 0 && r->dense && strcmp(r->vendor, "onednn") != 0 &&
           isfinite(r->conv_over_sgemm) && r->conv_over_sgemm > 0;
}

/* The row of r's layer, vendor, layout and pass at one thread, or NULL. */
static const bench_row *one_thread_row(const bench_row *rows, size_t count, const bench_row *r)
{
    for (size_t i = 0; i < count; i++)
        if (rows[i].threads == 1 && strcmp(rows[i].layer, r->layer) == 0 &&
            strcmp(rows[i].vendor, r->vendor) == 0 && rows[i].layout == r->layout &&
            rows[i].pass == r->pass && strcmp(rows[i].status, "ok") == 0)
            return &rows[i];
    return NULL;
}

/* The line of the group that starts at rows[first] (its first row that counts). */
static void print_group(FILE *out, const bench_row *rows, size_t count, size_t first)
{
    double log_ratio = 0, log_vs = 0, scaling_min = INFINITY, scaling_max = 0;
    int layers = 0, vs_layers = 0;
    const bench_row *lowest = NULL;
    for (size_t i = first; i < count; i++) {
        const bench_row *r = &rows[i];
        if (!same_group(r, &rows[first]) || !counts(r))
            continue;
        log_ratio += log(r->conv_over_sgemm);
        layers++;
        if (!lowest || r->conv_over_sgemm < lowest->conv_over_sgemm)
            lowest = r;
        if (isfinite(r->vs_onednn) && r->vs_onednn > 0) {
            log_vs += log(r->vs_onednn);
            vs_layers++;
        }
        const bench_row *one =
            r->threads > 1 && r->batch > 1 ? one_thread_row(rows, count, r) : NULL;
        if (one && one->conv_gflops > 0) { /* the threads goal is stated on batches */
            const double scaling = r->conv_gflops / one->conv_gflops;
            scaling_min = scaling < scaling_min ? scaling : scaling_min;
            scaling_max = scaling > scaling_max ? scaling : scaling_max;
        }
    }
    const bench_row *g = &rows[first];
    fprintf(out, "  %s %dt %s %s, %d dense layers: conv/sgemm geomean %.2f, min %.2f (%s)",
            g->vendor, g->threads, g->layout == BLASCONV_NHWC ? "nhwc" : "nchw",
            bench_pass_names[g->pass], layers, exp(log_ratio / layers), lowest->conv_over_sgemm,
            lowest->layer);
    if (vs_layers)
        fprintf(out, "; blasconv/oneDNN geomean %.2f over %d", exp(log_vs / vs_layers), vs_layers);
    if (scaling_max > 0)
        fprintf(out, "; batch > 1 rows %.2f-%.2fx their 1t speed", scaling_min, scaling_max);
    fputc('\n', out);
}

void bench_print_summary(FILE *out, const bench_row *rows, size_t count)
{
    int header = 0;
    for (size_t i = 0; i < count; i++) {
        if (!counts(&rows[i]))
            continue;
        int seen = 0; /* an earlier row that counts already opened this group */
        for (size_t j = 0; j < i && !seen; j++)
            seen = counts(&rows[j]) && same_group(&rows[j], &rows[i]);
        if (seen)
            continue;
        if (!header)
            fprintf(out,
                    "\nsummary (geometric means over the dense layers, C/g > 1 and K > 1):\n");
        header = 1;
        print_group(out, rows, count, i);
    }
}
