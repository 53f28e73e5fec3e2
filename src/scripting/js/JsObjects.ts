import type { Client, ClientWriter } from '../../core/Client.js';
import type { Group } from '../../core/Group.js';
import type { Listener } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { FrameKind } from '../../media/MediaFrame.js';
import type { CollectionSource, Qos, ScriptApi } from '../ScriptApi.js';
import { type ScriptServer, ServerListView, broadcastTo } from '../ServerDirectory.js';
import { typedValues } from '../typedObjects.js';

/** Maps core objects to the objects JS apps see (one each, for as long as the core object lives). */
export interface JsObjectFactory {
  wrap(value: unknown): unknown;
  readonly api: ScriptApi;
  /** A publication's media hooks changed. */
  mediaHooksChanged(publication: JsPublication): void;
}

/** A live, read-only view of a server collection (`mona.clients`...): iterate it, `get(key)`, `count`. */
export class LiveCollection<V = unknown> implements Iterable<[unknown, V]> {
  constructor(
    protected readonly objects: JsObjectFactory,
    private readonly source: CollectionSource,
    private readonly owner: unknown = null,
  ) {}

  get count(): number {
    return this.objects.api.collection(this.source, this.owner).length;
  }

  get size(): number {
    return this.count;
  }

  /** By key (client id, publication name...), 1-based position, or raw 32-byte id. */
  get(key: unknown): V | undefined {
    if (key instanceof JsClient) {
      key = key.core;
    }
    return this.objects.wrap(this.objects.api.collectionGet(this.source, this.owner, key)) as V | undefined;
  }

  *[Symbol.iterator](): Iterator<[unknown, V]> {
    for (const [k, v] of this.objects.api.collection(this.source, this.owner)) {
      yield [this.objects.wrap(k), this.objects.wrap(v) as V];
    }
  }

  keys(): unknown[] {
    return [...this].map(([k]) => k);
  }

  values(): V[] {
    return [...this].map(([, v]) => v);
  }
}

/** `mona.servers`: the mesh peers, with `broadcast` and the `initiators`/`targets` views. */
export class ServerCollection extends LiveCollection<ScriptServer> {
  readonly view: ServerListView;

  constructor(objects: JsObjectFactory, which: 'all' | 'initiators' | 'targets' = 'all') {
    super(objects, which === 'all' ? 'servers' : `servers.${which}`);
    this.view = new ServerListView(objects.api.servers, which);
  }

  get initiators(): ServerCollection {
    return new ServerCollection(this.objects, 'initiators');
  }

  get targets(): ServerCollection {
    return new ServerCollection(this.objects, 'targets');
  }

  broadcast(handler: string, ...args: unknown[]): void {
    broadcastTo(this.objects.api.servers, this.view.servers(), handler, typedValues(args));
  }
}

/** The bytes of one `writeRaw` argument: a Buffer / Uint8Array as is, a string as UTF-8. */
const rawBytes = (value: unknown, index: number): Buffer | null => {
  if (typeof value === 'string') {
    return Buffer.from(value);
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value === undefined || value === null) {
    return null;
  }
  throw new TypeError(`writer.writeRaw(...data): argument #${index + 1} is a ${typeof value}, expected a Buffer or a string`);
};

/**
 * `client.writer` and the writers `newWriter()` returns (MonaServer's LUAWriter, Cumulus's
 * LUAFlowWriter, as luaWriters.ts gives Lua apps): on `writer`, the session's own or a sub-writer.
 */
export class JsWriter {
  /** The script called close(): later writes are its bug and throw, as in Lua apps (luaWriters.ts). */
  private closedByScript = false;
  /** Something was written since the previous flush() (its return value, as MonaServer's). */
  private wrote = false;

  constructor(
    private readonly client: Client,
    private readonly writer: ClientWriter = client.writer,
  ) {}

  /** Sub-writers: RTMFP sends unreliably when false (true, and no effect, elsewhere). */
  get reliable(): boolean {
    return this.writer.reliable ?? true;
  }

