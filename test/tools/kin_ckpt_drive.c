/*
 * Drives the Kinesis transport's checkpoint table and restart read-back
 * (transports/kinesis/kinesis_ckpt.c, kinesis_resume.c) against a real
 * AWS-compatible endpoint (moto in test/integration/537), through
 * agent/core/net/aws_json.c; credentials, region and endpoints from the
 * environment as the agent takes them.
 *
 *   kin_ckpt_drive ckpt TABLE PIPELINE TTL_S      then lines on stdin:
 *       note STREAM SHARD SEQNO                  kinesis_ckpt_note
 *       flush LSN SEQ                            kinesis_ckpt_flush, forced; prints ok / error
 *       step LSN SEQ                             kinesis_ckpt_flush, not forced, until idle
 *       hold LSN                                 kinesis_ckpt_hold
 *       start STREAM SHARD RESUME_LSN            prints the checkpoint's seqno or "none"
 *       dump                                     one line per item: stream shard seq0 lsn0 ...
 *   kin_ckpt_drive resume TABLE|- PIPELINE RESUME_LSN STREAM...   then lines on stdin:
 *       has STREAM LSN PKEY DATA|-               kin_resume_has ("-": a tombstone) -> yes/no
 *     after printing "loaded read=N ident=N avro=N foreign=N left=N newest=LSN unordered=B
 *     holds_foreign=B"
 * Exit 1 with the error on stderr when opening fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/net/aws_json.h"
#include "transports/kinesis/kinesis_ckpt.h"
#include "transports/kinesis/kinesis_resume.h"

static cdc_aws_provider *prov;

static cdc_aws_json *
client(const char *service, const char *ver, const char *prefix)
{
    cdc_aws_json_conf c = { .provider = prov, .service = service, .json_version = ver,
                            .target_prefix = prefix, .timeout_ms = 5000 };
    cdc_err           err;
    cdc_aws_json     *j = cdc_aws_json_new(&c, &err);

    if (j == NULL) {
        fprintf(stderr, "kin_ckpt_drive: %s\n", err.msg);
        exit(1);
    }
    return j;
}

static int
run_ckpt(char **argv)
{
    cdc_aws_json *ddb = client("dynamodb", "1.0", CDC_AWS_DYNAMODB_TARGET);
    kin_ckpt_conf c = { .table = argv[0], .pipeline_id = argv[1], .ttl_s = atoi(argv[2]),
                        .flush_every_ms = 1 };
    cdc_err       err;
    kin_ckpt     *k = kinesis_ckpt_open(ddb, &c, &err);
    char          line[4096];

    if (k == NULL) {
        fprintf(stderr, "kin_ckpt_drive: %s\n", err.msg);
        return 1;
    }
    printf("opened %s\n", kinesis_ckpt_table(k));
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        char     a[256], b[256], s[256];
        uint64_t x, y;

        if (sscanf(line, "note %255s %255s %255s", a, b, s) == 3) {
            kinesis_ckpt_note(k, a, b, (cdc_pos) { 0, 0 }, s);
        } else if (sscanf(line, "flush %" SCNu64 " %" SCNu64, &x, &y) == 2) {
            if (kinesis_ckpt_flush(k, (cdc_pos) { x, y }, true, &err) == 0)
                printf("ok\n");
            else
                printf("error %s\n", err.msg);
        } else if (sscanf(line, "step %" SCNu64 " %" SCNu64, &x, &y) == 2) {
            int rc = 0;

            for (int i = 0; i < 200 && rc == 0; i++) {
                rc = kinesis_ckpt_flush(k, (cdc_pos) { x, y }, false, &err);
                cdc_sleep_ms(10);
            }
            printf(rc == 0 ? "ok\n" : "error %s\n", err.msg);
        } else if (sscanf(line, "hold %" SCNu64, &x) == 1) {
            kinesis_ckpt_hold(k, x);
        } else if (sscanf(line, "start %255s %255s %" SCNu64, a, b, &x) == 3) {
            const kin_ckpt_gen *g = kinesis_ckpt_start(k, a, b, x);

            printf("%s\n", g ? g->seqno : "none");
        } else if (strncmp(line, "dump", 4) == 0) {
            const kin_ckpt_item *it;
            size_t               n = kinesis_ckpt_items(k, &it);

            for (size_t i = 0; i < n; i++) {
                printf("%s %s", it[i].stream, it[i].shard);
                for (int g = 0; g < it[i].ngen; g++)
                    if (it[i].gen[g].pos.lsn == UINT64_MAX)
                        printf(" %s@unusable", it[i].gen[g].seqno);
                    else
                        printf(" %s@%" PRIu64, it[i].gen[g].seqno, it[i].gen[g].pos.lsn);
                printf("\n");
            }
        }
        fflush(stdout);
    }
    kinesis_ckpt_close(k);
    cdc_aws_json_free(ddb);
    return 0;
}

static int
run_resume(int argc, char **argv)
{
    cdc_aws_json   *kin = client("kinesis", "1.1", CDC_AWS_KINESIS_TARGET);
    cdc_aws_json   *ddb = NULL;
    kin_ckpt       *k = NULL;
    cdc_err         err;
    cdc_dest        d = { 0 };
    kin_resume     *r;
    kin_resume_conf rc = { .kinesis = kin, .resume_lsn = strtoull(argv[2], NULL, 10),
                           .streams = (const char *const *) &argv[3], .nstreams = argc - 3 };
    size_t          nr, ni, na, nf;
    char            line[1 << 16];

    if (strcmp(argv[0], "-") != 0) {
        kin_ckpt_conf c = { .table = argv[0], .pipeline_id = argv[1] };

        ddb = client("dynamodb", "1.0", CDC_AWS_DYNAMODB_TARGET);
        if ((k = kinesis_ckpt_open(ddb, &c, &err)) == NULL) {
            fprintf(stderr, "kin_ckpt_drive: %s\n", err.msg);
            return 1;
        }
        rc.ckpt = k;
    }
    r = kin_resume_load(&rc, &d, &err);
    if (r == NULL) {
        fprintf(stderr, "kin_ckpt_drive: %s\n", err.msg);
        return 1;
    }
    kin_resume_counts(r, &nr, &ni, &na, &nf);
    printf("loaded read=%zu ident=%zu avro=%zu foreign=%zu left=%zu newest=%" PRIu64
           " unordered=%d holds_foreign=%d\n", nr, ni, na, nf, kin_resume_left(r),
           d.newest_held.lsn, d.held_unordered, d.holds_foreign);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        char     st[256], pk[1024];
        uint64_t lsn;
        int      off = 0;

        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "has %255s %" SCNu64 " %1023s %n", st, &lsn, pk, &off) == 3 && off) {
            const char *data = line + off;
            size_t      len = strcmp(data, "-") == 0 ? 0 : strlen(data);

            printf("%s\n", kin_resume_has(r, st, lsn, pk, strlen(pk), data, len) ? "yes" : "no");
        }
        fflush(stdout);
    }
    printf("left=%zu\n", kin_resume_left(r));
    kin_resume_free(r);
    kinesis_ckpt_close(k);
    cdc_aws_json_free(ddb);
    cdc_aws_json_free(kin);
    return 0;
}

int
main(int argc, char **argv)
{
    cdc_aws_opts o = { 0 };
    cdc_err      err;
    int          rc;

    cdc_log_set_level(CDC_LOG_INFO);
    if (argc < 5 || (strcmp(argv[1], "ckpt") != 0 && strcmp(argv[1], "resume") != 0)) {
        fprintf(stderr, "usage: kin_ckpt_drive ckpt TABLE PIPELINE TTL_S | resume TABLE|- "
                "PIPELINE RESUME_LSN STREAM...\n");
        return 2;
    }
    cdc_http_global_init(NULL);
    if ((prov = cdc_aws_provider_new(&o, &err)) == NULL) {
        fprintf(stderr, "kin_ckpt_drive: %s\n", err.msg);
        return 1;
    }
    rc = strcmp(argv[1], "ckpt") == 0 ? run_ckpt(argv + 2) : run_resume(argc - 2, argv + 2);
    cdc_aws_provider_free(prov);
    cdc_http_global_cleanup();
    return rc;
}
