import { describe, expect, it } from 'vitest';
import {
  ASSUMED_USD_PER_IMAGE,
  FIXED_OUTPUT_TOKENS,
  PRICES,
  PRICES_CHECKED,
  checkSpendingCap,
  costFromUsage,
  estimateCost,
  formatUsd,
  parseCostCap,
  projectSpend,
  spendingCap,
} from '../../src/core/cost.js';

describe('the price table', () => {
  it('is data with the date it was read', () => {
    expect(PRICES_CHECKED).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(PRICES['gpt-image-2']).toEqual({ textInput: 5, imageInput: 8, imageOutput: 30 });
    expect(PRICES['gpt-image-1-mini']).toEqual({ textInput: 2, imageInput: 2.5, imageOutput: 8 });
    expect(FIXED_OUTPUT_TOKENS.high!['1536x1024']).toBe(6208);
  });
});

describe('estimateCost', () => {
  it('is the published output tokens × n × image-out price plus the prompt tokens × text-in price', () => {
    for (const [model, price] of [
      ['gpt-image-1.5', PRICES['gpt-image-1.5']!],
      ['gpt-image-1-mini', PRICES['gpt-image-1-mini']!],
      ['gpt-image-1', PRICES['gpt-image-1']!],
    ] as const) {
      for (const [quality, sizes] of Object.entries(FIXED_OUTPUT_TOKENS)) {
        for (const [size, tokens] of Object.entries(sizes)) {
          const prompt = 'x'.repeat(41); // 11 tokens at four characters each, rounded up
          const estimate = estimateCost({ model, size, quality, n: 3, prompt });
          expect(estimate.usd, `${model} ${quality} ${size}`).toBeCloseTo((tokens * 3 * price.imageOutput + 11 * price.textInput) / 1e6, 9);
        }
      }
    }
  });

  it('prices a dated snapshot as its base model', () => {
    const estimate = estimateCost({ model: 'gpt-image-1.5-2026-01-01', size: '1024x1024', quality: 'low', n: 1, prompt: '' });
    expect(estimate.usd).toBeCloseTo((272 * 32) / 1e6, 9);
  });

  it('gives no figure, with the reason, where none is published', () => {
    const flexible = estimateCost({ model: 'gpt-image-2', size: '1024x1024', quality: 'high', n: 1, prompt: 'x' });
    expect(flexible.usd).toBeUndefined();
    expect(flexible.usd === undefined && flexible.reason).toMatch(/gpt-image-2 has no published token count for its flexible sizes/);
    const auto = estimateCost({ model: 'gpt-image-1.5', size: 'auto', quality: 'medium', n: 1, prompt: 'x' });
    expect(auto.usd === undefined && auto.reason).toMatch(/auto/);
    for (const model of ['gpt-image-2.5-flare', 'gpt-image-2.6-sunburst-2026-11-04']) {
      const priced = estimateCost({ model, size: '1024x1024', quality: 'max', n: 1, prompt: 'x' });
      expect(priced.usd === undefined && priced.reason).toMatch(/has no published token count for its flexible sizes/);
    }
    const unpriced = estimateCost({ model: 'gpt-image-9', size: '1024x1024', quality: 'high', n: 1, prompt: 'x' });
    expect(unpriced.usd === undefined && unpriced.reason).toMatch(/no published price for gpt-image-9/);
  });

  it('prices gpt-image-2.5 and 2.6 (sunburst and flare) at gpt-image-2 rates, 5 / 8 / 30 per 1M tokens, from usage', () => {
    const usage = { input_tokens: 300, input_tokens_details: { text_tokens: 100, image_tokens: 200 }, output_tokens: 1353 };
    for (const model of ['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare', 'gpt-image-2.6-sunburst', 'gpt-image-2.6-flare', 'gpt-image-2.5-flare-2026-09-08']) {
      expect(PRICES[model.replace(/-2026-09-08$/, '')]).toEqual({ textInput: 5, imageInput: 8, imageOutput: 30 });
      const cost = costFromUsage(model, usage);
      expect(cost.usd, model).toBeCloseTo((100 * 5 + 200 * 8 + 1353 * 30) / 1e6, 9);
    }
  });

  it('says input images are left out of an edit estimate', () => {
    const estimate = estimateCost({ model: 'gpt-image-1.5', size: '1024x1024', quality: 'low', n: 1, prompt: 'x', inputImages: 2 });
    expect(estimate.usd !== undefined && estimate.note).toMatch(/input images are not included/);
  });
});

