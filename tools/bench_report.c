/* blasconv-bench's output: the aligned table, the CSV and the gnuplot chart. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, setenv, strtok_r, popen */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *layout_name(blasconv_layout layout)
{
    return layout == BLASCONV_NHWC ? "nhwc" : "nchw";
}

/* printf of a value, or "-" when it was not measured. */
static void format_value(char *out, size_t size, const char *fmt, double value)
{
    if (isnan(value))
        snprintf(out, size, "-");
    else
        snprintf(out, size, fmt, value);
}

#define TABLE_COLUMNS 14
enum {
    CELL = 48
};

static int any_onednn(const bench_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isnan(rows[i].vs_onednn) || strcmp(rows[i].vendor, "onednn") == 0)
            return 1;
    return 0;
}

static void row_cells(const bench_row *r, char cells[TABLE_COLUMNS][CELL])
{
    snprintf(cells[0], CELL, "%s", r->layer);
    snprintf(cells[1], CELL, "%s", r->vendor);
    snprintf(cells[2], CELL, "%d", r->threads);
    snprintf(cells[3], CELL, "%s", layout_name(r->layout));
    snprintf(cells[4], CELL, "%s", bench_pass_names[r->pass]);
    snprintf(cells[5], CELL, "%d", r->batch);
    snprintf(cells[6], CELL, "%dx%dx%d%s", r->gemm_m, r->gemm_n, r->gemm_k, "");
    if (r->gemm_count > 1) {
        char times[16];
        snprintf(times, sizeof times, " x%d", r->gemm_count);
        strncat(cells[6], times, CELL - strlen(cells[6]) - 1);
    }
    format_value(cells[7], CELL, "%.4g", r->conv_s * 1e3);
    format_value(cells[8], CELL, "%.3g", r->conv_gflops);
    format_value(cells[9], CELL, "%.3g", r->sgemm_gflops);
    format_value(cells[10], CELL, "%.2f", r->conv_over_sgemm);
    format_value(cells[11], CELL, "%.1e", r->max_abs_err);
    format_value(cells[12], CELL, "%.2f", r->vs_onednn);
    snprintf(cells[13], CELL, "%s", r->status);
}

void bench_print_table(FILE *out, const bench_row *rows, size_t count)
{
    static const char *const titles[TABLE_COLUMNS] = {
        "layer", "vendor",  "thr",           "layout",     "pass",    "N",         "GEMM MxNxK",
        "ms",    "GFLOP/s", "sgemm GFLOP/s", "conv/sgemm", "max_err", "vs oneDNN", "status"};
    /* Numbers are right-aligned, names left-aligned. */
    static const int right[TABLE_COLUMNS] = {0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    int show_onednn = any_onednn(rows, count);
    size_t width[TABLE_COLUMNS];
    for (int c = 0; c < TABLE_COLUMNS; c++)
        width[c] = strlen(titles[c]);
    char cells[TABLE_COLUMNS][CELL];
    for (size_t i = 0; i < count; i++) {
        row_cells(&rows[i], cells);
        for (int c = 0; c < TABLE_COLUMNS; c++)
            if (strlen(cells[c]) > width[c])
                width[c] = strlen(cells[c]);
    }
    for (size_t i = 0; i <= count; i++) {
        if (i > 0)
            row_cells(&rows[i - 1], cells);
        for (int c = 0; c < TABLE_COLUMNS; c++) {
            if (c == 12 && !show_onednn)
                continue;
            const char *text = i == 0 ? titles[c] : cells[c];
            int w = (int)width[c];
            if (c == TABLE_COLUMNS - 1) /* the last column: no trailing blanks */
                w = 0;
            fprintf(out, "%s%*s", c ? "  " : "", right[c] ? w : -w, text);
        }
        fputc('\n', out);
    }
    /* Which code ran, once per distinct vendor and kernel family. */
    fprintf(out, "\nkernels:\n");
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < i && (strcmp(rows[j].vendor, rows[i].vendor) ||
                         strcmp(rows[j].kernels, rows[i].kernels)))
            j++;
        if (j == i)
            fprintf(out, "  %-10s %s\n", rows[i].vendor, rows[i].kernels);
    }
}

