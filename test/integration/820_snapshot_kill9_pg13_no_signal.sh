#!/usr/bin/env bash
# 820: 811 (kill -9 in the middle of a snapshot, the restart cannot resume, the slot is
# created again and the whole snapshot taken again) on PostgreSQL 13 WITHOUT
# source.signal_data_collection: before 14 pgoutput sends no logical decoding messages, so
# the resumed part's window markers would need the signal table (docs/snapshots.md, "When it
# does not resume").  811's checks, and the log names that reason and the setting.
IT_811_PG13=1 exec "$(dirname "$0")/811_snapshot_kill9_keyless.sh" "$@"
