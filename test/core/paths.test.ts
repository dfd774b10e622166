import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cutoutPath, keyedSourcePath } from '../../src/core/transparency.js';
import {
  DEFAULT_OUTPUT_DIR,
  batchJobFiles,
  downscaledPath,
  extensionFor,
  controlCharacterProblem,
  inputStem,
  nameLengthProblem,
  numbered,
  planOutputPaths,
  promptSlug,
  quoteName,
  splitExt,
  suffixProblem,
  versionedPath,
  type PlanInput,
} from '../../src/core/paths.js';

const base: PlanInput = { n: 1, format: 'png', defaultStem: 'output' };

function files(input: Partial<PlanInput>): { files: string[]; warnings: string[] } {
  const out = planOutputPaths({ ...base, ...input });
  if (!out.ok) throw new Error(`expected a plan, got ${JSON.stringify(out.problems)}`);
  return out.plan;
}

function problem(input: Partial<PlanInput>): string {
  const out = planOutputPaths({ ...base, ...input });
  if (out.ok) throw new Error(`expected a refusal, got ${JSON.stringify(out.plan)}`);
  expect(out.problems).toHaveLength(1);
  return out.problems[0]!.message;
}

describe('planOutputPaths', () => {
  it('defaults to output/imagegen/output.png', () => {
    expect(DEFAULT_OUTPUT_DIR).toBe('output/imagegen');
    expect(files({})).toEqual({ files: [path.join('output', 'imagegen', 'output.png')], warnings: [] });
  });

  it.each([
    ['jpeg', 'output.jpg'],
    ['webp', 'output.webp'],
    ['png', 'output.png'],
  ] as const)('names %s output %s', (format, name) => {
    expect(files({ format }).files).toEqual([path.join('output/imagegen', name)]);
  });

  it('numbers n > 1 defaults as output-1.png, output-2.png, ...', () => {
    expect(files({ n: 3 }).files).toEqual(['output-1.png', 'output-2.png', 'output-3.png'].map((f) => path.join('output/imagegen', f)));
  });

  it('uses the edit stem by default for edits', () => {
    const stem = `${inputStem('shots/hero.png')}-edit`;
    expect(files({ defaultStem: stem, format: 'webp' }).files).toEqual([path.join('output/imagegen', 'hero-edit.webp')]);
  });

  it('numbers n > 1 on one path: name-1.png ...', () => {
    expect(files({ out: 'assets/hero.png', n: 2 }).files).toEqual(['assets/hero-1.png', 'assets/hero-2.png']);
  });

  it('keeps a single out as given', () => {
    expect(files({ out: 'assets/hero.png' })).toEqual({ files: ['assets/hero.png'], warnings: [] });
  });

  it('names out_dir files image_1.png, image_2.png, ...', () => {
    expect(files({ outDir: 'renders', n: 3 }).files).toEqual(['image_1.png', 'image_2.png', 'image_3.png'].map((f) => path.join('renders', f)));
    expect(files({ outDir: 'renders', format: 'jpeg' }).files).toEqual([path.join('renders', 'image_1.jpg')]);
  });

  it('refuses out and out_dir together', () => {
    const message = problem({ out: 'a.png', outDir: 'b' });
    expect(message).toContain('out');
    expect(message).toContain('out_dir');
    expect(message).toContain('not both');
  });

  it.each(['assets/', 'assets/hero/', '', '   '])('refuses out %j that names no file, pointing to out_dir', (out) => {
    expect(problem({ out })).toContain('out_dir');
  });

  it('adds the extension to an out without one', () => {
    expect(files({ out: 'assets/hero' }).files).toEqual(['assets/hero.png']);
    expect(files({ out: 'assets/hero', format: 'jpeg' }).files).toEqual(['assets/hero.jpg']);
    expect(files({ out: 'assets.v2/hero', format: 'webp', n: 2 }).files).toEqual(['assets.v2/hero-1.webp', 'assets.v2/hero-2.webp']);
  });

  it('keeps a mismatched extension, with a warning naming it and the format', () => {
    const plan = files({ out: 'hero.jpg', format: 'png' });
    expect(plan.files).toEqual(['hero.jpg']);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toContain('.jpg');
    expect(plan.warnings[0]).toContain('png');
  });

  it.each([
    ['hero.jpeg', 'jpeg'],
    ['hero.JPG', 'jpeg'],
    ['hero.PNG', 'png'],
    ['hero.webp', 'webp'],
  ] as const)('does not warn for the matching extension %s', (out, format) => {
    expect(files({ out, format })).toEqual({ files: [out], warnings: [] });
  });
});

