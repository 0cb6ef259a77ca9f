#!/usr/bin/env bash
# 061: a listed partitioned table is captured through its root (issue 17): the publication the
# agent creates publishes via the partition root, so inserts, updates and deletes in any
# partition - one created, attached or detached while streaming, an update that moves a row to
# another partition - come as the root's events on the root's topic; the snapshot reads each
# row once; validate and a restart work.  A partition listed with its root is refused, and so
# is an existing publication that publishes the root through its partitions, at start and while
# streaming (where the agent stops before the slot moves past the change).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE m (id int NOT NULL, region int NOT NULL, v text, PRIMARY KEY (id, region))
       PARTITION BY RANGE (region)" \
    "CREATE TABLE m_p1 PARTITION OF m FOR VALUES FROM (0) TO (10)" \
    "CREATE TABLE m_p2 PARTITION OF m FOR VALUES FROM (10) TO (20)" \
    "CREATE TABLE m_p3 PARTITION OF m FOR VALUES FROM (20) TO (30)" \
    "INSERT INTO m VALUES (1, 1, 'a'), (2, 11, 'b'), (3, 21, 'c')"

P_TABLES=public.m P_SNAPSHOT=initial P_SOURCE_EXTRA="skipped_operations: none" write_pipeline
write_platform
if [ "$(sql_su "SHOW server_version_num")" -lt 130000 ]; then
    # PostgreSQL 12 cannot publish a partitioned table: refused before anything is created.
    cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
    expect_eq "PostgreSQL 12: a partitioned table is refused (exit 2)" "$CDC_RC" 2
    expect_contains "the message says why and what to list" "$(cat "$T/cdc.err")" \
        "table public.m is partitioned, and PostgreSQL before 13 cannot publish a partitioned table: list its partitions"
    expect_eq "no slot, no publication" \
        "$(sql_su "SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication)")" 0
    done_testing
    exit 0
fi
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate accepts a partitioned table" "$CDC_RC" 0

agent_start
wait_lines "$EVENTS" 3 60
expect_eq "publication publishes via the partition root" \
    "$(sql_su "SELECT pubviaroot FROM pg_publication WHERE pubname = 'cdc_publication'")" t

# Streaming: one change in each partition, a row moved between partitions, a delete.
sql "INSERT INTO m VALUES (4, 2, 'd'), (5, 12, 'e'), (6, 22, 'f')"
sql "UPDATE m SET v = 'a2' WHERE id = 1"
sql "UPDATE m SET region = 13 WHERE id = 2"          # m_p2 -> m_p2 (same partition, key change)
sql "UPDATE m SET region = 23 WHERE id = 4"          # m_p1 -> m_p3: moves the row
sql "DELETE FROM m WHERE id = 5"
# A partition created, one attached (with a row that was there before), one detached.
# PostgreSQL 13 and 14's walsender does not notice ATTACH/DETACH PARTITION (fixed in 15): the
# workaround docs/dba.md gives, a no-op ALTER PUBLICATION after each, is applied there.
if [ "$(sql_su "SHOW server_version_num")" -lt 150000 ]; then
    REFRESH="ALTER PUBLICATION cdc_publication SET (publish_via_partition_root = true)"
else
    REFRESH="SELECT 1"
fi
sql "CREATE TABLE m_p4 PARTITION OF m FOR VALUES FROM (30) TO (40)"
sql "INSERT INTO m VALUES (7, 31, 'g')"
sql "CREATE TABLE m_p5 (id int NOT NULL, region int NOT NULL, v text, PRIMARY KEY (id, region))" \
    "INSERT INTO m_p5 VALUES (8, 41, 'before attach')" \
    "ALTER TABLE m ATTACH PARTITION m_p5 FOR VALUES FROM (40) TO (50)" "$REFRESH"
