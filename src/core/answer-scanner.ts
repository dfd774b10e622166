/**
 * Reads an Images API answer (`{"data":[{"b64_json":"..."}], "usage":{...}}`) as it arrives,
 * chunk by chunk, without ever holding a whole image: every `b64_json` string is handed out piece
 * by piece (whole groups of four characters, so each piece decodes on its own), and the rest of
 * the JSON (a few hundred bytes) is kept with each image replaced by a placeholder, so it can be
 * parsed and checked at the end.
 *
 * A 3824x2160 PNG is ~16 MB of base64; parsing whole answers at 25 requests in flight would hold
 * ~1 GB. Pure: bytes in, events out; the caller decodes each piece (decodeBase64Into) where it
 * wants the bytes. Pieces are views of the chunk given to push() (no copy): decode them before
 * the next push.
 */

export type ScanEvent =
  | { kind: 'image-start'; index: number }
  /** Base64 of the image (ASCII bytes), a multiple of four characters except for an unpadded last piece. */
  | { kind: 'image-data'; index: number; base64: Uint8Array }
  | { kind: 'image-end'; index: number };

export interface ScannedAnswer {
  /** How many images the answer carried (each was announced by events). */
  images: number;
  /** The answer's `usage` object, when it had one. */
  usage?: Record<string, unknown>;
  /** svg output: the SVG author model's tokens (`svg_usage`), when the answer had them. */
  svgUsage?: Record<string, unknown>;
}

export class MalformedAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedAnswerError';
  }
}

/** The JSON around the images is small; anything bigger is not an Images API answer. */
export const MAX_SKELETON_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const KEY = Buffer.from('b64_json');

/** Where the scanner is. */
const State = {
  /** Outside strings. */
  Json: 0,
  /** Inside a string that is not an image. */
  String: 1,
  /** Just after a string: a `:` makes it a key. */
  AfterString: 2,
  /** After `"b64_json":`, waiting for the value. */
  BeforeImage: 3,
  /** Inside an image's base64 string. */
  Image: 4,
} as const;
type State = (typeof State)[keyof typeof State];

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Placeholder left in the skeleton where image `index` was. */
const placeholder = (index: number) => `#${index}`;

export class ImagesAnswerScanner {
  private state: State = State.Json;
  private readonly skeleton: Buffer[] = [];
  private skeletonBytes = 0;
  /** Inside a string: the previous byte was a backslash. */
  private escaped = false;
  /** The current string while it can still be `b64_json` (its first bytes). */
  private keyBytes = 0;
  private keyMatches = true;
  private lastStringWasKey = false;
  private images = 0;
  /** Base64 characters carried to the next piece (0-3: decoding goes in groups of four). */
  private readonly carry = Buffer.alloc(4);
  private carried = 0;
  /** Padding was seen: the image string must end now. */
  private padded = false;
  private imageEscape = false;

  /** Scans one chunk of the body; returns what it found, in order. */
  push(chunk: Uint8Array): ScanEvent[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const events: ScanEvent[] = [];
    let pos = 0;
    let segmentStart = 0;
    while (pos < buf.length) {
      if (this.state === State.Image) {
        pos = this.scanImage(buf, pos, events);
        segmentStart = pos;
        continue;
      }
      const c = buf[pos]!;
      switch (this.state) {
        case State.Json:
          if (c === QUOTE) this.openString();
          break;
        case State.String:
          if (this.escaped) {
            this.escaped = false;
            this.keyMatches = false;
          } else if (c === BACKSLASH) {
            this.escaped = true;
          } else if (c === QUOTE) {
            this.lastStringWasKey = this.keyMatches && this.keyBytes === KEY.length;
            this.state = State.AfterString;
          } else {
            if (this.keyBytes >= KEY.length || KEY[this.keyBytes] !== c) this.keyMatches = false;
            this.keyBytes++;
          }
          break;
        case State.AfterString:
          if (isSpace(c)) break;
          if (c === COLON && this.lastStringWasKey) {
            this.state = State.BeforeImage;
            break;
          }
          this.state = State.Json;
          continue; // look at this byte again as plain JSON
        case State.BeforeImage:
          if (isSpace(c)) break;
          if (c === QUOTE) {
            // The image string starts: keep the JSON so far, then a placeholder instead of the data.
            this.keep(buf.subarray(segmentStart, pos));
            this.keep(Buffer.from(`"${placeholder(this.images)}`));
            this.state = State.Image;
            this.carried = 0;
            this.padded = false;
            this.imageEscape = false;
            events.push({ kind: 'image-start', index: this.images });
            pos++;
            segmentStart = pos;
            continue;
          }
          this.state = State.Json; // not a string (e.g. null): left for the final check
          continue;
      }
      pos++;
    }
    if (this.state !== State.Image) this.keep(buf.subarray(segmentStart, pos));
    return events;
  }

