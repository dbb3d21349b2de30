/**
 * Output files behind capability URLs: an unguessable token is the only credential, as with presigned
 * URLs. Bytes are dropped once a file expires; its token is kept so a late fetch answers 410, not 404.
 * Bytes live in memory, capped: past the cap the oldest files are dropped early (downloaded ones
 * first), which a client sees as an expired URL. A long full-size benchmark stays within memory.
 */
import { randomBytes } from 'node:crypto';

export interface StoredFile {
  bytes: Buffer | null;
  contentType: string;
  expiresAt: number;
  /** Set by the expiredUrl fault: expired from the first fetch on. */
  forcedExpired: boolean;
  fetched: boolean;
}

export class FileStore {
  private readonly files = new Map<string, StoredFile>();
  private lastSweep = 0;
  private storedBytes = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxStoredBytes = Number.POSITIVE_INFINITY,
  ) {}

  put(bytes: Buffer, contentType: string, now = Date.now()): { token: string; expiresAt: number } {
    this.sweep(now);
    const token = randomBytes(24).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.files.set(token, { bytes, contentType, expiresAt, forcedExpired: false, fetched: false });
    this.storedBytes += bytes.length;
    if (this.storedBytes > this.maxStoredBytes) this.evict();
    return { token, expiresAt };
  }

  get(token: string): StoredFile | undefined {
    return this.files.get(token);
  }

  isExpired(file: StoredFile, now = Date.now()): boolean {
    return file.forcedExpired || file.bytes === null || now >= file.expiresAt;
  }

  expire(file: StoredFile): void {
    file.forcedExpired = true;
    this.drop(file);
  }

  clear(): void {
    this.files.clear();
    this.storedBytes = 0;
  }

  private drop(file: StoredFile): void {
    if (file.bytes) this.storedBytes -= file.bytes.length;
    file.bytes = null;
  }

  private evict(): void {
    for (const downloadedOnly of [true, false]) {
      for (const file of this.files.values()) {
        if (this.storedBytes <= this.maxStoredBytes) return;
        if (file.bytes && (file.fetched || !downloadedOnly)) this.drop(file);
      }
    }
  }

  /** Frees the bytes of expired files, at most once a second. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1_000) return;
    this.lastSweep = now;
    for (const file of this.files.values()) if (file.bytes && now >= file.expiresAt) this.drop(file);
  }
}
