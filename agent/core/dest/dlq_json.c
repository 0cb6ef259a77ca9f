/*
 * The JSON framing of stored dead-letter records (see dlq.h): a member of a
 * record taken out as its raw text, without decoding it, so numbers keep
 * their exact text; and whether a record can be copied verbatim into a JSON
 * line.  Used by the file store (dlq.c), the table store (dlq_pg.c) and
 * `dlq replay`.
 */
#include "agent/core/dest/dlq.h"

#include <jansson.h>
#include <string.h>

static size_t
js_blank(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* s[i] is '"': @returns the index after the closing quote, or 0. */
static size_t
js_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* One value at s[i] (no leading blanks): @returns the index after it, or 0. */
static size_t
js_value(const char *s, size_t n, size_t i)
{
    size_t start = i;
    int    depth = 0;

    if (i >= n)
        return 0;
    if (s[i] == '"')
        return js_string(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && strchr(",}] \t\r\n", s[i]) == NULL)
            i++;
        return i > start ? i : 0;
    }
    while (i < n) {
        if (s[i] == '"') {
            if ((i = js_string(s, n, i)) == 0)
                return 0;
            continue;
        }
        if (s[i] == '{' || s[i] == '[')
            depth++;
        else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return 0;
}

int
dest_dlq_json_member(const char *s, size_t n, const char *name, size_t *off, size_t *len)
{
    size_t nlen = strlen(name), i = js_blank(s, n, 0);

    if (i >= n || s[i] != '{')
        return -1;
    i = js_blank(s, n, i + 1);
    if (i < n && s[i] == '}')
        return 0;
    while (i < n) {
        size_t k = i, ke, v;

        if (s[i] != '"' || (ke = js_string(s, n, i)) == 0)
            return -1;
        i = js_blank(s, n, ke);
        if (i >= n || s[i] != ':')
            return -1;
        v = js_blank(s, n, i + 1);
        if ((i = js_value(s, n, v)) == 0)
            return -1;
        if (ke - k - 2 == nlen && memcmp(s + k + 1, name, nlen) == 0) {
            *off = v;
            *len = i - v;
            return 1;
        }
        i = js_blank(s, n, i);
        if (i < n && s[i] == '}')
            return 0;
        if (i >= n || s[i] != ',')
            return -1;
        i = js_blank(s, n, i + 1);
    }
    return -1;
}

bool
dest_dlq_record_is_json(const char *rec, size_t n)
{
    json_t *v;

    if (rec == NULL || memchr(rec, '\n', n) || memchr(rec, '\r', n))
        return false;
    v = json_loadb(rec, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    json_decref(v);
    return v != NULL;
}
