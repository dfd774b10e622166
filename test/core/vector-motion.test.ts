import { describe, expect, it } from 'vitest';
import { formatProblems, type Problem } from '../../src/core/problems.js';
import { apiParameters, resolveRequest, type RawRequest, type ResolveContext, type ResolvedRequest } from '../../src/core/request.js';

const ctx: ResolveContext = { tool: 'generate', now: new Date('2026-12-02T12:00:00Z') };
const editCtx: ResolveContext = { ...ctx, tool: 'edit' };

function ok(raw: RawRequest, c = ctx): { value: ResolvedRequest; warnings: string[] } {
  const out = resolveRequest({ prompt: 'an icon', ...raw }, c);
  if (!out.ok) throw new Error(formatProblems(out.problems));
  return { value: out.value, warnings: out.warnings };
}
function refused(raw: RawRequest, field: string, c = ctx): string {
  const out = resolveRequest({ prompt: 'an icon', ...raw }, c);
  if (out.ok) throw new Error(`expected a refusal, got ${JSON.stringify(out.value.options)}`);
  const found = out.problems.find((p: Problem) => p.field === field);
  if (!found) throw new Error(`no problem for ${field}: ${JSON.stringify(out.problems)}`);
  return found.message;
}

describe('svg output', () => {
  it('is sent on gpt-image-2.6 with no svg object unless svg_model or svg_effort is given', () => {
    const plain = ok({ model: 'gpt-image-2.6-flare', output_format: 'svg' }).value.options;
    expect(apiParameters(plain)).toEqual({ model: 'gpt-image-2.6-flare', n: 1, size: 'auto', quality: 'medium', output_format: 'svg' });
    const chosen = ok({ model: 'gpt-image-2.6-sunburst', output_format: 'svg', svg_model: 'gpt-5.2-codex', svg_effort: 'High' }).value.options;
    expect(apiParameters(chosen).svg).toEqual({ model: 'gpt-5.2-codex', reasoning: { effort: 'high' } });
    expect(apiParameters(ok({ model: 'gpt-image-2.6-flare', output_format: 'svg', svg_effort: 'low' }).value.options).svg).toEqual({ reasoning: { effort: 'low' } });
  });

  it('is refused on other models, naming gpt-image-2.6-sunburst and -flare', () => {
    for (const model of ['gpt-image-2', 'gpt-image-2.5-sunburst', undefined]) {
      const message = refused({ model, output_format: 'svg' }, 'output_format');
      expect(message).toContain('gpt-image-2.6-sunburst');
      expect(message).toContain('gpt-image-2.6-flare');
    }
  });

  it('refuses n > 1, output_compression and chroma_key, each with its fix', () => {
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'svg', n: 3 }, 'n')).toMatch(/n = 1.*drop n/);
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'svg', output_compression: 80 }, 'output_compression')).toContain('leave it out');
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'svg', background: 'transparent', transparency: 'chroma_key' }, 'transparency')).toContain('Drop transparency');
  });

  it('refuses svg_model, svg_effort, frame_count and frame_duration_ms with the wrong format', () => {
    expect(refused({ model: 'gpt-image-2.6-flare', svg_model: 'x' }, 'svg_model')).toContain('set output_format to svg');
    expect(refused({ model: 'gpt-image-2.6-flare', svg_effort: 'low' }, 'svg_effort')).toContain('drop svg_effort');
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'svg', frame_count: 4 }, 'frame_count')).toContain('set output_format to gif');
    expect(refused({ model: 'gpt-image-2.6-flare', frame_duration_ms: 40 }, 'frame_duration_ms')).toContain('drop frame_duration_ms');
  });
});

describe('gif output', () => {
  it('sends frame_count (default 9) and frame_duration_ms (rounded to 10 ms)', () => {
    const plain = ok({ model: 'gpt-image-2.6-flare', output_format: 'gif' }).value.options;
    expect(apiParameters(plain)).toMatchObject({ output_format: 'gif', frame_count: 9, frame_duration_ms: 200 });
    const { value, warnings } = ok({ model: 'gpt-image-2.6-flare', output_format: 'gif', size: '720x720', frame_count: 16, frame_duration_ms: 84 });
    expect(apiParameters(value.options)).toMatchObject({ size: '720x720', frame_count: 16, frame_duration_ms: 80 });
    expect(warnings.join(' ')).toContain('sent as 80');
  });

  it('refuses a size over the measured frame limit, a mask and output_compression, each with its fix', () => {
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'gif', size: '960x960', frame_count: 16 }, 'size')).toContain('Use size 720x720');
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'gif', mask: 'mask.png' }, 'mask', editCtx)).toContain('leave out mask');
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'gif', output_compression: 50 }, 'output_compression')).toContain('leave it out');
    expect(refused({ model: 'gpt-image-2.6-flare', output_format: 'gif', frame_count: 1 }, 'frame_count')).toContain('2 to 16');
    expect(refused({ model: 'gpt-image-2.5-flare', output_format: 'gif' }, 'output_format')).toContain('gpt-image-2.6-flare');
  });

  it('warns that GIF alpha is 1-bit, and routes a transparent gif to gpt-image-2.6', () => {
    const { value, warnings } = ok({ output_format: 'gif', background: 'transparent' });
    expect(value.options.model).toBe('gpt-image-2.6-sunburst');
    expect(warnings.join(' ')).toContain('1-bit');
  });
});
