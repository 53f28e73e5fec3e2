import { availableParallelism } from 'node:os';
import type { Core } from '../../core/Core.js';
import type { Publication } from '../../core/Publication.js';
import type { Mesh } from '../../mesh/Mesh.js';
import { audioCodecOf, videoCodecOf } from './codecs.js';

/** What the stats API needs from the server (not the whole Server: the API only reads). */
export interface StatsSource {
  readonly core: Core;
  readonly mesh: Mesh | null;
  readonly version: string;
  /** Media worker threads (0: everything on the main thread). */
  readonly workerThreads: number;
  /** Live sessions per protocol ("RTMP", "RTMFP", "HTTP"...). */
  sessions(): Record<string, number>;
}

const round = (n: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/**
 * The JSON of `/api/v1/...`: plain snapshots built per request from the registries (no state of
 * its own), so what the API says is what the core holds at that moment.
 */
export class StatsApi {
  private lastCpu = process.cpuUsage();
  private lastCpuAt = process.hrtime.bigint();
  private cpuPercent = 0;

  constructor(private readonly source: StatsSource) {}

  /** CPU of the process since the previous read (at least 1 s apart), in % of one core. */
  private cpu(): number {
    const now = process.hrtime.bigint();
    const elapsedUs = Number(now - this.lastCpuAt) / 1000;
    if (elapsedUs >= 1_000_000) {
      const used = process.cpuUsage(this.lastCpu);
      this.cpuPercent = ((used.user + used.system) / elapsedUs) * 100;
      this.lastCpu = process.cpuUsage();
      this.lastCpuAt = now;
    }
    return round(this.cpuPercent, 1);
  }

  server(): Record<string, unknown> {
    const memory = process.memoryUsage();
    const core = this.source.core;
    return {
      name: 'nimbus',
      version: this.source.version,
      node: process.version,
      pid: process.pid,
      uptime: round(process.uptime(), 1),
      cpu: { percent: this.cpu(), cores: availableParallelism(), total: process.cpuUsage() },
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, arrayBuffers: memory.arrayBuffers },
      threads: { main: 1, mediaWorkers: this.source.workerThreads },
      sessions: this.source.sessions(),
      clients: core.clients.size,
      publications: [...core.publications.values()].filter((p) => p.running).length,
    };
  }

  clients(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const now = Date.now();
    for (const client of this.source.core.clients.values()) {
      const seconds = Math.max(0.001, (now - client.since) / 1000);
      out.push({
        id: client.id,
        protocol: client.protocol,
        address: client.address,
        app: client.path === '' ? '/' : client.path,
        connectedFor: round(seconds, 1),
        bytesReceived: client.traffic.received,
        bytesSent: client.traffic.sent,
        bitrateIn: Math.round((client.traffic.received * 8) / seconds),
        bitrateOut: Math.round((client.traffic.sent * 8) / seconds),
        lostRate: client.traffic.lostRate,
        ping: client.ping,
        lastReceptionTime: client.lastReceptionTime,
      });
    }
    return out;
  }

  publication(p: Publication): Record<string, unknown> {
    const [audio, video, data, fps] = p.meter.rates();
    const subscribers: Record<string, number> = {};
    for (const listener of p.listeners) {
      const protocol = listener.client?.protocol ?? 'server';
      subscribers[protocol] = (subscribers[protocol] ?? 0) + 1;
    }
    const cache = p.feed.cache;
    const meta = p.properties ?? {};
    return {
      name: p.name,
      running: p.running,
      publisher: p.publisher === null ? null : { protocol: p.publisher.protocol, address: p.publisher.address, id: p.publisher.id },
      since: p.startedAt === 0 ? null : new Date(p.startedAt).toISOString(),
      video: { codec: videoCodecOf(cache.videoConfig), width: meta.width ?? null, height: meta.height ?? null, bitrate: Math.round(video * 8), fps: round(fps, 2) },
      audio: { codec: audioCodecOf(cache.audioConfig), bitrate: Math.round(audio * 8), sampleRate: meta.audiosamplerate ?? null },
      dataBitrate: Math.round(data * 8),
      frames: p.frames,
      bytes: p.bytes,
      droppedFrames: p.droppedFrames,
      subscribers,
      subscriberCount: p.listeners.size,
    };
  }

  publicationNamed(name: string): Record<string, unknown> | null {
    const p = this.source.core.publications.get(name);
    return p === undefined ? null : this.publication(p);
  }

  publications(): Record<string, unknown>[] {
    return [...this.source.core.publications.values()].map((p) => this.publication(p));
  }

  mesh(): Record<string, unknown> {
    const mesh = this.source.mesh;
    if (mesh === null) {
      return { enabled: false, links: [] };
    }
    return {
      enabled: true,
      backlog: mesh.backlog(),
      links: mesh.list().map((s) => ({ address: s.address, host: s.host, port: s.port, isTarget: s.isTarget, closed: s.isClosed })),
    };
  }
}
