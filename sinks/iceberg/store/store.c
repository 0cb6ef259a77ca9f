/*
 * The warehouse store (see store.h): file:// with write, fsync, rename, fsync
 * of the directory; s3:// through agent/core/net/s3.h.
 */
#include "sinks/iceberg/store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_mem.h"

#define STORE_GET_MAX_DEFAULT ((size_t) 256 << 20)

struct ice_store {
    ice_store_conf conf;
    cdc_s3        *s3;          /* made at the first s3:// call */
};

/* ---- URIs ------------------------------------------------------------------------ */

static bool
path_ok(const char *p)
{
    /* no "." or ".." segment: the warehouse is addressed by plain absolute paths */
    for (const char *s = p; *s;) {
        size_t l;

        while (*s == '/')
            s++;
        l = strcspn(s, "/");
        if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += l;
    }
    return true;
}

int
ice_store_parse_uri(const char *uri, ice_uri *out, cdc_err *err)
{
    memset(out, 0, sizeof(*out));
    if (uri == NULL || *uri == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "warehouse: empty URI");
    for (const char *p = uri; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: the URI holds a control "
                               "character", uri);
    if (strncmp(uri, "file:", 5) == 0) {
        const char *p = uri + 5;

        if (strncmp(p, "//", 2) == 0) {
            p += 2;
            if (*p != '/')
                return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: a file URI names no host "
                                   "(file:///absolute/path)", uri);
        }
        if (*p != '/')
            return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: not an absolute path "
                               "(file:///absolute/path)", uri);
        if (!path_ok(p))
            return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: '.' and '..' are not allowed "
                               "in a path", uri);
        out->scheme = ICE_URI_FILE;
        out->path = p;
        return 0;
    }
    if (strncmp(uri, "s3://", 5) == 0 || strncmp(uri, "s3a://", 6) == 0 ||
        strncmp(uri, "s3n://", 6) == 0) {
        const char *rest = strstr(uri, "://") + 3;
        char       *tmp = cdc_xmalloc(strlen(rest) + 6);
        const char *key;
        bool        ok;

        memcpy(tmp, "s3://", 5);
        strcpy(tmp + 5, rest);
        ok = cdc_s3_parse_uri(tmp, out->bucket, sizeof(out->bucket), &key, err);
        if (ok)
            out->key = rest + (key - (tmp + 5));
        free(tmp);
        if (!ok) {
            if (err && strncmp(uri, "s3://", 5) != 0) {
                cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: malformed s3 URI", uri);
            }
            return -1;
        }
        if (strstr(out->key, "//"))
            return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: empty path segment ('//') "
                               "in the key", uri);
        out->scheme = ICE_URI_S3;
        return 0;
    }
    return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: unknown scheme (file:///path or "
                       "s3://bucket/key)", uri);
}

/* ---- store ----------------------------------------------------------------------- */

ice_store *
ice_store_new(const ice_store_conf *c, cdc_err *err)
{
    ice_store *st = cdc_xcalloc(1, sizeof(*st));

    (void) err;
    if (c)
        st->conf = *c;
    return st;
}

void
ice_store_free(ice_store *st)
{
    if (st == NULL)
        return;
    cdc_s3_free(st->s3);
    free(st);
}

static cdc_s3 *
store_s3(ice_store *st, const char *uri, cdc_err *err)
{
    if (st->s3 == NULL) {
        st->s3 = cdc_s3_new(&st->conf.s3, err);
        if (st->s3 == NULL)
            cdc_err_wrap(err, "warehouse %s", uri);
    }
    return st->s3;
}

/* ---- file:// --------------------------------------------------------------------- */

static int
fsync_dir(const char *dir, const char *uri, cdc_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: open directory %s: %s", uri, dir,
                           strerror(errno));
    if (fsync(fd) < 0 && errno != EINVAL) {
        int e = errno;

        close(fd);
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: fsync directory %s: %s", uri, dir,
                           strerror(e));
    }
    close(fd);
    return 0;
}

