#!/usr/bin/env python3
"""A TEST DOUBLE of Google Cloud Pub/Sub's REST API v1 (in memory, one process).

This is not Google Cloud Pub/Sub and not Google's emulator.  Neither can run on the test
machines, so this file implements, in Python 3's standard library alone, the part of the
published REST API (the discovery document pubsub.v1.json shipped in PyPI's
google-api-python-client) that cdcagent's Pub/Sub transport and its tests use.  The routes
and the request schemas come from a committed subset of that document,
test/fixtures/pubsub/pubsub.v1.subset.json (how it was made: see its "x-double-provenance"
and `--make-fixture`); request bodies are checked against those schemas, so an unknown
field, a wrong JSON type or bad base64 is refused as Google's JSON front end refuses it.

  PUT    /v1/projects/{p}/topics/{t}                   topics.create      -> Topic
  GET    /v1/projects/{p}/topics/{t}                   topics.get         -> Topic
  DELETE /v1/projects/{p}/topics/{t}                   topics.delete      -> {}
  GET    /v1/projects/{p}/topics[?pageSize&pageToken]  topics.list        -> ListTopicsResponse
  POST   /v1/projects/{p}/topics/{t}:publish           topics.publish     -> {"messageIds": [...]}
  PUT    /v1/projects/{p}/subscriptions/{s}            subscriptions.create (enableMessageOrdering,
                                                       deadLetterPolicy, ackDeadlineSeconds)
  GET    /v1/projects/{p}/subscriptions/{s}            subscriptions.get
  DELETE /v1/projects/{p}/subscriptions/{s}            subscriptions.delete
  GET    /v1/projects/{p}/subscriptions                subscriptions.list
  POST   /v1/projects/{p}/subscriptions/{s}:pull       subscriptions.pull -> {"receivedMessages": [...]}
  POST   /v1/projects/{p}/subscriptions/{s}:acknowledge
  POST   /v1/projects/{p}/subscriptions/{s}:modifyAckDeadline   (0 = nack: redeliver now)

Semantics copied from the service (cloud.google.com/pubsub/docs and the discovery document):
  * errors are Google's JSON error shape {"error": {"code", "message", "status"}}:
    400 INVALID_ARGUMENT, 400 FAILED_PRECONDITION, 401 UNAUTHENTICATED, 404 NOT_FOUND,
    409 ALREADY_EXISTS, and for injected faults 429 RESOURCE_EXHAUSTED, 500 INTERNAL,
    503 UNAVAILABLE, 504 DEADLINE_EXCEEDED;
  * publish limits (Pub/Sub "Quotas and limits", resource limits): at most 1,000 messages
    a request; a message of at most 10 MB (10,000,000 bytes: data + attribute keys and values
    + ordering key), at most 100 attributes, attribute keys of at most 256 bytes and values of
    at most 1,024 bytes, ordering keys of at most 1,024 bytes; a message needs non-empty data
    or at least one attribute; attribute keys may not start with "goog".  The 10 MB a request
    is the SERIALIZED PublishRequest (protobuf: topic name and each field's tag and length
    included), which is why clients that batch raw sizes up to 10 MB meet "The value for
    request_size is too large. You passed 10159812 in the request, but the maximum value is
    10000000." (googleapis/google-cloud-python issue 5898; java-pubsub issue 2106);
  * over REST, the HTTP body itself is limited to 10 MiB (10,485,760 bytes): "Request payload
    size exceeds the limit: 10485760 bytes." (standard-ai/hedwig-rust issue 18), answered
    here with 400 INVALID_ARGUMENT.  Data travels as base64 there, so a JSON publish carries at
    most about 7.8 MB of data; a transport that batches must count the JSON body as well as
    the serialized size.  Every limit can be changed on the command line;
  * "All PubsubMessages published in a given PublishRequest must specify the same
    ordering_key value" (PubsubMessage.orderingKey in the discovery document) is enforced:
    a request that mixes ordering keys, or keyed and unkeyed messages, is refused with
    400 FAILED_PRECONDITION and the service's own text ("In a single publish request, all
    messages must have no ordering key or they must all have the same ordering key", as a
    client met it: yoshidan/google-cloud-rust issue 226); --allow-mixed-ordering-keys turns
    that off.  So a client sends one ordering key per publish request, as Google's client
    libraries do (they batch per key);
  * a message is delivered only to subscriptions that existed when it was published;
  * pull: with enableMessageOrdering, the messages of one ordering key are delivered in
    publish order; when an outstanding message's ack deadline passes (or it is nacked with
    modifyAckDeadline 0) it is redelivered, and every later message of its key with it, in
    order, "even acknowledged ones" (cloud.google.com/pubsub/docs/ordering, "Message
    redelivery"; acknowledged messages before the first unacknowledged one are forgotten, so
    only those after it can come again): a reader must drop duplicates by messageId.
    The double's own, stricter choice: a later message of a key is not handed out while an
    earlier one is outstanding, except in the same pull response after the earlier one.
    Without ordering the double still delivers in publish order (the service promises none);
  * deadLetterPolicy: the dead-letter topic must exist; maxDeliveryAttempts 5..100 (0 means
    5); a message due for delivery attempt maxDeliveryAttempts+1 is published to the
    dead-letter topic instead, with the attributes CloudPubSubDeadLetterSourceDeliveryCount,
    CloudPubSubDeadLetterSourceSubscription, CloudPubSubDeadLetterSourceSubscriptionProject
    and CloudPubSubDeadLetterSourceTopicPublishTime, and leaves the subscription;
  * deleting a topic leaves its subscriptions with topic "_deleted-topic_".

Ordering keys after a failed publish.  "resumePublish" is a client-library concept: Google's
client libraries pause an ordering key in the PUBLISHER when a publish of it fails, fail the
queued and later messages of that key locally, and publish again only after the application
calls resumePublish(key) ("When publishing with an ordering key fails, queued-up messages of
the same ordering key in the publisher fail, as well as future publish requests of this
ordering key", cloud.google.com/pubsub/docs/samples/pubsub-resume-publish-with-ordering-keys).
The service keeps no such per-key pause: it accepts the next request of the key.  So the
double, by default (ordering check "off"), is faithful and accepts it too.  For tests of a
client that talks REST directly (cdcagent), the double offers a STRICT CHECK that is not the
service's behaviour and is named as such in its error: with `--ordering-check strict` (or
POST /_double/config {"ordering_check": "strict"}), after a publish of key K to topic T fails
with an injected fault (a status, or a dropped connection; "when": "after" included), the
next publish of K to T must begin with the first message of the failed request (same data,
attributes and key): that re-send "resumes" the key; anything else is refused with 400 FAILED_PRECONDITION and counted in
/_double/stats as an ordering violation, because a client that sends it has skipped or
overtaken a failed message.  POST /_double/resume {"topic", "orderingKey"} clears a key.
A request the double refuses for what it holds (400 INVALID_ARGUMENT for a limit, 404 for a
missing topic) does not pause its key: re-sending it cannot succeed, and the issue's client
sends such a record to its dead-letter topic and goes on with the key.

Test knobs, outside the Pub/Sub API namespace, under /_double/ (never behind the token):
  GET    /_double/stats     -> requests by method ("topics.publish", "subscriptions.pull"...),
                               accepted publish requests and messages, faults fired,
                               ordering violations, paused keys (strict check)
  POST   /_double/reset     -> clears the counters (not the topics)
  POST   /_double/fault     {"count": N, "status": 503}     the next N matching calls fail
                            {"count": N, "mode": "drop"}    ... or the connection is closed
                                                            without an answer
                            {"count": N, "mode": "latency", "delay_s": 2}
                                                            ... or are answered late
                            optional: "delay_s" (before failing or dropping too);
                            "methods": ["topics.publish"] (the default; any of
                            "topics.create" ... "subscriptions.pull" ..., a bare name means
                            a topics method, ["*"] all of them); "topic":
                            "projects/p/topics/t" (only that one); "when": "after" (the call
                            is carried out, then fails: the client sees an error for
                            messages that were published). Faults armed one after another
                            queue up: a call takes the first armed fault that matches it.
                            Injected statuses: 429 RESOURCE_EXHAUSTED, 500 INTERNAL,
                            503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, or any other code.
  DELETE /_double/fault     -> disarms every fault
  POST   /_double/config    {"ordering_check": "off"|"strict", "pull_wait_s": 0.5}
  POST   /_double/resume    {"topic": "projects/p/topics/t", "orderingKey": "k"}
  GET    /_double/messages?topic=projects/p/topics/t
                            -> every message published to the topic, in order (debugging;
                               tests read back through subscriptions.pull)

What it does NOT do: gRPC and streaming pull, push/BigQuery/Cloud Storage subscriptions,
filters, exactly-once delivery, seek and snapshots, schemas and schema validation, message
transforms, retention and expiry, IAM (any token is accepted, or exactly --token's),
regional endpoints, quotas over time (throughput), persistence across restarts, chunked or
gzip-compressed request bodies (libcurl sends Content-Length; "Expect: 100-continue", which
libcurl sends for large bodies, is answered), TLS.

Command line: --port 0 prints "PORT <n>" on stdout once listening; --host; --token T
(requests must carry "Authorization: Bearer T", else 401; the token is never printed);
--projects a,b (other projects are NOT_FOUND); --ordering-check off|strict; the limits
--max-messages, --max-request-bytes, --max-message-bytes, --max-body-bytes; --make-fixture
FULL.json OUT.json.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "pubsub", "pubsub.v1.subset.json")

# The methods the double implements, by discovery id; --make-fixture keeps these and the
# schemas they reach.
METHODS = {
    "topics": ("create", "get", "delete", "list", "publish"),
    "subscriptions": ("create", "get", "delete", "list", "pull", "acknowledge",
                      "modifyAckDeadline"),
}

MAX_MESSAGES = 1000
MAX_REQUEST_BYTES = 10 * 1000 * 1000      # the serialized PublishRequest
MAX_BODY_BYTES = 10 * 1024 * 1024          # the JSON body of any REST call
MAX_MESSAGE_BYTES = 10 * 1000 * 1000
MAX_ATTRIBUTES = 100
MAX_ATTR_KEY = 256
MAX_ATTR_VALUE = 1024
MAX_ORDERING_KEY = 1024
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
                499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}


class ApiError(Exception):
    def __init__(self, code, message, status=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")


# ---------------------------------------------------------------------------------------
# The discovery document: the fixture subset, routing, and request checking.

def subset_discovery(doc, source_note):
    """The part of the full pubsub.v1.json the double implements: the methods in METHODS
    and every schema they reach through $ref."""
    res = doc["resources"]["projects"]["resources"]
    out_res = {}
    wanted = []
    for r, names in METHODS.items():
        out_res[r] = {"methods": {n: res[r]["methods"][n] for n in names}}
        for n in names:
            m = res[r]["methods"][n]
            for k in ("request", "response"):
                if k in m:
                    wanted.append(m[k]["$ref"])
    schemas, seen = {}, set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        s = doc["schemas"][name]
        schemas[name] = s
        stack = [s]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if "$ref" in node:
                    wanted.append(node["$ref"])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return {
        "x-double-provenance": source_note,
        "id": doc["id"], "revision": doc["revision"], "rootUrl": doc["rootUrl"],
        "servicePath": doc["servicePath"], "version": doc["version"],
        "resources": {"projects": {"resources": out_res}},
        "schemas": dict(sorted(schemas.items())),
    }


class Discovery:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)
        self.schemas = self.doc["schemas"]
        self.routes = []    # (http method, compiled flatPath, resource, method name, spec)
        for r, body in self.doc["resources"]["projects"]["resources"].items():
            for name, spec in body["methods"].items():
                pat = re.escape(spec["flatPath"])
                pat = re.sub(r"\\\{([A-Za-z]+)\\\}", r"(?P<\1>[^/:]+)", pat)
                self.routes.append((spec["httpMethod"], re.compile("^/" + pat + "$"),
                                    r, name, spec))

    def route(self, method, path):
        matched_path = False
        for http, rx, r, name, spec in self.routes:
            m = rx.match(path)
            if m:
                matched_path = True
                if http == method:
                    return r, name, spec, {k: urllib.parse.unquote(v)
                                           for k, v in m.groupdict().items()}
        if matched_path:
            raise ApiError(405, "Method %s is not allowed on %s (test double)" % (method, path),
                           "UNIMPLEMENTED")
        raise ApiError(404, "The requested URL %s was not found on this test double." % path)

    def check(self, value, schema_name, where=""):
        """Checks a JSON request body against a discovery schema, as Google's JSON front
        end does: unknown names, wrong JSON types and undecodable bytes are INVALID_ARGUMENT."""
        self._check(value, {"$ref": schema_name}, where)

    def _check(self, v, spec, where):
        if "$ref" in spec:
            schema = self.schemas[spec["$ref"]]
            if not isinstance(v, dict):
                raise ApiError(400, "Invalid value at '%s', expected an object" % (where or "body"))
            props = schema.get("properties", {})
            for k, sub in v.items():
                if k not in props:
                    raise ApiError(400, 'Invalid JSON payload received. Unknown name "%s"%s: '
                                   "Cannot find field." % (k, " at '%s'" % where if where else ""))
                self._check(sub, props[k], "%s.%s" % (where, k) if where else k)
            return
        t = spec.get("type")
        if v is None:
            return
        bad = False
        if t == "string":
            if spec.get("format") == "int64" and isinstance(v, int) and not isinstance(v, bool):
                return
            bad = not isinstance(v, str)
            if not bad and spec.get("format") == "byte":
                if decode_bytes(v) is None:
                    raise ApiError(400, "Invalid value at '%s' (TYPE_BYTES), Base64 decoding "
                                   "failed for \"%s\"" % (where, v[:40]))
        elif t == "integer":
            bad = isinstance(v, bool) or not (isinstance(v, int) or
                                              (isinstance(v, str) and v.lstrip("-").isdigit()))
        elif t == "boolean":
            bad = not isinstance(v, bool)
        elif t == "array":
            if not isinstance(v, list):
                bad = True
            else:
                for i, item in enumerate(v):
                    self._check(item, spec.get("items", {}), "%s[%d]" % (where, i))
        elif t == "object":
            if not isinstance(v, dict):
                bad = True
            elif "additionalProperties" in spec:
                for k, item in v.items():
                    self._check(item, spec["additionalProperties"], "%s[%s]" % (where, k))
        if bad:
            raise ApiError(400, "Invalid value at '%s' (%s), %s" % (where, t, json.dumps(v)[:60]))


def decode_bytes(s):
    """Google's JSON mapping accepts standard and URL-safe base64, padded or not."""
    t = s.replace("-", "+").replace("_", "/")
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return None


