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

/** The input holds characters outside the model's vocabulary (`characters` lists them). */
export class UnknownCharacterError extends S2SError {
  constructor(message, characters = []) {
    super(message);
    this.characters = [...characters];
  }
}

/** The input is longer than the encoder's maximum length. */
export class InputTooLongError extends S2SError {}

/** Input bytes are not valid UTF-8. */
export class InputDecodingError extends S2SError {}

/** Decoding options that are out of range or do not combine (beam size, topK, ...). */
export class DecodingOptionError extends S2SError {}

/** The requested backend or artifact cannot be run by this runtime. */
export class BackendUnavailableError extends S2SError {}
