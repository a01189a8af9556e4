#!/usr/bin/env node
// node js/bin/translate.mjs --bundle DIR [TEXT ...]: translate arguments, or stdin line by line;
// --self-check: decode the bundle's golden translations and compare them with the export's.
// The Python CLI's contract (`python -m runtime`): the same flags where they apply, one input line to
// one output line (N with --num-hypotheses N), batches written as soon as they are done, user errors as
// one line on stderr and exit status 2.

import { realpathSync } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { GREEDY_LOOP_MAX_BATCH, S2SError, Translator, prepareSource } from '../src/node.js';
import { InputDecodingError, InputPolicyError, InputTooLongError } from '../src/errors.js';

const PROG = 'translate.mjs';

const HELP = `usage: node js/bin/translate.mjs --bundle DIR [options] [TEXT ...]
       node js/bin/translate.mjs --bundle DIR [--precision NAME] --self-check

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
  --self-check            decode the bundle's golden translations here and compare them with the
                          decodes the export recorded (exit 0: all identical, 1: a difference)
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
  'self-check': { type: 'boolean', default: false },
};

// `bigint`: past 2**53 the value is a BigInt (a seed), not an error.
function wholeNumber(flag, text, minimum, { bigint = false } = {}) {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new UsageError(`argument --${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  const value = BigInt(text.trim());
  if (value < BigInt(minimum)) throw new UsageError(`argument --${flag}: must be at least ${minimum}, got ${value}`);
  if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  if (!bigint) throw new UsageError(`argument --${flag}: ${text.trim()} is too large`);
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

// argparse's reading of a dash: a token that is a negative number, holds a space or is "-" alone is a
// value (of the option before it when that one takes a value, else a TEXT), never an option. parseArgs
// would take it for an option, so the tokens are sorted first: options (with their values joined by
// "="), then "--" and every TEXT in order.
function looksLikeValue(token) {
  return !token.startsWith('-') || token === '-' || /^-\d+$|^-\d*\.\d+$/.test(token) || token.includes(' ');
}

function sortArguments(argv) {
  const options = [];
  const texts = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      texts.push(...argv.slice(i + 1));
      break;
    }
    const name = /^--([^=]+)$/.exec(token)?.[1];
    if (OPTIONS[name]?.type === 'string' && i + 1 < argv.length && looksLikeValue(argv[i + 1])) {
      options.push(`--${name}=${argv[i + 1]}`);
      i += 1;
    } else if (looksLikeValue(token)) {
      texts.push(token);
    } else {
      options.push(token);
    }
  }
  return [...options, '--', ...texts];
}

export function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: sortArguments(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (v.bundle === undefined) throw new UsageError('the following arguments are required: --bundle');
  // As the Python CLI words it (an S2SError there too, not a usage error).
  if (v['self-check'] && parsed.positionals.length) throw new S2SError("--self-check translates the bundle's golden sentences: give no TEXT");
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
    selfCheck: v['self-check'],
    decoding: {
      beamSize: wholeNumber('beam-size', v['beam-size'], 1),
      numHypotheses: wholeNumber('num-hypotheses', v['num-hypotheses'], 1),
      lengthPenalty,
      topK: wholeNumber('top-k', v['top-k'], 0),
      temperature: number('temperature', v.temperature),
      seed: v.seed === undefined ? null : wholeNumber('seed', v.seed, 0, { bigint: true }),
    },
  };
}

/**
 * Whether to load the bundle's one-graph greedy decoder: only to read stdin in batches that the graph
 * takes whole (GREEDY_LOOP_MAX_BATCH), plain greedy, no scores. Loading it costs about what it saves on
 * a few sentences, and larger batches step the decoder (docs/performance.md).
 */
function greedyGraphPays(args) {
  const { beamSize, topK, numHypotheses } = args.decoding;
  const greedy = beamSize === 1 && topK === 1 && numHypotheses === 1;
  return !args.texts.length && greedy && !args.scores && !args.stream && args.batchSize <= GREEDY_LOOP_MAX_BATCH;
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
    // No scores asked: `translate` (the one-graph greedy decoder where the bundle has one).
    const results = !scores && decoding.numHypotheses === 1
      ? (await this.translator.translate(sources, decoding)).map((t) => [t])
      : (await this.translator.hypotheses(sources, decoding)).map((hyps) => hyps.map((h) => (scores ? `${h.score.toFixed(4)}\t${h.text}` : h.text)));
    let text = '';
    results.forEach((lines, i) => {
      for (const line of lines) text += (echo ? `${sources[i]}\t${line}` : line) + '\n';
    });
    await write(this.out, text);
  }
}

