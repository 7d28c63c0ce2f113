#!/usr/bin/env node
// kafkajs driver for samsa's cross-client compatibility suite.
//
//   node kafkajs_client.js produce --brokers ADDR --topic T --codec none|gzip|snappy|lz4|zstd
//       Reads JSON lines {"key", "value", "headers": [{"key", "value"}]} from
//       stdin and sends them in order in one send() call; exits non-zero on error.
//   node kafkajs_client.js consume --brokers ADDR --topic T --count N [--timeout S] [--group G]
//       Joins a consumer group (kafkajs has no assign-only consumer), reads N
//       records from the beginning and prints one JSON line per record:
//       {"partition", "offset", "key", "value", "headers": [{"key", "value"}]}.
//
// kafkajs ships gzip; snappy, lz4 and zstd come from kafkajs-snappy,
// kafkajs-lz4 and @kafkajs/zstd (installed by scripts/install-test-deps.sh).
// Logs go to stderr so that stdout carries only records.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const ZstdCodec = require('@kafkajs/zstd')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec()

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

function parseArgs (argv) {
  const args = { command: argv[0], codec: 'none', count: 0, timeout: 30 }
  for (let i = 1; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '')
    if (i + 1 >= argv.length) throw new Error(`flag --${name} needs a value`)
    args[name] = argv[i + 1]
  }
  args.count = Number(args.count)
  args.timeout = Number(args.timeout)
  if (!['produce', 'consume'].includes(args.command)) throw new Error('command must be produce or consume')
  if (!args.brokers || !args.topic) throw new Error('--brokers and --topic are required')
  if (!(args.codec in CODECS)) throw new Error(`unknown codec ${args.codec}`)
  return args
}

function stderrLogger () {
  return ({ level, log }) => {
    process.stderr.write(`kafkajs ${level}: ${log.message} ${JSON.stringify(log)}\n`)
  }
}

function newKafka (args) {
  return new Kafka({
    clientId: 'compat-kafkajs',
    brokers: args.brokers.split(','),
    logLevel: logLevel.ERROR,
    logCreator: stderrLogger,
    retry: { retries: 3 }
  })
}

function readStdin () {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (c) => chunks.push(c))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

// toHeaders turns [{key, value}] into kafkajs's object form; a repeated key
// becomes an array, which kafkajs encodes as repeated headers.
function toHeaders (list) {
  const out = {}
  for (const h of list || []) {
    if (!(h.key in out)) out[h.key] = h.value
    else if (Array.isArray(out[h.key])) out[h.key].push(h.value)
    else out[h.key] = [out[h.key], h.value]
  }
  return out
}

function fromHeaders (obj) {
  const out = []
  for (const [key, v] of Object.entries(obj || {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      out.push({ key, value: one == null ? null : one.toString('utf8') })
    }
  }
  return out
}

async function produce (args) {
  const messages = (await readStdin()).split('\n').filter((l) => l.trim() !== '').map((l) => {
    const r = JSON.parse(l)
    return { key: r.key, value: r.value, headers: toHeaders(r.headers) }
  })
  const producer = newKafka(args).producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner
  })
  await producer.connect()
  try {
    await producer.send({ topic: args.topic, acks: -1, compression: CODECS[args.codec], messages })
  } finally {
    await producer.disconnect()
  }
}

async function consume (args) {
  const consumer = newKafka(args).consumer({
    groupId: args.group || `compat-kafkajs-${args.topic}-${process.pid}`,
    allowAutoTopicCreation: false
  })
  await consumer.connect()
  await consumer.subscribe({ topic: args.topic, fromBeginning: true })
  let got = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (got >= args.count) return
      const out = {
        partition,
        offset: Number(message.offset),
        key: message.key == null ? null : message.key.toString('utf8'),
        value: message.value == null ? null : message.value.toString('utf8'),
        headers: fromHeaders(message.headers)
      }
      process.stdout.write(JSON.stringify(out) + '\n')
      if (++got >= args.count) done()
    }
  })
  let timer
  const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve(true), args.timeout * 1000) })
  const late = await Promise.race([finished.then(() => false), timedOut])
  clearTimeout(timer)
  await consumer.disconnect()
  if (late) throw new Error(`got ${got} of ${args.count} records before the timeout`)
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  await (args.command === 'produce' ? produce(args) : consume(args))
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`kafkajs: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
