#include "agent/pipeline/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_lsn.h"

static const char *const snap_names[] = { "none", "pending", "delivered" };

/* @returns 0, or -1 with err set when the path does not fit (a cut path would name another file). */
static int
state_path(agent_state *st, const char *dir, cdc_err *err)
{
    int n = snprintf(st->path, sizeof(st->path), "%s%scdcagent-%s-%s.state",
                     dir && *dir ? dir : "", dir && *dir && dir[strlen(dir) - 1] != '/' ? "/" : "",
                     st->system, st->slot);

    if (n < 0 || (size_t) n >= sizeof(st->path) - sizeof(".tmp"))
        return cdc_err_set(err, CDC_E_CONFIG, "agent.state_dir: the path of the state record "
                           "in %.200s would be %d bytes, over the %zu this agent handles: "
                           "choose a shorter directory", dir ? dir : "", n,
                           sizeof(st->path) - sizeof(".tmp") - 1);
    return 0;
}

static int
parse_line(agent_state *st, char *line, cdc_err *err)
{
    char *sp = strchr(line, ' ');
    char *val = sp ? sp + 1 : line + strlen(line);

    if (sp)
        *sp = '\0';
    if (line[0] == '#' || line[0] == '\0')
        return 0;
    if (strcmp(line, "version") == 0)
        return strcmp(val, "1") == 0 ? 0 : cdc_err_set(err, CDC_E_STATE, "version %s", val);
    if (strcmp(line, "system") == 0)
        return strcmp(val, st->system) == 0 ? 0
               : cdc_err_set(err, CDC_E_STATE, "it belongs to system %s, not %s", val, st->system);
    if (strcmp(line, "slot") == 0)
        return strcmp(val, st->slot) == 0 ? 0
               : cdc_err_set(err, CDC_E_STATE, "it belongs to slot %s, not %s", val, st->slot);
    if (strcmp(line, "snapshot") == 0) {
        char name[16], lsn[CDC_LSN_STRLEN + 1];

        if (sscanf(val, "%15s %18s", name, lsn) != 2 || cdc_lsn_parse(lsn, &st->cp) < 0)
            return cdc_err_set(err, CDC_E_STATE, "bad snapshot line");
        for (int i = 0; i < 3; i++)
            if (strcmp(name, snap_names[i]) == 0) {
                st->snapshot = (agent_snap_state) i;
                return 0;
            }
        return cdc_err_set(err, CDC_E_STATE, "bad snapshot state %s", name);
    }
    if (strcmp(line, "dest") == 0) {
        char              kind[32], lsn[CDC_LSN_STRLEN + 1];
        unsigned long long seq;
        int               n = 0;
        agent_state_dest *d;
        uint64_t          l;

        if (sscanf(val, "%31s %18s %llu %n", kind, lsn, &seq, &n) != 3 || n == 0 ||
            val[n] == '\0' || cdc_lsn_parse(lsn, &l) < 0)
            return cdc_err_set(err, CDC_E_STATE, "bad dest line");
        d = agent_state_dest_get(st, val + n, kind, true);
        if (d == NULL)
            return cdc_err_set(err, CDC_E_STATE, "more than %d destinations",
                               AGENT_STATE_MAX_DESTS);
        d->held = (cdc_pos) { l, (uint64_t) seq };
        return 0;
    }
    if (strcmp(line, "incr") == 0) {
        if (strlen(val) >= sizeof(st->incr))
            return cdc_err_set(err, CDC_E_STATE, "incr line too long");
        snprintf(st->incr, sizeof(st->incr), "%s", val);
        return 0;
    }
    if (strcmp(line, "snap") == 0) {
        if (strlen(val) >= sizeof(st->snap))
            return cdc_err_set(err, CDC_E_STATE, "snap line too long");
        snprintf(st->snap, sizeof(st->snap), "%s", val);
        return 0;
    }
    return cdc_err_set(err, CDC_E_STATE, "unknown line \"%s\"", line);
}

