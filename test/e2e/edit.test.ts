import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeImagesApi, type FakeImagesApi, type RecordedRequest } from '../fake-images-api.js';
import { spawnServer, structured, tempWorkspace, textOf, type ServerHandle } from '../helpers.js';

let fake: FakeImagesApi;
let server: ServerHandle;
let ws: { dir: string; cleanup: () => Promise<void> };
let outside: { dir: string; cleanup: () => Promise<void> };

const OUTPUT = 'output/imagegen';
const at = (...parts: string[]) => path.join(ws.dir, ...parts);
const editRequests = () => fake.requests.filter((r) => r.path === '/v1/images/edits');
const imageFiles = (r: RecordedRequest) => r.files.filter((f) => f.field === 'image' || f.field === 'image[]');
const maskFile = (r: RecordedRequest) => r.files.find((f) => f.field === 'mask');

function solid(width: number, height: number, colour = '#4682b4') {
  return sharp({ create: { width, height, channels: 3, background: colour } });
}

/** An RGBA square with a fully transparent centre (the area to edit). */
async function alphaMask(width: number, height: number): Promise<Buffer> {
  const hole = await sharp({ create: { width: width / 2, height: height / 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } })
    .composite([{ input: hole, left: width / 4, top: height / 4, blend: 'source' }])
    .png()
    .toBuffer();
}

/** A black image with a white square in its top-left quarter, no alpha. */
async function blackAndWhiteMask(width: number, height: number): Promise<Buffer> {
  const white = await solid(width / 2, height / 2, '#ffffff').png().toBuffer();
  return solid(width, height, '#000000').composite([{ input: white, left: 0, top: 0 }]).greyscale().png().toBuffer();
}

beforeAll(async () => {
  fake = await startFakeImagesApi({ today: '2026-11-24' });
  ws = await tempWorkspace();
  outside = await tempWorkspace('imagegen-outside-');
  await mkdir(at('photos'), { recursive: true });
  await mkdir(at('masks'), { recursive: true });
  await solid(1024, 1024).png().toFile(at('photos/room.png'));
  await solid(512, 512, '#aa3300').jpeg().toFile(at('photos/ref.jpg'));
  await solid(640, 480, '#22aa44').webp().toFile(at('photos/style.webp'));
  const frame = (c: string) => solid(320, 240, c).png().toBuffer();
  await sharp([await frame('#ff0000'), await frame('#00ff00')], { join: { animated: true } }).gif().toFile(at('photos/anim.gif'));
  await solid(300, 200, '#884422').tiff().toFile(at('photos/scan.tiff'));
  await writeFile(at('masks/good.png'), await alphaMask(1024, 1024));
  await writeFile(at('masks/small.png'), await alphaMask(512, 512));
  await solid(1024, 1024, '#000000').png().toFile(at('masks/opaque.png'));
  await writeFile(at('masks/bw.png'), await blackAndWhiteMask(1024, 1024));
  await writeFile(at('notes.png'), 'these are my notes, not a picture\n');
  await writeFile(at('empty.png'), '');
  await solid(1024, 1024).png().toFile(path.join(outside.dir, 'secret.png'));
  await symlink(path.join(outside.dir, 'secret.png'), at('photos/link.png'));
  server = await spawnServer({
    structured: true,
    cwd: ws.dir,
    env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, IMAGEGEN_TODAY: '2026-11-24' },
  });
});

afterAll(async () => {
  await server?.close();
  await fake?.close();
  await ws?.cleanup();
  await outside?.cleanup();
});

beforeEach(() => {
  fake.reset();
});

describe('tools/list', () => {
  it('lists edit with a flat schema holding every generate argument plus the edit ones', async () => {
    const { tools } = await server.client.listTools();
    const edit = tools.find((t) => t.name === 'edit');
    const generate = tools.find((t) => t.name === 'generate');
    expect(edit).toBeDefined();
    expect(edit!.inputSchema.type).toBe('object');
    for (const key of ['oneOf', 'anyOf', 'allOf']) expect(edit!.inputSchema).not.toHaveProperty(key);
    const keys = Object.keys(edit!.inputSchema.properties ?? {});
    expect(keys).toEqual(expect.arrayContaining(Object.keys(generate!.inputSchema.properties ?? {})));
    expect(keys).toEqual(expect.arrayContaining(['images', 'mask', 'mask_from_luminance', 'input_fidelity', 'input_images']));
    expect(edit!.inputSchema.required).toEqual(['images']);
    expect(edit!.outputSchema?.type).toBe('object');
    expect(edit!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: true });
  });
});

