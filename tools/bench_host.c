/* The benchmark tools' host line (bench_host.h). */
#include "bench_host.h"

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

static void append_cache(char *text, size_t size, const char *label, long bytes)
{
    size_t used = strlen(text);
    if (bytes > 0 && used < size)
        snprintf(text + used, size - used, "; %s %ld KiB", label, bytes / 1024);
}

const char *bench_host_description(void)
{
    static char text[512];
    char model[256];
    cpu_model(model, sizeof model);
    snprintf(text, sizeof text, "CPU: %s", model[0] ? model : "(model unknown)");
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    append_cache(text, sizeof text, "L2", sysconf(_SC_LEVEL2_CACHE_SIZE));
    append_cache(text, sizeof text, "L3", sysconf(_SC_LEVEL3_CACHE_SIZE));
#endif
    size_t used = strlen(text);
    if (used < sizeof text)
        snprintf(text + used, sizeof text - used, "; %ld CPUs online",
                 sysconf(_SC_NPROCESSORS_ONLN));
    return text;
}
