/*
 * The publication that tells pgoutput which tables to send.  cdcagent
 * creates it (FOR TABLE the configured tables) when it is missing, and never
 * alters one that exists: a publication that lacks a configured table is
 * reported with the statement that would fix it.
 *
 * It must exist before the slot's first decoded change: pgoutput looks the
 * publication up in the catalog as of each change's WAL position, so a slot
 * created before its publication fails with "publication does not exist".
 */
#ifndef CDC_AGENT_PUBLICATION_H
#define CDC_AGENT_PUBLICATION_H

#include <libpq-fe.h>

#include "agent/config.h"
#include "agent/core/cdc_err.h"

int agent_ensure_publication(PGconn *conn, const cfg_source *src, cdc_err *err);

#endif