  set reliable(on: boolean) {
    if ('reliable' in this.writer) {
      this.writer.reliable = on === true;
    }
  }

  /** Whether a write goes anywhere: throws once the script closed this writer; false when the session did. */
  private writable(method: string): boolean {
    if (this.closedByScript) {
      throw new Error(`writer.${method}: this writer is closed (writer.close() was called)`);
    }
    if (this.client.state === 'closed' || this.writer.isClosed === true) {
      return false;
    }
    this.wrote = true;
    return true;
  }

  writeInvocation(name: string, ...args: unknown[]): void {
    if (this.writable('writeInvocation')) {
      this.writer.writeInvocation(name, ...typedValues(args));
    }
  }

  /** Cumulus's FlowWriter::writeAMFMessage: the same AMF invocation as writeInvocation. */
  writeAMFMessage(name: string, ...args: unknown[]): void {
    if (this.writable('writeAMFMessage')) {
      this.writer.writeInvocation(name, ...typedValues(args));
    }
  }

  writeMessage(...args: unknown[]): void {
    if (this.writable('writeMessage')) {
      this.writer.writeMessage(...typedValues(args));
    }
  }

  /**
   * Each argument (a Buffer, or a string as UTF-8; null/undefined skipped) as one raw unit of the
   * protocol (ClientWriter.writeRaw: RTMP a User Control message body, RTMFP a flow message,
   * WebSocket a binary frame, HTTP the response body).
   */
  writeRaw(...data: unknown[]): void {
    const chunks = data.map(rawBytes).filter((b): b is Buffer => b !== null);
    if (this.writer.writeRaw === undefined) {
      throw new Error(`writer.writeRaw is not supported by ${this.client.protocol}`);
    }
    if (!this.writable('writeRaw')) {
      return;
    }
    for (const chunk of chunks) {
      this.writer.writeRaw(chunk);
    }
  }

  /**
   * Another writer on the same session that closes on its own (RTMFP a new flow, RTMP a new chunk
   * stream); this writer itself where the protocol has no other (MonaServer's Writer::newWriter).
   */
  newWriter(): JsWriter {
    if (this.closedByScript) {
      throw new Error('writer.newWriter: this writer is closed (writer.close() was called)');
    }
    if (this.client.state === 'closed' || this.writer.newWriter === undefined) {
      return this;
    }
    return new JsWriter(this.client, this.writer.newWriter());
  }

  /** Cumulus's name of newWriter. */
  newFlowWriter(): JsWriter {
    return this.newWriter();
  }

  /** Writes leave at once: whether something was written since the previous flush (MonaServer's return value). */
  flush(): boolean {
    const wrote = this.wrote && !this.closedByScript && this.client.state !== 'closed' && this.writer.isClosed !== true;
    this.wrote = false;
    return wrote;
  }

  close(reason = 'closed by the application'): void {
    if (this.closedByScript) {
      return;
    }
    this.closedByScript = true;
    this.writer.close(reason);
  }
}

/** A connected client as a JS app sees it. User fields and RPC methods go on the object itself. */
export class JsClient {
  readonly writer: JsWriter;
  [method: string]: unknown;

  constructor(readonly core: Client) {
    this.writer = new JsWriter(core);
  }

  get id(): string { return this.core.id; }
  get rawId(): Buffer { return this.core.rawId; }
  get address(): string { return this.core.address; }
  get path(): string { return this.core.path; }
  get query(): string { return this.core.query; }
  get protocol(): string { return this.core.protocol; }
  get ping(): number { return this.core.ping; }
  get lastReceptionTime(): number { return this.core.lastReceptionTime; }
  get properties(): Record<string, unknown> { return this.core.properties; }
  get parameters(): Record<string, unknown> { return this.core.parameters; }
}

type FrameHook = ((time: number, packet: Buffer) => void) | null;

/** A publication as a JS app sees it. Setting `onVideo`/`onAudio`/`onData`... subscribes to its frames. */
export class JsPublication {
  readonly listeners: LiveCollection<JsListener>;
  private hooks: { onVideo: FrameHook; onAudio: FrameHook; onData: ((...values: unknown[]) => void) | null; onFlush: (() => void) | null; onProperties: ((p: Record<string, unknown> | null) => void) | null } =
    { onVideo: null, onAudio: null, onData: null, onFlush: null, onProperties: null };

