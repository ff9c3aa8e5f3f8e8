/* blasconv-bench on a tiny suite: exit status, the CSV's columns and rows, results
 * checked against the reference, the chart when gnuplot is installed, and errors
 * (bad suite, bad --blas, bad options) reported with a message and a non-zero exit.
 * blasconv-fastbench on a tiny 3x3 suite: its row, and oneDNN's beside it. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined BLASCONV_BENCH_PATH || !defined BLASCONV_FASTBENCH_PATH
#error "BLASCONV_BENCH_PATH, BLASCONV_FASTBENCH_PATH: the tools (set by tests/CMakeLists.txt)"
#endif

static const char netlib[] = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3";
static const char csv_header[] =
    "layer,vendor,threads,layout,pass,batch,gemm_m,gemm_n,gemm_k,gemm_count,gflop,time_ms,"
    "gflops,sgemm_time_ms,sgemm_gflops,conv_over_sgemm,max_abs_err,tolerance,vs_onednn,status,"
    "kernels";
enum {
    CSV_FIELDS = 21
};

static char dir[64];
static char path_buf[4][256];

static const char *in_dir(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
    return path_buf[slot];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Runs `program` with args; returns its exit status, its stderr in err. */
static int run_program(const char *program, const char *args, char *err, size_t err_size)
{
    char cmd[2048];
    const char *err_path = in_dir(3, "stderr.txt");
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s/stdout.txt' 2> '%s'", program, args, dir, err_path);
    int rc = system(cmd);
    ck_assert_msg(rc != -1 && WIFEXITED(rc), "could not run: %s", cmd);
    FILE *f = fopen(err_path, "r");
    ck_assert(f != NULL);
    size_t n = fread(err, 1, err_size - 1, f);
    err[n] = '\0';
    fclose(f);
    return WEXITSTATUS(rc);
}

static int run_tool(const char *args, char *err, size_t err_size)
{
    return run_program(BLASCONV_BENCH_PATH, args, err, err_size);
}

static void setup(void)
{
    strcpy(dir, "/tmp/blasconv-bench-smoke-XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
    /* the chapter's edge layer, and a small strided, padded, grouped one */
    write_file(in_dir(0, "tiny.csv"),
               "name,batch,in_channels,in_height,in_width,out_channels,kernel_height,"
               "kernel_width,stride_height,stride_width,pad_top,pad_bottom,pad_left,pad_right,"
               "dilation_height,dilation_width,groups\n"
               "seed_edge,1,1,6,8,1,1,2,1,1,0,0,0,0,1,1,1\n"
               "small_grouped,2,4,9,11,6,3,2,2,1,1,0,1,1,1,2,2\n");
    /* a 3x3 stride-1 row for blasconv-fastbench (and one it must skip) */
    write_file(in_dir(2, "fast.csv"),
               "name,batch,in_channels,in_height,in_width,out_channels,kernel_height,"
               "kernel_width,stride_height,stride_width,pad_top,pad_bottom,pad_left,pad_right,"
               "dilation_height,dilation_width,groups\n"
               "fast_3x3,2,16,10,13,32,3,3,1,1,1,1,1,1,1,1,1\n"
               "strided_3x3,1,16,10,13,32,3,3,2,2,1,1,1,1,1,1,1\n");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Splits a CSV line on commas outside quotes; returns the field count. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0, quoted = 0;
    fields[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted && n < max) {
            *p = '\0';
            fields[n++] = p + 1;
        } else if (*p == '\n')
            *p = '\0';
    }
    return n;
}

/* Opens the tool's CSV and checks its header line. */
static FILE *open_csv(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no CSV written");
    char line[2048];
    ck_assert(fgets(line, sizeof line, f) != NULL);
    line[strcspn(line, "\n")] = '\0';
    ck_assert_str_eq(line, csv_header);
    return f;
}

/* Runs blasconv-bench on the tiny suite with `options`, its CSV to in_dir(1, name):
 * asserts it exits 0 and returns the CSV past its header; stderr in err. */
static FILE *run_to_csv(const char *options, const char *name, char *err, size_t err_size)
{
    char args[1024];
    const char *csv = in_dir(1, name);
    snprintf(args, sizeof args, "--suite '%s' %s --csv '%s'", path_buf[0], options, csv);
    int rc = run_tool(args, err, err_size);
    ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
    return open_csv(csv);
}

/* The next data row of f split into fields (which point into line); 0 at the end. */
static int next_csv_row(FILE *f, char *line, size_t size, char **fields)
{
    if (!fgets(line, (int)size, f))
        return 0;
    ck_assert_int_eq(csv_split(line, fields, CSV_FIELDS + 1), CSV_FIELDS);
    return 1;
}

