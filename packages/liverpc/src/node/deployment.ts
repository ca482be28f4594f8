/**
 * adapter-node's environment variables, read the way its `build/handler.js` and `build/index.js`
 * read them, for what the realtime side needs of them: the public origin, the client's address
 * behind a proxy, and the shutdown timeout. Read through the build's own `env()` (its
 * `envPrefix` applies), so one setting means the same for the pages and the sockets.
 */

import type { IncomingMessage } from 'node:http';

/** Reads one variable, as adapter-node's `env(name)` does (with the build's `envPrefix`). */
export type Env = (name: string) => string | undefined;

/** What the realtime side takes from the deployment's variables. */
export interface Deployment {
  /** `ORIGIN`, validated and normalized as adapter-node does (`new URL(..).origin`). */
  readonly origin: string | undefined;
  /** `ADDRESS_HEADER`, lower-cased; empty: the TCP peer is the client. */
  readonly addressHeader: string;
  /** `XFF_DEPTH` (default 1). */
  readonly xffDepth: number;
  /** `HOST_HEADER` and `PORT_HEADER`, lower-cased; used only without `ORIGIN`, as adapter-node does. */
  readonly hostHeader: string;
  readonly portHeader: string;
  /** `SHUTDOWN_TIMEOUT` in milliseconds (default 30 s). */
  readonly shutdownTimeoutMs: number;
}

/** A request the deployment's settings cannot serve (a proxy header missing or malformed). */
export class DeploymentError extends Error {
  override name = 'DeploymentError';
}

/**
 * The deployment's settings from `env`. Throws on a value adapter-node refuses too.
 *
 * @example
 * const d = deployment((name) => process.env[name]);
 */
export function deployment(env: Env): Deployment {
  const shutdown = Number.parseInt(env('SHUTDOWN_TIMEOUT') ?? '30', 10);
  return {
    origin: parseOrigin(env('ORIGIN')),
    addressHeader: (env('ADDRESS_HEADER') ?? '').toLowerCase(),
    xffDepth: Number.parseInt(env('XFF_DEPTH') ?? '1', 10),
    hostHeader: (env('HOST_HEADER') ?? '').toLowerCase(),
    portHeader: (env('PORT_HEADER') ?? '').toLowerCase(),
    // adapter-node's own timer would be NaN (fires at once) on a bad value; 0 is its meaning too.
    shutdownTimeoutMs: Number.isFinite(shutdown) && shutdown > 0 ? shutdown * 1000 : 0,
  };
}

function parseOrigin(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new DeploymentError(`Invalid ORIGIN: '${value.trim()}'. ORIGIN must be a URL with http:// or https://, e.g. https://my.site`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DeploymentError(`Invalid ORIGIN: '${value.trim()}'. Only http:// and https:// are supported`);
  }
  return url.origin;
}

/** One value of a header, as adapter-node's `normalise_header` takes it. */
function single(headers: IncomingMessage['headers'], name: string): string | undefined {
  if (name === '') return undefined;
  const value = headers[name];
  if (!Array.isArray(value)) return value;
  if (value.length > 1) throw new DeploymentError(`Multiple values provided for ${name} header where only one expected`);
  return value[0];
}

/**
 * The client's address as adapter-node's `getClientAddress()` computes it: from
 * `ADDRESS_HEADER` (for `x-forwarded-for`, the entry `XFF_DEPTH` from the right), or
 * `undefined` when no header is configured (the engine then takes the TCP peer: a forwarded
 * address is believed only when the deployment names the header). Throws where adapter-node
 * throws (the header absent, too few entries) and on an empty address.
 *
 * @example
 * // ADDRESS_HEADER=x-forwarded-for XFF_DEPTH=1, behind one proxy
 * clientAddress(req, d); // '203.0.113.7'
 */
export function clientAddress(req: IncomingMessage, d: Deployment): string | undefined {
  const header = d.addressHeader;
  if (header === '') return undefined;
  if (!(header in req.headers)) {
    throw new DeploymentError(`Address header was specified with ADDRESS_HEADER=${header} but is absent from request`);
  }
  const raw = req.headers[header];
  const value = (Array.isArray(raw) ? raw.join(', ') : raw) ?? '';
  let address = value;
  if (header === 'x-forwarded-for') {
    const addresses = value.split(',');
    if (!(d.xffDepth >= 1)) throw new DeploymentError(`XFF_DEPTH must be a positive integer`);
    if (d.xffDepth > addresses.length) {
      throw new DeploymentError(`XFF_DEPTH is ${d.xffDepth}, but only found ${addresses.length} addresses`);
    }
    address = (addresses[addresses.length - d.xffDepth] ?? '').trim();
  }
  // adapter-node would hand the page an empty string; for a cap keyed by address that would
  // pool every such client under one key, so it is refused instead.
  if (address === '') throw new DeploymentError(`${header} gave no address`);
  return address;
}

/**
 * The public host (and port) the page was served from, when the deployment says a header
 * carries it (`HOST_HEADER`/`PORT_HEADER` without `ORIGIN`, as adapter-node's `get_origin`),
 * else `undefined` (the request's own `Host` is the public one).
 */
export function publicHost(req: IncomingMessage, d: Deployment): string | undefined {
  if (d.origin !== undefined || (d.hostHeader === '' && d.portHeader === '')) return undefined;
  const host = single(req.headers, d.hostHeader) || single(req.headers, 'host');
  if (!host) throw new DeploymentError(`Could not determine host: the request has no ${d.hostHeader === '' ? 'host' : `${d.hostHeader} or host`} header`);
  const port = single(req.headers, d.portHeader);
  if (port && Number.isNaN(Number(port))) throw new DeploymentError(`The ${d.portHeader} header specified ${port}, not a port number`);
  return port ? `${host}:${port}` : host;
}