def pb_varint_len(n):
    return max(1, (n.bit_length() + 6) // 7)


def pb_field(n):
    """Bytes a length-delimited protobuf field of n bytes takes (field number < 16)."""
    return 1 + pb_varint_len(n) + n


def pb_message_size(data, attrs, key):
    """The serialized size of a google.pubsub.v1.PubsubMessage as the publisher sends it:
    data = 1, attributes = 2 (map entries {key = 1, value = 2}), ordering_key = 5."""
    n = pb_field(len(data)) if data else 0
    for k, v in attrs.items():
        n += pb_field(pb_field(len(k.encode())) + pb_field(len(v.encode())))
    return n + (pb_field(len(key.encode())) if key else 0)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------
# The service state.

class Entry:
    """One message in one subscription's backlog."""
    __slots__ = ("msg", "key", "state", "ack_id", "deadline", "attempts", "pull_no")

    def __init__(self, msg, key):
        self.msg, self.key = msg, key
        self.state = "ready"            # ready | out | acked
        self.ack_id, self.deadline, self.attempts, self.pull_no = None, 0.0, 0, 0


class Service:
    def __init__(self, opts):
        self.o = opts
        self.lock = threading.Condition()
        self.topics = {}         # full name -> {"topic": Topic json, "subs": [names], "log": []}
        self.subs = {}           # full name -> {"sub": Subscription json, "backlog": [Entry]}
        self.acks = {}           # ack id -> (sub name, Entry)
        self.next_id = 1
        self.pull_no = 0
        self.paused = {}         # (topic, key) -> fingerprint of the failed request's first message
        self.stats = {}
        self.clock = time.monotonic     # ack deadlines; the self-test moves it forward
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": 0, "by_method": {}, "published_messages": 0,
                      "publish_requests": 0, "faults_fired": 0, "ordering_violations": 0,
                      "rejected_publishes": 0, "dead_lettered": 0}

    # -- names ------------------------------------------------------------------------

    def project(self, p):
        if self.o.projects and p not in self.o.projects:
            raise ApiError(404, "Requested project not found or user does not have access to "
                           "it (project=%s). Make sure to specify the unique project "
                           "identifier and not the Google Cloud Console display name." % p)

    def check_id(self, what, ident):
        if not NAME_RE.match(ident) or ident.startswith("goog"):
            raise ApiError(400, "Invalid [%s] name: (name=%s): it must start with a letter, "
                           "contain only letters, numbers, dashes, underscores, periods, "
                           "tildes, plus or percent signs, be 3 to 255 characters long and "
                           "not start with \"goog\"" % (what, ident))

    def need_topic(self, name):
        t = self.topics.get(name)
        if t is None:
            raise ApiError(404, "Resource not found (resource=%s)." % name.rsplit("/", 1)[-1])
        return t

    def need_sub(self, name):
        s = self.subs.get(name)
        if s is None:
            raise ApiError(404, "Resource not found (resource=%s)." % name.rsplit("/", 1)[-1])
        return s

    # -- topics -----------------------------------------------------------------------

    def topic_create(self, p, t, body):
        self.project(p)
        self.check_id("topics", t)
        name = "projects/%s/topics/%s" % (p, t)
        if body.get("name") not in (None, name):
            raise ApiError(400, "The topic name in the body (%s) does not match the URL (%s)"
                           % (body.get("name"), name))
        if name in self.topics:
            raise ApiError(409, "Resource already exists in the project (resource=%s)." % t)
        topic = dict(body)
        topic["name"] = name
        topic.setdefault("state", "ACTIVE")
        self.topics[name] = {"topic": topic, "subs": [], "log": []}
        return topic

    def topic_delete(self, name):
        self.need_topic(name)
        for s in self.topics[name]["subs"]:
            if s in self.subs:
                self.subs[s]["sub"]["topic"] = "_deleted-topic_"
        del self.topics[name]
        for k in [k for k in self.paused if k[0] == name]:
            del self.paused[k]
        return {}

    def listing(self, items, field, q):
        try:
            size = int(q.get("pageSize") or 100)
            start = int(q.get("pageToken") or 0)
        except ValueError:
            raise ApiError(400, "Invalid pageSize or pageToken")
        size = max(1, min(size, 1000))
        out = {field: items[start:start + size]} if items[start:start + size] else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    # -- publish ----------------------------------------------------------------------

    def validate_publish(self, topic, body):
        msgs = body.get("messages")
        if not msgs:
            raise ApiError(400, "The request must contain at least one message "
                           "(PublishRequest.messages is required).")
        if len(msgs) > self.o.max_messages:
            raise ApiError(400, "The value for message_count is too large. You passed %d in "
                           "the request, but the maximum value is %d."
                           % (len(msgs), self.o.max_messages))
        total, out, keys = pb_field(len(topic.encode())), [], set()
        for i, m in enumerate(msgs):
            data = decode_bytes(m.get("data") or "")
            attrs = m.get("attributes") or {}
            key = m.get("orderingKey") or ""
            if not data and not attrs:
                raise ApiError(400, "Some messages are empty: messages[%d] has neither data "
                               "nor attributes; a message must have non-empty data or at "
                               "least one attribute." % i)
            if len(attrs) > MAX_ATTRIBUTES:
                raise ApiError(400, "The value for attribute_count of messages[%d] is too "
                               "large. You passed %d in the request, but the maximum value "
                               "is %d." % (i, len(attrs), MAX_ATTRIBUTES))
            size = len(data) + len(key.encode())
            for k, v in attrs.items():
                kb, vb = len(k.encode()), len(v.encode())
                if not k:
                    raise ApiError(400, "messages[%d] has an attribute with an empty key." % i)
                if k.startswith("goog"):
                    raise ApiError(400, "messages[%d] attribute key \"%s\": keys starting with "
                                   "\"goog\" are reserved." % (i, k[:40]))
                if kb > MAX_ATTR_KEY:
                    raise ApiError(400, "The value for attribute_key_size of messages[%d] is "
                                   "too large. You passed %d in the request, but the maximum "
                                   "value is %d." % (i, kb, MAX_ATTR_KEY))
                if vb > MAX_ATTR_VALUE:
                    raise ApiError(400, "The value for attribute_value_size of messages[%d] "
                                   "(key \"%s\") is too large. You passed %d in the request, "
                                   "but the maximum value is %d."
                                   % (i, k[:40], vb, MAX_ATTR_VALUE))
                size += kb + vb
            if len(key.encode()) > MAX_ORDERING_KEY:
                raise ApiError(400, "The value for ordering_key_size of messages[%d] is too "
                               "large. You passed %d in the request, but the maximum value "
                               "is %d." % (i, len(key.encode()), MAX_ORDERING_KEY))
            if size > self.o.max_message_bytes:
                raise ApiError(400, "The value for message_size of messages[%d] is too large. "
                               "You passed %d in the request, but the maximum value is %d."
                               % (i, size, self.o.max_message_bytes))
            total += pb_field(pb_message_size(data, attrs, key))
            keys.add(key)
            out.append((data, dict(attrs), key))
        if total > self.o.max_request_bytes:
            raise ApiError(400, "The value for request_size is too large. You passed %d in the "
                           "request, but the maximum value is %d."
                           % (total, self.o.max_request_bytes))
        if len(keys) > 1 and not self.o.allow_mixed_ordering_keys:
            raise ApiError(400, "In a single publish request, all messages must have no "
                           "ordering key or they must all have the same ordering key. "
                           "(test double: this request has %d different ones)" % len(keys),
                           "FAILED_PRECONDITION")
        return out

    @staticmethod
    def fingerprint(data, attrs, key):
        h = hashlib.sha256()
        h.update(data)
        h.update(json.dumps(attrs, sort_keys=True).encode())
        h.update(key.encode())
        return h.hexdigest()

    def ordering_gate(self, topic, parsed):
        """The strict ordering check (not the service's behaviour; see the module comment)."""
        if self.o.ordering_check != "strict":
            return
        key = parsed[0][2]
        if not key or (topic, key) not in self.paused:
            return
        if self.fingerprint(*parsed[0]) == self.paused[(topic, key)]:
            del self.paused[(topic, key)]
            return
        self.stats["ordering_violations"] += 1
        raise ApiError(400, "TEST DOUBLE ordering check (not a Pub/Sub error): ordering key "
                       "\"%s\" of %s had a failed publish; the next publish of that key must "
                       "re-send the failed messages first" % (key[:80], topic),
                       "FAILED_PRECONDITION")

    def note_failure(self, topic, body):
        """Strict check: a publish of a key failed with an injected fault, so the key waits
        for its re-send."""
        if self.o.ordering_check != "strict":
            return
        try:
            m = body["messages"][0]
            key = m.get("orderingKey") or ""
            if key and (topic, key) not in self.paused:
                data = decode_bytes(m.get("data") or "") or b""
                self.paused[(topic, key)] = self.fingerprint(data, dict(m.get("attributes") or {}),
                                                             key)
        except (KeyError, IndexError, TypeError, AttributeError):
            pass

    def publish(self, topic_name, parsed, gate=True):
        t = self.need_topic(topic_name)
        if gate:
            self.ordering_gate(topic_name, parsed)
        ids = []
        for data, attrs, key in parsed:
            mid = str(self.next_id)
            self.next_id += 1
            msg = {"data": base64.b64encode(data).decode(), "messageId": mid,
                   "publishTime": now_rfc3339()}
            if attrs:
                msg["attributes"] = attrs
            if key:
                msg["orderingKey"] = key
            t["log"].append(msg)
            for s in t["subs"]:
                if s in self.subs:
                    self.subs[s]["backlog"].append(Entry(msg, key))
            ids.append(mid)
        self.stats["published_messages"] += len(ids)
        self.lock.notify_all()
        return {"messageIds": ids}

    # -- subscriptions ----------------------------------------------------------------

    def sub_create(self, p, s, body):
        self.project(p)
        self.check_id("subscriptions", s)
        name = "projects/%s/subscriptions/%s" % (p, s)
        if body.get("name") not in (None, name):
            raise ApiError(400, "The subscription name in the body (%s) does not match the "
                           "URL (%s)" % (body.get("name"), name))
        if not body.get("topic"):
            raise ApiError(400, "Subscription.topic is required (format "
                           "projects/{project}/topics/{topic}).")
        if name in self.subs:
            raise ApiError(409, "Resource already exists in the project (resource=%s)." % s)
        self.need_topic(body["topic"])
        sub = dict(body)
        sub["name"] = name
        ack = int(sub.get("ackDeadlineSeconds") or 10)
        if not 10 <= ack <= 600:
            raise ApiError(400, "Invalid ackDeadlineSeconds %d: it must be between 10 and 600."
                           % ack)
        sub["ackDeadlineSeconds"] = ack
        dlp = sub.get("deadLetterPolicy")
        if dlp:
            dlt = dlp.get("deadLetterTopic")
            if not dlt:
                raise ApiError(400, "deadLetterPolicy.deadLetterTopic is required.")
            self.need_topic(dlt)
            mda = int(dlp.get("maxDeliveryAttempts") or 5)
            if not 5 <= mda <= 100:
                raise ApiError(400, "Invalid deadLetterPolicy.maxDeliveryAttempts %d: it must "
                               "be between 5 and 100." % mda)
            sub["deadLetterPolicy"] = {"deadLetterTopic": dlt, "maxDeliveryAttempts": mda}
        sub.setdefault("messageRetentionDuration", "604800s")
        sub.setdefault("expirationPolicy", {"ttl": "2678400s"})
        sub["state"] = "ACTIVE"
        self.subs[name] = {"sub": sub, "backlog": []}
        self.topics[body["topic"]]["subs"].append(name)
        return sub

    def sub_delete(self, name):
        s = self.need_sub(name)
        t = self.topics.get(s["sub"]["topic"])
        if t and name in t["subs"]:
            t["subs"].remove(name)
        for e in s["backlog"]:
            self.acks.pop(e.ack_id, None)
        del self.subs[name]
        return {}

    def _expire(self, sub, now):
        ordered = sub["sub"].get("enableMessageOrdering")
        requeue = set()
        for e in sub["backlog"]:
            expired = e.state == "out" and e.deadline <= now
            # ordered: every later message of the key comes again, acknowledged or not
            follows = ordered and e.key and e.key in requeue and e.state in ("out", "acked")
            if expired or follows:
                e.state = "ready"
                self.acks.pop(e.ack_id, None)
                if ordered and e.key:
                    requeue.add(e.key)

    def _dead_letter(self, sub_name, sub, e):
        dlp = sub["sub"]["deadLetterPolicy"]
        t = self.topics.get(dlp["deadLetterTopic"])
        e.state = "acked"
        self.stats["dead_lettered"] += 1
        if t is None:
            return
        attrs = dict(e.msg.get("attributes") or {})
        p = sub_name.split("/")[1]
        attrs.update({"CloudPubSubDeadLetterSourceDeliveryCount": str(e.attempts),
                      "CloudPubSubDeadLetterSourceSubscription": sub_name.rsplit("/", 1)[-1],
                      "CloudPubSubDeadLetterSourceSubscriptionProject": p,
                      "CloudPubSubDeadLetterSourceTopicPublishTime": e.msg["publishTime"]})
        data = base64.b64decode(e.msg.get("data", ""))
        self.publish(dlp["deadLetterTopic"], [(data, attrs, e.key)], gate=False)

    def pull(self, name, max_messages):
        sub = self.need_sub(name)
        if max_messages <= 0:
            raise ApiError(400, "maxMessages must be a positive integer (got %d)." % max_messages)
        now = self.clock()
        self._expire(sub, now)
        ordered = sub["sub"].get("enableMessageOrdering")
        dlp = sub["sub"].get("deadLetterPolicy")
        self.pull_no += 1
        blocked, out = set(), []
        for e in sub["backlog"]:
            if len(out) >= max_messages:
                break
            k = e.key if ordered and e.key else None
            if e.state == "acked" or (k is not None and k in blocked):
                continue
            if e.state == "out":
                if k is not None and e.pull_no != self.pull_no:
                    blocked.add(k)      # an earlier message of k is outstanding
                continue
            if dlp and e.attempts >= dlp["maxDeliveryAttempts"]:
                self._dead_letter(name, sub, e)
                continue
            e.attempts += 1
            e.state, e.pull_no = "out", self.pull_no
            e.deadline = now + sub["sub"]["ackDeadlineSeconds"]
            e.ack_id = "double-ack-%d-%s" % (self.pull_no, e.msg["messageId"])
            self.acks[e.ack_id] = (name, e)
            rm = {"ackId": e.ack_id, "message": e.msg}
            if dlp:
                rm["deliveryAttempt"] = e.attempts
            out.append(rm)
        while sub["backlog"] and sub["backlog"][0].state == "acked":
            sub["backlog"].pop(0)
        return out

    def ack_ids(self, name, ids, deadline=None):
        self.need_sub(name)
        if not ids:
            raise ApiError(400, "ackIds must not be empty.")
        now = self.clock()
        for a in ids:
            if not isinstance(a, str) or not a.startswith("double-ack-"):
                raise ApiError(400, "You have passed an invalid ack ID to the service "
                               "(ack_id=%s)." % str(a)[:60])
            hit = self.acks.get(a)
            if hit is None or hit[0] != name:
                continue            # expired or already acknowledged: ignored, as the service does
            e = hit[1]
            if deadline is None:
                e.state = "acked"
                del self.acks[a]
            elif deadline == 0:
                e.deadline = now    # nack: the next pull redelivers it (and its key's followers)
            else:
                e.deadline = now + deadline
        return {}


