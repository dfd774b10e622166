/**
 * Hostile network pieces for end-to-end tests, all on 127.0.0.1: an HTTP server whose answers a
 * test writes by hand, a TLS front (test certificate) that forwards to another local port, an HTTP
 * CONNECT proxy that records its tunnels, and a raw TCP server for answers that are not HTTP.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { PROJECT_ROOT } from './helpers.js';

export const TEST_CERT = path.join(PROJECT_ROOT, 'test', 'fixtures', 'tls', 'localhost-cert.pem');
const TEST_KEY = path.join(PROJECT_ROOT, 'test', 'fixtures', 'tls', 'localhost-key.pem');

export interface Listening {
  port: number;
  /** How many TCP connections were accepted. */
  connections: number;
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function track(server: net.Server, state: { connections: number }): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  return sockets;
}

export interface HostileServer extends Listening {
  /** OPENAI_BASE_URL for it. */
  url: string;
  /** Request paths, in order, but for the server's model lookups (GET /v1/models/{id}). */
  requests: string[];
  /** The model lookups the server makes beside a first real call; answered 404 here (no such endpoint). */
  lookups: string[];
}

const isLookup = (url: string) => url.startsWith('/v1/models/');

type RecordingState = { connections: number; requests: string[]; lookups: string[] };

/** Listens on 127.0.0.1 and hands back the server as a test sees it. */
async function serve(server: net.Server, state: RecordingState): Promise<HostileServer> {
  const sockets = track(server, state);
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    lookups: state.lookups,
    close: closer(server, sockets),
  };
}

/** An HTTP server answering every request (its body read first) with `answer`. */
export async function hostileServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): Promise<HostileServer> {
  const state: RecordingState = { connections: 0, requests: [], lookups: [] };
  const server = http.createServer((req, res) => {
    res.on('error', () => {});
    if (isLookup(req.url ?? '')) {
      state.lookups.push(req.url ?? '');
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not here","type":"invalid_request_error","param":null,"code":null}}');
      return;
    }
    state.requests.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      Promise.resolve(answer(req, res)).catch(() => res.destroy());
    });
  });
  return serve(server, state);
}

/** HTTPS on 127.0.0.1 with the test certificate, forwarding every connection to `targetPort`. */
export async function tlsFront(targetPort: number): Promise<Listening & { url: string }> {
  const state = { connections: 0 };
  const server = tls.createServer({ key: readFileSync(TEST_KEY), cert: readFileSync(TEST_CERT) }, (socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  server.on('tlsClientError', () => {});
  const sockets = track(server, state);
  const port = await listen(server);
  return {
    port,
    url: `https://127.0.0.1:${port}/v1`,
    get connections() {
      return state.connections;
    },
    close: closer(server, sockets),
  };
}

export interface ConnectProxy extends Listening {
  url: string;
  /** The `host:port` of every CONNECT tunnel opened, in order. */
  tunnels: string[];
}

/** An HTTP proxy that only tunnels (CONNECT), recording each tunnel's target. */
export async function connectProxy(): Promise<ConnectProxy> {
  const state = { connections: 0, tunnels: [] as string[] };
  const server = http.createServer((_req, res) => {
    res.writeHead(405).end('CONNECT only');
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    state.tunnels.push(target);
    const [host, port] = target.split(':');
    const upstream = net.connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const sockets = track(server, state);
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    tunnels: state.tunnels,
    close: closer(server, sockets),
  };
}

/** A TCP server that writes `reply` once the request's head has arrived, then closes. */
export async function rawServer(reply: string): Promise<HostileServer> {
  const state: RecordingState = { connections: 0, requests: [], lookups: [] };
  const server = net.createServer((socket) => {
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      if (seen.includes('\r\n\r\n')) return;
      seen += chunk.toString('latin1');
      if (seen.includes('\r\n\r\n')) {
        const url = seen.split(' ')[1] ?? '';
        (isLookup(url) ? state.lookups : state.requests).push(url);
        socket.end(reply);
      }
    });
  });
  return serve(server, state);
}

/** Writes `chunk` and waits while the socket's buffer is full (the client reads slowly or not at all). */
export async function writeWithBackpressure(res: http.ServerResponse | NodeJS.WritableStream, chunk: Buffer | string): Promise<boolean> {
  const stream = res as NodeJS.WritableStream & { destroyed?: boolean };
  if (stream.destroyed) return false;
  if (stream.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => () => {
      stream.removeListener('drain', onDrain);
      stream.removeListener('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
