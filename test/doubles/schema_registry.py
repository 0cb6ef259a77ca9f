#!/usr/bin/env python3
"""A TEST DOUBLE of the Confluent Schema Registry REST API (Avro only).

This is not Confluent's Schema Registry.  No real registry can run on the test
machines, so this file implements, in Python 3's standard library alone, the
part of the documented REST API that cdcagent and its tests use
(docs.confluent.io/platform/current/schema-registry/develop/api.html):

  POST   /subjects/{subject}/versions            register -> {"id": N}
  POST   /subjects/{subject}                     lookup   -> {"subject","id","version","schema"}
  GET    /subjects                               -> ["a-value", ...]
  GET    /subjects/{subject}/versions            -> [1, 2]
  GET    /subjects/{subject}/versions/{v|latest} -> {"subject","id","version","schema"}
  GET    /subjects/{subject}/versions/{v}/schema -> the schema itself
  DELETE /subjects/{subject}[?permanent=true]    -> [1, 2]   (soft, then hard delete)
  DELETE /subjects/{subject}/versions/{v}        -> v
  GET    /schemas/ids/{id}                       -> {"schema": "..."}
  GET    /schemas/ids/{id}/versions              -> [{"subject","version"}]
  POST   /compatibility/subjects/{subject}/versions/{v|latest}[?verbose=true]
  POST   /compatibility/subjects/{subject}/versions[?verbose=true]
                                                 -> {"is_compatible": bool[, "messages": [...]]}
  GET/PUT /config, GET/PUT/DELETE /config/{subject}[?defaultToGlobal=true]

Semantics copied from the registry:
  * ids are global: the same schema under two subjects gets the same id;
  * registering a schema equal to one of the subject's live versions returns
    that version's id and creates no version;
  * schemas are compared parsed, not as text: whitespace, key order, short
    versus full names, "doc" and "aliases" do not matter; field order,
    defaults and other properties (connect.*, logicalType) do;
  * compatibility levels BACKWARD (default), BACKWARD_TRANSITIVE, FORWARD,
    FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE, checked with Avro's
    schema-resolution rules (org.apache.avro.SchemaCompatibility): BACKWARD
    reads old data with the new schema, FORWARD reads new data with the old;
    the *_TRANSITIVE levels check every live version, the others the latest;
  * errors are JSON bodies {"error_code": ..., "message": ...}: 40401 subject
    not found, 40402 version not found, 40403 schema not found, 40405 subject
    not soft-deleted, 40408 no subject-level config, 409 incompatible, 42201
    invalid schema, 42202 invalid version, 42203 invalid compatibility level,
    401 unauthorized, 50001 store error (what injected 5xx failures return);
  * responses carry Content-Type application/vnd.schemaregistry.v1+json.

What it does NOT do (see docs/schema-registry.md): JSON Schema and Protobuf,
schema references, contexts, modes (READONLY/IMPORT), normalization
(?normalize=true), metadata and rule sets, leader election, persistence
(everything lives in memory), Avro's exact canonical form, and RBAC.

Test knobs, outside the real API, under /_double/ (never behind basic auth):
  GET  /_double/stats  -> {"requests": N, "by_route": {...}}  counts API calls
  POST /_double/reset  -> clears the counters
  POST /_double/fail   {"count": N, "status": 503}         the next N API calls fail
                       {"count": N, "mode": "timeout", "delay_s": 5}
                                                           ... or hang, then drop
Command line: --port 0 prints "PORT <n>" on stdout once listening; --host,
--user/--password (basic auth), --cert/--key (TLS), --client-ca (TLS: require a client
certificate signed by this CA), --fail-next N STATUS.
"""

import argparse
import base64
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
          "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SchemaError(Exception):
    """The schema text is not a valid Avro schema (error 42201)."""


# --------------------------------------------------------------------------
# Avro parsing: JSON text -> a small model of nodes.  Named types are shared
# objects, so references and recursion work; canonical() turns a model back
# into JSON with full names, which is what two schemas are compared by.
# --------------------------------------------------------------------------

