/**
 * Prompt recipes: for each use-case slug, what it is for, which tool makes it, the spec lines that
 * matter most (with a hint for each) and a practical tip. Data for the MCP prompts; the labelled
 * spec itself is always built by prompt.ts, the same way the tools build it.
 */
import { EDIT_USE_CASES, FIELD_LABELS, buildPrompt, givenFields, type AugmentationField, type AugmentationFields, type UseCase } from './prompt.js';

export interface Recipe {
  slug: UseCase;
  title: string;
  tool: 'generate' | 'edit';
  summary: string;
  /** The fields worth filling for this use case, with what to put there. */
  focus: Partial<Record<AugmentationField, string>>;
  tip: string;
}


const recipe = (r: Omit<Recipe, 'tool'>): Recipe => ({
  ...r,
  tool: (EDIT_USE_CASES as readonly string[]).includes(r.slug) ? 'edit' : 'generate',
});

export const RECIPES: readonly Recipe[] = [
  recipe({
    slug: 'photorealistic-natural',
    title: 'Photorealistic photo',
    summary: 'a believable photograph of a real-world subject or place',
    focus: {
      subject: 'who or what, with the details that make it specific (age, clothing, breed, model)',
      scene: 'where it is and what surrounds it',
      composition: 'camera and framing, e.g. "35 mm, eye level, subject left third"',
      lighting: 'time of day and quality of light, e.g. "overcast noon, soft shadows"',
      negative: 'what would give it away as synthetic, e.g. "waxy skin, warped hands, stray text"',
    },
    tip: 'Draft at quality low, then make the keeper at high; 1536x1024 suits most scenes.',
  }),
  recipe({
    slug: 'product-mockup',
    title: 'Product shot or mock-up',
    summary: 'a product shown as it would appear in a catalogue, store page or packaging shot',
    focus: {
      subject: 'the product, with its exact colour, finish and proportions',
      materials: 'surfaces worth seeing, e.g. "brushed aluminium, matte ceramic glaze"',
      scene: 'the surface and backdrop it stands on',
      lighting: 'studio set-up, e.g. "large softbox from the left, gentle reflection"',
      composition: 'angle and room left for copy',
      constraints: 'what must not change, e.g. the logo, the label layout',
    },
    tip: 'For a cut-out on a transparent background, set background "transparent" (png or webp output).',
  }),
  recipe({
    slug: 'ui-mockup',
    title: 'Interface mock-up',
    summary: 'a screen of an app, dashboard or website',
    focus: {
      asset_type: 'platform and device, e.g. "iOS app screen" or "desktop web dashboard"',
      subject: 'what the screen is for and the parts on it',
      text: 'the exact labels and headings, few and short',
      style: 'the design language, e.g. "flat, rounded cards, generous whitespace"',
      palette: 'brand or theme colours',
    },
    tip: '1536x1024 for desktop, 1024x1536 for phones. Check every label in the result: models still misspell.',
  }),
  recipe({
    slug: 'infographic-diagram',
    title: 'Infographic or diagram',
    summary: 'a chart, flow, map or labelled explainer',
    focus: {
      subject: 'what it explains and its parts, in order',
      text: 'every label, verbatim',
      composition: 'the layout, e.g. "four steps left to right with arrows"',
      style: 'e.g. "flat vector, thin outlines"',
      constraints: 'counts and facts that must be exact',
    },
    tip: 'Fewer, shorter labels come out right more often; put long explanations in the surrounding document.',
  }),
  recipe({
    slug: 'scientific-educational',
    title: 'Scientific or teaching illustration',
    summary: 'an accurate picture for teaching: anatomy, cells, geology, experiments',
    focus: {
      subject: 'the thing shown and the facts that must be right',
      style: 'e.g. "textbook cross-section, clean line art"',
      text: 'labels, verbatim',
      constraints: 'accuracy points to keep, e.g. "four chambers, valves labelled"',
      negative: 'common mistakes to avoid',
    },
    tip: 'Review the result against a trusted source before teaching with it.',
  }),
  recipe({
    slug: 'ads-marketing',
    title: 'Ad or marketing visual',
    summary: 'a campaign image: hero banner, social post, poster',
    focus: {
      asset_type: 'the placement, e.g. "landing page hero" or "square social post"',
      subject: 'the product or idea in the spotlight',
      text: 'the headline, verbatim',
      palette: 'brand colours',
      composition: 'where the copy goes and how much room it needs',
      lighting: 'the mood, e.g. "bright morning, optimistic"',
    },
    tip: 'Choose the size of the placement: 1536x1024 or 2048x1152 for banners, 1024x1024 for square posts.',
  }),
  recipe({
    slug: 'productivity-visual',
    title: 'Slide or document visual',
    summary: 'a cover, section header or concept image for a deck or document',
    focus: {
      asset_type: 'e.g. "slide cover", "report section header"',
      subject: 'the idea to convey',
      style: 'e.g. "clean isometric", "soft 3D", "corporate photo"',
      palette: 'the deck\'s colours',
      composition: 'space kept free for a title',
      negative: 'clutter and stray text',
    },
    tip: 'Leave text to the slide itself; ask for empty space where the title goes.',
  }),
  recipe({
    slug: 'logo-brand',
    title: 'Logo or brand mark',
    summary: 'a logo, wordmark, icon or brand mark',
    focus: {
      subject: 'the name and what it should suggest',
      text: 'the exact name, verbatim',
      style: 'e.g. "flat geometric vector, monoline"',
      palette: 'two or three colours',
      constraints: 'e.g. "reads at 32 px, no gradients"',
      negative: 'e.g. "mock-up scenes, drop shadows"',
    },
    tip: 'Square 1024x1024; background "transparent" gives a cut-out (png or webp). Redraw the chosen mark as vector for production.',
  }),
  recipe({
    slug: 'illustration-story',
    title: 'Story illustration',
    summary: 'a narrative picture: picture-book page, editorial art, story scene',
    focus: {
      subject: 'the characters and what they are doing',
      scene: 'where and when',
      style: 'the medium, e.g. "gouache with visible brush strokes"',
      composition: 'the moment and the viewpoint',
      lighting: 'the mood',
      palette: 'the colour story',
    },
    tip: 'Keep a character consistent across pages by reusing the same subject text, or edit from a first page.',
  }),
  recipe({
    slug: 'stylized-concept',
    title: 'Concept art',
    summary: 'concept art or a stylised look: game art, key art, mood pieces',
    focus: {
      subject: 'the character, creature, vehicle or place',
      style: 'the art direction in words (not artist names)',
      scene: 'the setting',
      lighting: 'the drama of the light',
      palette: 'the colour key',
      materials: 'surfaces that sell the design',
    },
    tip: 'Use n 3-4 at quality low to explore, then refine the best one.',
  }),
  recipe({
    slug: 'historical-scene',
    title: 'Historical scene',
    summary: 'a scene set in a specific period, true to its clothing, tools and buildings',
    focus: {
      subject: 'the people and what they do',
      scene: 'the place and the year',
      materials: 'period fabrics, tools and building materials',
      style: 'e.g. "period photograph" or "oil painting of the time"',
      constraints: 'facts of the period to respect',
      negative: 'anachronisms, e.g. "zips, plastic, modern signage"',
    },
    tip: 'Name the year, not just the century: details follow it.',
  }),
  recipe({
    slug: 'text-localization',
    title: 'Translate the text in an image',
    summary: 'the text in an image replaced by a translation, layout and typography kept',
    focus: {
      input_images: 'e.g. "Image 1: the original"',
      text: 'the new text for each element, verbatim',
      constraints: 'e.g. "same font style, size, colour and position; change nothing else"',
    },
    tip: 'Translations run longer: allow the layout to breathe, and check every word in the result.',
  }),
  recipe({
    slug: 'identity-preserve',
    title: 'Edit a person, keep who they are',
    summary: 'a person or character changed (outfit, setting, pose) and still recognisable',
    focus: {
      input_images: 'e.g. "Image 1: the person"',
      subject: 'what changes',
      constraints: 'what must stay: face, features, hair, build',
      scene: 'the new setting, if any',
      lighting: 'light that matches the new setting',
    },
    tip: 'Change one thing per edit; chain edits from the last good result.',
  }),
  recipe({
    slug: 'precise-object-edit',
    title: 'Change one object',
    summary: 'one object added, changed or removed, everything else untouched',
    focus: {
      input_images: 'e.g. "Image 1: the photo to edit"',
      subject: 'the object and the change',
      constraints: 'e.g. "everything else unchanged; match perspective and light"',
    },
    tip: 'A mask (PNG with alpha, transparent where to edit) keeps the change where you want it.',
  }),
  recipe({
    slug: 'lighting-weather',
    title: 'Relight or change the weather',
    summary: 'the same scene at another time of day, light or weather',
    focus: {
      input_images: 'e.g. "Image 1: the scene"',
      lighting: 'the target light, e.g. "golden hour from the right"',
      scene: 'the weather, e.g. "light rain, wet pavement"',
      constraints: 'e.g. "keep composition, buildings and people as they are"',
    },
    tip: 'Describe the light\'s direction and colour; shadows follow.',
  }),
  recipe({
    slug: 'background-extraction',
    title: 'Cut out the subject',
    summary: 'the subject kept and its background removed or made plain',
    focus: {
      input_images: 'e.g. "Image 1: the photo"',
      subject: 'what to keep',
      constraints: 'e.g. "clean edges, keep hair detail, no halo"',
    },
    tip: 'Set background "transparent" with png or webp output; without a model it goes to a model that makes the alpha itself.',
  }),
  recipe({
    slug: 'style-transfer',
    title: 'Restyle an image',
    summary: 'an image rendered in another style, its content kept',
    focus: {
      input_images: 'e.g. "Image 1: the content; Image 2: the style reference"',
      style: 'the target style in words',
      constraints: 'e.g. "keep the composition and the subject\'s pose"',
    },
    tip: 'A style reference image says more than adjectives.',
  }),
  recipe({
    slug: 'compositing',
    title: 'Combine images',
    summary: 'elements of several images combined into one coherent scene',
    focus: {
      input_images: 'the role of each image, e.g. "Image 1: background; Image 2: the product"',
      composition: 'where each element goes and how large',
      lighting: 'one light for all, e.g. "unify to warm light from the left, matching shadows"',
      constraints: 'what each element must keep',
    },
    tip: 'The order of images matters: the prompt refers to Image 1, Image 2 ... in that order.',
  }),
  recipe({
    slug: 'sketch-to-render',
    title: 'Sketch to finished render',
    summary: 'a sketch, wireframe or line drawing turned into a finished image',
    focus: {
      input_images: 'e.g. "Image 1: the sketch"',
      style: 'the finish, e.g. "photoreal product render" or "painted illustration"',
      materials: 'what each part is made of',
      lighting: 'the light of the render',
      constraints: 'e.g. "follow the sketch\'s proportions and layout exactly"',
    },
    tip: 'Clean, high-contrast sketches are followed most faithfully.',
  }),
];

