#!/usr/bin/env node
// node js/bin/translate.mjs --bundle DIR [TEXT ...]: translate arguments, or stdin line by line.
// The Python CLI's contract (`python -m runtime`): the same flags where they apply, one input line to
// one output line (N with --num-hypotheses N), batches written as soon as they are done, user errors as
// one line on stderr and exit status 2.

import process from 'node:process';
import { parseArgs } from 'node:util';

import { S2SError, Translator, prepareSource } from '../src/node.js';
import { InputDecodingError } from '../src/errors.js';

const PROG = 'translate.mjs';

const HELP = `usage: node js/bin/translate.mjs --bundle DIR [options] [TEXT ...]

Translate English to French with an exported s2s-edge bundle (onnxruntime-node, CPU).
Without TEXT, reads stdin: one input line, one output line (N lines with --num-hypotheses N).

options:
  --bundle DIR            bundle directory (holds manifest.json)
  --backend NAME          onnx (default; the JavaScript runtime runs ONNX artifacts)
  --precision NAME        float32 (default), int8, ... as the bundle holds
  --threads N             onnxruntime intra-op threads (default: 1)
  --batch-size N          sentences per batch (default: 64)
  --on-unknown MODE       characters outside the vocabulary: error (default) or skip
  --on-overflow MODE      inputs longer than the model's maximum: error (default) or truncate
  --echo                  print SOURCE<TAB>TRANSLATION per line
  --verbose               show stack traces of errors
  -h, --help              show this help

decoding (default: greedy):
  --beam-size N           beam search width (1: greedy)
  --num-hypotheses N      print the N best outputs of each input, one per line (needs --beam-size >= N)
  --length-penalty X      beam ranking: score / length ** X (0: plain log-probability; default 1)
  --top-k K               sample among the K most likely characters (0: all; 1: greedy, the default)
  --temperature X         sampling temperature (with --top-k)
  --seed N                makes sampling reproducible
  --scores                print SCORE<TAB>TEXT (log-probability)
  --stream                print characters as they are decoded (greedy or sampling; one input at a time)
`;

class UsageError extends Error {}

const OPTIONS = {
  bundle: { type: 'string' },
  backend: { type: 'string', default: 'onnx' },
  precision: { type: 'string', default: 'float32' },
  threads: { type: 'string', default: '1' },
  'batch-size': { type: 'string', default: '64' },
  'on-unknown': { type: 'string', default: 'error' },
  'on-overflow': { type: 'string', default: 'error' },
  echo: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  'beam-size': { type: 'string', default: '1' },
  'num-hypotheses': { type: 'string', default: '1' },
  'length-penalty': { type: 'string', default: '1.0' },
  'top-k': { type: 'string', default: '1' },
  temperature: { type: 'string', default: '1.0' },
  seed: { type: 'string' },
  scores: { type: 'boolean', default: false },
  stream: { type: 'boolean', default: false },
};