# ---------------------------------------------------------------------------------------
# HTTP.

class Fault:
    def __init__(self, b):
        self.count = int(b.get("count", 1))
        self.status = int(b.get("status", 503))
        self.mode = b.get("mode", "status")
        self.delay = float(b.get("delay_s", 0 if self.mode != "latency" else 1))
        self.methods = b.get("methods") or ["topics.publish"]
        self.topic = b.get("topic")
        self.when = b.get("when", "before")
        if self.mode not in ("status", "drop", "latency"):
            raise ApiError(400, "fault mode must be status, drop or latency")
        if self.when not in ("before", "after"):
            raise ApiError(400, "fault when must be before or after")

    def matches(self, method, target):
        names = [m if "." in m else "topics." + m for m in self.methods]
        return ("*" in names or method in names) and \
            (self.topic is None or self.topic == target)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pubsub-test-double/1"
    # The status line and headers go out in one write and the body in another: with Nagle's
    # algorithm on, a kept-alive connection waits for the peer's delayed ACK (40 ms) on every
    # small answer, which made the double answer about 22 small publishes a second.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("pubsub double: %s\n" % (fmt % args))

    def _read(self):
        n = int(self.headers.get("Content-Length") or 0)
        limit = self.server.service.o.max_body_bytes
        if n > limit:
            left = n                    # read it all, so that the connection stays usable
            while left > 0:
                got = self.rfile.read(min(left, 1 << 20))
                if not got:
                    break
                left -= len(got)
            raise ApiError(400, "Request payload size exceeds the limit: %d bytes." % limit)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            v = json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "Invalid JSON payload received. %s" % e)
        if not isinstance(v, dict):
            raise ApiError(400, "Invalid JSON payload received. Expected an object.")
        return v

    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, e):
        self._send(e.code, {"error": {"code": e.code, "message": e.message, "status": e.status}})

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path.startswith("/_double/"):
                return self._send(200, self._double(method, url.path[len("/_double/"):], q))
            body = self._read()
            r, name, spec, args = self.server.discovery.route(method, url.path)
            return self._api(r, name, spec, args, q, body)
        except ApiError as e:
            return self._error(e)

    def _api(self, r, name, spec, args, q, body):
        srv, svc = self.server, self.server.service
        target = "projects/%s/%s/%s" % (args.get("projectsId"), r, args.get(r + "Id")) \
            if (r + "Id") in args else "projects/%s" % args.get("projectsId")
        mname = r + "." + name
        with svc.lock:
            svc.stats["requests"] += 1
            svc.stats["by_method"][mname] = svc.stats["by_method"].get(mname, 0) + 1
            fault = None
            for f in srv.faults:
                if f.count > 0 and f.matches(mname, target):
                    f.count -= 1
                    fault = f
                    svc.stats["faults_fired"] += 1
                    break
            srv.faults = [f for f in srv.faults if f.count > 0]
        if srv.token is not None and self.headers.get("Authorization", "") != "Bearer " + srv.token:
            return self._error(ApiError(401, "Request had invalid authentication credentials. "
                                        "Expected OAuth 2 access token, login cookie or other "
                                        "valid authentication credential."))
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.when == "before" and fault.mode != "latency":
            if name == "publish":
                with svc.lock:
                    svc.note_failure(target, body)
            if fault.mode == "drop":
                return self._drop()
            return self._error(ApiError(fault.status, "injected failure (test double): HTTP %d"
                                        % fault.status))
        if "request" in spec:
            srv.discovery.check(body, spec["request"]["$ref"])
        elif body:
            raise ApiError(400, "Invalid JSON payload received. This method takes no body.")
        try:
            out = self._call(r, name, args, q, body, target)
        except ApiError:
            if name == "publish":
                with svc.lock:
                    svc.stats["rejected_publishes"] += 1
            raise
        if fault and fault.when == "after" and fault.mode != "latency":
            if name == "publish":
                with svc.lock:
                    svc.note_failure(target, body)
            if fault.mode == "drop":
                return self._drop()
            return self._error(ApiError(fault.status, "injected failure (test double): HTTP %d"
                                        % fault.status))
        return self._send(200, out)

    def _call(self, r, name, args, q, body, target):
        svc = self.server.service
        p = args["projectsId"]
        if name == "publish":
            parsed = svc.validate_publish(target, body)
            with svc.lock:
                out = svc.publish(target, parsed)
                svc.stats["publish_requests"] += 1
                return out
        if name == "pull":
            try:
                maxm = int(body.get("maxMessages") or 0)
            except ValueError:
                raise ApiError(400, "maxMessages must be an integer.")
            wait_until = time.monotonic() + (0 if body.get("returnImmediately")
                                             else svc.o.pull_wait_s)
            with svc.lock:
                while True:
                    got = svc.pull(target, maxm)
                    left = wait_until - time.monotonic()
                    if got or left <= 0:
                        return {"receivedMessages": got} if got else {}
                    svc.lock.wait(min(left, 0.05))
        with svc.lock:
            if r == "topics":
                if name == "create":
                    return svc.topic_create(p, args["topicsId"], body)
                if name == "get":
                    svc.project(p)
                    return svc.need_topic(target)["topic"]
                if name == "delete":
                    svc.project(p)
                    return svc.topic_delete(target)
                if name == "list":
                    svc.project(p)
                    pre = target + "/topics/"
                    items = [v["topic"] for k, v in sorted(svc.topics.items())
                             if k.startswith(pre)]
                    return svc.listing(items, "topics", q)
            else:
                if name == "create":
                    return svc.sub_create(p, args["subscriptionsId"], body)
                if name == "get":
                    svc.project(p)
                    return svc.need_sub(target)["sub"]
                if name == "delete":
                    svc.project(p)
                    return svc.sub_delete(target)
                if name == "list":
                    svc.project(p)
                    pre = target + "/subscriptions/"
                    items = [v["sub"] for k, v in sorted(svc.subs.items()) if k.startswith(pre)]
                    return svc.listing(items, "subscriptions", q)
                if name == "acknowledge":
                    return svc.ack_ids(target, body.get("ackIds"))
                if name == "modifyAckDeadline":
                    d = int(body.get("ackDeadlineSeconds") or 0)
                    if not 0 <= d <= 600:
                        raise ApiError(400, "ackDeadlineSeconds must be between 0 and 600 "
                                       "(got %d)." % d)
                    return svc.ack_ids(target, body.get("ackIds"), d)
        raise ApiError(501, "not implemented by the test double", "UNIMPLEMENTED")

    def _double(self, method, what, q):
        srv, svc = self.server, self.server.service
        body = self._read() if method in ("POST", "PUT", "DELETE") else {}
        with svc.lock:
            if what == "stats" and method == "GET":
                out = json.loads(json.dumps(svc.stats))
                out["paused_keys"] = [{"topic": t, "orderingKey": k} for t, k in svc.paused]
                out["armed_faults"] = sum(f.count for f in srv.faults)
                out["ordering_check"] = svc.o.ordering_check
                return out
            if what == "reset" and method == "POST":
                svc.reset_stats()
                return {}
            if what == "fault" and method == "POST":
                srv.faults.append(Fault(body))
                return {"armed": sum(f.count for f in srv.faults)}
            if what == "fault" and method == "DELETE":
                srv.faults = []
                return {"armed": 0}
            if what == "config" and method == "POST":
                if "ordering_check" in body:
                    if body["ordering_check"] not in ("off", "strict"):
                        raise ApiError(400, "ordering_check must be off or strict")
                    svc.o.ordering_check = body["ordering_check"]
                    if svc.o.ordering_check == "off":
                        svc.paused.clear()
                if "pull_wait_s" in body:
                    svc.o.pull_wait_s = float(body["pull_wait_s"])
                return {"ordering_check": svc.o.ordering_check, "pull_wait_s": svc.o.pull_wait_s}
            if what == "resume" and method == "POST":
                gone = svc.paused.pop((body.get("topic"), body.get("orderingKey")), None)
                return {"resumed": gone is not None}
            if what == "messages" and method == "GET":
                return {"messages": list(svc.need_topic(q.get("topic", ""))["log"])}
        raise ApiError(404, "no such test-double knob: %s /_double/%s" % (method, what))


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, opts, discovery_path=FIXTURE):
        super().__init__(addr, Handler)
        self.discovery = Discovery(discovery_path)
        self.service = Service(opts)
        self.token = opts.token
        self.verbose = opts.verbose
        self.faults = []


