/*
 * One logging call with a level, a facility named after the folder that
 * logs ("repl", "pgo", "dest.jsonl", "config") and printf checking.  Lines
 * go to stderr: human-readable, or one JSON object per line when the format
 * is set to JSON.  Every line should name its slot, relation or destination.
 * The level is a runtime setting.  @thread any (one write(2) per line).
 */
#ifndef CDC_AGENT_CORE_CDC_LOG_H
#define CDC_AGENT_CORE_CDC_LOG_H

#include <stdint.h>

#include "agent/core/cdc_err.h"

typedef enum cdc_level {
    CDC_LOG_DEBUG = 0,
    CDC_LOG_INFO,
    CDC_LOG_WARN,
    CDC_LOG_ERROR,
    CDC_LOG_OFF
} cdc_level;

typedef enum cdc_log_format { CDC_LOG_TEXT = 0, CDC_LOG_JSON } cdc_log_format;

void cdc_log_set_level(cdc_level lvl);
void cdc_log_set_format(cdc_log_format fmt);
/* Parses "debug|info|warn|error|off"; returns -1 on an unknown name. */
int  cdc_log_level_parse(const char *name, cdc_level *out);
bool cdc_log_enabled(cdc_level lvl);

void cdc_log(cdc_level lvl, const char *fac, const char *fmt, ...) CDC_PRINTF(3, 4);

#define log_debug(fac, ...) cdc_log(CDC_LOG_DEBUG, (fac), __VA_ARGS__)
#define log_info(fac, ...)  cdc_log(CDC_LOG_INFO, (fac), __VA_ARGS__)
#define log_warn(fac, ...)  cdc_log(CDC_LOG_WARN, (fac), __VA_ARGS__)
#define log_error(fac, ...) cdc_log(CDC_LOG_ERROR, (fac), __VA_ARGS__)

/*
 * A log line that carries a stable event name ("schema.version_changed",
 * "consumer.lag", "pipeline.sink_write_error") so that log pipelines can
 * match on it.  JSON lines get an "event" member; text lines show the name
 * before the message.  A NULL or empty event behaves like cdc_log().
 */
void cdc_log_event(cdc_level lvl, const char *fac, const char *event, const char *fmt, ...)
    CDC_PRINTF(4, 5);

/*
 * As cdc_log_event(), with machine-readable members for JSON lines:
 * @p fields is the text of a JSON object ("{\"total_lag\":42}") whose members
 * are copied into the line after "event" (NULL, "" or "{}" adds none; text
 * that is not an object is added as "fields":"<text>").  Text lines show
 * only the message, which should carry the same figures for a reader.
 */
void cdc_log_event_fields(cdc_level lvl, const char *fac, const char *event, const char *fields,
                          const char *fmt, ...) CDC_PRINTF(5, 6);

#define log_event_info(fac, event, ...)  cdc_log_event(CDC_LOG_INFO, (fac), (event), __VA_ARGS__)
#define log_event_warn(fac, event, ...)  cdc_log_event(CDC_LOG_WARN, (fac), (event), __VA_ARGS__)
#define log_event_error(fac, event, ...) cdc_log_event(CDC_LOG_ERROR, (fac), (event), __VA_ARGS__)

#define CDC_LSN_FMT     "%X/%X"
#define CDC_LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

#endif
