/**
 * Tracing: every message carries a W3C traceparent (minted at the API when the caller sent none),
 * so a conversation can be followed across hosts in the logs (`trace_id`). When an OTLP endpoint
 * is configured (the standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
 * spans are exported too: the manager's span for each message accepted through the API, and each
 * agent turn as a span whose parent is the span that sent the message; sends inside a turn carry
 * the turn's span as their parent.
 *
 * Without an endpoint nothing is loaded and a span costs nothing: the traceparent passes through.
 * Export is bounded (the batch processor's queue drops beyond its size) and flushed on shutdown.
 */
import type { Env } from '../common/env.js';
import { ConfigError } from '../common/env.js';
import { VERSION } from '../common/version.js';
import { formatTraceparent, parseTraceparent } from './trace-context.js';

export type SpanKindName = 'server' | 'consumer';

export interface TraceSpan {
  /** The traceparent to carry onwards: this span's, or the parent's when not tracing. */
  readonly traceparent: string | undefined;
  /** Ends the span; with an error message it is marked failed. */
  end(error?: string): void;
}

export interface Tracing {
  readonly enabled: boolean;
  start(name: string, kind: SpanKindName, parent: string | undefined, attributes?: Record<string, string | number | boolean>): TraceSpan;
  /** Flushes what is queued (bounded by TRACE_SHUTDOWN_TIMEOUT_MS) and stops exporting. */
  shutdown(): Promise<void>;
}

export const TRACE_SHUTDOWN_TIMEOUT_MS = 3_000;
/** Spans held for export at most; more are dropped (the batch processor's bound). */
export const TRACE_QUEUE_MAX = 2_048;

/** Tracing off: spans are free and the parent's traceparent is carried unchanged. */
export const NO_TRACING: Tracing = {
  enabled: false,
  start: (_name, _kind, parent) => ({ traceparent: parent, end: () => undefined }),
  shutdown: async () => undefined,
};

export interface TracingConfig {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  serviceName: string;
}

/** Reads the standard OpenTelemetry variables; null when no endpoint is set. */
export function tracingConfigFromEnv(env: Env, defaultServiceName: string): TracingConfig | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const raw = traces || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : '');
  if (raw === '') return null;
  const name = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL: ${JSON.stringify(raw)} (e.g. http://otel-collector:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL (OTLP over HTTP), got ${url.protocol}`);
  return { url: url.toString(), serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName };
}

/** The exporting tracer; the OpenTelemetry SDK is loaded only here, only when configured. */
export async function createTracing(config: TracingConfig): Promise<Tracing> {
  const [{ trace, ROOT_CONTEXT, SpanKind, SpanStatusCode }, { BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url }), { maxQueueSize: TRACE_QUEUE_MAX })],
  });
  const tracer = provider.getTracer('flotilla', VERSION);
  const kinds = { server: SpanKind.SERVER, consumer: SpanKind.CONSUMER } as const;
  return {
    enabled: true,
    start(name, kind, parent, attributes) {
      const p = parent === undefined ? null : parseTraceparent(parent);
      const ctx = p === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags, isRemote: true });
      const span = tracer.startSpan(name, { kind: kinds[kind], ...(attributes === undefined ? {} : { attributes }) }, ctx);
      const sc = span.spanContext();
      return {
        traceparent: formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags }),
        end(error) {
          if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.shutdown().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, TRACE_SHUTDOWN_TIMEOUT_MS)))]);
      clearTimeout(timer);
    },
  };
}
