/*
 * The warehouse the Iceberg sink writes through: whole files put, read (whole
 * or a byte range), checked, deleted and listed by URI, the same calls for a
 * local warehouse and an S3 one.
 *
 * URIs: file:///abs/path (also file:/abs/path, as Java's URI prints it) and
 * s3://bucket/key (s3a:// too, as Spark and Hadoop write it).  A relative
 * path, a file:// URI with a host, "..", or an empty key is refused with a
 * message naming the URI.
 *
 * file://: a put writes a temporary file next to the target
 * (".<name>.tmp-<random>"), fsyncs it, renames it over the target and fsyncs
 * the directory, so after ice_store_put returns the file is whole and durable
 * and a crash never leaves a half file under the target's name.  Missing
 * directories are made (0755), each made one synced in its parent.  Listing
 * walks the directories under the prefix (a prefix is a string prefix, as in
 * S3) and leaves the temporary files out.
 *
 * s3://: cdc_s3 (agent/core/net/s3.h): a put of at least the multipart
 * threshold goes up in parts; every call is retried by the client's rule.
 * The client is made at the first s3:// call from conf.s3.
 *
 * Every error names the URI ("warehouse file:///w/t/data/x.parquet: ...").
 *
 * @locality one store per thread; calls are synchronous and blocking.
 */
#ifndef CDC_SINKS_ICEBERG_STORE_STORE_H
#define CDC_SINKS_ICEBERG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/net/s3.h"

typedef enum ice_scheme {
    ICE_URI_FILE = 1,
    ICE_URI_S3,
} ice_scheme;

/* A parsed URI; path and key point into buf. */
typedef struct ice_uri {
    ice_scheme scheme;
    char       bucket[64];   /* s3 */
    const char *key;         /* s3: the key ("" for the bucket's root) */
    const char *path;        /* file: the absolute path */
} ice_uri;

/* Parses uri (borrowed: key and path point into it).  @returns 0, or -1 with err
   (CDC_E_CONFIG, naming the URI). */
int ice_store_parse_uri(const char *uri, ice_uri *out, cdc_err *err);

typedef struct ice_store_conf {
    cdc_s3_conf s3;          /* for s3:// URIs (strings borrowed until the client is made) */
    bool        no_fsync;    /* tests only: skip the fsyncs */
} ice_store_conf;

typedef struct ice_store ice_store;

ice_store *ice_store_new(const ice_store_conf *c, cdc_err *err);
void       ice_store_free(ice_store *st);   /* NULL is a no-op */

/* Writes data[0..len) as the whole file uri (replacing one that is there).  @returns 0 / -1. */
int ice_store_put(ice_store *st, const char *uri, const void *data, size_t len, cdc_err *err);

/* The same from the local file local_path, read as it goes (memory: one S3 part, or the
   file when it is under the multipart threshold; file://: a 64 KiB copy buffer).  The
   file must not change meanwhile.  @returns 0 / -1. */
int ice_store_put_file(ice_store *st, const char *uri, const char *local_path, cdc_err *err);

/*
 * Reads uri into out (appended): the whole file (len < 0 from off), or
 * [off, off+len).  max: the largest read taken (0: 256 MiB).
 * @returns 0, 1 when there is no such file (err says so), -1 with err.
 */
int ice_store_get(ice_store *st, const char *uri, int64_t off, int64_t len, cdc_buf *out,
                  size_t max, cdc_err *err);

/* @returns 1 when uri exists (*size set when size is not NULL), 0 when not, -1 with err. */
int ice_store_exists(ice_store *st, const char *uri, int64_t *size, cdc_err *err);

/* Removes uri; a missing file is fine.  @returns 0 / -1. */
int ice_store_delete(ice_store *st, const char *uri, cdc_err *err);

/* Called with the full URI and size of each file under a prefix; non-zero stops. */
typedef int ice_store_list_fn(void *arg, const char *uri, int64_t size);

/* Every file whose URI starts with prefix_uri, in byte order of their URIs.
   @returns 0, fn's non-zero value, or -1 with err. */
int ice_store_list(ice_store *st, const char *prefix_uri, ice_store_list_fn *fn, void *arg,
                   cdc_err *err);

/*
 * What interrupted writes left under prefix_uri, each to fn: file:// temporary files
 * (".<name>.tmp-*", with their size) and s3:// multipart uploads still open (the key,
 * size -1).  With remove, each is deleted (unlinked, AbortMultipartUpload) after fn
 * took it.  @returns 0, fn's non-zero value, or -1 with err.
 */
int ice_store_incomplete(ice_store *st, const char *prefix_uri, bool remove,
                         ice_store_list_fn *fn, void *arg, cdc_err *err);

#endif