sql "INSERT INTO m VALUES (9, 42, 'h')"
sql "UPDATE m SET v = 'h2' WHERE id = 8"
sql "ALTER TABLE m DETACH PARTITION m_p3" "$REFRESH"
sql "INSERT INTO m_p3 VALUES (10, 25, 'detached')"   # no longer part of m: not captured
sql "TRUNCATE m_p2"      # a partition alone: PostgreSQL does not publish it via the root
sql "TRUNCATE m"        # the root: one truncate of m
sql "INSERT INTO m VALUES (11, 3, 'last')"
# r r r | c c c | u | d(+tombstone) c | d(+tombstone) c | d(+tombstone) | c | c | u | t | c: 20
wait_lines "$EVENTS" 20 60
sleep 1
agent_stop

F=$EVENTS
note "ops: $(jl_ops "$F")"
expect_eq "ops of the snapshot and the stream" "$(jl_ops "$F")" "r r r c c c u d c d c d c c u t c"
jl_check "snapshot: each row once" "$F" \
    'sorted(e["key"]["id"] for e in data if get(e, "value.op") == "r") == [1, 2, 3]'
jl_check "every event names the root table m" "$F" \
    'all(get(e, "value.source.table") == "m" and get(e, "value.source.schema") == "public" for e in data)'
jl_check "every event is on the root's topic" "$F" \
    'set(get(e, "metadata.topic") for e in evs) == {"cdc.public.m"}'
jl_check "the row moved from m_p1 to m_p3: delete of (4,2), create of (4,23)" "$F" \
    '[(get(e, "value.op"), e["key"]) for e in data if e["key"] and e["key"]["id"] == 4] == [("c", {"id": 4, "region": 2}), ("d", {"id": 4, "region": 2}), ("c", {"id": 4, "region": 23})]'
jl_check "changes in a partition created and one attached while streaming are captured" "$F" \
    '[(e["key"]["id"], get(e, "value.op")) for e in data if e["key"] and e["key"]["id"] in (7, 8, 9)] == [(7, "c"), (9, "c"), (8, "u")]'
jl_check "a detached partition's insert is not captured" "$F" \
    'all(not e["key"] or e["key"]["id"] != 10 for e in evs)'
jl_check "TRUNCATE m: one truncate event of m (TRUNCATE m_p2 alone is not published via the root)" "$F" \
    '[get(e, "value.source.table") for e in data if get(e, "value.op") == "t"] == ["m"]'
jl_check "the last insert came through" "$F" \
    'get(data[-1], "value.after") == {"id": 11, "region": 3, "v": "last"}'

# Restart: no second snapshot, streaming goes on.
agent_start
sql "INSERT INTO m VALUES (12, 14, 'after restart')"
wait_lines "$EVENTS" 21 60
sleep 1
agent_stop
expect_eq "after the restart: one more event, no second snapshot" "$(line_count "$F")" 21
jl_check "the insert after the restart is the root's" "$F" \
    'get(evs[-1], "value.after") == {"id": 12, "region": 14, "v": "after restart"} and get(evs[-1], "value.source.table") == "m"'

# A partition listed with its root would be captured twice: refused before any slot.
P_TABLES="public.m, public.m_p1" P_SLOT=s2 P_PUB=pub2 write_pipeline
cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "a partition listed with its root: exit 2" "$CDC_RC" 2
expect_contains "the message names both" "$(cat "$T/cdc.err")" \
    "table public.m_p1 (source.tables) is a partition of public.m, also listed: its rows would be captured twice; list only public.m"
expect_eq "no slot was created" "$(slot_field s2 slot_name)" ""

# An existing publication that publishes the root through its partitions: refused at start.
sql_su "CREATE PUBLICATION leafpub FOR TABLE m"
P_TABLES=public.m P_SLOT=s3 P_PUB=leafpub write_pipeline
cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "publication without publish_via_partition_root: exit 2" "$CDC_RC" 2
expect_contains "the message says why and what to run" "$(cat "$T/cdc.err")" \
    "publication leafpub publishes partitioned table public.m through its partitions: run ALTER PUBLICATION \"leafpub\" SET (publish_via_partition_root = true)"
