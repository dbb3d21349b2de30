/**
 * Secret redaction. Every place that turns an error or a value into text for a person (logs, error
 * messages, the results page, workflow failures) passes through here, so a configured secret can
 * never leak even when a library echoes it back.
 */
const registered = new Set<string>();

/** Secrets shorter than this are not redacted by substring: they would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= MIN_SECRET_LENGTH) registered.add(secret);
}

export function redact(text: string, extra: Array<string | undefined> = []): string {
  let out = text;
  for (const secret of [...registered, ...extra]) {
    if (!secret || secret.length < MIN_SECRET_LENGTH) continue;
    out = out.split(secret).join('[REDACTED]');
  }
  // Bearer tokens in echoed headers, whatever their value.
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1[REDACTED]');
}

/** Paths pino censors in structured logs. */
export const REDACTED_LOG_PATHS = [
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'config.provider.apiKey',
  'serviceToken',
  'webhookSecret',
  'webhookSecretKey',
  'codecToken',
  'secret',
  '*.secret',
  'encryptionKey',
  'payloadKey',
  '*.payloadKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'credentials.secretAccessKey',
  '*.credentials.secretAccessKey',
];
