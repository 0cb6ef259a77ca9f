/*
 * Suite "layers": the layering of DESIGN.md ("Layers"), checked from the
 * source tree and from the objects of the layer libraries.
 *   includes  every quoted include under agent/, decoder/, schemas/,
 *             transports/, sinks/ is spelled from the source root (never
 *             "../") and points into a layer its file's layer may use;
 *   calls     the same rule on what the objects use: `nm` on every object of
 *             the layer libraries gives which file uses a symbol defined in
 *             which other file;
 *   cycles    no files call each other, two or round a longer cycle (a
 *             cycle hides behind a shared _int.h header, so it is found from
 *             the objects, not from the includes);
 *   table     every source file belongs to a layer of the table below, and
 *             CMakeLists.txt's cdc_layer folders are the table's.
 * Every breach is printed on stderr, one line each ("file: includes X (layer
 * A may not use layer B)"); the test fails with their count.  The checker's
 * own rules are tested on made-up paths and graphs first ("rules").
 *
 * CDC_SOURCE_DIR and CDC_LAYER_OBJECTS (a file listing the objects of every
 * layer library, one a line, written by CMakeLists.txt) are compiled in; the
 * environment variables of the same names override them.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * THE LAYER TABLE: DESIGN.md, section "Layers" (keep the two, and the
 * cdc_layer lines of CMakeLists.txt, in step).  A file belongs to the row
 * with the longest folder that holds it; "transports/ *" and "sinks/ *" make
 * one layer per sub-folder (one per destination), and no destination may use
 * another one.  A layer may always use itself; "*" means every layer.
 */
typedef struct layer_rule {
    const char *dir;
    const char *may_use;    /* the folders of the layers it may use, space-separated */
} layer_rule;

static const layer_rule layer_table[] = {
    { "agent/core",      "" },      /* libc and pthread only */
    { "agent/core/net",  "agent/core" },
    { "agent/core/dest", "agent/core agent/core/net" },
    { "decoder",         "agent/core" },
    { "schemas",         "agent/core decoder" },    /* + agent/core/net: registry, below */
    { "transports/*",    "agent/core agent/core/net agent/core/dest schemas" },
    { "sinks/*",         "agent/core agent/core/net agent/core/dest schemas" },
    { "agent/config",    "agent/core" },
    { "agent/source",    "agent/core agent/core/net decoder agent/config" },
    { "agent/ops",       "agent/core agent/config" },
    { "agent/pipeline",  "agent/core agent/core/net agent/core/dest decoder schemas "
                         "transports/* sinks/* agent/config agent/source agent/ops" },
    { "agent/cmd",       "*" },
};

/* Single files that may use one layer more than their folder. */
static const struct {
    const char *file;
    const char *layer;
} layer_exceptions[] = {
    /* DESIGN.md: schemas use core/net for the Schema Registry client only. */
    { "schemas/registry.c", "agent/core/net" },
    { "schemas/registry.h", "agent/core/net" },
};

/* The folders that hold the layers (the walk's roots). */
static const char *const source_roots[] = { "agent", "decoder", "schemas", "transports", "sinks" };

#define NTABLE (sizeof(layer_table) / sizeof(layer_table[0]))
#define NROOTS (sizeof(source_roots) / sizeof(source_roots[0]))

/* ---------------------------------------------------------------- rules */

/*
 * The layer of a path relative to the source root: its name (the folder, or
 * "transports/<name>" for a destination) in out, and its row; -1 when no row
 * holds it.
 */
static int
layer_of(const char *path, char *out, size_t outsz)
{
    int    best = -1;
    size_t bestlen = 0;

    for (size_t i = 0; i < NTABLE; i++) {
        const char *d = layer_table[i].dir;
        size_t      n = strlen(d);

        if (n >= 2 && strcmp(d + n - 2, "/*") == 0) {
            const char *sub;

            n -= 1;     /* "transports/" */
            if (strncmp(path, d, n) != 0)
                continue;
            sub = strchr(path + n, '/');
            if (sub == NULL || sub == path + n)
                continue;       /* a file right in transports/ belongs to no destination */
            if ((size_t) (sub - path) > bestlen) {
                best = (int) i;
                bestlen = (size_t) (sub - path);
            }
        } else if (strncmp(path, d, n) == 0 && path[n] == '/' && n > bestlen) {
            best = (int) i;
            bestlen = n;
        }
    }
    if (best >= 0)
        snprintf(out, outsz, "%.*s", (int) bestlen, path);
    else
        snprintf(out, outsz, "(none)");
    return best;
}

