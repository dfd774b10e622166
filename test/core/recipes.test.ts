import { describe, expect, it } from 'vitest';
import { EDIT_USE_CASES, USE_CASES, buildPrompt } from '../../src/core/prompt.js';
import { RECIPES, completeUseCase, recipeFor, recipeText } from '../../src/core/recipes.js';

describe('recipes', () => {
  it('cover every use-case slug once, with the tool that makes it', () => {
    expect(RECIPES.map((r) => r.slug)).toEqual([...USE_CASES]);
    for (const recipe of RECIPES) {
      expect(recipe.tool).toBe((EDIT_USE_CASES as readonly string[]).includes(recipe.slug) ? 'edit' : 'generate');
      expect(Object.keys(recipe.focus).length).toBeGreaterThanOrEqual(3);
      expect(recipe.focus).not.toHaveProperty('use_case');
    }
  });

  it('fill the spec exactly as the tools build it', () => {
    const fields = { subject: 'a fox', text: 'Hello', negative: 'blur' };
    const text = recipeText(recipeFor('illustration-story'), 'a fox in the snow', fields);
    expect(text).toContain(buildPrompt('a fox in the snow', { use_case: 'illustration-story', ...fields }));
  });

  it('complete slugs by prefix, then by any part', () => {
    expect(completeUseCase('st')).toEqual(['stylized-concept', 'style-transfer']);
    expect(completeUseCase('edit')).toEqual(['precise-object-edit']);
    expect(completeUseCase('zzz')).toEqual([]);
  });
});
