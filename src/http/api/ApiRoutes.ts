import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isLoopback } from '../../util/AddressLimits.js';
import { sendJson, sendText } from '../responses.js';
import type { Metrics } from './Metrics.js';
import type { StatsApi } from './StatsApi.js';

const PREFIX = '/api/v1/';

const sameToken = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * `/api/v1/{server,clients,publications,publications/<name>,mesh}`, `/metrics` and `/health`.
 * With `HTTP.apiToken` set, the API and the metrics want `Authorization: Bearer <token>` (401
 * otherwise); without one they answer loopback clients only (403), so a server started with the
 * defaults does not tell the world who its clients are. `/health` is open (load balancers).
 */
export class ApiRoutes {
  constructor(
    private readonly stats: StatsApi,
    private readonly metrics: Metrics,
    private readonly token: string,
  ) {}

  /** True when `pathname` is one of the API's (answered here, whatever the outcome). */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname === '/health') {
      sendJson(res, 200, { status: 'ok', uptime: Math.round(process.uptime()) }, req.method === 'HEAD');
      return true;
    }
    const isApi = pathname.startsWith(PREFIX) || pathname === '/api/v1';
    if (!isApi && pathname !== '/metrics') {
      return false;
    }
    if (!this.allowed(req, res)) {
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      return true;
    }
    const head = req.method === 'HEAD';
    if (pathname === '/metrics') {
      const body = await this.metrics.registry.metrics();
      res.setHeader('Content-Type', this.metrics.registry.contentType);
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(head ? undefined : body);
      return true;
    }
    const route = pathname.slice(PREFIX.length).replace(/\/+$/, '');
    if (route === '' || route === 'server') {
      sendJson(res, 200, this.stats.server(), head);
    } else if (route === 'clients') {
      sendJson(res, 200, this.stats.clients(), head);
    } else if (route === 'publications') {
      sendJson(res, 200, this.stats.publications(), head);
    } else if (route.startsWith('publications/')) {
      let name: string;
      try {
        name = decodeURIComponent(route.slice('publications/'.length));
      } catch {
        sendJson(res, 400, { error: 'bad publication name' });
        return true;
      }
      const publication = this.stats.publicationNamed(name);
      if (publication === null) {
        sendJson(res, 404, { error: `no publication ${name}` }, head);
      } else {
        sendJson(res, 200, publication, head);
      }
    } else if (route === 'mesh') {
      sendJson(res, 200, this.stats.mesh(), head);
    } else {
      sendJson(res, 404, { error: `no route ${pathname}` }, head);
    }
    return true;
  }

  private allowed(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.token !== '') {
      const header = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (m !== null && sameToken(m[1].trim(), this.token)) {
        return true;
      }
      sendJson(res, 401, { error: m === null ? 'an API token is required (Authorization: Bearer <token>)' : 'bad API token' });
      return false;
    }
    if (isLoopback(req.socket.remoteAddress ?? '')) {
      return true;
    }
    sendJson(res, 403, { error: 'the API answers loopback clients only unless HTTP.apiToken is set' });
    return false;
  }
}
