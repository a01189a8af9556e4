// Character vocabularies and the input policy: the bundle's contract, as `runtime/vocab.py` defines it.
// Characters are Unicode code points (a JavaScript string is iterated by code point, not by UTF-16
// unit), so lengths and cuts agree with Python's.

import { InputTooLongError, UnknownCharacterError } from './errors.js';

export const START = '\t';
export const END = '\n';
export const PAD = ' ';
/** How a vocabulary pads: with PAD's id, or with the all-zero one-hot row (id = size, the 2017 Keras example). */
export const PADDINGS = Object.freeze(['space', 'zero']);
export const ON_UNKNOWN = Object.freeze(['error', 'skip']);
export const ON_OVERFLOW = Object.freeze(['error', 'truncate']);
/** What the encoder reads of a user's text beyond its characters (the manifest's source_form, version 5). */
export const PLAIN_FORM = Object.freeze({ lowercase: false, wrap: false });

/** An ordered alphabet; a character's id is its position. `padding` is how `encode` pads. */
export class Vocabulary {
  /**
   * @param {string[]} chars
   * @param {'space' | 'zero'} [padding]
   */
  constructor(chars, padding = 'space') {
    const list = [...chars];
    if (list.some((c) => typeof c !== 'string' || [...c].length !== 1)) {
      throw new TypeError('a vocabulary holds single characters');
    }
    /** @type {readonly string[]} */
    this.chars = Object.freeze(list);
    /** @type {Map<string, number>} */
    this.index = new Map(list.map((c, i) => [c, i]));
    if (this.index.size !== list.length) throw new TypeError('a vocabulary must not repeat characters');
    if (!PADDINGS.includes(padding)) throw new TypeError(`padding must be one of ${PADDINGS.join(', ')}, got ${JSON.stringify(padding)}`);
    /** @type {'space' | 'zero'} */
    this.padding = padding;
  }

  /**
   * @param {string} text the alphabet as one string, in id order
   * @param {'space' | 'zero'} [padding]
   */
  static fromString(text, padding = 'space') {
    return new Vocabulary(Array.from(text), padding);
  }

  /** The id that pads: PAD's id, or `size` (an id past the alphabet: the all-zero one-hot row) for zero padding. */
  get padId() {
    if (this.padding === 'zero') return this.chars.length;
    const id = this.index.get(PAD);
    if (id === undefined) throw new TypeError('a space-padded vocabulary needs the space character');
    return id;
  }

  get size() {
    return this.chars.length;
  }

  has(char) {
    return this.index.has(char);
  }

  id(char) {
    const id = this.index.get(char);
    if (id === undefined) throw new UnknownCharacterError(`character not in the vocabulary: ${JSON.stringify(char)}`, [char]);
    return id;
  }

  /** Characters of `text` outside the vocabulary, in order of first appearance. */
  unknown(text) {
    const seen = new Set();
    for (const c of text) if (!this.index.has(c)) seen.add(c);
    return [...seen];
  }

  /**
   * Ids of `texts`, right-padded with `padId` to `length`: an Int32Array of shape [texts.length, length].
   * Callers apply the input policy first (`prepareSource`); this only encodes.
   */
  encode(texts, length) {
    const ids = new Int32Array(texts.length * length).fill(this.padId);
    texts.forEach((text, row) => {
      const chars = Array.from(text);
      if (chars.length > length) throw new InputTooLongError(`text of ${chars.length} characters exceeds length ${length}`);
      chars.forEach((c, t) => {
        ids[row * length + t] = this.id(c);
      });
    });
    return ids;
  }

  /** @param {Iterable<number>} ids */
  decode(ids) {
    let text = '';
    for (const i of ids) text += this.chars[i];
    return text;
  }
}

/** `text` quoted for a message, invisible characters escaped (as Python's repr does: "\ufeff"). */
export function quote(text) {
  return JSON.stringify(text).replace(/[\p{C}\p{Z}]/gu, (c) => {
    if (c === ' ') return c;
    const code = c.codePointAt(0);
    return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\U${code.toString(16).padStart(8, '0')}`;
  });
}

function preview(chars, width = 40) {
  return quote(chars.length <= width ? chars.join('') : chars.slice(0, width - 3).join('') + '...');
}

/** Throws a TypeError unless `value` is one of `choices`. */
export function checkChoice(name, value, choices) {
  if (!choices.includes(value)) {
    throw new TypeError(`${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
}

/**
 * Apply the input policy to one source text and return the text the encoder will read:
 * - a non-string is a TypeError;
 * - characters outside the vocabulary are an UnknownCharacterError naming them, or are dropped
 *   with onUnknown = "skip";
 * - a text longer than `maxLength` (less the form's START and END) is an InputTooLongError, or is
 *   cut with onOverflow = "truncate".
 * With `form.lowercase` the text is lowercased first (toLowerCase: Unicode's full mappings and the
 * Greek final sigma, as Python's str.lower); with `form.wrap` the result is START + text + END.
 */
export function prepareSource(text, vocab, maxLength, onUnknown = 'error', onOverflow = 'error', form = PLAIN_FORM) {
  if (typeof text !== 'string') {
    throw new TypeError(`expected a string to translate, got ${text === null ? 'null' : typeof text}`);
  }
  checkChoice('onUnknown', onUnknown, ON_UNKNOWN);
  checkChoice('onOverflow', onOverflow, ON_OVERFLOW);
  if (form.lowercase) text = text.toLowerCase();
  if (form.wrap) maxLength -= 2;
  let chars = Array.from(text);
  const unknown = vocab.unknown(text);
  if (unknown.length) {
    if (onUnknown === 'error') {
      const shown = unknown.slice(0, 10).map(quote).join(', ');
      const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : '';
      throw new UnknownCharacterError(`characters not in the model's vocabulary: ${shown}${more} (in ${preview(chars)})`,
        unknown, { remedy: 'remove them', option: 'onUnknown', value: 'skip' });
    }
    chars = chars.filter((c) => vocab.has(c));
  }
  if (chars.length > maxLength) {
    if (onOverflow === 'error') {
      throw new InputTooLongError(
        `input of ${chars.length} characters is longer than the model's maximum of ${maxLength} (${preview(chars)})`,
        { remedy: 'shorten it', option: 'onOverflow', value: 'truncate' },
      );
    }
    chars = chars.slice(0, maxLength);
  }
  return form.wrap ? START + chars.join('') + END : chars.join('');
}
