/**
 * GET /metrics in Prometheus text format, on its own port (METRICS_PORT / METRICS_HOST), served by
 * node:http so it answers even while the gateway's Fastify app or the worker is busy starting.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError } from '../errors';

export interface MetricsServer {
  /** http://host:port (the port actually bound: METRICS_PORT=0 takes a free one). */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  registry: Registry;
  host: string;
  port: number;
  /** The variable the port came from, named in the error when it is taken (default METRICS_PORT). */
  portVariable?: string;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, host, port } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${(err as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const variable = options.portVariable ?? 'METRICS_PORT';
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError(`${variable}=${port}: ${host}:${port} is already in use; set ${variable} to a free port (0 takes any)`, [{ path: variable, message: `port ${port} in use` }]));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
        reject(new ConfigError(`cannot serve metrics on ${host}:${port} (${err.code}); check METRICS_HOST and ${variable}`, [{ path: variable, message: err.code }]));
      } else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
