/**
 * Render: make the variants of each stored original (one decode, one clone per variant) and store them
 * under content-addressed keys. The originals were downloaded and stored by the paid step the moment
 * their job was terminal, so nothing here races an expiring URL. Runs on the imaging task queue, sized
 * to the cores.
 */
import { Context } from '@temporalio/activity';
import { renderVariants } from '../../imaging';
import { CHANNEL_MEDIA } from '../../imaging/channels';
import { FORMAT_MEDIA } from '../../imaging/variantSpec';
import { FailureType } from '../../shared';
import type { MaterializedOutput, MaterializeInput, VariantSummary } from '../../shared/steps';
import { contentKey } from '../../storage/keys';
import type { ActivityDeps } from './deps';
import { fail, toFailure } from './failures';

export function createImagingActivities(deps: ActivityDeps) {
  return {
    async materializeOutputs(input: MaterializeInput): Promise<MaterializedOutput[]> {
      const ctx = Context.current();
      const results: MaterializedOutput[] = [];
      for (const output of input.outputs) {
        ctx.heartbeat({ index: output.index });
        let bytes: Buffer;
        try {
          bytes = await deps.storage.get(output.storageKey);
        } catch (err) {
          throw toFailure(err, `reading stored output ${output.index} of step ${input.idempotencyKey}`);
        }
        let rendered;
        try {
          const provenance = output.provenance ? { ...output.provenance, derivedFrom: output.checksum } : undefined;
          rendered = await renderVariants(bytes, deps.variants, { limits: deps.outputLimits, channels: input.channels ?? [], ...(provenance ? { provenance } : {}) });
        } catch (err) {
          throw fail(FailureType.invalidImage, `output ${output.index} of step ${input.idempotencyKey} could not be turned into variants: ${(err as Error).message}`);
        }
        ctx.heartbeat({ index: output.index, rendered: true });
        try {
          const variants: VariantSummary[] = await Promise.all(
            rendered.variants.map(async (v) => {
              const key = contentKey(v.sha256, FORMAT_MEDIA[v.format].ext, 'variants');
              await deps.storage.put(key, v.data, FORMAT_MEDIA[v.format].contentType);
              return { name: v.name, format: v.format, width: v.width, height: v.height, bytes: v.bytes, sha256: v.sha256, storageKey: key };
            }),
          );
          // Each channel's file is stored like any variant, under the profile's name.
          const stored = new Set(variants.map((v) => v.storageKey));
          for (const { variant: v } of rendered.channels) {
            const key = contentKey(v.sha256, CHANNEL_MEDIA[v.format].ext, 'variants');
            // Channels that want the very same file share one stored object.
            if (!stored.has(key)) await deps.storage.put(key, v.data, CHANNEL_MEDIA[v.format].contentType);
            stored.add(key);
            variants.push({ name: v.name, format: v.format, width: v.width, height: v.height, bytes: v.bytes, sha256: v.sha256, storageKey: key });
          }
          results.push({
            index: output.index,
            checksum: output.checksum,
            width: output.width,
            height: output.height,
            format: output.format,
            storageKey: output.storageKey,
            placeholder: rendered.placeholder.thumbhash,
            dominantColor: rendered.placeholder.dominantColor,
            variants,
            ...(rendered.channels.length > 0 ? { channelChecks: rendered.channels.map((c) => c.check) } : {}),
          });
        } catch (err) {
          throw toFailure(err, `storing variants of output ${output.index}`);
        }
      }
      return results;
    },
  };
}
