// Makes sure versitygw (the S3-compatible test server) is there before tests start (see src/storage/s3server.ts).
import { ensureS3Server } from '../src/dev/s3server';

try {
  const server = ensureS3Server();
  if ('unavailable' in server) process.stderr.write(`S3 storage tests will be skipped: ${server.unavailable}\n`);
  else process.stderr.write(`S3 test server (versitygw): ${server.path} (${server.source})\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
