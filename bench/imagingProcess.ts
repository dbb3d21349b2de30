/**
 * Child process of the imaging benchmark: the project's materialize step with `concurrency` outputs
 * at once (what the imaging task queue runs with IMAGING_CONCURRENCY = cores), alone in a process so
 * its peak RSS is its own. Reports over IPC and exits.
 */
import fs from 'node:fs/promises';
import { configureSharp, type VariantSpec } from '../src/imaging';
import { makeMaterializer, measure } from './imagingShared';

interface Config {
  files: string[];
  concurrency: number;
  variants: VariantSpec[];
  storageDir: string;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_IMAGING_CONFIG ?? '{}') as Config;
  configureSharp({});
  const inputs = await Promise.all(config.files.map((f) => fs.readFile(f)));
  const baselineRssMb = process.memoryUsage().rss / 1024 / 1024;
  let sampledPeak = 0;
  const timer = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss / 1024 / 1024)), 50);
  let next = 0;
  const { seconds, cpuSeconds } = await measure(async () => {
    await Promise.all(
      Array.from({ length: config.concurrency }, async () => {
        // One materializer per slot, as each activity has its own; storage is shared (content-addressed).
        const m = makeMaterializer(config.storageDir, config.variants);
        while (next < inputs.length) {
          const i = next++;
          await m.run(inputs[i]!);
        }
      }),
    );
  });
  clearInterval(timer);
  process.send?.({
    images: inputs.length,
    concurrency: config.concurrency,
    seconds,
    cpuSeconds,
    baselineRssMb,
    sampledPeakRssMb: sampledPeak,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  });
}

main().then(
  () => setTimeout(() => process.exit(0), 50),
  (err: unknown) => {
    process.send?.({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
    setTimeout(() => process.exit(1), 50);
  },
);