export function recipeFor(slug: string): Recipe | undefined {
  return RECIPES.find((r) => r.slug === slug);
}

/** Use-case slugs that start with (else contain) what was typed, for argument completion. */
export function completeUseCase(typed: string): string[] {
  const value = typed.trim().toLowerCase();
  const starts = RECIPES.filter((r) => r.slug.startsWith(value)).map((r) => r.slug);
  if (starts.length > 0) return starts;
  return RECIPES.filter((r) => r.slug.includes(value)).map((r) => r.slug);
}

const PROMPT_PLACEHOLDER = '<what to make, in a sentence>';

/**
 * The text of a recipe prompt: what to do, the labelled spec with the caller's arguments filled
 * in (built by buildPrompt, exactly as the tool will build it), the lines still open with a hint
 * each, and how to call the tool.
 */
export function recipeText(recipe: Recipe | undefined, prompt: string | undefined, fields: AugmentationFields): string {
  const given = givenFields({ ...fields, ...(recipe ? { use_case: recipe.slug } : {}) });
  const request = prompt?.trim() || PROMPT_PLACEHOLDER;
  const tool = recipe?.tool ?? 'generate';
  const lines: string[] = [];
  lines.push(
    recipe
      ? `Make ${recipe.summary} with the ${tool} tool of the imagegen server (use case ${recipe.slug}).`
      : 'Make an image with the generate tool of the imagegen server (or edit, to change existing images).',
  );
  lines.push('', 'Spec so far (the tool builds exactly these lines from its arguments):', buildPrompt(request, given));

  const focus = recipe?.focus ?? {};
  const open = (Object.keys(focus) as AugmentationField[]).filter((f) => !given[f]);
  if (open.length > 0) {
    lines.push('', 'Still open: fill the lines that matter and leave the rest out (nothing is invented for you):');
    for (const field of open) lines.push(`- ${FIELD_LABELS[field]} (${field}): ${focus[field]}`);
  }
  if (!recipe) {
    lines.push('', 'Pick a use case (use_case argument) that fits:');
    for (const r of RECIPES) lines.push(`- ${r.slug}: ${r.summary} (${r.tool})`);
  }

  const args = ['prompt', ...(recipe ? [`use_case "${recipe.slug}"`] : ['use_case']), 'and each filled line as its own argument (subject, style, text ...)'];
  lines.push('', `Call ${tool} with ${args.join(', ')}, not pasted into prompt: the server builds the labelled spec from them.`);
  if (tool === 'edit') lines.push('Pass the input images as images, in the order the spec names them (Image 1, Image 2 ...).');
  if (recipe) lines.push(`Tip: ${recipe.tip}`);
  lines.push("Then look at the result's preview, and report the saved paths, the final prompt and the model used.");
  return lines.join('\n');
}