static void csv_number(FILE *f, double value)
{
    if (!isnan(value))
        fprintf(f, "%.6g", value);
    fputc(',', f);
}

int bench_write_csv(const char *path, const bench_row *rows, size_t count)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 0;
    }
    fprintf(f, "layer,vendor,threads,layout,pass,batch,gemm_m,gemm_n,gemm_k,gemm_count,gflop,"
               "time_ms,gflops,sgemm_time_ms,sgemm_gflops,conv_over_sgemm,max_abs_err,"
               "tolerance,vs_onednn,status,kernels\n");
    for (size_t i = 0; i < count; i++) {
        const bench_row *r = &rows[i];
        fprintf(f, "%s,%s,%d,%s,%s,%d,%d,%d,%d,%d,", r->layer, r->vendor, r->threads,
                layout_name(r->layout), bench_pass_names[r->pass], r->batch, r->gemm_m, r->gemm_n,
                r->gemm_k, r->gemm_count);
        csv_number(f, r->gflop);
        csv_number(f, r->conv_s * 1e3);
        csv_number(f, r->conv_gflops);
        csv_number(f, r->sgemm_s * 1e3);
        csv_number(f, r->sgemm_gflops);
        csv_number(f, r->conv_over_sgemm);
        csv_number(f, r->max_abs_err);
        csv_number(f, r->tolerance);
        csv_number(f, r->vs_onednn);
        /* kernels may hold commas or spaces: quoted, as CSV does */
        fprintf(f, "%s,\"%s\"\n", r->status, r->kernels);
    }
    if (fclose(f) != 0) {
        perror(path);
        return 0;
    }
    return 1;
}

/* ---- chart ----------------------------------------------------------------------- */

static int gnuplot_installed(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char candidate[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && len + sizeof "/gnuplot" < sizeof candidate) {
            memcpy(candidate, path, len);
            strcpy(candidate + len, "/gnuplot");
            if (access(candidate, X_OK) == 0)
                return 1;
        }
        path += len + (path[len] == ':');
    }
    return 0;
}

const char *bench_chart_terminal(const char *path)
{
    size_t n = strlen(path);
    if (strchr(path, '\'') || strchr(path, '\n'))
        return NULL;
    if (n > 4 && strcmp(path + n - 4, ".png") == 0)
        return "pngcairo";
    if (n > 4 && strcmp(path + n - 4, ".svg") == 0)
        return "svg dynamic";
    return NULL;
}

/* Index of s in names[0..*count), appended when new. */
static size_t intern(const char **names, size_t *count, const char *s)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    names[*count] = s;
    return (*count)++;
}

