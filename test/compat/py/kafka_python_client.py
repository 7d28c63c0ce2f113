#!/usr/bin/python3
"""kafka-python driver for samsa's cross-client compatibility suite.

Run it with Debian's /usr/bin/python3 (python3-kafka lives in its
dist-packages). Subcommands:

  produce --brokers ADDR --topic T --codec none|gzip|snappy|lz4|zstd
      Reads JSON lines {"key", "value", "headers": [{"key", "value"}]} from
      stdin and produces them in order; exits non-zero if any send failed.
  consume --brokers ADDR --topic T --count N [--timeout S]
      Reads N records from the start of every partition (no consumer group)
      and prints one JSON line per record:
      {"partition", "offset", "key", "value", "headers": [{"key", "value"}]}.
  probe --brokers ADDR
      Lets kafka-python probe the broker the old way (ApiVersions v0, then a
      pipelined Metadata v0, then Metadata v1) and prints
      {"api_version": [...], "topics": [...]}.

No api_version is configured anywhere, so every run exercises the probe.
"""

import argparse
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

CODECS = {"none": None, "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}


def to_bytes(s):
    return None if s is None else s.encode("utf-8")


def to_str(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def produce(args):
    producer = KafkaProducer(
        bootstrap_servers=args.brokers,
        client_id="compat-kafka-python",
        compression_type=CODECS[args.codec],
        acks="all",
        linger_ms=5,
    )
    futures = []
    for line in sys.stdin:
        if not line.strip():
            continue
        rec = json.loads(line)
        headers = [(h["key"], to_bytes(h["value"])) for h in rec.get("headers") or []]
        futures.append(
            producer.send(args.topic, key=to_bytes(rec.get("key")), value=to_bytes(rec.get("value")), headers=headers)
        )
    producer.flush(timeout=args.timeout)
    for f in futures:
        f.get(timeout=args.timeout)  # raises the send's error, if any
    producer.close(timeout=args.timeout)


def consume(args):
    consumer = KafkaConsumer(
        bootstrap_servers=args.brokers,
        client_id="compat-kafka-python",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    deadline = time.monotonic() + args.timeout
    partitions = None
    while partitions is None:
        partitions = consumer.partitions_for_topic(args.topic)
        if partitions is None:
            if time.monotonic() > deadline:
                sys.exit("kafka-python: topic %s not found" % args.topic)
            time.sleep(0.1)
    tps = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got = 0
    while got < args.count:
        if time.monotonic() > deadline:
            sys.exit("kafka-python: got %d of %d records before the timeout" % (got, args.count))
        for _, msgs in consumer.poll(timeout_ms=200).items():
            for m in msgs:
                print_record(m.partition, m.offset, m.key, m.value, m.headers)
                got += 1
    consumer.close()


def print_record(partition, offset, key, value, headers):
    out = {
        "partition": partition,
        "offset": offset,
        "key": to_str(key),
        "value": to_str(value),
        "headers": [{"key": k, "value": to_str(v)} for k, v in headers or []],
    }
    print(json.dumps(out, ensure_ascii=False), flush=True)


def probe(args):
    consumer = KafkaConsumer(bootstrap_servers=args.brokers, client_id="compat-kafka-python-probe")
    topics = sorted(consumer.topics())
    print(json.dumps({"api_version": list(consumer.config["api_version"]), "topics": topics}))
    consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume", "probe"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--codec", choices=sorted(CODECS), default="none")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    args = parser.parse_args()
    if args.command in ("produce", "consume") and not args.topic:
        parser.error("--topic is required")
    {"produce": produce, "consume": consume, "probe": probe}[args.command](args)


if __name__ == "__main__":
    main()
