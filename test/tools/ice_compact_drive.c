/*
 * ice_compact_drive: one compaction pass (sinks/iceberg/ice_compact.h) over a table of a
 * pipeline's Iceberg sink, through the sink's catalog and warehouse, for
 * test/integration/705_iceberg_compact.sh and test/bench/.
 *
 *   ice_compact_drive PIPELINE.yaml NS.TABLE [--threshold N] [--max-rows N]
 *                     [--target-bytes N] [--moves FILE] [--pause-before-commit FILE]
 *
 * Settings default to the sink's iceberg.maintenance.compaction_file_threshold and
 * compaction_max_rows_per_batch.  Prints one JSON line: the pass's stats (ice_compact_stats)
 * and the time it took ("seconds").  --moves writes "old_file old_pos new_file new_pos" lines
 * (the moved-row map).  --pause-before-commit: after the new files are written, creates FILE
 * and waits until it is removed (a test appends concurrently, or SIGKILLs the tool there).
 * Errors: "ice_compact_drive: <message>" on stderr, exit status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/core/cdc_clock.h"
#include "agent/pipeline/dest_registry.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_open.h"

static void
die(const char *what, const cdc_err *err)
{
    fprintf(stderr, "ice_compact_drive: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

static int
on_move(void *arg, const char *old_file, int64_t old_pos, const char *new_file, int64_t new_pos,
        cdc_err *err)
{
    (void) err;
    fprintf((FILE *) arg, "%s %" PRId64 " %s %" PRId64 "\n", old_file, old_pos, new_file,
            new_pos);
    return 0;
}

/* Creates the flag file and waits until the test removes it. */
static void
pause_here(void *arg)
{
    const char *flag = arg;
    FILE *f = fopen(flag, "w");

    if (f == NULL || fclose(f) != 0)
        die(flag, NULL);
    while (access(flag, F_OK) == 0) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };

        nanosleep(&ts, NULL);
    }
}

int
main(int argc, char **argv)
{
    cdc_config cfg;
    cdc_err err = { 0 };
    const cfg_sink *sink = NULL;
    ice_compact_opts o = { 0 };
    const char *moves = NULL;
    FILE *mf = NULL;

    if (argc < 3)
        die("usage: ice_compact_drive PIPELINE.yaml NS.TABLE [--threshold N] [--max-rows N] "
            "[--target-bytes N] [--moves FILE] [--pause-before-commit FILE]", NULL);
    memset(&cfg, 0, sizeof(cfg));
    if (cfg_load(&cfg, argv[1], NULL, &err) < 0)
        die(argv[1], &err);
    for (int i = 0; i < cfg.pipeline.nsinks && sink == NULL; i++)
        if (cfg.pipeline.sinks[i].sink_type == CFG_SINK_ICEBERG)
            sink = &cfg.pipeline.sinks[i];
    if (sink == NULL)
        die("the pipeline has no iceberg sink", NULL);
    o.file_threshold = sink->iceberg.maintenance.compaction_file_threshold;
    o.max_rows = sink->iceberg.maintenance.compaction_max_rows_per_batch;
    o.codec = PARQUET_ZSTD;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threshold") == 0)
            o.file_threshold = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max-rows") == 0)
            o.max_rows = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--target-bytes") == 0)
            o.target_bytes = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--moves") == 0)
            moves = argv[i + 1];
        else if (strcmp(argv[i], "--pause-before-commit") == 0) {
            o.before_commit = pause_here;
            o.hook_arg = argv[i + 1];
        }
        else
            die(argv[i], NULL);
    }
    char ns[200], name[300];
    const char *dot = strchr(argv[2], '.');

    if (dot == NULL || (size_t) (dot - argv[2]) >= sizeof(ns))
        die("NS.TABLE", NULL);
    snprintf(ns, sizeof(ns), "%.*s", (int) (dot - argv[2]), argv[2]);
    snprintf(name, sizeof(name), "%s", dot + 1);

    dest_iceberg_conf c;
    char *wh = strdup(sink->iceberg.warehouse ? sink->iceberg.warehouse : "");
    size_t wn = strlen(wh);
    ice_store *st = NULL;
    ice_cat *cat = NULL;
    cdc_aws_provider *aws = NULL;

    while (wn > 0 && wh[wn - 1] == '/')
        wh[--wn] = '\0';
    agent_iceberg_conf(sink, NULL, &c);
    if (ice_open_store(&c, wh, NULL, &st, &aws, &err) < 0 ||
        ice_open_catalog(&c, wh, &cat, &err) < 0)
        die(sink->sink_id, &err);
    if (moves && (mf = fopen(moves, "w")) == NULL)
        die(moves, NULL);

    ice_cat_ident id = { ns, name };
    ice_compact_stats s;
    int64_t t0 = cdc_mono_us();

    if (ice_compact_run(cat, st, &id, &o, mf ? on_move : NULL, mf, &s, &err) != 0)
        die("compaction", &err);
    double secs = (double) (cdc_mono_us() - t0) / 1e6;

    if (mf && fclose(mf) != 0)
        die(moves, NULL);
    printf("{\"data_files_before\": %" PRId64 ", \"delete_files_before\": %" PRId64
           ", \"partitions\": %" PRId64 ", \"data_files_removed\": %" PRId64
           ", \"delete_files_removed\": %" PRId64 ", \"files_added\": %" PRId64
           ", \"rows\": %" PRId64 ", \"bytes_read\": %" PRId64 ", \"bytes_written\": %" PRId64
           ", \"snapshot_id\": %" PRId64 ", \"replans\": %d, \"seconds\": %.3f}\n",
           s.data_files_before, s.delete_files_before, s.partitions, s.data_files_removed,
           s.delete_files_removed, s.files_added, s.rows, s.bytes_read, s.bytes_written,
           s.snapshot_id, s.replans, secs);
    ice_cat_close(cat);
    ice_store_free(st);
    cdc_aws_provider_free(aws);
    free(wh);
    cfg_free(&cfg);
    return 0;
}
