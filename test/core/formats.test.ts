import { describe, expect, it } from 'vitest';
import { imageFormatOfFile, mimeTypeOf } from '../../src/core/formats.js';
import { inputHandling } from '../../src/core/inputs.js';

describe('image formats', () => {
  it('give the MIME type of every format the server writes, uploads or converts', () => {
    expect(mimeTypeOf('png')).toBe('image/png');
    expect(mimeTypeOf('jpeg')).toBe('image/jpeg');
    expect(mimeTypeOf('webp')).toBe('image/webp');
    expect(mimeTypeOf('gif')).toBe('image/gif');
    expect(mimeTypeOf('tiff')).toBe('image/tiff');
  });

  it('call an unknown format plain bytes, even one named like an Object property', () => {
    expect(mimeTypeOf('svg')).toBe('image/svg+xml');
    expect(mimeTypeOf('pdf')).toBe('application/octet-stream');
    expect(mimeTypeOf('jpg')).toBe('application/octet-stream');
    expect(mimeTypeOf('constructor')).toBe('application/octet-stream');
    expect(mimeTypeOf('__proto__')).toBe('application/octet-stream');
  });

  it('read a file name’s extension in any case, jpg and tif included', () => {
    expect(imageFormatOfFile('output/imagegen/hero.png')).toBe('png');
    expect(imageFormatOfFile('shots/Photo.JPG')).toBe('jpeg');
    expect(imageFormatOfFile('a.jpeg')).toBe('jpeg');
    expect(imageFormatOfFile('sprite.WebP')).toBe('webp');
    expect(imageFormatOfFile('loop.gif')).toBe('gif');
    expect(imageFormatOfFile('scan.tif')).toBe('tiff');
    expect(imageFormatOfFile('scan.tiff')).toBe('tiff');
  });

  it('name no format for files that are not images, or only look like one', () => {
    expect(imageFormatOfFile('out/manifest.json')).toBeUndefined();
    expect(imageFormatOfFile('history.jsonl')).toBeUndefined();
    expect(imageFormatOfFile('png')).toBeUndefined();
    expect(imageFormatOfFile('.png')).toBeUndefined(); // a hidden file named ".png", no extension
    expect(imageFormatOfFile('hero.png.bak')).toBeUndefined();
    expect(imageFormatOfFile('dir.png/notes')).toBeUndefined();
    expect(imageFormatOfFile('x.constructor')).toBeUndefined();
  });

  it('are the MIME types edit uploads carry', () => {
    expect(inputHandling('jpeg')).toEqual({ kind: 'as-is', format: 'jpeg', mimeType: 'image/jpeg' });
    expect(inputHandling('webp')).toEqual({ kind: 'as-is', format: 'webp', mimeType: 'image/webp' });
  });
});
