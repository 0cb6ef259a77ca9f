/*
 * cdcagent's command line.  Only this file decides to exit.  Exit codes:
 * 0 success, 1 runtime failure, 2 usage or configuration error, 3 `slot status`
 * found something to warn about, 4 `verify` found a difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/core/cdc_log.h"
#include "agent/dlq_cli.h"
#include "agent/privs.h"
#include "agent/run.h"
#include "agent/slot.h"
#include "agent/verify.h"

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
    agent_dlq_filter dlq;   /* dlq list/replay: --sink, --table, --error-type, --all, --id */
    agent_slot_opts  slot;  /* slot status: --warn-retained-bytes, --rate-window (--all: dlq.all) */
    agent_verify_opts verify; /* verify: --table (repeatable), --ranges, --wait (--sink, --json) */
} cli;

static const char usage_text[] =
    "usage: cdcagent COMMAND [PIPELINE.yaml] [options]\n"
    "\n"
    "commands:\n"
    "  run PIPELINE.yaml            capture changes and deliver them until stopped\n"
    "  validate PIPELINE.yaml       check the configuration and exit\n"
    "  slot status PIPELINE.yaml    show the replication slot and warnings (--json, --all:\n"
    "                               every slot of the database, --warn-retained-bytes N,\n"
    "                               --rate-window SECONDS)\n"
    "  slot create PIPELINE.yaml    create the slot (pgoutput) without snapshot\n"
    "  slot drop PIPELINE.yaml      drop the slot (needs --yes)\n"
    "  slot advance PIPELINE.yaml LSN  skip the slot forward to LSN (needs --yes)\n"
    "  dlq list PIPELINE.yaml       show the dead letters not replayed yet (--all: every one)\n"
    "  dlq replay PIPELINE.yaml     re-deliver them to their sinks, each once (--dry-run)\n"
    "  verify PIPELINE.yaml         compare the source tables with what a sink holds now\n"
    "                               (postgres replica or jsonl; --sink ID, --table S.T\n"
    "                               (repeatable), --ranges N, --wait SECONDS, --json)\n"
    "  help config                  print every configuration key\n"
    "  version                      print the version\n"
    "  help                         print this text\n"
    "\n"
    "options:\n"
    "  --platform-config FILE       platform.yaml (default: built-in defaults)\n"
    "  --log-level LEVEL            debug, info, warn or error (overrides agent.log_level)\n"
    "  --json                       machine-readable output (slot status, dlq list, verify)\n"
    "  --yes                        confirm a destructive command (slot drop, slot advance)\n"
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

/*
 * verify's own options.  @returns 1 when argv[*i] was one (with *i moved past
 * its value), 0 when it was not, -1 (and *i = -1) when its value is bad.
 */
static int
parse_verify_arg(int argc, char **argv, int *i, agent_verify_opts *v)
{
    char *end;

    if (*i + 1 >= argc)
        return 0;
    if (strcmp(argv[*i], "--table") == 0 && v->ntables < AGENT_VERIFY_MAX_TABLES) {
        v->tables[v->ntables++] = argv[++*i];
        return 1;
    }
    if (strcmp(argv[*i], "--ranges") == 0) {
        v->ranges = (int) strtol(argv[++*i], &end, 10);
        if (*end == '\0' && v->ranges >= 1 && v->ranges <= AGENT_VERIFY_RANGES_MAX)
            return 1;
    } else if (strcmp(argv[*i], "--wait") == 0) {
        v->wait_seconds = strtod(argv[++*i], &end);
        if (*end == '\0' && v->wait_seconds >= 0 && v->wait_seconds <= 86400)
            return 1;
    } else {
        return 0;
    }
    *i = -1;
    return -1;
}

static int
parse_args(int argc, char **argv, cli *c)
{
    static char cmd[32];
    static const char *ids[64];     /* --id: more is a usage error */
    int         i = 1;

    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "slot") == 0 || strcmp(argv[1], "dlq") == 0) {
        if (argc < 3)
            return -1;
        snprintf(cmd, sizeof(cmd), "%s %s", argv[1], argv[2]);
        i = 3;
    } else {
        snprintf(cmd, sizeof(cmd), "%s", argv[1]);
        i = 2;
    }
    c->cmd = cmd;
    c->dlq.ids = ids;
    for (; i < argc; i++) {
        if (strcmp(cmd, "verify") == 0 && parse_verify_arg(argc, argv, &i, &c->verify) != 0) {
            if (i < 0)
                return -1;
        } else if (strcmp(argv[i], "--platform-config") == 0 && i + 1 < argc)
            c->platform = argv[++i];
        else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc)
            c->log_level = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            c->json = 1;
        else if (strcmp(argv[i], "--yes") == 0)
            c->yes = 1;
        else if (strcmp(argv[i], "--sink") == 0 && i + 1 < argc)
            c->dlq.sink_id = argv[++i];
        else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
            c->dlq.table = argv[++i];
        else if (strcmp(argv[i], "--error-type") == 0 && i + 1 < argc)
            c->dlq.error_type = argv[++i];
        else if (strcmp(argv[i], "--all") == 0)
            c->dlq.all = true;
        else if (strcmp(argv[i], "--dry-run") == 0)
            c->dry_run = 1;
        else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc && c->dlq.nids < 64)
            ids[c->dlq.nids++] = argv[++i];
        else if (strcmp(argv[i], "--warn-retained-bytes") == 0 && i + 1 < argc) {
            char *end;

            c->slot.warn_retained_bytes = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || c->slot.warn_retained_bytes <= 0)
                return -1;
        } else if (strcmp(argv[i], "--rate-window") == 0 && i + 1 < argc) {
            char *end;

            c->slot.rate_window = strtod(argv[++i], &end);
            if (*end != '\0' || !(c->slot.rate_window >= 0 && c->slot.rate_window <= 600))
                return -1;
            if (c->slot.rate_window == 0)
                c->slot.rate_window = -1;   /* 0 on the command line: do not sample */
        }
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return -1;
        else if (c->pipeline == NULL)
            c->pipeline = argv[i];
        else if (c->arg == NULL && strcmp(cmd, "slot advance") == 0)
            c->arg = argv[i];
        else
            return -1;
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

static int
run_command(const cli *c, cdc_config *cfg)
{
    cdc_err err = { 0 };
    int     rc;

    if (strcmp(c->cmd, "validate") == 0) {
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
        rc = agent_slot_status(cfg, &o, &nwarn, &err);
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

    if (parse_args(argc, argv, &c) < 0)
        return usage(argc < 2 ? "missing command" : "bad arguments");
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