/* The tool's stdout from the last run_tool. */
static void read_stdout(char *out, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    FILE *f = fopen(path, "r");
    ck_assert(f != NULL);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

START_TEST(tiny_suite_gives_checked_csv_and_chart)
{
    int have_netlib = access(netlib, R_OK) == 0;
    char options[1024], err[8192];
    const char *chart = in_dir(2, "chart.png");
    snprintf(options, sizeof options,
             "--blas linked %s%s --reps 3 --budget 0.0002 --pass all --layout nchw,nhwc "
             "--threads 1 --chart '%s'",
             have_netlib ? "--blas netlib=" : "", have_netlib ? netlib : "", chart);
    FILE *f = run_to_csv(options, "out.csv", err, sizeof err);
    ck_assert_msg(strstr(err, "[1/") != NULL, "no progress on stderr:\n%s", err);

    char line[2048], *fields[CSV_FIELDS + 1];
    int rows = 0, ok_rows = 0, fwd_nchw_ok = 0;
    double grouped_ratio = NAN;
    while (next_csv_row(f, line, sizeof line, fields)) {
        rows++;
        const char *status = fields[19];
        ck_assert_msg(!strcmp(status, "ok") || !strcmp(status, "unsupported"),
                      "row %d (%s %s %s %s) has status %s", rows, fields[0], fields[1], fields[3],
                      fields[4], status);
        if (strcmp(status, "ok") != 0)
            continue;
        ok_rows++;
        double gflops = atof(fields[12]), sgemm = atof(fields[14]);
        double err_max = atof(fields[16]), tol = atof(fields[17]);
        ck_assert_msg(isfinite(gflops) && gflops > 0 && isfinite(sgemm) && sgemm > 0,
                      "row %d: gflops %s sgemm %s", rows, fields[12], fields[14]);
        ck_assert_msg(fields[16][0] && err_max <= tol, "row %d: max_abs_err %s > %s", rows,
                      fields[16], fields[17]);
        fwd_nchw_ok += !strcmp(fields[3], "nchw") && !strcmp(fields[4], "fwd");
        if (!strcmp(fields[0], "small_grouped") && !strcmp(fields[1], "linked") &&
            !strcmp(fields[3], "nchw") && !strcmp(fields[4], "fwd"))
            grouped_ratio = atof(fields[15]);
    }
    fclose(f);
    /* The summary: the edge layer (one output channel) is not dense; the grouped one is
     * the whole geometric mean. */
    static const char line_start[] = "linked 1t nchw fwd, 1 dense layers: conv/sgemm geomean ";
    char out[16384];
    read_stdout(out, sizeof out);
    ck_assert_msg(strstr(out, "\nCPU: ") != NULL, "no host line:\n%s", out);
    const char *summary = strstr(out, line_start);
    ck_assert_msg(summary != NULL, "stdout lacks '%s':\n%s", line_start, out);
    double geomean = atof(summary + strlen(line_start));
    ck_assert_msg(fabs(geomean - grouped_ratio) < 0.0051, "geomean %g, the row's ratio %g",
                  geomean, grouped_ratio);
    const char *lowest = strstr(summary, "(small_grouped)"), *end = strchr(summary, '\n');
    ck_assert(lowest != NULL && end != NULL && lowest < end);
    ck_assert(strstr(out, "(seed_edge)") == NULL);
    int vendors = have_netlib ? 2 : 1;
    ck_assert_int_eq(rows, 2 /* layers */ * vendors * 3 /* passes */ * 2 /* layouts */);
    ck_assert_int_ge(ok_rows, 2 * vendors * 3); /* NCHW: every pass runs */
    ck_assert_int_eq(fwd_nchw_ok, 2 * vendors);

    if (access("/usr/bin/gnuplot", X_OK) == 0) {
        unsigned char magic[4] = {0};
        FILE *png = fopen(chart, "rb");
        ck_assert_msg(png != NULL, "gnuplot is installed but no chart was drawn");
        ck_assert_int_eq(fread(magic, 1, 4, png), 4);
        fclose(png);
        ck_assert(magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G');
    }
}
END_TEST

/* Built with oneDNN: its rows agree with the reference and blasconv's rows get the ratio. */
START_TEST(onednn_rows_are_checked)
{
#ifdef BLASCONV_BENCH_HAVE_ONEDNN
    char err[8192];
    FILE *f = run_to_csv("--blas linked --reps 1 --onednn", "onednn.csv", err, sizeof err);
    char line[2048], *fields[CSV_FIELDS + 1];
    int onednn_rows = 0, ratio_rows = 0;
    while (next_csv_row(f, line, sizeof line, fields)) {
        ck_assert_str_eq(fields[19], "ok");
        if (!strcmp(fields[1], "onednn")) {
            onednn_rows++;
            ck_assert_msg(fields[16][0] && atof(fields[16]) <= atof(fields[17]),
                          "oneDNN on %s: max_abs_err %s", fields[0], fields[16]);
        } else {
            ratio_rows += isfinite(atof(fields[18])) && atof(fields[18]) > 0;
        }
    }
    fclose(f);
    ck_assert_int_eq(onednn_rows, 2);
    ck_assert_int_eq(ratio_rows, 2);
    char out[16384];
    read_stdout(out, sizeof out);
    ck_assert_msg(strstr(out, "blasconv/oneDNN geomean") != NULL, "no oneDNN summary:\n%s", out);
#else
    char err[8192];
    ck_assert_int_eq(run_tool("--blas linked --onednn", err, sizeof err), 2);
    ck_assert(strstr(err, "no oneDNN") != NULL);
#endif
}
END_TEST

/* Built with oneDNN: its sgemm is a vendor of its own (through set_sgemm), every pass
 * checked against the reference, its kernels named. */
START_TEST(onednn_sgemm_vendor_rows_are_checked)
{
    char err[8192];
#ifdef BLASCONV_BENCH_HAVE_ONEDNN
    FILE *f = run_to_csv("--blas onednn-sgemm --reps 1 --pass all --threads 1,2",
                         "onednn_sgemm.csv", err, sizeof err);
    char line[2048], *fields[CSV_FIELDS + 1];
    int rows = 0;
    while (next_csv_row(f, line, sizeof line, fields)) {
        ck_assert_str_eq(fields[1], "onednn-sgemm");
        ck_assert_str_eq(fields[19], "ok");
        ck_assert_msg(strstr(fields[20], "dnnl_sgemm") && strstr(fields[20], "set_sgemm"),
                      "kernels: %s", fields[20]);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 2 * 2 * 3); /* two layers, two thread counts, three passes */
    ck_assert_int_eq(run_tool("--blas onednn-sgemm=/some/path", err, sizeof err), 2);
#else
    char args[1024];
    snprintf(args, sizeof args, "--suite '%s' --blas onednn-sgemm", path_buf[0]);
    ck_assert_int_eq(run_tool(args, err, sizeof err), 2);
    ck_assert(strstr(err, "no oneDNN") != NULL);
#endif
}
END_TEST

/* At two threads the summary gives the batch rows' speedup over one thread: here the
 * grouped layer (batch 2) alone, so the range is its two CSV rows' GFLOP/s ratio. */
START_TEST(summary_gives_two_thread_speedup)
{
    char err[8192];
    FILE *f = run_to_csv("--blas linked --reps 1 --threads 1,2 --layers small_grouped",
                         "threads.csv", err, sizeof err);
    char line[2048], *fields[CSV_FIELDS + 1];
    double gflops[3] = {NAN, NAN, NAN}; /* by thread count */
    while (next_csv_row(f, line, sizeof line, fields))
        gflops[atoi(fields[2]) == 2 ? 2 : 1] = atof(fields[12]);
    fclose(f);
    const double speedup = gflops[2] / gflops[1];
    ck_assert(isfinite(speedup) && speedup > 0);
    static const char marker[] = "batch > 1 rows ";
    char out[16384];
    read_stdout(out, sizeof out);
    const char *found = strstr(out, marker);
    ck_assert_msg(found != NULL, "no speedup in the summary:\n%s", out);
    double low = 0, high = 0;
    ck_assert_int_eq(sscanf(found + strlen(marker), "%lf-%lfx", &low, &high), 2);
    ck_assert_msg(fabs(low - speedup) < 0.006 && fabs(high - speedup) < 0.006,
                  "summary %.2f-%.2f, CSV rows %g", low, high, speedup);
}
END_TEST

START_TEST(default_suite_is_found)
{
    char err[8192];
    int rc = run_tool("--layers seed_edge --blas linked --reps 1", err, sizeof err);
    ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
}
END_TEST

/* --busy-cpu: the run goes on beside a process spinning on that CPU, and says so. */
START_TEST(busy_cpu_run_says_so)
{
    char err[8192], out[16384];
    int rc = run_tool("--layers seed_edge --blas linked --reps 1 --busy-cpu 0", err, sizeof err);
    ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
    read_stdout(out, sizeof out);
    ck_assert_msg(strstr(out, "busy: a process spinning on CPU 0") != NULL, "%s", out);
}
END_TEST

typedef struct error_case {
    const char *args; /* %s: the tiny suite */
    int want_rc;
    const char *message; /* must appear on stderr */
} error_case;

static const error_case error_cases[] = {
    {"--suite /nonexistent/suite.csv --blas linked", 1, "cannot open suite"},
    {"--suite '%s' --blas bad=/nonexistent/libblas.so.3", 1, "--blas bad=/nonexistent"},
    {"--suite '%s' --blas nosuchvendor", 2, "not a known vendor"},
    {"--suite '%s' --blas linked --layers nosuchlayer", 1, "no layer 'nosuchlayer'"},
    {"--suite '%s' --blas linked --threads 0", 2, "--threads"},
    {"--suite '%s' --blas linked --workspace-limit -1", 2, "--workspace-limit"},
    {"--suite '%s' --blas linked --pass sideways", 2, "sideways"},
    {"--suite '%s' --blas linked --chart out.gif", 2, "--chart"},
    {"--suite '%s' --frobnicate", 2, "unknown option"},
    {"--suite '%s' --blas linked --busy-cpu -1", 2, "--busy-cpu '-1'"},
    {"--suite '%s' --blas linked --busy-cpu 4000", 2, "--busy-cpu 4000: not one of the"},
    {"--suite BADSUITE --blas linked", 1, "not an integer"},
    {"--suite BADLAYER --blas linked", 1, "not a valid convolution"},
};

START_TEST(errors_are_reported)
{
    const error_case *t = &error_cases[_i];
    write_file(in_dir(1, "bad_int.csv"), "name,batch,in_channels,in_height,in_width,"
                                         "out_channels,kernel_height,kernel_width\n"
                                         "a,1,1,six,8,1,1,2\n");
    write_file(in_dir(2, "bad_layer.csv"), "name,batch,in_channels,in_height,in_width,"
                                           "out_channels,kernel_height,kernel_width,groups\n"
                                           "a,1,3,6,8,4,1,2,2\n");
    char args[1024], err[8192];
    if (!strncmp(t->args, "--suite BADSUITE", 16))
        snprintf(args, sizeof args, "--suite '%s'%s", path_buf[1], t->args + 16);
    else if (!strncmp(t->args, "--suite BADLAYER", 16))
        snprintf(args, sizeof args, "--suite '%s'%s", path_buf[2], t->args + 16);
    else
        snprintf(args, sizeof args, t->args, path_buf[0]);
    int rc = run_tool(args, err, sizeof err);
    ck_assert_msg(rc == t->want_rc, "%s: exit status %d, want %d; stderr:\n%s", args, rc,
                  t->want_rc, err);
    ck_assert_msg(strstr(err, t->message) != NULL, "%s: stderr lacks '%s':\n%s", args, t->message,
                  err);
}
END_TEST

/* The cells of the table row of `layer` in the tool's stdout; returns their count. */
static int table_row(const char *layer, char *line, size_t size, char **cells, int max)
{
    FILE *f = fopen(in_dir(1, "stdout.txt"), "r");
    ck_assert(f != NULL);
    char want[128];
    snprintf(want, sizeof want, "| %s |", layer);
    int n = 0;
    while (!n && fgets(line, (int)size, f))
        if (!strncmp(line, want, strlen(want)))
            for (char *cell = strtok(line + 1, "|\n"); cell && n < max; cell = strtok(NULL, "|\n"))
                cells[n++] = cell;
    fclose(f);
    return n;
}

/* FAST's row: FAST within 1e-5 of the lowering's largest output; with oneDNN, its
 * two algorithms timed, FAST timed again as they are (their ratio to it finite) and
 * oneDNN's output within 1e-4 of the lowering's. */
START_TEST(fastbench_row_and_onednn_cells)
{
    char args[1024], err[8192], line[2048], *cells[16];
    snprintf(args, sizeof args, "--suite '%s' --reps 1%s", path_buf[2], _i ? " --onednn" : "");
#ifndef BLASCONV_BENCH_HAVE_ONEDNN
    if (_i) {
        ck_assert_int_eq(run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err), 2);
        ck_assert(strstr(err, "no oneDNN") != NULL);
        return;
    }
#endif
    int rc = run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err);
    ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
    ck_assert_int_eq(table_row("strided_3x3", line, sizeof line, cells, 16), 0);
    int n = table_row("fast_3x3", line, sizeof line, cells, 16);
    ck_assert_int_eq(n, _i ? 15 : 9);
    ck_assert_msg(atof(cells[8]) < 1e-5, "FAST's relative difference %s", cells[8]);
    if (_i) {
        ck_assert_msg(isfinite(atof(cells[9])), "oneDNN direct: %s", cells[9]);
        ck_assert_msg(isfinite(atof(cells[11])), "FAST alone: %s", cells[11]);
        ck_assert_msg(isfinite(atof(cells[12])) && atof(cells[12]) > 0, "oneDNN / FAST: %s",
                      cells[12]);
        ck_assert_msg(atof(cells[13]) < 1e-4, "oneDNN's difference %s", cells[13]);
        ck_assert_msg(strncmp(cells[14], " none", 5) != 0, "oneDNN direct did not run: %s",
                      cells[14]);
    }
}
END_TEST

