/* blasconv-bench's layer suite: a CSV with a header naming blasconv_conv2d's
 * fields (any order; stride, pad, dilation and groups may be left out). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, setenv, strtok_r, popen */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *bench_program = "blasconv-bench";

/* Splits a comma list into at most max tokens of at most 63 characters. */
int bench_split_list(const char *text, char tokens[][64], int max)
{
    int count = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= 64 || count == max)
            return -1;
        memcpy(tokens[count], p, len);
        tokens[count++][len] = '\0';
        p += len;
        if (*p == ',')
            p++;
    }
    return count;
}

static const char *const suite_columns[] = {
    "name",           "batch",         "in_channels",  "in_height",     "in_width",
    "out_channels",   "kernel_height", "kernel_width", "stride_height", "stride_width",
    "pad_top",        "pad_bottom",    "pad_left",     "pad_right",     "dilation_height",
    "dilation_width", "groups"};
#define SUITE_COLUMNS 17
#define SUITE_REQUIRED 8 /* name .. kernel_width; the rest default to 0 (PyTorch's defaults) */

static int *suite_field(blasconv_conv2d *d, int column)
{
    int *fields[SUITE_COLUMNS] = {NULL,
                                  &d->batch,
                                  &d->in_channels,
                                  &d->in_height,
                                  &d->in_width,
                                  &d->out_channels,
                                  &d->kernel_height,
                                  &d->kernel_width,
                                  &d->stride_height,
                                  &d->stride_width,
                                  &d->pad_top,
                                  &d->pad_bottom,
                                  &d->pad_left,
                                  &d->pad_right,
                                  &d->dilation_height,
                                  &d->dilation_width,
                                  &d->groups};
    return fields[column];
}

static void chomp(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
}

/* Reads the suite into layers (by column name, so column order is free). */
int bench_read_suite(const char *path, bench_layer *layers, int *count)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open suite '%s': %s\n", bench_program, path, strerror(errno));
        return 0;
    }
    char line[1024];
    int map[SUITE_COLUMNS + 8], columns = 0, line_no = 1, ok = 1;
    if (!fgets(line, sizeof line, f)) {
        fprintf(stderr, "%s: %s: empty file, expected a header line\n", bench_program, path);
        fclose(f);
        return 0;
    }
    chomp(line);
    int seen[SUITE_COLUMNS] = {0};
    for (char *tok = strtok(line, ","); tok; tok = strtok(NULL, ",")) {
        int c = 0;
        while (c < SUITE_COLUMNS && strcmp(tok, suite_columns[c]))
            c++;
        if (c == SUITE_COLUMNS || columns == SUITE_COLUMNS + 8) {
            fprintf(stderr, "%s: %s:1: unknown column '%s'\n", bench_program, path, tok);
            fclose(f);
            return 0;
        }
        seen[c] = 1;
        map[columns++] = c;
    }
    for (int c = 0; c < SUITE_REQUIRED; c++)
        if (!seen[c]) {
            fprintf(stderr, "%s: %s:1: the header lacks column '%s'\n", bench_program, path,
                    suite_columns[c]);
            fclose(f);
            return 0;
        }
    *count = 0;
    while (ok && fgets(line, sizeof line, f)) {
        line_no++;
        chomp(line);
        if (!line[0] || line[0] == '#')
            continue;
        if (*count == BENCH_MAX_LAYERS) {
            fprintf(stderr, "%s: %s: more than %d layers\n", bench_program, path,
                    BENCH_MAX_LAYERS);
            ok = 0;
            break;
        }
        bench_layer *l = &layers[*count];
        memset(l, 0, sizeof *l);
        int fields = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
            if (fields == columns) {
                fields++;
                break;
            }
            int c = map[fields++];
            if (c == 0) {
                snprintf(l->name, sizeof l->name, "%s", tok);
                continue;
            }
            char *end;
            long v = strtol(tok, &end, 10);
            if (end == tok || *end || v < INT_MIN || v > INT_MAX) {
                fprintf(stderr, "%s: %s:%d: %s='%s' is not an integer\n", bench_program, path,
                        line_no, suite_columns[c], tok);
                ok = 0;
            }
            *suite_field(&l->d, c) = (int)v;
        }
        if (ok && fields != columns) {
            fprintf(stderr, "%s: %s:%d: %d fields, the header has %d\n", bench_program, path,
                    line_no, fields, columns);
            ok = 0;
        }
        int oh, ow;
        if (ok && blasconv_conv2d_output_size(&l->d, &oh, &ow) != BLASCONV_OK) {
            fprintf(stderr,
                    "%s: %s:%d: layer '%s' is not a valid convolution (a "
                    "size is zero or negative, groups do not divide the channels, or the "
                    "output would be empty)\n",
                    bench_program, path, line_no, l->name);
            ok = 0;
        }
        if (ok)
            (*count)++;
    }
    fclose(f);
    if (ok && *count == 0) {
        fprintf(stderr, "%s: %s: no layers\n", bench_program, path);
        ok = 0;
    }
    return ok;
}

int bench_filter_layers(const char *filter, bench_layer *layers, int *count)
{
    char names[BENCH_MAX_LAYERS][64];
    int n = bench_split_list(filter, names, BENCH_MAX_LAYERS);
    if (n <= 0) {
        fprintf(stderr, "%s: --layers '%s' is not a list of layer names\n", bench_program, filter);
        return 0;
    }
    bench_layer *kept = malloc(sizeof *kept * (size_t)n);
    if (!kept) {
        fprintf(stderr, "%s: out of memory\n", bench_program);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < *count && strcmp(layers[j].name, names[i]))
            j++;
        if (j == *count) {
            fprintf(stderr, "%s: --layers: no layer '%s' in the suite\n", bench_program, names[i]);
            free(kept);
            return 0;
        }
        kept[i] = layers[j];
    }
    memcpy(layers, kept, sizeof *kept * (size_t)n);
    *count = n;
    free(kept);
    return 1;
}
