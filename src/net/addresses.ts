/**
 * Which IP addresses an outgoing fetch may never reach: loopback, private, link-local, shared
 * (CGNAT), documentation, benchmarking, multicast and reserved ranges, in every notation.
 *
 * IPv6 is checked on its 16 bytes, not its text, so every spelling of one address is one answer.
 * Forms that carry an IPv4 address are judged by that address where the form is used for real
 * traffic (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), and refused
 * whole where it is not (IPv4-compatible `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
 * local-use NAT64 `64:ff9b:1::/48`, Teredo). Outside 2000::/3 (global unicast) nothing is public.
 */
import net from 'node:net';

const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const v4List = new net.BlockList();
for (const [addr, prefix] of BLOCKED_V4) v4List.addSubnet(addr, prefix, 'ipv4');

/** The 16 bytes of a textual IPv6 address (zone id dropped), or undefined when it is not one. */
export function ipv6Bytes(address: string): Uint8Array | undefined {
  const text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  if (net.isIP(text) !== 6) return undefined;
  let hex = text;
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const o = dotted.slice(2).map(Number);
    hex = `${dotted[1]}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = hex.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const left = part(head);
  const right = part(tail);
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return bytes;
}

const v4Of = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const zero = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
const word = (b: Uint8Array, i: number) => (b[2 * i]! << 8) | b[2 * i + 1]!;

function isBlockedV6(b: Uint8Array): boolean {
  // ::ffff:a.b.c.d, IPv4-mapped: the socket connects to that IPv4 address.
  if (zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4List.check(v4Of(b, 12), 'ipv4');
  // 64:ff9b::/96, well-known NAT64: the translator connects to the embedded IPv4 address.
  if (word(b, 0) === 0x64 && word(b, 1) === 0xff9b && zero(b, 4, 12)) return v4List.check(v4Of(b, 12), 'ipv4');
  const first = word(b, 0);
  // Only 2000::/3 is global unicast: this refuses ::/96 (IPv4-compatible, ::, ::1), ::ffff:0:0:0/96
  // (IPv4-translated), 64:ff9b:1::/48 (local-use NAT64), 100::/64, fc00::/7, fe80::/10, fec0::/10, ff00::/8.
  if ((first & 0xe000) !== 0x2000) return true;
  // 2001::/23: IETF protocol assignments (Teredo, benchmarking, ORCHID): no image host lives there.
  if (first === 0x2001 && word(b, 1) < 0x0200) return true;
  // 2001:db8::/32 and 3fff::/20: documentation.
  if (first === 0x2001 && word(b, 1) === 0x0db8) return true;
  if (first === 0x3fff && word(b, 1) < 0x1000) return true;
  // 2002::/16, 6to4: a relay reaches the embedded IPv4 address.
  if (first === 0x2002) return v4List.check(v4Of(b, 2), 'ipv4');
  return false;
}

/** True for anything that is not a public unicast address (a non-address counts as blocked). */
export function isBlockedAddress(address: string): boolean {
  const family = net.isIP(address.replace(/%.*$/, ''));
  if (family === 4) return v4List.check(address, 'ipv4');
  const bytes = ipv6Bytes(address);
  return bytes ? isBlockedV6(bytes) : true;
}
