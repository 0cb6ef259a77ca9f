#!/usr/bin/env python3
"""Unit tests of the Schema Registry test double (schema_registry.py): its Avro
parsing and equality, its schema-resolution rules, and its REST behaviour over
a real loopback socket.  Run: python3 test/doubles/test_schema_registry.py
"""

import base64
import json
import os
import sys
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema_registry as sr  # noqa: E402


def rec(fields, name="Value", ns="db.public.t"):
    return json.dumps({"type": "record", "name": name, "namespace": ns, "fields": fields})


V1 = rec([{"name": "id", "type": "int"}])
V2_OPT = rec([{"name": "id", "type": "int"},
              {"name": "name", "type": ["null", "string"], "default": None}])
V2_REQ = rec([{"name": "id", "type": "int"}, {"name": "name", "type": "string"}])


def schema(text):
    return sr.parse_schema(json.dumps(text) if text in sr.PRIMITIVES else text)


def compat(reader, writer):
    return sr.incompatibilities(schema(reader), schema(writer))


class ParseAndEquality(unittest.TestCase):
    def key(self, text):
        return sr.canonical_key(sr.parse_schema(text))

    def test_whitespace_key_order_and_doc_do_not_matter(self):
        a = '{"type":"record","name":"V","fields":[{"name":"a","type":"int"}]}'
        b = '{ "fields": [ {"type": "int", "name": "a", "doc": "x"} ],\n "name": "V", "type": "record" }'
        self.assertEqual(self.key(a), self.key(b))

    def test_short_and_full_names_are_equal(self):
        full = json.dumps({"type": "record", "name": "a.b.Env", "fields": [
            {"name": "before", "type": ["null", {"type": "record", "name": "a.b.Value",
                                                 "fields": [{"name": "x", "type": "int"}]}]},
            {"name": "after", "type": ["null", "a.b.Value"]}]})
        short = json.dumps({"type": "record", "name": "Env", "namespace": "a.b", "fields": [
            {"name": "before", "type": ["null", {"type": "record", "name": "Value",
                                                 "fields": [{"name": "x", "type": "int"}]}]},
            {"name": "after", "type": ["null", "Value"]}]})
        self.assertEqual(self.key(full), self.key(short))

    def test_field_order_props_and_defaults_matter(self):
        a = rec([{"name": "a", "type": "int"}, {"name": "b", "type": "int"}])
        b = rec([{"name": "b", "type": "int"}, {"name": "a", "type": "int"}])
        c = rec([{"name": "a", "type": {"type": "int", "connect.type": "int16"}},
                 {"name": "b", "type": "int"}])
        d = rec([{"name": "a", "type": "int", "default": 0}, {"name": "b", "type": "int"}])
        self.assertEqual(len({self.key(x) for x in (a, b, c, d)}), 4)

    def test_primitive_object_form_equals_name(self):
        self.assertEqual(self.key('{"type":"string"}'), self.key('"string"'))

    def test_invalid_schemas(self):
        bad = ['not json', '{"type":"nope"}', '{"type":"record","name":"1x","fields":[]}',
               rec([{"name": "a", "type": "int", "default": "x"}]),
               rec([{"name": "a", "type": ["null", "int"], "default": 1}]),
               rec([{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]),
               '["int", ["null"]]', '["int", "int"]', '{"type":"enum","name":"E","symbols":["A","A"]}',
               '{"type":"array"}', '"Undefined"']
        for text in bad:
            with self.subTest(text=text), self.assertRaises(sr.SchemaError):
                sr.parse_schema(text)

    def test_valid_defaults(self):
        sr.parse_schema(rec([{"name": "a", "type": ["string", "null"], "default": "new"},
                             {"name": "b", "type": "bytes", "default": "\u00ff"},
                             {"name": "c", "type": "double", "default": 1},
                             {"name": "d", "type": {"type": "array", "items": "int"}, "default": [1]}]))


class Resolution(unittest.TestCase):
    """(reader, writer, compatible) after Avro's SchemaCompatibility."""

    CASES = [
        ("int", "int", True), ("long", "int", True), ("float", "int", True),
        ("float", "long", True), ("double", "float", True), ("double", "long", True),
        ("int", "long", False), ("long", "float", False), ("float", "double", False),
        ("string", "bytes", True), ("bytes", "string", True), ("string", "int", False),
        ('["null","int"]', "int", True), ("int", '["null","int"]', False),
        ('["null","long"]', '["null","int"]', True), ('["null","int"]', '["null","long"]', False),
        ("long", '["int","long"]', True),
        ('{"type":"array","items":"long"}', '{"type":"array","items":"int"}', True),
        ('{"type":"array","items":"int"}', '{"type":"array","items":"long"}', False),
        ('{"type":"map","values":"double"}', '{"type":"map","values":"float"}', True),
        ('{"type":"map","values":"int"}', '{"type":"array","items":"int"}', False),
        ('{"type":"fixed","name":"F","size":4}', '{"type":"fixed","name":"F","size":4}', True),
        ('{"type":"fixed","name":"F","size":4}', '{"type":"fixed","name":"F","size":8}', False),
        ('{"type":"fixed","name":"F","size":4}', '{"type":"fixed","name":"G","size":4}', False),
        ('{"type":"enum","name":"E","symbols":["A","B"]}', '{"type":"enum","name":"E","symbols":["A"]}', True),
        ('{"type":"enum","name":"E","symbols":["A"]}', '{"type":"enum","name":"E","symbols":["A","B"]}', False),
        ('{"type":"enum","name":"E","symbols":["A","U"],"default":"U"}',
         '{"type":"enum","name":"E","symbols":["A","B"]}', True),
        (V2_OPT, V1, True),          # reader adds a field with a default
        (V2_REQ, V1, False),         # reader adds a field without one
        (V1, V2_REQ, True),          # reader drops a field: the writer's is skipped
        (rec([{"name": "id", "type": "long"}]), V1, True),
        (V1, rec([{"name": "id", "type": "long"}]), False),
        (rec([{"name": "id", "type": "int"}], name="Other"), V1, False),
        (rec([{"name": "id", "type": "int"}], ns="elsewhere"), V1, True),   # short names compared
        (rec([{"name": "ident", "type": "int", "aliases": ["id"]}]), V1, True),
    ]

    def test_cases(self):
        for reader, writer, ok in self.CASES:
            with self.subTest(reader=reader, writer=writer):
                msgs = compat(reader, writer)
                self.assertEqual(not msgs, ok, msgs)

    def test_recursive_record(self):
        ll = json.dumps({"type": "record", "name": "Node", "fields": [
            {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]})
        ll2 = json.dumps({"type": "record", "name": "Node", "fields": [
            {"name": "v", "type": "long"}, {"name": "next", "type": ["null", "Node"]}]})
        self.assertEqual(compat(ll2, ll), [])
        self.assertNotEqual(compat(ll, ll2), [])

    def test_levels(self):
        p = sr.parse_schema
        v1, opt, req = p(V1), p(V2_OPT), p(V2_REQ)
        self.assertEqual(sr.compatible_with("BACKWARD", opt, [v1]), [])
        self.assertNotEqual(sr.compatible_with("BACKWARD", req, [v1]), [])
        self.assertEqual(sr.compatible_with("FORWARD", req, [v1]), [])
        self.assertNotEqual(sr.compatible_with("FULL", req, [v1]), [])
        self.assertEqual(sr.compatible_with("FULL", opt, [v1]), [])
        self.assertEqual(sr.compatible_with("NONE", p('"string"'), [v1]), [])
        # req needs "name": it reads v2 (latest, which writes it) but not v1, which
        # only BACKWARD_TRANSITIVE looks at.
        dflt = p(rec([{"name": "id", "type": "int"},
                      {"name": "name", "type": "string", "default": ""}]))
        self.assertEqual(sr.compatible_with("BACKWARD", req, [v1, dflt]), [])
        self.assertNotEqual(sr.compatible_with("BACKWARD_TRANSITIVE", req, [v1, dflt]), [])
        self.assertNotEqual(sr.compatible_with("FULL_TRANSITIVE", req, [v1, dflt]), [])
        # A plain string reader cannot read a nullable writer (its null branch).
        self.assertNotEqual(sr.compatible_with("BACKWARD", req, [v1, opt]), [])
        s_long = p(rec([{"name": "id", "type": "long"}]))
        s_int = p(V1)
        # BACKWARD non-transitive only looks at the latest.
        self.assertEqual(sr.compatible_with("BACKWARD", s_long, [s_long, s_long]), [])
        self.assertNotEqual(sr.compatible_with("FORWARD_TRANSITIVE", s_long, [s_int, s_long]), [])
        self.assertEqual(sr.compatible_with("FORWARD", s_long, [s_int, s_long]), [])


class Rest(unittest.TestCase):
    """The HTTP front, on a loopback port, without and with basic auth."""

    @classmethod
    def setUpClass(cls):
        cls.srv = sr.DoubleServer(("127.0.0.1", 0))
        cls.base = "http://127.0.0.1:%d" % cls.srv.server_address[1]
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.auth = sr.DoubleServer(("127.0.0.1", 0), "u", "p")
        cls.auth_base = "http://127.0.0.1:%d" % cls.auth.server_address[1]
        threading.Thread(target=cls.auth.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.srv, cls.auth):
            s.shutdown()
            s.server_close()

    def call(self, method, path, body=None, base=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request((base or self.base) + path, data=data, method=method,
                                     headers=dict({"Content-Type": sr.CONTENT_TYPE}, **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.headers["Content-Type"], sr.CONTENT_TYPE)
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_register_dedup_global_ids_versions(self):
        st, a = self.call("POST", "/subjects/r1-value/versions", {"schema": V1})
        self.assertEqual(st, 200)
        _, again = self.call("POST", "/subjects/r1-value/versions",
                             {"schema": json.dumps(json.loads(V1), indent=2)})
        _, other = self.call("POST", "/subjects/r2-value/versions", {"schema": V1})
        self.assertEqual(a["id"], again["id"])
        self.assertEqual(a["id"], other["id"])
        _, b = self.call("POST", "/subjects/r1-value/versions", {"schema": V2_OPT})
        self.assertNotEqual(a["id"], b["id"])
        self.assertEqual(self.call("GET", "/subjects/r1-value/versions"), (200, [1, 2]))
        st, latest = self.call("GET", "/subjects/r1-value/versions/latest")
        self.assertEqual((latest["version"], latest["id"], latest["schema"]), (2, b["id"], V2_OPT))
        _, v1 = self.call("GET", "/subjects/r1-value/versions/1")
        self.assertEqual(v1["id"], a["id"])
        self.assertEqual(self.call("GET", "/schemas/ids/%d" % b["id"]), (200, {"schema": V2_OPT}))
        # An old version registered again returns its id and adds no version.
        _, old = self.call("POST", "/subjects/r1-value/versions", {"schema": V1})
        self.assertEqual(old["id"], a["id"])
        self.assertEqual(self.call("GET", "/subjects/r1-value/versions"), (200, [1, 2]))
        st, look = self.call("POST", "/subjects/r1-value", {"schema": V1})
        self.assertEqual((st, look["version"], look["id"]), (200, 1, a["id"]))
        self.assertIn("r2-value", self.call("GET", "/subjects")[1])

    def test_errors(self):
        self.call("POST", "/subjects/e-value/versions", {"schema": V1})
        cases = [
            ("GET", "/subjects/none-value/versions/latest", None, 404, 40401),
            ("GET", "/subjects/e-value/versions/9", None, 404, 40402),
            ("GET", "/subjects/e-value/versions/abc", None, 422, 42202),
            ("GET", "/schemas/ids/99999", None, 404, 40403),
            ("POST", "/subjects/e-value", {"schema": V2_REQ}, 404, 40403),
            ("POST", "/subjects/e-value/versions", {"schema": "{"}, 422, 42201),
            ("POST", "/subjects/e-value/versions", {"schema": V2_REQ}, 409, 409),
            ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
            ("GET", "/config/e-value", None, 404, 40408),
        ]
        for method, path, body, status, code in cases:
            with self.subTest(path=path, body=body):
                st, out = self.call(method, path, body)
                self.assertEqual((st, out["error_code"]), (status, code), out)
                self.assertTrue(out["message"])

    def test_compatibility_and_config(self):
        self.call("POST", "/subjects/c-value/versions", {"schema": V1})
        st, out = self.call("POST", "/compatibility/subjects/c-value/versions/latest",
                            {"schema": V2_OPT})
        self.assertEqual((st, out), (200, {"is_compatible": True}))
        st, out = self.call("POST", "/compatibility/subjects/c-value/versions/latest?verbose=true",
                            {"schema": V2_REQ})
        self.assertFalse(out["is_compatible"])
        self.assertIn("READER_FIELD_MISSING_DEFAULT_VALUE", out["messages"][0])
        st, out = self.call("POST", "/compatibility/subjects/nothing-here/versions/latest",
                            {"schema": V1})
        self.assertEqual((st, out), (200, {"is_compatible": True}))
        self.assertEqual(self.call("PUT", "/config/c-value", {"compatibility": "none"}),
                         (200, {"compatibility": "NONE"}))
        self.assertEqual(self.call("GET", "/config/c-value"), (200, {"compatibilityLevel": "NONE"}))
        self.assertEqual(self.call("GET", "/config"), (200, {"compatibilityLevel": "BACKWARD"}))
        st, out = self.call("POST", "/subjects/c-value/versions", {"schema": V2_REQ})
        self.assertEqual(st, 200)

    def test_delete(self):
        self.call("POST", "/subjects/d-value/versions", {"schema": V1})
        self.assertEqual(self.call("DELETE", "/subjects/d-value?permanent=true")[1]["error_code"], 40405)
        self.assertEqual(self.call("DELETE", "/subjects/d-value"), (200, [1]))
        self.assertEqual(self.call("GET", "/subjects/d-value/versions")[1]["error_code"], 40401)
        self.assertEqual(self.call("DELETE", "/subjects/d-value?permanent=true"), (200, [1]))
        # Soft-deleted versions still count: registering again starts a new version.
        _, r = self.call("POST", "/subjects/d-value/versions", {"schema": V1})
        self.assertEqual(self.call("GET", "/subjects/d-value/versions/latest")[1]["version"], 1)

    def test_injected_failures_and_stats(self):
        self.call("POST", "/_double/reset", {})
        self.call("POST", "/_double/fail", {"count": 2, "status": 503})
        self.assertEqual(self.call("GET", "/subjects")[0], 503)
        st, out = self.call("GET", "/subjects")
        self.assertEqual((st, out["error_code"]), (503, 50001))
        self.assertEqual(self.call("GET", "/subjects")[0], 200)
        self.assertEqual(self.call("GET", "/_double/stats")[1]["requests"], 3)

    def test_basic_auth(self):
        st, out = self.call("GET", "/subjects", base=self.auth_base)
        self.assertEqual((st, out["error_code"]), (401, 401))
        good = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
        bad = {"Authorization": "Basic " + base64.b64encode(b"u:x").decode()}
        self.assertEqual(self.call("GET", "/subjects", base=self.auth_base, headers=good), (200, []))
        self.assertEqual(self.call("GET", "/subjects", base=self.auth_base, headers=bad)[0], 401)
        self.assertEqual(self.call("GET", "/_double/stats", base=self.auth_base)[0], 200)


if __name__ == "__main__":
    unittest.main()
