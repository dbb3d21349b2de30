/**
 * The asset folder fails under a running plan, for real: a small tmpfs mounted as the storage root
 * is remounted read-only (EROFS: unwritable, even for root) or filled up (ENOSPC). The slot fails with
 * a clear reason when the fault lasts and succeeds on the activity's own retry once the folder is
 * fixed; no partial file is ever left or referenced. Without the privilege to mount (not root, or a
 * container without CAP_SYS_ADMIN) the unwritable case falls back to a path trick (the root swapped for
 * a path under a regular file: ENOTDIR) and the full-disk case is skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAssetVersions, listCurrentAssets } from '../../src/db/repositories/assets';
import { contentKey, LocalDirStorage } from '../../src/storage';
import { TEMP_DIR } from '../../src/storage/localDir';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { checkPaidOnce, checkStorage, listFiles } from '../helpers/invariants';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/workerProcess';
import { recordFigures, type Figure } from './figures';

const CATALOG = 'rel-storage';

/** A storage root that a test can make unwritable or full, and fix again. */
interface BreakableFolder {
  kind: 'tmpfs' | 'symlink';
  /** The path given to the storage (a mount point, or a symlink). */
  root: string;
  unwritable(): Promise<void>;
  /** Fills the filesystem up to `leaveBytes` free. */
  fill(leaveBytes: number): Promise<void>;
  fix(): Promise<void>;
  dispose(): Promise<void>;
}

async function breakableFolder(base: string): Promise<BreakableFolder> {
  const mnt = path.join(base, 'assets');
  await fs.mkdir(mnt);
  const filler = path.join(mnt, 'filler.bin');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' });
    return {
      kind: 'tmpfs',
      root: mnt,
      unwritable: async () => void execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'pipe' }),
      async fill(leaveBytes) {
        const st = await fs.statfs(mnt);
        const free = st.bavail * st.bsize;
        await fs.writeFile(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
      },
      async fix() {
        execFileSync('mount', ['-o', 'remount,rw', mnt], { stdio: 'pipe' });
        await fs.rm(filler, { force: true });
      },
      dispose: async () => void spawnSync('umount', ['-l', mnt]),
    };
  } catch {
    // No mount privilege: a symlink root that can be pointed under a regular file (ENOTDIR).
    await fs.rmdir(mnt);
    const real = path.join(base, 'real');
    const file = path.join(base, 'a-file');
    await fs.mkdir(real);
    await fs.writeFile(file, 'not a directory');
    await fs.symlink(real, mnt);
    const point = async (target: string) => {
      const tmp = path.join(base, `link-${randomUUID()}`);
      await fs.symlink(target, tmp);
      await fs.rename(tmp, mnt); // atomic swap
    };
    return {
      kind: 'symlink',
      root: mnt,
      unwritable: () => point(path.join(file, 'assets')),
      fill: async () => {
        throw new Error('filling a disk needs a tmpfs mount (root with CAP_SYS_ADMIN)');
      },
      fix: () => point(real),
      dispose: async () => undefined,
    };
  }
}