describe('names', () => {
  it('extensionFor uses jpg for jpeg', () => {
    expect(extensionFor('jpeg')).toBe('jpg');
    expect(extensionFor('png')).toBe('png');
    expect(extensionFor('webp')).toBe('webp');
  });

  it('numbered keeps one file and numbers several', () => {
    expect(numbered('a/b.png', 1)).toEqual(['a/b.png']);
    expect(numbered('a/b.png', 2)).toEqual(['a/b-1.png', 'a/b-2.png']);
  });

  it('inputStem takes the base name without extension', () => {
    expect(inputStem('shots/hero.png')).toBe('hero');
    expect(inputStem('/abs/path/photo.final.jpeg')).toBe('photo.final');
    expect(inputStem('noext')).toBe('noext');
  });

  it('versionedPath adds -vN before the extension, from 2', () => {
    expect(versionedPath('hero.png', 1)).toBe('hero.png');
    expect(versionedPath('hero.png', 2)).toBe('hero-v2.png');
    expect(versionedPath('out/imgs/hero.png', 3)).toBe('out/imgs/hero-v3.png');
    expect(versionedPath('dir.d/hero', 2)).toBe('dir.d/hero-v2');
    expect(versionedPath('hero.png', 12)).toBe('hero-v12.png');
  });

  it('downscaledPath adds the suffix (-web by default), with a leading dash when missing', () => {
    expect(downscaledPath('hero.png')).toBe('hero-web.png');
    expect(downscaledPath('a/hero.jpg', '-small')).toBe('a/hero-small.jpg');
    expect(downscaledPath('a/hero.jpg', 'small')).toBe('a/hero-small.jpg');
    expect(downscaledPath('a/hero.webp', '_1x')).toBe('a/hero-_1x.webp');
  });
});

describe('splitExt (every derived name: variants, versions, -web copies, keyed sources, cutouts)', () => {
  it('splits the last extension off the last segment', () => {
    expect(splitExt('out/hero.png')).toEqual({ stem: 'out/hero', ext: '.png' });
    expect(splitExt('a.tar.gz')).toEqual({ stem: 'a.tar', ext: '.gz' });
    expect(splitExt('out/x..png')).toEqual({ stem: 'out/x.', ext: '.png' });
    expect(splitExt('/w/out/hero')).toEqual({ stem: '/w/out/hero', ext: '' });
  });

  it('never takes a folder’s dot for an extension, with / or \\ as separator', () => {
    expect(splitExt('/w/art.d/logo')).toEqual({ stem: '/w/art.d/logo', ext: '' });
    expect(splitExt('art.d\\logo')).toEqual({ stem: 'art.d\\logo', ext: '' });
    expect(splitExt('C:\\art\\logo.jpg')).toEqual({ stem: 'C:\\art\\logo', ext: '.jpg' });
  });

  it('reads a leading dot as part of the name, not an extension', () => {
    expect(splitExt('.env')).toEqual({ stem: '.env', ext: '' });
    expect(splitExt('dir/.hidden')).toEqual({ stem: 'dir/.hidden', ext: '' });
    expect(splitExt('a/..')).toEqual({ stem: 'a/..', ext: '' });
    expect(splitExt('..')).toEqual({ stem: '..', ext: '' });
  });

  it('gives the output names and the chroma key’s file names the same stems', () => {
    for (const file of ['assets.v2\\hero', 'art.d/logo', '.env', 'shots/hero.png']) {
      const { stem, ext } = splitExt(file);
      expect(versionedPath(file, 2)).toBe(`${stem}-v2${ext}`);
      expect(downscaledPath(file)).toBe(`${stem}-web${ext}`);
      expect(numbered(file, 2)).toEqual([`${stem}-1${ext}`, `${stem}-2${ext}`]);
      expect(keyedSourcePath(file)).toBe(`${stem}-keyed-source${ext}`);
      expect(cutoutPath(file, 'png')).toBe(`${stem}-cutout.png`);
    }
    expect(versionedPath('assets.v2\\hero', 2)).toBe('assets.v2\\hero-v2');
    expect(cutoutPath('art\\logo.jpg', 'webp')).toBe('art\\logo-cutout.webp');
  });
});

