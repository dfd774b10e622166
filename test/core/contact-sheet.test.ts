import { describe, expect, it } from 'vitest';
import { LARGE_IMAGE_PIXELS, SHEET_MAX_TILES, numberBadge, sheetLayout, thumbnailsAhead } from '../../src/core/contact-sheet.js';

describe('sheetLayout', () => {
  it('fits every grid in 1024x1024 with no overlapping tiles', () => {
    for (const count of [2, 3, 4, 5, 9, 10, 16, 30, 48, 200]) {
      for (const aspect of [1 / 3, 9 / 16, 1, 1.5, 3, 10]) {
        const layout = sheetLayout(count, aspect);
        const where = `${count} at ${aspect.toFixed(2)}`;
        expect(layout.width, where).toBeLessThanOrEqual(1024);
        expect(layout.height, where).toBeLessThanOrEqual(1024);
        expect(layout.cells).toHaveLength(Math.min(count, SHEET_MAX_TILES));
        for (const cell of layout.cells) {
          expect(cell.left + layout.tileWidth, where).toBeLessThanOrEqual(layout.width);
          expect(cell.top + layout.tileHeight, where).toBeLessThanOrEqual(layout.height);
        }
        const boxes = new Set(layout.cells.map((c) => `${c.left},${c.top}`));
        expect(boxes.size).toBe(layout.cells.length);
      }
    }
  });

  it('puts up to three in a row and shapes tiles like the images', () => {
    expect(sheetLayout(3, 1)).toMatchObject({ columns: 3, rows: 1 });
    expect(sheetLayout(4, 1)).toMatchObject({ columns: 2, rows: 2 });
    const wide = sheetLayout(2, 2160 / 3824);
    expect(wide.tileWidth / wide.tileHeight).toBeCloseTo(3824 / 2160, 1);
  });

  it('shows the first tiles of a large batch and says how many there were', () => {
    expect(sheetLayout(120, 1)).toMatchObject({ shown: SHEET_MAX_TILES, total: 120 });
  });
});

describe('numberBadge', () => {
  it('draws the digits in white on a dark box', () => {
    const badge = numberBadge('17', 1);
    // 2 px padding, two 5-px glyphs 1 px apart, 7 px tall.
    expect(badge.width).toBe(2 + 5 + 1 + 5 + 2);
    expect(badge.height).toBe(2 + 7 + 2);
    const pixel = (x: number, y: number) => [...badge.data.subarray((y * badge.width + x) * 4, (y * badge.width + x) * 4 + 4)];
    expect(pixel(0, 0)).toEqual([0, 0, 0, 210]);
    expect(pixel(2 + 2, 2)).toEqual([255, 255, 255, 255]); // top of the "1"
    expect(pixel(2 + 6, 2)).toEqual([255, 255, 255, 255]); // top bar of the "7"
    expect(pixel(2 + 6, 2 + 6)).toEqual([0, 0, 0, 210]); // below the bar, left of the stem
  });

  it('scales', () => {
    expect(numberBadge('3', 3)).toMatchObject({ width: 3 * (4 + 5), height: 3 * (4 + 7) });
  });
});

describe('thumbnailsAhead', () => {
  const square = { width: 1024, height: 1024 };

  it('plans the first 48 images of a long batch, at the tile size of its sheet', () => {
    const plan = thumbnailsAhead(Array(500).fill(1), square)!;
    const layout = sheetLayout(500, 1);
    expect({ tileWidth: plan.tileWidth, tileHeight: plan.tileHeight }).toEqual({ tileWidth: layout.tileWidth, tileHeight: layout.tileHeight });
    expect(plan.shownPerJob.slice(0, SHEET_MAX_TILES)).toEqual(Array(SHEET_MAX_TILES).fill(1));
    expect(plan.shownPerJob.slice(SHEET_MAX_TILES)).toEqual(Array(500 - SHEET_MAX_TILES).fill(0));
  });

  it('counts every image of a job, and cuts the job that crosses the last tile', () => {
    const plan = thumbnailsAhead([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2], square)!;
    expect(plan.shownPerJob).toEqual([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0]);
    const odd = thumbnailsAhead([47, 3], square)!;
    expect(odd.shownPerJob).toEqual([47, 1]);
    expect(thumbnailsAhead([1, 0, 2], square)!.shownPerJob).toEqual([1, 0, 2]);
  });

  it('takes the shape of the first job for the tiles', () => {
    const wide = thumbnailsAhead([1, 1, 1, 1], { width: 1536, height: 1024 })!;
    const layout = sheetLayout(4, 1024 / 1536);
    expect([wide.tileWidth, wide.tileHeight]).toEqual([layout.tileWidth, layout.tileHeight]);
  });

  it('plans nothing for one image, an auto size, or images over 4 MP', () => {
    expect(thumbnailsAhead([1], square)).toBeUndefined();
    expect(thumbnailsAhead([0, 1], square)).toBeUndefined();
    expect(thumbnailsAhead([1, 1], undefined)).toBeUndefined();
    expect(thumbnailsAhead([1, 1], { width: 3824, height: 2160 })).toBeUndefined();
    expect(thumbnailsAhead([1, 1], { width: 2000, height: 2000 })).toBeDefined(); // exactly 4 MP
    expect(2000 * 2000).toBe(LARGE_IMAGE_PIXELS);
    expect(thumbnailsAhead([1, 1], { width: 2000, height: 2008 })).toBeUndefined();
  });
});
