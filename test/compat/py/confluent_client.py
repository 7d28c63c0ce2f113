#!/usr/bin/python3
"""confluent-kafka (librdkafka) driver for samsa's cross-client compatibility suite.

Run it with Debian's /usr/bin/python3 (python3-confluent-kafka lives in its
dist-packages). Subcommands:

  produce --brokers ADDR --topic T --codec none|gzip|snappy|lz4|zstd
      Reads JSON lines {"key", "value", "headers": [{"key", "value"}]} from
      stdin and produces them in order; exits non-zero if any delivery failed.
  consume --brokers ADDR --topic T --count N [--timeout S] [--rack R]
      Reads N records from the start of every partition (assigned, no group
      join), as a consumer in rack R (client.rack, KIP-392) if given, and
      prints one JSON line per record:
      {"partition", "offset", "key", "value", "headers": [{"key", "value"}]}.
"""

import argparse
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def to_bytes(s):
    return None if s is None else s.encode("utf-8")


def to_str(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def produce(args):
    producer = Producer(
        {
            "bootstrap.servers": args.brokers,
            "client.id": "compat-confluent",
            "compression.type": args.codec,
            "acks": "all",
            "linger.ms": 5,
        }
    )
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(str(err))

    for line in sys.stdin:
        if not line.strip():
            continue
        rec = json.loads(line)
        headers = [(h["key"], to_bytes(h["value"])) for h in rec.get("headers") or []]
        producer.produce(
            args.topic,
            key=to_bytes(rec.get("key")),
            value=to_bytes(rec.get("value")),
            headers=headers,
            on_delivery=on_delivery,
        )
        producer.poll(0)
    left = producer.flush(args.timeout)
    if left:
        sys.exit("confluent: %d records not delivered before the timeout" % left)
    if errors:
        sys.exit("confluent: %d delivery errors, first: %s" % (len(errors), errors[0]))


def consume(args):
    conf = {
        "bootstrap.servers": args.brokers,
        "client.id": "compat-confluent",
        "group.id": "compat-confluent-unused",  # required by the client; assign() never joins
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    }
    if args.rack:
        conf["client.rack"] = args.rack
    consumer = Consumer(conf)
    deadline = time.monotonic() + args.timeout
    md = consumer.list_topics(args.topic, timeout=args.timeout)
    tmd = md.topics.get(args.topic)
    if tmd is None or tmd.error is not None:
        sys.exit("confluent: topic %s: %s" % (args.topic, None if tmd is None else tmd.error))
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in sorted(tmd.partitions)])
    got = 0
    while got < args.count:
        if time.monotonic() > deadline:
            sys.exit("confluent: got %d of %d records before the timeout" % (got, args.count))
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error() is not None:
            raise KafkaException(m.error())
        out = {
            "partition": m.partition(),
            "offset": m.offset(),
            "key": to_str(m.key()),
            "value": to_str(m.value()),
            "headers": [{"key": k, "value": to_str(v)} for k, v in m.headers() or []],
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
        got += 1
    consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--codec", choices=CODECS, default="none")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    parser.add_argument("--rack", default="", help="the consumer's rack (client.rack)")
    args = parser.parse_args()
    {"produce": produce, "consume": consume}[args.command](args)


if __name__ == "__main__":
    main()
