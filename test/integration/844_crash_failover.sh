#!/usr/bin/env bash
# 844: a crash failover (PostgreSQL 17, docs/ha.md "Crash failover").  840's primary,
# asynchronous physical standby, failover slot, loader, jsonl file and PostgreSQL replica, but
# the old primary is stopped with `pg_ctl stop -m immediate` while the loader writes (a
# crash: its walsenders do not send the rest of the WAL), then the standby is promoted.
# Checked as in 840: the agent resumes on the new primary (seconds printed, < 60 s), no
# second snapshot, both sinks equal the new primary's table with every change once.  Nothing
# the agent delivered can be missing on the new primary: synchronized_standby_slots holds the
# failover slot's changes back until the standby has flushed their WAL, so a sink never
# holds a row the new primary lacks.  What a crash can lose is printed, not asserted: commits
# the old primary acknowledged but the asynchronous standby had not received (they are on
# neither the new primary nor any sink; synchronous_standby_names would keep them).
HA_STOP_MODE=immediate
# shellcheck source=SCRIPTDIR/840_failover_slot.sh
. "$(dirname "$0")/840_failover_slot.sh"