/* --pass bwd-data: backward data's row, FAST's dx within 1e-5 of the lowering's
 * largest and not equal to it (Winograd ran on this small layer), its difference
 * not forward's; oneDNN (forward only) and an unknown pass are refused. */
START_TEST(fastbench_backward_data_row)
{
    char args[1024], err[8192], line[2048], *cells[16], forward_diff[64];
    for (int backward = 0; backward < 2; backward++) {
        snprintf(args, sizeof args, "--suite '%s' --reps 1 --pass %s", path_buf[2],
                 backward ? "bwd-data" : "fwd");
        int rc = run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err);
        ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
        ck_assert_int_eq(table_row("fast_3x3", line, sizeof line, cells, 16), 9);
        if (!backward)
            snprintf(forward_diff, sizeof forward_diff, "%s", cells[7]);
    }
    ck_assert_msg(atof(cells[8]) < 1e-5, "FAST's relative difference %s", cells[8]);
    ck_assert_msg(atof(cells[8]) > 0, "FAST's dx equals the lowering's: %s", cells[8]);
    ck_assert_msg(strcmp(cells[7], forward_diff) != 0, "dx's difference is forward's: %s",
                  cells[7]);
    snprintf(args, sizeof args, "--suite '%s' --reps 1 --pass bwd-data --onednn", path_buf[2]);
    ck_assert_int_eq(run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err), 2);
    snprintf(args, sizeof args, "--suite '%s' --reps 1 --pass bwd-filter", path_buf[2]);
    ck_assert_int_eq(run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err), 2);
}
END_TEST

