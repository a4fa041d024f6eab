import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BullMQOtel } from 'bullmq-otel';
import type { Telemetry } from 'bullmq';

const TRACER = 'ordersync';
let provider: NodeTracerProvider | null = null;
let bullmq: Telemetry | undefined;

/**
 * OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: OTLP over HTTP (JSON) to
 * `<endpoint>/v1/traces` (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). A webhook, the job that carries
 * its message and the apply form one trace (BullMQ passes the context in the job), as do a claim,
 * its dispatch job and the call to the supplier (which gets `traceparent`).
 */
export function startTracing(env: Record<string, string | undefined> = process.env): boolean {
  const endpoint =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ||
    (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.trim().replace(/\/+$/, '')}/v1/traces` : '');
  if (!endpoint || provider) return provider !== null;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME?.trim() || 'ordersync',
      'service.instance.id': `${process.pid}`,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), { scheduledDelayMillis: 500 })],
  });
  // W3C traceparent propagation and an AsyncLocalStorage context: what BullMQ's telemetry and our spans rely on.
  provider.register();
  bullmq = new BullMQOtel({ tracerName: TRACER });
  return true;
}

export function tracingOn(): boolean {
  return provider !== null;
}

/**
 * A server span for an HTTP request, continuing the caller's trace (`traceparent`); `run` goes on
 * inside it, and `end` closes it with the answer's status.
 */
export function requestSpan(
  method: string,
  route: string,
  headers: Record<string, unknown>,
  run: () => void,
): { end(status: number): void } {
  const parent = propagation.extract(context.active(), headers);
  const span = trace
    .getTracer(TRACER)
    .startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route } }, parent);
  context.with(trace.setSpan(parent, span), run);
  return {
    end(status) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

/** BullMQ's telemetry option (undefined while tracing is off): queues put the context in each job, workers continue it. */
export function bullmqTelemetry(): Telemetry | undefined {
  return bullmq;
}

export async function stopTracing(): Promise<void> {
  await provider?.shutdown();
  provider = null;
  bullmq = undefined;
}

/** The traceparent of the span in progress, when tracing is on and there is one. */
export function currentTraceparent(): string | undefined {
  return provider && trace.getActiveSpan() ? traceHeaders().traceparent : undefined;
}

/** Links to the spans these traceparents name (the requests a batch of messages came from). */
export function linksTo(traceparents: (string | undefined)[]): Link[] {
  const links: Link[] = [];
  for (const traceparent of new Set(traceparents)) {
    if (!traceparent) continue;
    const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
    if (spanContext) links.push({ context: spanContext });
  }
  return links;
}

/** Runs `work` in a span (a no-op span while tracing is off); the span ends with the work, errors recorded. */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
  links: Link[] = [],
): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(name, { kind, attributes, links }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The headers that carry the current trace to another service (`traceparent`, `tracestate`). */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

export { SpanKind };