describe('promptSlug', () => {
  it('lower-cases and turns runs of other characters into one dash', () => {
    expect(promptSlug('A Red Fox!!  In   SNOW')).toBe('a-red-fox-in-snow');
    expect(promptSlug('hello_world/and.more')).toBe('hello-world-and-more');
  });

  it('trims dashes at both ends', () => {
    expect(promptSlug('  --Hello, world!--  ')).toBe('hello-world');
  });

  it('keeps digits', () => {
    expect(promptSlug('Icon 64x64 v2')).toBe('icon-64x64-v2');
  });

  it('drops non-ASCII letters as separators', () => {
    expect(promptSlug('Café crème')).toBe('caf-cr-me');
  });

  it('is at most 60 characters, with no trailing dash after the cut', () => {
    expect(promptSlug('a'.repeat(100))).toBe('a'.repeat(60));
    const cutOnDash = promptSlug(`${'b'.repeat(59)} tail`);
    expect(cutOnDash).toBe('b'.repeat(59));
    expect(cutOnDash.length).toBeLessThanOrEqual(60);
  });

  it('considers only the first 80 characters', () => {
    expect(promptSlug(`${'!'.repeat(79)}abc`)).toBe('a');
    expect(promptSlug(`${'!'.repeat(80)}abc`)).toBe('job');
  });

  it.each(['', '   ', '!!!', '日本語'])('is job for %j', (prompt) => {
    expect(promptSlug(prompt)).toBe('job');
  });
});

describe('batchJobFiles', () => {
  it('pads the job number to 3 digits', () => {
    expect(batchJobFiles(1, 'A red fox', 'png', 1)).toEqual(['001-a-red-fox.png']);
    expect(batchJobFiles(42, 'A red fox', 'webp', 1)).toEqual(['042-a-red-fox.webp']);
    expect(batchJobFiles(999, 'x', 'png', 1)).toEqual(['999-x.png']);
  });

  it('goes past 999 without truncating', () => {
    expect(batchJobFiles(1000, 'x', 'png', 1)).toEqual(['1000-x.png']);
  });

  it('uses jpg for jpeg and job for an empty slug', () => {
    expect(batchJobFiles(7, '???', 'jpeg', 1)).toEqual(['007-job.jpg']);
  });

  it('numbers n > 1 variants', () => {
    expect(batchJobFiles(3, 'Blue bird', 'png', 3)).toEqual(['003-blue-bird-1.png', '003-blue-bird-2.png', '003-blue-bird-3.png']);
  });
});

