/**
 * Materialize: download each output at once (URLs expire), treat it as untrusted input, make the
 * variants (one decode, one clone per variant) and store everything under content-addressed keys.
 * Runs on the imaging task queue, sized to the cores.
 */
import { Context } from '@temporalio/activity';
import { inspectImage, renderVariants } from '../src/imaging';
import { FORMAT_MEDIA } from '../src/imaging/variantSpec';
import { FailureType } from '../src/shared';
import type { MaterializedOutput, MaterializeInput } from '../src/shared/steps';
import { contentKey, type AssetExtension } from '../src/storage/keys';
import type { ActivityDeps } from './deps';
import { fail, toFailure } from './failures';

const ORIGINAL_EXT: Record<string, AssetExtension> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif' };
const ORIGINAL_TYPE: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

export function createImagingActivities(deps: ActivityDeps) {
  return {
    async materializeOutputs(input: MaterializeInput): Promise<MaterializedOutput[]> {
      const ctx = Context.current();
      const results: MaterializedOutput[] = [];
      for (const output of input.outputs) {
        ctx.heartbeat({ index: output.index });
        let bytes: Buffer;
        try {
          ({ bytes } = await deps.provider.download(output.url, { maxBytes: deps.outputLimits.maxBytes, signal: ctx.cancellationSignal }));
        } catch (err) {
          throw toFailure(err, `downloading output ${output.index}`);
        }
        let info;
        try {
          info = await inspectImage(bytes, deps.outputLimits);
        } catch (err) {
          // A corrupt download may be a transfer fault: retryable, bounded by the activity's policy.
          throw fail(FailureType.invalidImage, `output ${output.index} of step ${input.idempotencyKey} is not a valid image: ${(err as Error).message}`, { retryable: true });
        }
        const ext = ORIGINAL_EXT[info.format];
        if (!ext) throw fail(FailureType.invalidImage, `output ${output.index} is ${info.format}, not an image format the provider delivers`);
        let rendered;
        try {
          rendered = await renderVariants(bytes, deps.variants, { limits: deps.outputLimits });
        } catch (err) {
          throw fail(FailureType.invalidImage, `output ${output.index} could not be turned into variants: ${(err as Error).message}`, { retryable: true });
        }
        ctx.heartbeat({ index: output.index, rendered: true });
        try {
          const originalKey = contentKey(info.sha256, ext, 'originals');
          await deps.storage.put(originalKey, bytes, ORIGINAL_TYPE[info.format]!);
          const variants = await Promise.all(
            rendered.variants.map(async (v) => {
              const key = contentKey(v.sha256, FORMAT_MEDIA[v.format].ext, 'variants');
              await deps.storage.put(key, v.data, FORMAT_MEDIA[v.format].contentType);
              return { name: v.name, format: v.format, width: v.width, height: v.height, bytes: v.bytes, sha256: v.sha256, storageKey: key };
            }),
          );
          results.push({
            index: output.index,
            checksum: info.sha256,
            width: info.width,
            height: info.height,
            format: info.format,
            storageKey: originalKey,
            placeholder: rendered.placeholder.thumbhash,
            dominantColor: rendered.placeholder.dominantColor,
            variants,
          });
        } catch (err) {
          throw toFailure(err, `storing output ${output.index}`);
        }
      }
      return results;
    },
  };
}
