// The bundle and the Python runtime's reference that tests/test_js.py writes in the same test run
// (S2S_TEST_BUNDLE, S2S_TEST_REFERENCE). Without them the tests that need a model are skipped with a
// reason, unless S2S_REQUIRE_JS=1 (set by `bash scripts/test`), where that is a failure.

import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