/* Makes every missing directory of dir (an absolute path), each synced in its parent. */
static int
make_dirs(ice_store *st, const char *dir, const char *uri, cdc_err *err)
{
    char  *p = cdc_xstrdup(dir);
    size_t n = strlen(p);
    int    rc = 0;

    for (size_t i = 1; i <= n && rc == 0; i++) {
        struct stat sb;

        if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
            continue;
        p[i] = '\0';
        if (stat(p, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode))
                rc = cdc_err_set(err, CDC_E_IO, "warehouse %s: %s is not a directory", uri, p);
        } else if (mkdir(p, 0755) == 0 || errno == EEXIST) {
            if (!st->conf.no_fsync) {
                char *slash = strrchr(p, '/');
                char *parent = slash == p ? cdc_xstrdup("/")
                                          : cdc_xstrndup(p, (size_t) (slash - p));

                rc = fsync_dir(parent, uri, err);
                free(parent);
            }
        } else
            rc = cdc_err_set(err, CDC_E_IO, "warehouse %s: mkdir %s: %s", uri, p,
                             strerror(errno));
        if (i < n)
            p[i] = '/';
    }
    free(p);
    return rc;
}

/* Writes all of data[0..len) to fd.  @returns 0, or -1 with errno. */
static int
write_all(int fd, const void *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t w = write(fd, (const char *) data + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        done += (size_t) w;
    }
    return 0;
}

/* Copies the file src into fd.  @returns 0, or -1 with err naming both. */
static int
copy_all(int fd, const char *src, const char *tmp, const char *uri, cdc_err *err)
{
    int     in = open(src, O_RDONLY | O_CLOEXEC);
    uint8_t buf[1 << 16];

    if (in < 0)
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: open %s: %s", uri, src,
                           strerror(errno));
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;

            close(in);
            return cdc_err_set(err, CDC_E_IO, "warehouse %s: read %s: %s", uri, src,
                               strerror(e));
        }
        if (r == 0)
            break;
        if (write_all(fd, buf, (size_t) r) < 0) {
            int e = errno;

            close(in);
            return cdc_err_set(err, CDC_E_IO, "warehouse %s: write %s: %s", uri, tmp,
                               strerror(e));
        }
    }
    close(in);
    return 0;
}

