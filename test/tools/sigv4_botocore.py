#!/usr/bin/env python3
"""Prints botocore's SigV4 Authorization for the requests test/unit/test_sigv4.c
checks in test_botocore_agrees (PutRecords with a session token, DynamoDB
GetItem, S3 ListObjectsV2), signed at 2015-08-30T12:36:00Z with AWS's example
key.  Needs botocore (checked with 1.43.11).  Run it and compare with the
Authorization strings in test_sigv4.c when the signer changes."""
import datetime

import botocore.auth as ba
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2015, 8, 30, 12, 36, 0)


class FixedTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED

    @classmethod
    def now(cls, tz=None):
        return FIXED.replace(tzinfo=tz) if tz else FIXED


ba.datetime.datetime = FixedTime


def sign(method, url, body, headers, region, service, token, cls=ba.SigV4Auth):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    r = AWSRequest(method=method, url=url, data=body, headers=headers)
    cls(creds, service, region).add_auth(r)
    return r.headers["Authorization"]


print(sign("POST", "http://127.0.0.1:4566/",
           b'{"StreamName":"cdc-public-customers","Records":[]}',
           {"Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.PutRecords"},
           "eu-west-1", "kinesis", "SESSIONTOKENEXAMPLE"))
print(sign("POST", "https://dynamodb.us-east-1.amazonaws.com/",
           b'{"TableName":"cdc_checkpoints","Key":{"stream":{"S":"cdc-public-customers"}}}',
           {"Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.GetItem"},
           "us-east-1", "dynamodb", None))
print(sign("GET", "https://s3.us-east-1.amazonaws.com/bucket/a%20b/c.parquet?list-type=2&prefix=x",
           b"", {}, "us-east-1", "s3", None, ba.S3SigV4Auth))
