#!/usr/bin/env python3
"""Recognizes the entities of a few texts with the NER service, from Python.

Uses Debian's python3-grpcio and stubs generated from proto/ner/v1/ner.proto by gen_stubs.sh:

    examples/python/gen_stubs.sh                       # writes examples/python/gen/
    python3 examples/python/recognize.py --address localhost:50051 "张三在北京大学工作。"

Prints one JSON object per text: {"id", "text", "model", "version", "entities": [{"start",
"end", "type", "text", "score"}]}, offsets in code points (Python string indices), so
text[start:end] == entity text. Retries UNAVAILABLE and RESOURCE_EXHAUSTED with exponential
backoff through gRPC's own retry policy (the service config below), like the C++ client.
"""

import argparse
import json
import os
import sys

# gRPC retries: at most 5 attempts, backoff 0.1 s doubling up to 5 s (gRPC adds the jitter).
SERVICE_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "ner.v1.NerService"}],
        "retryPolicy": {
            "maxAttempts": 5,
            "initialBackoff": "0.1s",
            "maxBackoff": "5s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
        },
    }]
})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:50051", help="the server, host:port")
    parser.add_argument("--stubs", default=os.path.join(os.path.dirname(__file__), "gen"),
                        help="directory holding ner/v1/ner_pb2.py (see gen_stubs.sh)")
    parser.add_argument("--timeout", type=float, default=30, help="deadline in seconds")
    parser.add_argument("--token", help="bearer token (only Train, Evaluate, ... need one)")
    parser.add_argument("--types", default="", help="keep only these types, e.g. PER,ORG")
    parser.add_argument("texts", nargs="+", help="texts to annotate")
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc  # noqa: E402  (Debian: python3-grpcio)
    from ner.v1 import ner_pb2, ner_pb2_grpc  # noqa: E402

    channel = grpc.insecure_channel(args.address, options=[
        ("grpc.enable_retries", 1), ("grpc.service_config", SERVICE_CONFIG)])
    stub = ner_pb2_grpc.NerServiceStub(channel)
    request = ner_pb2.RecognizeRequest(
        documents=[ner_pb2.Document(id=str(i + 1), text=text) for i, text in enumerate(args.texts)],
        options=ner_pb2.RecognizeOptions(
            entity_types=[t for t in args.types.split(",") if t]))
    metadata = [("authorization", "Bearer " + args.token)] if args.token else None
    try:
        response = stub.Recognize(request, timeout=args.timeout, metadata=metadata)
    except grpc.RpcError as error:
        print(f"recognize: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    for result, text in zip(response.results, args.texts):
        print(json.dumps({
            "id": result.id,
            "text": text,
            "model": response.model_name,
            "version": response.model_version,
            "entities": [{"start": e.begin_char, "end": e.end_char, "type": e.type,
                          "text": e.text, "score": round(e.score, 4)} for e in result.entities],
        }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
