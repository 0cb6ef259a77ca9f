#include "agent/publication.h"

#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/pgconn.h"

static int
create_publication(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    cdc_buf b = CDC_BUF_INIT;
    char    ident[300];
    int     rc;

    cdc_buf_printf(&b, "CREATE PUBLICATION %s FOR TABLE ",
                   agent_pg_quote_ident(conn, src->publication_name, ident, sizeof(ident)));
    for (int i = 0; i < src->ntables; i++) {
        char schema[64], table[64];

        if (agent_pg_split_table(src->tables[i], schema, table, err) < 0) {
            cdc_buf_free(&b);
            return -1;
        }
        cdc_buf_printf(&b, "%s%s.", i ? ", " : "", agent_pg_quote_ident(conn, schema, ident, sizeof(ident)));
        cdc_buf_puts(&b, agent_pg_quote_ident(conn, table, ident, sizeof(ident)));
    }
    rc = agent_pg_exec(conn, cdc_buf_str(&b), "creating the publication", err);
    if (rc == 0)
        log_info("agent", "publication %s: created for %d tables", src->publication_name,
                 src->ntables);
    cdc_buf_free(&b);
    return rc;
}

/* The publication must publish every configured table; an existing one is never altered. */
int
agent_ensure_publication(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *pub, *tabs;
    int         rc = 0;

    pub = agent_pg_query(conn, "SELECT puballtables FROM pg_publication WHERE pubname = $1", 1,
                         p, "reading the publication", err);
    if (pub == NULL)
        return -1;
    if (PQntuples(pub) == 0) {
        PQclear(pub);
        return create_publication(conn, src, err);
    }
    tabs = agent_pg_query(conn, "SELECT schemaname || '.' || tablename FROM "
                          "pg_publication_tables WHERE pubname = $1", 1, p,
                          "reading the publication's tables", err);
    if (tabs == NULL) {
        PQclear(pub);
        return -1;
    }
    for (int i = 0; i < src->ntables && rc == 0; i++) {
        bool found = false;

        for (int r = 0; r < PQntuples(tabs) && !found; r++)
            found = strcmp(PQgetvalue(tabs, r, 0), src->tables[i]) == 0;
        if (!found)
            rc = cdc_err_set(err, CDC_E_CONFIG, "publication %s exists but does not publish %s; "
                             "add it (ALTER PUBLICATION %s ADD TABLE %s) or name another "
                             "publication: cdcagent does not alter existing publications",
                             src->publication_name, src->tables[i],
                             src->publication_name, src->tables[i]);
    }
    if (rc == 0 && PQntuples(tabs) > src->ntables)
        log_warn("agent", "publication %s publishes %d tables, %d configured: changes to the "
                 "others are ignored", src->publication_name, PQntuples(tabs),
                 src->ntables);
    PQclear(pub);
    PQclear(tabs);
    return rc;
}

