/**
 * Workflow ids and task queue names, built in one place, each with its parser. Always business ids:
 * a product workflow's id is derived from catalog and SKU, so two triggers for one SKU meet the same
 * workflow instead of running two plans.
 *
 * SKUs are free text from a PIM, so they are percent-encoded into ids: `/`, `:` and spaces cannot be
 * confused with the separators, and the id decodes back to the exact SKU.
 */
const enc = (s: string) => encodeURIComponent(s);
const dec = (s: string) => decodeURIComponent(s);

export function productWorkflowId(catalogId: string, sku: string): string {
  return `product:${enc(catalogId)}:${enc(sku)}`;
}

export function parseProductWorkflowId(id: string): { catalogId: string; sku: string } | undefined {
  const m = /^product:([^:]+):([^:]+)$/.exec(id);
  if (!m?.[1] || !m[2]) return undefined;
  return { catalogId: dec(m[1]), sku: dec(m[2]) };
}

export function refreshWorkflowId(catalogId: string, runKey: string): string {
  return `refresh:${enc(catalogId)}:${enc(runKey)}`;
}

export function parseRefreshWorkflowId(id: string): { catalogId: string; runKey: string } | undefined {
  const m = /^refresh:([^:]+):([^:]+)$/.exec(id);
  if (!m?.[1] || !m[2]) return undefined;
  return { catalogId: dec(m[1]), runKey: dec(m[2]) };
}

export function scheduleId(catalogId: string): string {
  return `nightly:${enc(catalogId)}`;
}

export function parseScheduleId(id: string): { catalogId: string } | undefined {
  const m = /^nightly:([^:]+)$/.exec(id);
  return m?.[1] ? { catalogId: dec(m[1]) } : undefined;
}

/**
 * Task queues by resource: workflows, provider calls (rate-limited for the provider's account-wide
 * limits) and CPU-bound image work (sized to cores) each have their own, so each can be tuned alone.
 */
export type TaskQueueRole = 'workflows' | 'provider' | 'imaging' | 'publish';
/** `publish`: calls to the catalog's destinations (PIM, shop, outbound events), sized for their rate limits. */
export const TASK_QUEUE_ROLES: readonly TaskQueueRole[] = ['workflows', 'provider', 'imaging', 'publish'];

export function taskQueueName(prefix: string, role: TaskQueueRole): string {
  return `${prefix}.${role}`;
}

export function parseTaskQueueName(name: string): { prefix: string; role: TaskQueueRole } | undefined {
  const i = name.lastIndexOf('.');
  const role = name.slice(i + 1) as TaskQueueRole;
  if (i <= 0 || !TASK_QUEUE_ROLES.includes(role)) return undefined;
  return { prefix: name.slice(0, i), role };
}

/**
 * The idempotency key of one paid step: stable across retries, worker crashes and duplicate triggers
 * of the same product workflow execution, different for a new generation of the slot.
 * `generation` is the fingerprint of everything that determines the output, so a re-run with
 * unchanged inputs after a crash reuses the key (and the provider answers with the same job).
 */
export function stepIdempotencyKey(
  input: { catalogId: string; sku: string; slot: string; fingerprint: string; attempt: number },
  digest?: (text: string) => string,
): string {
  const key = `ca1:${enc(input.catalogId)}:${enc(input.sku)}:${input.slot}:${input.fingerprint.slice(0, 32)}:${input.attempt}`;
  if (key.length <= MAX_IDEMPOTENCY_KEY_LENGTH || !digest) return key;
  // Catalog id and SKU too long once percent-encoded (a 200-character SKU, or 60 CJK characters): a
  // digest of both stands in for them, so the key stays within the provider's limit and still names
  // one step. Keys of ordinary ids are unchanged. The ledger row keeps the real catalog and SKU.
  return `ca1:~${digest(JSON.stringify([input.catalogId, input.sku])).slice(0, 40)}:~:${input.slot}:${input.fingerprint.slice(0, 32)}:${input.attempt}`;
}

/** The longest Idempotency-Key the provider accepts (src/provider/client.ts checks it before sending). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
