#!/usr/bin/env python3
"""Self-test of the Pub/Sub REST test double (pubsub.py) over a real loopback socket:
topics and subscriptions, publish limits and request checking, ordering-key delivery,
pull/acknowledge/nack and ack-deadline redelivery, dead letters, the strict ordering check,
the fault knobs, parallel clients, and the shell helpers of test/lib/pubsub.sh.  Run: python3 test/doubles/pubsub_selftest.py  (ctest: unit_pubsub_double)
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pubsub as ps  # noqa: E402

P = "projects/p1"


def b64(b):
    return base64.b64encode(b).decode()


class Double:
    """The double in this process, on a free loopback port."""

    def __init__(self, *args):
        self.srv = ps.DoubleServer(("127.0.0.1", 0), ps.options(["--pull-wait-s", "0"] + list(args)))
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, args=(0.05,), daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def call(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        finally:
            c.close()

    # the API, as a client would spell it
    def topic(self, t, **kw):
        return self.call("PUT", "/v1/%s/topics/%s" % (P, t), kw)

    def sub(self, s, topic, **kw):
        kw["topic"] = "%s/topics/%s" % (P, topic)
        return self.call("PUT", "/v1/%s/subscriptions/%s" % (P, s), kw)

    def publish(self, t, msgs):
        return self.call("POST", "/v1/%s/topics/%s:publish" % (P, t), {"messages": msgs})

    def pull(self, s, n=100):
        st, out = self.call("POST", "/v1/%s/subscriptions/%s:pull" % (P, s),
                            {"maxMessages": n, "returnImmediately": True})
        assert st == 200, (st, out)
        return out.get("receivedMessages", [])

    def ack(self, s, ids):
        return self.call("POST", "/v1/%s/subscriptions/%s:acknowledge" % (P, s), {"ackIds": ids})

    def nack(self, s, ids):
        return self.call("POST", "/v1/%s/subscriptions/%s:modifyAckDeadline" % (P, s),
                         {"ackIds": ids, "ackDeadlineSeconds": 0})

    def knob(self, method, what, body=None):
        return self.call(method, "/_double/" + what, body)


def datas(received):
    return [base64.b64decode(r["message"]["data"]).decode() for r in received]


class Base(unittest.TestCase):
    ARGS = ()

    def setUp(self):
        self.d = Double(*self.ARGS)

    def tearDown(self):
        self.d.close()

    def err(self, resp, code, status, contains=""):
        st, body = resp
        self.assertEqual(st, code, body)
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(body["error"]["code"], code)
        self.assertEqual(body["error"]["status"], status)
        self.assertIn(contains, body["error"]["message"])


class Admin(Base):
    def test_topics(self):
        st, t = self.d.topic("cdc-public-customers", labels={"a": "b"})
        self.assertEqual((st, t["name"]), (200, P + "/topics/cdc-public-customers"))
        self.err(self.d.topic("cdc-public-customers"), 409, "ALREADY_EXISTS",
                 "resource=cdc-public-customers")
        self.assertEqual(self.d.call("GET", "/v1/%s/topics/cdc-public-customers" % P)[1]["labels"],
                         {"a": "b"})
        self.err(self.d.call("GET", "/v1/%s/topics/nope" % P), 404, "NOT_FOUND", "resource=nope")
        for i in range(3):
            self.d.topic("t%03d" % i)
        st, page = self.d.call("GET", "/v1/%s/topics?pageSize=2" % P)
        self.assertEqual(len(page["topics"]), 2)
        st, rest = self.d.call("GET", "/v1/%s/topics?pageSize=2&pageToken=%s"
                               % (P, page["nextPageToken"]))
        self.assertEqual(len(rest["topics"]), 2)
        self.assertNotIn("nextPageToken", rest)
        self.assertEqual(self.d.call("DELETE", "/v1/%s/topics/t000" % P), (200, {}))
        self.err(self.d.call("DELETE", "/v1/%s/topics/t000" % P), 404, "NOT_FOUND")
        self.err(self.d.topic("goog-x"), 400, "INVALID_ARGUMENT", "goog")
        self.err(self.d.topic("1abc"), 400, "INVALID_ARGUMENT", "start with a letter")

    def test_subscriptions(self):
        self.d.topic("tab")
        self.err(self.d.sub("sub", "tab", deadLetterPolicy={"deadLetterTopic": P + "/topics/tab-dlq"}),
                 404, "NOT_FOUND", "tab-dlq")
        self.d.topic("tab-dlq")
        self.err(self.d.sub("sub", "tab", deadLetterPolicy={"deadLetterTopic": P + "/topics/tab-dlq",
                                                        "maxDeliveryAttempts": 101}),
                 400, "INVALID_ARGUMENT", "between 5 and 100")
        st, s = self.d.sub("sub", "tab", enableMessageOrdering=True,
                           deadLetterPolicy={"deadLetterTopic": P + "/topics/tab-dlq"})
        self.assertEqual(st, 200, s)
        self.assertTrue(s["enableMessageOrdering"])
        self.assertEqual(s["deadLetterPolicy"]["maxDeliveryAttempts"], 5)
        self.assertEqual(s["ackDeadlineSeconds"], 10)
        self.err(self.d.sub("sub", "tab"), 409, "ALREADY_EXISTS")
        self.err(self.d.sub("sub2", "missing"), 404, "NOT_FOUND", "missing")
        self.assertEqual(self.d.call("GET", "/v1/%s/subscriptions/sub" % P)[1]["topic"], P + "/topics/tab")
        self.assertEqual(len(self.d.call("GET", "/v1/%s/subscriptions" % P)[1]["subscriptions"]), 1)
        self.d.call("DELETE", "/v1/%s/topics/tab" % P)
        self.assertEqual(self.d.call("GET", "/v1/%s/subscriptions/sub" % P)[1]["topic"],
                         "_deleted-topic_")
        self.assertEqual(self.d.call("DELETE", "/v1/%s/subscriptions/sub" % P), (200, {}))
        self.err(self.d.call("GET", "/v1/%s/subscriptions/sub" % P), 404, "NOT_FOUND")

    def test_schema_checks(self):
        self.d.topic("tab")
        self.err(self.d.topic("uvw", bogus=1), 400, "INVALID_ARGUMENT", 'Unknown name "bogus"')
        self.err(self.d.publish("tab", [{"data": b64(b"x"), "colour": "red"}]), 400,
                 "INVALID_ARGUMENT", "Unknown name \"colour\" at 'messages[0]'")
        self.err(self.d.publish("tab", [{"data": "!!not base64!!"}]), 400, "INVALID_ARGUMENT",
                 "Base64 decoding failed")
        self.err(self.d.publish("tab", [{"attributes": {"a": 1}}]), 400, "INVALID_ARGUMENT",
                 "messages[0].attributes[a]")
        self.err(self.d.call("POST", "/v1/%s/topics/tab:publish" % P, None), 400,
                 "INVALID_ARGUMENT", "at least one message")
        self.err(self.d.call("GET", "/v1/%s/nothing" % P), 404, "NOT_FOUND")
        # URL-safe base64 is accepted, as Google's JSON mapping does
        st, _ = self.d.publish("tab", [{"data": base64.urlsafe_b64encode(b"\xfb\xff").decode()}])
        self.assertEqual(st, 200)

    def test_projects_and_token(self):
        self.d.close()
        self.d = Double("--projects", "p1", "--token", "s3cret-token")
        self.err(self.d.topic("tab"), 401, "UNAUTHENTICATED")
        auth = {"Authorization": "Bearer s3cret-token"}
        self.assertEqual(self.d.call("PUT", "/v1/%s/topics/tab" % P, {}, auth)[0], 200)
        r = self.d.call("PUT", "/v1/projects/p2/topics/tab", {}, auth)
        self.err(r, 404, "NOT_FOUND", "project=p2")
        self.assertNotIn("s3cret", json.dumps(r))


class Limits(Base):
    def setUp(self):
        super().setUp()
        self.d.topic("tab")

    def test_message_count(self):
        self.assertEqual(self.d.publish("tab", [{"data": b64(b"x")}] * 1000)[0], 200)
        self.err(self.d.publish("tab", [{"data": b64(b"x")}] * 1001), 400, "INVALID_ARGUMENT",
                 "You passed 1001 in the request, but the maximum value is 1000")

    def test_json_body_limit(self):
        """Over REST the body is limited to 10 MiB: base64 leaves room for about 7.8 MB."""
        st, out = self.d.publish("tab", [{"data": b64(b"a" * 7_800_000)}])
        self.assertEqual(st, 200, out)
        self.err(self.d.publish("tab", [{"data": b64(b"a" * 7_900_000)}]), 400,
                 "INVALID_ARGUMENT", "Request payload size exceeds the limit: 10485760 bytes.")
        self.assertEqual(self.d.publish("tab", [{"data": b64(b"z")}])[0], 200)

    def test_request_size_is_the_serialized_request(self):
        # 1,000 messages of 8 attributes of 250 + 1,000 bytes: 10,000,000 bytes of keys and
        # values, 10,075,024 serialized (each map entry 9 bytes of tags and lengths, each
        # message 3, the topic field 24); the JSON body stays under 10 MiB.
        msgs = [{"attributes": {"%d-%s" % (j, "k" * 248): "v" * 1000 for j in range(8)}}
                for _ in range(1000)]
        self.err(self.d.publish("tab", msgs), 400, "INVALID_ARGUMENT",
                 "The value for request_size is too large. You passed 10075024 in the request, "
                 "but the maximum value is 10000000.")
        self.assertEqual(self.d.publish("tab", msgs[:990])[0], 200)

    def test_message_size(self):
        self.d.close()
        self.d = Double("--max-body-bytes", str(30_000_000), "--max-request-bytes",
                        str(30_000_000))
        self.d.topic("tab")
        self.assertEqual(self.d.publish("tab", [{"data": b64(b"a" * 10_000_000)}])[0], 200)
        self.err(self.d.publish("tab", [{"data": b64(b"a" * 10_000_001)}]), 400,
                 "INVALID_ARGUMENT", "message_size of messages[0] is too large")
        # the size counts attributes and the ordering key too
        self.err(self.d.publish("tab", [{"data": b64(b"a" * 9_999_999),
                                         "attributes": {"k": "v"}}]),
                 400, "INVALID_ARGUMENT", "message_size")
        self.err(self.d.publish("tab", [{"data": b64(b"a" * 9_999_999), "orderingKey": "kk"}]),
                 400, "INVALID_ARGUMENT", "message_size")

    def test_attributes(self):
        many = {"a%d" % i: "v" for i in range(100)}
        self.assertEqual(self.d.publish("tab", [{"attributes": many}])[0], 200)
        many["one-more"] = "v"
        self.err(self.d.publish("tab", [{"attributes": many}]), 400, "INVALID_ARGUMENT",
                 "attribute_count")
        self.assertEqual(self.d.publish("tab", [{"attributes": {"k" * 256: "v" * 1024}}])[0], 200)
        self.err(self.d.publish("tab", [{"attributes": {"k" * 257: "v"}}]), 400,
                 "INVALID_ARGUMENT", "attribute_key_size")
        self.err(self.d.publish("tab", [{"attributes": {"k": "v" * 1025}}]), 400,
                 "INVALID_ARGUMENT", "attribute_value_size")
        self.err(self.d.publish("tab", [{"attributes": {"googx": "v"}}]), 400,
                 "INVALID_ARGUMENT", "reserved")
        self.err(self.d.publish("tab", [{"data": ""}]), 400, "INVALID_ARGUMENT", "neither data")

    def test_ordering_key_rules(self):
        self.assertEqual(self.d.publish("tab", [{"data": b64(b"x"), "orderingKey": "k" * 1024}])[0], 200)
        self.err(self.d.publish("tab", [{"data": b64(b"x"), "orderingKey": "k" * 1025}]), 400,
                 "INVALID_ARGUMENT", "ordering_key_size")
        self.err(self.d.publish("tab", [{"data": b64(b"x"), "orderingKey": "a"},
                                      {"data": b64(b"y"), "orderingKey": "b"}]),
                 400, "FAILED_PRECONDITION", "all messages must have no ordering key")
        self.err(self.d.publish("tab", [{"data": b64(b"x"), "orderingKey": "a"},
                                      {"data": b64(b"y")}]),
                 400, "FAILED_PRECONDITION", "all messages must have no ordering key")

    def test_missing_topic(self):
        self.err(self.d.publish("gone", [{"data": b64(b"x")}]), 404, "NOT_FOUND", "resource=gone")


class Delivery(Base):
    def setUp(self):
        super().setUp()
        self.d.topic("tab")
        self.d.topic("tab-dlq")
        self.d.sub("ord", "tab", enableMessageOrdering=True)

    def pub(self, key, *vals):
        st, out = self.d.publish("tab", [{"data": b64(v.encode()), "orderingKey": key} for v in vals])
        self.assertEqual(st, 200, out)
        return out["messageIds"]

    def test_ids_attributes_and_only_later_subscriptions(self):
        ids = self.pub("a", "a1", "a2")
        self.assertEqual(len(set(ids)), 2)
        self.d.sub("late", "tab")
        self.d.publish("tab", [{"data": b64(b"z"), "attributes": {"cdc.seq": "7"}}])
        got = self.d.pull("late")
        self.assertEqual(datas(got), ["z"])
        m = got[0]["message"]
        self.assertEqual(m["attributes"], {"cdc.seq": "7"})
        self.assertIn("publishTime", m)
        self.assertNotIn("deliveryAttempt", got[0])

    def test_per_key_order_and_blocking(self):
        self.pub("a", "a1", "a2")
        self.pub("b", "b1")
        self.pub("a", "a3")
        got = self.d.pull("ord", 2)
        self.assertEqual(datas(got), ["a1", "a2"])
        # a1 and a2 are outstanding: a3 must wait, b1 may come
        got2 = self.d.pull("ord")
        self.assertEqual(datas(got2), ["b1"])
        self.d.ack("ord", [got[0]["ackId"]])
        self.assertEqual(self.d.pull("ord"), [])        # a2 is still outstanding
        self.d.ack("ord", [got[1]["ackId"], got2[0]["ackId"]])
        got3 = self.d.pull("ord")
        self.assertEqual(datas(got3), ["a3"])
        self.d.ack("ord", [got3[0]["ackId"]])
        self.assertEqual(self.d.pull("ord"), [])

    def test_nack_and_deadline_redeliver_key_in_order(self):
        self.pub("a", "a1", "a2", "a3")
        got = self.d.pull("ord")
        self.assertEqual(datas(got), ["a1", "a2", "a3"])
        self.d.ack("ord", [got[0]["ackId"]])
        self.d.nack("ord", [got[1]["ackId"]])            # a2 nacked: a2 and a3 come again
        again = self.d.pull("ord")
        self.assertEqual(datas(again), ["a2", "a3"])
        # the deadline passes: the same again, with new ack ids; the old ones are ignored
        svc = self.d.srv.service
        real = svc.clock
        svc.clock = lambda: real() + 11
        try:
            third = self.d.pull("ord")
        finally:
            svc.clock = real
        self.assertEqual(datas(third), ["a2", "a3"])
        self.assertEqual(self.d.ack("ord", [again[0]["ackId"]]), (200, {}))
        self.assertEqual(len(self.d.pull("ord")), 0)      # third's are outstanding
        self.d.ack("ord", [r["ackId"] for r in third])
        self.assertEqual(self.d.pull("ord"), [])
        self.err(self.d.ack("ord", ["not-an-ack-id"]), 400, "INVALID_ARGUMENT", "invalid ack ID")

    def test_redelivery_brings_back_acknowledged_followers(self):
        """The service's rule: redelivering a message of a key redelivers every later one,
        even acknowledged ones."""
        self.pub("a", "a1", "a2", "a3", "a4")
        got = self.d.pull("ord")
        self.d.ack("ord", [got[0]["ackId"], got[2]["ackId"]])     # a1 and a3
        self.d.nack("ord", [got[1]["ackId"]])                     # a2
        again = self.d.pull("ord")
        self.assertEqual(datas(again), ["a2", "a3", "a4"])
        self.assertEqual([r["message"]["messageId"] for r in again],
                         [r["message"]["messageId"] for r in got[1:]])
        self.d.ack("ord", [r["ackId"] for r in again])
        self.assertEqual(self.d.pull("ord"), [])

    def test_dead_letter(self):
        self.d.sub("dlx", "tab", deadLetterPolicy={"deadLetterTopic": P + "/topics/tab-dlq",
                                                "maxDeliveryAttempts": 5})
        self.d.sub("dlq-reader", "tab-dlq")
        self.d.publish("tab", [{"data": b64(b"poison"), "attributes": {"x": "1"}}])
        for attempt in range(1, 6):
            got = self.d.pull("dlx")
            self.assertEqual(got[0]["deliveryAttempt"], attempt)
            self.d.nack("dlx", [got[0]["ackId"]])
        self.assertEqual(self.d.pull("dlx"), [])
        dead = self.d.pull("dlq-reader")
        self.assertEqual(datas(dead), ["poison"])
        a = dead[0]["message"]["attributes"]
        self.assertEqual(a["x"], "1")
        self.assertEqual(a["CloudPubSubDeadLetterSourceDeliveryCount"], "5")
        self.assertEqual(a["CloudPubSubDeadLetterSourceSubscription"], "dlx")


class Faults(Base):
    def setUp(self):
        super().setUp()
        self.d.topic("tab")
        self.d.sub("sub", "tab", enableMessageOrdering=True)

    def msg(self, v, key="k"):
        return {"data": b64(v.encode()), "orderingKey": key}

    def test_status_faults(self):
        self.d.knob("POST", "fault", {"count": 2, "status": 503})
        self.err(self.d.publish("tab", [self.msg("1")]), 503, "UNAVAILABLE", "injected")
        self.d.knob("POST", "fault", {"count": 1, "status": 429})
        self.err(self.d.publish("tab", [self.msg("1")]), 503, "UNAVAILABLE")
        self.err(self.d.publish("tab", [self.msg("1")]), 429, "RESOURCE_EXHAUSTED")
        # admin calls and pulls are not publishes: untouched by the default method filter
        self.assertEqual(self.d.publish("tab", [self.msg("1")])[0], 200)
        st, stats = self.d.knob("GET", "stats")
        self.assertEqual((stats["faults_fired"], stats["published_messages"]), (3, 1))
        self.assertEqual((stats["by_method"]["topics.publish"], stats["publish_requests"]), (4, 1))
        self.assertEqual(datas(self.d.pull("sub")), ["1"])

    def test_topic_filter_and_other_methods(self):
        self.d.topic("uvw")
        self.d.knob("POST", "fault", {"count": 1, "status": 500, "topic": P + "/topics/uvw"})
        self.assertEqual(self.d.publish("tab", [self.msg("1")])[0], 200)
        self.err(self.d.publish("uvw", [self.msg("1")]), 500, "INTERNAL")
        self.d.knob("POST", "fault", {"count": 1, "status": 503, "methods": ["subscriptions.pull"]})
        st, _ = self.d.call("POST", "/v1/%s/subscriptions/sub:pull" % P, {"maxMessages": 1})
        self.assertEqual(st, 503)
        self.assertEqual(len(self.d.pull("sub")), 1)

    def test_drop_and_latency(self):
        self.d.knob("POST", "fault", {"count": 1, "mode": "drop"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.d.publish("tab", [self.msg("1")])
        self.assertEqual(self.d.pull("sub"), [])            # dropped before: not published
        self.d.knob("POST", "fault", {"count": 1, "mode": "latency", "delay_s": 0.3})
        t0 = time.monotonic()
        self.assertEqual(self.d.publish("tab", [self.msg("2")])[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.d.knob("POST", "fault", {"count": 1, "mode": "drop", "when": "after"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.d.publish("tab", [self.msg("3")])
        self.assertEqual(datas(self.d.pull("sub")), ["2", "3"])   # stored, answer lost
        self.d.knob("POST", "fault", {"count": 5})
        self.assertEqual(self.d.knob("DELETE", "fault")[1], {"armed": 0})
        self.assertEqual(self.d.publish("tab", [self.msg("4")])[0], 200)

    def test_off_is_the_service(self):
        """Default: like the service, no per-key pause after a failure."""
        self.d.knob("POST", "fault", {"count": 1, "status": 503})
        self.assertEqual(self.d.publish("tab", [self.msg("1")])[0], 503)
        self.assertEqual(self.d.publish("tab", [self.msg("2")])[0], 200)   # overtakes "1"

    def test_strict_ordering_check(self):
        self.d.knob("POST", "config", {"ordering_check": "strict"})
        self.d.knob("POST", "fault", {"count": 1, "status": 503})
        self.assertEqual(self.d.publish("tab", [self.msg("1"), self.msg("2")])[0], 503)
        # another key goes on; the failed key may not skip its failed messages
        self.assertEqual(self.d.publish("tab", [self.msg("x", "other")])[0], 200)
        self.err(self.d.publish("tab", [self.msg("3")]), 400, "FAILED_PRECONDITION",
                 "TEST DOUBLE ordering check")
        self.err(self.d.publish("tab", [self.msg("2")]), 400, "FAILED_PRECONDITION")
        st, stats = self.d.knob("GET", "stats")
        self.assertEqual(stats["ordering_violations"], 2)
        self.assertEqual(stats["paused_keys"], [{"topic": P + "/topics/tab", "orderingKey": "k"}])
        # the re-send resumes the key
        self.assertEqual(self.d.publish("tab", [self.msg("1"), self.msg("2"), self.msg("3")])[0], 200)
        self.assertEqual(self.d.publish("tab", [self.msg("4")])[0], 200)
        self.assertEqual(datas(self.d.pull("sub")), ["x", "1", "2", "3", "4"])
        # a refused publish (a limit) does not pause the key: the client dead-letters it
        self.err(self.d.publish("tab", [{"data": b64(b"q"), "orderingKey": "k",
                                       "attributes": {"goog": "1"}}]), 400, "INVALID_ARGUMENT")
        self.assertEqual(self.d.publish("tab", [self.msg("5")])[0], 200)
        # a dropped connection pauses it; the admin resume clears it
        self.d.knob("POST", "fault", {"count": 1, "mode": "drop"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.d.publish("tab", [self.msg("6")])
        self.assertEqual(self.d.publish("tab", [self.msg("7")])[0], 400)
        self.assertEqual(self.d.knob("POST", "resume", {"topic": P + "/topics/tab",
                                                        "orderingKey": "k"})[1], {"resumed": True})
        self.assertEqual(self.d.publish("tab", [self.msg("7")])[0], 200)
        self.assertEqual(self.d.knob("GET", "stats")[1]["ordering_violations"], 3)

    def test_strict_after_failure_resend_is_a_duplicate(self):
        """A failure answered after the publish was stored: the re-send resumes the key and
        the subscriber sees the message twice, which is what a client must expect."""
        self.d.knob("POST", "config", {"ordering_check": "strict"})
        self.d.knob("POST", "fault", {"count": 1, "status": 503, "when": "after"})
        self.assertEqual(self.d.publish("tab", [self.msg("1")])[0], 503)
        self.assertEqual(self.d.publish("tab", [self.msg("2")])[0], 400)   # skipped "1"
        self.assertEqual(self.d.publish("tab", [self.msg("1"), self.msg("2")])[0], 200)
        self.assertEqual(datas(self.d.pull("sub")), ["1", "1", "2"])

    def test_messages_knob_and_reset(self):
        self.d.publish("tab", [self.msg("1")])
        st, out = self.d.call("GET", "/_double/messages?topic=%s/topics/tab" % P)
        self.assertEqual([base64.b64decode(m["data"]) for m in out["messages"]], [b"1"])
        self.assertEqual(self.d.knob("POST", "reset")[0], 200)
        self.assertEqual(self.d.knob("GET", "stats")[1]["requests"], 0)
        self.err(self.d.knob("GET", "nope"), 404, "NOT_FOUND", "knob")


class Concurrency(Base):
    def test_slow_call_does_not_hold_others(self):
        self.d.topic("slow")
        self.d.topic("fast")
        self.d.knob("POST", "fault", {"count": 1, "mode": "latency", "delay_s": 1.0,
                                      "topic": P + "/topics/slow"})
        th = threading.Thread(target=self.d.publish, args=("slow", [{"data": b64(b"s")}]))
        th.start()
        time.sleep(0.1)
        self.assertEqual(self.d.publish("fast", [{"data": b64(b"f")}])[0], 200)
        self.assertTrue(th.is_alive(), "the fast publish waited for the slow one")
        th.join()

    def test_parallel_publishers_keep_each_key_in_order(self):
        self.d.topic("tab")
        self.d.sub("sub", "tab", enableMessageOrdering=True)

        def run(key):
            for i in range(0, 200, 10):
                st, _ = self.d.publish("tab", [{"data": b64(("%s:%d" % (key, j)).encode()),
                                                "orderingKey": key} for j in range(i, i + 10)])
                assert st == 200
        ths = [threading.Thread(target=run, args=("k%d" % n,)) for n in range(4)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        seen = {}
        while True:
            got = self.d.pull("sub", 37)
            if not got:
                break
            for v in datas(got):
                k, n = v.split(":")
                self.assertEqual(int(n), seen.get(k, -1) + 1, v)
                seen[k] = int(n)
            self.d.ack("sub", [r["ackId"] for r in got])
        self.assertEqual(seen, {"k%d" % n: 199 for n in range(4)})

    def test_kept_alive_connection_is_quick(self):
        """100 small publishes on one connection: with Nagle's algorithm left on in the
        double, each waited 40 ms for a delayed ACK (4.5 s in all)."""
        self.d.topic("tab")
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        body = json.dumps({"messages": [{"data": b64(b"x"), "orderingKey": "k"}]})
        t0 = time.monotonic()
        for _ in range(100):
            c.request("POST", "/v1/%s/topics/tab:publish" % P, body,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        c.close()
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_pull_waits_for_a_message(self):
        self.d.topic("tab")
        self.d.sub("sub", "tab")
        self.d.knob("POST", "config", {"pull_wait_s": 2})
        threading.Timer(0.2, self.d.publish, ("tab", [{"data": b64(b"late")}])).start()
        t0 = time.monotonic()
        st, out = self.d.call("POST", "/v1/%s/subscriptions/sub:pull" % P, {"maxMessages": 5})
        self.assertEqual(datas(out["receivedMessages"]), ["late"])
        self.assertLess(time.monotonic() - t0, 1.5)


class ShellHelpers(unittest.TestCase):
    """test/lib/pubsub.sh, as an integration test sources it."""

    def test_start_api_pull_all_stop(self):
        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "pubsub.sh")
        script = r"""
