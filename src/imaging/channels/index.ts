// Channel profiles: built-in definitions, resolution from a plan, rendering and checks.
export { BUILTIN_PROFILES } from './profiles';
export { resolveChannels } from './resolve';
export { CHANNEL_MEDIA, channelDecodeEdge, checkRules, renderChannels, type RenderedChannel } from './render';
export { edgeFigures, fillRatio, hasBorder, productBox, type RawImage } from './measure';
