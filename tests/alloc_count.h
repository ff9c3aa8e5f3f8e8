/* Counts the allocations made while a test runs: the suites that include this
 * link blasconv statically with malloc, calloc, realloc and aligned_alloc
 * wrapped (tests/CMakeLists.txt), so every allocation blasconv's own code makes
 * passes through tests/alloc_count.c. Read the counter into a local before any
 * Check assertion: Check allocates too. */
#ifndef BLASCONV_ALLOC_COUNT_H
#define BLASCONV_ALLOC_COUNT_H

extern long allocations;

#endif
