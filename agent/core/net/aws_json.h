/*
 * One SigV4-signed call to an AWS JSON-1.x API (Kinesis: JSON 1.1,
 * "Kinesis_20131202.<Op>"; DynamoDB: JSON 1.0, "DynamoDB_20120810.<Op>"):
 * POST <endpoint>/ with Content-Type application/x-amz-json-<version>,
 * X-Amz-Target <prefix>.<Op> and the JSON body, signed with aws_sigv4.h with
 * the credentials, region and endpoint of aws_creds.h.
 *
 * Two ways to run a call:
 *   - synchronous, on the client's own transfer: cdc_aws_json_call() (with an
 *     optional bounded retry, for start-up work: CreateTable, ListShards...);
 *   - prepared for a cdc_http_multi (several PutRecords at once):
 *
 *         cdc_aws_call c;  cdc_aws_call_init(&c);
 *         cdc_buf_puts(&c.body, "{\"StreamName\":...}");
 *         cdc_aws_json_sign(j, &c, "PutRecords", err);    // fills c.req
 *         cdc_http_multi_add(m, x, &c.req, err);
 *         ... when x is done:
 *         cdc_aws_json_finish(j, &c, cdc_http_xfer_resp(x), &res, err);
 *         ... a retry signs again (cdc_aws_json_sign) with the same body.
 *
 * Outcome (cdc_aws_result): AWS's error body {"__type": "<ns>#<Code>",
 * "message": "..."} (or "Message") is parsed into code (without the
 * namespace) and message.  Classes:
 *   CDC_AWS_OK     2xx with a JSON object as the answer (res.json);
 *   CDC_AWS_RETRY  no answer (refused, reset, timeout), 408, 429, any 5xx,
 *                  throttling codes (ProvisionedThroughputExceededException,
 *                  ThrottlingException, LimitExceededException,
 *                  RequestLimitExceeded, KMSThrottlingException, ...),
 *                  InternalFailure / InternalServerError / ServiceUnavailable,
 *                  expired session credentials (ExpiredToken...: the provider
 *                  refreshes them before the next signing), and a 2xx whose
 *                  body is not a JSON object (garbage: the service, or a proxy
 *                  in front of it, will answer properly again);
 *   CDC_AWS_FINAL  any other answered error (a 4xx with a non-retryable code:
 *                  ResourceNotFoundException, ValidationException,
 *                  ConditionalCheckFailedException, UnrecognizedClientException,
 *                  ...), and a request that cannot work (bad URL, TLS setup).
 * The err of a failed call reads "<service> <Op> at <endpoint>: <what>"
 * (e.g. "kinesis PutRecords at https://kinesis.eu-west-1.amazonaws.com:
 * HTTP 400 ResourceNotFoundException: Stream cdc-public-x not found"), with
 * code CDC_E_CONN / CDC_E_TIMEOUT / CDC_E_QUEUE_FULL (throttled) when
 * retryable, CDC_E_CONFIG for credentials, signature, permission and missing
 * resources, CDC_E_DEST for the other final refusals.
 *
 * Secrets: no message built here holds a key, a session token or a
 * signature.  AWS's answer to a bad signature quotes the canonical request
 * (which holds x-amz-security-token): the message is cut before it.  The
 * signed header lines (cdc_aws_call.hdrs) must never be logged.
 *
 * @locality one client per thread (the agent's loop); a call belongs to the
 * thread that signs it.  The caller holds a cdc_http_global_init() reference.
 */
#ifndef CDC_AGENT_CORE_NET_AWS_JSON_H
#define CDC_AGENT_CORE_NET_AWS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/aws_creds.h"
#include "agent/core/net/http.h"

#define CDC_AWS_KINESIS_TARGET  "Kinesis_20131202"
#define CDC_AWS_DYNAMODB_TARGET "DynamoDB_20120810"

/* Settings of a client; zero-initialise and set what differs. */
typedef struct cdc_aws_json_conf {
    cdc_aws_provider   *provider;      /* borrowed: credentials (and region, endpoint) */
    const char         *service;       /* signing name and endpoint: "kinesis", "dynamodb" */
    const char         *json_version;  /* "1.1" (Kinesis), "1.0" (DynamoDB) */
    const char         *target_prefix; /* CDC_AWS_KINESIS_TARGET, CDC_AWS_DYNAMODB_TARGET */
    const char         *endpoint;      /* NULL or "": cdc_aws_endpoint(provider, service) */
    const char         *region;        /* NULL or "": cdc_aws_provider_region(provider) */
    int                 timeout_ms;    /* each request; <= 0: 10000 */
    int                 connect_timeout_ms; /* <= 0: http.h's default */
    const cdc_http_tls *tls;           /* NULL: defaults */
    size_t              answer_max;    /* largest answer kept; 0: 16 MiB */
} cdc_aws_json_conf;

