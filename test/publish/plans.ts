/** The two-slot plan the publish tests on the dev server share: a hero and a side view with its own alt text. */
import type { PlanInput } from '../../src/shared/plan';

export const TWO_SLOT_PLAN: PlanInput = {
  version: 1,
  slots: [
    { name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}} on white.', imageSize: 'square_hd' },
    { name: 'side', kind: 'generate', promptTemplate: 'Side view of {{brand}} {{name}}.', imageSize: 'square_hd', altTemplate: '{{name}} seen from the side' },
  ],
};
