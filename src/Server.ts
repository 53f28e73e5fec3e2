import type { Config } from './config/Config.js';
import { Core } from './core/Core.js';
import { DefaultHooks, type ServerHooks } from './core/ServerHooks.js';
import { HttpProtocol } from './http/HttpProtocol.js';
import { Mesh } from './mesh/Mesh.js';
import type { Protocol } from './protocols/Protocol.js';
import { RtmfpProtocol } from './protocols/rtmfp/RtmfpProtocol.js';
import { RtmpProtocol } from './protocols/rtmp/RtmpProtocol.js';
import { MediaWorkers } from './protocols/worker/MediaWorkers.js';
import { RtmpWorkerOffload } from './protocols/worker/RtmpOffload.js';
import { WireContext } from './protocols/WireContext.js';
import { loadSocketHandover } from './kernels/index.js';
import { AppHost } from './scripting/AppHost.js';
import { DescriptorWatch } from './util/DescriptorWatch.js';
import { Logger } from './util/Logger.js';
import { VERSION } from './version.js';

const log = new Logger('server');
/** MonaServer's housekeeping tick: `onManage`, the root app's reload check. */
const MANAGE_INTERVAL_MS = 2000;

/**
 * One Nimbus instance: the core, the protocols configured on, the applications and the mesh.
 * The only place that wires layers together.
 */
export class Server {
  readonly core: Core;
  private readonly protocols: Protocol[] = [];
  readonly rtmp: RtmpProtocol | null;
  readonly rtmfp: RtmfpProtocol | null;
  /** The HTTP port: apps' pages and WebSocket, HTTP-FLV/WS-FLV/HLS, the stats API (null when HTTP.port=0). */
  readonly http: HttpProtocol | null;
  /** Server applications (`www/`), unless the embedder passed its own hooks. */
  readonly apps: AppHost | null = null;
  /** The server mesh, when `servers.port` or `servers.targets` is set. */
  readonly mesh: Mesh | null;
  /** The media worker threads RTMP and RTMFP sessions run on (null: everything on this thread). */
  readonly workers: MediaWorkers | null;
  /** The main thread's packet-path state, for the RTMP and RTMFP sessions served here (each media worker has its own). */
  readonly wire = new WireContext();
  private manageTimer: NodeJS.Timeout | null = null;
  /** `ulimit -n` reached: libuv then refuses connections in silence; this says so once a second. */
  private readonly descriptors = new DescriptorWatch((message) => log.error(message));
  private started = false;

