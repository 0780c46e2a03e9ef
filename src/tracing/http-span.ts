/**
 * The gateway's server span: `<METHOD> <route>` (kind server) around each HTTP request, the parent
 * of the request's StartWorkflow span, so a chat completion's trace starts at the gateway. A caller
 * that sends a W3C `traceparent` header continues its own trace. Attributes: method, route pattern
 * (never the URL: it can carry ids), status code. Health probes (/healthz, /readyz) get none.
With tracing off nothing is registered.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PROVIDER_TRACER_NAME, providerTracingActive } from './provider-span';

const UNTRACED_ROUTES = new Set(['/healthz', '/readyz']);

export function registerHttpTracing(app: FastifyInstance): void {
  if (!providerTracingActive()) return;
  const tracer = trace.getTracer(PROVIDER_TRACER_NAME);
  const spans = new WeakMap<FastifyRequest, Span>();
  const end = (request: FastifyRequest, status: number | null) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status !== null) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } else {
      span.setAttribute('error.type', 'RequestAborted');
    }
    span.end();
  };
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    // Probes are not requests anyone traces (an orchestrator polls them every few seconds).
    if (UNTRACED_ROUTES.has(route)) return done();
    const parent = propagation.extract(context.active(), request.headers);
    spans.set(request, tracer.startSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route } }, parent));
    done();
  });
  // The handler runs inside the span (preHandler's callback starts it), so the client's spans are its children.
  app.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (span) context.with(trace.setSpan(context.active(), span), done);
    else done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, null);
    done();
  });
}
