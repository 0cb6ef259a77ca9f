#include "agent/pipeline/txbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_mem.h"

/*
 * A message is stored as one record, [u32 len][u32 msg_xid][u64 lsn][bytes]
 * in host byte order, the same in memory and in the spill file, so spilling
 * is a plain write of the in-memory blocks.  Records never straddle blocks.
 *
 * Memory is counted in whole blocks (header included), the unit actually
 * allocated.  A transaction's blocks start small and double up to a fraction
 * of the limit, so that the partly filled last blocks of many interleaved
 * transactions waste little of it.  Each spilled transaction holds one file
 * descriptor until it is discarded; the server streams only transactions over
 * its logical_decoding_work_mem, so there are few of them at a time.
 */
#define TXB_HDR        16
#define TXB_BLOCK_MIN  512
#define TXB_BLOCK_MAX  (64 * 1024)
#define TXB_READ_CHUNK (64 * 1024)
/*
 * A message this large (one large column value, in practice) goes straight
 * to the spill file, after its transaction's in-memory part: a copy in
 * memory would hold it twice while it is appended (the caller's buffer and
 * ours), and replay reads it back alone, into a buffer of its own size that
 * is given back afterwards.
 */
#define TXB_DIRECT     ((size_t) 8 * 1024 * 1024)

typedef struct txb_block {
    struct txb_block *next;
    size_t            alloc;    /* bytes allocated, this header included */
    size_t            cap;      /* room for records */
    size_t            used;
    uint8_t           data[];
} txb_block;

typedef struct txb_txn {
    uint32_t   xid;
    txb_block *first, *last;    /* in-memory tail, after what is in the file */
    size_t     mem;             /* sum of the blocks' alloc */
    int        fd;              /* unlinked spill file, -1 until the first spill */
    off_t      file_size;
    bool       broken;          /* a failed write could not be rolled back */
    uint32_t  *aborted;         /* aborted subxids, sorted */
    size_t     naborted, aborted_cap;
} txb_txn;

struct agent_txbuf {
    size_t    limit;
    size_t    block_size;
    char     *spill_dir;
    txb_txn **slots;            /* open addressing, linear probing */
    size_t    nslots;           /* power of two */
    size_t    ntxns;
    txb_txn  *recent;           /* last one looked up: chunks come in runs */
    size_t    mem;
    uint64_t  spilled;
};

/* ---- the xid -> transaction table ---- */

static size_t
txb_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static size_t
txb_slot(const agent_txbuf *tb, uint32_t xid)
{
    size_t mask = tb->nslots - 1;
    size_t i = txb_hash(xid) & mask;

    while (tb->slots[i] != NULL && tb->slots[i]->xid != xid)
        i = (i + 1) & mask;
    return i;
}

static txb_txn *
txb_find(agent_txbuf *tb, uint32_t xid)
{
    if (tb->recent != NULL && tb->recent->xid == xid)
        return tb->recent;
    tb->recent = tb->slots[txb_slot(tb, xid)];
    return tb->recent;
}

static void
txb_rehash(agent_txbuf *tb)
{
    txb_txn **old = tb->slots;
    size_t    nold = tb->nslots;

    tb->nslots *= 2;
    tb->slots = cdc_xcalloc(tb->nslots, sizeof(*tb->slots));
    for (size_t i = 0; i < nold; i++)
        if (old[i] != NULL)
            tb->slots[txb_slot(tb, old[i]->xid)] = old[i];
    free(old);
}

static txb_txn *
txb_get(agent_txbuf *tb, uint32_t xid)
{
    txb_txn *t = txb_find(tb, xid);

    if (t != NULL)
        return t;
    if ((tb->ntxns + 1) * 2 > tb->nslots)
        txb_rehash(tb);
    t = cdc_xcalloc(1, sizeof(*t));
    t->xid = xid;
    t->fd = -1;
    tb->slots[txb_slot(tb, xid)] = t;
    tb->ntxns++;
    tb->recent = t;
    return t;
}

