import { describe, expect, it } from 'vitest';
import {
  MAX_DATA_URL_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_INPUT_BYTES,
  alphaMaskFromLuminance,
  anyFullyTransparent,
  classifyInput,
  dimensionProblem,
  inputHandling,
  inputLine,
  inputOverwriteProblem,
  inputRoleWarnings,
  inputStemOf,
  maskProblems,
  nameInput,
  parseDataUrl,
  tooLargeProblem,
  uploadName,
} from '../../src/core/inputs.js';

describe('classifyInput', () => {
  it('tells data: URLs, web URLs and paths apart', () => {
    expect(classifyInput('data:image/png;base64,AAAA')).toEqual({ kind: 'data' });
    expect(classifyInput('  DATA:image/png;base64,AAAA')).toEqual({ kind: 'data' });
    expect(classifyInput('https://example.com/a.png')).toEqual({ kind: 'web', scheme: 'https' });
    expect(classifyInput('s3://bucket/a.png')).toEqual({ kind: 'web', scheme: 's3' });
    expect(classifyInput('file:///ws/a.png')).toEqual({ kind: 'path' });
    expect(classifyInput('photos/a.png')).toEqual({ kind: 'path' });
    expect(classifyInput('C:/photos/a.png')).toEqual({ kind: 'path' });
  });
});

describe('parseDataUrl', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

  it('decodes base64 data: URLs, whitespace and all', () => {
    const parsed = parseDataUrl(`data:image/png;base64,${png.toString('base64').replace(/(.{4})/g, '$1\n')}`);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.mediaType).toBe('image/png');
      expect(parsed.bytes.equals(png)).toBe(true);
    }
  });

  it('takes parameters before base64 and an empty media type', () => {
    const parsed = parseDataUrl(`data:;charset=x;BASE64,${png.toString('base64')}`);
    expect(parsed.ok && parsed.bytes.equals(png)).toBe(true);
  });

  it('refuses a data: URL that is not base64, has no comma or has damaged text', () => {
    expect(parseDataUrl('data:image/png,%89PNG')).toMatchObject({ ok: false, reason: expect.stringMatching(/not base64-encoded/) });
    expect(parseDataUrl('data:image/png;base64')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a valid data: URL/) });
    expect(parseDataUrl('data:image/png;base64,ab$cd')).toMatchObject({ ok: false, reason: expect.stringMatching(/damaged/) });
  });

  it('refuses an oversized URL from its length, at the limit exactly', () => {
    const exactly = 'A'.repeat(16); // decodes to 12 bytes
    expect(parseDataUrl(`data:image/png;base64,${exactly}`, 12).ok).toBe(true);
    const over = parseDataUrl(`data:image/png;base64,${exactly}AAAA`, 12);
    expect(over).toMatchObject({ ok: false, reason: expect.stringMatching(/over the 0\.0 MB limit.*save the image in the workspace/) });
    // The limit is what still fits in one protocol message once base64-encoded, with room for the rest.
    expect(MAX_DATA_URL_BYTES).toBe(7 * 1024 * 1024);
    expect(Math.ceil(MAX_DATA_URL_BYTES / 3) * 4 + 512 * 1024).toBeLessThan(MAX_MESSAGE_BYTES);
  });
});

describe('limits and names', () => {
  it('allows 50 MiB exactly and refuses one byte more, with the fix', () => {
    expect(MAX_INPUT_BYTES).toBe(50 * 1024 * 1024);
    expect(tooLargeProblem('image 1 "a.png"', MAX_INPUT_BYTES)).toBeUndefined();
    expect(tooLargeProblem('image 1 "a.png"', MAX_INPUT_BYTES + 1)).toMatch(/image 1 "a\.png" is 50\.0 MB; each input may be at most 50\.0 MB\. Downscale it/);
  });

  it('names an input by path, never by the text of a data: URL', () => {
    expect(nameInput('image 2', 'photos/a.png')).toBe('image 2 "photos/a.png"');
    expect(nameInput('mask', `data:image/png;base64,${'A'.repeat(1000)}`)).toBe('mask (a data: URL)');
    expect(nameInput('image 1', 'x'.repeat(300))).toHaveLength('image 1 ""…'.length + 200);
  });

  it('takes the default output stem from the first input', () => {
    expect(inputStemOf('shots/hero.png')).toBe('hero');
    expect(inputStemOf('file:///ws/shots/my%20photo.jpg')).toBe('my photo');
    expect(inputStemOf('data:image/png;base64,AAAA')).toBe('image');
    expect(inputStemOf('https://example.com/a.png')).toBe('image');
  });

  it('names uploads with the extension of what is sent', () => {
    expect(uploadName('photo', 'jpeg')).toBe('photo.jpg');
    expect(uploadName('anim', 'png')).toBe('anim.png');
    expect(uploadName('', 'webp')).toBe('image.webp');
  });
});

