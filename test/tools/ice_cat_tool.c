/*
 * Drives the SQL catalog (sinks/iceberg/catalog/ice_sql.h) from a test script,
 * against a catalog that pyiceberg shares (test/integration/640_*.sh):
 *
 *   ice_cat_tool URI CATALOG load NS TABLE            prints the metadata location
 *   ice_cat_tool URI CATALOG create NS TABLE LOCATION
 *   ice_cat_tool URI CATALOG commit NS TABLE BASE NEW [HOOK]
 *        one compare-and-swap; HOOK (a shell command) runs first, after the catalog is open
 *        (e.g. to end its PostgreSQL connection from the server side)
 *   ice_cat_tool URI CATALOG bump NS TABLE [HOOK]     a whole commit the way the sink will
 *        make one: load, write a new metadata file (a copy of the current one with the
 *        property cdcagent.test-commit counted up, last-updated-ms and metadata-log
 *        updated), commit by ice_cat_commit_retry; HOOK (a shell command) runs once
 *        between the first load and its commit, to make another writer race us.
 *        Prints the committed location and "attempts N" on stderr.
 *   ice_cat_tool URI CATALOG list NS | drop NS TABLE
 *
 * Exit status: 0 done, 3 no such table, 4 table exists, 5 lost to a concurrent commit,
 * 1 any other error (message on stderr).  file:// warehouses only.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/catalog/ice_sql.h"

static int
exit_of(int rc)
{
    switch (rc) {
    case ICE_CAT_OK: return 0;
    case ICE_CAT_NOT_FOUND: return 3;
    case ICE_CAT_EXISTS: return 4;
    case ICE_CAT_CONFLICT: return 5;
    default: return 1;
    }
}

static const char *
local_path(const char *loc)
{
    return strncmp(loc, "file://", 7) == 0 ? loc + 7 : loc;
}

typedef struct bump {
    const char *hook;
    int         builds;
    char        base[1024];
    char        next[1024];
} bump;

/* The new metadata file next to the current one: version + 1 and a random suffix, as
   pyiceberg names them (00003-<uuid>.metadata.json). */
static int
build(void *ud, const ice_cat_table *cur, ice_cat_change *cm, cdc_err *err)
{
    bump          *b = ud;
    json_error_t   jerr;
    json_t        *doc, *props, *log, *entry;
    const char    *slash, *count;
    long           version = 0;
    struct timeval tv;
    char           n[32];

    b->builds++;
    snprintf(b->base, sizeof(b->base), "%s", cur->metadata_location);
    doc = json_load_file(local_path(b->base), 0, &jerr);
    if (doc == NULL)
        return cdc_err_set(err, CDC_E_IO, "reading %s: %s", b->base, jerr.text);
    props = json_object_get(doc, "properties");
    if (props == NULL) {
        props = json_object();
        json_object_set_new(doc, "properties", props);
    }
    count = json_string_value(json_object_get(props, "cdcagent.test-commit"));
    snprintf(n, sizeof(n), "%ld", count != NULL ? atol(count) + 1 : 1);
    json_object_set_new(props, "cdcagent.test-commit", json_string(n));
    gettimeofday(&tv, NULL);
    json_object_set_new(doc, "last-updated-ms",
                        json_integer((json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000));
    log = json_object_get(doc, "metadata-log");
    if (log == NULL) {
        log = json_array();
        json_object_set_new(doc, "metadata-log", log);
    }
    entry = json_pack("{s:I,s:s}", "timestamp-ms",
                      (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, "metadata-file", b->base);
    json_array_append_new(log, entry);

    slash = strrchr(b->base, '/');
    if (slash != NULL)
        version = strtol(slash + 1, NULL, 10);
    snprintf(b->next, sizeof(b->next), "%.*s/%05ld-cdcagent-%d-%ld.metadata.json",
             slash != NULL ? (int)(slash - b->base) : 0, b->base, version + 1, (int)getpid(),
             (long)b->builds);
    if (json_dump_file(doc, local_path(b->next), JSON_COMPACT) != 0) {
        json_decref(doc);
        return cdc_err_set(err, CDC_E_IO, "writing %s: %s", b->next, strerror(errno));
    }
    json_decref(doc);
    if (b->hook != NULL && b->builds == 1 && system(b->hook) != 0)
        return cdc_err_set(err, CDC_E_IO, "the hook %s failed", b->hook);
    cm->base_location = b->base;
    cm->new_location = b->next;
    cm->new_metadata_json = NULL;
    return 0;
}

static int
print_name(void *ud, const char *name)
{
    (void)ud;
    printf("%s\n", name);
    return 0;
}

int
main(int argc, char **argv)
{
    ice_sql_conf  conf = { 0 };
    ice_cat      *c;
    ice_cat_table t = { 0 };
    cdc_err       err;
    const char   *cmd;
    int           rc;

    if (argc < 5) {
        fprintf(stderr, "usage: %s URI CATALOG load|create|commit|bump|list|drop NS [TABLE ...]\n",
                argv[0]);
        return 2;
    }
    conf.uri = argv[1];
    conf.catalog_name = argv[2];
    cmd = argv[3];
    cdc_err_clear(&err);
    if (ice_sql_open(&conf, &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (strcmp(cmd, "list") == 0) {
        rc = ice_cat_list(c, argv[4], print_name, NULL, &err);
    } else if (argc < 6) {
        fprintf(stderr, "%s: %s needs NS TABLE\n", argv[0], cmd);
        rc = -1;
        snprintf(err.msg, sizeof(err.msg), "bad arguments");
    } else {
        ice_cat_ident id = { argv[4], argv[5] };

        if (strcmp(cmd, "load") == 0) {
            rc = ice_cat_load(c, &id, &t, &err);
        } else if (strcmp(cmd, "create") == 0 && argc == 7) {
            ice_cat_new_table nt = { argv[6], NULL };

            rc = ice_cat_create(c, &id, &nt, &t, &err);
        } else if (strcmp(cmd, "commit") == 0 && (argc == 8 || argc == 9)) {
            ice_cat_change cm = { argv[6], argv[7], NULL, NULL, NULL };

            if (argc == 9 && system(argv[8]) != 0) {
                fprintf(stderr, "%s: the hook %s failed\n", argv[0], argv[8]);
                ice_cat_close(c);
                return 1;
            }
            rc = ice_cat_commit(c, &id, &cm, &t, &err);
        } else if (strcmp(cmd, "bump") == 0) {
            bump b = { argc > 6 ? argv[6] : NULL, 0, "", "" };

            rc = ice_cat_commit_retry(c, &id, 10, build, &b, &t, &err);
            fprintf(stderr, "attempts %d\n", b.builds);
        } else if (strcmp(cmd, "drop") == 0) {
            rc = ice_cat_drop(c, &id, &err);
        } else {
            fprintf(stderr, "%s: unknown command or arguments: %s\n", argv[0], cmd);
            ice_cat_close(c);
            return 2;
        }
    }
    if (rc == ICE_CAT_OK && t.metadata_location != NULL)
        printf("%s\n", t.metadata_location);
    else if (rc != ICE_CAT_OK)
        fprintf(stderr, "%s\n", err.msg);
    ice_cat_table_free(&t);
    ice_cat_close(c);
    return exit_of(rc);
}
