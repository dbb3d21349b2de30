import { describe, expect, it } from 'vitest';
import { SourceFetchError, type FetchedImage } from '../../src/net/guardedFetch';
import { createSourceFetcher, SourceUnavailableError, type SourceFetchPolicy } from '../../src/net/sourceFetcher';

const IMAGE: FetchedImage = { bytes: Buffer.from('img'), contentType: 'image/png', finalUrl: 'https://cdn.example.com/a.png' };
const POLICY: SourceFetchPolicy = { attempts: 4, windowMs: 120_000, hostDownMs: 60_000 };

/** A fake network: each host answers with a scripted error (or an image), and every call is counted. */
function fakeNetwork(answers: Record<string, () => FetchedImage | SourceFetchError>) {
  const calls: string[] = [];
  const fetch = async (url: string) => {
    calls.push(url);
    const host = new URL(url).host;
    const answer = answers[host]?.();
    if (!answer) throw new Error(`unexpected host ${host}`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls };
}

const notFound = (url: string) => new SourceFetchError('network', `fetching ${url} failed: ENOTFOUND`, true);
const refused = (url: string) => new SourceFetchError('network', `fetching ${url} failed: ECONNREFUSED`, true);

async function failure(p: Promise<unknown>): Promise<SourceUnavailableError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SourceUnavailableError);
  return err as SourceUnavailableError;
}

describe('the bounded source fetcher', () => {
  it('names the code and host of an unknown host, retries it once quickly, then gives up', async () => {
    const net = fakeNetwork({ 'packshots.invalid': () => notFound('https://packshots.invalid/A-EXAMPLE.png') });
    const t = 1_000_000;
    const f = createSourceFetcher(net.fetch, () => POLICY, () => t);
    const first = await failure(f.fetch('https://packshots.invalid/A-EXAMPLE.png', { attempt: 1, firstAttemptAtMs: t }));
    expect(first.reason).toBe('ENOTFOUND packshots.invalid');
    expect(first.retryDelayMs).toBeGreaterThan(0);
    expect(first.retryDelayMs).toBeLessThanOrEqual(2_000);
    const second = await failure(f.fetch('https://packshots.invalid/A-EXAMPLE.png', { attempt: 2, firstAttemptAtMs: t }));
    expect(second).toMatchObject({ reason: 'ENOTFOUND packshots.invalid', retryDelayMs: undefined, badData: false });
    expect(net.calls).toHaveLength(2);
  });

  it('fails other URLs on a host known to be down at once, with the same reason and no network call', async () => {
    const net = fakeNetwork({ 'cdn.down.test': () => refused('https://cdn.down.test/x.png') });
    let t = 0;
    const f = createSourceFetcher(net.fetch, () => POLICY, () => t);
    await failure(f.fetch('https://cdn.down.test/1.png', { attempt: 1, firstAttemptAtMs: 0 }));
    expect(f.downHosts().map((h) => h.host)).toEqual(['cdn.down.test']);
    for (let i = 2; i < 50; i++) {
      const e = await failure(f.fetch(`https://cdn.down.test/${i}.png`, { attempt: 1, firstAttemptAtMs: t }));
      expect(e).toMatchObject({ reason: 'ECONNREFUSED cdn.down.test', retryDelayMs: undefined });
    }
    expect(net.calls).toHaveLength(1);
    // A retry of the product that met the fault looks again: otherwise no retry could ever succeed.
    await failure(f.fetch('https://cdn.down.test/1.png', { attempt: 2, firstAttemptAtMs: 0 }));
    expect(net.calls).toHaveLength(2);
    // The memory lapses: a first try reaches the network again.
    t += POLICY.hostDownMs + 1;
    await failure(f.fetch('https://cdn.down.test/99.png', { attempt: 1, firstAttemptAtMs: t }));
    expect(net.calls).toHaveLength(3);
  });

  it('spreads a transient fault over the configured tries and window, then gives up', async () => {
    let up = false;
    const net = fakeNetwork({ 'cdn.flaky.test': () => (up ? IMAGE : new SourceFetchError('http_status', 'https://cdn.flaky.test/a.png answered HTTP 503', true)) });
    let t = 0;
    const f = createSourceFetcher(net.fetch, () => POLICY, () => t);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= POLICY.attempts; attempt++) {
      const e = await failure(f.fetch('https://cdn.flaky.test/a.png', { attempt, firstAttemptAtMs: 0 }));
      expect(e.reason).toBe('HTTP 503');
      if (attempt < POLICY.attempts) {
        expect(e.retryDelayMs).toBeGreaterThan(0);
        delays.push(e.retryDelayMs!);
        t += e.retryDelayMs!;
      } else expect(e.retryDelayMs).toBeUndefined();
    }
    expect(delays).toHaveLength(POLICY.attempts - 1);
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(POLICY.windowMs * 0.8);
    expect(total).toBeLessThanOrEqual(POLICY.windowMs * 1.1);
    // Per-URL statuses are not a host outage.
    expect(f.downHosts()).toEqual([]);
    up = true;
    await expect(f.fetch('https://cdn.flaky.test/a.png', { attempt: 2, firstAttemptAtMs: t })).resolves.toBe(IMAGE);
  });

  it('ends deterministic causes at once as bad data, and a final try never asks for another', async () => {
    const net = fakeNetwork({
      'a.test': () => new SourceFetchError('http_status', 'https://a.test/x.png answered HTTP 404', false),
      'b.test': () => new SourceFetchError('not_an_image', 'https://b.test/x.png is text/html, not an image', false),
      'c.test': () => new SourceFetchError('timeout', 'fetching https://c.test/x.png took longer than 15000 ms', true),
    });
    const f = createSourceFetcher(net.fetch, () => POLICY);
    expect(await failure(f.fetch('https://a.test/x.png', { attempt: 1 }))).toMatchObject({ reason: 'HTTP 404', badData: true, retryDelayMs: undefined });
    expect((await failure(f.fetch('https://b.test/x.png', { attempt: 1 }))).badData).toBe(true);
    expect(await failure(f.fetch('https://c.test/x.png', { attempt: 1, final: true }))).toMatchObject({ badData: false, retryDelayMs: undefined });
    expect(net.calls).toHaveLength(3);
  });

  it('stops retrying once the window has passed, whatever the attempt number', async () => {
    const net = fakeNetwork({ 'slow.test': () => new SourceFetchError('timeout', 'fetching https://slow.test/x.png took longer than 15000 ms', true) });
    const f = createSourceFetcher(net.fetch, () => ({ ...POLICY, attempts: 10 }), () => 200_000);
    const e = await failure(f.fetch('https://slow.test/x.png', { attempt: 2, firstAttemptAtMs: 0 }));
    expect(e.retryDelayMs).toBeUndefined();
    expect(e.reason).toBe('timed out (slow.test)');
  });
});
