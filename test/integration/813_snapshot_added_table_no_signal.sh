#!/usr/bin/env bash
# 813: 810 (a table added to source.tables while the agent is down is snapshotted by itself
# at the next start) WITHOUT source.signal_data_collection, on PostgreSQL 15: the added
# table's incremental snapshot marks its windows with logical decoding messages
# (docs/snapshots.md, "A table added to source.tables").  810's checks, plus: the signal
# table stays empty and no watermark message (nor any message event) reaches the file.
IT_810_NO_SIGNAL=1 exec "$(dirname "$0")/810_snapshot_added_table.sh" "$@"
