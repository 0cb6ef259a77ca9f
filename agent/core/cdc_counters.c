#include "agent/core/cdc_counters.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define relaxed memory_order_relaxed

typedef struct counter_family {
    char             label[CDC_COUNTERS_MAX_LABELS][CDC_COUNTERS_LABEL_MAX];
    _Atomic uint64_t value[CDC_COUNTERS_MAX_LABELS];
    _Atomic int      nlabels;       /* release: label[0 .. n) are set for good */
    _Atomic uint64_t overflow;
} counter_family;

static counter_family  families[CDC_CTR__COUNT];
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

/* The index of @p label among the first @p n labels of @p f, or -1. */
static int
find_label(counter_family *f, int n, const char *label)
{
    for (int i = 0; i < n; i++)
        if (strncmp(f->label[i], label, CDC_COUNTERS_LABEL_MAX - 1) == 0)
            return i;
    return -1;
}

/* The index for @p label, created if there is room; -1 when the family is full. */
static int
label_index(counter_family *f, const char *label)
{
    int n = atomic_load_explicit(&f->nlabels, memory_order_acquire);
    int i = find_label(f, n, label);

    if (i >= 0)
        return i;
    pthread_mutex_lock(&add_lock);
    n = atomic_load_explicit(&f->nlabels, relaxed);   /* writers hold the lock */
    i = find_label(f, n, label);
    if (i < 0 && n < CDC_COUNTERS_MAX_LABELS) {
        snprintf(f->label[n], CDC_COUNTERS_LABEL_MAX, "%s", label);
        i = n;
        atomic_store_explicit(&f->nlabels, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&add_lock);
    return i;
}

void
cdc_counter_add(cdc_counter_family fam, const char *label, uint64_t n)
{
    counter_family *f;
    int             i;

    if (fam < 0 || fam >= CDC_CTR__COUNT)
        return;
    f = &families[fam];
    i = label_index(f, label ? label : "");
    if (i >= 0)
        atomic_fetch_add_explicit(&f->value[i], n, relaxed);
    else
        atomic_fetch_add_explicit(&f->overflow, n, relaxed);
}

void
cdc_counter_set(cdc_counter_family fam, const char *label, uint64_t v)
{
    counter_family *f;
    int             i;

    if (fam < 0 || fam >= CDC_CTR__COUNT)
        return;
    f = &families[fam];
    i = label_index(f, label ? label : "");
    if (i >= 0)
        atomic_store_explicit(&f->value[i], v, relaxed);
}

void
cdc_metrics_dlq_inc(const char *sink_id)
{
    cdc_counter_add(CDC_CTR_DLQ, sink_id, 1);
}

void
cdc_metrics_schema_registered(const char *subject)
{
    cdc_counter_add(CDC_CTR_SCHEMA_REG, subject, 1);
}

int
cdc_counter_labels(cdc_counter_family fam)
{
    if (fam < 0 || fam >= CDC_CTR__COUNT)
        return 0;
    return atomic_load_explicit(&families[fam].nlabels, memory_order_acquire);
}

const char *
cdc_counter_label(cdc_counter_family fam, int i)
{
    if (i < 0 || i >= cdc_counter_labels(fam))
        return "";
    return families[fam].label[i];
}

uint64_t
cdc_counter_value(cdc_counter_family fam, int i)
{
    if (i < 0 || i >= cdc_counter_labels(fam))
        return 0;
    return atomic_load_explicit(&families[fam].value[i], relaxed);
}

uint64_t
cdc_counter_overflow(cdc_counter_family fam)
{
    if (fam < 0 || fam >= CDC_CTR__COUNT)
        return 0;
    return atomic_load_explicit(&families[fam].overflow, relaxed);
}

uint64_t
cdc_counter_get(cdc_counter_family fam, const char *label)
{
    int n = cdc_counter_labels(fam);

    return n > 0 ? cdc_counter_value(fam, find_label(&families[fam], n, label ? label : "")) : 0;
}

uint64_t
cdc_counter_total(cdc_counter_family fam)
{
    uint64_t sum = cdc_counter_overflow(fam);
    int      n = cdc_counter_labels(fam);

    for (int i = 0; i < n; i++)
        sum += cdc_counter_value(fam, i);
    return sum;
}

void
cdc_counters_reset(void)
{
    pthread_mutex_lock(&add_lock);
    for (int f = 0; f < CDC_CTR__COUNT; f++) {
        atomic_store(&families[f].nlabels, 0);
        atomic_store(&families[f].overflow, 0);
        for (int i = 0; i < CDC_COUNTERS_MAX_LABELS; i++) {
            atomic_store(&families[f].value[i], 0);
            families[f].label[i][0] = '\0';
        }
    }
    pthread_mutex_unlock(&add_lock);
}