/* The whole file path from data[0..len), or from the file src when src is not NULL. */
static int
file_put(ice_store *st, const char *path, const void *data, size_t len, const char *src,
         const char *uri, cdc_err *err)
{
    const char *slash = strrchr(path, '/');
    char       *dir, *tmp;
    int         fd, rc = -1;

    if (slash[1] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: names a directory, not a file",
                           uri);
    dir = slash == path ? cdc_xstrdup("/") : cdc_xstrndup(path, (size_t) (slash - path));
    if (make_dirs(st, dir, uri, err) < 0) {
        free(dir);
        return -1;
    }
    if (asprintf(&tmp, "%s/.%s.tmp-XXXXXX", slash == path ? "" : dir, slash + 1) < 0) {
        free(dir);
        return cdc_err_set(err, CDC_E_NOMEM, "warehouse %s: out of memory", uri);
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        cdc_err_set(err, CDC_E_IO, "warehouse %s: create %s: %s", uri, tmp, strerror(errno));
        goto out;
    }
    if (src) {
        if (copy_all(fd, src, tmp, uri, err) < 0)
            goto fail;
    } else if (write_all(fd, data, len) < 0) {
        cdc_err_set(err, CDC_E_IO, "warehouse %s: write %s: %s", uri, tmp, strerror(errno));
        goto fail;
    }
    if (!st->conf.no_fsync && fsync(fd) < 0) {
        cdc_err_set(err, CDC_E_IO, "warehouse %s: fsync %s: %s", uri, tmp, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, 0644) < 0) {
        cdc_err_set(err, CDC_E_IO, "warehouse %s: chmod %s: %s", uri, tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        cdc_err_set(err, CDC_E_IO, "warehouse %s: close %s: %s", uri, tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        cdc_err_set(err, CDC_E_IO, "warehouse %s: rename %s: %s", uri, tmp, strerror(errno));
        goto fail;
    }
    rc = st->conf.no_fsync ? 0 : fsync_dir(dir, uri, err);
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    return rc;
}

static int
file_get(const char *path, int64_t off, int64_t len, cdc_buf *out, size_t max,
         const char *uri, cdc_err *err)
{
    int         fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    int64_t     end;

    if (fd < 0) {
        if (errno == ENOENT) {
            cdc_err_set(err, CDC_E_DEST, "warehouse %s: no such file", uri);
            return 1;
        }
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: open: %s", uri, strerror(errno));
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: not a regular file", uri);
    }
    end = len < 0 ? (int64_t) sb.st_size : off + len;
    if (end > (int64_t) sb.st_size)
        end = (int64_t) sb.st_size;
    if (end > off && (uint64_t) (end - off) > (uint64_t) max) {
        close(fd);
        return cdc_err_set(err, CDC_E_DEST, "warehouse %s: %lld bytes, more than the %zu "
                           "allowed", uri, (long long) (end - off), max);
    }
    while (off < end) {
        uint8_t buf[65536];
        size_t  want = (size_t) (end - off) < sizeof(buf) ? (size_t) (end - off) : sizeof(buf);
        ssize_t r = pread(fd, buf, want, (off_t) off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;

            close(fd);
            return cdc_err_set(err, CDC_E_IO, "warehouse %s: read at %lld: %s", uri,
                               (long long) off, e ? strerror(e) : "file shrank");
        }
        cdc_buf_put(out, buf, (size_t) r);
        off += r;
    }
    close(fd);
    if (cdc_buf_failed(out))
        return cdc_err_set(err, CDC_E_NOMEM, "warehouse %s: out of memory", uri);
    return 0;
}

static bool
is_tmp_name(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp-") != NULL;
}

typedef struct file_ent {
    char   *path;
    int64_t size;
} file_ent;

typedef struct file_list {
    file_ent *v;
    size_t    n, cap;
} file_list;

static int
ent_cmp(const void *a, const void *b)
{
    return strcmp(((const file_ent *) a)->path, ((const file_ent *) b)->path);
}

/* Adds the files under dir whose paths start with prefix; descends only where that can be. */
static int
file_walk(const char *dir, const char *prefix, bool tmp, file_list *l, const char *uri,
          cdc_err *err)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    size_t         pl = strlen(prefix);
    int            rc = 0;

    if (d == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return cdc_err_set(err, CDC_E_IO, "warehouse %s: open directory %s: %s", uri, dir,
                           strerror(errno));
    }
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        struct stat sb;
        char       *p;
        size_t      n;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                     de->d_name) < 0) {
            rc = cdc_err_set(err, CDC_E_NOMEM, "warehouse %s: out of memory", uri);
            break;
        }
        n = strlen(p);
        if (lstat(p, &sb) < 0) {
            free(p);
            continue;       /* gone meanwhile */
        }
        if (S_ISDIR(sb.st_mode)) {
            /* p + "/" must be a prefix of prefix, or prefix one of p + "/" */
            if (strncmp(p, prefix, n < pl ? n : pl) == 0 && (n >= pl || prefix[n] == '/'))
                rc = file_walk(p, prefix, tmp, l, uri, err);
            free(p);
        } else if (S_ISREG(sb.st_mode) && is_tmp_name(de->d_name) == tmp &&
                   strncmp(p, prefix, pl) == 0) {
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->v = cdc_xrealloc(l->v, l->cap * sizeof(*l->v));
            }
            l->v[l->n].path = p;
            l->v[l->n].size = (int64_t) sb.st_size;
            l->n++;
        } else
            free(p);
    }
    if (rc == 0 && errno != 0 && de == NULL)
        rc = cdc_err_set(err, CDC_E_IO, "warehouse %s: read directory %s: %s", uri, dir,
                         strerror(errno));
    closedir(d);
    return rc;
}

/* The files under prefix (tmp: the temporary files instead), each to fn; with remove,
   each unlinked after fn took it. */
