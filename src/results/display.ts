/** Which stored variant the results page shows for an asset. */
/** Names tried first for the grid image: the storefront's product-page size. */
export const DISPLAY_VARIANT_PREFERENCE = ['product-webp', 'product-jpeg', 'product-avif'] as const;
const FORMAT_RANK: Record<string, number> = { webp: 0, jpeg: 1, jpg: 1, png: 2, avif: 3 };

/**
 * The variant shown in the grid: a preferred name when present, otherwise the largest variant whose
 * longest side is at most maxEdge (ties: WebP, then JPEG...), otherwise the smallest variant.
 */
export function pickDisplayVariant<V extends { name: string; format: string; width: number; height: number }>(variants: readonly V[], maxEdge = 1200): V | undefined {
  for (const name of DISPLAY_VARIANT_PREFERENCE) {
    const v = variants.find((x) => x.name === name);
    if (v) return v;
  }
  const edge = (v: V) => Math.max(v.width, v.height);
  const rank = (v: V) => FORMAT_RANK[v.format] ?? 9;
  const fitting = variants.filter((v) => edge(v) <= maxEdge).sort((a, b) => edge(b) - edge(a) || rank(a) - rank(b) || a.name.localeCompare(b.name));
  if (fitting[0]) return fitting[0];
  return [...variants].sort((a, b) => edge(a) - edge(b) || rank(a) - rank(b))[0];
}