// A line of stdin is read up to this many bytes: a line's cost stays bounded whatever arrives (as in
// the Python CLI). A longer line is refused, or cut with --on-overflow truncate.
export const MAX_LINE_BYTES = 1 << 20;

/**
 * Lines of a byte stream, each decoded as strict UTF-8, without their line ending; a line is read up
 * to MAX_LINE_BYTES (its rest is dropped with onOverflow "truncate", else the line is refused).
 */
export async function* lines(input, onOverflow = 'error') {
  // ignoreBOM: a byte-order mark is a character of the line, as in Python (which then names it as unknown).
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pending = [];
  let size = 0;
  let cut = false; // the line went past MAX_LINE_BYTES: its rest is dropped
  let number = 0;
  const decode = () => {
    number += 1;
    const bytes = Buffer.concat(pending);
    const wasCut = cut;
    pending = [];
    size = 0;
    cut = false;
    try {
      // A cut line is read as a stream that stops there: an incomplete last character is dropped, an
      // invalid one refused (a fresh decoder, so nothing carries over to the next line).
      const text = wasCut ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: true }) : decoder.decode(bytes);
      return text.replace(/[\r\n]+$/, '');
    } catch {
      throw new InputDecodingError(`stdin line ${number} is not valid UTF-8`);
    }
  };
  const keep = (bytes) => {
    if (cut) return;
    if (size + bytes.length > MAX_LINE_BYTES) {
      if (onOverflow !== 'truncate') {
        throw new InputTooLongError(`stdin line ${number + 1} is longer than ${MAX_LINE_BYTES} bytes, far more than the model's maximum`,
          { remedy: 'shorten it', option: 'onOverflow', value: 'truncate' });
      }
      bytes = bytes.subarray(0, MAX_LINE_BYTES - size);
      cut = true;
    }
    pending.push(bytes);
    size += bytes.length;
  };
  for await (const chunk of input) {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      keep(chunk.subarray(start, i));
      yield decode();
      start = i + 1;
    }
    if (start < chunk.length) keep(chunk.subarray(start));
  }
  if (pending.length || cut) yield decode();
}

/**
 * Write the translations of `batch`; the input policy is checked line by line first, so an error
 * names its line and comes after the lines before it are written.
 */
async function flush(translator, batch, firstLine, output, what = 'stdin line') {
  const m = translator.manifest;
  for (const [offset, text] of batch.entries()) {
    try {
      prepareSource(text, m.sourceVocab, m.maxSourceLength, translator.onUnknown, translator.onOverflow, m.sourceForm);
    } catch (err) {
      if (!(err instanceof InputPolicyError)) throw err;
      if (offset) await output.write(batch.slice(0, offset));
      throw err.at(`${what} ${firstLine + offset}`);
    }
  }
  if (batch.length) await output.write(batch);
}

export async function main(argv, { stdin = process.stdin, stdout = process.stdout } = {}) {
  const args = parse(argv);
  if (args.help) {
    await write(stdout, HELP);
    return 0;
  }
  const translator = await Translator.load(args.bundle, {
    greedyLoop: args.selfCheck || greedyGraphPays(args),
    backend: args.backend,
    precision: args.precision,
    threads: args.threads,
    maxBatchSize: args.batchSize,
    onUnknown: args.onUnknown,
    onOverflow: args.onOverflow,
  });
  try {
    if (args.selfCheck) {
      // The golden sentences, decoded here and compared with the export's decodes: 0 when all are identical.
      const check = await translator.selfCheck();
      await write(stdout, `${check.summary()}\n`);
      return check.passed ? 0 : 1;
    }
    const output = new Output(translator, stdout, args);
    await output.check();
    if (args.texts.length) {
      await flush(translator, args.texts, 1, output, 'argument');
      return 0;
    }
    const size = args.stream ? 1 : args.batchSize;
    let batch = [];
    let firstLine = 1;
    const input = lines(stdin, args.onOverflow)[Symbol.asyncIterator]();
    for (;;) {
      let next;
      try {
        next = await input.next();
      } catch (err) {
        // A line that cannot be read: the ones before it first.
        if (err instanceof S2SError) await flush(translator, batch, firstLine, output);
        throw err;
      }
      if (next.done) break;
      batch.push(next.value);
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
    // A command line's user is told of its flags, not of the library's options.
    const text = err instanceof UsageError ? `${err.message} (see --help)` : err.commandLineMessage?.() ?? err.message;
    const message = String(text || err.name).split(/\s+/).join(' ').trim();
    process.stderr.write(`${PROG}: error: ${message}\n`);
    process.exitCode = 2;
  }
}

// Run when executed (also through npm's bin link), not when imported (the tests call `main`).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) run();
