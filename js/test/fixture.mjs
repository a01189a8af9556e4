// The bundle and the Python runtime's reference that tests/test_js.py writes in the same test run
// (S2S_TEST_BUNDLE, S2S_TEST_REFERENCE). Without them the tests that need a model are skipped with a
// reason, unless S2S_REQUIRE_JS=1 (set by `bash scripts/test`), where that is a failure.

import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const { S2S_TEST_BUNDLE: bundle, S2S_TEST_REFERENCE: referencePath, S2S_REQUIRE_JS: require_ } = process.env;

export const missing = bundle && referencePath ? null : 'S2S_TEST_BUNDLE and S2S_TEST_REFERENCE are not set (tests/test_js.py sets them)';
if (missing && require_ === '1') throw new Error(`S2S_REQUIRE_JS=1 but ${missing}`);

/** Options for `test`/`describe`: skipped with the reason when there is no bundle. */
export const needsBundle = missing ? { skip: missing } : {};
export const BUNDLE = bundle;
export const reference = missing ? null : JSON.parse(readFileSync(referencePath, 'utf8'));

/** A private copy of the bundle (for tampering); removed by the returned cleanup. */
export function copyBundle() {
  const dir = mkdtempSync(path.join(tmpdir(), 's2s-edge-js-'));
  const copy = path.join(dir, 'bundle');
  cpSync(BUNDLE, copy, { recursive: true });
  return { dir: copy, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Share of positions where two arrays hold the same string. */
export function agreement(a, b) {
  return a.filter((x, i) => x === b[i]).length / a.length;
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The bundle's manifest and its golden file, parsed: {manifest, golden} (golden null when it has none). */
export function goldenOf(dir) {
  const manifest = readJson(path.join(dir, 'manifest.json'));
  return { manifest, golden: manifest.golden ? readJson(path.join(dir, manifest.golden.file)) : null };
}

/** The golden entry of backend/precision in the bundle's golden file, and its decodes on `kernels`. */
export function goldenEntry(dir, precision = 'float32', backend = 'onnx', kernels = 'default') {
  const entry = goldenOf(dir).golden.artifacts.find((a) => a.backend === backend && a.precision === precision);
  return { ...entry, decode: entry.decodes.find((d) => d.kernels === kernels) };
}

/** Rewrite the bundle's golden file as `edit` (which changes the parsed JSON in place) makes it; the manifest records its new sha256 and size. */
export function editGolden(dir, edit) {
  const { manifest, golden } = goldenOf(dir);
  edit(golden);
  const bytes = Buffer.from(JSON.stringify(golden));
  writeFileSync(path.join(dir, manifest.golden.file), bytes);
  manifest.golden = { ...manifest.golden, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

/** The bundle as an export without golden translations writes it: no golden field, no file, the lowest format version that holds it. */
export function dropGolden(dir) {
  const { manifest } = goldenOf(dir);
  rmSync(path.join(dir, manifest.golden.file));
  delete manifest.golden;
  const seed = (manifest.family ?? 'seed') === 'seed';
  manifest.format_version = !seed ? 3 : manifest.pad_token === null ? 2 : 1;
  if (manifest.format_version < 3) delete manifest.family;
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}