class Node:
    def __init__(self, kind, **kw):
        self.kind = kind          # a primitive name, record, enum, array, map, fixed, union
        self.name = None          # full name of named types
        self.aliases = []
        self.props = {}           # other attributes: logicalType, connect.*, ...
        self.fields = []          # record: list of Field
        self.symbols = []         # enum
        self.enum_default = None
        self.items = self.values = None
        self.size = None
        self.branches = []        # union
        self.__dict__.update(kw)

    @property
    def short_name(self):
        return self.name.rsplit(".", 1)[-1] if self.name else None


class Field:
    def __init__(self, name, node, has_default, default, aliases, props):
        self.name, self.node = name, node
        self.has_default, self.default = has_default, default
        self.aliases, self.props = aliases, props


def _full_name(name, namespace):
    if not isinstance(name, str) or not name:
        raise SchemaError("a named type needs a non-empty string \"name\"")
    if "." in name:
        full = name
    elif namespace:
        full = namespace + "." + name
    else:
        full = name
    for part in full.split("."):
        if not NAME_RE.match(part):
            raise SchemaError("invalid name %r" % full)
    return full


class Parser:
    """Avro's Schema.Parser, reduced: validates as Avro 1.11 does by default
    (names, duplicate names, union rules, defaults matching their types)."""

    def __init__(self):
        self.named = {}

    def parse(self, js, ns=None):
        if isinstance(js, str):
            if js in PRIMITIVES:
                return Node(js)
            full = js if "." in js or not ns else ns + "." + js
            if full in self.named:
                return self.named[full]
            if js in self.named:
                return self.named[js]
            raise SchemaError("undefined name: %s" % js)
        if isinstance(js, list):
            return self._union(js, ns)
        if not isinstance(js, dict) or "type" not in js:
            raise SchemaError("not a schema: %s" % json.dumps(js)[:80])
        t = js["type"]
        if isinstance(t, (dict, list)):
            return self.parse(t, ns)       # {"type": {...}} nests a schema
        if t in PRIMITIVES:
            node = Node(t)
            node.props = {k: v for k, v in js.items() if k != "type"}
            return node
        if t in ("record", "error"):
            return self._record(js, ns)
        if t == "enum":
            return self._enum(js, ns)
        if t == "fixed":
            node = self._named(Node("fixed"), js, ns, ("size",))
            if not isinstance(js.get("size"), int) or js["size"] < 0:
                raise SchemaError("fixed %s needs a non-negative integer size" % node.name)
            node.size = js["size"]
            return node
        if t == "array":
            if "items" not in js:
                raise SchemaError("array needs \"items\"")
            node = Node("array", items=self.parse(js["items"], ns))
            node.props = {k: v for k, v in js.items() if k not in ("type", "items")}
            return node
        if t == "map":
            if "values" not in js:
                raise SchemaError("map needs \"values\"")
            node = Node("map", values=self.parse(js["values"], ns))
            node.props = {k: v for k, v in js.items() if k not in ("type", "values")}
            return node
        if isinstance(t, str) and (t in self.named or (ns and ns + "." + t in self.named)):
            return self.parse(t, ns)
        raise SchemaError("unknown type: %s" % json.dumps(t))

    def _named(self, node, js, ns, own_keys):
        node.name = _full_name(js.get("name"), js.get("namespace", ns))
        if node.name in self.named or node.name in PRIMITIVES:
            raise SchemaError("can't redefine: %s" % node.name)
        self.named[node.name] = node
        node.aliases = list(js.get("aliases", []))
        skip = ("type", "name", "namespace", "doc", "aliases") + own_keys
        node.props = {k: v for k, v in js.items() if k not in skip}
        return node

    def _record(self, js, ns):
        node = self._named(Node("record"), js, ns, ("fields",))
        inner_ns = node.name.rsplit(".", 1)[0] if "." in node.name else None
        if not isinstance(js.get("fields"), list):
            raise SchemaError("record %s has no fields array" % node.name)
        seen = set()
        for f in js["fields"]:
            if not isinstance(f, dict) or "name" not in f or "type" not in f:
                raise SchemaError("record %s: a field needs name and type" % node.name)
            if not NAME_RE.match(str(f["name"])) or f["name"] in seen:
                raise SchemaError("record %s: bad or duplicate field name %r" % (node.name, f["name"]))
            seen.add(f["name"])
            fnode = self.parse(f["type"], inner_ns)
            has_default = "default" in f
            if has_default and not default_ok(fnode, f["default"]):
                raise SchemaError("Invalid default for field %s: %s not a %s"
                                  % (f["name"], json.dumps(f["default"]), describe(fnode)))
            props = {k: v for k, v in f.items()
                     if k not in ("name", "type", "default", "doc", "aliases")}
            node.fields.append(Field(f["name"], fnode, has_default, f.get("default"),
                                     list(f.get("aliases", [])), props))
        return node

    def _enum(self, js, ns):
        node = self._named(Node("enum"), js, ns, ("symbols", "default"))
        syms = js.get("symbols")
        if not isinstance(syms, list) or len(set(syms)) != len(syms or []):
            raise SchemaError("enum %s needs distinct symbols" % node.name)
        for s in syms:
            if not isinstance(s, str) or not NAME_RE.match(s):
                raise SchemaError("enum %s: invalid symbol %r" % (node.name, s))
        node.symbols = syms
        if "default" in js:
            if js["default"] not in syms:
                raise SchemaError("enum %s: default %r is not a symbol" % (node.name, js["default"]))
            node.enum_default = js["default"]
        return node

    def _union(self, js, ns):
        node = Node("union", branches=[self.parse(b, ns) for b in js])
        seen = set()
        for b in node.branches:
            if b.kind == "union":
                raise SchemaError("Nested union: %s" % json.dumps(js))
            key = b.name if b.name else b.kind
            if key in seen:
                raise SchemaError("Duplicate in union: %s" % key)
            seen.add(key)
        return node