static int
file_list_all(const char *prefix, bool tmp, bool remove, ice_store_list_fn *fn, void *arg,
              const char *uri, cdc_err *err)
{
    file_list l = { 0 };
    char     *dir;
    int       rc;
    const char *slash = strrchr(prefix, '/');

    dir = slash == prefix ? cdc_xstrdup("/") : cdc_xstrndup(prefix, (size_t) (slash - prefix));
    rc = file_walk(dir, prefix, tmp, &l, uri, err);
    free(dir);
    if (rc == 0 && l.n > 0)
        qsort(l.v, l.n, sizeof(*l.v), ent_cmp);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char *u;

        if (asprintf(&u, "file://%s", l.v[i].path) < 0) {
            rc = cdc_err_set(err, CDC_E_NOMEM, "warehouse %s: out of memory", uri);
            break;
        }
        rc = fn(arg, u, l.v[i].size);
        free(u);
        if (rc == 0 && remove && unlink(l.v[i].path) < 0 && errno != ENOENT)
            rc = cdc_err_set(err, CDC_E_IO, "warehouse %s: unlink %s: %s", uri, l.v[i].path,
                             strerror(errno));
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].path);
    free(l.v);
    return rc;
}

/* ---- the calls ------------------------------------------------------------------- */

int
ice_store_put(ice_store *st, const char *uri, const void *data, size_t len, cdc_err *err)
{
    ice_uri u;
    cdc_s3 *s3;

    if (ice_store_parse_uri(uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE)
        return file_put(st, u.path, data, len, NULL, uri, err);
    if (u.key[0] == '\0' || u.key[strlen(u.key) - 1] == '/')
        return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: names no object", uri);
    if ((s3 = store_s3(st, uri, err)) == NULL)
        return -1;
    return cdc_s3_put(s3, u.bucket, u.key, data, len, NULL, err);
}

int
ice_store_put_file(ice_store *st, const char *uri, const char *local_path, cdc_err *err)
{
    ice_uri u;
    cdc_s3 *s3;

    if (ice_store_parse_uri(uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE)
        return file_put(st, u.path, NULL, 0, local_path, uri, err);
    if (u.key[0] == '\0' || u.key[strlen(u.key) - 1] == '/')
        return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: names no object", uri);
    if ((s3 = store_s3(st, uri, err)) == NULL)
        return -1;
    return cdc_s3_put_file(s3, u.bucket, u.key, local_path, NULL, err);
}

int
ice_store_get(ice_store *st, const char *uri, int64_t off, int64_t len, cdc_buf *out,
              size_t max, cdc_err *err)
{
    ice_uri u;
    cdc_s3 *s3;
    int     rc;

    if (max == 0)
        max = STORE_GET_MAX_DEFAULT;
    if (off < 0)
        return cdc_err_set(err, CDC_E_INVAL, "warehouse %s: negative offset", uri);
    if (ice_store_parse_uri(uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE)
        return file_get(u.path, off, len, out, max, uri, err);
    if ((s3 = store_s3(st, uri, err)) == NULL)
        return -1;
    rc = cdc_s3_get(s3, u.bucket, u.key, off, len, out, max, err);
    if (rc == 1)
        cdc_err_set(err, CDC_E_DEST, "warehouse %s: no such file", uri);
    return rc;
}

int
ice_store_exists(ice_store *st, const char *uri, int64_t *size, cdc_err *err)
{
    ice_uri     u;
    cdc_s3     *s3;
    cdc_s3_head h;
    int         rc;

    if (ice_store_parse_uri(uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE) {
        struct stat sb;

        if (stat(u.path, &sb) < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                return 0;
            return cdc_err_set(err, CDC_E_IO, "warehouse %s: stat: %s", uri, strerror(errno));
        }
        if (!S_ISREG(sb.st_mode))
            return 0;
        if (size)
            *size = (int64_t) sb.st_size;
        return 1;
    }
    if ((s3 = store_s3(st, uri, err)) == NULL)
        return -1;
    rc = cdc_s3_head_object(s3, u.bucket, u.key, &h, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        cdc_err_clear(err);
        return 0;
    }
    if (size)
        *size = h.size;
    return 1;
}

int
ice_store_delete(ice_store *st, const char *uri, cdc_err *err)
{
    ice_uri u;
    cdc_s3 *s3;

    if (ice_store_parse_uri(uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE) {
        if (unlink(u.path) < 0 && errno != ENOENT)
            return cdc_err_set(err, CDC_E_IO, "warehouse %s: unlink: %s", uri, strerror(errno));
        return 0;
    }
    if (u.key[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "warehouse %s: names no object", uri);
    if ((s3 = store_s3(st, uri, err)) == NULL)
        return -1;
    return cdc_s3_delete(s3, u.bucket, u.key, err);
}

typedef struct s3_list_arg {
    ice_store_list_fn *fn;
    void              *arg;
    const char        *scheme;   /* "s3://" as the prefix was spelled */
    size_t             scheme_len;
    const char        *bucket;
} s3_list_arg;

static int
s3_list_cb(void *arg, const char *key, int64_t size, const char *etag)
{
    s3_list_arg *a = arg;
    char        *u;
    int          rc;

    (void) etag;
    if (asprintf(&u, "%.*s%s/%s", (int) a->scheme_len, a->scheme, a->bucket, key) < 0)
        return -1;
    rc = a->fn(a->arg, u, size);
    free(u);
    return rc;
}

int
ice_store_list(ice_store *st, const char *prefix_uri, ice_store_list_fn *fn, void *arg,
               cdc_err *err)
{
    ice_uri     u;
    cdc_s3     *s3;
    s3_list_arg a;
    int         rc;

    if (ice_store_parse_uri(prefix_uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE)
        return file_list_all(u.path, false, false, fn, arg, prefix_uri, err);
    if ((s3 = store_s3(st, prefix_uri, err)) == NULL)
        return -1;
    a = (s3_list_arg) { .fn = fn, .arg = arg, .scheme = prefix_uri,
                        .scheme_len = (size_t) (strstr(prefix_uri, "://") + 3 - prefix_uri),
                        .bucket = u.bucket };
    rc = cdc_s3_list(s3, u.bucket, u.key, s3_list_cb, &a, err);
    if (rc == -1 && err && err->msg[0] == '\0')
        cdc_err_set(err, CDC_E_NOMEM, "warehouse %s: out of memory", prefix_uri);
    return rc;
}

typedef struct s3_up_arg {
    s3_list_arg  l;
    cdc_s3      *s3;
    bool         remove;
    cdc_err     *err;
} s3_up_arg;

static int
s3_upload_cb(void *arg, const char *key, const char *upload_id, const char *initiated)
{
    s3_up_arg *a = arg;
    int        rc;

    (void) initiated;
    rc = s3_list_cb(&a->l, key, -1, "");
    if (rc == 0 && a->remove &&
        cdc_s3_abort_upload(a->s3, a->l.bucket, key, upload_id, a->err) < 0)
        return -1;
    return rc;
}

int
ice_store_incomplete(ice_store *st, const char *prefix_uri, bool remove, ice_store_list_fn *fn,
                     void *arg, cdc_err *err)
{
    ice_uri   u;
    cdc_s3   *s3;
    s3_up_arg a;

    if (ice_store_parse_uri(prefix_uri, &u, err) < 0)
        return -1;
    if (u.scheme == ICE_URI_FILE)
        return file_list_all(u.path, true, remove, fn, arg, prefix_uri, err);
    if ((s3 = store_s3(st, prefix_uri, err)) == NULL)
        return -1;
    a = (s3_up_arg) { .l = { .fn = fn, .arg = arg, .scheme = prefix_uri,
                             .scheme_len = (size_t) (strstr(prefix_uri, "://") + 3 - prefix_uri),
                             .bucket = u.bucket },
                      .s3 = s3, .remove = remove, .err = err };
    return cdc_s3_list_uploads(s3, u.bucket, u.key, s3_upload_cb, &a, err);
}
