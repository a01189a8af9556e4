// `node js/bin/translate.mjs`: the Python CLI's contract, on the exported bundle.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { BUNDLE, needsBundle, reference } from './fixture.mjs';

const CLI = fileURLToPath(new URL('../bin/translate.mjs', import.meta.url));

function cli(args, input) {
  const done = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120_000 });
  return { code: done.status, out: done.stdout, err: done.stderr };
}

function userError(result, pattern) {
  assert.equal(result.code, 2, result.err);
  const lines = result.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.err}`);
  assert.match(lines[0], /^translate\.mjs: error: /);
  assert.match(lines[0], pattern);
  assert.equal(result.out, '');
}

test('--help', () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /--bundle DIR/);
  assert.match(r.out, /--on-unknown/);
});

test('usage errors are one line and exit 2', () => {
  userError(cli([]), /required: --bundle/);
  userError(cli(['--bundle', 'x', '--frobnicate']), /Unknown option '--frobnicate'/);
  userError(cli(['--bundle', 'x', '--beam-size', 'two']), /--beam-size: expected a whole number/);
  userError(cli(['--bundle', 'x', '--on-unknown', 'drop']), /--on-unknown: invalid choice/);
  userError(cli(['--bundle', '/nonexistent/bundle', 'hi']), /bundle directory not found/);
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
    userError(cli(['--bundle', BUNDLE], `${sentences[0]}\n${skip[0][0]}\n`), new RegExp(`stdin line 2: characters not in the model's vocabulary: ${JSON.stringify(outside[0])}`));
    userError(cli(['--bundle', BUNDLE], `${truncate[0][0]}\n`), /stdin line 1: input of \d+ characters is longer than the model's maximum/);
    const r = cli(['--bundle', BUNDLE, '--on-unknown', 'skip', '--on-overflow', 'truncate', skip[0][0], truncate[0][0]]);
    assert.equal(r.out, `${skip[0][1]}\n${truncate[0][1]}\n`);
    userError(cli(['--bundle', BUNDLE], Buffer.from([0x61, 0x0a, 0xff, 0x0a])), /stdin line 2 is not valid UTF-8/);
    // A byte-order mark is a character of the line, as in Python: named as unknown.
    userError(cli(['--bundle', BUNDLE], `\ufeff${sentences[0]}\n`), /stdin line 1: characters not in the model's vocabulary: "\\ufeff"/);
    userError(cli(['--bundle', BUNDLE, '--stream', '--beam-size', '2', 'x']), /--stream works with greedy/);
    userError(cli(['--bundle', BUNDLE, '--precision', 'float16', 'x']), /no complete onnx\/float16 model/);
  });
});