function wholeNumber(flag, text, minimum) {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new UsageError(`argument --${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new UsageError(`argument --${flag}: ${text} is too large`);
  if (value < minimum) throw new UsageError(`argument --${flag}: must be at least ${minimum}, got ${value}`);
  return value;
}

function number(flag, text) {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`argument --${flag}: expected a number, got ${JSON.stringify(text)}`);
  return value;
}

function choice(flag, text, choices) {
  if (!choices.includes(text)) {
    throw new UsageError(`argument --${flag}: invalid choice: ${JSON.stringify(text)} (choose from ${choices.join(', ')})`);
  }
  return text;
}

export function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (v.bundle === undefined) throw new UsageError('the following arguments are required: --bundle');
  const lengthPenalty = number('length-penalty', v['length-penalty']);
  if (lengthPenalty < 0) throw new UsageError(`argument --length-penalty: must be 0 or a positive number, got ${lengthPenalty}`);
  return {
    texts: parsed.positionals,
    bundle: v.bundle,
    backend: v.backend,
    precision: v.precision,
    threads: wholeNumber('threads', v.threads, 1),
    batchSize: wholeNumber('batch-size', v['batch-size'], 1),
    onUnknown: choice('on-unknown', v['on-unknown'], ['error', 'skip']),
    onOverflow: choice('on-overflow', v['on-overflow'], ['error', 'truncate']),
    echo: v.echo,
    verbose: v.verbose,
    scores: v.scores,
    stream: v.stream,
    decoding: {
      beamSize: wholeNumber('beam-size', v['beam-size'], 1),
      numHypotheses: wholeNumber('num-hypotheses', v['num-hypotheses'], 1),
      lengthPenalty,
      topK: wholeNumber('top-k', v['top-k'], 0),
      temperature: number('temperature', v.temperature),
      seed: v.seed === undefined ? null : wholeNumber('seed', v.seed, 0),
    },
  };
}

async function write(out, text) {
  if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
}

/** Formats results: one line per hypothesis, optionally with its source and score. */
class Output {
  constructor(translator, out, args) {
    this.translator = translator;
    this.out = out;
    this.args = args;
    const { beamSize, numHypotheses } = args.decoding;
    if (args.stream) {
      if (beamSize > 1 || numHypotheses > 1) throw new S2SError('--stream works with greedy decoding and sampling, not with beam search');
      if (args.scores) throw new S2SError('--stream prints characters as they come: drop --scores');
    }
  }

  async check() {
    // Options are checked before any input is read.
    await this.translator.hypotheses([], this.args.decoding);
  }

  async write(sources) {
    const { echo, scores, stream, decoding } = this.args;
    if (stream) {
      const { topK, temperature, seed } = decoding;
      for (const source of sources) {
        if (echo) await write(this.out, `${source}\t`);
        for await (const char of this.translator.translateStream(source, { topK, temperature, seed })) await write(this.out, char);
        await write(this.out, '\n');
      }
      return;
    }
    const results = await this.translator.hypotheses(sources, decoding);
    let text = '';
    results.forEach((hyps, i) => {
      for (const h of hyps) {
        const line = scores ? `${h.score.toFixed(4)}\t${h.text}` : h.text;
        text += (echo ? `${sources[i]}\t${line}` : line) + '\n';
      }
    });
    await write(this.out, text);
  }
}

/** Lines of a byte stream, each decoded as strict UTF-8, without their line ending. */
async function* lines(input) {
  // ignoreBOM: a byte-order mark is a character of the line, as in Python (which then names it as unknown).
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pending = [];
  let number = 0;
  const decode = (bytes) => {
    number += 1;
    try {
      return decoder.decode(bytes).replace(/[\r\n]+$/, '');
    } catch {
      throw new InputDecodingError(`stdin line ${number} is not valid UTF-8`);
    }
  };
  for await (const chunk of input) {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, i));
      yield decode(Buffer.concat(pending));
      pending = [];
      start = i + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) yield decode(Buffer.concat(pending));
}

async function flush(translator, batch, firstLine, output) {
  if (!batch.length) return;
  // Check the input policy line by line first, so an error names its line.
  const m = translator.manifest;
  batch.forEach((text, offset) => {
    try {
      prepareSource(text, m.sourceVocab, m.maxSourceLength, translator.onUnknown, translator.onOverflow);
    } catch (err) {
      if (err instanceof S2SError) {
        const named = new err.constructor(`stdin line ${firstLine + offset}: ${err.message}`);
        throw named;
      }
      throw err;
    }
  });
  await output.write(batch);
}

export async function main(argv, { stdin = process.stdin, stdout = process.stdout } = {}) {
  const args = parse(argv);
  if (args.help) {
    await write(stdout, HELP);
    return 0;
  }
  const translator = await Translator.load(args.bundle, {
    backend: args.backend,
    precision: args.precision,
    threads: args.threads,
    maxBatchSize: args.batchSize,
    onUnknown: args.onUnknown,
    onOverflow: args.onOverflow,
  });
  try {
    const output = new Output(translator, stdout, args);
    await output.check();
    if (args.texts.length) {
      await output.write(args.texts);
      return 0;
    }
    const size = args.stream ? 1 : args.batchSize;
    let batch = [];
    let firstLine = 1;
    for await (const line of lines(stdin)) {
      batch.push(line);
      if (batch.length === size) {
        await flush(translator, batch, firstLine, output);
        firstLine += batch.length;
        batch = [];
      }
    }
    await flush(translator, batch, firstLine, output);
    return 0;
  } finally {
    await translator.release();
  }
}

function isUserError(err) {
  return err instanceof S2SError || err instanceof UsageError || ['ENOENT', 'EACCES', 'ENOTDIR', 'EISDIR'].includes(err?.code);
}

async function run() {
  const verbose = process.argv.includes('--verbose');
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0); // e.g. piped into `head`
    throw err;
  });
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    if (!isUserError(err) || verbose) throw err;
    const message = String(err.message || err.name).split(/\s+/).join(' ').trim();
    process.stderr.write(`${PROG}: error: ${message}\n`);
    process.exitCode = 2;
  }
}

run();
