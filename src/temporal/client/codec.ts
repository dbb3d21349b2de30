/**
 * Payload encryption for Temporal: a PayloadCodec that seals every payload (workflow and activity
 * inputs and results, signals, queries, memos, summaries) with AES-256-GCM before it leaves the
 * process, so prompts and product data are never stored in clear in Temporal's database or shown in
 * clear to someone who can read histories without the key.
 *
 * Wire format (the one Temporal's samples and codec servers use): metadata
 * `encoding: binary/encrypted`, `encryption-cipher: AES-256-GCM`, `encryption-key-id: <id>`; data is
 * a 12-byte IV, the ciphertext of the whole original Payload (protobuf-encoded, so its own metadata
 * such as `encoding: json/plain` is sealed too) and the 16-byte GCM tag. The key id is bound to the
 * ciphertext as additional authenticated data.
 *
 * Decoding passes payloads that are not encrypted through unchanged, so histories written before the
 * key was configured stay readable. What is NOT encrypted (Temporal needs to read it): workflow ids
 * (which carry catalog and SKU), search attributes, task queue names, activity types, and failure
 * messages and types (the README lists each failure reason an operator reads in Temporal UI).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Config } from '../../config';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const CIPHER = 'AES-256-GCM';
export const METADATA_ENCODING = 'encoding';
export const METADATA_CIPHER = 'encryption-cipher';
export const METADATA_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A payload that cannot be decrypted: no key of that id here, or the bytes were altered. Never carries key material. */
export class PayloadCodecError extends Error {
  override readonly name = 'PayloadCodecError';
}

export interface PayloadKey {
  /** 32 bytes. */
  key: Buffer;
  /** Written into every payload this key encrypts. */
  keyId: string;
}

export interface PayloadCodecOptions {
  /** Default `default`. Use TEMPORAL_PAYLOAD_KEY_ID (or its derived default) in the product. */
  keyId?: string;
  /** Older keys, accepted for decoding only (key rotation: encrypt with the new one, read both). */
  decryptOnly?: PayloadKey[];
}

export interface EncryptionCodec extends PayloadCodec {
  /** The id of the key new payloads are encrypted with. */
  readonly keyId: string;
}

function checkKey(key: Buffer, keyId: string): void {
  if (key.length !== 32) throw new PayloadCodecError(`an AES-256 payload key is 32 bytes; this one has ${key.length}`);
  if (!KEY_ID.test(keyId)) throw new PayloadCodecError(`payload key id ${JSON.stringify(keyId.slice(0, 80))} must be 1-64 letters, digits, dots, dashes or underscores`);
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/**
 * `key` is the 32-byte key itself, or its base64 form (TEMPORAL_PAYLOAD_KEY). Use the result as
 * `dataConverter: { payloadCodecs: [codec] }` on every client and worker that shares the namespace.
 */
export function createPayloadCodec(key: Buffer | Uint8Array | string, options: PayloadCodecOptions = {}): EncryptionCodec {
  const primary = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
  const keyId = options.keyId ?? 'default';
  checkKey(primary, keyId);
  const keys = new Map<string, Buffer>([[keyId, primary]]);
  for (const k of options.decryptOnly ?? []) {
    checkKey(k.key, k.keyId);
    if (!keys.has(k.keyId)) keys.set(k.keyId, Buffer.from(k.key));
  }
  const keyIdBytes = Buffer.from(keyId);

  function seal(payload: Payload): Payload {
    const plain = PayloadMessage.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', primary, iv);
    cipher.setAAD(keyIdBytes);
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_CIPHER]: Buffer.from(CIPHER),
        [METADATA_KEY_ID]: keyIdBytes,
      },
      data: sealed,
    };
  }

  function open(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING]) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[METADATA_KEY_ID]) ?? '';
    const cipherName = text(payload.metadata?.[METADATA_CIPHER]) ?? CIPHER;
    if (cipherName !== CIPHER) throw new PayloadCodecError(`payload is encrypted with ${JSON.stringify(cipherName.slice(0, 40))}; only ${CIPHER} is supported`);
    const k = keys.get(id);
    if (!k) {
      throw new PayloadCodecError(
        `payload is encrypted with key id ${JSON.stringify(id.slice(0, 64))}, which this process does not have (it has ${[...keys.keys()].map((x) => JSON.stringify(x)).join(', ')}); configure the same TEMPORAL_PAYLOAD_KEY as the writer`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadCodecError('encrypted payload is too short to be one');
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', k, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadCodecError(`payload encrypted with key id ${JSON.stringify(id)} failed authentication: a different key of the same id, or altered data`);
    }
    return PayloadMessage.decode(plain);
  }

  return {
    keyId,
    async encode(payloads: Payload[]): Promise<Payload[]> {
      return payloads.map(seal);
    },
    async decode(payloads: Payload[]): Promise<Payload[]> {
      return payloads.map(open);
    },
  };
}

/** The codec configured by TEMPORAL_PAYLOAD_KEY (and TEMPORAL_PAYLOAD_KEY_ID), or undefined when none is. */
export function payloadCodecFromConfig(config: Pick<Config, 'temporal'>): EncryptionCodec | undefined {
  const k = config.temporal.payloadKey;
  return k ? createPayloadCodec(k.key, { keyId: k.keyId }) : undefined;
}