/* --seam: FAST's calls once more through a timing sgemm; the row gains the call's
 * time, its time in sgemm (no more than the call) and the rest, and a rate that
 * shows the sgemm calls were counted and timed. One thread only. */
START_TEST(fastbench_seam_cells)
{
    char args[1024], err[8192], line[2048], *cells[16];
    snprintf(args, sizeof args, "--suite '%s' --reps 3 --seam", path_buf[2]);
    int rc = run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err);
    ck_assert_msg(rc == 0, "exit status %d; stderr:\n%s", rc, err);
    ck_assert_int_eq(table_row("fast_3x3", line, sizeof line, cells, 16), 13);
    ck_assert_msg(atof(cells[10]) <= atof(cells[9]), "sgemm %s of a call of %s", cells[10],
                  cells[9]);
    ck_assert_msg(atof(cells[11]) >= 0, "the rest: %s", cells[11]);
    ck_assert_msg(atof(cells[12]) > 0, "sgemm GFLOP/s %s", cells[12]);
    snprintf(args, sizeof args, "--suite '%s' --reps 1 --seam --threads 2", path_buf[2]);
    ck_assert_int_eq(run_program(BLASCONV_FASTBENCH_PATH, args, err, sizeof err), 2);
    ck_assert(strstr(err, "--seam") != NULL);
}
END_TEST

START_TEST(help_exits_zero)
{
    char err[8192];
    ck_assert_int_eq(run_tool("--help", err, sizeof err), 0);
    FILE *f = fopen(in_dir(1, "stdout.txt"), "r");
    ck_assert(f != NULL);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert(strstr(text, "--blas NAME=PATH") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_smoke");
    TCase *tc = tcase_create("bench_smoke");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tiny_suite_gives_checked_csv_and_chart);
    tcase_add_test(tc, summary_gives_two_thread_speedup);
    tcase_add_test(tc, default_suite_is_found);
    tcase_add_test(tc, busy_cpu_run_says_so);
    tcase_add_test(tc, onednn_rows_are_checked);
    tcase_add_test(tc, onednn_sgemm_vendor_rows_are_checked);
    tcase_add_loop_test(tc, errors_are_reported, 0,
                        (int)(sizeof error_cases / sizeof error_cases[0]));
    tcase_add_loop_test(tc, fastbench_row_and_onednn_cells, 0, 2);
    tcase_add_test(tc, fastbench_backward_data_row);
    tcase_add_test(tc, fastbench_seam_cells);
    tcase_add_test(tc, help_exits_zero);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
