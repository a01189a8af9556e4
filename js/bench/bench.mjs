#!/usr/bin/env node
// One row of the runtime benchmark (benchmarks/bench_runtime.py runs this and joins the table):
// per-sentence latency at batch 1 (p50, p95) and throughput at batch 1, 32 and 256, greedy, on the
// given sentences, with onnxruntime-node, onnxruntime-web (WASM) under Node, or in headless Chromium.
//
//   node js/bench/bench.mjs --bundle DIR --sentences FILE.json [--engine node|web|chromium]
//        [--precision float32] [--repeats 3] [--greedy-loop true|false]
// Prints one JSON line. FILE.json holds a list of sentences.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

// Runs where the translator is (Node or the page): must not use anything outside itself.
async function measure(translator, texts, repeats) {
  const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const percentile = (v, q) => [...v].sort((a, b) => a - b)[Math.floor(q * (v.length - 1))];
  await translator.translate(texts[0]); // warm up
  const p50s = [], p95s = [], b1s = [], b32s = [], b256s = [];
  let steps = 0;
  for (let r = 0; r < repeats; r++) {
    const times = [];
    for (const text of texts) {
      const t = performance.now();
      const out = await translator.translate(text);
      times.push((performance.now() - t) / 1000);
      steps += [...out].length + 1;
    }
    p50s.push(median(times));
    p95s.push(percentile(times, 0.95));
    b1s.push(times.length / times.reduce((a, b) => a + b, 0));
    for (const [batch, into] of [[32, b32s], [256, b256s]]) {
      translator.maxBatchSize = batch;
      const n = Math.max(batch, texts.length);
      const work = Array.from({ length: n }, (_, i) => texts[i % texts.length]);
      const t = performance.now();
      await translator.translate(work);
      into.push(n / ((performance.now() - t) / 1000));
      translator.maxBatchSize = 64;
    }
  }
  return {
    sentences: texts.length, p50: median(p50s), p95: median(p95s), b1: median(b1s), b32: median(b32s),
    b256: median(b256s), steps_per_sentence: steps / (repeats * texts.length),
  };
}

async function inNode(args, texts) {
  const started = performance.now();
  let translator;
  if (args.engine === 'node') {
    const { Translator } = await import('../src/node.js');
    translator = await Translator.load(args.bundle, { precision: args.precision, greedyLoop: args.greedyLoop });
  } else {
    const ort = await import('onnxruntime-web');
    const { Translator, DirectorySource } = await import('../src/node.js');
    ort.env.wasm.numThreads = 1;
    translator = await Translator.create(new DirectorySource(args.bundle), ort, {
      precision: args.precision, greedyLoop: args.greedyLoop, sessionOptions: { executionProviders: ['wasm'] },
    });
  }
  const load = (performance.now() - started) / 1000;
  const row = await measure(translator, texts, args.repeats);
  return { ...row, load_s: load, peak_rss_mib: process.resourceUsage().maxRSS / 1024 };
}

async function inChromium(args, texts) {
  const { default: puppeteer } = await import('puppeteer-core');
  const { serve } = await import('../demo/serve.mjs');
  const server = await serve({ bundle: args.bundle, port: 0 });
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(server.url, { waitUntil: 'load' }); // the demo's import map resolves 's2s-edge'
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), { timeout: 60_000 });
    return await page.evaluate(async (source, texts, repeats, precision, greedyLoop) => {
      const { Translator } = await import('s2s-edge');
      const started = performance.now();
      const translator = await Translator.load(new URL('/bundle/', location.href), { precision, greedyLoop });
      const load = (performance.now() - started) / 1000;
      const measure = new Function(`return (${source})`)();
      return { ...(await measure(translator, texts, repeats)), load_s: load, peak_rss_mib: null };
    }, measure.toString(), texts, args.repeats, args.precision, args.greedyLoop);
  } finally {
    await browser.close();
    await server.close();
  }
}

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    sentences: { type: 'string' },
    engine: { type: 'string', default: 'node' },
    precision: { type: 'string', default: 'float32' },
    repeats: { type: 'string', default: '3' },
    'greedy-loop': { type: 'string', default: 'true' },
  },
});
if (!values.bundle || !values.sentences || !['node', 'web', 'chromium'].includes(values.engine)) {
  process.stderr.write('usage: node js/bench/bench.mjs --bundle DIR --sentences FILE.json [--engine node|web|chromium] [--precision P] [--repeats N]\n');
  process.exit(2);
}
const args = { ...values, repeats: Number(values.repeats), greedyLoop: values['greedy-loop'] !== 'false' };
const texts = JSON.parse(readFileSync(values.sentences, 'utf8'));
const row = args.engine === 'chromium' ? await inChromium(args, texts) : await inNode(args, texts);
console.log(JSON.stringify({ engine: args.engine, precision: args.precision, ...row }));