/* Does the space-separated list hold word? */
static bool
list_has(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list; *p;) {
        size_t m;

        while (*p == ' ')
            p++;
        m = strcspn(p, " ");
        if (m == n && strncmp(p, word, n) == 0)
            return true;
        p += m;
    }
    return false;
}

/*
 * May the file at path use the file at target?  When not, why says
 * "layer A may not use layer B" (or that a file belongs to no layer).
 */
static bool
layer_allows(const char *path, const char *target, char *why, size_t whysz)
{
    char from[256], to[256];
    int  fi = layer_of(path, from, sizeof(from));
    int  ti = layer_of(target, to, sizeof(to));

    if (fi < 0 || ti < 0) {
        snprintf(why, whysz, "%s belongs to no layer of test/unit/test_layers.c's table",
                 fi < 0 ? path : target);
        return false;
    }
    if (strcmp(from, to) == 0 || list_has(layer_table[fi].may_use, "*")
        || list_has(layer_table[fi].may_use, layer_table[ti].dir))
        return true;
    for (size_t i = 0; i < sizeof(layer_exceptions) / sizeof(layer_exceptions[0]); i++)
        if (strcmp(path, layer_exceptions[i].file) == 0
            && strcmp(to, layer_exceptions[i].layer) == 0)
            return true;
    if (strcmp(layer_table[fi].dir, layer_table[ti].dir) == 0)
        snprintf(why, whysz, "layer %s may not use layer %s: one destination never uses another",
                 from, to);
    else
        snprintf(why, whysz, "layer %s may not use layer %s", from, to);
    return false;
}

/* ------------------------------------------------------------ the tree */

typedef struct strv {
    char  **v;
    size_t  n, cap;
} strv;

static void
strv_add(strv *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        ck_assert_ptr_nonnull(s->v);
    }
    s->v[s->n] = strdup(str);
    ck_assert_ptr_nonnull(s->v[s->n]);
    s->n++;
}

static int
strv_find(const strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (int) i;
    return -1;
}

static void
strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (strv) { 0 };
}

static const char *
source_dir(void)
{
    const char *e = getenv("CDC_SOURCE_DIR");

    return e && *e ? e : CDC_SOURCE_DIR;
}

static bool
ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);

    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Adds the .c and .h files under rel (relative to the source root), sorted by the caller. */
static void
walk(const char *rel, strv *files)
{
    char           path[4096];
    DIR           *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
    d = opendir(path);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char        sub[2048];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
        snprintf(path, sizeof(path), "%s/%s", source_dir(), sub);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            walk(sub, files);
        else if (ends_with(sub, ".c") || ends_with(sub, ".h"))
            strv_add(files, sub);
    }
    closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static strv
source_files(void)
{
    strv files = { 0 };

    for (size_t i = 0; i < NROOTS; i++)
        walk(source_roots[i], &files);
    ck_assert_msg(files.n > 0, "no source files under %s", source_dir());
    qsort(files.v, files.n, sizeof(*files.v), cmp_str);
    return files;
}

