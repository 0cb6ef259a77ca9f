#include "agent/pipeline/watermark.h"

#include <stdlib.h>

#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

/*
 * The ring grows by doubling from a small start up to max_inflight, so an
 * agent configured for a large window pays for it only when it is used.
 */
#define WM_RING_INITIAL 16

typedef struct wm_txn {
    uint64_t commit_lsn;
    uint64_t end_lsn;       /* valid once committed */
    bool     committed;
} wm_txn;

struct agent_wm {
    wm_txn  *ring;
    size_t   cap;           /* allocated slots, <= max_inflight */
    size_t   head;          /* oldest entry */
    size_t   count;         /* entries in flight; the newest may be open */
    size_t   max_inflight;
    int      ndests;
    cdc_pos *durable;       /* per destination, monotonic */
    uint64_t flush_lsn;
    uint64_t server_end;    /* newest keepalive WAL end outside a transaction */
    uint64_t last_begun;    /* commit_lsn of the last agent_wm_begin, 0 if none */
    uint64_t regressions;
};

static wm_txn *
wm_at(const agent_wm *wm, size_t i)
{
    size_t slot = wm->head + i;

    if (slot >= wm->cap)
        slot -= wm->cap;
    return &wm->ring[slot];
}

static wm_txn *
wm_tail(const agent_wm *wm)
{
    return wm->count ? wm_at(wm, wm->count - 1) : NULL;
}

static bool
wm_open(const agent_wm *wm)
{
    const wm_txn *t = wm_tail(wm);

    return t != NULL && !t->committed;
}

/* Doubles the ring (capped at max_inflight), unwrapping it in the new array. */
static void
wm_grow(agent_wm *wm)
{
    size_t  ncap = wm->cap * 2 > wm->max_inflight ? wm->max_inflight : wm->cap * 2;
    wm_txn *nring = cdc_xmalloc(ncap * sizeof(*nring));

    for (size_t i = 0; i < wm->count; i++)
        nring[i] = *wm_at(wm, i);
    free(wm->ring);
    wm->ring = nring;
    wm->cap = ncap;
    wm->head = 0;
}

/* The lowest durable position over all destinations: what every one has. */
static cdc_pos
wm_min_durable(const agent_wm *wm)
{
    cdc_pos min = { UINT64_MAX, CDC_SEQ_END };

    for (int i = 0; i < wm->ndests; i++)
        if (cdc_pos_cmp(wm->durable[i], min) < 0)
            min = wm->durable[i];
    return min;
}

/*
 * Pops every transaction at the head that is committed and durable in all
 * destinations, moving the flush LSN to the last one popped.  Each entry is
 * popped once, so this is amortised O(1) per transaction plus O(ndests) per
 * call.  The head entry stops the walk: a later transaction never gets past
 * an earlier one that is not yet durable everywhere.
 */
static void
wm_advance(agent_wm *wm)
{
    cdc_pos min = wm_min_durable(wm);

    while (wm->count > 0) {
        const wm_txn *t = wm_at(wm, 0);
        cdc_pos       done = { t->commit_lsn, CDC_SEQ_END };

        if (!t->committed || cdc_pos_cmp(min, done) < 0)
            break;
        if (t->end_lsn > wm->flush_lsn)
            wm->flush_lsn = t->end_lsn;
        wm->head = wm->head + 1 == wm->cap ? 0 : wm->head + 1;
        wm->count--;
    }
    if (wm->count > 0)
        return;
    wm->head = 0;
    /* Everything the server had sent before its keepalive is durable everywhere. */
    if (wm->server_end > wm->flush_lsn)
        wm->flush_lsn = wm->server_end;
}

agent_wm *
agent_wm_new(int ndests, size_t max_inflight)
{
    agent_wm *wm;

    if (ndests < 0 || max_inflight == 0)
        return NULL;
    wm = cdc_xcalloc(1, sizeof(*wm));
    wm->max_inflight = max_inflight;
    wm->cap = max_inflight < WM_RING_INITIAL ? max_inflight : WM_RING_INITIAL;
    wm->ring = cdc_xmalloc(wm->cap * sizeof(*wm->ring));
    wm->ndests = ndests;
    wm->durable = cdc_xcalloc((size_t) ndests, sizeof(*wm->durable));
    return wm;
}

void
agent_wm_free(agent_wm *wm)
{
    if (wm == NULL)
        return;
    free(wm->ring);
    free(wm->durable);
    free(wm);
}

