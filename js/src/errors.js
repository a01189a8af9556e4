// Errors that s2s-edge raises on purpose (user errors, not bugs), as in the Python runtime.

/** Base of the errors that s2s-edge raises on purpose. */
export class S2SError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bundle is missing, of an unknown format, or does not match its manifest. */
export class BundleError extends S2SError {}

/**
 * A self-check asked of a bundle without golden translations: none at all (format versions 1 to 3,
 * or exported with --golden 0), or none for this artifact or kernel set.
 */
export class NoGoldenError extends BundleError {}

/**
 * An input that the input policy refuses. When a setting lets it through, the error names it
 * (`option`, `value`) in the caller's terms: `onUnknown: 'skip'` from JavaScript, `--on-unknown skip`
 * on a command line (`commandLineMessage()`). `at('stdin line 3')` is the error, located.
 */
export class InputPolicyError extends S2SError {
  constructor(problem, { remedy = null, option = null, value = null, where = '' } = {}) {
    super('');
    Object.assign(this, { problem, remedy, option, value, where });
    this.message = policyText(this, `${option}: '${value}'`);
  }

  commandLineMessage() {
    const flag = this.option === null ? '' : `--${this.option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${this.value}`;
    return policyText(this, flag);
  }

  at(where) {
    const located = Object.create(Object.getPrototypeOf(this));
    Object.assign(located, this, { where, name: this.name });
    located.message = policyText(located, `${this.option}: '${this.value}'`);
    located.stack = this.stack?.replace(this.message, located.message);
    return located;
  }
}

function policyText(err, setting) {
  const where = err.where ? `${err.where}: ` : '';
  if (err.option === null) return where + err.problem;
  return `${where}${err.problem}; ${err.remedy} or pass ${setting}`;
}

/** The input holds characters outside the model's vocabulary (`characters` lists them). */
export class UnknownCharacterError extends InputPolicyError {
  constructor(problem, characters = [], options = {}) {
    super(problem, options);
    this.characters = [...characters];
  }
}

/** The input is longer than the encoder's maximum length. */
export class InputTooLongError extends InputPolicyError {}

/** Input bytes are not valid UTF-8. */
export class InputDecodingError extends S2SError {}

/** Decoding options that are out of range or do not combine (beam size, topK, ...). */
export class DecodingOptionError extends S2SError {
  /** The message with the options named as the command lines' flags (`--top-k`). */
  commandLineMessage() {
    return this.message.replace(/\b(beamSize|numHypotheses|lengthPenalty|topK|temperature|seed)\b/g,
      (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
}

/** The requested backend or artifact cannot be run by this runtime. */
export class BackendUnavailableError extends S2SError {}
