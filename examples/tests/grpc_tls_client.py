"""A second gRPC client over TLS, independent of tonic: Python's grpcio (gRPC's
C core). Calls grpc-server's health check and echo by their method paths, with
the messages encoded by hand (protobuf: field 1, a length-delimited string),
and prints one JSON line per call: its status code and the reply's bytes.

    python3 grpc_tls_client.py ADDR CERT.pem TOKEN
"""

import json
import sys

import grpc

addr, cert_file, token = sys.argv[1:4]
with open(cert_file, "rb") as f:
    root = f.read()
channel = grpc.secure_channel(
    addr,
    grpc.ssl_channel_credentials(root_certificates=root),
    options=[
        ("grpc.ssl_target_name_override", "localhost"),
        ("grpc.enable_http_proxy", 0),
    ],
)
raw = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
check = channel.unary_unary("/grpc.health.v1.Health/Check", **raw)
say = channel.unary_unary("/echo.v1.Echo/Say", **raw)
hello = b"\x0a\x05hello"


def call(name, method, request, metadata=()):
    try:
        reply = method(request, metadata=metadata, timeout=10)
        print(json.dumps({"call": name, "code": "OK", "reply": reply.hex()}))
    except grpc.RpcError as error:
        print(json.dumps({"call": name, "code": error.code().name, "details": error.details()}))


bearer = (("authorization", "Bearer " + token),)
call("check", check, b"")
call("say without a token", say, hello)
call("say", say, hello, bearer)
call("say past the burst", say, hello, bearer)
call("check, exempt from the limit", check, b"")