void
agent_wm_set_start(agent_wm *wm, uint64_t lsn)
{
    if (lsn > wm->flush_lsn)
        wm->flush_lsn = lsn;
}

int
agent_wm_begin(agent_wm *wm, uint64_t commit_lsn, cdc_err *err)
{
    const wm_txn *open = wm_open(wm) ? wm_tail(wm) : NULL;

    /*
     * After a reconnect the server sends again, from its BEGIN, the
     * transaction the lost connection was in the middle of.  It is the same
     * transaction (same commit LSN) and stays the open one: the router skips
     * the events the destinations already have by their positions.
     */
    if (open != NULL && open->commit_lsn == commit_lsn)
        return 0;
    if (open != NULL)
        return cdc_err_set(err, CDC_E_STATE, "watermark: BEGIN of the transaction committing "
                           "at " CDC_LSN_FMT " while the one committing at " CDC_LSN_FMT
                           " is still open", CDC_LSN_ARGS(commit_lsn),
                           CDC_LSN_ARGS(open->commit_lsn));
    if (commit_lsn <= wm->last_begun)
        return cdc_err_set(err, CDC_E_STATE, "watermark: transaction committing at "
                           CDC_LSN_FMT " arrives after the one committing at " CDC_LSN_FMT
                           "; commit positions must grow", CDC_LSN_ARGS(commit_lsn),
                           CDC_LSN_ARGS(wm->last_begun));
    if (wm->count == wm->max_inflight)
        return cdc_err_set(err, CDC_E_STATE, "watermark: %zu transactions in flight, the "
                           "most it holds; the loop must wait for the destinations first",
                           wm->count);
    if (wm->count == wm->cap)
        wm_grow(wm);
    *wm_at(wm, wm->count) = (wm_txn) { .commit_lsn = commit_lsn };
    wm->count++;
    wm->last_begun = commit_lsn;
    return 0;
}

void
agent_wm_commit(agent_wm *wm, uint64_t commit_lsn, uint64_t end_lsn)
{
    wm_txn *t = wm_tail(wm);

    if (t == NULL || t->committed || t->commit_lsn != commit_lsn || end_lsn < commit_lsn) {
        log_warn("wm", "commit " CDC_LSN_FMT " (end " CDC_LSN_FMT ") matches no open "
                 "transaction; ignored", CDC_LSN_ARGS(commit_lsn), CDC_LSN_ARGS(end_lsn));
        return;
    }
    t->end_lsn = end_lsn;
    t->committed = true;
    wm_advance(wm);
}

void
agent_wm_dest_progress(agent_wm *wm, int dest_index, cdc_pos durable)
{
    if (dest_index < 0 || dest_index >= wm->ndests) {
        log_warn("wm", "progress from destination %d of %d; ignored", dest_index, wm->ndests);
        return;
    }
    if (cdc_pos_cmp(durable, wm->durable[dest_index]) < 0) {
        wm->regressions++;
        return;
    }
    wm->durable[dest_index] = durable;
    wm_advance(wm);
}

uint64_t
agent_wm_flush_lsn(const agent_wm *wm)
{
    return wm->flush_lsn;
}

/*
 * The keepalive says the server has sent everything before wal_end.  Every
 * transaction committing before it has therefore begun here (the stream is in
 * order), and one that begins later commits after it: once the ring is empty,
 * nothing before wal_end is still owed to a destination.  With a transaction
 * open the keepalive is ignored (the caller also skips those inside one).
 */
void
agent_wm_idle_advance(agent_wm *wm, uint64_t wal_end)
{
    if (wm_open(wm) || wal_end <= wm->server_end)
        return;
    wm->server_end = wal_end;
    if (wm->count == 0)
        wm_advance(wm);
}

size_t
agent_wm_inflight(const agent_wm *wm)
{
    return wm->count;
}

bool
agent_wm_full(const agent_wm *wm)
{
    return wm->count >= wm->max_inflight && !wm_open(wm);
}

bool
agent_wm_idle(const agent_wm *wm)
{
    /* The open transaction is the ring's tail, so an empty ring means both. */
    return wm->count == 0;
}

cdc_pos
agent_wm_dest_pos(const agent_wm *wm, int dest_index)
{
    if (dest_index < 0 || dest_index >= wm->ndests)
        return (cdc_pos) { 0, 0 };
    return wm->durable[dest_index];
}

uint64_t
agent_wm_regressions(const agent_wm *wm)
{
    return wm->regressions;
}