/* Removes t's slot, shifting later members of its probe run back (no tombstones). */
static void
txb_unlink(agent_txbuf *tb, const txb_txn *t)
{
    size_t mask = tb->nslots - 1;
    size_t i = txb_slot(tb, t->xid);
    size_t j = i;

    tb->slots[i] = NULL;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (tb->slots[j] == NULL)
            break;
        home = txb_hash(tb->slots[j]->xid) & mask;
        /* Leave it if its home lies cyclically in (i, j]: the hole does not cut its run. */
        if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
            continue;
        tb->slots[i] = tb->slots[j];
        tb->slots[j] = NULL;
        i = j;
    }
    tb->ntxns--;
    if (tb->recent == t)
        tb->recent = NULL;
}

/* ---- records and blocks ---- */

static void
txb_put_hdr(uint8_t *p, uint32_t len, uint32_t msg_xid, uint64_t lsn)
{
    memcpy(p, &len, 4);
    memcpy(p + 4, &msg_xid, 4);
    memcpy(p + 8, &lsn, 8);
}

static void
txb_get_hdr(const uint8_t *p, uint32_t *len, uint32_t *msg_xid, uint64_t *lsn)
{
    memcpy(len, p, 4);
    memcpy(msg_xid, p + 4, 4);
    memcpy(lsn, p + 8, 8);
}

static void
txb_free_blocks(agent_txbuf *tb, txb_txn *t)
{
    txb_block *b = t->first;

    while (b != NULL) {
        txb_block *next = b->next;

        free(b);
        b = next;
    }
    t->first = t->last = NULL;
    tb->mem -= t->mem;
    t->mem = 0;
}

static int
txb_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}

static bool
txb_is_aborted(const txb_txn *t, uint32_t msg_xid)
{
    return t->naborted > 0 &&
           bsearch(&msg_xid, t->aborted, t->naborted, sizeof(uint32_t), txb_cmp_u32) != NULL;
}

/* Frees t and everything it holds; the caller has taken it out of the table. */
static void
txb_txn_free(agent_txbuf *tb, txb_txn *t)
{
    txb_free_blocks(tb, t);
    if (t->fd >= 0)
        close(t->fd);
    free(t->aborted);
    free(t);
}

/* ---- spill files ---- */

