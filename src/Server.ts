import type { Config } from './config/Config.js';
import { Core } from './core/Core.js';
import { DefaultHooks, type ServerHooks } from './core/ServerHooks.js';
import type { Protocol } from './protocols/Protocol.js';
import { RtmpProtocol } from './protocols/rtmp/RtmpProtocol.js';
import { Logger } from './util/Logger.js';

const log = new Logger('server');

/**
 * One Nimbus instance: the core, the protocols configured on, and (in later layers) the
 * applications and the mesh. The only place that wires layers together.
 */
export class Server {
  readonly core: Core;
  private readonly protocols: Protocol[] = [];
  readonly rtmp: RtmpProtocol | null;
  private started = false;

  constructor(
    readonly config: Config,
    hooks: ServerHooks = new DefaultHooks(),
  ) {
    this.core = new Core(hooks, {
      gopCache: config.media.gopCache,
      gopCacheMaxBytes: config.media.gopCacheMaxBytes,
      subscriberQueueBytes: config.media.subscriberQueueBytes,
      subscriberTimeoutMs: config.media.subscriberTimeoutMs,
    });
    this.rtmp = config.rtmp.port > 0 ? new RtmpProtocol(this.core, config.rtmp) : null;
    if (this.rtmp !== null) {
      this.protocols.push(this.rtmp);
    }
  }

  /** Starts every protocol; resolves with the addresses listened on. Stops what started if one fails. */
  async start(): Promise<string[]> {
    const addresses: string[] = [];
    try {
      for (const protocol of this.protocols) {
        for (const address of await protocol.start()) {
          addresses.push(`${protocol.name} ${address}`);
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.started = true;
    return addresses;
  }

  async stop(): Promise<void> {
    for (const protocol of [...this.protocols].reverse()) {
      try {
        await protocol.stop();
      } catch (err) {
        log.error(`stopping ${protocol.name}: ${String(err)}`);
      }
    }
    this.started = false;
  }

  get isStarted(): boolean {
    return this.started;
  }
}
