/**
 * The gallery as MCP resources (paged listing, reads by file:// URI and by path, confinement) and
 * the prompt recipes (one per use case plus image_spec, filled scaffold, completion).
 */
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ResourceListChangedNotificationSchema, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USE_CASES } from '../../src/core/prompt.js';
import { tempWorkspace, type ServerHandle, startHarness, type Harness } from '../helpers.js';

let server: ServerHandle;
let harness: Harness;
let ws: { dir: string; cleanup: () => Promise<void> };
let listChanged = 0;

const PAGE_SIZE = 2;
const galleryPrompt = 'a paper boat on a pond';

async function listAll(): Promise<{ resources: Resource[]; pages: number }> {
  const resources: Resource[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await server.client.listResources(cursor ? { cursor } : {});
    expect(page.resources.length).toBeLessThanOrEqual(PAGE_SIZE);
    resources.push(...page.resources);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 50);
  return { resources, pages };
}

beforeAll(async () => {
  harness = await startHarness({ env: { IMAGEGEN_TODAY: '2026-11-24', IMAGEGEN_PAGE_SIZE: String(PAGE_SIZE) } });
  ({ ws, server } = harness);
  server.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    listChanged += 1;
  });

  // An older image, a batch manifest, an image saved outside output/imagegen/, then three new ones.
  const old = await server.call('generate', { prompt: 'an old photo', size: '1024x1024', out: 'output/imagegen/old.png', preview: false });
  expect(old.isError).toBeFalsy();
  const past = new Date(Date.now() - 3_600_000);
  await utimes(path.join(ws.dir, 'output/imagegen/old.png'), past, past);
  await mkdir(path.join(ws.dir, 'output/imagegen/batch-1'), { recursive: true });
  await writeFile(path.join(ws.dir, 'output/imagegen/batch-1/manifest.json'), JSON.stringify({ tool: 'generate_batch', version: 1, jobs: [] }));
  const elsewhere = await server.call('generate', { prompt: 'a logo', size: '1024x1024', out: 'assets/logo.png', preview: false });
  expect(elsewhere.isError).toBeFalsy();
  const fresh = await server.call('generate', { prompt: galleryPrompt, n: 3, size: '1536x1024', out: 'output/imagegen/boat.png', preview: false });
  expect(fresh.isError).toBeFalsy();
  await writeFile(path.join(ws.dir, 'output/imagegen/notes.txt'), 'not an image');
});

afterAll(async () => {
  await harness?.close();
});

describe('resources: the gallery', () => {
  it('pages resources/list with a cursor, newest first, and shows the generated files with mime type, size and prompt', async () => {
    const { resources, pages } = await listAll();
    const names = resources.map((r) => r.name);
    expect(pages).toBeGreaterThan(2);
    expect(new Set(names).size).toBe(names.length); // no entry twice across pages
    expect(names).toEqual(
      expect.arrayContaining([
        'output/imagegen/boat-1.png',
        'output/imagegen/boat-2.png',
        'output/imagegen/boat-3.png',
        'output/imagegen/old.png',
        'output/imagegen/history.jsonl',
        'output/imagegen/batch-1/manifest.json',
        'assets/logo.png',
      ]),
    );
    expect(names).not.toContain('output/imagegen/notes.txt');
    expect(names.at(-1)).toBe('output/imagegen/old.png'); // the oldest comes last
    const times = resources.map((r) => Date.parse(r.annotations!.lastModified!));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]!);

    const boat = resources.find((r) => r.name === 'output/imagegen/boat-2.png')!;
    const file = path.join(ws.dir, 'output/imagegen/boat-2.png');
    expect(boat).toMatchObject({
      uri: pathToFileURL(file).href,
      mimeType: 'image/png',
      size: (await stat(file)).size,
      description: galleryPrompt,
    });
    expect(resources.find((r) => r.name.endsWith('history.jsonl'))!.mimeType).toBe('application/jsonl');
  });

  it('returns the bytes of a listed image from resources/read, by file:// URI and by path', async () => {
    const file = path.join(ws.dir, 'output/imagegen/boat-1.png');
    const bytes = await readFile(file);
    const byUri = await server.client.readResource({ uri: pathToFileURL(file).href });
    expect(byUri.contents).toHaveLength(1);
    const content = byUri.contents[0] as { blob: string; mimeType: string };
    expect(content.mimeType).toBe('image/png');
    expect(Buffer.from(content.blob, 'base64').equals(bytes)).toBe(true);

    const byPath = await server.client.readResource({ uri: 'imagegen://workspace/output/imagegen/boat-1.png' });
    expect(Buffer.from((byPath.contents[0] as { blob: string }).blob, 'base64').equals(bytes)).toBe(true);
  });

  it('serves the history and batch manifests as text', async () => {
    const history = await server.client.readResource({ uri: 'imagegen://workspace/output/imagegen/history.jsonl' });
    const lines = (history.contents[0] as { text: string }).text.trim().split('\n');
    expect(lines).toHaveLength(5); // old, logo, boat-1..3
    expect(JSON.parse(lines[4]!)).toMatchObject({ path: 'output/imagegen/boat-3.png', prompt: galleryPrompt });
    const manifest = await server.client.readResource({ uri: pathToFileURL(path.join(ws.dir, 'output/imagegen/batch-1/manifest.json')).href });
    expect(JSON.parse((manifest.contents[0] as { text: string }).text)).toEqual({ tool: 'generate_batch', version: 1, jobs: [] });
  });

  it('lists the resource templates (files, paths, Batch API batches) and completes paths', async () => {
    const { resourceTemplates } = await server.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(['file://{+path}', 'imagegen://batch/{id}', 'imagegen://workspace/{+path}']);
    const completion = await server.client.complete({
      ref: { type: 'ref/resource', uri: 'imagegen://workspace/{+path}' },
      argument: { name: 'path', value: 'output/imagegen/boat' },
    });
    expect(completion.completion.values.sort()).toEqual(['output/imagegen/boat-1.png', 'output/imagegen/boat-2.png', 'output/imagegen/boat-3.png']);
  });

  it('refuses reads outside the workspace, of other kinds of file, and of missing files, saying why', async () => {
    const outside = await tempWorkspace('imagegen-outside-');
    try {
      await writeFile(path.join(outside.dir, 'secret.png'), 'x');
      await expect(server.client.readResource({ uri: pathToFileURL(path.join(outside.dir, 'secret.png')).href })).rejects.toThrow(/outside the workspace/);
      await expect(server.client.readResource({ uri: 'imagegen://workspace/../secret.png' })).rejects.toThrow(/outside the workspace|does not exist/);
      await expect(server.client.readResource({ uri: 'imagegen://workspace/output/imagegen/notes.txt' })).rejects.toThrow(/not served: resources are images/);
      await expect(server.client.readResource({ uri: 'imagegen://workspace/output/imagegen/missing.png' })).rejects.toThrow(/does not exist/);
      await expect(server.client.listResources({ cursor: 'not-a-cursor' })).rejects.toThrow(/cursor was not made by this server/);
    } finally {
      await outside.cleanup();
    }
  });

  it('tells the client the list changed when a call saves files', () => {
    expect(listChanged).toBeGreaterThanOrEqual(3);
  });
});