describe('names the file system would refuse, checked before spending', () => {
  it('keeps room in a name for a version mark, and for copies their suffix and mark', () => {
    const name = (bytes: number) => `${'n'.repeat(bytes - 4)}.png`;
    expect(nameLengthProblem('out', `a/${name(249)}`)).toBeUndefined();
    expect(nameLengthProblem('out', `a/${name(250)}`)).toMatch(/^out gives a file name of 250 bytes \("n+…"\); file systems allow 255, and with room for a version mark \(-v9999\) it may be at most 249\. Choose a shorter name\.$/);
    expect(nameLengthProblem('out', name(239), ['-web'])).toBeUndefined();
    expect(nameLengthProblem('out', name(240), ['web'])).toMatch(/240 bytes.*the copies' suffixes \(-web\) it may be at most 239/);
    expect(nameLengthProblem('out', name(230), ['-web', '-keyed-source'])).toBeUndefined();
    expect(nameLengthProblem('out', name(231), ['-web', '-keyed-source'])).toMatch(/at most 230/);
  });

  it('counts bytes, not characters', () => {
    expect(nameLengthProblem('out', `${'é'.repeat(122)}.png`)).toBeUndefined(); // 128 characters, 248 bytes
    expect(nameLengthProblem('out', `${'é'.repeat(123)}.png`)).toMatch(/250 bytes/);
  });

  it('refuses a folder name over 255 bytes', () => {
    expect(nameLengthProblem('out_dir', `${'d'.repeat(256)}/image_1.png`)).toMatch(/^out_dir has a folder name of 256 bytes.*at most 255/);
    expect(nameLengthProblem('out_dir', `${'d'.repeat(255)}/image_1.png`)).toBeUndefined();
  });

  it.each([
    ['a\nb.png', 'a line break (\\n) at position 2'],
    ['a\rb.png', 'a carriage return'],
    ['a\tb.png', 'a tab'],
    ['a\u001bb.png', 'U+001B'],
    ['a\u0085b.png', 'U+0085'],
    ['a\u2028b.png', 'U+2028'],
    ['invoice\u202egnp.exe', 'U+202E'],
    ['a\u2066b.png', 'U+2066'],
  ])('refuses %j, saying what and where', (value, what) => {
    const message = controlCharacterProblem('out', value);
    expect(message).toContain(what);
    expect(message).toMatch(/file names here are plain text\. Remove it and call again\.$/);
    expect(message).not.toMatch(/[\n\r\u2028]/);
  });

  it('accepts plain names, spaces and non-Latin letters', () => {
    for (const value of ['hero.png', 'my art/héros 1.png', '写真.png', 'a-b_c.d.png']) expect(controlCharacterProblem('out', value)).toBeUndefined();
  });

  it('keeps downscale_suffix a name part', () => {
    expect(suffixProblem('downscale_suffix', '-small')).toBeUndefined();
    expect(suffixProblem('downscale_suffix', '/../../x')).toMatch(/^downscale_suffix "\/\.\.\/\.\.\/x" contains a path separator; .* "-web" or "-small"\.$/);
    expect(suffixProblem('downscale_suffix', '..\\x')).toMatch(/path separator/);
    expect(suffixProblem('downscale_suffix', '-web\n')).toMatch(/line break/);
    expect(suffixProblem('downscale_suffix', 'x'.repeat(65))).toMatch(/65 bytes long; at most 64/);
  });

  it('quotes names short and printable', () => {
    expect(quoteName('a\nb')).toBe('"a\uFFFDb"');
    expect(quoteName('x'.repeat(100), 10)).toBe(`"${'x'.repeat(9)}…"`);
  });

  it('planOutputPaths refuses control characters and over-long names with derived copies', () => {
    expect(problem({ out: 'a\nb.png' })).toMatch(/^out "a\uFFFDb\.png" contains a line break/);
    expect(problem({ outDir: 'a\tb' })).toMatch(/^out_dir "a\uFFFDb" contains a tab/);
    expect(problem({ out: `${'n'.repeat(236)}.png`, derived: ['-web'] })).toMatch(/240 bytes/);
    expect(files({ out: `${'n'.repeat(236)}.png` }).files).toHaveLength(1);
  });
});
