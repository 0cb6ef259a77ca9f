/*
 * Topic names as Debezium's SchemaTopicNamingStrategy builds them: prefix,
 * schema and table joined with '.', blank parts dropped, then sanitised by
 * AbstractTopicNamingStrategy.sanitizedTopicName (CONTRACT.md 1.1).
 */
#include "schemas/topic.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TOPIC_MAX 249   /* Kafka's limit on a topic name */

static bool
topic_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* A part is blank when it is NULL or holds only whitespace (Java's isBlank). */
static bool
topic_part_blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v')
            return false;
    return true;
}

char *
sch_topic_name(const char *prefix, const char *schema, const char *table, char *out,
               size_t outsz)
{
    const char *parts[3] = { prefix, schema, table };
    size_t      n = 0, cap;

    if (outsz == 0)
        return out;
    cap = outsz - 1 < TOPIC_MAX ? outsz - 1 : TOPIC_MAX;
    for (int i = 0; i < 3; i++) {
        if (topic_part_blank(parts[i]))
            continue;
        if (n > 0 && n < cap)
            out[n++] = '.';
        for (const unsigned char *p = (const unsigned char *) parts[i]; *p && n < cap; p++) {
            /* Java sanitises UTF-16 units: one '_' per character, two for a
               supplementary one (a surrogate pair); continuation bytes add none. */
            if (*p >= 0x80 && *p < 0xC0)
                continue;
            out[n++] = topic_char_ok(*p) ? (char) *p : '_';
            if (*p >= 0xF0 && n < cap)
                out[n++] = '_';
        }
    }
    out[n] = '\0';
    /* "." and ".." are not valid Kafka topic names; Debezium replaces them. */
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        memset(out, '_', n);
    return out;
}

char *
sch_event_topic(const cdc_event *ev, const char *prefix, char *out, size_t outsz)
{
    if (ev->op == CDC_OP_MESSAGE || ev->rel == NULL)
        snprintf(out, outsz, "%s.message", prefix);
    else if (ev->rel->topic) {      /* no snprintf: once per event */
        size_t n = strlen(ev->rel->topic);

        if (outsz == 0)
            return out;
        n = n < outsz - 1 ? n : outsz - 1;
        memcpy(out, ev->rel->topic, n);
        out[n] = '\0';
    }
    else
        sch_topic_name(prefix, ev->rel->nspname, ev->rel->relname, out, outsz);
    return out;
}

const char *
sch_event_topic_ref(const cdc_event *ev, const char *prefix, char *out, size_t outsz)
{
    if (ev->op != CDC_OP_MESSAGE && ev->rel != NULL && ev->rel->topic != NULL &&
        strnlen(ev->rel->topic, outsz) < outsz)
        return ev->rel->topic;
    return sch_event_topic(ev, prefix, out, outsz);
}
