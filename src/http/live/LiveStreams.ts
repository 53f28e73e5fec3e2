import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '../../core/Client.js';
import type { Core } from '../../core/Core.js';
import { errorMessage } from '../../errors.js';
import { Logger } from '../../util/Logger.js';
import { type LiveFallback, statusOf } from '../HttpApps.js';
import type { RequestPath } from '../requestPath.js';
import { setCors, sendText } from '../responses.js';
import { FlvViewer } from './FlvViewer.js';
import { HttpFlvTransport } from './HttpFlvTransport.js';
import type { WireContext } from '../../protocols/WireContext.js';

const log = new Logger('http');

/** A hook for the other live formats (HLS): true when it took the request. */
export interface LiveFormat {
  serve(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client): Promise<boolean>;
}

/**
 * The live side of the HTTP port: `<path>/<name>.flv` plays publication `name` as HTTP-FLV (the
 * query goes with the name, as `rtmp://host/app/name?query` does), and other formats (HLS) when
 * registered. Only where no file of the app has the name.
 */
export class LiveStreams implements LiveFallback {
  readonly formats: LiveFormat[] = [];

  constructor(
    private readonly core: Core,
    /** The thread's packet-path state: HTTP-FLV bodies go in its write batch, tags are encoded with its wire slots. */
    private readonly wire: WireContext,
  ) {}

  async serve(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client): Promise<boolean> {
    if (target.file.endsWith('.flv') && target.file.length > 4) {
      await this.playFlv(req, res, target, client);
      return true;
    }
    for (const format of this.formats) {
      if (await format.serve(req, res, target, client)) {
        return true;
      }
    }
    return false;
  }

  private async playFlv(req: IncomingMessage, res: ServerResponse, target: RequestPath, client: Client): Promise<void> {
    const name = target.file.slice(0, -4);
    if (req.method === 'HEAD') {
      setCors(req, res);
      res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    const socket = res.socket;
    if (socket === null) {
      return;
    }
    const viewer = new FlvViewer(this.core, client, new HttpFlvTransport(res, this.wire.frames), this.wire.wireSlots);
    socket.once('close', () => viewer.close());
    try {
      await viewer.start(target.query === '' ? name : `${name}?${target.query}`, () => {
        setCors(req, res);
        res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache, no-store', Connection: 'close' });
      });
    } catch (err) {
      log.debug(`${client.address}: play ${name} refused: ${errorMessage(err)}`);
      res.shouldKeepAlive = true;
      res.useChunkedEncodingByDefault = true;
      sendText(res, statusOf(err), errorMessage(err));
    }
  }
}
