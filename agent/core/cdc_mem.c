#include "agent/core/cdc_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
    fprintf(stderr, "cdcagent: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
cdc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *
cdc_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *
cdc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *
cdc_xstrdup(const char *s)
{
    return cdc_xstrndup(s, strlen(s));
}

char *
cdc_xstrndup(const char *s, size_t n)
{
    char *p = cdc_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