def describe(node):
    return node.name or node.kind


def default_ok(node, v):
    """Does JSON value v fit node as a field default (Avro's isValidDefault)?"""
    k = node.kind
    if k == "union":
        return bool(node.branches) and default_ok(node.branches[0], v)
    if k == "null":
        return v is None
    if k == "boolean":
        return isinstance(v, bool)
    if k in ("int", "long"):
        return isinstance(v, int) and not isinstance(v, bool)
    if k in ("float", "double"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if k in ("bytes", "string", "fixed"):
        return isinstance(v, str)
    if k == "enum":
        return v in node.symbols
    if k == "array":
        return isinstance(v, list) and all(default_ok(node.items, x) for x in v)
    if k == "map":
        return isinstance(v, dict) and all(default_ok(node.values, x) for x in v.values())
    if k == "record":
        if not isinstance(v, dict):
            return False
        return all(default_ok(f.node, v[f.name]) if f.name in v else f.has_default
                   for f in node.fields)
    return False


def parse_schema(text):
    try:
        js = json.loads(text)
    except (TypeError, ValueError) as e:
        raise SchemaError("not JSON: %s" % e)
    return Parser().parse(js)


def canonical(node, defined=None):
    """JSON value used for equality: full names, no doc/aliases, named types
    written out once and referenced by full name afterwards."""
    if defined is None:
        defined = set()
    k = node.kind
    if k in PRIMITIVES:
        return dict(node.props, type=k) if node.props else k
    if k == "union":
        return [canonical(b, defined) for b in node.branches]
    if k == "array":
        return dict(node.props, type="array", items=canonical(node.items, defined))
    if k == "map":
        return dict(node.props, type="map", values=canonical(node.values, defined))
    if node.name in defined:
        return node.name
    defined.add(node.name)
    out = dict(node.props, type=k, name=node.name)
    if k == "record":
        out["fields"] = []
        for f in node.fields:
            fj = dict(f.props, name=f.name, type=canonical(f.node, defined))
            if f.has_default:
                fj["default"] = f.default
            out["fields"].append(fj)
    elif k == "enum":
        out["symbols"] = node.symbols
        if node.enum_default is not None:
            out["default"] = node.enum_default
    elif k == "fixed":
        out["size"] = node.size
    return out


def canonical_key(node):
    return json.dumps(canonical(node), sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------
# Schema resolution, after org.apache.avro.SchemaCompatibility: can a reader
# with schema `reader` read data written with schema `writer`?  Returns a list
# of messages, empty when compatible.
# --------------------------------------------------------------------------

PROMOTIONS = {          # reader kind -> writer kinds it can read besides itself
    "long": ("int",),
    "float": ("int", "long"),
    "double": ("int", "long", "float"),
    "string": ("bytes",),
    "bytes": ("string",),
}


def _names_match(reader, writer):
    return (reader.short_name == writer.short_name
            or writer.name in reader.aliases or writer.short_name in reader.aliases)


def incompatibilities(reader, writer, path="/", busy=None):
    if busy is None:
        busy = set()
    key = (id(reader), id(writer))
    if key in busy:
        return []               # recursive types: assume compatible while checking
    busy.add(key)
    try:
        return _check(reader, writer, path, busy)
    finally:
        busy.discard(key)


def _check(r, w, path, busy):
    if w.kind == "union" and r.kind != "union":
        out = []
        for i, b in enumerate(w.branches):
            out += incompatibilities(r, b, "%s%d/" % (path, i), busy)
        return out
    if r.kind == "union":
        if w.kind == "union":
            out = []
            for i, b in enumerate(w.branches):
                if not any(not incompatibilities(rb, b, path, busy) for rb in r.branches):
                    out.append("TYPE_MISMATCH at %s%d: reader union lacking writer type: %s"
                               % (path, i, describe(b).upper()))
            return out
        if any(not incompatibilities(rb, w, path, busy) for rb in r.branches):
            return []
        return ["TYPE_MISMATCH at %s: reader union lacking writer type: %s"
                % (path, describe(w).upper())]
    if r.kind != w.kind:
        if w.kind in PROMOTIONS.get(r.kind, ()):
            return []
        return ["TYPE_MISMATCH at %s: reader type: %s not compatible with writer type: %s"
                % (path, r.kind.upper(), w.kind.upper())]
    k = r.kind
    if k in PRIMITIVES:
        return []
    if k == "array":
        return incompatibilities(r.items, w.items, path + "items/", busy)
    if k == "map":
        return incompatibilities(r.values, w.values, path + "values/", busy)
    if not _names_match(r, w):
        return ["NAME_MISMATCH at %sname: expected: %s" % (path, w.name)]
    if k == "fixed":
        if r.size != w.size:
            return ["FIXED_SIZE_MISMATCH at %ssize: expected: %d, found: %d"
                    % (path, w.size, r.size)]
        return []
    if k == "enum":
        missing = [s for s in w.symbols if s not in r.symbols]
        if missing and r.enum_default is None:
            return ["MISSING_ENUM_SYMBOLS at %ssymbols: %s" % (path, ", ".join(missing))]
        return []
    out = []                                            # record
    wfields = {f.name: f for f in w.fields}
    for i, rf in enumerate(r.fields):
        wf = wfields.get(rf.name)
        if wf is None:
            wf = next((wfields[a] for a in rf.aliases if a in wfields), None)
        fpath = "%sfields/%d/" % (path, i)
        if wf is None:
            if not rf.has_default:
                out.append("READER_FIELD_MISSING_DEFAULT_VALUE at %s: %s" % (fpath, rf.name))
        else:
            out += incompatibilities(rf.node, wf.node, fpath + "type/", busy)
    return out


def compatible_with(level, new, previous):
    """Messages for registering `new` at `level` after the live versions
    `previous` (oldest first); empty when compatible."""
    if level == "NONE" or not previous:
        return []
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    out = []
    for old in reversed(against):
        if level.startswith("BACKWARD") or level.startswith("FULL"):
            out += ["BACKWARD: " + m for m in incompatibilities(new, old)]
        if level.startswith("FORWARD") or level.startswith("FULL"):
            out += ["FORWARD: " + m for m in incompatibilities(old, new)]
    return out


# --------------------------------------------------------------------------
# The registry state and the HTTP front.
# --------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_id = {}          # id -> (text, canonical key, node)
        self.id_by_key = {}      # canonical key -> id
        self.subjects = {}       # subject -> list of {"version", "id", "deleted"}
        self.level = "BACKWARD"
        self.subject_level = {}
        self.next_id = 1

    def _live(self, subject):
        return [v for v in self.subjects.get(subject, []) if not v["deleted"]]

    def _need_live(self, subject):
        live = self._live(subject)
        if not live:
            raise ApiError(404, 40401, "Subject '%s' not found." % subject)
        return live

    def _version(self, subject, ver):
        live = self._need_live(subject)
        if ver in ("latest", "-1"):
            return live[-1]
        try:
            n = int(ver)
            if n < 1:
                raise ValueError
        except ValueError:
            raise ApiError(422, 42202, "The specified version '%s' is not a valid version id. "
                           "Allowed values are between [1, 2^31-1] and the string \"latest\"" % ver)
        for v in live:
            if v["version"] == n:
                return v
        raise ApiError(404, 40402, "Version %d not found." % n)

    def _describe(self, subject, v):
        return {"subject": subject, "version": v["version"], "id": v["id"],
                "schema": self.by_id[v["id"]][0]}

    def level_for(self, subject):
        return self.subject_level.get(subject, self.level)

    def register(self, subject, text):
        node = parse_or_422(text)
        key = canonical_key(node)
        with self.lock:
            live = self._live(subject)
            for v in live:
                if self.by_id[v["id"]][1] == key:
                    return v["id"]
            msgs = compatible_with(self.level_for(subject), node,
                                   [self.by_id[v["id"]][2] for v in live])
            if msgs:
                raise ApiError(409, 409, "Schema being registered is incompatible with an "
                               "earlier schema for subject \"%s\", details: [%s]"
                               % (subject, "; ".join(msgs)))
            sid = self.id_by_key.get(key)
            if sid is None:
                sid, self.next_id = self.next_id, self.next_id + 1
                self.by_id[sid] = (text, key, node)
                self.id_by_key[key] = sid
            versions = self.subjects.setdefault(subject, [])
            ver = versions[-1]["version"] + 1 if versions else 1
            versions.append({"version": ver, "id": sid, "deleted": False})
            return sid

    def lookup(self, subject, text):
        node = parse_or_422(text)
        key = canonical_key(node)
        with self.lock:
            for v in self._need_live(subject):
                if self.by_id[v["id"]][1] == key:
                    return self._describe(subject, v)
        raise ApiError(404, 40403, "Schema not found")

    def check(self, subject, text, ver):
        """ver None: against what the level says; else one version."""
        node = parse_or_422(text)
        with self.lock:
            level = self.level_for(subject)
            if ver is None:
                live = self._live(subject)
                prev = [self.by_id[v["id"]][2] for v in live]
                return compatible_with(level, node, prev)
            if ver in ("latest", "-1") and not self._live(subject):
                return []       # as the registry: nothing to be incompatible with
            v = self._version(subject, ver)
            single = level.replace("_TRANSITIVE", "")
            return compatible_with(single, node, [self.by_id[v["id"]][2]])

    def delete_subject(self, subject, permanent):
        with self.lock:
            versions = self.subjects.get(subject)
            if not versions:
                raise ApiError(404, 40401, "Subject '%s' not found." % subject)
            if permanent:
                if any(not v["deleted"] for v in versions):
                    raise ApiError(404, 40405, "Subject '%s' was not deleted first before "
                                   "being permanently deleted" % subject)
                del self.subjects[subject]
                self.subject_level.pop(subject, None)
                return [v["version"] for v in versions]
            live = [v for v in versions if not v["deleted"]]
            if not live:
                raise ApiError(404, 40404, "Subject '%s' was soft deleted.Set permanent=true "
                               "to delete permanently" % subject)
            for v in live:
                v["deleted"] = True
            return [v["version"] for v in live]

    def delete_version(self, subject, ver):
        with self.lock:
            v = self._version(subject, ver)
            v["deleted"] = True
            return v["version"]


def parse_or_422(text):
    if not isinstance(text, str):
        raise ApiError(422, 42201, "Invalid schema: \"schema\" must be a string")
    try:
        return parse_schema(text)
    except SchemaError as e:
        raise ApiError(422, 42201, "Invalid schema: %s" % e)
    except RecursionError:
        raise ApiError(422, 42201, "Invalid schema: nested too deeply")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "schema-registry-double/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("sr-double: " + (fmt % args) + "\n")

    # -- plumbing ---------------------------------------------------------

    def _send(self, status, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, code, message, extra=None):
        self._send(status, {"error_code": code, "message": message}, extra)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise ApiError(400, 400, "Unexpected character in request body: %s" % e)
        if not isinstance(body, dict):
            raise ApiError(400, 400, "request body must be a JSON object")
        return body

    def _authorized(self):
        user, pw = self.server.user, self.server.password
        if user is None:
            return True
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            got = base64.b64decode(h[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return got == "%s:%s" % (user, pw)

    def _injected_failure(self):
        """Consumes one injected failure; returns True when it answered."""
        srv = self.server
        with srv.knob_lock:
            if srv.fail_count <= 0:
                return False
            srv.fail_count -= 1
            mode, status, delay = srv.fail_mode, srv.fail_status, srv.fail_delay
        if mode == "timeout":
            time.sleep(delay)
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return True
        code = 50001 if status >= 500 else status      # 50001: "error in the backend store"
        self._error(status, code, "injected failure (test double): HTTP %d" % status)
        return True

    # -- dispatch ---------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        try:
            if parts[:1] == ["_double"]:
                return self._double(method, parts[1:])
            body = self._body() if method in ("POST", "PUT") else {}
            srv = self.server
            with srv.knob_lock:
                srv.requests += 1
                route = "%s /%s" % (method, "/".join(parts[:1]))
                srv.by_route[route] = srv.by_route.get(route, 0) + 1
            if not self._authorized():
                return self._error(401, 401, "Unauthorized",
                                   {"WWW-Authenticate": 'Basic realm="SchemaRegistry"'})
            if self._injected_failure():
                return None
            status, out = self._route(method, parts, query, body)
            return self._send(status, out)
        except ApiError as e:
            return self._error(e.status, e.code, e.message)

    def _route(self, method, p, q, body):
        reg = self.server.registry
        n = len(p)
        verbose = q.get("verbose", "").lower() == "true"
        if p == ["subjects"] and method == "GET":
            with reg.lock:
                return 200, sorted(s for s in reg.subjects if reg._live(s))
        if n == 2 and p[0] == "subjects":
            if method == "POST":
                return 200, reg.lookup(p[1], body.get("schema"))
            if method == "DELETE":
                return 200, reg.delete_subject(p[1], q.get("permanent", "") == "true")
        if n == 3 and p[0] == "subjects" and p[2] == "versions":
            if method == "POST":
                stype = body.get("schemaType", "AVRO")
                if stype != "AVRO":
                    raise ApiError(422, 42201, "Invalid schema type %s: this test double "
                                   "implements AVRO only" % stype)
                if body.get("references"):
                    raise ApiError(422, 42201, "schema references are not implemented by "
                                   "this test double")
                return 200, {"id": reg.register(p[1], body.get("schema"))}
            if method == "GET":
                with reg.lock:
                    return 200, [v["version"] for v in reg._need_live(p[1])]
        if n in (4, 5) and p[0] == "subjects" and p[2] == "versions":
            if method == "GET":
                with reg.lock:
                    d = reg._describe(p[1], reg._version(p[1], p[3]))
                if n == 5 and p[4] == "schema":
                    return 200, json.loads(d["schema"])
                if n == 4:
                    return 200, d
            if method == "DELETE" and n == 4:
                return 200, reg.delete_version(p[1], p[3])
        if p[:2] == ["schemas", "ids"] and n in (3, 4) and method == "GET":
            try:
                sid = int(p[2])
            except ValueError:
                raise ApiError(404, 40403, "Schema %s not found" % p[2])
            with reg.lock:
                if sid not in reg.by_id:
                    raise ApiError(404, 40403, "Schema %d not found" % sid)
                if n == 3:
                    return 200, {"schema": reg.by_id[sid][0]}
                if p[3] == "versions":
                    return 200, [{"subject": s, "version": v["version"]}
                                 for s, vs in sorted(reg.subjects.items())
                                 for v in vs if v["id"] == sid and not v["deleted"]]
        if p[:1] == ["compatibility"] and n in (4, 5) and p[1] == "subjects" \
                and p[3] == "versions" and method == "POST":
            msgs = reg.check(p[2], body.get("schema"), p[4] if n == 5 else None)
            out = {"is_compatible": not msgs}
            if verbose:
                out["messages"] = msgs
            return 200, out
        if p[:1] == ["config"] and n in (1, 2):
            return self._config(method, p[1] if n == 2 else None, q, body)
        raise ApiError(404, 404, "HTTP 404 Not Found")

    def _config(self, method, subject, q, body):
        reg = self.server.registry
        with reg.lock:
            if method == "GET":
                if subject is None:
                    return 200, {"compatibilityLevel": reg.level}
                if subject in reg.subject_level:
                    return 200, {"compatibilityLevel": reg.subject_level[subject]}
                if q.get("defaultToGlobal", "") == "true":
                    return 200, {"compatibilityLevel": reg.level}
                raise ApiError(404, 40408, "Subject '%s' does not have subject-level "
                               "compatibility configured" % subject)
            if method == "PUT":
                level = str(body.get("compatibility", "")).upper()
                if level not in LEVELS:
                    raise ApiError(422, 42203, "Invalid compatibility level. Valid values "
                                   "are none, backward, forward, full, backward_transitive, "
                                   "forward_transitive, and full_transitive")
                if subject is None:
                    reg.level = level
                else:
                    reg.subject_level[subject] = level
                return 200, {"compatibility": level}
            if method == "DELETE" and subject is not None:
                old = reg.subject_level.pop(subject, None)
                if old is None:
                    raise ApiError(404, 40401, "Subject '%s' not found." % subject)
                return 200, {"compatibilityLevel": old}
        raise ApiError(405, 405, "HTTP 405 Method Not Allowed")

    def _double(self, method, p):
        srv = self.server
        if p == ["stats"] and method == "GET":
            with srv.knob_lock:
                return self._send(200, {"requests": srv.requests, "by_route": dict(srv.by_route)})
        if p == ["reset"] and method == "POST":
            self._body()
            with srv.knob_lock:
                srv.requests, srv.by_route = 0, {}
            return self._send(200, {})
        if p == ["fail"] and method == "POST":
            b = self._body()
            with srv.knob_lock:
                srv.fail_count = int(b.get("count", 1))
                srv.fail_status = int(b.get("status", 503))
                srv.fail_mode = b.get("mode", "status")
                srv.fail_delay = float(b.get("delay_s", 5))
            return self._send(200, {"armed": srv.fail_count})
        return self._error(404, 404, "no such test-double knob")


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, user=None, password=None, verbose=False):
        super().__init__(addr, Handler)
        self.registry = Registry()
        self.user, self.password, self.verbose = user, password, verbose
        self.knob_lock = threading.Lock()
        self.requests, self.by_route = 0, {}
        self.fail_count, self.fail_status, self.fail_mode, self.fail_delay = 0, 503, "status", 5.0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Test double of the Confluent Schema Registry "
                                 "REST API (Avro only, in memory).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cert", help="PEM certificate: serve HTTPS")
    ap.add_argument("--key", help="PEM private key for --cert")
    ap.add_argument("--client-ca", help="PEM CA: require client certificates it signed")
    ap.add_argument("--fail-next", nargs=2, type=int, metavar=("N", "STATUS"),
                    help="the first N API requests answer STATUS")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if (args.user is None) != (args.password is None):
        ap.error("--user and --password go together")
    if args.client_ca and not args.cert:
        ap.error("--client-ca needs --cert")
    srv = DoubleServer((args.host, args.port), args.user, args.password, args.verbose)
    if args.fail_next:
        srv.fail_count, srv.fail_status = args.fail_next
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
