import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, orderMessage, push1688 } from './support/http.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import { deletePrefixKeys, dropDatabase, eventually, isolatedNames } from './support/service.js';

/** A span as OTLP/HTTP JSON carries it (ids in hex). */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: { traceId: string; spanId: string }[];
  attributes?: { key: string; value: Record<string, unknown> }[];
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

/** A tiny OTLP/HTTP receiver: every span any process exports, in arrival order. */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; contentTypes: Set<string>; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(String(req.headers['content-type']));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: ReceivedSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const url = await listen(server);
  return { url, spans, contentTypes, close: () => close(server) };
}

/** The supplier's side: answers 201 and keeps the headers of every call. */
async function startSupplierStub(): Promise<{
  url: string;
  calls: { orderId: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}> {
  const calls: { orderId: string; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { orderId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderId: string };
      calls.push({ orderId, headers: req.headers });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ supplierOrderId: `S-${orderId}` }));
    });
  });
  const url = await listen(server);
  return { url, calls, close: () => close(server) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function attribute(span: ReceivedSpan, key: string): unknown {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
}

/** Every span of a trace reaches its root through its parents (no span is cut off from the trace). */
function expectConnected(trace: ReceivedSpan[]): void {
  const byId = new Map(trace.map((span) => [span.spanId, span]));
  const roots = trace.filter((span) => !span.parentSpanId);
  expect(roots).toHaveLength(1);
  for (const span of trace) {
    let at: ReceivedSpan | undefined = span;
    for (let hops = 0; at?.parentSpanId && hops < 50; hops++) at = byId.get(at.parentSpanId);
    expect(at, `span "${span.name}" reaches the root`).toBe(roots[0]);
  }
}

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  const names = isolatedNames('tracing');
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let supplier: Awaited<ReturnType<typeof startSupplierStub>>;
  let service: ServiceProcess;
  let baseUrl: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    supplier = await startSupplierStub();
    service = await startServiceProcess(names, {
      ROLE: 'all',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'ordersync-test',
      EXTERNAL_API_URL: supplier.url,
    });
    baseUrl = `http://127.0.0.1:${service.port}`;
  }, 90_000);
  afterAll(async () => {
    await service?.stop();
    await supplier?.close();
    await receiver?.close();
    await deletePrefixKeys(names.queuePrefix);
    await dropDatabase(names.databaseName);
  });

  it('follows one 1688 push from the webhook through the queue to the apply, as one trace', async () => {
    expect((await push1688(baseUrl, orderMessage({ msgId: 5150, orderId: '267539019420541111', status: 'waitsellersend' }))).status).toBe(
      200,
    );
    const apply = await eventually(() => receiver.spans.find((s) => s.name === 'apply messages'), 20_000, 'the apply span');
    const request = receiver.spans.find((s) => s.kind === SPAN_KIND_SERVER && s.name === 'POST /webhooks/1688');
    expect(request, 'the webhook request span').toBeDefined();
    expect(apply.traceId).toBe(request?.traceId);
    // The message knows its own request too, whichever request's trace its batch job continued.
    expect(apply.links).toEqual([expect.objectContaining({ traceId: request?.traceId, spanId: request?.spanId })]);
    const trace = await eventually(() => {
      const spans = receiver.spans.filter((s) => s.traceId === apply.traceId);
      // BullMQ's own spans: the add in the API and the process in the worker.
      return spans.length >= 4 ? spans : undefined;
    }, 10_000);
    expect(trace.map((s) => s.name)).toEqual(expect.arrayContaining(['POST /webhooks/1688', 'apply messages']));
    expect(trace.some((s) => /order-events/.test(s.name) && s !== apply)).toBe(true);
    expectConnected(trace);
    expect(receiver.contentTypes).toEqual(new Set(['application/json']));
  });

  it('follows one order from its creation through the claim and the dispatch to the supplier call, and sends traceparent to the supplier', async () => {
    expect((await api(baseUrl, 'POST', '/orders', { id: 'TRACE-1', payload: { sku: 'x', qty: 1 } })).status).toBe(201);
    await eventually(() => supplier.calls.find((c) => c.orderId === 'TRACE-1'), 20_000, 'the supplier call');
    const call = await eventually(
      () => receiver.spans.find((s) => s.name === 'external order API call' && attribute(s, 'ordersync.order_id') === 'TRACE-1'),
      20_000,
      'the supplier-call span',
    );
    expect(call.kind).toBe(SPAN_KIND_CLIENT);
    expect(attribute(call, 'http.response.status_code')).toBe(201);
    // The supplier can continue the same trace: traceparent names the call's own span.
    const sent = supplier.calls.find((c) => c.orderId === 'TRACE-1')?.headers.traceparent;
    expect(sent).toBe(`00-${call.traceId}-${call.spanId}-01`);

    const trace = await eventually(() => {
      const spans = receiver.spans.filter((s) => s.traceId === call.traceId);
      return spans.some((s) => s.name === 'claim orders') && spans.some((s) => s.name === 'POST /orders') ? spans : undefined;
    }, 10_000);
    expect(trace.some((s) => /order-dispatch/.test(s.name))).toBe(true);
    expectConnected(trace);
    // The claim happened before the call, inside the same trace.
    const claim = trace.find((s) => s.name === 'claim orders') as ReceivedSpan;
    expect(attribute(claim, 'ordersync.claimed')).toBeGreaterThanOrEqual(1);
  });
});