expect_eq "no slot was created" "$(slot_field s3 slot_name)" ""

# A publication via the root that holds only a partition: the root must be added.
sql_su "CREATE PUBLICATION p1pub FOR TABLE m_p1 WITH (publish_via_partition_root = true)"
P_TABLES=public.m P_SLOT=s4 P_PUB=p1pub write_pipeline
cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "publication via the root without the root: exit 2" "$CDC_RC" 2
expect_contains "the message gives the ADD TABLE" "$(cat "$T/cdc.err")" \
    'publication p1pub exists but does not publish public.m; add it (ALTER PUBLICATION "p1pub" ADD TABLE "public"."m")'

# The agent's publication altered while it streams: the partition's change stops the agent,
# the slot is not confirmed past it.
P_TABLES=public.m write_pipeline
agent_start
sql "INSERT INTO m VALUES (13, 4, 'before alter')"
wait_lines "$EVENTS" 22 60
sql_su "ALTER PUBLICATION cdc_publication SET (publish_via_partition_root = false)"
sql "INSERT INTO m VALUES (14, 5, 'leaf')"
agent_wait_exit 60
expect_eq "the agent stops (exit 2) on a change published under a partition's name" "$AGENT_RC" 2
expect_contains "the log names the partition and why" "$(cat "$T/agent.log")" \
    "table public.m_p1 is a partition of a table in source.tables, but publication cdc_publication sends its change at"
expect_contains "the error names the fix" "$(cat "$T/agent.log")" \
    "of partition public.m_p1 comes under its own name, not its listed root's: publication cdc_publication needs publish_via_partition_root = true"
at=$(sed -n 's/.*cdcagent: run: change at \([0-9A-F/]*\) of partition.*/\1/p' "$T/agent.log" | tail -1)
check "the error names the change's LSN ($at)" [ -n "$at" ]
note "stopped at $at; slot confirmed $(slot_field cdc_slot confirmed_flush_lsn)"
# Not confirmed past it: with the setting back on, a second start is sent the same change -
# decoded with the publication as it was when the change was written, so under the
# partition's name again - and stops on it again (docs/dba.md: drop the slot to go on).
sql_su "ALTER PUBLICATION cdc_publication SET (publish_via_partition_root = true)"
cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "a second start stops again (exit 2)" "$CDC_RC" 2
expect_contains "on the same change: the slot did not move past it" "$(cat "$T/cdc.err")" \
    "change at $at of partition public.m_p1"
check "the change was not delivered" [ "$(line_count "$F")" -eq 22 ]
check "no 'ignoring it' for a partition of a listed table" \
    bash -c "! grep -q 'm_p1 is published but not in source.tables' '$T/agent.log'"

# FOR ALL TABLES via the root: a partition detached while streaming is a table of its own,
# published under its own name and not listed: ignored, not taken for the root's partition.
sql_su "CREATE PUBLICATION allpub FOR ALL TABLES WITH (publish_via_partition_root = true)"
: >"$EVENTS"
P_TABLES=public.m P_SLOT=s5 P_PUB=allpub P_SNAPSHOT=never write_pipeline
P_SLOT=s5 agent_start
sql "INSERT INTO m VALUES (20, 6, 'in m_p1')"
wait_lines "$EVENTS" 1 60
sql_su "ALTER TABLE m DETACH PARTITION m_p1" \
    "$( [ "$REFRESH" = "SELECT 1" ] && echo "SELECT 1" || echo "ALTER PUBLICATION allpub SET (publish_via_partition_root = true)")"
sql "INSERT INTO m_p1 VALUES (21, 7, 'detached')"
sql "INSERT INTO m VALUES (22, 15, 'in m_p2')"
wait_lines "$EVENTS" 2 60
sleep 1
agent_stop
jl_check "FOR ALL TABLES: the root's changes only, the detached partition's ignored" "$EVENTS" \
    '[(get(e, "value.source.table"), e["key"]["id"]) for e in data] == [("m", 20), ("m", 22)]'

done_testing