static bool
file_exists(const char *rel)
{
    char        path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------- the objects */

typedef struct symdef {
    char *name;
    int   file;     /* index in the object list */
} symdef;

typedef struct objgraph {
    strv    src;        /* per object: its source file, relative to the root */
    strv   *undef;      /* per object: the symbols it uses and does not define */
    symdef *defs;       /* every global symbol defined, sorted by name */
    size_t  ndefs, capdefs;
} objgraph;

static const char *
objects_list(void)
{
    const char *e = getenv("CDC_LAYER_OBJECTS");

    return e && *e ? e : CDC_LAYER_OBJECTS;
}

/*
 * CMake names the object of <root>/x/y.c ".../CMakeFiles/<target>.dir/x/y.c.o";
 * the path after ".dir/" is the source file's (an archive member would keep
 * only "y.c.o", and two files of one layer may share a name).
 */
static bool
object_source(const char *obj, char *out, size_t outsz)
{
    const char *p = strstr(obj, "/CMakeFiles/");
    const char *q;
    size_t      n;

    if (p == NULL || (q = strstr(p, ".dir/")) == NULL)
        return false;
    q += 5;
    while (strncmp(q, "./", 2) == 0)     /* CMake keeps the "./" of a relative glob */
        q += 2;
    n = strlen(q);
    if (n > 2 && strcmp(q + n - 2, ".o") == 0)
        n -= 2;
    else if (n > 4 && strcmp(q + n - 4, ".obj") == 0)
        n -= 4;
    else
        return false;
    snprintf(out, outsz, "%.*s", (int) n, q);
    return true;
}

/* Runs `nm -A -P` once on every object and files their global symbols. */
static void
nm_objects(objgraph *g, const strv *objs)
{
    char **argv = calloc(objs->n + 4, sizeof(*argv));
    int    fds[2], status;
    pid_t  pid;
    FILE  *fp;
    char   line[4096];

    ck_assert_ptr_nonnull(argv);
    argv[0] = "nm";
    argv[1] = "-A";
    argv[2] = "-P";
    for (size_t i = 0; i < objs->n; i++)
        argv[3 + i] = objs->v[i];
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("nm", argv);
        _exit(127);
    }
    close(fds[1]);
    free(argv);
    fp = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *colon = strstr(line, ": ");   /* "OBJECT: NAME TYPE [VALUE SIZE]" */
        char  name[2048], type;
        int   idx;

        if (colon == NULL)
            continue;
        *colon = '\0';
        idx = strv_find(objs, line);
        if (idx < 0 || sscanf(colon + 2, "%2047s %c", name, &type) != 2)
            continue;
        if (type == 'U') {
            strv_add(&g->undef[idx], name);
        } else if (isupper((unsigned char) type)) {
            if (g->ndefs == g->capdefs) {
                g->capdefs = g->capdefs ? 2 * g->capdefs : 1024;
                g->defs = realloc(g->defs, g->capdefs * sizeof(*g->defs));
                ck_assert_ptr_nonnull(g->defs);
            }
            g->defs[g->ndefs].name = strdup(name);
            g->defs[g->ndefs].file = idx;
            g->ndefs++;
        }
    }
    fclose(fp);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "nm -A -P on the layer objects failed (is binutils' nm on PATH?)");
}

static int
cmp_def(const void *a, const void *b)
{
    return strcmp(((const symdef *) a)->name, ((const symdef *) b)->name);
}

static void
load_objects(objgraph *g)
{
    FILE *fp = fopen(objects_list(), "r");
    char  line[4096];
    strv  objs = { 0 };

    *g = (objgraph) { 0 };
    ck_assert_msg(fp != NULL, "%s: cannot open the list of the layer libraries' objects "
                  "(written by CMakeLists.txt; re-run cmake)", objects_list());
    while (fgets(line, sizeof(line), fp) != NULL) {
        char src[2048];

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        ck_assert_msg(object_source(line, src, sizeof(src)),
                      "%s: cannot tell the source file of this object", line);
        strv_add(&objs, line);
        strv_add(&g->src, src);
    }
    fclose(fp);
    ck_assert_msg(objs.n > 0, "%s lists no objects", objects_list());
    g->undef = calloc(objs.n, sizeof(*g->undef));
    ck_assert_ptr_nonnull(g->undef);
    nm_objects(g, &objs);
    qsort(g->defs, g->ndefs, sizeof(*g->defs), cmp_def);
    strv_free(&objs);
}

static void
free_objects(objgraph *g)
{
    for (size_t i = 0; i < g->src.n; i++)
        strv_free(&g->undef[i]);
    free(g->undef);
    for (size_t i = 0; i < g->ndefs; i++)
        free(g->defs[i].name);
    free(g->defs);
    strv_free(&g->src);
}

/* The file-level "uses" graph: edge[a * n + b] lists the symbols a uses from b. */
static strv *
call_edges(const objgraph *g)
{
    size_t n = g->src.n;
    strv  *edge = calloc(n * n, sizeof(*edge));

    ck_assert_ptr_nonnull(edge);
    for (size_t a = 0; a < n; a++)
        for (size_t k = 0; k < g->undef[a].n; k++) {
            symdef  key = { .name = g->undef[a].v[k] };
            symdef *d = bsearch(&key, g->defs, g->ndefs, sizeof(*g->defs), cmp_def);

            if (d != NULL && (size_t) d->file != a)
                strv_add(&edge[a * n + (size_t) d->file], key.name);
        }
    return edge;
}

