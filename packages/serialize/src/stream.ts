/**
 * Streaming variants: `encodeStream` emits the bytes of `encode` as they are produced; `decodeStream`
 * decompresses chunks as they arrive and never holds more than `maxBytes` of decoded payload.
 * @module
 */
import { Readable } from 'node:stream';
import { crc32 } from './crc.js';
import type { ByteSource, CodecCore } from './codec.js';
import { CorruptError, DictionaryError, InvalidInputError, TruncatedError } from './errors.js';
import { CODEC_RAW, HEADER_BYTES } from './format.js';
import { StreamDecompressor, checkCrc, checkZstdFrameHeader, parseHeader } from './frame.js';
import type { ParsedHeader } from './frame.js';
import { Slicer, encodeChunks, unpackSliced } from './async.js';

/** A Readable of the encoded bytes (identical, concatenated, to `encode(value)`). */
export function encodeStreamImpl(core: CodecCore, value: unknown): Readable {
  return Readable.from(encodeChunks(core, value), { objectMode: false });
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new InvalidInputError(
    `stream chunks must be Uint8Array/Buffer, got ${chunk === null ? 'null' : typeof chunk === 'string' ? 'a string (set no encoding on the stream)' : typeof chunk}`,
  );
}

/** Longest possible zstd frame header (magic included), in bytes. */
const MAX_FRAME_HEADER_BYTES = 18;

/**
 * Decodes one value from a source of byte chunks. The body's CRC-32 is computed as chunks arrive, a
 * compressed body is decompressed as it arrives (bounded by maxBytes), and the result is checked
 * against the header's length and CRC before the MessagePack is decoded.
 */
export async function decodeStreamImpl(core: CodecCore, source: ByteSource): Promise<unknown> {
  const { maxBytes, dictionary } = core.options;
  const slicer = new Slicer();
  let buffered: Uint8Array[] = [];
  let bufferedBytes = 0;
  let header: ParsedHeader | undefined;
  let bodySeen = 0;
  let crc = 0;
  let decompressor: StreamDecompressor | undefined;

  const take = (): Uint8Array => {
    const bytes = Buffer.concat(buffered, bufferedBytes);
    buffered = [];
    bufferedBytes = 0;
    return bytes;
  };
  const keep = (bytes: Uint8Array): void => {
    buffered.push(bytes);
    bufferedBytes += bytes.byteLength;
  };
  const feed = async (d: StreamDecompressor, bytes: Uint8Array): Promise<void> => {
    let rest = bytes;
    do {
      rest = d.push(rest, 256 * 1024);
      await slicer.step();
    } while (rest.byteLength > 0 || d.pending);
  };
  /** Accepts body bytes: counts, checksums, and decompresses or keeps them. */
  const body = async (h: ParsedHeader, bytes: Uint8Array): Promise<void> => {
    if (bytes.byteLength === 0) return;
    bodySeen += bytes.byteLength;
    if (bodySeen > h.bodyLength) {
      throw new CorruptError(`${bodySeen - h.bodyLength} unexpected bytes after the body`);
    }
    crc = crc32(bytes, crc);
    if (h.codec === CODEC_RAW) {
      keep(bytes);
      return;
    }
    if (decompressor !== undefined) {
      await feed(decompressor, bytes);
      return;
    }
    keep(bytes);
    if (bufferedBytes < MAX_FRAME_HEADER_BYTES && bodySeen < h.bodyLength) return;
    const frameHead = take();
    const size = checkZstdFrameHeader(frameHead, maxBytes);
    decompressor = new StreamDecompressor(h.dictionary ? dictionary : undefined, maxBytes, size);
    await feed(decompressor, frameHead);
  };

  for await (const c of source as AsyncIterable<unknown>) {
    const chunk = asBytes(c);
    if (header !== undefined) {
      await body(header, chunk);
      continue;
    }
    keep(chunk);
    const head = Buffer.concat(buffered, bufferedBytes);
    if (head.byteLength < HEADER_BYTES) {
      parseHeaderPrefix(head, maxBytes);
      continue;
    }
    buffered = [];
    bufferedBytes = 0;
    header = parseHeader(head, maxBytes);
    if (header.dictionary && dictionary === undefined) {
      throw new DictionaryError(
        'value was compressed with a zstd dictionary but no dictionary is configured',
      );
    }
    await body(header, head.subarray(HEADER_BYTES));
  }

  if (header === undefined) {
    parseHeader(take(), maxBytes);
    throw new TruncatedError('stream ended inside the header');
  }
  if (bodySeen < header.bodyLength) {
    throw new TruncatedError(
      `body declares ${header.bodyLength} bytes but the stream ended after ${bodySeen}`,
    );
  }
  checkCrc(crc, header.crc);
  let payload: Uint8Array;
  if (header.codec === CODEC_RAW) {
    payload = take();
  } else {
    if (decompressor === undefined) {
      const frame = take();
      const size = checkZstdFrameHeader(frame, maxBytes);
      decompressor = new StreamDecompressor(
        header.dictionary ? dictionary : undefined,
        maxBytes,
        size,
      );
      await feed(decompressor, frame);
    }
    payload = decompressor.finish();
  }
  return unpackSliced(payload, slicer);
}

/** Reports a wrong magic/version/flags as soon as those bytes arrive (a short prefix is otherwise fine). */
function parseHeaderPrefix(head: Uint8Array, maxBytes: number): void {
  try {
    parseHeader(head, maxBytes);
  } catch (err) {
    if (!(err instanceof TruncatedError)) throw err;
  }
}
