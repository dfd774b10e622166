/**
 * Prompt augmentation: the user's prompt plus optional structured fields become one labelled
 * spec, a line per field given, in a fixed order. Nothing is invented: no field, no line.
 */

export const GENERATE_USE_CASES = [
  'photorealistic-natural',
  'product-mockup',
  'ui-mockup',
  'infographic-diagram',
  'scientific-educational',
  'ads-marketing',
  'productivity-visual',
  'logo-brand',
  'illustration-story',
  'stylized-concept',
  'historical-scene',
] as const;

export const EDIT_USE_CASES = [
  'text-localization',
  'identity-preserve',
  'precise-object-edit',
  'lighting-weather',
  'background-extraction',
  'style-transfer',
  'compositing',
  'sketch-to-render',
] as const;

export const USE_CASES = [...GENERATE_USE_CASES, ...EDIT_USE_CASES] as const;
export type UseCase = (typeof USE_CASES)[number];

/** Field names as tools take them, in the order their lines appear (the prompt sits third). */
export const AUGMENTATION_FIELDS = [
  'use_case',
  'asset_type',
  'input_images',
  'scene',
  'subject',
  'style',
  'composition',
  'lighting',
  'palette',
  'materials',
  'text',
  'constraints',
  'negative',
] as const;
export type AugmentationField = (typeof AUGMENTATION_FIELDS)[number];
export type AugmentationFields = Partial<Record<AugmentationField, string>>;

const LABELS: Record<AugmentationField | 'prompt', string> = {
  use_case: 'Use case',
  asset_type: 'Asset type',
  prompt: 'Primary request',
  input_images: 'Input images',
  scene: 'Scene/backdrop',
  subject: 'Subject',
  style: 'Style/medium',
  composition: 'Composition/framing',
  lighting: 'Lighting/mood',
  palette: 'Color palette',
  materials: 'Materials/textures',
  text: 'Text (verbatim)',
  constraints: 'Constraints',
  negative: 'Avoid',
};

/** The label of each line of the spec, for anything that shows the spec's shape. */
export const FIELD_LABELS: Readonly<Record<AugmentationField | 'prompt', string>> = LABELS;

/** The order of the spec's lines: the fields' order, with the user's prompt third. */
const LINE_ORDER: readonly (AugmentationField | 'prompt')[] = [
  ...AUGMENTATION_FIELDS.slice(0, 2),
  'prompt',
  ...AUGMENTATION_FIELDS.slice(2),
];

export const MAX_PROMPT_CHARS = 32_000;

export function isUseCase(value: string): value is UseCase {
  return (USE_CASES as readonly string[]).includes(value);
}

/** The fields that carry text, trimmed; empty strings count as not given. */
export function givenFields(fields: AugmentationFields): AugmentationFields {
  const given: AugmentationFields = {};
  for (const key of AUGMENTATION_FIELDS) {
    const value = fields[key]?.trim();
    if (value) given[key] = value;
  }
  return given;
}

/** Verbatim text goes in double quotes, unless the caller already quoted it (a list of strings). */
function quoteText(text: string): string {
  return text.includes('"') ? text : `"${text}"`;
}

export function buildPrompt(prompt: string, fields: AugmentationFields): string {
  const given = givenFields(fields);
  if (Object.keys(given).length === 0) return prompt;
  const lines: string[] = [];
  for (const key of LINE_ORDER) {
    const value = key === 'prompt' ? prompt.trim() : key === 'text' && given.text ? quoteText(given.text) : given[key];
    if (value) lines.push(`${LABELS[key]}: ${value}`);
  }
  return lines.join('\n');
}
