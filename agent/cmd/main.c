/*
 * cdcagent's command line.  Only this file decides to exit.  Exit codes:
 * 0 success, 1 runtime failure, 2 usage or configuration error, 3 `slot status`
 * found something to warn about, 4 `verify` found a difference.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/core/cdc_log.h"
#include "agent/cmd/dlq_cli.h"
#include "agent/cmd/lakehouse.h"
#include "agent/ops/privs.h"
#include "agent/pipeline/capture.h"
#include "agent/source/colfilter.h"
#include "agent/source/pg_source.h"
#include "agent/source/publication.h"
#include "agent/source/tablepat.h"
#include "agent/pipeline/run.h"
#include "agent/pipeline/incr_status.h"
#include "agent/pipeline/snapshot_progress.h"
#include "agent/source/slot.h"
#include "agent/cmd/verify.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define EXIT_WARNINGS 3  /* slot status: warnings printed */
#define EXIT_DIFFERS  4  /* verify: source and destination differ */

typedef struct cli {
    const char *cmd;        /* "run", "validate", "slot status", ... */
    const char *pipeline;
    const char *arg;        /* the positional after PIPELINE.yaml: slot advance's LSN */
    const char *platform;
    const char *log_level;
    int         json;
    int         yes;
    int         dry_run;
    int         connect;    /* validate --connect */
    agent_dlq_filter dlq;   /* dlq list/replay: --sink, --table, --error-type, --all, --id */
    agent_slot_opts  slot;  /* slot status: --warn-retained-bytes, --rate-window (--all: dlq.all) */
    agent_verify_opts verify; /* verify: --table (repeatable), --ranges, --wait (--sink, --json) */
    agent_lake_opts   lake;   /* lakehouse: --snapshot-id, --as-of, --where, --limit, --force
                                 (--sink, --table: dlq's; --json, --yes) */
} cli;

static const char usage_text[] =
    "usage: cdcagent COMMAND [PIPELINE.yaml] [options]\n"
    "\n"
    "commands:\n"
    "  run PIPELINE.yaml            capture changes and deliver them until stopped\n"
    "  validate PIPELINE.yaml       check the configuration and exit (--connect: also the\n"
    "                               start checks that read the source: tables, patterns,\n"
    "                               columns of the column settings, row filters; creates\n"
    "                               nothing)\n"
    "  slot status PIPELINE.yaml    show the replication slot and warnings (--json, --all:\n"
    "                               every slot of the database, --warn-retained-bytes N,\n"
    "                               --rate-window SECONDS)\n"
    "  slot create PIPELINE.yaml    create the slot (pgoutput) without snapshot\n"
    "  slot drop PIPELINE.yaml      drop the slot (needs --yes)\n"
    "  slot advance PIPELINE.yaml LSN  skip the slot forward to LSN (needs --yes)\n"
    "  dlq list PIPELINE.yaml       show the dead letters not replayed yet (--all: every one)\n"
    "  dlq replay PIPELINE.yaml     re-deliver them to their sinks, each once (--dry-run)\n"
    "  verify PIPELINE.yaml         compare the source tables with what a sink holds now\n"
    "                               (postgres replica, jsonl or iceberg; --sink ID,\n"
    "                               --table S.T (repeatable), --ranges N, --wait SECONDS,\n"
    "                               --json)\n"
    "  lakehouse snapshots PIPELINE.yaml  list the snapshots of the iceberg sinks' tables\n"
    "                               (--table S.T, --sink ID, --json)\n"
    "  lakehouse query PIPELINE.yaml  print a table's rows as of --snapshot-id N or --as-of\n"
    "                               TIME as JSON lines (--table S.T, --where COL=VAL,\n"
    "                               --limit N)\n"
    "  lakehouse rollback PIPELINE.yaml  make --snapshot-id N the table's current snapshot\n"
    "                               (needs --yes; refused while the slot is active unless\n"
    "                               --force; --table S.T, --json)\n"
    "  help config                  print every configuration key\n"
    "  version                      print the version\n"
    "  help                         print this text\n"
    "\n"
    "options:\n"
    "  --platform-config FILE       platform.yaml (default: built-in defaults)\n"
    "  --log-level LEVEL            debug, info, warn or error (overrides agent.log_level)\n"
    "  --json                       machine-readable output (slot status, dlq list, verify,\n"
    "                               lakehouse)\n"
    "  --yes                        confirm a destructive command (slot drop, slot advance,\n"
    "                               lakehouse rollback)\n"
    "  --sink ID, --table S.T, --error-type T, --id ID (repeatable), --all, --dry-run\n"
    "                               select dead letters (dlq list, dlq replay)\n"
    "\n"
    "exit codes: 0 success, 1 runtime failure, 2 usage or configuration error,\n"
    "            3 slot status printed warnings, 4 verify found differences\n";