describe('inputHandling', () => {
  it('sends png, jpeg and webp as they are, with their MIME type', () => {
    expect(inputHandling('png')).toEqual({ kind: 'as-is', format: 'png', mimeType: 'image/png' });
    expect(inputHandling('jpeg')).toEqual({ kind: 'as-is', format: 'jpeg', mimeType: 'image/jpeg' });
    expect(inputHandling('webp')).toEqual({ kind: 'as-is', format: 'webp', mimeType: 'image/webp' });
  });

  it('converts gif, tiff, heif and avif', () => {
    for (const format of ['gif', 'tiff', 'heif', 'avif']) expect(inputHandling(format)).toEqual({ kind: 'convert', from: format });
  });

  it('refuses svg and other formats with what to give instead', () => {
    expect(inputHandling('svg')).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/is svg.*give png, jpeg or webp/) });
    expect(inputHandling('pdf').kind).toBe('refuse');
  });
});

describe('mask checks', () => {
  const image1 = { width: 1024, height: 1024 };

  it('accepts a PNG with alpha of exactly image 1 size', () => {
    expect(maskProblems({ format: 'png', hasAlpha: true, width: 1024, height: 1024 }, image1)).toEqual([]);
  });

  it('says what is wrong with the size and how to fix it', () => {
    const [problem] = maskProblems({ format: 'png', hasAlpha: true, width: 512, height: 512 }, image1);
    expect(problem).toMatch(/^mask is 512x512, image 1 is 1024x1024: .*Resize or redraw the mask at 1024x1024/);
    expect(dimensionProblem({ width: 1024, height: 1023 }, image1, 'mask "m.png"')).toMatch(/^mask "m\.png" is 1024x1023/);
  });

  it('refuses a mask without alpha or not a PNG, pointing at mask_from_luminance', () => {
    expect(maskProblems({ format: 'png', hasAlpha: false, width: 1024, height: 1024 }, image1)).toEqual([
      expect.stringMatching(/no alpha channel.*mask_from_luminance: true/),
    ]);
    expect(maskProblems({ format: 'jpeg', hasAlpha: false, width: 10, height: 10 }, image1)).toEqual([
      expect.stringMatching(/is jpeg; a mask must be a PNG/),
      expect.stringMatching(/is 10x10, image 1 is 1024x1024/),
    ]);
  });

  it('turns luminance into alpha: white transparent, black opaque, grey between', () => {
    const rgba = alphaMaskFromLuminance(Uint8Array.from([255, 0, 128]), 3, 1);
    expect([...rgba]).toEqual([255, 255, 255, 0, 0, 0, 0, 255, 128, 128, 128, 127]);
    expect(anyFullyTransparent(rgba)).toBe(true);
    expect(anyFullyTransparent(alphaMaskFromLuminance(Uint8Array.from([254, 0]), 2, 1))).toBe(false);
    expect(() => alphaMaskFromLuminance(new Uint8Array(5), 2, 2)).toThrow(RangeError);
  });
});

describe('input roles and result lines', () => {
  it('warns when input_images names an image that was not given', () => {
    expect(inputRoleWarnings('Image 1: target; Image 2: style', 2)).toEqual([]);
    expect(inputRoleWarnings(undefined, 1)).toEqual([]);
    expect(inputRoleWarnings('image 1: target; Image 3: style; image #0', 2)).toEqual([
      'input_images names Image 0, Image 3, but 2 images were given (Image 1 to Image 2, in the order of images).',
    ]);
  });

  it('describes each input, saying when it was converted', () => {
    expect(inputLine(0, { label: 'a.png', width: 10, height: 20, format: 'png' })).toBe('Image 1: a.png (10x20 png)');
    expect(inputLine(1, { label: 'b.gif', width: 10, height: 20, format: 'gif', convertedFrom: 'gif', pages: 3 })).toBe(
      'Image 2: b.gif (10x20 gif, converted to png; first of 3 frames only)',
    );
  });
});

describe('inputOverwriteProblem', () => {
  it('lets an input be replaced only when out names it, with n = 1 and force', () => {
    expect(inputOverwriteProblem('a.png', 'a.png', { force: true, outGiven: true, n: 1 })).toBeUndefined();
    expect(inputOverwriteProblem('a.png', 'a.png', { force: false, outGiven: false, n: 1 })).toBeUndefined(); // versioned instead
    expect(inputOverwriteProblem('out/image_1.png', 'out/image_1.png', { force: true, outGiven: false, n: 1 })).toMatch(
      /out\/image_1\.png is one of the input images, and force would overwrite it/,
    );
    expect(inputOverwriteProblem('a-1.png', 'b.png', { force: true, outGiven: true, n: 2 })).toMatch(/a-1\.png is one of the input images \(the same file as b\.png\)/);
  });
});