  constructor(
    readonly core: Publication,
    private readonly objects: JsObjectFactory,
  ) {
    this.listeners = new LiveCollection(objects, 'listeners', core);
  }

  get name(): string { return this.core.name; }
  get running(): boolean { return this.core.running; }
  get lastTime(): number { return this.core.lastTime; }
  get droppedFrames(): number { return this.core.droppedFrames; }
  get properties(): Record<string, unknown> { return this.core.properties ?? {}; }
  get audioQOS(): Qos { return this.objects.api.qos(this.core, 'audio'); }
  get videoQOS(): Qos { return this.objects.api.qos(this.core, 'video'); }
  get dataQOS(): Qos { return this.objects.api.qos(this.core, 'data'); }

  get onVideo(): FrameHook { return this.hooks.onVideo; }
  set onVideo(fn: FrameHook) { this.setHook('onVideo', fn); }
  get onAudio(): FrameHook { return this.hooks.onAudio; }
  set onAudio(fn: FrameHook) { this.setHook('onAudio', fn); }
  get onData(): ((...values: unknown[]) => void) | null { return this.hooks.onData; }
  set onData(fn: ((...values: unknown[]) => void) | null) { this.setHook('onData', fn); }
  get onFlush(): (() => void) | null { return this.hooks.onFlush; }
  set onFlush(fn: (() => void) | null) { this.setHook('onFlush', fn); }
  get onProperties(): ((p: Record<string, unknown> | null) => void) | null { return this.hooks.onProperties; }
  set onProperties(fn: ((p: Record<string, unknown> | null) => void) | null) { this.setHook('onProperties', fn); }

  private setHook(name: keyof JsPublication['hooks'], fn: unknown): void {
    (this.hooks as Record<string, unknown>)[name] = typeof fn === 'function' ? fn : null;
    this.objects.mediaHooksChanged(this);
  }

  /** The hooks that are set (the runtime calls them). */
  get mediaHooks(): Readonly<JsPublication['hooks']> {
    return this.hooks;
  }

  pushVideo(time: number, packet: Uint8Array): void {
    this.objects.api.push(this.core, FrameKind.VIDEO, time, Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }

  pushAudio(time: number, packet: Uint8Array): void {
    this.objects.api.push(this.core, FrameKind.AUDIO, time, Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }

  pushData(...values: unknown[]): void {
    this.objects.api.pushData(this.core, typedValues(values), this.core.lastTime);
  }

  flush(): void {}

  close(): void {
    this.objects.api.closePublication(this.core);
  }
}

/** A subscription as a JS app sees it. */
export class JsListener {
  constructor(
    readonly core: Listener,
    private readonly objects: JsObjectFactory,
  ) {}

  get client(): JsClient | null { return this.objects.wrap(this.core.client) as JsClient | null; }
  get publication(): JsPublication { return this.objects.wrap(this.core.publication) as JsPublication; }
  get parameters(): Record<string, string> { return this.core.parameters; }
  get droppedFrames(): number { return this.core.droppedFrames; }
  get receiveAudio(): boolean { return this.core.receiveAudio; }
  set receiveAudio(on: boolean) { this.core.receiveAudio = on; }
  get receiveVideo(): boolean { return this.core.receiveVideo; }
  /** Video back on starts at the next keyframe (the subscriber's drop policy). */
  set receiveVideo(on: boolean) { this.core.receiveVideo = on; }
}

/** An RTMFP NetGroup as a JS app sees it. */
export class JsGroup {
  readonly members: LiveCollection;

  constructor(
    readonly core: Group,
    objects: JsObjectFactory,
  ) {
    this.members = new LiveCollection(objects, 'members', core);
  }

  get id(): string { return this.core.id; }
  get rawId(): Buffer { return this.core.rawId; }
  size(): number { return this.core.size; }
}
