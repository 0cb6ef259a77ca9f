/*
 * Snapshot expiry and file cleanup of one Iceberg table (issue 21, "Maintenance").
 *
 * ice_expire_select() decides which snapshots go: those older than the age,
 * except
 *   - the current snapshot,
 *   - the current snapshot's ancestors down to, and including, the newest one
 *     whose summary holds this pipeline's cdc.position (the sink finds its
 *     exactly-once position by walking back from the current snapshot through
 *     parents: the whole walk must stay),
 *   - every snapshot a ref (branch or tag) of the metadata names,
 *   - after a rollback, every snapshot of this pipeline at a newer position than the
 *     current branch's (the sink refuses to resume behind acknowledged changes while it
 *     sees them; expiring them would hide that).
 *
 * ice_expire_table() commits the removal through the catalog with the same
 * compare-and-swap and reload-and-rebuild loop a data commit uses
 * (ice_cat_commit_retry): REST sends a remove-snapshots update (asserting the
 * table uuid and main's snapshot); SQL writes the next metadata file without
 * them, their snapshot-log entries and the history before the last of them
 * dropped (as Java does: an as-of read must not land on a snapshot across a
 * gap), the previous file added to the metadata-log, the other refs kept as
 * they were.  Only after the commit
 * succeeded, and from the table as loaded again, it deletes what no remaining
 * snapshot references: the expired snapshots' manifest lists, their manifests
 * and their data and delete files (a file or manifest still named by any entry,
 * of any status, of a remaining snapshot's manifests stays).  A crash in
 * between leaves files nothing references, never a reference to a missing file;
 * the orphan pass removes them later.
 *
 * The orphan pass (file:// warehouses only: s3:// listings are not judged by age yet), run
 * after an expiry that removed snapshots: every
 * .parquet, .avro and .metadata.json file under <location>/data/ and <location>/metadata/
 * (where writers put a table's files; the rest of the location is left alone) that the current
 * metadata does not reference (the remaining snapshots' lists, manifests and
 * files; the current metadata file and those of its metadata-log) and whose
 * modification time is older than orphan_age_ms is deleted: files of an
 * interrupted commit, of a lost race, or of an earlier expiry that was killed.
 * A metadata file whose version is below the oldest one in the metadata-log is
 * deleted whatever its age (pyiceberg and Java drop them the same way when
 * write.metadata.delete-after-commit.enabled is on).
 *
 * @locality one thread at a time per catalog and store (the sink's commit thread).
 */
#ifndef CDC_SINKS_ICEBERG_ICE_EXPIRE_H
#define CDC_SINKS_ICEBERG_ICE_EXPIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/store/store.h"

/* The default safety age of the orphan pass: a day (an interrupted commit's files are
   hours old at most; a writer still working on a file is never this slow). */
#define ICE_EXPIRE_ORPHAN_AGE_MS_DEFAULT (24LL * 3600 * 1000)

typedef struct ice_expire_conf {
    int64_t     now_ms;           /* wall clock, ms since the epoch */
    int64_t     older_than_ms;    /* snapshots whose timestamp is before now - this expire */
    int64_t     orphan_age_ms;    /* < 0: no orphan pass */
    const char *pipeline_id;      /* its newest cdc.position snapshot is kept; NULL: none */
    int         crash_after_deletes;  /* test hook: SIGKILL after this many deletes (0: off) */
} ice_expire_conf;

typedef struct ice_expire_result {
    int     snapshots_expired;
    int     snapshots_kept;
    int64_t files_removed;        /* lists, manifests, data and delete files of expired ones */
    int64_t bytes_removed;
    int64_t orphans_removed;      /* orphan pass, metadata files included */
    int64_t orphan_bytes_removed;
} ice_expire_result;

/*
 * The ids of m's snapshots that expire, into *out (caller frees; NULL when none).
 * ref_ids: the snapshot ids refs point at (n may be 0).
 * @returns the number of ids.
 */
int ice_expire_select(const ice_meta *m, const int64_t *ref_ids, int nref,
                      const ice_expire_conf *c, int64_t **out);

/*
 * The files of `gone` that are not in `kept` (strings compared as URIs: file:/x and
 * file:///x are the same file), into *out (pointers into gone, caller frees the array).
 * @returns their number.
 */
int ice_expire_unreferenced(const char *const *gone, int ngone, const char *const *kept,
                            int nkept, const char ***out);

/*
 * Expires table id's snapshots by c and removes the files (see above); res counts
 * what was done (zeroed first).  *committed, when not NULL, receives the table as
 * it is afterwards (NULL when nothing was committed).
 * Nothing expired: 0 at once, no file deleted, *committed NULL.
 * @returns 0 (also when nothing expired), ICE_CAT_NOT_FOUND, or -1 with err (a
 *          failure after the commit leaves files behind, not references).
 */
int ice_expire_table(ice_cat *cat, ice_store *st, const ice_cat_ident *id,
                     const ice_expire_conf *c, ice_expire_result *res, ice_meta **committed,
                     cdc_err *err);

#endif