static void
free_edges(strv *edge, size_t n)
{
    for (size_t i = 0; i < n * n; i++)
        strv_free(&edge[i]);
    free(edge);
}

/* "a, b, c" or "a, b, c and 4 more" */
static const char *
sym_list(const strv *s, char *buf, size_t bufsz)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < s->n && i < 3; i++)
        off += (size_t) snprintf(buf + off, off < bufsz ? bufsz - off : 0, "%s%s",
                                 i ? ", " : "", s->v[i]);
    if (s->n > 3 && off < bufsz)
        snprintf(buf + off, bufsz - off, " and %zu more", s->n - 3);
    return buf;
}

/* ------------------------------------------------------------- cycles */

/*
 * Tarjan's strongly connected components over an adjacency matrix: comp[v]
 * is the component of v; components with more than one file are cycles.
 */
typedef struct tarjan {
    const bool *adj;
    size_t      n;
    int        *index, *low, *stack, *comp;
    bool       *on;
    int         next, sp, ncomp;
} tarjan;

static void
strongconnect(tarjan *t, int v)
{
    t->index[v] = t->low[v] = t->next++;
    t->stack[t->sp++] = v;
    t->on[v] = true;
    for (size_t w = 0; w < t->n; w++) {
        if (!t->adj[(size_t) v * t->n + w])
            continue;
        if (t->index[w] < 0) {
            strongconnect(t, (int) w);
            if (t->low[w] < t->low[v])
                t->low[v] = t->low[w];
        } else if (t->on[w] && t->index[w] < t->low[v]) {
            t->low[v] = t->index[w];
        }
    }
    if (t->low[v] == t->index[v]) {
        int w;

        do {
            w = t->stack[--t->sp];
            t->on[w] = false;
            t->comp[w] = t->ncomp;
        } while (w != v);
        t->ncomp++;
    }
}

/* Fills comp (n entries); returns the number of components. */
static int
components(const bool *adj, size_t n, int *comp)
{
    tarjan t = { .adj = adj, .n = n, .comp = comp };

    t.index = malloc(n * sizeof(int));
    t.low = malloc(n * sizeof(int));
    t.stack = malloc(n * sizeof(int));
    t.on = calloc(n, sizeof(bool));
    ck_assert(t.index && t.low && t.stack && t.on);
    for (size_t i = 0; i < n; i++)
        t.index[i] = -1;
    for (size_t i = 0; i < n; i++)
        if (t.index[i] < 0)
            strongconnect(&t, (int) i);
    free(t.index);
    free(t.low);
    free(t.stack);
    free(t.on);
    return t.ncomp;
}

static int
comp_size(const int *comp, size_t n, int c)
{
    int k = 0;

    for (size_t i = 0; i < n; i++)
        k += comp[i] == c;
    return k;
}

/* ---------------------------------------------------------- the rules, tested */

START_TEST(rules_layer_of)
{
    static const struct {
        const char *path, *layer;
    } cases[] = {
        { "agent/core/cdc_err.h",          "agent/core" },
        { "agent/core/net/http.c",         "agent/core/net" },
        { "agent/core/dest/acks.c",        "agent/core/dest" },
        { "agent/core/x/y.c",              "agent/core" },
        { "decoder/values.c",              "decoder" },
        { "transports/kafka/kafka.c",      "transports/kafka" },
        { "transports/pubsub/sub/x.c",     "transports/pubsub" },
        { "sinks/iceberg/parquet/page.c",  "sinks/iceberg" },
        { "agent/cmd/main.c",              "agent/cmd" },
        { "transports/loose.c",            "(none)" },
        { "agent/other/x.c",               "(none)" },
        { "agentx/y.c",                    "(none)" },
    };
    char out[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        layer_of(cases[i].path, out, sizeof(out));
        ck_assert_msg(strcmp(out, cases[i].layer) == 0, "%s: layer %s, expected %s",
                      cases[i].path, out, cases[i].layer);
    }
}
END_TEST

