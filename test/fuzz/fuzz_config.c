/*
 * libFuzzer target: the configuration loader (agent/config/config.c,
 * config_keys.c) on arbitrary pipeline.yaml text, and optionally on an
 * arbitrary platform.yaml too.  The files are memfds opened by path
 * (/proc/self/fd/N), so cfg_load reads them as it reads real files.  A few
 * environment variables are set for ${VAR} and ${VAR:-default}.
 *
 * Input: [flags][text]
 *   flags  bit 0: text is "pipeline NUL platform" (both files fuzzed)
 *          bit 1: otherwise, no platform file (built-in defaults) instead of
 *                 the fixed small one below
 *          bit 2: cfg_parse (no validation) instead of cfg_load
 * Every input must give 0 or -1 with err set; cfg_free always follows.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_platform[] =
    "transport_mode: direct\n"
    "agent:\n"
    "  log_level: warn\n"
    "  memory_limit_mb: ${CDC_MEM:-64}\n"
    "  stop_lsn: 0/3000000\n"
    "kafka:\n"
    "  bootstrap_servers: ${CDC_KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}\n"
    "  properties:\n"
    "    linger.ms: \"5\"\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char longval[2048];

    (void) argc;
    (void) argv;
    cdc_log_set_level(CDC_LOG_OFF);
    memset(longval, 'x', sizeof(longval) - 1);
    setenv("CDC_SOURCE_HOST", "db.example.com", 1);
    setenv("CDC_SOURCE_DB", "appdb", 1);
    setenv("CDC_SOURCE_USER", "cdc", 1);
    setenv("CDC_SOURCE_PASSWORD", "s3cret}", 1);
    setenv("CDC_PORT", "5432", 1);
    setenv("CDC_EMPTY", "", 1);
    setenv("CDC_NESTED", "${CDC_SOURCE_HOST}", 1);
    setenv("CDC_YAMLISH", "a: [b, {c: d", 1);
    setenv("CDC_NEWLINE", "line1\nline2", 1);
    setenv("CDC_LONG", longval, 1);
    setenv("ICEBERG_CATALOG_URI", "http://localhost:8181", 1);
    setenv("ICEBERG_WAREHOUSE", "s3://wh", 1);
    setenv("S3_ENDPOINT", "http://minio:9000", 1);
    setenv("S3_ACCESS_KEY_ID", "AKIA", 1);
    setenv("S3_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("CDC_TEST_DB");
    unsetenv("CDC_MEM");
    return 0;
}

/* A memfd holding n bytes of p, and its path; -1 on failure. */
static int
fz_file(const char *name, const uint8_t *p, size_t n, char *path, size_t pathsz)
{
    int fd = memfd_create(name, 0);

    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    snprintf(path, pathsz, "/proc/self/fd/%d", fd);
    return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *pipe_p, *plat_p = NULL;
    size_t         pipe_n, plat_n = 0;
    char           pipe_path[64], plat_path[64];
    int            pipe_fd, plat_fd = -1, rc;
    uint8_t        flags;
    cdc_config     cfg;
    cdc_err        err;

    if (size < 1)
        return 0;
    flags = data[0];
    pipe_p = data + 1;
    pipe_n = size - 1;
    if (flags & 1) {
        const uint8_t *nul = memchr(pipe_p, '\0', pipe_n);

        if (nul != NULL) {
            plat_p = nul + 1;
            plat_n = (size_t) (data + size - plat_p);
            pipe_n = (size_t) (nul - pipe_p);
        } else {
            plat_p = (const uint8_t *) "";
        }
    } else if (!(flags & 2)) {
        plat_p = (const uint8_t *) fixed_platform;
        plat_n = sizeof(fixed_platform) - 1;
    }
    if ((pipe_fd = fz_file("pipeline.yaml", pipe_p, pipe_n, pipe_path, sizeof(pipe_path))) < 0)
        abort();
    if (plat_p != NULL &&
        (plat_fd = fz_file("platform.yaml", plat_p, plat_n, plat_path, sizeof(plat_path))) < 0)
        abort();

    memset(&cfg, 0xa5, sizeof(cfg));         /* cfg_load zeroes it first */
    cdc_err_clear(&err);
    if (flags & 4)
        rc = cfg_parse(&cfg, pipe_path, plat_fd >= 0 ? plat_path : NULL, &err);
    else
        rc = cfg_load(&cfg, pipe_path, plat_fd >= 0 ? plat_path : NULL, &err);
    if (rc != 0 && (rc != -1 || err.code == CDC_OK || err.msg[0] == '\0'))
        abort();
    if (getenv("FUZZ_VERBOSE"))             /* what each input came to, for triage */
        fprintf(stderr, "fuzz_config: rc %d: %s\n", rc, rc ? err.msg : "ok");
    if (rc == 0 && (flags & 4)) {
        cdc_err_clear(&err);
        rc = cfg_validate(&cfg, &err);
        if (rc != 0 && (rc != -1 || err.code == CDC_OK || err.msg[0] == '\0'))
            abort();
    }
    cfg_free(&cfg);
    cfg_free(&cfg);                         /* a freed config is zeroed: freeing again is a no-op */
    close(pipe_fd);
    if (plat_fd >= 0)
        close(plat_fd);
    return 0;
}