def options(argv=None):
    ap = argparse.ArgumentParser(description="TEST DOUBLE of Google Cloud Pub/Sub's REST API "
                                 "v1 (in memory). Not the Pub/Sub service or its emulator.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8085, help="0 picks a free port")
    ap.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (never printed)")
    ap.add_argument("--projects", type=lambda s: [p for p in s.split(",") if p], default=[],
                    help="comma-separated project ids that exist (default: any)")
    ap.add_argument("--ordering-check", choices=("off", "strict"), default="off")
    ap.add_argument("--allow-mixed-ordering-keys", action="store_true")
    ap.add_argument("--max-messages", type=int, default=MAX_MESSAGES)
    ap.add_argument("--max-request-bytes", type=int, default=MAX_REQUEST_BYTES)
    ap.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    ap.add_argument("--max-message-bytes", type=int, default=MAX_MESSAGE_BYTES)
    ap.add_argument("--pull-wait-s", type=float, default=0.5,
                    help="how long a pull without returnImmediately waits for a message")
    ap.add_argument("--discovery", default=FIXTURE, help="the discovery subset to serve")
    ap.add_argument("--make-fixture", nargs=2, metavar=("FULL_JSON", "OUT_JSON"),
                    help="write the subset of a full pubsub.v1.json that the double uses")
    ap.add_argument("--source-note", default="",
                    help="with --make-fixture: where FULL_JSON came from")
    ap.add_argument("--verbose", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    o = options(argv)
    if o.make_fixture:
        full, out = o.make_fixture
        with open(full, "rb") as f:
            raw = f.read()
        note = "%s; sha256 of the full document %s" % (o.source_note or full,
                                                       hashlib.sha256(raw).hexdigest())
        with open(out, "w", encoding="utf-8") as f:
            json.dump(subset_discovery(json.loads(raw), note), f, indent=1, sort_keys=False)
            f.write("\n")
        return 0
    srv = DoubleServer((o.host, o.port), o, o.discovery)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