static int
txb_open_spill(agent_txbuf *tb, txb_txn *t, cdc_err *err)
{
    size_t n = strlen(tb->spill_dir) + 40;
    char  *path = cdc_xmalloc(n);
    int    rc = -1;

    snprintf(path, n, "%s/cdcagent-xid%u-XXXXXX", tb->spill_dir, t->xid);
    /* mkostemp is mkstemp with O_CLOEXEC, so no child process inherits the file. */
    t->fd = mkostemp(path, O_CLOEXEC);
    if (t->fd < 0) {
        cdc_err_set(err, CDC_E_IO, "spill of xid %u: cannot create a file in %s: %s", t->xid,
                    tb->spill_dir, strerror(errno));
        goto out;
    }
    /* Unlinked at once: the open descriptor keeps it, a crash leaves nothing behind. */
    if (unlink(path) < 0) {
        cdc_err_set(err, CDC_E_IO, "spill of xid %u: unlink %s: %s", t->xid, path,
                    strerror(errno));
        close(t->fd);
        t->fd = -1;
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

static int
txb_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/*
 * A write to t's spill file failed after the file had `before` bytes: cut it
 * back so it holds whole records only, or mark t broken if that fails too.
 */
static int
txb_write_failed(agent_txbuf *tb, txb_txn *t, off_t before, cdc_err *err)
{
    int saved = errno;

    if (ftruncate(t->fd, before) < 0 || lseek(t->fd, before, SEEK_SET) < 0)
        t->broken = true;
    return cdc_err_set(err, CDC_E_IO, "spill of xid %u to a file in %s: write: %s", t->xid,
                       tb->spill_dir, strerror(saved));
}

/* Appends t's in-memory blocks to its spill file and frees them. */
static int
txb_spill(agent_txbuf *tb, txb_txn *t, cdc_err *err)
{
    off_t before = t->file_size;
    off_t size = before;

    if (t->fd < 0 && txb_open_spill(tb, t, err) < 0)
        return -1;
    for (const txb_block *b = t->first; b != NULL; b = b->next) {
        if (txb_write_all(t->fd, b->data, b->used) < 0)
            return txb_write_failed(tb, t, before, err);
        size += (off_t) b->used;
    }
    t->file_size = size;
    tb->spilled += (uint64_t) (size - before);
    txb_free_blocks(tb, t);
    return 0;
}

/* Writes one record straight to t's file; t has nothing in memory. */
static int
txb_spill_record(agent_txbuf *tb, txb_txn *t, const uint8_t *hdr, const uint8_t *msg,
                 size_t len, cdc_err *err)
{
    off_t before = t->file_size;

    if (t->fd < 0 && txb_open_spill(tb, t, err) < 0)
        return -1;
    if (txb_write_all(t->fd, hdr, TXB_HDR) < 0 || txb_write_all(t->fd, msg, len) < 0)
        return txb_write_failed(tb, t, before, err);
    t->file_size += (off_t) (TXB_HDR + len);
    tb->spilled += TXB_HDR + len;
    return 0;
}

/*
 * Spills the largest transactions until `need` more bytes fit under the
 * limit or nothing is left in memory.  The scan is linear in the number of
 * open transactions, but it runs once per spill, not once per message.
 */
static int
txb_make_room(agent_txbuf *tb, size_t need, cdc_err *err)
{
    while (tb->mem > 0 && tb->mem + need > tb->limit) {
        txb_txn *largest = NULL;

        for (size_t i = 0; i < tb->nslots; i++)
            if (tb->slots[i] != NULL && (largest == NULL || tb->slots[i]->mem > largest->mem))
                largest = tb->slots[i];
        if (txb_spill(tb, largest, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- public API ---- */

agent_txbuf *
agent_txbuf_new(size_t mem_limit_bytes, const char *spill_dir, cdc_err *err)
{
    agent_txbuf *tb;
    struct stat  st;

    if (spill_dir == NULL || spill_dir[0] == '\0') {
        cdc_err_set(err, CDC_E_INVAL, "transaction buffer: no spill directory");
        return NULL;
    }
    /* Checked now so that a bad directory is a start-up error, not one in the
     * middle of the first large transaction. */
    if (stat(spill_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cdc_err_set(err, CDC_E_IO, "spill directory %s: not a directory", spill_dir);
        return NULL;
    }
    if (access(spill_dir, W_OK | X_OK) < 0) {
        cdc_err_set(err, CDC_E_IO, "spill directory %s: %s", spill_dir, strerror(errno));
        return NULL;
    }
    tb = cdc_xcalloc(1, sizeof(*tb));
    tb->limit = mem_limit_bytes;
    tb->block_size = mem_limit_bytes / 8;
    if (tb->block_size < TXB_BLOCK_MIN)
        tb->block_size = TXB_BLOCK_MIN;
    if (tb->block_size > TXB_BLOCK_MAX)
        tb->block_size = TXB_BLOCK_MAX;
    tb->spill_dir = cdc_xstrdup(spill_dir);
    tb->nslots = 16;
    tb->slots = cdc_xcalloc(tb->nslots, sizeof(*tb->slots));
    return tb;
}

void
agent_txbuf_free(agent_txbuf *tb)
{
    if (tb == NULL)
        return;
    /* Not agent_txbuf_discard: its backward shift would move entries under the loop. */
    for (size_t i = 0; i < tb->nslots; i++)
        if (tb->slots[i] != NULL)
            txb_txn_free(tb, tb->slots[i]);
    free(tb->slots);
    free(tb->spill_dir);
    free(tb);
}

void
agent_txbuf_clear(agent_txbuf *tb)
{
    if (tb == NULL)
        return;
    for (size_t i = 0; i < tb->nslots; i++)
        if (tb->slots[i] != NULL) {
            txb_txn_free(tb, tb->slots[i]);
            tb->slots[i] = NULL;
        }
    tb->ntxns = 0;
    tb->recent = NULL;
}

size_t
agent_txbuf_count(const agent_txbuf *tb)
{
    return tb->ntxns;
}

int
agent_txbuf_append(agent_txbuf *tb, uint32_t toplevel_xid, uint32_t msg_xid,
                   const uint8_t *msg, size_t len, uint64_t wal_lsn, cdc_err *err)
{
    uint8_t    hdr[TXB_HDR];
    size_t     rec = TXB_HDR + len;
    txb_txn   *t;
    txb_block *b;

    if (toplevel_xid == 0 || msg_xid == 0)
        return cdc_err_set(err, CDC_E_INVAL, "transaction buffer: invalid xid 0");
    if (len > UINT32_MAX)
        return cdc_err_set(err, CDC_E_INVAL, "xid %u: message of %zu bytes is too large",
                           toplevel_xid, len);
    t = txb_get(tb, toplevel_xid);
    if (t->broken)
        return cdc_err_set(err, CDC_E_IO, "xid %u: spill file in %s is unusable after a "
                           "failed write", toplevel_xid, tb->spill_dir);
    txb_put_hdr(hdr, (uint32_t) len, msg_xid, wal_lsn);

    if (len >= TXB_DIRECT) {
        /* The file comes before the memory part: spill that first to keep the order. */
        if (t->first != NULL && txb_spill(tb, t, err) < 0)
            return -1;
        return txb_spill_record(tb, t, hdr, msg, len, err);
    }
    b = t->last;
    if (b == NULL || b->cap - b->used < rec) {
        size_t alloc = b != NULL ? 2 * b->alloc : TXB_BLOCK_MIN;

        if (alloc > tb->block_size)
            alloc = tb->block_size;
        if (alloc < sizeof(txb_block) + rec)
            alloc = sizeof(txb_block) + rec;

        if (txb_make_room(tb, alloc, err) < 0)
            return -1;
        /* Still no room means memory is empty (t's included): straight to disk. */
        if (tb->mem + alloc > tb->limit)
            return txb_spill_record(tb, t, hdr, msg, len, err);
        b = cdc_xmalloc(alloc);
        b->next = NULL;
        b->alloc = alloc;
        b->cap = alloc - sizeof(txb_block);
        b->used = 0;
        if (t->last != NULL)
            t->last->next = b;
        else
            t->first = b;
        t->last = b;
        t->mem += alloc;
        tb->mem += alloc;
    }
    memcpy(b->data + b->used, hdr, TXB_HDR);
    if (len > 0)
        memcpy(b->data + b->used + TXB_HDR, msg, len);
    b->used += rec;
    return 0;
}

int
agent_txbuf_abort(agent_txbuf *tb, uint32_t toplevel_xid, uint32_t subxid, cdc_err *err)
{
    txb_txn *t;
    size_t   at;

    if (toplevel_xid == 0 || subxid == 0)
        return cdc_err_set(err, CDC_E_INVAL, "transaction buffer: abort of invalid xid 0");
    if (subxid == toplevel_xid) {
        agent_txbuf_discard(tb, toplevel_xid);
        return 0;
    }
    t = txb_find(tb, toplevel_xid);
    if (t == NULL)
        return 0;
    for (at = t->naborted; at > 0 && t->aborted[at - 1] >= subxid; at--)
        if (t->aborted[at - 1] == subxid)
            return 0;
    if (t->naborted == t->aborted_cap) {
        t->aborted_cap = t->aborted_cap ? t->aborted_cap * 2 : 4;
        t->aborted = cdc_xrealloc(t->aborted, t->aborted_cap * sizeof(*t->aborted));
    }
    memmove(&t->aborted[at + 1], &t->aborted[at], (t->naborted - at) * sizeof(*t->aborted));
    t->aborted[at] = subxid;
    t->naborted++;
    return 0;
}

/*
 * Replays the spill file in chunks.  The buffer holds at most one chunk, or
 * one record when a single message is larger; never the whole file.
 */
static int
txb_replay_file(const agent_txbuf *tb, const txb_txn *t, agent_txbuf_fn *fn, void *arg,
                cdc_err *err)
{
    size_t   cap = TXB_READ_CHUNK, have = 0;
    uint8_t *buf = cdc_xmalloc(cap);
    off_t    off = 0;
    int      rc = -1;

    for (;;) {
        size_t   pos = 0;
        uint32_t len, msg_xid;
        uint64_t lsn;
        size_t   want;
        ssize_t  r;

        while (have - pos >= TXB_HDR) {
            txb_get_hdr(buf + pos, &len, &msg_xid, &lsn);
            if (have - pos < TXB_HDR + (size_t) len)
                break;
            if (!txb_is_aborted(t, msg_xid) &&
                fn(arg, msg_xid, buf + pos + TXB_HDR, len, lsn) != 0)
                goto out;
            pos += TXB_HDR + (size_t) len;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (cap > TXB_READ_CHUNK && have <= TXB_READ_CHUNK) {
            /* Done with a record larger than a chunk: give its memory back. */
            cap = TXB_READ_CHUNK;
            buf = cdc_xrealloc(buf, cap);
        }
        if (off == t->file_size) {
            if (have == 0)
                break;
            cdc_err_set(err, CDC_E_IO, "replay of xid %u: spill file in %s ends inside a record",
                        t->xid, tb->spill_dir);
            goto out;
        }
        if (have >= TXB_HDR) {
            txb_get_hdr(buf, &len, &msg_xid, &lsn);
            if (TXB_HDR + (size_t) len > cap) {
                cap = TXB_HDR + (size_t) len;
                buf = cdc_xrealloc(buf, cap);
            }
        }
        want = cap - have;
        if ((off_t) want > t->file_size - off)
            want = (size_t) (t->file_size - off);
        do
            r = pread(t->fd, buf + have, want, off);
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            cdc_err_set(err, CDC_E_IO, "replay of xid %u: read of spill file in %s: %s", t->xid,
                        tb->spill_dir, r < 0 ? strerror(errno) : "unexpected end of file");
            goto out;
        }
        have += (size_t) r;
        off += r;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

int
agent_txbuf_replay(agent_txbuf *tb, uint32_t xid, agent_txbuf_fn *fn, void *arg, cdc_err *err)
{
    const txb_txn *t = txb_find(tb, xid);

    if (t == NULL)
        return 0;
    if (t->broken)
        return cdc_err_set(err, CDC_E_IO, "replay of xid %u: spill file in %s is unusable "
                           "after a failed write", xid, tb->spill_dir);
    if (t->fd >= 0 && txb_replay_file(tb, t, fn, arg, err) < 0)
        return -1;
    for (const txb_block *b = t->first; b != NULL; b = b->next) {
        for (size_t pos = 0; pos < b->used;) {
            uint32_t len, msg_xid;
            uint64_t lsn;

            txb_get_hdr(b->data + pos, &len, &msg_xid, &lsn);
            if (!txb_is_aborted(t, msg_xid) &&
                fn(arg, msg_xid, b->data + pos + TXB_HDR, len, lsn) != 0)
                return -1;
            pos += TXB_HDR + (size_t) len;
        }
    }
    return 0;
}

void
agent_txbuf_discard(agent_txbuf *tb, uint32_t xid)
{
    txb_txn *t = txb_find(tb, xid);

    if (t == NULL)
        return;
    txb_unlink(tb, t);
    txb_txn_free(tb, t);
}

size_t
agent_txbuf_mem(const agent_txbuf *tb)
{
    return tb->mem;
}

uint64_t
agent_txbuf_spilled(const agent_txbuf *tb)
{
    return tb->spilled;
}
