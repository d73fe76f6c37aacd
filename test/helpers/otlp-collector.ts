/**
 * A stand-in OpenTelemetry collector on loopback: it takes OTLP/HTTP JSON trace exports
 * (`POST /v1/traces`, as @opentelemetry/exporter-trace-otlp-http sends them) and keeps the spans.
 * The real collector is an outside service; this double checks what we send it.
 */
import { createServer, type Server } from 'node:http';

export interface CollectedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  statusCode: number;
}

export interface OtlpCollector {
  readonly url: string;
  readonly spans: CollectedSpan[];
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}

function value(v: AnyValue | undefined): unknown {
  return v?.stringValue ?? v?.intValue ?? v?.boolValue ?? v?.doubleValue;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(value(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value) ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            const attrs = Object.fromEntries(((s.attributes as { key: string; value: AnyValue }[]) ?? []).map((a) => [a.key, value(a.value)]));
            spans.push({
              service,
              name: String(s.name),
              kind: Number(s.kind),
              traceId: String(s.traceId),
              spanId: String(s.spanId),
              parentSpanId: typeof s.parentSpanId === 'string' && s.parentSpanId !== '' ? s.parentSpanId : undefined,
              attributes: attrs,
              statusCode: Number((s.status as { code?: number } | undefined)?.code ?? 0),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
