#!/usr/bin/env bash
# 818: 802 (SIGKILL during a parallel snapshot of a keyed table under a writer, then twice in
# the resumed part; the snapshot resumes each time) WITHOUT source.signal_data_collection, on
# PostgreSQL 15: the resumed part's window markers are transactional logical decoding
# messages (docs/snapshots.md, "After a crash").  802's checks (the slot created once and
# never dropped, `verify` equal, repeats within the chunks in flight), plus: a probe slot
# (test_decoding) sees the agent's cdcagent-watermark messages, none reaches the file, an
# application's own message does, and the signal table stays empty.
IT_802_NO_SIGNAL=1 exec "$(dirname "$0")/802_parallel_snapshot_kill9.sh" "$@"
