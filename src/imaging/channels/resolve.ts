import { isBuiltinChannel, type ChannelProfile, type CustomChannelProfileInput } from '../../shared/channelProfiles';
import type { Plan } from '../../shared/plan';
import { BUILTIN_PROFILES } from './profiles';

type CustomProfile = NonNullable<Plan['channelProfiles']>[string];

/** A slot's channel names as profiles: built-ins, then the plan's own. The plan schema already rejected unknown names. */
export function resolveChannels(names: readonly string[] | undefined, custom: Plan['channelProfiles']): ChannelProfile[] {
  return (names ?? []).map((name) => {
    if (isBuiltinChannel(name)) return BUILTIN_PROFILES[name];
    const p: CustomProfile | undefined = custom?.[name];
    if (!p) throw new Error(`unknown channel profile "${name}": use a built-in one or define it in the plan's channelProfiles`);
    return { name, maxEdge: p.maxEdge, format: p.format, quality: p.quality, processing: p.processing, rules: p.rules };
  });
}

export type { CustomChannelProfileInput };