  /** Call once the body has ended: checks the whole answer and returns what it said. */
  finish(): ScannedAnswer {
    if (this.state === State.Image || this.state === State.String || this.state === State.BeforeImage) {
      throw new MalformedAnswerError('the answer ended in the middle of a value');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(this.skeleton).toString('utf8'));
    } catch {
      throw new MalformedAnswerError('the body is not valid JSON');
    }
    const body = parsed as { data?: unknown; usage?: unknown; svg_usage?: unknown } | null;
    const data = body && typeof body === 'object' && Array.isArray(body.data) ? (body.data as unknown[]) : undefined;
    if (!data || data.length === 0 || this.images === 0) {
      throw new MalformedAnswerError('no base64 images in the answer');
    }
    if (data.length !== this.images || data.some((d, i) => (d as { b64_json?: unknown } | null)?.b64_json !== placeholder(i))) {
      throw new MalformedAnswerError('the images are not where an Images API answer has them (data[].b64_json)');
    }
    const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
    const out: ScannedAnswer = { images: this.images };
    if (isObject(body!.usage)) out.usage = body!.usage;
    if (isObject(body!.svg_usage)) out.svgUsage = body!.svg_usage;
    return out;
  }

  private openString(): void {
    this.state = State.String;
    this.escaped = false;
    this.keyBytes = 0;
    this.keyMatches = true;
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.skeletonBytes += part.length;
    if (this.skeletonBytes > MAX_SKELETON_BYTES) {
      throw new MalformedAnswerError('the answer carries more than images and usage');
    }
    // A copy: a slice would keep the whole network chunk alive.
    this.skeleton.push(Buffer.from(part));
  }

  /** Consumes base64 from `pos` up to the closing quote or the chunk's end; returns the new position. */
  private scanImage(buf: Buffer, pos: number, events: ScanEvent[]): number {
    const quote = buf.indexOf(QUOTE, pos);
    const end = quote < 0 ? buf.length : quote;
    let piece = buf.subarray(pos, end);
    if (this.imageEscape || piece.includes(BACKSLASH)) piece = this.unescape(piece);
    if (piece.length > 0) this.emit(piece, events);
    if (quote < 0) return buf.length;
    if (this.imageEscape) throw new MalformedAnswerError('an image string has a stray escape');
    if (this.carried === 1) throw new MalformedAnswerError('an image string is cut short');
    if (this.carried > 0) events.push({ kind: 'image-data', index: this.images, base64: Buffer.from(this.carry.subarray(0, this.carried)) });
    events.push({ kind: 'image-end', index: this.images });
    this.images++;
    this.state = State.Json;
    this.keep(Buffer.from('"'));
    return quote + 1;
  }

  /** JSON may escape `/` as `\/`; nothing else belongs in base64. */
  private unescape(piece: Buffer): Buffer {
    const out = Buffer.allocUnsafe(piece.length);
    let n = 0;
    for (const c of piece) {
      if (this.imageEscape) {
        if (c !== 0x2f) throw new MalformedAnswerError('an image string is not plain base64');
        out[n++] = c;
        this.imageEscape = false;
      } else if (c === BACKSLASH) {
        this.imageEscape = true;
      } else {
        out[n++] = c;
      }
    }
    return out.subarray(0, n);
  }

  /** Hands out whole groups of four: the carried characters completed first, then a view of the rest. */
  private emit(piece: Buffer, events: ScanEvent[]): void {
    if (this.padded) throw new MalformedAnswerError('an image string goes on after its padding');
    let at = 0;
    if (this.carried > 0) {
      const fill = Math.min(4 - this.carried, piece.length);
      piece.copy(this.carry, this.carried, 0, fill);
      this.carried += fill;
      at = fill;
      if (this.carried < 4) return;
      this.quads(Buffer.from(this.carry), events);
      this.carried = 0;
      if (this.padded && at < piece.length) throw new MalformedAnswerError('an image string goes on after its padding');
    }
    const rest = piece.length - at;
    const whole = rest - (rest % 4);
    if (whole > 0) this.quads(piece.subarray(at, at + whole), events);
    const left = rest - whole;
    if (left > 0) {
      piece.copy(this.carry, 0, at + whole);
      this.carried = left;
    }
  }

  private quads(base64: Buffer, events: ScanEvent[]): void {
    if (base64[base64.length - 1] === EQUALS) this.padded = true;
    events.push({ kind: 'image-data', index: this.images, base64 });
  }
}

const EQUALS = 0x3d;

function padding(base64: Uint8Array): number {
  const n = base64.length;
  if (n > 0 && base64[n - 1] === EQUALS) return n > 1 && base64[n - 2] === EQUALS ? 2 : 1;
  return 0;
}

/** Bytes that `base64` (one piece of an image) decodes to. */
export function decodedLength(base64: Uint8Array): number {
  return Math.floor(((base64.length - padding(base64)) * 3) / 4);
}

/** base64url's two characters, which Node's decoder would take for `+` and `/`. */
const DASH = 0x2d;
const UNDERSCORE = 0x5f;

/**
 * Decodes one piece of an image into `target` at `offset` (which must have room for
 * decodedLength(base64) bytes) and returns the byte count. Anything outside the base64 alphabet,
 * or padding anywhere but at the end, is refused. Node's own decoder does the work (several times
 * faster than a loop here: this runs on the event loop for every answer); it is lenient, skipping
 * what is not base64 and stopping at padding, so a piece that yields fewer bytes than its length
 * promises had such a character, and base64url's `-` and `_` are looked for apart. The piece's
 * string lives only for the call (at most a piece, ~16 KB).
 */
export function decodeBase64Into(base64: Uint8Array, target: Buffer, offset: number): number {
  const pad = padding(base64);
  const length = base64.length - pad;
  const expected = Math.floor((length * 3) / 4);
  if (offset + expected > target.length) throw new RangeError('no room for the decoded bytes');
  if (length % 4 === 1 || (pad > 0 && base64.length % 4 !== 0)) throw new MalformedAnswerError('an image string is not valid base64');
  const bytes = Buffer.from(base64.buffer, base64.byteOffset, base64.byteLength);
  const written = target.write(bytes.toString('latin1', 0, length), offset, expected, 'base64');
  if (written !== expected || bytes.indexOf(DASH) >= 0 || bytes.indexOf(UNDERSCORE) >= 0) throw new MalformedAnswerError('an image string is not valid base64');
  return written;
}