static int
usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "cdcagent: %s\n\n", msg);
    fputs(usage_text, msg ? stderr : stdout);
    return msg ? EXIT_USAGE : 0;
}

/* Every command this program knows, for a message that names a mistyped one. */
static const char *const commands[] = {
    "run", "validate", "slot status", "slot create", "slot drop", "slot advance",
    "dlq list", "dlq replay", "verify", "lakehouse snapshots", "lakehouse query",
    "lakehouse rollback", "help", "version", NULL
};

/*
 * The value of the option argv[*i], with *i moved past it; NULL, with msg saying
 * which option wants what, when there is none (the end of the line, or another
 * --option where the value should be).
 */
static const char *
opt_value(int argc, char **argv, int *i, const char *wants, char *msg, size_t msgsz)
{
    if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
        snprintf(msg, msgsz, "%s: missing value, expected %s", argv[*i], wants);
        return NULL;
    }
    return argv[++*i];
}

/* A number option's value: -1 with msg naming the option, the value and what it wants. */
static int
opt_number(const char *opt, const char *v, double lo, double hi, bool whole, const char *wants,
           double *out, char *msg, size_t msgsz)
{
    char *end;

    *out = whole ? (double) strtoll(v, &end, 10) : strtod(v, &end);
    if (end != v && *end == '\0' && *out >= lo && *out <= hi)
        return 0;
    snprintf(msg, msgsz, "%s %s: expected %s", opt, v, wants);
    return -1;
}

/*
 * The command line into *c.  @returns 0, or -1 with msg saying what is wrong:
 * the option, what it wants, or the argument that does not belong.
 */
