/*
 * Typed scalar values of the configuration: integers, decimal numbers, YAML
 * 1.1 booleans, ranges and choices.  The loader (config.c) stores file
 * values and table defaults through cfg_store_scalar() alike.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config_int.h"
#include "agent/core/cdc_mem.h"

static bool
parse_int(const char *s, long *out)
{
    char *end;

    if (!((*s >= '0' && *s <= '9') || ((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9')))
        return false;
    errno = 0;
    *out = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && *out >= INT32_MIN && *out <= INT32_MAX;
}

/* Decimal numbers only: no hex floats, no inf or nan that strtod would take. */
static bool
parse_double(const char *s, double *out)
{
    char *end;

    if (*s == '\0' || s[strspn(s, "0123456789+-.eE")] != '\0' || strpbrk(s, "0123456789") == NULL)
        return false;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && *end == '\0' && isfinite(*out);
}

/* YAML 1.1 booleans as PyYAML reads them (no y/n). */
static bool
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
    static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

/* "1..65535", "0..", ">0": NULL when v is inside, else a message in why. */
static const char *
check_range(const char *range, double v, char *why, size_t whysz)
{
    const char *dots;
    double      lo, hi;

    if (range == NULL)
        return NULL;
    if (range[0] == '>') {
        if (v > strtod(range + 1, NULL))
            return NULL;
        snprintf(why, whysz, "must be greater than %s", range + 1);
        return why;
    }
    dots = strstr(range, "..");
    lo = strtod(range, NULL);                   /* stops at the first '.' of ".." */
    hi = dots[2] ? strtod(dots + 2, NULL) : INFINITY;
    if (v >= lo && v <= hi)
        return NULL;
    if (isinf(hi))
        snprintf(why, whysz, "must be at least %.*s", (int) (dots - range), range);
    else
        snprintf(why, whysz, "must be between %.*s and %s", (int) (dots - range), range, dots + 2);
    return why;
}

static const cfg_enum *
find_choice(const cfg_enum *choices, const char *s)
{
    for (const cfg_enum *e = choices; e->name; e++)
        if (strcmp(e->name, s) == 0)
            return e;
    return NULL;
}

static const char *
choices_msg(const cfg_enum *choices, char *why, size_t whysz)
{
    size_t n = (size_t) snprintf(why, whysz, "must be one of");

    for (const cfg_enum *e = choices; e->name && n < whysz; e++)
        n += (size_t) snprintf(why + n, whysz - n, "%s %s", e == choices ? ":" : ",", e->name);
    return why;
}

/*
 * Stores text in the field of a scalar key.  Returns NULL, or what is wrong
 * (in why or a static string).  Used for file values and table defaults alike.
 */
const char *
cfg_store_scalar(const cfg_key *k, void *field, const char *text, char *why, size_t whysz)
{
    const cfg_enum *e;
    const char     *bad;
    long            l;
    double          d;
    bool            b;

    switch (k->type) {
    case CFG_STR:
        if (k->choices && find_choice(k->choices, text) == NULL)
            return choices_msg(k->choices, why, whysz);
        if (k->check && (bad = k->check(text)) != NULL)
            return bad;
        free(*(char **) field);
        *(char **) field = cdc_xstrdup(text);
        return NULL;
    case CFG_INT:
        if (!parse_int(text, &l))
            return "expected an integer";
        if ((bad = check_range(k->range, (double) l, why, whysz)) != NULL)
            return bad;
        *(int *) field = (int) l;
        return NULL;
    case CFG_DOUBLE:
        if (!parse_double(text, &d))
            return "expected a number";
        if ((bad = check_range(k->range, d, why, whysz)) != NULL)
            return bad;
        *(double *) field = d;
        return NULL;
    case CFG_BOOL:
        if (!parse_bool(text, &b))
            return "expected true or false";
        *(bool *) field = b;
        return NULL;
    case CFG_ENUM:
        if ((e = find_choice(k->choices, text)) == NULL)
            return choices_msg(k->choices, why, whysz);
        *(int *) field = e->value;
        return NULL;
    default:
        return "not a scalar key";
    }
}
