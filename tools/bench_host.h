/* What machine a benchmark ran on, for its header line: the machines here change
 * between sessions (an AMD EPYC one day, an Intel Xeon the next, with caches and
 * memory speeds that move every FAST figure), so a table says which it came from. */
#ifndef BLASCONV_BENCH_HOST_H
#define BLASCONV_BENCH_HOST_H

/* "CPU: <model name>; L2 <KiB> KiB; L3 <KiB> KiB; <n> CPUs online", the parts
 * that cannot be read left out. Never NULL; a static buffer. */
const char *bench_host_description(void);

#endif