int bench_draw_chart(const char *path, const bench_row *rows, size_t count)
{
    const char *terminal = bench_chart_terminal(path);
    if (!terminal) {
        fprintf(stderr, "blasconv-bench: --chart '%s': the name must end in .png or .svg\n", path);
        return 1;
    }
    if (!gnuplot_installed()) {
        fprintf(stderr, "blasconv-bench: gnuplot is not installed: no chart (Debian: apt-get "
                        "install gnuplot-nox)\n");
        return 0;
    }
    /* A bar group per (layer, threads, layout, pass); the label names only the
     * settings that vary in this run. */
    int vary_threads = 0, vary_layout = 0, vary_pass = 0;
    for (size_t i = 1; i < count; i++) {
        vary_threads |= rows[i].threads != rows[0].threads;
        vary_layout |= rows[i].layout != rows[0].layout;
        vary_pass |= rows[i].pass != rows[0].pass;
    }
    const char **vendors = calloc(count + 1, sizeof *vendors);
    char(*labels)[96] = calloc(count + 1, sizeof *labels);
    const char **label_ptrs = calloc(count + 1, sizeof *label_ptrs);
    double *values = malloc(sizeof *values * (count + 1) * (count + 1));
    if (!vendors || !labels || !label_ptrs || !values) {
        free(vendors), free(labels), free(label_ptrs), free(values);
        fprintf(stderr, "blasconv-bench: out of memory for the chart\n");
        return 1;
    }
    size_t vendor_count = 0, group_count = 0;
    for (size_t i = 0; i < count; i++) {
        const bench_row *r = &rows[i];
        char label[96];
        int used = snprintf(label, sizeof label, "%s", r->layer);
        if (vary_threads && used >= 0 && (size_t)used < sizeof label)
            used += snprintf(label + used, sizeof label - (size_t)used, " %dt", r->threads);
        if (vary_layout && used >= 0 && (size_t)used < sizeof label)
            used +=
                snprintf(label + used, sizeof label - (size_t)used, " %s", layout_name(r->layout));
        if (vary_pass && used >= 0 && (size_t)used < sizeof label)
            snprintf(label + used, sizeof label - (size_t)used, " %s", bench_pass_names[r->pass]);
        size_t before = group_count;
        memcpy(labels[group_count], label, sizeof label);
        size_t g = intern(label_ptrs, &group_count, labels[group_count]);
        size_t v = intern(vendors, &vendor_count, r->vendor);
        if (group_count > before)
            for (size_t k = 0; k <= count; k++)
                values[g * (count + 1) + k] = NAN;
        values[g * (count + 1) + v] = strcmp(r->status, "ok") == 0 ? r->conv_gflops : NAN;
    }
    FILE *gp = popen("gnuplot", "w");
    int status = 1;
    if (gp) {
        int width = 120 + (int)(group_count * (vendor_count + 1)) * 14;
        fprintf(gp, "set terminal %s noenhanced size %d,560 font ',10'\n", terminal,
                width < 800 ? 800 : width);
        fprintf(gp, "set output '%s'\n", path);
        /* The settings shared by every bar go into the title. */
        char setting[96] = "";
        size_t used = 0;
        if (!vary_pass)
            used += (size_t)snprintf(setting + used, sizeof setting - used, ", %s",
                                     bench_pass_names[rows[0].pass]);
        if (!vary_layout && used < sizeof setting)
            used += (size_t)snprintf(setting + used, sizeof setting - used, ", %s",
                                     layout_name(rows[0].layout));
        if (!vary_threads && used < sizeof setting)
            snprintf(setting + used, sizeof setting - used, ", %d thread%s", rows[0].threads,
                     rows[0].threads == 1 ? "" : "s");
        fprintf(gp,
                "set title 'blasconv GFLOP/s per layer and BLAS vendor%s (higher is "
                "better)'\n",
                setting);
        fprintf(gp, "set style data histograms\nset style histogram clustered gap 1\n"
                    "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
                    "set ylabel 'GFLOP/s'\nset yrange [0:*]\nset grid ytics\n"
                    "set xtics rotate by 40 right nomirror\nset key top left\n"
                    "set bmargin 8\nset datafile missing '-'\n");
        fprintf(gp, "$data << EOD\nlayer");
        for (size_t v = 0; v < vendor_count; v++)
            fprintf(gp, " \"%s\"", vendors[v]);
        fprintf(gp, "\n");
        for (size_t g = 0; g < group_count; g++) {
            fprintf(gp, "\"%s\"", label_ptrs[g]);
            for (size_t v = 0; v < vendor_count; v++) {
                double value = values[g * (count + 1) + v];
                if (isnan(value))
                    fprintf(gp, " -");
                else
                    fprintf(gp, " %.4g", value);
            }
            fprintf(gp, "\n");
        }
        fprintf(gp, "EOD\nplot for [i=2:%zu] $data using i:xtic(1) title columnheader(i)\n",
                vendor_count + 1);
        int rc = pclose(gp);
        status = rc == 0 ? 0 : 1;
        if (status)
            fprintf(stderr, "blasconv-bench: gnuplot failed (exit status %d); no chart\n",
                    WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    } else {
        perror("blasconv-bench: gnuplot");
    }
    free(vendors), free(labels), free(label_ptrs), free(values);
    return status;
}
