/** The results page's channel badges: one per channel profile an asset was checked against. */
import type { StoredChannelCheck } from '../db/repositories/channelChecks';

export const CHANNEL_BADGE_CSS = `
.channels { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.channel-badge { display: inline-block; padding: 0 6px; border-radius: 999px; font-size: 11px; border: 1px solid currentColor; }
.channel-badge.pass { color: var(--ok); } .channel-badge.fail { color: var(--bad); }
`;

/** `esc` is the page's own escaper, so every value from the database goes through it. */
export function channelBadges(checks: readonly StoredChannelCheck[] | undefined, esc: (v: string | number) => string): string {
  if (!checks || checks.length === 0) return '';
  const badges = checks.map((c) => {
    const f = c.figures;
    const figures = `${f.width}x${f.height} ${f.format}, edge min ${f.edgeMin} mean ${f.edgeMean}, fill ${(f.fill * 100).toFixed(1)} %`;
    const why = c.pass ? figures : `${c.failures.map((x) => `${x.rule}: ${x.reason}`).join('; ')} (${figures})`;
    return `<span class="channel-badge ${c.pass ? 'pass' : 'fail'}" title="${esc(why)}">${esc(c.profile)} ${c.pass ? '✓' : '✗'}</span>`;
  });
  return `<div class="channels" aria-label="channel checks">${badges.join('')}</div>`;
}
