/*
 * Drives the Iceberg warehouse store (sinks/iceberg/store/) from the shell,
 * for test/integration/66N_*.sh: one call per run.
 *
 *   ice_store_drive put URI FILE            the whole of FILE as URI (read into memory)
 *   ice_store_drive putfile URI FILE        the same, FILE read part by part
 *   ice_store_drive get URI OUT [OFF LEN]   URI (or LEN bytes from OFF; LEN -1: to the end)
 *   ice_store_drive exists URI              prints "yes SIZE" or "no"
 *   ice_store_drive rm URI
 *   ice_store_drive ls PREFIX_URI           "URI SIZE" lines
 *   ice_store_drive incomplete PREFIX_URI   what interrupted puts left ("URI SIZE" lines)
 *   ice_store_drive clean PREFIX_URI        the same, and removes them
 *   ice_store_drive mkbucket BUCKET         (s3 only)
 *
 * S3 settings come from the AWS chain (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
 * AWS_REGION, AWS_ACCESS_KEY_ID...) and, as the sink's s3_* keys would give
 * them, from ICE_S3_ENDPOINT, ICE_S3_ACCESS_KEY_ID, ICE_S3_SECRET_ACCESS_KEY,
 * ICE_S3_REGION; ICE_S3_PART_MB (part size), ICE_S3_RETRIES (attempts),
 * ICE_S3_RETRY_MS (first wait), ICE_S3_RETRY_MAX_MS.
 * Exit 0 done, 2 no such file (get), 1 any error (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/aws_creds.h"
#include "agent/core/net/http.h"
#include "agent/core/net/s3.h"
#include "sinks/iceberg/store/store.h"

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

static int
env_int(const char *name, int dflt)
{
    const char *v = env(name);

    return v ? atoi(v) : dflt;
}

static int
print_file(void *arg, const char *uri, int64_t size)
{
    (void) arg;
    printf("%s %lld\n", uri, (long long) size);
    return 0;
}

static int
read_file(const char *path, cdc_buf *b)
{
    FILE *f = fopen(path, "rb");
    char  chunk[1 << 16];
    size_t n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cdc_buf_put(b, chunk, n);
    fclose(f);
    return cdc_buf_failed(b) ? -1 : 0;
}

int
main(int argc, char **argv)
{
    cdc_aws_opts      ao = { 0 };
    cdc_aws_provider *prov = NULL;
    ice_store_conf    c = { 0 };
    ice_store        *st;
    cdc_err           err = { 0 };
    cdc_buf           b = CDC_BUF_INIT;
    const char       *cmd = argc > 2 ? argv[1] : "";
    int               rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: ice_store_drive put|putfile|get|exists|rm|ls|incomplete|clean|mkbucket URI [...]\n");
        return 1;
    }
    if (cdc_http_global_init(&err) < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    if (!env("ICE_S3_ACCESS_KEY_ID")) {
        prov = cdc_aws_provider_new(&ao, &err);
        if (prov == NULL) {
            fprintf(stderr, "error: %s\n", err.msg);
            return 1;
        }
    }
    c.s3 = (cdc_s3_conf) {
        .provider = prov, .endpoint = env("ICE_S3_ENDPOINT"), .region = env("ICE_S3_REGION"),
        .access_key_id = env("ICE_S3_ACCESS_KEY_ID"),
        .secret_access_key = env("ICE_S3_SECRET_ACCESS_KEY"),
        .part_size = (size_t) env_int("ICE_S3_PART_MB", 0) << 20,
        .retry = { .max_attempts = env_int("ICE_S3_RETRIES", 5),
                   .initial_ms = env_int("ICE_S3_RETRY_MS", 500),
                   .max_ms = env_int("ICE_S3_RETRY_MAX_MS", 5000) },
    };
    st = ice_store_new(&c, &err);
    if (strcmp(cmd, "put") == 0 && argc == 4) {
        if (read_file(argv[3], &b) == 0)
            rc = ice_store_put(st, argv[2], b.data ? (const void *) b.data : "", b.len, &err);
    } else if (strcmp(cmd, "putfile") == 0 && argc == 4) {
        rc = ice_store_put_file(st, argv[2], argv[3], &err);
    } else if (strcmp(cmd, "get") == 0 && (argc == 4 || argc == 6)) {
        int64_t off = argc == 6 ? strtoll(argv[4], NULL, 10) : 0;
        int64_t len = argc == 6 ? strtoll(argv[5], NULL, 10) : -1;

        rc = ice_store_get(st, argv[2], off, len, &b, 0, &err);
        if (rc == 0) {
            FILE *f = fopen(argv[3], "wb");

            if (f == NULL || fwrite(b.data ? (const void *) b.data : "", 1, b.len, f) != b.len
                || fclose(f) != 0) {
                perror(argv[3]);
                rc = -1;
            }
        } else if (rc == 1)
            rc = 2;
    } else if (strcmp(cmd, "exists") == 0 && argc == 3) {
        int64_t size = -1;

        rc = ice_store_exists(st, argv[2], &size, &err);
        if (rc >= 0) {
            if (rc == 1)
                printf("yes %lld\n", (long long) size);
            else
                printf("no\n");
            rc = 0;
        }
    } else if (strcmp(cmd, "rm") == 0 && argc == 3) {
        rc = ice_store_delete(st, argv[2], &err);
    } else if (strcmp(cmd, "ls") == 0 && argc == 3) {
        rc = ice_store_list(st, argv[2], print_file, NULL, &err);
    } else if ((strcmp(cmd, "incomplete") == 0 || strcmp(cmd, "clean") == 0) && argc == 3) {
        rc = ice_store_incomplete(st, argv[2], strcmp(cmd, "clean") == 0, print_file, NULL,
                                  &err);
    } else if (strcmp(cmd, "mkbucket") == 0 && argc == 3) {
        cdc_s3 *s3 = cdc_s3_new(&c.s3, &err);

        rc = s3 ? cdc_s3_create_bucket(s3, argv[2], &err) : -1;
        cdc_s3_free(s3);
    } else {
        fprintf(stderr, "ice_store_drive: bad arguments for %s\n", cmd);
        rc = -1;
        err.msg[0] = '\0';
    }
    if (rc != 0 && err.msg[0])
        fprintf(stderr, "error: %s\n", err.msg);
    cdc_buf_free(&b);
    ice_store_free(st);
    cdc_aws_provider_free(prov);
    cdc_http_global_cleanup();
    return rc == 0 ? 0 : rc == 2 ? 2 : 1;
}
