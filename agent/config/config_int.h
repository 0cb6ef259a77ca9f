/*
 * The configuration key tables shared by the loader (config.c), their
 * definitions (config_keys.c) and the scalar conversions (config_value.c).
 * Not for use outside agent/config/.
 *
 * A table describes one struct: each row names a key by its dotted path
 * inside that struct ("source.port"), its type and its offset.  Sections
 * ("source") are rows too, so the loader can walk nested mappings without
 * knowing them and the reference can give them a heading.  A CFG_LIST row
 * holds an array of structs described by another table (sinks).
 */
#ifndef CDC_AGENT_CONFIG_CONFIG_INT_H
#define CDC_AGENT_CONFIG_CONFIG_INT_H

#include <stddef.h>

typedef enum cfg_type {
    CFG_SECTION,   /* a mapping whose keys are the rows named "<name>.*" */
    CFG_STR,       /* char *; with choices, one of them */
    CFG_INT,       /* int; no fraction, range from the row */
    CFG_DOUBLE,    /* double */
    CFG_BOOL,      /* bool; true/false, yes/no, on/off */
    CFG_ENUM,      /* int-sized enum, from choices */
    CFG_STRLIST,   /* char ** with an int count at off_n */
    CFG_STRMAP,    /* cfg_strmap */
    CFG_LIST       /* array of structs (sub) with an int count at off_n */
} cfg_type;

enum {
    CFG_F_REQUIRED = 1 << 0, /* must be given when its section is */
    CFG_F_SECRET   = 1 << 1, /* never echoed in a message */
};

typedef struct cfg_enum {
    const char *name;
    int         value;
} cfg_enum;

typedef struct cfg_table cfg_table;

typedef struct cfg_key {
    const char      *name;    /* dotted path inside the table's struct */
    cfg_type         type;
    size_t           off;
    const char      *def;     /* default, read as a YAML plain scalar; NULL: none */
    const char      *desc;
    unsigned         flags;
    const cfg_enum  *choices; /* ends with { NULL } */
    const char      *range;   /* numbers: "1..65535", "0..", ">0" */
    const char    *(*check)(const char *value); /* NULL when fine, else what is wrong */
    size_t           off_n;   /* CFG_STRLIST, CFG_LIST: the count */
    const cfg_table *sub;     /* CFG_LIST: the element */
} cfg_key;

struct cfg_table {
    const char    *title;     /* reference heading */
    const cfg_key *keys;      /* ends with { NULL } */
    size_t         size;      /* sizeof the struct (CFG_LIST elements) */
};

extern const cfg_table cfg_pipeline_table;
extern const cfg_table cfg_sink_table;
extern const cfg_table cfg_platform_table;

/*
 * Stores text in the field of a scalar key.  Returns NULL, or what is wrong
 * (in why or a static string).  Used for file values and table defaults alike.
 */
const char *cfg_store_scalar(const cfg_key *k, void *field, const char *text, char *why,
                             size_t whysz);

#endif
