#include "agent/source/slot_warn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
agent_slot_warn(json_t *w, const char *fmt, ...)
{
    char    buf[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(w, json_string(buf));
}

const char *
agent_slot_invalid_cause(const char *reason, char *buf, size_t n)
{
    static const struct {
        const char *reason, *why;
    } causes[] = {
        { "wal_removed", "invalidation_reason wal_removed: it fell behind max_slot_wal_keep_size "
                         "and its WAL was removed" },
        { "rows_removed", "invalidation_reason rows_removed: a recovery conflict on the standby, "
                          "the primary's VACUUM removed catalog rows the slot still needed "
                          "(hot_standby_feedback off, or no physical slot between the standby "
                          "and the primary: docs/ha.md)" },
        { "wal_level_insufficient", "invalidation_reason wal_level_insufficient: a recovery "
                                    "conflict on the standby, the primary's wal_level went "
                                    "below logical" },
        { "idle_timeout", "invalidation_reason idle_timeout: inactive longer than "
                          "idle_replication_slot_timeout" },
        { "conflicting", "conflicting with recovery: a recovery conflict on the standby, the "
                         "primary's VACUUM removed catalog rows the slot still needed or its "
                         "wal_level went below logical (docs/ha.md)" },
    };

    if (reason == NULL || reason[0] == '\0') {
        snprintf(buf, n, "wal_status lost: it fell behind max_slot_wal_keep_size");
        return buf;
    }
    for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
        if (strcmp(reason, causes[i].reason) == 0) {
            snprintf(buf, n, "%s", causes[i].why);
            return buf;
        }
    snprintf(buf, n, "invalidation_reason %s", reason);
    return buf;
}

void
agent_slot_invalid_reason_from_error(const char *msg, char *out, size_t n)
{
    const char *due = msg ? strstr(msg, "invalidated due to \"") : NULL;

    out[0] = '\0';
    if (msg == NULL || n == 0)
        return;
    if (due != NULL) {
        const char *s = due + strlen("invalidated due to \"");
        size_t      len = strcspn(s, "\"");

        if (s[len] == '"' && len < n) {
            memcpy(out, s, len);
            out[len] = '\0';
        }
    } else if (strstr(msg, "conflicting with recovery") != NULL ||
               strstr(msg, "replication slot that must be invalidated") != NULL)
        snprintf(out, n, "conflicting");
    else if (strstr(msg, "exceeded the maximum reserved size") != NULL)
        snprintf(out, n, "wal_removed");
}
