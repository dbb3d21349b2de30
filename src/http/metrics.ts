/**
 * Prometheus metrics of the HTTP service, on a registry of its own (several servers can live in one
 * process, as in tests): requests by route pattern and status, their durations, webhook events by
 * outcome, rejected deliveries by reason, and the default process metrics.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export type WebhookEventOutcome = 'accepted' | 'duplicate' | 'stale' | 'unchanged';
export type WebhookRejection =
  | 'signature'
  | 'timestamp'
  | 'payload'
  | 'too_large'
  | 'unknown_catalog'
  | 'disabled'
  | 'secret_unavailable'
  | 'trigger_failed';

export interface HttpMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status_code'>;
  duration: Histogram<'method' | 'route' | 'status_code'>;
  webhookEvents: Counter<'outcome'>;
  webhookRejected: Counter<'reason'>;
}

export function createHttpMetrics(registry = new Registry()): HttpMetrics {
  collectDefaultMetrics({ register: registry });
  const metrics: HttpMetrics = {
    registry,
    requests: new Counter({
      name: 'catalog_assets_http_requests_total',
      help: 'HTTP requests by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'catalog_assets_http_request_duration_seconds',
      help: 'HTTP request durations by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookEvents: new Counter({
      name: 'catalog_assets_webhook_events_total',
      help: 'PIM webhook events received: accepted (new), duplicate (seen before), stale (older than applied data), unchanged',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookRejected: new Counter({
      name: 'catalog_assets_webhook_rejected_total',
      help: 'PIM webhook deliveries rejected, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
  // Zero-valued series exist from the start, so rate() and alerts work before the first event.
  for (const outcome of ['accepted', 'duplicate', 'stale', 'unchanged'] satisfies WebhookEventOutcome[]) metrics.webhookEvents.inc({ outcome }, 0);
  for (const reason of ['signature', 'timestamp', 'payload', 'too_large', 'unknown_catalog', 'disabled', 'secret_unavailable', 'trigger_failed'] satisfies WebhookRejection[]) {
    metrics.webhookRejected.inc({ reason }, 0);
  }
  return metrics;
}