START_TEST(rules_allows)
{
    static const struct {
        const char *from, *to;
        bool        ok;
        const char *why;
    } cases[] = {
        { "decoder/reader.c", "agent/config/config.h", false,
          "layer decoder may not use layer agent/config" },
        { "decoder/reader.c", "decoder/values_int.h", true, NULL },
        { "decoder/reader.c", "agent/core/cdc_err.h", true, NULL },
        { "agent/core/cdc_buf.c", "agent/core/net/http.h", false,
          "layer agent/core may not use layer agent/core/net" },
        { "agent/core/net/pgconn.h", "agent/config/config.h", false,
          "layer agent/core/net may not use layer agent/config" },
        { "agent/core/dest/dlq.c", "agent/core/net/pgconn.h", true, NULL },
        { "transports/kafka/kafka.h", "agent/config/config.h", false,
          "layer transports/kafka may not use layer agent/config" },
        { "transports/kafka/kafka.c", "sinks/webhook/webhook.h", false,
          "layer transports/kafka may not use layer sinks/webhook" },
        { "sinks/postgres/postgres.c", "sinks/webhook/webhook.h", false,
          "layer sinks/postgres may not use layer sinks/webhook: "
          "one destination never uses another" },
        { "transports/pubsub/pubsub.c", "transports/kafka/kafka.h", false,
          "layer transports/pubsub may not use layer transports/kafka: "
          "one destination never uses another" },
        { "sinks/iceberg/parquet/page.c", "sinks/iceberg/iceberg.h", true, NULL },
        { "sinks/iceberg/commit.c", "agent/core/net/http.h", true, NULL },
        { "sinks/jsonl/jsonl.c", "decoder/values.h", false,
          "layer sinks/jsonl may not use layer decoder" },
        { "schemas/registry.c", "agent/core/net/http.h", true, NULL },
        { "schemas/json.c", "agent/core/net/http.h", false,
          "layer schemas may not use layer agent/core/net" },
        { "schemas/json.c", "decoder/relcache.h", true, NULL },
        { "agent/pipeline/dest_registry.c", "transports/kafka/kafka.h", true, NULL },
        { "agent/pipeline/run.c", "agent/cmd/verify.h", false,
          "layer agent/pipeline may not use layer agent/cmd" },
        { "agent/ops/metrics.h", "agent/core/cdc_health.h", true, NULL },
        { "agent/ops/metrics.h", "agent/core/dest/cdc_dest.h", false,
          "layer agent/ops may not use layer agent/core/dest" },
        { "agent/ops/health.c", "agent/pipeline/router.h", false,
          "layer agent/ops may not use layer agent/pipeline" },
        { "agent/source/repl.c", "agent/config/config.h", true, NULL },
        { "agent/cmd/dlq_cli.c", "sinks/webhook/webhook.h", true, NULL },
        { "agent/config/config.c", "agent/other/x.h", false,
          "agent/other/x.h belongs to no layer of test/unit/test_layers.c's table" },
    };
    char why[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool ok;

        why[0] = '\0';
        ok = layer_allows(cases[i].from, cases[i].to, why, sizeof(why));
        ck_assert_msg(ok == cases[i].ok, "%s -> %s: %s", cases[i].from, cases[i].to,
                      ok ? "allowed" : why);
        if (!ok)
            ck_assert_str_eq(why, cases[i].why);
    }
}
END_TEST

START_TEST(rules_cycles)
{
    /* 0 <-> 1; 2 -> 3 -> 4 -> 2; 5 -> 0; 6 alone */
    enum { N = 7 };
    bool adj[N * N] = { false };
    int  comp[N];

    adj[0 * N + 1] = adj[1 * N + 0] = true;
    adj[2 * N + 3] = adj[3 * N + 4] = adj[4 * N + 2] = true;
    adj[5 * N + 0] = true;
    ck_assert_int_eq(components(adj, N, comp), 4);
    ck_assert_int_eq(comp[0], comp[1]);
    ck_assert_int_eq(comp_size(comp, N, comp[0]), 2);
    ck_assert(comp[2] == comp[3] && comp[3] == comp[4]);
    ck_assert_int_eq(comp_size(comp, N, comp[2]), 3);
    ck_assert_int_eq(comp_size(comp, N, comp[5]), 1);
    ck_assert_int_eq(comp_size(comp, N, comp[6]), 1);
}
END_TEST