describe('costFromUsage', () => {
  it('prices text-in, image-in and image-out tokens', () => {
    const cost = costFromUsage('gpt-image-1', {
      input_tokens: 150,
      input_tokens_details: { text_tokens: 50, image_tokens: 100 },
      output_tokens: 4160,
    });
    expect(cost.usd).toBeCloseTo((50 * 5 + 100 * 10 + 4160 * 40) / 1e6, 9);
    expect(cost.usd !== undefined && cost.basis).toBe('from usage: 50 text-in, 100 image-in, 4,160 image-out tokens');
  });

  it('counts input tokens as text when no details are given', () => {
    expect(costFromUsage('gpt-image-2', { input_tokens: 20, output_tokens: 1000 }).usd).toBeCloseTo((20 * 5 + 1000 * 30) / 1e6, 9);
  });

  it('has no figure without usage or without a price', () => {
    expect(costFromUsage('gpt-image-2', undefined).usd).toBeUndefined();
    expect(costFromUsage('gpt-image-9', { output_tokens: 1 }).usd).toBeUndefined();
  });
});

describe('the spending guard', () => {
  const known = estimateCost({ model: 'gpt-image-1.5', size: '1024x1024', quality: 'high', n: 2, prompt: '' });
  const unknown = estimateCost({ model: 'gpt-image-2', size: '1024x1024', quality: 'high', n: 3, prompt: '' });

  it('projects a batch from estimates, and from the assumed per-image figure where there is none', () => {
    const projection = projectSpend([
      { estimate: known, images: 2 },
      { estimate: unknown, images: 3 },
    ]);
    expect(projection.usd).toBeCloseTo((2 * 4160 * 32) / 1e6 + 3 * ASSUMED_USD_PER_IMAGE, 9);
    expect(projection.assumedImages).toBe(3);
    expect(projection.basis).toMatch(/1 request from published figures \+ 3 images × \$0\.50 assumed per image/);
  });

  it('refuses above the cap with the estimate and how to proceed, and passes at or under it', () => {
    const projection = projectSpend([{ estimate: known, images: 2 }]);
    const refusal = checkSpendingCap(projection, spendingCap({ usd: 0.2 }, undefined));
    expect(refusal).toMatch(/This call would cost about \$0\.2662 \(2 × 4,160 output tokens at \$32\/1M.*over the spending cap of \$0\.20 set by IMAGEGEN_MAX_COST_USD/);
    expect(refusal).toMatch(/max_cost_usd: 0\.27/);
    expect(checkSpendingCap(projection, spendingCap({ usd: 0.2 }, 0.27))).toBeUndefined();
    expect(checkSpendingCap(projection, spendingCap({ usd: projection.usd }, undefined))).toBeUndefined();
    expect(checkSpendingCap(projection, spendingCap({}, undefined))).toBeUndefined();
    expect(checkSpendingCap(projection, spendingCap({}, 0.1), 'This batch')).toMatch(/^This batch would cost.*set by max_cost_usd/);
  });

  it('reads IMAGEGEN_MAX_COST_USD, and an invalid value refuses until fixed or overridden', () => {
    expect(parseCostCap(undefined)).toEqual({});
    expect(parseCostCap(' ')).toEqual({});
    expect(parseCostCap('2.5')).toEqual({ usd: 2.5 });
    expect(parseCostCap('$1')).toEqual({ usd: 1 });
    expect(parseCostCap('-1')).toEqual({ invalid: '-1' });
    const projection = projectSpend([{ estimate: known, images: 2 }]);
    expect(checkSpendingCap(projection, spendingCap(parseCostCap('lots'), undefined))).toMatch(/IMAGEGEN_MAX_COST_USD is "lots"/);
    expect(checkSpendingCap(projection, spendingCap(parseCostCap('lots'), 1))).toBeUndefined();
  });

  it('formats amounts readably', () => {
    expect([0.5, 0.05, 0.1331, 0.0087, 12.4].map(formatUsd)).toEqual(['$0.50', '$0.05', '$0.1331', '$0.0087', '$12.40']);
  });
});