int
agent_state_load(agent_state *st, const char *dir, const char *system, const char *slot,
                 cdc_err *err)
{
    char  line[AGENT_STATE_INCR_MAX + AGENT_STATE_SNAP_MAX + 512];
    FILE *f;
    int   n = 0;

    memset(st, 0, sizeof(*st));
    snprintf(st->system, sizeof(st->system), "%s", system);
    snprintf(st->slot, sizeof(st->slot), "%s", slot);
    if (state_path(st, dir, err) < 0)
        return -1;
    f = fopen(st->path, "r");
    if (f == NULL) {
        /* No file, or no directory (yet): no record.  Saving says whether it can be written. */
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return cdc_err_set(err, CDC_E_STATE, "state record %s: %s", st->path, strerror(errno));
    }
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);

        n++;
        if (len == 0 || line[len - 1] != '\n') {
            fclose(f);
            return cdc_err_set(err, CDC_E_STATE, "state record %s: line %d is cut off or too "
                               "long; the file was changed by something else than cdcagent "
                               "(delete it to start without it)", st->path, n);
        }
        line[len - 1] = '\0';
        if (parse_line(st, line, err) < 0) {
            fclose(f);
            return cdc_err_wrap(err, "state record %s line %d (delete the file to start "
                                "without it)", st->path, n);
        }
    }
    fclose(f);
    st->loaded = true;
    return 0;
}

agent_state_dest *
agent_state_dest_get(agent_state *st, const char *id, const char *kind, bool add)
{
    agent_state_dest *d;

    for (int i = 0; i < st->ndests; i++)
        if (strcmp(st->dests[i].id, id) == 0 && strcmp(st->dests[i].kind, kind) == 0)
            return &st->dests[i];
    if (!add || st->ndests == AGENT_STATE_MAX_DESTS)
        return NULL;
    d = &st->dests[st->ndests++];
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    snprintf(d->kind, sizeof(d->kind), "%s", kind);
    return d;
}

void
agent_state_retain(agent_state *st, bool (*keep)(void *arg, const char *id, const char *kind),
                   void *arg)
{
    int n = 0;

    for (int i = 0; i < st->ndests; i++)
        if (keep(arg, st->dests[i].id, st->dests[i].kind))
            st->dests[n++] = st->dests[i];
    st->ndests = n;
}

/* fsync of the directory holding path, so the rename itself survives a crash. */
static int
sync_dir(const char *path)
{
    char        dir[1024];
    const char *slash = strrchr(path, '/');
    int         fd, rc;

    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path == 0 ? 1 : slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    /* Some file systems cannot fsync a directory (EINVAL): the rename is all there is. */
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    close(fd);
    return rc;
}

int
agent_state_save(agent_state *st, cdc_err *err)
{
    char  tmp[1100], lsn[CDC_LSN_STRLEN];
    FILE *f;
    int   fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", st->path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cdc_err_set(err, CDC_E_IO, "state record %s: %s (agent.state_dir must be a "
                           "writable directory)", tmp, strerror(errno));
    f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;

        close(fd);
        unlink(tmp);
        return cdc_err_set(err, CDC_E_IO, "state record %s: %s", tmp, strerror(e));
    }
    fprintf(f, "# cdcagent's record of slot %s (docs/fault-matrix.md); written by the agent, "
            "do not edit\n", st->slot);
    fprintf(f, "version 1\nsystem %s\nslot %s\n", st->system, st->slot);
    fprintf(f, "snapshot %s %s\n", snap_names[st->snapshot], cdc_lsn_format(st->cp, lsn));
    for (int i = 0; i < st->ndests; i++)
        fprintf(f, "dest %s %s %" PRIu64 " %s\n", st->dests[i].kind,
                cdc_lsn_format(st->dests[i].held.lsn, lsn), st->dests[i].held.seq,
                st->dests[i].id);
    if (st->incr[0])
        fprintf(f, "incr %s\n", st->incr);
    if (st->snap[0])
        fprintf(f, "snap %s\n", st->snap);
    if (fflush(f) != 0 || fsync(fd) != 0) {
        int e = errno;

        fclose(f);
        unlink(tmp);
        return cdc_err_set(err, CDC_E_IO, "state record %s: %s", tmp, strerror(e));
    }
    if (fclose(f) != 0 || rename(tmp, st->path) != 0) {
        int e = errno;

        unlink(tmp);
        return cdc_err_set(err, CDC_E_IO, "state record %s: %s", st->path, strerror(e));
    }
    if (sync_dir(st->path) != 0)
        return cdc_err_set(err, CDC_E_IO, "state record %s: fsync of its directory: %s",
                           st->path, strerror(errno));
    return 0;
}
