/**
 * A provider output is untrusted input: it is validated as an image before it is stored, and stored
 * content-addressed before its job counts as delivered. Shared by the paid step (which keeps outputs the
 * moment a job is terminal) and by the tests of hostile outputs.
 *
 * With a provenance stamp, the stored original carries it as XMP, inserted into the container without
 * re-encoding (src/imaging/provenance.ts): the content key and `checksum` are those of the stored
 * (marked) bytes, `providerSha256` those the provider sent.
 */
import { buildXmpPacket, canEmbedXmp, embedXmp, inspectImage, readImageHeader, type ImageInfo, type ImageLimits, type MarkableFormat } from '../../imaging';
import type { ProvenanceStamp, StoredOutput } from '../../shared/steps';
import { contentKey, type AssetExtension } from '../../storage/keys';
import type { ActivityDeps } from './deps';

const ORIGINAL_EXT: Record<string, AssetExtension> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif' };
const ORIGINAL_TYPE: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

/** Why an output was refused: `corrupt` may be a transfer fault (download again), `validation` is final. */
export class OriginalRejected extends Error {
  constructor(
    readonly reason: 'corrupt' | 'validation',
    message: string,
  ) {
    super(message);
    this.name = 'OriginalRejected';
  }
}

/** Validates one output's bytes, marks them with the stamp where given, and stores them; storage errors are passed on as they are. */
export async function storeOriginal(deps: Pick<ActivityDeps, 'storage' | 'outputLimits'>, index: number, bytes: Buffer, stamp?: ProvenanceStamp): Promise<StoredOutput> {
  let info;
  try {
    info = await inspectImage(bytes, deps.outputLimits);
  } catch (err) {
    throw new OriginalRejected('corrupt', `output ${index} is not a valid image: ${(err as Error).message}`);
  }
  const ext = ORIGINAL_EXT[info.format];
  if (!ext) throw new OriginalRejected('validation', `output ${index} is ${info.format}, not an image format the provider delivers`);
  let stored = bytes;
  let sha256 = info.sha256;
  if (stamp && canEmbedXmp(info.format)) {
    const marked = await markOriginal(bytes, info, stamp, deps.outputLimits);
    // A container sharp decodes but the writer cannot follow is stored as sent rather than lost (it was
    // paid for); its variants still carry the stamp.
    if (marked) ({ stored, sha256 } = marked);
  }
  const storageKey = contentKey(sha256, ext, 'originals');
  await deps.storage.put(storageKey, stored, ORIGINAL_TYPE[info.format]!);
  return {
    index,
    storageKey,
    checksum: sha256,
    width: info.width,
    height: info.height,
    format: info.format,
    ...(stored !== bytes ? { providerSha256: info.sha256 } : {}),
    ...(stamp ? { provenance: stamp } : {}),
  };
}

/** The original with the stamp inserted losslessly, or undefined where that cannot be done safely. */
async function markOriginal(bytes: Buffer, info: ImageInfo, stamp: ProvenanceStamp, limits: ImageLimits): Promise<{ stored: Buffer; sha256: string } | undefined> {
  let stored: Buffer;
  try {
    stored = embedXmp(bytes, info.format as MarkableFormat, buildXmpPacket(stamp));
  } catch {
    // ProvenanceError for a structure it cannot follow; anything else would be a writer bug. Either way
    // the paid image is kept as sent.
    return undefined;
  }
  // The pixels were not touched; the header is read once more so a marking bug cannot store a file that does not open.
  try {
    const { info: again } = await readImageHeader(stored, { ...limits, maxBytes: limits.maxBytes + 65_536 });
    if (again.width !== info.width || again.height !== info.height || again.format !== info.format) return undefined;
    return { stored, sha256: again.sha256 };
  } catch {
    return undefined;
  }
}

/**
 * The stamp of a settled job. Its time is the job's completion as the provider reports it (the same on
 * every poll of a terminal job), else the moment the step's ledger row was first opened: both are fixed
 * for the step, so a retry marks the same bytes.
 */
export function provenanceStamp(facts: { catalogId: string; sku: string; slot: string; model: string; provider: string; jobId: string; openedAt: Date; jobRaw?: Record<string, unknown> }): ProvenanceStamp {
  const completed = facts.jobRaw ? reportedCompletion(facts.jobRaw) : undefined;
  return {
    model: facts.model,
    createdAt: (completed ?? facts.openedAt).toISOString(),
    catalogId: facts.catalogId,
    sku: facts.sku,
    slot: facts.slot,
    provider: publicProviderName(facts.provider),
    jobId: facts.jobId,
  };
}

/**
 * Delivered files are public: of the provider identity (`simulator|real <base URL> <model>`) they name the
 * kind and the host only, never the URL's path or credentials.
 */
function publicProviderName(identity: string): string {
  const [kind = 'provider', base = ''] = identity.split(' ');
  try {
    return `${kind} ${new URL(base).host}`;
  } catch {
    return kind;
  }
}

/** `completed_at`/`completedAt`/`finished_at` as epoch seconds, epoch milliseconds or an ISO string; anything else is ignored. */
function reportedCompletion(raw: Record<string, unknown>): Date | undefined {
  const nested = raw.data && typeof raw.data === 'object' ? (raw.data as Record<string, unknown>) : {};
  for (const v of [raw.completed_at, raw.completedAt, raw.finished_at, nested.completed_at, nested.completedAt, nested.finished_at]) {
    let t: number | undefined;
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) t = v < 1e12 ? v * 1000 : v;
    else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) t = Date.parse(v);
    // Plausible instants only (2020 to 2100): a stray field must not stamp a file with 1970.
    if (t !== undefined && t > 1_577_836_800_000 && t < 4_102_444_800_000) return new Date(Math.floor(t / 1000) * 1000);
  }
  return undefined;
}
