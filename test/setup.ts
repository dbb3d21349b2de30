// Per test file: keep the SDK's worker logs to errors (expected failures are asserted, not printed) so test output stays readable.
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed in this process (a reused fork): the first install stands.
}
