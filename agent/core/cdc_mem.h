/*
 * Allocation wrappers that abort on out-of-memory, as redis's zmalloc does.
 * Callers of cdc_x* need not check the result; the choice is visible at the
 * call site by the x.  Code that must survive OOM calls malloc itself.
 */
#ifndef CDC_AGENT_CORE_CDC_MEM_H
#define CDC_AGENT_CORE_CDC_MEM_H

#include <stddef.h>

void *cdc_xmalloc(size_t n);
void *cdc_xcalloc(size_t nmemb, size_t size);
void *cdc_xrealloc(void *p, size_t n);
char *cdc_xstrdup(const char *s);
char *cdc_xstrndup(const char *s, size_t n);

#endif