START_TEST(rules_object_source)
{
    char out[512];

    ck_assert(object_source("/b/CMakeFiles/cdc_decoder.dir/decoder/typemap.c.o", out, sizeof(out)));
    ck_assert_str_eq(out, "decoder/typemap.c");
    ck_assert(object_source("/b/CMakeFiles/cdc_destkit.dir/agent/core/dest/acks.c.o", out,
                            sizeof(out)));
    ck_assert_str_eq(out, "agent/core/dest/acks.c");
    ck_assert(object_source("/b/CMakeFiles/cdc_core.dir/./agent/core/cdc_buf.c.o", out,
                            sizeof(out)));
    ck_assert_str_eq(out, "agent/core/cdc_buf.c");
    ck_assert(!object_source("/b/typemap.o", out, sizeof(out)));
}
END_TEST

/* ------------------------------------------------------- the tree, checked */

/* Every quoted include: root-relative, existing, and allowed by the table. */
START_TEST(includes_follow_layers)
{
    strv files = source_files();
    int  bad = 0;

    for (size_t i = 0; i < files.n; i++) {
        char  path[4096], line[4096];
        FILE *fp;
        int   lineno = 0;

        snprintf(path, sizeof(path), "%s/%s", source_dir(), files.v[i]);
        fp = fopen(path, "r");
        ck_assert_msg(fp != NULL, "%s: cannot open", path);
        while (fgets(line, sizeof(line), fp) != NULL) {
            const char *p = line;
            char        inc[1024], why[512];
            size_t      n;

            lineno++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p++ != '#')
                continue;
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, "include", 7) != 0)
                continue;
            p += 7;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p++ != '"')
                continue;
            n = strcspn(p, "\"");
            snprintf(inc, sizeof(inc), "%.*s", (int) n, p);
            if (strstr(inc, "../") != NULL || strncmp(inc, "./", 2) == 0) {
                fprintf(stderr, "%s:%d: includes \"%s\" (spell includes from the source root, "
                        "as \"agent/core/cdc_err.h\", never with ../)\n", files.v[i], lineno, inc);
                bad++;
            } else if (!file_exists(inc)) {
                fprintf(stderr, "%s:%d: includes \"%s\", which is no file of the source tree "
                        "(spell includes from the source root)\n", files.v[i], lineno, inc);
                bad++;
            } else if (!layer_allows(files.v[i], inc, why, sizeof(why))) {
                fprintf(stderr, "%s: includes %s (%s)\n", files.v[i], inc, why);
                bad++;
            }
        }
        fclose(fp);
    }
    strv_free(&files);
    ck_assert_msg(bad == 0, "%d include(s) break DESIGN.md's layers (listed on stderr)", bad);
}
END_TEST

/* What each object uses from another file follows the same table. */
START_TEST(calls_follow_layers)
{
    objgraph g;
    strv    *edge;
    size_t   n;
    int      bad = 0;

    load_objects(&g);
    n = g.src.n;
    edge = call_edges(&g);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            char why[512], syms[512];

            if (edge[a * n + b].n == 0 || layer_allows(g.src.v[a], g.src.v[b], why, sizeof(why)))
                continue;
            fprintf(stderr, "%s: calls %s: %s (%s)\n", g.src.v[a], g.src.v[b],
                    sym_list(&edge[a * n + b], syms, sizeof(syms)), why);
            bad++;
        }
    free_edges(edge, n);
    free_objects(&g);
    ck_assert_msg(bad == 0, "%d file(s) use another file across DESIGN.md's layers "
                  "(listed on stderr)", bad);
}
END_TEST

/* No two files call each other, directly or round a longer cycle. */
START_TEST(no_call_cycles)
{
    objgraph g;
    strv    *edge;
    bool    *adj;
    int     *comp, ncomp, bad = 0;
    size_t   n;

    load_objects(&g);
    n = g.src.n;
    edge = call_edges(&g);
    adj = calloc(n * n, sizeof(bool));
    comp = calloc(n, sizeof(int));
    ck_assert(adj && comp);
    for (size_t i = 0; i < n * n; i++)
        adj[i] = edge[i].n > 0;
    ncomp = components(adj, n, comp);
    for (int c = 0; c < ncomp; c++) {
        if (comp_size(comp, n, c) < 2)
            continue;
        fprintf(stderr, "call cycle between");
        for (size_t a = 0; a < n; a++)
            if (comp[a] == c)
                fprintf(stderr, " %s", g.src.v[a]);
        fprintf(stderr, ":\n");
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++) {
                char syms[512];

                if (comp[a] == c && comp[b] == c && edge[a * n + b].n > 0)
                    fprintf(stderr, "    %s calls %s: %s\n", g.src.v[a], g.src.v[b],
                            sym_list(&edge[a * n + b], syms, sizeof(syms)));
            }
        bad++;
    }
    free(adj);
    free(comp);
    free_edges(edge, n);
    free_objects(&g);
    ck_assert_msg(bad == 0, "%d call cycle(s) between files (listed on stderr): move what "
                  "both sides need into a file that both call", bad);
}
END_TEST

