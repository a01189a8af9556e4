// The fields of a small seed-family manifest (format version 1) that the tests without a real model
// build on: unit.test.mjs adds its graph I/O and artifacts, serve.test.mjs the files it writes.

export function toyManifestFields() {
  return {
    format: 's2s-edge-bundle',
    format_version: 1,
    source_vocab: ' abc',
    target_vocab: '\t\n abc',
    start_token: '\t',
    end_token: '\n',
    pad_token: ' ',
    padding: 'right',
    max_source_length: 5,
    max_target_length: 7,
    latent_dim: 4,
  };
}
