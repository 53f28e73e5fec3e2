import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatsSource } from './StatsApi.js';

/**
 * `/metrics` for Prometheus (prom-client): the process' default metrics (CPU, memory, event loop
 * lag, GC) and the server's own, read from the registries at scrape time (no per-frame work).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'status'>;

  constructor(source: StatsSource) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: 'nimbus_' });
    const core = source.core;
    new Gauge({
      name: 'nimbus_clients',
      help: 'Connected clients by protocol',
      labelNames: ['protocol'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const client of core.clients.values()) {
          counts.set(client.protocol, (counts.get(client.protocol) ?? 0) + 1);
        }
        for (const [protocol, n] of counts) {
          this.set({ protocol }, n);
        }
      },
    });
    new Gauge({
      name: 'nimbus_sessions',
      help: 'Live sessions by protocol (including those not connected to an application yet)',
      labelNames: ['protocol'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [protocol, n] of Object.entries(source.sessions())) {
          this.set({ protocol }, n);
        }
      },
    });
    new Gauge({
      name: 'nimbus_publications',
      help: 'Running publications',
      registers: [registry],
      collect() {
        let n = 0;
        for (const p of core.publications.values()) {
          n += p.running ? 1 : 0;
        }
        this.set(n);
      },
    });
    new Gauge({
      name: 'nimbus_subscribers',
      help: 'Subscribers of publications by protocol',
      labelNames: ['protocol'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const p of core.publications.values()) {
          for (const l of p.listeners) {
            const protocol = l.client?.protocol ?? 'server';
            counts.set(protocol, (counts.get(protocol) ?? 0) + 1);
          }
        }
        for (const [protocol, n] of counts) {
          this.set({ protocol }, n);
        }
      },
    });
    new Gauge({
      name: 'nimbus_publication_bitrate_bits',
      help: 'Bit rate received for each running publication, by media kind',
      labelNames: ['publication', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of core.publications.values()) {
          if (p.running) {
            const [audio, video, data] = p.meter.rates();
            this.set({ publication: p.name, kind: 'audio' }, Math.round(audio * 8));
            this.set({ publication: p.name, kind: 'video' }, Math.round(video * 8));
            this.set({ publication: p.name, kind: 'data' }, Math.round(data * 8));
          }
        }
      },
    });
    new Gauge({
      name: 'nimbus_dropped_frames',
      help: 'Frames dropped for lagging subscribers of running publications',
      registers: [registry],
      collect() {
        let n = 0;
        for (const p of core.publications.values()) {
          n += p.droppedFrames;
        }
        this.set(n);
      },
    });
    new Gauge({
      name: 'nimbus_mesh_links',
      help: 'Open links to other instances of the mesh',
      registers: [registry],
      collect() {
        this.set(source.mesh?.list().length ?? 0);
      },
    });
    this.httpRequests = new Counter({ name: 'nimbus_http_requests_total', help: 'HTTP requests answered, by status class', labelNames: ['status'], registers: [registry] });
  }
}