/*
 * Every source file belongs to a layer of the table and (.c files) has its
 * object among the layer libraries'; the folders of CMakeLists.txt's
 * cdc_layer lines are the table's rows.
 */
START_TEST(table_matches_tree_and_cmake)
{
    strv     files = source_files(), cmake_dirs = { 0 };
    objgraph g;
    char     path[4096], line[4096], layer[256];
    FILE    *fp;
    int      bad = 0;

    load_objects(&g);
    for (size_t i = 0; i < files.n; i++) {
        if (layer_of(files.v[i], layer, sizeof(layer)) < 0) {
            fprintf(stderr, "%s: belongs to no layer of the table in test/unit/test_layers.c "
                    "(DESIGN.md, Layers)\n", files.v[i]);
            bad++;
        } else if (ends_with(files.v[i], ".c") && strcmp(files.v[i], "agent/cmd/main.c") != 0
                   && strv_find(&g.src, files.v[i]) < 0) {
            fprintf(stderr, "%s: not among the objects of the layer libraries (%s; re-run cmake)\n",
                    files.v[i], objects_list());
            bad++;
        }
    }

    snprintf(path, sizeof(path), "%s/CMakeLists.txt", source_dir());
    fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "%s: cannot open", path);
    while (fgets(line, sizeof(line), fp) != NULL) {
        char name[256], dir[256];

        if (sscanf(line, " cdc_layer(%255s %255[^ )\n]", name, dir) == 2)
            strv_add(&cmake_dirs, dir);
    }
    fclose(fp);
    ck_assert_msg(cmake_dirs.n > 0, "%s: no cdc_layer(...) line", path);
    for (size_t i = 0; i < cmake_dirs.n; i++) {
        char probe[512];
        int  row;

        snprintf(probe, sizeof(probe), "%s/x.c", cmake_dirs.v[i]);
        row = layer_of(probe, layer, sizeof(layer));
        if (row < 0 || strcmp(layer, cmake_dirs.v[i]) != 0) {
            fprintf(stderr, "CMakeLists.txt: cdc_layer folder %s is no row of the table in "
                    "test/unit/test_layers.c (DESIGN.md, Layers)\n", cmake_dirs.v[i]);
            bad++;
        }
    }
    for (size_t i = 0; i < NTABLE; i++)
        if (strchr(layer_table[i].dir, '*') == NULL
            && strv_find(&cmake_dirs, layer_table[i].dir) < 0) {
            fprintf(stderr, "test/unit/test_layers.c: layer %s has no cdc_layer line in "
                    "CMakeLists.txt\n", layer_table[i].dir);
            bad++;
        }
    strv_free(&cmake_dirs);
    strv_free(&files);
    free_objects(&g);
    ck_assert_msg(bad == 0, "%d mismatch(es) between the layer table, the tree and "
                  "CMakeLists.txt (listed on stderr)", bad);
}
END_TEST

static Suite *
layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *rules = tcase_create("rules");
    TCase *tree = tcase_create("tree");

    tcase_add_test(rules, rules_layer_of);
    tcase_add_test(rules, rules_allows);
    tcase_add_test(rules, rules_cycles);
    tcase_add_test(rules, rules_object_source);
    suite_add_tcase(s, rules);

    tcase_set_timeout(tree, 60);
    tcase_add_test(tree, table_matches_tree_and_cmake);
    tcase_add_test(tree, includes_follow_layers);
    tcase_add_test(tree, calls_follow_layers);
    tcase_add_test(tree, no_call_cycles);
    suite_add_tcase(s, tree);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(layers_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