static int
parse_args(int argc, char **argv, cli *c, char *msg, size_t msgsz)
{
    static char cmd[32];
    static const char *ids[64];     /* --id: more is a usage error */
    int         i = 1, known = 0;
    const char *v;
    double      d;

    if (argc < 2) {
        snprintf(msg, msgsz, "missing command");
        return -1;
    }
    if (strcmp(argv[1], "slot") == 0 || strcmp(argv[1], "dlq") == 0 ||
        strcmp(argv[1], "lakehouse") == 0) {
        if (argc < 3 || strncmp(argv[2], "--", 2) == 0) {
            snprintf(msg, msgsz, "%s: missing subcommand (%s)", argv[1],
                     argv[1][0] == 's' ? "status, create, drop or advance"
                     : argv[1][0] == 'd' ? "list or replay" : "snapshots, query or rollback");
            return -1;
        }
        snprintf(cmd, sizeof(cmd), "%s %s", argv[1], argv[2]);
        i = 3;
    } else {
        snprintf(cmd, sizeof(cmd), "%s", argv[1]);
        i = 2;
    }
    for (int k = 0; commands[k]; k++)
        known |= strcmp(commands[k], cmd) == 0;
    if (!known) {
        snprintf(msg, msgsz, "unknown command \"%s\"", cmd);
        return -1;
    }
    c->cmd = cmd;
    c->dlq.ids = ids;
    c->lake.snapshot_id = -1;
    c->lake.limit = -1;
    for (; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--platform-config") == 0) {
            if (!(c->platform = opt_value(argc, argv, &i, "FILE (platform.yaml)", msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--log-level") == 0) {
            if (!(c->log_level = opt_value(argc, argv, &i, "LEVEL (debug, info, warn or error)",
                                           msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--json") == 0)
            c->json = 1;
        else if (strcmp(a, "--yes") == 0)
            c->yes = 1;
        else if (strcmp(a, "--connect") == 0 && strcmp(cmd, "validate") == 0)
            c->connect = 1;
        else if (strcmp(a, "--all") == 0)
            c->dlq.all = true;
        else if (strcmp(a, "--dry-run") == 0)
            c->dry_run = 1;
        else if (strcmp(a, "--sink") == 0) {
            if (!(c->dlq.sink_id = opt_value(argc, argv, &i, "ID (a sink_id of the pipeline)",
                                             msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--table") == 0) {
            if (!(v = opt_value(argc, argv, &i, "SCHEMA.TABLE", msg, msgsz)))
                return -1;
            if (strcmp(cmd, "verify") != 0)
                c->dlq.table = v;
            else if (c->verify.ntables < AGENT_VERIFY_MAX_TABLES)
                c->verify.tables[c->verify.ntables++] = v;
            else {
                snprintf(msg, msgsz, "--table %s: verify takes at most %d tables", v,
                         AGENT_VERIFY_MAX_TABLES);
                return -1;
            }
        } else if (strcmp(a, "--error-type") == 0) {
            if (!(c->dlq.error_type = opt_value(argc, argv, &i, "TYPE (as dlq list shows it)",
                                                msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--id") == 0) {
            if (!(v = opt_value(argc, argv, &i, "ID (as dlq list shows it)", msg, msgsz)))
                return -1;
            if (c->dlq.nids >= 64) {
                snprintf(msg, msgsz, "--id %s: at most 64 --id options", v);
                return -1;
            }
            ids[c->dlq.nids++] = v;
        } else if (strcmp(a, "--warn-retained-bytes") == 0) {
            static const char w[] = "BYTES (a whole number above 0)";

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)) ||
                opt_number(a, v, 1, 9.2e18, true, w, &d, msg, msgsz) < 0)
                return -1;
            c->slot.warn_retained_bytes = strtoll(v, NULL, 10);
        } else if (strcmp(a, "--rate-window") == 0) {
            static const char w[] = "SECONDS (a number from 0 to 600)";

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)) ||
                opt_number(a, v, 0, 600, false, w, &d, msg, msgsz) < 0)
                return -1;
            c->slot.rate_window = d == 0 ? -1 : d;   /* 0 on the command line: do not sample */
        } else if (strcmp(a, "--ranges") == 0) {
            static const char w[] = "N (a whole number from 1 to 1000)";

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)) ||
                opt_number(a, v, 1, AGENT_VERIFY_RANGES_MAX, true, w, &d, msg, msgsz) < 0)
                return -1;
            c->verify.ranges = (int) d;
        } else if (strcmp(a, "--wait") == 0) {
            static const char w[] = "SECONDS (a number from 0 to 86400)";

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)) ||
                opt_number(a, v, 0, 86400, false, w, &d, msg, msgsz) < 0)
                return -1;
            c->verify.wait_seconds = d;
        } else if (strcmp(a, "--snapshot-id") == 0) {
            static const char w[] = "N (a snapshot id, as lakehouse snapshots lists them)";

            char *end;

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)))
                return -1;
            /* ids are random 63-bit numbers: parsed exactly, not through a double */
            errno = 0;
            c->lake.snapshot_id = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || errno == ERANGE || c->lake.snapshot_id < 0) {
                snprintf(msg, msgsz, "%s %s: expected %s", a, v, w);
                return -1;
            }
        } else if (strcmp(a, "--as-of") == 0) {
            if (!(c->lake.as_of = opt_value(argc, argv, &i, "TIME (2026-12-07T01:00:00Z, or "
                                            "milliseconds since 1970)", msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--where") == 0) {
            if (!(c->lake.where = opt_value(argc, argv, &i, "COLUMN=VALUE", msg, msgsz)))
                return -1;
        } else if (strcmp(a, "--limit") == 0) {
            static const char w[] = "N (a whole number, 0 or more)";

            if (!(v = opt_value(argc, argv, &i, w, msg, msgsz)) ||
                opt_number(a, v, 0, 9.2e18, true, w, &d, msg, msgsz) < 0)
                return -1;
            c->lake.limit = strtoll(v, NULL, 10);
        } else if (strcmp(a, "--force") == 0)
            c->lake.force = true;
        else if (strncmp(a, "--", 2) == 0) {
            snprintf(msg, msgsz, "unknown option %s (cdcagent help lists them)", a);
            return -1;
        } else if (c->pipeline == NULL)
            c->pipeline = a;
        else if (c->arg == NULL && strcmp(cmd, "slot advance") == 0)
            c->arg = a;
        else {
            snprintf(msg, msgsz, "%s: unexpected argument \"%s\" (after %s)", cmd, a,
                     c->arg ? c->arg : c->pipeline);
            return -1;
        }
    }
    return 0;
}

static void
setup_logging(const cdc_config *cfg, const cli *c)
{
    cfg_log_format fmt = cfg->platform.agent.log_format;
    cdc_level      l = cfg->platform.agent.log_level;

    if (c->log_level)
        cdc_log_level_parse(c->log_level, &l); /* checked in main() */
    cdc_log_set_level(l);
    /* auto: readable text on a terminal, one JSON object per line otherwise */
    if (fmt == CFG_LOG_FORMAT_JSON || (fmt == CFG_LOG_FORMAT_AUTO && !isatty(STDERR_FILENO)))
        cdc_log_set_format(CDC_LOG_JSON);
}

/*
 * validate --connect: the checks run makes at start that read the source, changing nothing:
 * the tables (exist, readable), the row filters (agent_publication_check), and every captured
 * table through the column filter and mappers (agent_capture_new, as run and verify do).
 */
static int
validate_connected(const cdc_config *cfg, cdc_err *err)
{
    PGconn        *conn = agent_pg_connect(&cfg->pipeline.source, false, err);
    agent_capture *cap;
    int            rc = -1;

    if (conn == NULL)
        return -1;
    if (agent_publication_check(conn, &cfg->pipeline.source, err) == 0 &&
        (cap = agent_capture_new(cfg, conn, NULL, 1, err)) != NULL) {
        agent_capture_free(cap);
        rc = 0;
    }
    PQfinish(conn);
    return rc;
}

/* source.table_include_list and the like, looked up in the source's catalog. */
static int
resolve_tables(cdc_config *cfg, cdc_err *err)
{
    PGconn *conn = agent_pg_connect(&cfg->pipeline.source, false, err);
    int     rc;

    if (conn == NULL)
        return -1;
    rc = agent_tablepat_resolve(conn, &cfg->pipeline.source, err);
    PQfinish(conn);
    return rc;
}

static int
run_command(const cli *c, cdc_config *cfg)
{
    cdc_err err = { 0 };
    int     rc;

    /* The column filter and mappers compile Debezium's regexes: a bad one stops every
       command that reads the source, as the other configuration errors do */
    if (agent_colfilter_check(&cfg->pipeline.source, &err) < 0) {
        fprintf(stderr, "cdcagent: %s: %s: %s\n", c->cmd, c->pipeline, err.msg);
        return EXIT_USAGE;
    }
    if (agent_tablepat_check(&cfg->pipeline.source, &err) < 0) {
        fprintf(stderr, "cdcagent: %s: %s: %s\n", c->cmd, c->pipeline, err.msg);
        return EXIT_USAGE;
    }
    /* Tables by pattern become source.tables here, before anything reads the list */
    if (cfg_source_by_pattern(&cfg->pipeline.source) &&
        (strcmp(c->cmd, "validate") != 0 || c->connect) &&
        strncmp(c->cmd, "dlq ", 4) != 0 && strcmp(c->cmd, "slot drop") != 0 &&
        strcmp(c->cmd, "slot advance") != 0 && resolve_tables(cfg, &err) < 0) {
        fprintf(stderr, "cdcagent: %s: %s\n", c->cmd, err.msg);
        return err.code == CDC_E_CONFIG || err.code == CDC_E_UNSUPPORTED ? EXIT_USAGE
                                                                          : EXIT_RUNTIME;
    }
    if (strcmp(c->cmd, "validate") == 0 && c->connect) {
        if (validate_connected(cfg, &err) < 0) {
            fprintf(stderr, "cdcagent: validate: %s: %s\n", c->pipeline, err.msg);
            return err.code == CDC_E_CONFIG || err.code == CDC_E_UNSUPPORTED ? EXIT_USAGE
                                                                              : EXIT_RUNTIME;
        }
        printf("%s: valid (transport_mode %s, %d sinks, %d tables; checked against the "
               "source)\n", c->pipeline, cfg_transport_mode_name(cfg->platform.transport_mode),
               cfg->pipeline.nsinks, cfg->pipeline.source.ntables);
        return 0;
    }
    if (strcmp(c->cmd, "validate") == 0) {
        if (cfg_source_by_pattern(&cfg->pipeline.source))
            printf("%s: valid (transport_mode %s, %d sinks, tables by pattern: chosen at "
                   "start)\n", c->pipeline, cfg_transport_mode_name(cfg->platform.transport_mode),
                   cfg->pipeline.nsinks);
        else
            printf("%s: valid (transport_mode %s, %d sinks, %d tables)\n", c->pipeline,
                   cfg_transport_mode_name(cfg->platform.transport_mode), cfg->pipeline.nsinks,
                   cfg->pipeline.source.ntables);
        return 0;
    }
    if (strcmp(c->cmd, "run") == 0)
        rc = agent_run(cfg, &err);
    else if (strcmp(c->cmd, "slot status") == 0) {
        agent_slot_opts o = c->slot;
        int             nwarn = 0;

        o.json = c->json;
        o.all = c->dlq.all;
        o.snapshot = agent_snapshot_progress_load(cfg);
        o.incremental = agent_incr_status_load(cfg);
        rc = agent_slot_status(cfg, &o, &nwarn, &err);
        json_decref(o.snapshot);
        json_decref(o.incremental);
        if (rc == 0 && nwarn > 0)
            return EXIT_WARNINGS;
    }
    else if (strcmp(c->cmd, "dlq list") == 0)
        rc = agent_dlq_list(cfg, &c->dlq, c->json, &err);
    else if (strcmp(c->cmd, "dlq replay") == 0) {
        int failed = 0;

        rc = agent_dlq_replay(cfg, &c->dlq, c->dry_run, &failed, &err);
        if (rc == 0 && failed > 0)
            return EXIT_RUNTIME;    /* each failure was reported on stderr */
    } else if (strcmp(c->cmd, "verify") == 0) {
        agent_verify_opts o = c->verify;
        int               ndiff = 0;

        o.sink_id = c->dlq.sink_id;
        o.json = c->json;
        rc = agent_verify(cfg, &o, &ndiff, &err);
        if (rc == 0 && ndiff > 0)
            return EXIT_DIFFERS;
    } else if (strncmp(c->cmd, "lakehouse ", 10) == 0) {
        agent_lake_opts o = c->lake;

        o.sub = c->cmd + 10;
        o.sink_id = c->dlq.sink_id;
        o.table = c->dlq.table;
        o.json = c->json;
        o.yes = c->yes;
        rc = agent_lakehouse(cfg, &o, &err);
    } else if (strcmp(c->cmd, "slot create") == 0)
        rc = agent_slot_create(cfg, &err);
    else if (strcmp(c->cmd, "slot drop") == 0) {
        if (!c->yes) {
            fprintf(stderr, "cdcagent: slot drop: dropping slot %s discards the WAL it holds "
                    "for this pipeline; add --yes to do it\n", cfg->pipeline.source.slot_name);
            return EXIT_USAGE;
        }
        rc = agent_slot_drop(cfg, &err);
    } else if (strcmp(c->cmd, "slot advance") == 0) {
        if (c->arg == NULL)
            return usage("slot advance: missing LSN");
        if (!c->yes) {
            fprintf(stderr, "cdcagent: slot advance: moving slot %s to %s skips every change "
                    "before it for this pipeline, for good; stop the agent first, then add "
                    "--yes to do it\n", cfg->pipeline.source.slot_name, c->arg);
            return EXIT_USAGE;
        }
        rc = agent_slot_advance(cfg, c->arg, &err);
    } else
        return usage("unknown command");
    if (rc < 0) {
        cdc_err_ensure(&err, "cdcagent %s", c->cmd);     /* never an empty reason */
        fprintf(stderr, "cdcagent: %s: %s\n", c->cmd, err.msg);
        return err.code == CDC_E_CONFIG || err.code == CDC_E_UNSUPPORTED ? EXIT_USAGE
                                                                          : EXIT_RUNTIME;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    cli        c = { 0 };
    cdc_config cfg;
    cdc_err    err = { 0 };
    int        rc;
    char       msg[512];

    if (parse_args(argc, argv, &c, msg, sizeof(msg)) < 0)
        return usage(msg);
    if (strcmp(c.cmd, "help") == 0) {
        if (c.pipeline && strcmp(c.pipeline, "config") == 0) {
            cfg_print_reference(stdout);
            return 0;
        }
        return usage(NULL);
    }
    if (strcmp(c.cmd, "version") == 0) {
        printf("cdcagent %s (Debezium 2.7 event format)\n", CDC_VERSION);
        return 0;
    }
    if (c.pipeline == NULL)
        return usage("missing PIPELINE.yaml");
    if (strcmp(c.cmd, "run") == 0 && agent_privs_refuse_root(&err) < 0) {
        fprintf(stderr, "cdcagent: run: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (c.log_level) {
        cdc_level l;

        if (cdc_log_level_parse(c.log_level, &l) < 0)
            return usage("--log-level: expected debug, info, warn or error");
    }
    if (cfg_load(&cfg, c.pipeline, c.platform, &err) < 0) {
        /* An unreadable or missing file is a configuration error too. */
        fprintf(stderr, "cdcagent: %s\n", err.msg);
        return EXIT_USAGE;
    }
    setup_logging(&cfg, &c);
    rc = run_command(&c, &cfg);
    cfg_free(&cfg);
    return rc;
}
