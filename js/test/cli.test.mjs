// `node js/bin/translate.mjs`: the Python CLI's contract, on the exported bundle.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { readFileSync } from 'node:fs';

import { BUNDLE, copyBundle, dropGolden, editGolden, goldenEntry, needsBundle, reference } from './fixture.mjs';

const CLI = fileURLToPath(new URL('../bin/translate.mjs', import.meta.url));

function cli(args, input) {
  const done = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120_000 });
  return { code: done.status, out: done.stdout, err: done.stderr };
}

function userError(result, pattern, out = '') {
  assert.equal(result.code, 2, result.err);
  const lines = result.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.err}`);
  assert.match(lines[0], /^translate\.mjs: error: /);
  assert.match(lines[0], pattern);
  assert.equal(result.out, out);
}

test('--help', () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /--bundle DIR/);
  assert.match(r.out, /--on-unknown/);
  assert.match(r.out, /--self-check/);
});

test('usage errors are one line and exit 2', () => {
  userError(cli([]), /required: --bundle/);
  userError(cli(['--bundle', 'x', '--frobnicate']), /Unknown option '--frobnicate'/);
  userError(cli(['--bundle', 'x', '--beam-size', 'two']), /--beam-size: expected a whole number/);
  userError(cli(['--bundle', 'x', '--on-unknown', 'drop']), /--on-unknown: invalid choice/);
  userError(cli(['--bundle', '/nonexistent/bundle', 'hi']), /bundle directory not found/);
  // A negative number is an option's value, as in argparse: the error is the value's.
  userError(cli(['--bundle', 'x', '--seed', '-1', 'hi']), /argument --seed: must be at least 0, got -1/);
  userError(cli(['--bundle', 'x', '--seed=-1', 'hi']), /argument --seed: must be at least 0, got -1/);
  userError(cli(['--bundle', 'x', '--self-check', 'hi']), /^translate\.mjs: error: --self-check translates the bundle's golden sentences: give no TEXT$/);
});

describe('--self-check', needsBundle, () => {
  const ortVersion = JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8')).version;
  const firstLine = (precision, identical, entry) => {
    const d = entry.decode;
    return `onnx/${precision}, default kernels, onnxruntime-node ${ortVersion}: ${identical}/${entry.sources.length} identical to the golden decodes ` +
      `(recorded with ${d.engine} ${d.engine_version}${d.machine ? ` on ${d.machine}` : ''})`;
  };

  for (const precision of ['float32', 'int8']) {
    test(`${precision}: one line, exit 0`, () => {
      const entry = goldenEntry(BUNDLE, precision);
      const r = cli(['--bundle', BUNDLE, '--precision', precision, '--self-check']);
      assert.equal(r.err, '');
      assert.equal(r.code, 0);
      assert.equal(r.out, `${firstLine(precision, entry.sources.length, entry)}\n`);
    });
  }

  test('a difference: the first one, both outputs as JSON, exit 1', () => {
    const { dir, cleanup } = copyBundle();
    try {
      const entry = goldenEntry(dir, 'float32');
      const last = entry.sources.length - 1;
      const edited = `${entry.decode.outputs[last]} "é"`;
      editGolden(dir, (golden) => {
        golden.artifacts.find((a) => a.backend === 'onnx' && a.precision === 'float32').decodes.find((d) => d.kernels === 'default').outputs[last] = edited;
      });
      const r = cli(['--bundle', dir, '--self-check']);
      assert.equal(r.err, '');
      assert.equal(r.code, 1);
      assert.equal(r.out, [
        firstLine('float32', last, entry),
        `first difference, sentence ${last + 1} of ${entry.sources.length}: ${JSON.stringify(entry.sources[last])}`,
        `  recorded: ${JSON.stringify(edited)}`,
        `  here:     ${JSON.stringify(entry.decode.outputs[last])}`,
      ].map((line) => `${line}\n`).join(''));
    } finally {
      cleanup();
    }
  });

  test('a bundle without golden translations: one line on stderr, exit 2', () => {
    const { dir, cleanup } = copyBundle();
    try {
      dropGolden(dir);
      userError(cli(['--bundle', dir, '--self-check']),
        /^translate\.mjs: error: this bundle has no golden translations \(it was exported before format version 4, or with --golden 0\): export it again to record them$/);
      // It translates as before.
      const r = cli(['--bundle', dir, reference.sentences[0]]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `${reference.greedy.float32[0]}\n`);
    } finally {
      cleanup();
    }
  });
});

describe('on the exported bundle', needsBundle, () => {
  const sentences = reference?.sentences.slice(0, 100) ?? [];
  const expected = reference?.greedy.float32.slice(0, 100) ?? [];

  test('arguments, one output line each', () => {
    const r = cli(['--bundle', BUNDLE, ...sentences.slice(0, 5)]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, expected.slice(0, 5).map((t) => `${t}\n`).join(''));
  });

  test('stdin: one line in, one line out, in small batches, CRLF and a last line without newline', () => {
    const input = sentences.slice(0, 50).join('\r\n') + '\n' + sentences.slice(50).join('\n');
    const r = cli(['--bundle', BUNDLE, '--batch-size', '7'], input);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, expected.map((t) => `${t}\n`).join(''));
  });

  test('int8, --echo and --stream', () => {
    const some = reference.sentences.slice(0, 10);
    const r = cli(['--bundle', BUNDLE, '--precision', 'int8', '--echo'], some.join('\n') + '\n');
    assert.equal(r.out, some.map((s, i) => `${s}\t${reference.greedy.int8[i]}\n`).join(''));
    const s = cli(['--bundle', BUNDLE, '--stream'], some.join('\n') + '\n');
    assert.equal(s.out, some.map((_, i) => `${reference.greedy.float32[i]}\n`).join(''));
  });

  test('--beam-size --num-hypotheses --scores print what the Python CLI prints', () => {
    const { beamSize, numHypotheses, sentences: beamSentences, hypotheses } = reference.beam;
    const some = beamSentences.slice(0, 10);
    const r = cli(['--bundle', BUNDLE, '--beam-size', String(beamSize), '--num-hypotheses', String(numHypotheses), '--scores'], some.join('\n'));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, some.length * numHypotheses);
    lines.forEach((line, k) => {
      const want = hypotheses[Math.floor(k / numHypotheses)][k % numHypotheses];
      const [score, text] = line.split('\t');
      assert.equal(text, want.text);
      assert.ok(Math.abs(Number(score) - want.score) <= 1e-4 + 5e-5, `${score} vs ${want.score}`);
    });
  });

  test('input errors name the stdin line; --on-unknown skip and --on-overflow truncate', () => {
    const { outside, skip, truncate } = reference.policy;
    userError(cli(['--bundle', BUNDLE], `${sentences[0]}\n${skip[0][0]}\n`), new RegExp(`stdin line 2: characters not in the model's vocabulary: ${JSON.stringify(outside[0])}`),
      `${expected[0]}\n`);
    userError(cli(['--bundle', BUNDLE], `${truncate[0][0]}\n`), /stdin line 1: input of \d+ characters is longer than the model's maximum/);
    const r = cli(['--bundle', BUNDLE, '--on-unknown', 'skip', '--on-overflow', 'truncate', skip[0][0], truncate[0][0]]);
    assert.equal(r.out, `${skip[0][1]}\n${truncate[0][1]}\n`);
    userError(cli(['--bundle', BUNDLE], Buffer.concat([Buffer.from(`${sentences[0]}\n`), Buffer.from([0xff, 0x0a])])),
      /stdin line 2 is not valid UTF-8/, `${expected[0]}\n`);
    // A byte-order mark is a character of the line, as in Python: named as unknown.
    userError(cli(['--bundle', BUNDLE], `\ufeff${sentences[0]}\n`), /stdin line 1: characters not in the model's vocabulary: "\\ufeff"/);
    userError(cli(['--bundle', BUNDLE, '--stream', '--beam-size', '2', 'x']), /--stream works with greedy/);
    userError(cli(['--bundle', BUNDLE, '--precision', 'float16', 'x']), /no complete onnx\/float16 model/);
  });

  test('the lines before a bad one are written, in its batch too; the error speaks of flags', () => {
    const { outside } = reference.policy;
    const input = `${sentences[0]}\n${sentences[1]}\nbad ${outside[0]}\n${sentences[2]}\n`;
    const r = cli(['--bundle', BUNDLE], input);
    userError(r, /^translate\.mjs: error: stdin line 3: .*; remove them or pass --on-unknown skip$/, `${expected[0]}\n${expected[1]}\n`);
    assert.doesNotMatch(r.err, /onUnknown/);
    userError(cli(['--bundle', BUNDLE, sentences[0], `x${outside[0]}`]), /argument 2: .*--on-unknown skip$/, `${expected[0]}\n`);
  });

  test('a stdin line past MAX_LINE_BYTES is refused with its true reason, or cut with --on-overflow truncate', () => {
    const huge = sentences[0].repeat(Math.ceil((1 << 20) / sentences[0].length) + 100);
    const input = `${sentences[0]}\n${huge}\n${sentences[1]}\n`;
    userError(cli(['--bundle', BUNDLE], input), /stdin line 2 is longer than 1048576 bytes.*--on-overflow truncate$/, `${expected[0]}\n`);
    const r = cli(['--bundle', BUNDLE, '--on-overflow', 'truncate'], input);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').slice(0, -1);
    assert.equal(lines.length, 3);
    assert.deepEqual([lines[0], lines[2]], expected.slice(0, 2));
  });

  test('thousands of arguments translate (onnxruntime starts on a thread with room for the command line)', () => {
    const texts = Array.from({ length: 3000 }, (_, i) => sentences[i % sentences.length]);
    const r = cli(['--bundle', BUNDLE, ...texts]);
    assert.equal(r.code, 0, `exit ${r.code} ${r.err}`);
    assert.equal(r.out, texts.map((_, i) => `${expected[i % sentences.length]}\n`).join(''));
  });

  test('sampling never emits the start token; seeds past 2**53', () => {
    const some = sentences.slice(0, 40);
    const r = cli(['--bundle', BUNDLE, '--top-k', '0', '--temperature', '1e300', '--seed', '1', '--echo'], some.join('\n') + '\n');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').slice(0, -1);
    assert.equal(lines.length, some.length);
    for (const line of lines) assert.equal(line.split('\t').length, 2, JSON.stringify(line));
    const big = cli(['--bundle', BUNDLE, '--top-k', '0', '--seed', String(2n ** 60n), ...some.slice(0, 3)]);
    assert.equal(big.code, 0, big.err);
    assert.equal(big.out, cli(['--bundle', BUNDLE, '--top-k', '0', '--seed', String(2n ** 60n), ...some.slice(0, 3)]).out);
    assert.notEqual(big.out, cli(['--bundle', BUNDLE, '--top-k', '0', '--seed', String(2n ** 60n + 1n), ...some.slice(0, 3)]).out);
  });

  test('stdin in batches of up to GREEDY_LOOP_MAX_BATCH runs the one-graph greedy decoder; larger batches, arguments and --scores step', async () => {
    const { main } = await import('../bin/translate.mjs');
    const { OnnxStepModel } = await import('../src/backends/onnx.js');
    const { GREEDY_LOOP_MAX_BATCH } = await import('../src/core.js');
    const calls = { greedy: 0, step: 0 };
    const { greedyIds, step } = OnnxStepModel.prototype;
    OnnxStepModel.prototype.greedyIds = function counted(...args) { calls.greedy += 1; return greedyIds.apply(this, args); };
    OnnxStepModel.prototype.step = function counted(...args) { calls.step += 1; return step.apply(this, args); };
    try {
      const small = String(GREEDY_LOOP_MAX_BATCH);
      const some = sentences.slice(0, 3 * GREEDY_LOOP_MAX_BATCH);
      for (const [flags, texts, graphCalls] of [
        [['--batch-size', small], [], 3], [[], [], 0], [['--batch-size', small, '--scores'], [], 0], [['--batch-size', small], some, 0],
      ]) {
        calls.greedy = 0;
        calls.step = 0;
        let out = '';
        const stdout = { write: (text) => { out += text; return true; } };
        const stdin = Readable.from([Buffer.from(some.map((t) => `${t}\n`).join(''))]);
        assert.equal(await main(['--bundle', BUNDLE, ...flags, ...texts], { stdin, stdout }), 0);
        assert.equal(calls.greedy, graphCalls, JSON.stringify({ flags, calls }));
        assert.equal(calls.step === 0, graphCalls > 0, JSON.stringify({ flags, calls }));
        assert.deepEqual(out.split('\n').slice(0, -1).map((line) => line.split('\t').at(-1)), expected.slice(0, some.length));
      }
    } finally {
      Object.assign(OnnxStepModel.prototype, { greedyIds, step });
    }
  });
});