describe('storage faults under a running plan', () => {
  let base: string;
  let folder: BreakableFolder;
  let stack: TestStack;
  const figures: Figure[] = [];

  beforeAll(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-rel-storage-'));
    folder = await breakableFolder(base);
    stack = await startTestStack({ storageDir: folder.root });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await folder?.fix().catch(() => undefined);
    await folder?.dispose();
    if (base) await fs.rm(base, { recursive: true, force: true });
    recordFigures('storage-faults', figures, { folder: folder?.kind });
  }, 60_000);

  async function addSku(sku: string): Promise<void> {
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku) }]);
  }

  /** Hero only: the slot's one write of files is its materialize step. */
  async function start(sku: string) {
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual', slots: ['hero'] });
    return stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
  }

  async function settle(handle: Awaited<ReturnType<typeof start>>): Promise<{ result: ProductWorkflowResult; failed: boolean }> {
    try {
      return { result: await handle.result(), failed: false };
    } catch (err) {
      if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw err;
      return { result: err.cause.details?.[0] as ProductWorkflowResult, failed: true };
    }
  }

  /**
   * Waits until the step that writes files has failed once on the broken folder and waits for its
   * retry: the paid step (it stores the original the moment the job is terminal), or the variants.
   */
  async function writeRetrying(handle: Awaited<ReturnType<typeof start>>): Promise<string> {
    return until(
      'a write to fail on the broken folder',
      async () => {
        const { raw } = await handle.describe();
        const pending = (raw.pendingActivities ?? []).find(
          (a) => ['generateJob', 'materializeOutputs'].includes(a.activityType?.name ?? '') && (a.attempt ?? 1) >= 2 && a.lastFailure?.message,
        );
        return pending?.lastFailure?.message ?? undefined;
      },
      30_000,
      25,
    );
  }

  async function expectClean(): Promise<void> {
    const storage = await checkStorage(stack.database.db, stack.storageDir);
    expect(storage.missing).toEqual([]);
    expect(storage.orphans).toEqual([]);
    expect(storage.partials).toEqual([]);
    expect(storage.undecodable).toEqual([]);
  }

  it('retries a write to a folder that became unwritable, and succeeds once it is writable again', { timeout: 60_000 }, async () => {
    await addSku('S-RO-1');
    const jobsBefore = stack.simulator.ledger().jobs;
    await folder.unwritable();
    const handle = await start('S-RO-1');
    const failure = await writeRetrying(handle);
    await folder.fix();
    const { result, failed } = await settle(handle);
    expect(failed).toBe(false);
    expect(failure).toMatch(folder.kind === 'tmpfs' ? /storage is not writable.*EROFS/ : /storage is not writable.*ENOTDIR/);
    expect(result.slots).toMatchObject([{ slot: 'hero', outcome: 'generated' }]);
    // One paid job: the retry re-downloaded the same output, it did not submit again.
    expect(stack.simulator.ledger()).toMatchObject({ jobs: jobsBefore + 1, duplicateSubmissions: 0 });
    await expectClean();
    figures.push({ fault: `asset folder unwritable mid-run (${folder.kind === 'tmpfs' ? 'read-only remount, EROFS' : 'root under a file, ENOTDIR'}), fixed before the retry`, tried: '1 run', lost: '0 (generated on the activity retry, 1 paid job)' });
  });

  it('keeps the paid job open while the folder stays unwritable: the next run, once fixed, downloads it again and buys nothing', { timeout: 60_000 }, async () => {
    await addSku('S-RO-2');
    const jobsBefore = stack.simulator.ledger().jobs;
    const filesBefore = await listFiles(stack.storageDir);
    await folder.unwritable();
    const handle = await start('S-RO-2');
    // The reason names the step, the key, the folder and the cause, on every retry of the paid step.
    const message = await writeRetrying(handle);
    expect(message).toMatch(/^storing output 0 of job \S+: cannot write asset originals\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg in local storage /);
    expect(message).toContain(folder.root);
    expect(message).toMatch(/storage is not writable \((EROFS|ENOTDIR)/);
    // An operator gives up on the run (or its retries run out): the job stays open in the ledger.
    await handle.terminate('storage stays broken');
    await folder.fix();
    const rows = await stack.database.db.selectFrom('generation_jobs').select(['status', 'provider_job_id']).where('catalog_id', '=', CATALOG).where('sku', '=', 'S-RO-2').execute();
    expect(rows.map((r) => r.status)).toEqual(['submitted']);
    expect(await listAssetVersions(stack.database.db, CATALOG, 'S-RO-2')).toEqual([]);
    expect(await listFiles(stack.storageDir)).toEqual(filesBefore);

    const again = await settle(await start('S-RO-2'));
    expect(again.failed).toBe(false);
    expect(again.result.slots).toMatchObject([{ slot: 'hero', outcome: 'generated', jobId: rows[0]!.provider_job_id }]);
    expect((await listCurrentAssets(stack.database.db, CATALOG, 'S-RO-2')).map((a) => a.slot)).toEqual(['hero']);
    // The paid output was downloaded again from the same job: one job, nothing bought twice.
    const ledger = stack.simulator.ledger();
    expect(ledger.jobs).toBe(jobsBefore + 1);
    expect(ledger.duplicateSubmissions).toBe(0);
    await expectClean();
    figures.push({
      fault: 'asset folder unwritable for longer than the run',
      tried: '1 run (terminated) + 1 rerun after the fix',
      lost: '0 (each retry named key, folder and cause; the job stayed open and the rerun downloaded it again: 1 paid job)',
    });
  });

  it('retries a write to a full disk, leaves no partial file, and succeeds once space is freed', { timeout: 60_000 }, async (ctx) => {
    if (folder.kind !== 'tmpfs') ctx.skip('filling a disk needs a tmpfs mount (root with CAP_SYS_ADMIN); this machine gave a symlink folder');
    await addSku('S-FULL');
    await folder.fill(6 * 1024);
    const handle = await start('S-FULL');
    const failure = await writeRetrying(handle);
    // Mid-write: the temp file of the failed attempt is gone already.
    expect((await listFiles(stack.storageDir)).filter((f) => f.startsWith(`${TEMP_DIR}/`))).toEqual([]);
    await folder.fix();
    const { result, failed } = await settle(handle);
    expect(failure).toMatch(/no space left.*ENOSPC/);
    expect(failed).toBe(false);
    expect(result.slots).toMatchObject([{ slot: 'hero', outcome: 'generated' }]);
    await expectClean();
    const paid = await checkPaidOnce(stack.database.db, stack.simulator.ledger());
    expect([paid.duplicateSubmissions, paid.unknownJobs]).toEqual([0, []]);
    figures.push({ fault: 'asset folder full mid-run (ENOSPC on a 4 MB tmpfs), space freed before the retry', tried: '1 run', lost: '0 (generated on the activity retry; no partial file left)' });
  });

  it('removes the temp files a killed writer left behind, and only those', { timeout: 30_000 }, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-rel-sweep-'));
    try {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const tmp = path.join(dir, TEMP_DIR);
      await fs.mkdir(tmp);
      const host = os.hostname();
      const names = {
        dead: `p${dead}@${host}@${randomUUID()}`,
        live: `p${process.ppid}@${host}@${randomUUID()}`,
        otherHost: `p${dead}@another-host@${randomUUID()}`,
      };
      for (const n of Object.values(names)) await fs.writeFile(path.join(tmp, n), 'partial');
      const data = Buffer.from('a whole file');
      const key = contentKey(createHash('sha256').update(data).digest('hex'), 'jpg', 'variants');
      await new LocalDirStorage(dir).put(key, data, 'image/jpeg');
      expect((await fs.readdir(tmp)).sort()).toEqual([names.live, names.otherHost].sort());
      figures.push({ fault: 'temp files of a writer killed mid-write', tried: '1 dead writer on this host, 1 live, 1 on another host', lost: '0 (the dead writer\'s removed on the next write; the others kept)' });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
