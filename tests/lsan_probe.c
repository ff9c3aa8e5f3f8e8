/* Leaks on purpose. Built only in sanitizer builds: tools/quickstart.sh runs it to
 * learn whether LeakSanitizer can work on this machine (it cannot under ptrace, or
 * where the kernel refuses it), so a run that cannot check leaks says so instead of
 * passing silently. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *volatile leaked = malloc(64);
    printf("lsan_probe: allocated %p and dropped it\n", leaked);
    leaked = NULL;
    return 0;
}
