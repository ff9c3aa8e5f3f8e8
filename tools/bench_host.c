/* The benchmark tools' host line (bench_host.h). */
#include "bench_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first "model name" of /proc/cpuinfo into name (empty where there is none). */
static void cpu_model(char *name, size_t size)
{
    name[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        snprintf(name, size, "%s", colon);
        name[strcspn(name, "\n")] = '\0';
        break;
    }
    fclose(f);
}

/* Appends printf-style to the string in text[size] (truncating at its end). */
__attribute__((format(printf, 3, 4))) static void append(char *text, size_t size, const char *fmt,
                                                         ...)
{
    const size_t used = strlen(text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + used, size - used, fmt, ap);
    va_end(ap);
}

const char *bench_host_description(void)
{
    static char text[512];
    char model[256];
    cpu_model(model, sizeof model);
    snprintf(text, sizeof text, "CPU: %s", model[0] ? model : "(model unknown)");
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l2 > 0)
        append(text, sizeof text, "; L2 %ld KiB", l2 / 1024);
    if (l3 > 0)
        append(text, sizeof text, "; L3 %ld KiB", l3 / 1024);
#endif
    append(text, sizeof text, "; %ld CPUs online", sysconf(_SC_NPROCESSORS_ONLN));
    return text;
}
