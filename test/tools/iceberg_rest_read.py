#!/usr/bin/env python3
"""Reads an Iceberg REST catalog with pyiceberg's RestCatalog, the platform's own reader (and
writes through it as the other writer of a race), and writes the empty manifest lists that
test/integration/650 commits (fastavro, by hand).

  iceberg_rest_read.py table URI NS.TABLE
      one JSON object: uuid, metadata_location, current snapshot id, format version,
      schema fields [[id, name, type, required]], identifier field ids, the snapshots
      [[id, parent, sequence number, operation, summary]], and the rows a full scan returns
  iceberg_rest_read.py tables URI NS        the table names, one a line
  iceberg_rest_read.py append URI NS.TABLE FIRST N
      pyiceberg appends rows id FIRST..FIRST+N-1 (name "row<id>", other columns null) with its
      own commit through the catalog: the other writer of 650's race; prints the new
      current snapshot id
  iceberg_rest_read.py empty-manifest-list PATH SNAPSHOT_ID SEQ [PARENT]
      an Avro manifest list (format v2 manifest_file schema, field ids as in the spec) with
      no manifests: a snapshot that adds nothing, which any reader can scan

ICE_REST_CREDENTIAL ("id:secret") is handed to RestCatalog as its credential.
"""
import json
import os
import sys

MANIFEST_FILE_V2 = {
    "type": "record",
    "name": "manifest_file",
    "fields": [
        {"name": "manifest_path", "type": "string", "field-id": 500},
        {"name": "manifest_length", "type": "long", "field-id": 501},
        {"name": "partition_spec_id", "type": "int", "field-id": 502},
        {"name": "content", "type": "int", "field-id": 517},
        {"name": "sequence_number", "type": "long", "field-id": 515},
        {"name": "min_sequence_number", "type": "long", "field-id": 516},
        {"name": "added_snapshot_id", "type": "long", "field-id": 503},
        {"name": "added_files_count", "type": "int", "field-id": 504},
        {"name": "existing_files_count", "type": "int", "field-id": 505},
        {"name": "deleted_files_count", "type": "int", "field-id": 506},
        {"name": "added_rows_count", "type": "long", "field-id": 512},
        {"name": "existing_rows_count", "type": "long", "field-id": 513},
        {"name": "deleted_rows_count", "type": "long", "field-id": 514},
        {"name": "partitions", "default": None, "field-id": 507, "type": [
            "null", {"type": "array", "element-id": 508, "items": {
                "type": "record", "name": "r508", "fields": [
                    {"name": "contains_null", "type": "boolean", "field-id": 509},
                    {"name": "contains_nan", "type": ["null", "boolean"], "default": None,
                     "field-id": 518},
                    {"name": "lower_bound", "type": ["null", "bytes"], "default": None,
                     "field-id": 510},
                    {"name": "upper_bound", "type": ["null", "bytes"], "default": None,
                     "field-id": 511}]}}]},
        {"name": "key_metadata", "type": ["null", "bytes"], "default": None, "field-id": 519},
    ],
}


def catalog(uri):
    from pyiceberg.catalog.rest import RestCatalog
    props = {"uri": uri}
    if os.environ.get("ICE_REST_CREDENTIAL"):
        props["credential"] = os.environ["ICE_REST_CREDENTIAL"]
    return RestCatalog("rest", **props)


def cmd_table(uri, ident):
    t = catalog(uri).load_table(ident)
    md = t.metadata
    schema = t.schema()
    snaps = [[s.snapshot_id, s.parent_snapshot_id, s.sequence_number,
              s.summary.operation.value if s.summary else None,
              {k: v for k, v in (s.summary.additional_properties if s.summary else {}).items()}]
             for s in md.snapshots]
    rows = t.scan().to_arrow().num_rows
    print(json.dumps({
        "uuid": str(md.table_uuid),
        "metadata_location": t.metadata_location,
        "format_version": md.format_version,
        "current_snapshot_id": md.current_snapshot_id,
        "fields": [[f.field_id, f.name, str(f.field_type), f.required] for f in schema.fields],
        "identifier_field_ids": list(schema.identifier_field_ids),
        "snapshots": snaps,
        "rows": rows,
    }, sort_keys=True))


def cmd_tables(uri, ns):
    for ident in catalog(uri).list_tables(ns):
        print(ident[-1])


def cmd_append(uri, ident, first, n):
    import pyarrow as pa
    t = catalog(uri).load_table(ident)
    fields = []
    for f in t.schema().fields:
        typ = {"long": pa.int64(), "string": pa.string(), "int": pa.int32()}[str(f.field_type)]
        fields.append(pa.field(f.name, typ, nullable=not f.required))
    cols = {f.name: [None] * n for f in fields}
    cols["id"] = list(range(first, first + n))
    cols["name"] = ["row%d" % i for i in cols["id"]]
    t.append(pa.table(cols, schema=pa.schema(fields)))
    print(t.metadata.current_snapshot_id)


def cmd_empty_manifest_list(path, snapshot_id, seq, parent=None):
    import fastavro
    meta = {"snapshot-id": str(snapshot_id), "sequence-number": str(seq), "format-version": "2",
            "parent-snapshot-id": str(parent) if parent is not None else "null"}
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(MANIFEST_FILE_V2), [], metadata=meta)


def main(argv):
    if len(argv) >= 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) == 4 and argv[1] == "table":
        cmd_table(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "tables":
        cmd_tables(argv[2], argv[3])
    elif len(argv) == 6 and argv[1] == "append":
        cmd_append(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif len(argv) in (5, 6) and argv[1] == "empty-manifest-list":
        cmd_empty_manifest_list(argv[2], int(argv[3]), int(argv[4]),
                                int(argv[5]) if len(argv) == 6 else None)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