set -e
. "$1"
D=$(mktemp -d)
trap 'pubsub_kill "$D/ps"; rm -rf "$D"' EXIT
BG_PIDS=()
pubsub_start "$D/ps" 0 --projects demo
[ "${#BG_PIDS[@]}" = 1 ]
pubsub_api "$D/ps" PUT /v1/projects/demo/topics/cdc-public-customers '{}' >/dev/null
pubsub_api "$D/ps" PUT /v1/projects/demo/subscriptions/cdc-sub     '{"topic": "projects/demo/topics/cdc-public-customers", "enableMessageOrdering": true}' >/dev/null
if pubsub_api "$D/ps" PUT /v1/projects/other/topics/xyz '{}' 2>"$D/err"; then exit 3; fi
grep -q 'HTTP 404' "$D/err"
pubsub_fault "$D/ps" '{"count": 1, "status": 503}' >/dev/null
if pubsub_api "$D/ps" POST /v1/projects/demo/topics/cdc-public-customers:publish     '{"messages": [{"data": "YQ==", "orderingKey": "k"}]}' 2>/dev/null; then exit 4; fi
pubsub_api "$D/ps" POST /v1/projects/demo/topics/cdc-public-customers:publish     '{"messages": [{"data": "YQ==", "orderingKey": "k"}, {"data": "Yg==", "orderingKey": "k"}]}' >/dev/null
pubsub_pull_all "$D/ps" projects/demo/subscriptions/cdc-sub >"$D/got"
pubsub_knob "$D/ps" GET stats >"$D/stats"
pubsub_stop "$D/ps"
[ ! -f "$D/ps/pid" ]
cat "$D/got"
grep -c faults_fired "$D/stats"
"""
        r = subprocess.run(["bash", "-c", script, "pubsub-selftest", lib], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual([json.loads(x)["data"] for x in lines[:2]], ["YQ==", "Yg=="])
        self.assertEqual(lines[2], "1")


class Fixture(unittest.TestCase):
    def test_fixture_is_the_published_subset(self):
        d = ps.Discovery(ps.FIXTURE)
        self.assertEqual(d.doc["id"], "pubsub:v1")
        self.assertIn("google-api-python-client==", d.doc["x-double-provenance"])
        names = {(r, n) for _, _, r, n, _ in d.routes}
        want = {(r, n) for r, ns in ps.METHODS.items() for n in ns}
        self.assertEqual(names, want)
        self.assertIn("orderingKey", d.schemas["PubsubMessage"]["properties"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