  constructor(
    readonly config: Config,
    hooks?: ServerHooks,
  ) {
    const rtmfpWorkers = config.rtmfp.port > 0 ? config.rtmfp.workers : 0;
    let rtmpWorkers = config.rtmp.port > 0 ? config.rtmp.workers : 0;
    const handover = loadSocketHandover();
    if (rtmpWorkers > 0 && typeof handover === 'string') {
      log.info(`RTMP sessions stay on the main thread (RTMP.workers needs the native addon: ${handover})`);
      rtmpWorkers = 0;
    }
    const count = Math.max(rtmpWorkers, rtmfpWorkers);
    this.core = new Core(hooks ?? new DefaultHooks(), {
      gopCache: config.media.gopCache,
      gopCacheMaxBytes: config.media.gopCacheMaxBytes,
      subscriberQueueBytes: config.media.subscriberQueueBytes,
      subscriberTimeoutMs: config.media.subscriberTimeoutMs,
      // The budget is shared out between the threads that serve subscribers.
      queueBudgetBytes: Math.floor(config.media.queueBudget / (1 + count)),
      recordDir: config.application.recordDir,
    });
    this.mesh = config.servers.port > 0 || config.servers.targets.length > 0 ? new Mesh(config) : null;
    if (hooks === undefined) {
      this.apps = new AppHost(this.core, config, this.mesh ?? undefined);
      this.core.hooks = this.apps;
      if (this.mesh !== null) {
        this.wireMesh(this.mesh, this.apps);
      }
    }
    let rtmfp: RtmfpProtocol | null = null;
    this.workers =
      count === 0
        ? null
        : new MediaWorkers(
            count,
            (index) => ({
              index,
              rtmfp: rtmfp?.workerPlane(index) ?? null,
              rtmp: config.rtmp,
              feeds: this.core.feedOptions,
              limits: { maxQueuedBytes: this.core.limits.maxQueuedBytes, timeoutMs: this.core.limits.timeoutMs },
              queueBudgetBytes: Math.floor(config.media.queueBudget / (1 + count)),
            }),
            { computeKeys: (args) => (rtmfp === null ? null : rtmfp.requests.computeKeys(args)) },
            new Logger('workers'),
          );
    this.rtmp = config.rtmp.port > 0 ? new RtmpProtocol(this.core, config.rtmp, this.wire) : null;
    if (this.rtmp !== null) {
      this.protocols.push(this.rtmp);
      if (this.workers !== null && rtmpWorkers > 0 && typeof handover !== 'string') {
        this.rtmp.offload = new RtmpWorkerOffload(this.workers, rtmpWorkers, handover, this.rtmp, this.rtmp.log);
      }
    }
    rtmfp = config.rtmfp.port > 0 ? new RtmfpProtocol(this.core, config.rtmfp, this.wire, this.workers) : null;
    this.rtmfp = rtmfp;
    if (this.rtmfp !== null) {
      this.protocols.push(this.rtmfp);
    }
    this.http =
      config.http.port > 0
        ? new HttpProtocol(this.core, config, {
            core: this.core,
            mesh: this.mesh,
            version: VERSION,
            workerThreads: count,
            sessions: () => Object.fromEntries(this.protocols.map((p) => [p.name, p.sessionCount])),
          }, this.wire)
        : null;
    if (this.http !== null) {
      this.protocols.push(this.http);
    }
  }

  /** The mesh reaches the applications' server hooks, and apps that start are announced to peers. */
  private wireMesh(mesh: Mesh, apps: AppHost): void {
    mesh.handlers = {
      onServerConnection: (server) => apps.onServerConnection(server),
      onServerDisconnection: (server, error) => apps.onServerDisconnection(server, error),
      onServerMessage: (server, handler, args) => apps.onServerMessage(server, handler, args),
      runningApps: () => apps.runningApps(),
      syncApps: (paths) => apps.syncApps(paths),
    };
    apps.onAppStarted = (path) => mesh.appStarted(path);
  }

  /** Starts every protocol; resolves with the addresses listened on. Stops what started if one fails. */
  async start(): Promise<string[]> {
    const addresses: string[] = [];
    try {
      if (this.apps !== null) {
        await this.apps.start();
        const apps = this.apps;
        this.manageTimer = setInterval(() => {
          apps.manage().catch((err: unknown) => log.error(`applications: ${String(err)}`));
        }, MANAGE_INTERVAL_MS);
        this.manageTimer.unref();
      }
      this.descriptors.start();
      await this.workers?.start();
      for (const protocol of this.protocols) {
        for (const address of await protocol.start()) {
          addresses.push(`${protocol.name} ${address}`);
        }
      }
      if (this.mesh !== null) {
        for (const address of await this.mesh.start()) {
          addresses.push(`servers ${address}`);
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
    this.descriptors.stop();
    if (this.manageTimer !== null) {
      clearInterval(this.manageTimer);
      this.manageTimer = null;
    }
    if (this.mesh !== null) {
      try {
        await this.mesh.stop();
      } catch (err) {
        log.error(`stopping the mesh: ${String(err)}`);
      }
    }
    for (const protocol of [...this.protocols].reverse()) {
      try {
        await protocol.stop();
      } catch (err) {
        log.error(`stopping ${protocol.name}: ${String(err)}`);
      }
    }
    try {
      await this.workers?.stop();
    } catch (err) {
      log.error(`stopping the media workers: ${String(err)}`);
    }
    this.apps?.stop();
    try {
      await this.core.recordings.close();
    } catch (err) {
      log.error(`finishing the recordings: ${String(err)}`);
    }
    this.started = false;
  }

  get isStarted(): boolean {
    return this.started;
  }
}