typedef struct cdc_aws_json cdc_aws_json;

/*
 * Resolves the endpoint and the region (fetches no credentials yet).
 * @returns the client, or NULL with err set (CDC_E_CONFIG: no region and no
 * endpoint override, naming the service; CDC_E_INVAL: conf incomplete).
 */
cdc_aws_json *cdc_aws_json_new(const cdc_aws_json_conf *c, cdc_err *err);
void          cdc_aws_json_free(cdc_aws_json *j);   /* NULL is a no-op */

const char *cdc_aws_json_endpoint(const cdc_aws_json *j);   /* the URL, no trailing '/' */
const char *cdc_aws_json_region(const cdc_aws_json *j);
const char *cdc_aws_json_service(const cdc_aws_json *j);

typedef enum cdc_aws_class {
    CDC_AWS_OK = 0,
    CDC_AWS_RETRY,
    CDC_AWS_FINAL,
} cdc_aws_class;

/* What a call came back with; cdc_aws_result_clear() releases json. */
typedef struct cdc_aws_result {
    cdc_aws_class cls;
    long          status;          /* HTTP status; 0: not answered */
    char          code[96];        /* AWS's error code without namespace; "": none */
    char          message[320];    /* AWS's message (one line, secrets cut), or why not
                                      answered; "" when OK */
    bool          throttled;       /* a throttling code or 429 */
    int64_t       retry_after_s;   /* Retry-After; 0: none */
    json_t       *json;            /* OK: the answer (an object), owned by the result */
} cdc_aws_result;

void cdc_aws_result_clear(cdc_aws_result *r);   /* decref json, zero; a zeroed struct is fine */

/* One call in preparation or in flight.  Init, fill body, sign, run, finish, free. */
typedef struct cdc_aws_call {
    cdc_buf        body;        /* the JSON request, filled by the caller before signing */
    cdc_buf        answer;      /* the response body (req.body_out) */
    cdc_http_req   req;         /* after cdc_aws_json_sign: for cdc_http_perform/multi_add */
    cdc_http_hdrs *hdrs;        /* the signed lines (never log them) */
    char           op[64];      /* "PutRecords" */
    void          *user;        /* the caller's */
} cdc_aws_call;

void cdc_aws_call_init(cdc_aws_call *c);
void cdc_aws_call_free(cdc_aws_call *c);   /* body, answer, headers; a zeroed struct is fine */

/*
 * Gets the provider's current credentials and signs c->body as the API's op
 * ("PutRecords") into c->req and c->hdrs (any older signature is replaced:
 * sign again before each attempt).  c->req borrows c's buffers and j: keep
 * both until the transfer is done.  @returns 0, or -1 with err set
 * (credentials unavailable: aws_creds.h's codes, wrapped with the service).
 */
int cdc_aws_json_sign(cdc_aws_json *j, cdc_aws_call *c, const char *op, cdc_err *err);

/*
 * Reads the outcome of a finished transfer of c into *res (cleared first).
 * @returns 0 when res->cls is CDC_AWS_OK, else -1 with err set (see the top).
 */
int cdc_aws_json_finish(cdc_aws_json *j, cdc_aws_call *c, const cdc_http_resp *resp,
                        cdc_aws_result *res, cdc_err *err);

/*
 * Classifies an answer without a call: the pure part of cdc_aws_json_finish
 * (for tests).  body may be NULL.  Fills res (json parsed on a 2xx).
 */
void cdc_aws_json_classify(long status, bool answered, bool broken_setup, const char *body,
                           size_t body_len, cdc_aws_result *res);

/* True for the error codes that mean "try again later" (see the top). */
bool cdc_aws_code_retryable(const char *code);

/*
 * Synchronous: signs and runs op with body (len bytes, JSON) on j's own
 * transfer.  retry NULL: one attempt; else CDC_AWS_RETRY outcomes are tried
 * again up to retry->max_attempts attempts in all, waiting by cdc_retry
 * (jitter) between them (blocking: for start-up and shutdown work, not for
 * the loop).  @returns 0 with res->json the answer, or -1 with err set and
 * res describing the last attempt.
 */
int cdc_aws_json_call(cdc_aws_json *j, const char *op, const char *body, size_t len,
                      const cdc_retry_conf *retry, cdc_aws_result *res, cdc_err *err);

#endif
