/*
 * Suite "store": the Iceberg warehouse store (sinks/iceberg/store/).  URIs
 * parsed and refused; the file:// store: a put lands whole under its name with
 * the order of durability checked on the real calls (fsync and rename are
 * wrapped at link time, -Wl,--wrap: the temporary file is synced before the
 * rename, the directory after it, a directory made on the way in its
 * parent), no temporary file left, replace, read whole and by range, exists,
 * delete, list by prefix in order without temporary files; errors naming
 * the URI.  s3:// is exercised against moto by test/integration/660.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/store/store.h"
#include "test/lib/suite_main.h"

/* ---- the wrapped calls: a log of "fsync PATH" and "rename FROM TO" ----------------- */

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

static char events[64][PATH_MAX + 16];
static int  n_events;

int
__wrap_fsync(int fd)
{
    char    link[64], path[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    if (n_events < 64)
        snprintf(events[n_events++], sizeof(events[0]), "fsync %s", path);
    return __real_fsync(fd);
}

int
__wrap_rename(const char *from, const char *to)
{
    if (n_events < 64)
        snprintf(events[n_events++], sizeof(events[0]), "rename %s", to);
    return __real_rename(from, to);
}

/* Index of the first event equal to e, or -1. */
static int
event_at(const char *fmt, const char *arg)
{
    char e[PATH_MAX + 16];

    snprintf(e, sizeof(e), fmt, arg);
    for (int i = 0; i < n_events; i++)
        if (strcmp(events[i], e) == 0)
            return i;
    return -1;
}

/* Index of the first fsync of a temporary file of name in dir, or -1. */
static int
tmp_fsync_at(const char *dir, const char *name)
{
    char p[PATH_MAX + 16];

    snprintf(p, sizeof(p), "fsync %s/.%s.tmp-", dir, name);
    for (int i = 0; i < n_events; i++)
        if (strncmp(events[i], p, strlen(p)) == 0)
            return i;
    return -1;
}

/* ---- fixtures --------------------------------------------------------------------- */

static char root[PATH_MAX];     /* a fresh directory per test */

static void
setup(void)
{
    char tmpl[] = "/tmp/cdc-store-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_ptr_nonnull(realpath(tmpl, root));
    n_events = 0;
}

static void
teardown(void)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

static char *
uri_of(const char *rel)
{
    static char u[4][PATH_MAX + 16];
    static int  k;

    k = (k + 1) % 4;
    snprintf(u[k], sizeof(u[k]), "file://%s/%s", root, rel);
    return u[k];
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(parse_uris)
{
    static const struct {
        const char *uri;
        int         scheme;     /* 0: refused */
        const char *a;          /* path, or bucket */
        const char *b;          /* key */
        const char *why;        /* a word of the refusal */
    } cases[] = {
        { "file:///w/t/data/x.parquet", ICE_URI_FILE, "/w/t/data/x.parquet", NULL, NULL },
        { "file:/w/t", ICE_URI_FILE, "/w/t", NULL, NULL },
        { "file:///", ICE_URI_FILE, "/", NULL, NULL },
        { "s3://bkt/wh/t/x.avro", ICE_URI_S3, "bkt", "wh/t/x.avro", NULL },
        { "s3a://bkt/wh/x", ICE_URI_S3, "bkt", "wh/x", NULL },
        { "s3://bkt", ICE_URI_S3, "bkt", "", NULL },
        { "file://host/w", 0, NULL, NULL, "host" },
        { "file:w/x", 0, NULL, NULL, "absolute" },
        { "file:///w/../etc/passwd", 0, NULL, NULL, "'..'" },
        { "file:///w/./x", 0, NULL, NULL, "'.'" },
        { "/w/x", 0, NULL, NULL, "scheme" },
        { "gs://b/k", 0, NULL, NULL, "scheme" },
        { "s3://b/k", 0, NULL, NULL, "3 to 63" },
        { "s3a://b!d/k", 0, NULL, NULL, "malformed" },
        { "s3://bkt/a//b", 0, NULL, NULL, "'//'" },
        { "file:///w/a\nb", 0, NULL, NULL, "control" },
        { "", 0, NULL, NULL, "empty" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ice_uri u;
        cdc_err err = { 0 };
        int     rc = ice_store_parse_uri(cases[i].uri, &u, &err);

        if (cases[i].scheme == 0) {
            ck_assert_msg(rc == -1, "%s accepted", cases[i].uri);
            ck_assert_int_eq(err.code, CDC_E_CONFIG);
            ck_assert_msg(strstr(err.msg, cases[i].why) != NULL, "%s: %s", cases[i].uri,
                          err.msg);
            if (cases[i].uri[0] && !strchr(cases[i].uri, '\n'))
                ck_assert_msg(strstr(err.msg, cases[i].uri) != NULL, "URI not named: %s",
                              err.msg);
            continue;
        }
        ck_assert_msg(rc == 0, "%s: %s", cases[i].uri, err.msg);
        ck_assert_int_eq(u.scheme, cases[i].scheme);
        if (u.scheme == ICE_URI_FILE)
            ck_assert_str_eq(u.path, cases[i].a);
        else {
            ck_assert_str_eq(u.bucket, cases[i].a);
            ck_assert_str_eq(u.key, cases[i].b);
        }
    }
}
END_TEST

START_TEST(put_is_durable_in_order)
{
    ice_store_conf c = { 0 };
    ice_store     *st = ice_store_new(&c, NULL);
    cdc_err        err;
    char           dir[PATH_MAX], dir2[PATH_MAX], path[PATH_MAX];
    struct stat    sb;
    int            t, r, d, mk;

    ck_assert_msg(ice_store_put(st, uri_of("t1/metadata/v1.json"), "{\"a\":1}", 7, &err) == 0,
                  "%s", err.msg);
    snprintf(dir, sizeof(dir), "%s/t1/metadata", root);
    snprintf(dir2, sizeof(dir2), "%s/t1", root);
    snprintf(path, sizeof(path), "%s/v1.json", dir);
    t = tmp_fsync_at(dir, "v1.json");
    r = event_at("rename %s", path);
    d = event_at("fsync %s", dir);
    mk = event_at("fsync %s", dir2);      /* metadata/ made: synced in t1/ */
    ck_assert_msg(t >= 0 && r > t && d > r, "order: tmp fsync %d, rename %d, dir fsync %d",
                  t, r, d);
    ck_assert_int_ge(mk, 0);
    ck_assert_int_ge(event_at("fsync %s", root), 0);   /* t1/ made: synced in root */
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 7);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    /* replaced whole; still no temporary file next to it */
    n_events = 0;
    ck_assert_int_eq(ice_store_put(st, uri_of("t1/metadata/v1.json"), "{}", 2, &err), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 2);
    ck_assert_int_eq(event_at("fsync %s", dir2), -1);   /* nothing made this time */
    {
        char cmd[PATH_MAX + 64];

        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep -v '^v1.json$')\"", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    /* from a local file: the same steps */
    {
        char src[PATH_MAX], got[PATH_MAX];
        FILE *f;

        snprintf(src, sizeof(src), "%s/local.parquet", root);
        f = fopen(src, "wb");
        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < 100000; i++)
            fprintf(f, "%07d", i);
        ck_assert_int_eq(fclose(f), 0);
        n_events = 0;
        ck_assert_msg(ice_store_put_file(st, uri_of("t1/data/f.parquet"), src, &err) == 0,
                      "%s", err.msg);
        snprintf(dir, sizeof(dir), "%s/t1/data", root);
        snprintf(got, sizeof(got), "%s/f.parquet", dir);
        t = tmp_fsync_at(dir, "f.parquet");
        r = event_at("rename %s", got);
        d = event_at("fsync %s", dir);
        ck_assert_msg(t >= 0 && r > t && d > r, "order: %d %d %d", t, r, d);
        {
            char cmd[2 * PATH_MAX + 16];

            snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", src, got);
            ck_assert_int_eq(system(cmd), 0);
        }
        ck_assert_int_eq(ice_store_put_file(st, uri_of("t1/data/g"), "/nonexistent/x", &err),
                         -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x"));
        ck_assert_ptr_nonnull(strstr(err.msg, uri_of("t1/data/g")));
        ck_assert_int_eq(ice_store_exists(st, uri_of("t1/data/g"), NULL, &err), 0);
    }
    /* an empty file is a file */
    ck_assert_int_eq(ice_store_put(st, uri_of("empty"), "", 0, &err), 0);
    ck_assert_int_eq(ice_store_exists(st, uri_of("empty"), NULL, &err), 1);
    ice_store_free(st);
}
END_TEST

START_TEST(get_exists_delete)
{
    ice_store *st = ice_store_new(NULL, NULL);
    cdc_err    err;
    cdc_buf    b = CDC_BUF_INIT;
    int64_t    size = -1;

    ck_assert_int_eq(ice_store_put(st, uri_of("d/f.bin"), "0123456789", 10, &err), 0);
    ck_assert_int_eq(ice_store_get(st, uri_of("d/f.bin"), 0, -1, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "0123456789");
    cdc_buf_reset(&b);
    ck_assert_int_eq(ice_store_get(st, uri_of("d/f.bin"), 6, 2, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "67");
    cdc_buf_reset(&b);
    ck_assert_int_eq(ice_store_get(st, uri_of("d/f.bin"), 8, 100, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "89");
    cdc_buf_reset(&b);
    ck_assert_int_eq(ice_store_get(st, uri_of("d/f.bin"), 20, -1, &b, 0, &err), 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(ice_store_get(st, uri_of("d/f.bin"), 0, -1, &b, 4, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, uri_of("d/f.bin")));
    ck_assert_int_eq(ice_store_get(st, uri_of("d/none"), 0, -1, &b, 0, &err), 1);
    ck_assert_ptr_nonnull(strstr(err.msg, uri_of("d/none")));

    ck_assert_int_eq(ice_store_exists(st, uri_of("d/f.bin"), &size, &err), 1);
    ck_assert_int_eq(size, 10);
    ck_assert_int_eq(ice_store_exists(st, uri_of("d"), NULL, &err), 0);     /* a directory */
    ck_assert_int_eq(ice_store_exists(st, uri_of("d/none"), NULL, &err), 0);
    ck_assert_int_eq(ice_store_exists(st, uri_of("d/f.bin/x"), NULL, &err), 0);
    ck_assert_int_eq(ice_store_delete(st, uri_of("d/f.bin"), &err), 0);
    ck_assert_int_eq(ice_store_exists(st, uri_of("d/f.bin"), NULL, &err), 0);
    ck_assert_int_eq(ice_store_delete(st, uri_of("d/f.bin"), &err), 0);      /* again: fine */
    cdc_buf_free(&b);
    ice_store_free(st);
}
END_TEST

typedef struct seen {
    char    uris[16][PATH_MAX + 16];
    int64_t sizes[16];
    int     n;
} seen;

static int
on_file(void *arg, const char *uri, int64_t size)
{
    seen *s = arg;

    ck_assert_int_lt(s->n, 16);
    snprintf(s->uris[s->n], sizeof(s->uris[0]), "%s", uri);
    s->sizes[s->n++] = size;
    return 0;
}

static int
stop_at_first(void *arg, const char *uri, int64_t size)
{
    (void) arg;
    (void) uri;
    (void) size;
    return 7;
}

START_TEST(list_prefix)
{
    ice_store *st = ice_store_new(NULL, NULL);
    cdc_err    err;
    seen       l = { 0 };
    char       junk[PATH_MAX];
    int        fd;
    static const char *const files[] = { "w/t/data/b.parquet", "w/t/data/a.parquet",
                                         "w/t/metadata/v1.json", "w/t2/data/c.parquet",
                                         "w/tx", "other/z" };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        ck_assert_int_eq(ice_store_put(st, uri_of(files[i]), "xyzxyzxyz", i + 1, &err), 0);
    /* a temporary file left by a crash is no file of the warehouse */
    snprintf(junk, sizeof(junk), "%s/w/t/data/.d.parquet.tmp-abcdef", root);
    fd = open(junk, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);

    ck_assert_msg(ice_store_list(st, uri_of("w/t/"), on_file, &l, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.uris[0], uri_of("w/t/data/a.parquet"));
    ck_assert_str_eq(l.uris[1], uri_of("w/t/data/b.parquet"));
    ck_assert_str_eq(l.uris[2], uri_of("w/t/metadata/v1.json"));
    ck_assert_int_eq(l.sizes[0], 2);
    /* a prefix that ends inside a name, as in S3 */
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(ice_store_list(st, uri_of("w/t"), on_file, &l, &err), 0);
    ck_assert_int_eq(l.n, 5);
    ck_assert_str_eq(l.uris[3], uri_of("w/t2/data/c.parquet"));
    ck_assert_str_eq(l.uris[4], uri_of("w/tx"));
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(ice_store_list(st, uri_of("nothing/here/"), on_file, &l, &err), 0);
    ck_assert_int_eq(l.n, 0);
    ck_assert_int_eq(ice_store_list(st, uri_of("w/"), stop_at_first, NULL, &err), 7);
    /* what an interrupted put left: listed, then removed */
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(ice_store_incomplete(st, uri_of("w/"), false, on_file, &l, &err), 0);
    ck_assert_int_eq(l.n, 1);
    ck_assert_str_eq(l.uris[0], uri_of("w/t/data/.d.parquet.tmp-abcdef"));
    ck_assert_int_eq(ice_store_incomplete(st, uri_of("w/"), true, on_file, &l, &err), 0);
    ck_assert_int_eq(access(junk, F_OK), -1);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(ice_store_incomplete(st, uri_of("w/"), false, on_file, &l, &err), 0);
    ck_assert_int_eq(l.n, 0);
    ck_assert_int_eq(ice_store_list(st, uri_of("w/t/"), on_file, &l, &err), 0);
    ck_assert_int_eq(l.n, 3);       /* the finished files stay */
    ice_store_free(st);
}
END_TEST

START_TEST(errors_name_the_uri)
{
    ice_store *st = ice_store_new(NULL, NULL);
    cdc_err    err;

    ck_assert_int_eq(ice_store_put(st, uri_of("f"), "x", 1, &err), 0);
    /* a file where a directory would be */
    ck_assert_int_eq(ice_store_put(st, uri_of("f/g/h"), "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, uri_of("f/g/h")));
    ck_assert_ptr_nonnull(strstr(err.msg, "not a directory"));
    ck_assert_int_eq(ice_store_put(st, uri_of("dir/"), "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "directory"));
    if (geteuid() != 0) {
        char ro[PATH_MAX];

        snprintf(ro, sizeof(ro), "%s/ro", root);
        ck_assert_int_eq(mkdir(ro, 0555), 0);
        ck_assert_int_eq(ice_store_put(st, uri_of("ro/x"), "x", 1, &err), -1);
        ck_assert_int_eq(err.code, CDC_E_IO);
        ck_assert_ptr_nonnull(strstr(err.msg, uri_of("ro/x")));
        ck_assert_ptr_nonnull(strstr(err.msg, strerror(EACCES)));
    }
    /* s3:// without any credentials configured */
    ck_assert_int_eq(ice_store_put(st, "s3://bkt/wh/x", "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://bkt/wh/x"));
    ck_assert_int_eq(ice_store_put(st, "s3://bkt/wh/", "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "names no object"));
    ice_store_free(st);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *t = tcase_create("file");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, parse_uris);
    tcase_add_test(t, put_is_durable_in_order);
    tcase_add_test(t, get_exists_delete);
    tcase_add_test(t, list_prefix);
    tcase_add_test(t, errors_name_the_uri);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    return suite_main(store_suite(), false);
}