describe('what the API receives', () => {
  it('sends every image in order with its real MIME type, as it is, and reports each role', async () => {
    const result = await server.call('edit', {
      prompt: 'put the vase from Image 2 on the table, in the style of Image 3',
      images: ['photos/room.png', 'photos/ref.jpg', 'photos/style.webp'],
      input_images: 'Image 1: edit target; Image 2: the vase; Image 3: style reference',
      size: '1024x1024',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [request] = editRequests();
    const files = imageFiles(request!);
    expect(files.map((f) => f.field)).toEqual(['image[]', 'image[]', 'image[]']);
    expect(files.map((f) => f.contentType)).toEqual(['image/png', 'image/jpeg', 'image/webp']);
    expect(files.map((f) => f.filename)).toEqual(['room.png', 'ref.jpg', 'style.webp']);
    expect(files[0]!.bytes.equals(await readFile(at('photos/room.png')))).toBe(true);
    expect(files[1]!.bytes.equals(await readFile(at('photos/ref.jpg')))).toBe(true);
    expect(files[2]!.bytes.equals(await readFile(at('photos/style.webp')))).toBe(true);
    expect(maskFile(request!)).toBeUndefined();
    expect(request!.body).toMatchObject({ model: 'gpt-image-2', size: '1024x1024', quality: 'medium', output_format: 'png', n: '1' });
    expect(request!.body).not.toHaveProperty('input_fidelity');
    // Multipart encoding turns line feeds in text fields into CRLF (the form-data rules), so compare lines.
    expect(String(request!.body.prompt).replace(/\r\n/g, '\n')).toBe(
      'Primary request: put the vase from Image 2 on the table, in the style of Image 3\nInput images: Image 1: edit target; Image 2: the vase; Image 3: style reference',
    );

    const s = structured(result);
    expect(s.images).toEqual([expect.objectContaining({ path: `${OUTPUT}/room-edit.png`, width: 1024, height: 1024, format: 'png' })]);
    expect(await sharp(at(OUTPUT, 'room-edit.png')).metadata()).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    const text = textOf(result);
    expect(text).toContain('Image 1: photos/room.png (1024x1024 png)');
    expect(text).toContain('Image 2: photos/ref.jpg (512x512 jpeg)');
    expect(text).toContain('Image 3: photos/style.webp (640x480 webp)');
    expect(text).toContain('Roles: Image 1: edit target; Image 2: the vase; Image 3: style reference');
    expect(result.content.some((b) => b.type === 'resource_link' && b.uri === pathToFileURL(at(OUTPUT, 'room-edit.png')).href)).toBe(true);
  });

  it('sends one image as the field image, with the mask as a PNG with alpha', async () => {
    const result = await server.call('edit', {
      prompt: 'replace the centre with a window',
      images: ['photos/room.png'],
      mask: 'masks/good.png',
      out: 'edits/window.png',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [request] = editRequests();
    expect(imageFiles(request!).map((f) => [f.field, f.contentType])).toEqual([['image', 'image/png']]);
    const mask = maskFile(request!);
    expect(mask).toMatchObject({ contentType: 'image/png' });
    expect(mask!.bytes.equals(await readFile(at('masks/good.png')))).toBe(true);
    expect(textOf(result)).toContain('Mask: masks/good.png (PNG with alpha, 1024x1024 like image 1)');
    expect(await sharp(at('edits/window.png')).metadata()).toMatchObject({ format: 'png' });
  });

  it('warns when a mask marks nothing to edit, reading the alpha of grey and colour masks alike', async () => {
    const opaque = await sharp({ create: { width: 1024, height: 1024, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } }).png().toBuffer();
    await writeFile(at('masks/nothing.png'), opaque);
    await writeFile(at('masks/grey-alpha.png'), await sharp(await alphaMask(1024, 1024)).toColourspace('b-w').png().toBuffer());
    expect(await sharp(at('masks/grey-alpha.png')).metadata()).toMatchObject({ channels: 2, hasAlpha: true });
    const nothing = await server.call('edit', { prompt: 'x', images: ['photos/room.png'], mask: 'masks/nothing.png', out: 'edits/nothing.png' });
    expect(nothing.isError, textOf(nothing)).toBeFalsy();
    expect(structured(nothing).warnings).toEqual(expect.arrayContaining([expect.stringMatching(/no fully transparent pixel, so it marks no area to edit/)]));
    const grey = await server.call('edit', { prompt: 'x', images: ['photos/room.png'], mask: 'masks/grey-alpha.png', out: 'edits/grey.png' });
    expect(grey.isError, textOf(grey)).toBeFalsy();
    expect(structured(grey).warnings.join(' ')).not.toMatch(/marks no area/);
  });

  it('sends input_fidelity to a model that takes it', async () => {
    const result = await server.call('edit', {
      prompt: 'keep the face, change the shirt to red',
      images: ['photos/room.png'],
      model: 'gpt-image-1.5',
      input_fidelity: 'high',
      size: '1024x1024',
      out: 'edits/fidelity.png',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(editRequests()[0]!.body).toMatchObject({ model: 'gpt-image-1.5', input_fidelity: 'high' });
  });

  it('resends the same files when a transient failure is retried', async () => {
    fake.inject({ fault: { kind: 'server_error' }, path: 'edits' });
    const result = await server.call('edit', {
      prompt: 'retry me',
      images: ['photos/room.png', 'photos/ref.jpg'],
      mask: 'masks/good.png',
      out: 'edits/retried.png',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [first, second] = editRequests();
    expect(first!.status).toBe(500);
    expect(second!.status).toBe(200);
    expect(second!.files.map((f) => [f.field, f.contentType, f.bytes.length])).toEqual(first!.files.map((f) => [f.field, f.contentType, f.bytes.length]));
    expect(structured(result).attempts).toBe(2);
  });
});

describe('refusals: an isError with the fix, no API call, and the server keeps serving', () => {
  async function expectRefused(args: Record<string, unknown>, ...patterns: RegExp[]) {
    const result = await server.call('edit', { prompt: 'an edit', ...args });
    expect(result.isError, JSON.stringify(args).slice(0, 200)).toBe(true);
    for (const pattern of patterns) expect(textOf(result)).toMatch(pattern);
    expect(fake.requests).toHaveLength(0);
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toContain('edit');
    return textOf(result);
  }

  it('17 images', async () => {
    await expectRefused({ images: Array.from({ length: 17 }, () => 'photos/room.png') }, /images has 17 entries/, /at most 16/);
  });

  it('no images', async () => {
    await expectRefused({ images: [] }, /images is empty/, /1 to 16/);
  });

  it('a text file named .png', async () => {
    await expectRefused({ images: ['photos/room.png', 'notes.png'] }, /image 2 "notes\.png" is not an image/, /png, jpeg or webp/);
  });

  it('an empty file', async () => {
    await expectRefused({ images: ['empty.png'] }, /image 1 "empty\.png" is empty/);
  });

  it('a file over 50 MiB, refused from its size before it is read', async () => {
    await writeFile(at('huge.png'), '');
    await truncate(at('huge.png'), 50 * 1024 * 1024 + 1); // sparse: costs no disk
    await expectRefused({ images: ['photos/room.png', 'huge.png'] }, /image 2 "huge\.png" is 50\.0 MB; each input may be at most 50\.0 MB/);
  });

  it('a missing file', async () => {
    await expectRefused({ images: ['photos/nope.png'] }, /image 1 "photos\/nope\.png" does not exist/, /relative paths start at the workspace root/);
  });

  it('a symlink pointing out of the workspace', async () => {
    await expectRefused({ images: ['photos/link.png'] }, /image 1 "photos\/link\.png" is outside the workspace/, /Use a path inside it/);
  });

  it('../ and absolute paths outside the workspace', async () => {
    const relative = path.relative(ws.dir, path.join(outside.dir, 'secret.png'));
    expect(relative.startsWith('..')).toBe(true);
    await expectRefused({ images: [relative] }, /is outside the workspace/);
    await expectRefused({ images: [path.join(outside.dir, 'secret.png')] }, /is outside the workspace/);
    await expectRefused({ images: ['photos/room.png'], mask: path.join(outside.dir, 'secret.png') }, /mask ".*secret\.png" is outside the workspace/);
  });

  it('a file:// URI outside the workspace', async () => {
    const uri = pathToFileURL(path.join(outside.dir, 'secret.png')).href;
    await expectRefused({ images: [uri] }, /image 1 "file:\/\/.*secret\.png" is outside the workspace/);
  });

  it('a web URL (nothing is fetched)', async () => {
    await expectRefused({ images: ['https://example.com/cat.png'] }, /is a web URL/, /Download the image into the workspace/);
  });

  it('a mask of the wrong size', async () => {
    await expectRefused(
      { images: ['photos/room.png'], mask: 'masks/small.png' },
      /mask "masks\/small\.png" is 512x512, image 1 is 1024x1024/,
      /Resize or redraw the mask at 1024x1024/,
    );
  });

  it('a mask with no alpha channel', async () => {
    await expectRefused({ images: ['photos/room.png'], mask: 'masks/opaque.png' }, /has no alpha channel/, /mask_from_luminance: true/);
  });

  it('a mask that is not a PNG', async () => {
    await expectRefused({ images: ['photos/ref.jpg'], mask: 'photos/ref.jpg' }, /mask "photos\/ref\.jpg" is jpeg; a mask must be a PNG/);
  });

  it('mask_from_luminance without a mask', async () => {
    await expectRefused({ images: ['photos/room.png'], mask_from_luminance: true }, /no mask was given/);
  });

  it('input_fidelity on gpt-image-2, and a value gpt-image-1-mini does not take', async () => {
    await expectRefused({ images: ['photos/room.png'], input_fidelity: 'low' }, /gpt-image-2 does not accept input_fidelity/, /always uses high input fidelity/, /Drop input_fidelity/);
    await expectRefused(
      { images: ['photos/room.png'], model: 'gpt-image-1-mini', input_fidelity: 'high', size: '1024x1024' },
      /gpt-image-1-mini accepts input_fidelity low only/,
    );
  });

  it('transparent background with jpeg output', async () => {
    await expectRefused({ images: ['photos/room.png'], background: 'transparent', output_format: 'jpeg' }, /needs png or webp output/, /output_format to png or webp/);
  });

  it('lists every problem at once', async () => {
    const text = await expectRefused(
      { images: ['notes.png', 'photos/nope.png'], size: '3840x2160' },
      /image 1 "notes\.png" is not an image/,
      /image 2 "photos\/nope\.png" does not exist/,
      /Try 3824x2160/,
    );
    expect(text.split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('an argument of another shape (image instead of images)', async () => {
    await expectRefused({ images: ['photos/room.png'], image: 'photos/room.png' }, /give images, a list of paths/);
  });
});

describe('conversions', () => {
  it('sends a gif (first frame) and a tiff as png, and says so', async () => {
    const result = await server.call('edit', { prompt: 'combine', images: ['photos/anim.gif', 'photos/scan.tiff'], out: 'edits/converted.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const files = imageFiles(editRequests()[0]!);
    expect(files.map((f) => [f.contentType, f.filename])).toEqual([
      ['image/png', 'anim.png'],
      ['image/png', 'scan.png'],
    ]);
    expect(await sharp(files[0]!.bytes).metadata()).toMatchObject({ format: 'png', width: 320, height: 240 });
    expect(await sharp(files[1]!.bytes).metadata()).toMatchObject({ format: 'png', width: 300, height: 200 });
    const text = textOf(result);
    expect(text).toContain('Image 1: photos/anim.gif (320x240 gif, converted to png; first of 2 frames only)');
    expect(text).toContain('Image 2: photos/scan.tiff (300x200 tiff, converted to png)');
    expect(structured(result).warnings).toEqual(expect.arrayContaining([expect.stringMatching(/anim\.gif\) has 2 frames; only the first was used/)]));
  });

  it('converts a black-and-white mask to alpha (white = area to edit) without resizing it', async () => {
    const result = await server.call('edit', {
      prompt: 'a skylight in the white area',
      images: ['photos/room.png'],
      mask: 'masks/bw.png',
      mask_from_luminance: true,
      out: 'edits/luminance.png',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const mask = maskFile(editRequests()[0]!)!;
    expect(mask.contentType).toBe('image/png');
    const { data, info } = await sharp(mask.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 1024, height: 1024, channels: 4 });
    const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
    expect(alphaAt(10, 10)).toBe(0); // white: edit here
    expect(alphaAt(1000, 1000)).toBe(255); // black: keep
    expect(textOf(result)).toMatch(/Mask: masks\/bw\.png \(converted from black-and-white \(white = area to edit\)/);
  });

  it('refuses a luminance mask of the wrong size rather than resizing it', async () => {
    const result = await server.call('edit', { prompt: 'x', images: ['photos/ref.jpg'], mask: 'masks/bw.png', mask_from_luminance: true });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/is 1024x1024, image 1 is 512x512/);
    expect(fake.requests).toHaveLength(0);
  });

  it('takes a data: URL input and names the output image-edit.png', async () => {
    const bytes = await solid(256, 256, '#123456').png().toBuffer();
    const result = await server.call('edit', { prompt: 'brighten', images: [`data:image/png;base64,${bytes.toString('base64')}`], force: true });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [file] = imageFiles(editRequests()[0]!);
    expect(file!.contentType).toBe('image/png');
    expect(file!.bytes.equals(bytes)).toBe(true);
    expect(structured(result).images[0]!.path).toBe(`${OUTPUT}/image-edit.png`);
    expect(textOf(result)).toContain('Image 1: data: URL (256x256 png)');
    expect(JSON.stringify(result)).not.toContain(bytes.toString('base64').slice(0, 40));
  });

  it('refuses a damaged data: URL with the reason, without echoing it', async () => {
    const result = await server.call('edit', { prompt: 'x', images: ['data:image/png;base64,@@@not-base64@@@'] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/image 1 \(a data: URL\) is a data: URL whose base64 text is damaged/);
    expect(fake.requests).toHaveLength(0);
  });

  it('edits a previous output given by its file:// resource link', async () => {
    const generated = await server.call('generate', { prompt: 'a blank poster', size: '1024x1536', out: 'posters/blank.png' });
    const link = generated.content.find((b) => b.type === 'resource_link');
    expect(link).toBeDefined();
    const uri = (link as { uri: string }).uri;
    expect(uri.startsWith('file://')).toBe(true);
    const result = await server.call('edit', { prompt: 'add a title', images: [uri] });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [file] = imageFiles(editRequests()[0]!);
    expect(file!.bytes.equals(await readFile(at('posters/blank.png')))).toBe(true);
    expect(structured(result).images[0]!.path).toBe(`${OUTPUT}/blank-edit.png`);
    expect(textOf(result)).toContain('Image 1: posters/blank.png (1024x1536 png)');
  });
});

describe('outputs never replace an input by accident', () => {
  it('writes a versioned sibling when out names the input without force', async () => {
    await solid(1024, 1024, '#010203').png().toFile(at('photos/keep.png'));
    const before = await readFile(at('photos/keep.png'));
    const result = await server.call('edit', { prompt: 'x', images: ['photos/keep.png'], out: 'photos/keep.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(structured(result).images[0]).toMatchObject({ path: 'photos/keep-v2.png', versioned_from: 'photos/keep.png' });
    expect((await readFile(at('photos/keep.png'))).equals(before)).toBe(true);
  });

  it('overwrites the input only when out names it and force is set', async () => {
    await solid(512, 512, '#010203').png().toFile(at('photos/replace.png'));
    const result = await server.call('edit', { prompt: 'x', images: ['photos/replace.png'], out: 'photos/replace.png', force: true, size: '1024x1024' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(structured(result).images[0]!.path).toBe('photos/replace.png');
    expect(await sharp(at('photos/replace.png')).metadata()).toMatchObject({ width: 1024, height: 1024 });
  });

  it('refuses force when an out_dir or numbered file would replace an input', async () => {
    await mkdir(at('batch'), { recursive: true });
    await solid(1024, 1024).png().toFile(at('batch/image_1.png'));
    const before = await readFile(at('batch/image_1.png'));
    const viaDir = await server.call('edit', { prompt: 'x', images: ['batch/image_1.png'], out_dir: 'batch', force: true });
    expect(viaDir.isError).toBe(true);
    expect(textOf(viaDir)).toMatch(/batch\/image_1\.png is one of the input images, and force would overwrite it/);
    expect(textOf(viaDir)).toMatch(/choose another out or out_dir, or drop force/);
    await solid(1024, 1024).png().toFile(at('batch/shot-1.png'));
    const viaN = await server.call('edit', { prompt: 'x', images: ['photos/room.png', 'batch/shot-1.png'], out: 'batch/shot.png', n: 2, force: true });
    expect(viaN.isError).toBe(true);
    expect(textOf(viaN)).toMatch(/batch\/shot-1\.png is one of the input images/);
    await solid(256, 256).png().toFile(at('batch/poster-web.png'));
    const viaCopy = await server.call('edit', {
      prompt: 'x',
      images: ['photos/room.png', 'batch/poster-web.png'],
      out: 'batch/poster.png',
      downscale_max_dim: 128,
      force: true,
    });
    expect(viaCopy.isError).toBe(true);
    expect(textOf(viaCopy)).toMatch(/batch\/poster-web\.png is one of the input images/);
    expect(fake.requests).toHaveLength(0);
    expect((await readFile(at('batch/image_1.png'))).equals(before)).toBe(true);
  });
});

describe('dry run', () => {
  it('shows the edits payload with images as paths, sizes and types, and the mask verdict, with no key', async () => {
    const noKey = await spawnServer({ structured: true, cwd: ws.dir, env: { OPENAI_BASE_URL: fake.url, IMAGEGEN_TODAY: '2026-11-24' } });
    try {
      const result = await noKey.call('edit', {
        prompt: 'a skylight',
        images: ['photos/room.png', 'photos/scan.tiff'],
        mask: 'masks/bw.png',
        mask_from_luminance: true,
        model: 'gpt-image-1.5',
        input_fidelity: 'low',
        size: '1024x1024',
        dry_run: true,
      });
      expect(result.isError, textOf(result)).toBeFalsy();
      const s = structured(result);
      expect(s.dry_run).toBe(true);
      expect(s.request!.endpoint).toBe('/v1/images/edits');
      const payload = s.request!.payload;
      expect(payload).toMatchObject({ model: 'gpt-image-1.5', input_fidelity: 'low', size: '1024x1024', prompt: 'a skylight' });
      expect(payload.image).toEqual([
        { path: 'photos/room.png', width: 1024, height: 1024, type: 'image/png', bytes: expect.any(Number) },
        { path: 'photos/scan.tiff', width: 300, height: 200, type: 'image/png', bytes: expect.any(Number), converted_from: 'tiff' },
      ]);
      expect(payload.mask).toMatchObject({ path: 'masks/bw.png', width: 1024, height: 1024, type: 'image/png', check: expect.stringMatching(/converted from black-and-white/) });
      expect(s.images).toEqual([{ path: `${OUTPUT}/room-edit.png`, format: 'png', width: 1024, height: 1024 }]);
      expect(textOf(result)).toMatch(/^Dry run: nothing was sent or saved\. It would POST \/v1\/images\/edits/);
      expect(textOf(result)).toContain('Image 2: photos/scan.tiff (300x200 tiff, converted to png)');
      expect(fake.requests).toHaveLength(0);
    } finally {
      await noKey.close();
    }
  });

  it('refuses in a dry run what a real call would refuse', async () => {
    const result = await server.call('edit', { prompt: 'x', images: ['photos/room.png'], mask: 'masks/small.png', dry_run: true });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/is 512x512, image 1 is 1024x1024/);
  });
});

describe('what the agent sees', () => {
  it('gets one small preview, a cost from usage, and a history line, like generate', async () => {
    const result = await server.call('edit', { images: ['photos/room.png'], prompt: 'add a plant', size: '1024x1024', out: 'seen/room.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const pictures = result.content.filter((b) => b.type === 'image');
    expect(pictures).toHaveLength(1);
    const picture = pictures[0] as { data: string };
    const meta = await sharp(Buffer.from(picture.data, 'base64')).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512);
    expect(structured(result)).toHaveProperty('cost_usd');
    const history = (await readFile(at(OUTPUT, 'history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { tool: string; path: string });
    expect(history.at(-1)).toMatchObject({ tool: 'edit', path: 'seen/room.png' });

    const quiet = await server.call('edit', { images: ['photos/room.png'], prompt: 'add a plant', size: '1024x1024', out: 'seen/quiet.png', preview: false });
    expect(quiet.content.filter((b) => b.type === 'image')).toHaveLength(0);
  });
});