describe('prompts: recipes per use case', () => {
  it('lists one prompt per use-case slug plus image_spec', async () => {
    const { prompts } = await server.client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual([...USE_CASES, 'image_spec'].sort());
    for (const prompt of prompts) expect(prompt.arguments?.map((a) => a.name)).toContain('prompt');
    const spec = prompts.find((p) => p.name === 'image_spec')!;
    expect(spec.arguments?.map((a) => a.name)).toEqual(expect.arrayContaining(['use_case', 'subject', 'text', 'negative']));
  });

  it('fills the labelled scaffold with the arguments given, and lists the lines still open', async () => {
    const result = await server.client.getPrompt({
      name: 'product-mockup',
      arguments: { prompt: 'a travel mug for a coffee brand', subject: 'a steel travel mug', materials: 'brushed steel, matte black lid' },
    });
    const message = result.messages[0]!;
    expect(message.role).toBe('user');
    const text = (message.content as { text: string }).text;
    expect(text).toContain(
      [
        'Use case: product-mockup',
        'Primary request: a travel mug for a coffee brand',
        'Subject: a steel travel mug',
        'Materials/textures: brushed steel, matte black lid',
      ].join('\n'),
    );
    expect(text).toMatch(/Still open/);
    expect(text).toMatch(/- Lighting\/mood \(lighting\):/);
    expect(text).not.toMatch(/- Subject \(subject\):/);
    expect(text).toMatch(/Call generate with prompt, use_case "product-mockup"/);

    const edit = await server.client.getPrompt({ name: 'precise-object-edit', arguments: { prompt: 'remove the lamp' } });
    expect((edit.messages[0]!.content as { text: string }).text).toMatch(/Call edit with/);
  });

  it('builds image_spec for the use case given, quoting text verbatim', async () => {
    const result = await server.client.getPrompt({ name: 'image_spec', arguments: { use_case: 'logo-brand', prompt: 'a logo', text: 'Acme' } });
    const text = (result.messages[0]!.content as { text: string }).text;
    expect(text).toContain('Use case: logo-brand\nPrimary request: a logo\nText (verbatim): "Acme"');
    await expect(server.client.getPrompt({ name: 'image_spec', arguments: { use_case: 'selfie' } })).rejects.toThrow(/not a use case.*photorealistic-natural/);
  });

  it('completes image_spec use_case to the slug list', async () => {
    const complete = (value: string) =>
      server.client.complete({ ref: { type: 'ref/prompt', name: 'image_spec' }, argument: { name: 'use_case', value } });
    expect((await complete('pro')).completion.values).toEqual(['product-mockup', 'productivity-visual']);
    expect((await complete('')).completion.values.sort()).toEqual([...USE_CASES].sort());
    expect((await complete('transfer')).completion.values).toEqual(['style-transfer']);
  });
});
