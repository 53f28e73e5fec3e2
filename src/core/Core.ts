import { RejectionError, errorMessage, rejectPlay, rejectPublish } from '../errors.js';
import { Logger } from '../util/Logger.js';
import type { Client } from './Client.js';
import { Group, type GroupMember } from './Group.js';
import { Listener, type ListenerOwner } from './Listener.js';
import type { SubscriberLimits } from '../media/Subscriber.js';
import { QueueBudget } from '../media/QueueBudget.js';
import type { FeedOptions } from '../media/MediaFeed.js';
import { type RecordMode, type RecordPlan, Recordings } from '../media/record/Recordings.js';
import { Publication } from './Publication.js';
import type { ConnectionResponse, ServerHooks } from './ServerHooks.js';

const log = new Logger('core');

export interface CoreOptions {
  gopCache: boolean;
  gopCacheMaxBytes: number;
  subscriberQueueBytes: number;
  subscriberTimeoutMs: number;
  /** What this thread's subscribers may hold queued together (0: no budget). */
  queueBudgetBytes?: number;
  /** Where `publish(name, "record" | "append")` records (application.recordDir); null or absent: no recording. */
  recordDir?: string | null;
}

/** A hook failure as a rejection: a RejectionError keeps its code, anything else becomes `fallback` with its message. */
const asRejection = (err: unknown, fallback: (reason: string) => RejectionError): RejectionError =>
  err instanceof RejectionError ? err : fallback(errorMessage(err));

/** `name?a=1&b=2` → ['name', {a:'1', b:'2'}] */
export const splitStreamName = (full: string): [string, Record<string, string>] => {
  const q = full.indexOf('?');
  if (q < 0) {
    return [full, {}];
  }
  const parameters: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(full.slice(q + 1))) {
    parameters[k] = v;
  }
  return [full.slice(0, q), parameters];
};

/**
 * The protocol-agnostic core: registries of clients and publications and the one place where
 * hooks are applied. Protocols call it; it knows no socket, no wire format and no script.
 */
export class Core {
  readonly clients = new Map<string, Client>();
  readonly publications = new Map<string, Publication>();
  /** NetGroups by 64-hex group ID. */
  readonly groups = new Map<string, Group>();
  /** What each subscriber may queue and how long it may lag (media.subscriberQueueBytes/Timeout). */
  readonly limits: SubscriberLimits;
  /** The late-joiner cache of every publication (media.gopCache, media.gopCacheMaxBytes). */
  readonly feedOptions: FeedOptions;
  /** The recordings of publications (NetStream record/append, the scripts' media writers). */
  readonly recordings: Recordings;

  constructor(
    public hooks: ServerHooks,
    private readonly options: CoreOptions,
  ) {
    const budget = options.queueBudgetBytes ?? 0;
    this.limits = {
      maxQueuedBytes: options.subscriberQueueBytes,
      timeoutMs: options.subscriberTimeoutMs,
      budget: budget > 0 ? new QueueBudget(budget) : null,
    };
    this.feedOptions = { gopCache: options.gopCache, gopCacheMaxBytes: options.gopCacheMaxBytes };
    this.recordings = new Recordings(options.recordDir ?? null);
  }

  /** Runs `onConnection`; resolves to the response fields, rejects with a RejectionError. */
  async connect(client: Client, args: readonly unknown[]): Promise<ConnectionResponse> {
    let response: ConnectionResponse | undefined;
    try {
      response = await this.hooks.onConnection(client, args);
    } catch (err) {
      throw asRejection(err, (reason) => new RejectionError('MS_ERR_CONNECT_REJECTED', reason));
    }
    if (client.state === 'closed') {
      throw new RejectionError('MS_ERR_CONNECT_REJECTED', 'client left during onConnection');
    }
    client.state = 'connected';
    this.clients.set(client.id, client);
    if (response !== undefined) {
      Object.assign(client.parameters, response);
    }
    return response ?? {};
  }

  /** The client is gone: its publications and listeners must have been released by the protocol first. */
  disconnect(client: Client): void {
    const wasConnected = client.state === 'connected';
    client.state = 'closed';
    if (!wasConnected) {
      return;
    }
    this.clients.delete(client.id);
    this.callQuietly('onDisconnection', () => this.hooks.onDisconnection(client));
  }

  publication(name: string): Publication | undefined {
    return this.publications.get(name);
  }

  private publicationFor(name: string): Publication {
    let publication = this.publications.get(name);
    if (publication === undefined) {
      publication = new Publication(name, this.feedOptions, this.limits);
      this.publications.set(name, publication);
    }
    return publication;
  }

  /**
   * Start publishing `name` for `client` (null: a script or the mesh). `onAccepted` runs once the
   * hook agreed and before any frame can flow, so the protocol sends its status first. `record`
   * (NetStream `publish(name, "record" | "append")`) records the publication to its file from its
   * first frame on; a name that cannot be a file is refused before the hook runs.
   */
  async publish(client: Client | null, name: string, onAccepted?: (p: Publication) => void, record: RecordMode | null = null): Promise<Publication> {
    if (name === '') {
      throw rejectPublish('empty publication name');
    }
    const existing = this.publications.get(name);
    if (existing?.running === true) {
      throw rejectPublish(`${name} is already published`);
    }
    let plan: RecordPlan | null = null;
    if (record !== null) {
      try {
        plan = await this.recordings.prepare(name, record);
      } catch (err) {
        throw asRejection(err, rejectPublish);
      }
      if (this.publications.get(name)?.running === true) {
        throw rejectPublish(`${name} is already published`);
      }
    }
    const publication = this.publicationFor(name);
    if (client !== null) {
      try {
        await this.hooks.onPublish(client, publication);
      } catch (err) {
        this.dropIfIdle(publication);
        throw asRejection(err, rejectPublish);
      }
      if (publication.running) {
        throw rejectPublish(`${name} is already published`);
      }
      if (client.state === 'closed') {
        this.dropIfIdle(publication);
        throw rejectPublish('client left during onPublish');
      }
    }
    onAccepted?.(publication);
    if (plan !== null) {
      this.recordings.start(plan, publication.feed);
    }
    publication.start(client);
    log.info(`publication ${name} started${client === null ? '' : ` by ${client.protocol} ${client.address}`}`);
    return publication;
  }

  unpublish(publication: Publication): void {
    if (!publication.running) {
      return;
    }
    const publisher = publication.publisher;
    publication.stop();
    log.info(`publication ${publication.name} stopped (${publication.frames} frames)`);
    if (publisher !== null) {
      this.callQuietly('onUnpublish', () => this.hooks.onUnpublish(publisher, publication));
    }
    this.dropIfIdle(publication);
  }

  /**
   * Subscribe `client` to `fullName` (`name?query`). The publication need not be running yet.
   * `onAccepted` runs after the hook agreed: the protocol sends its statuses, then attaches its
   * subscriber to the publication's outputs (which sends it the cached frames).
   */
  async subscribe(
    client: Client | null,
    fullName: string,
    owner: ListenerOwner,
    onAccepted?: (l: Listener) => void,
  ): Promise<Listener> {
    const [name, parameters] = splitStreamName(fullName);
    if (name === '') {
      throw rejectPlay('empty stream name');
    }
    const publication = this.publicationFor(name);
    // As MonaServer: one subscription per client and publication (scripts' `publication.listeners` is keyed by client).
    if (client !== null && [...publication.listeners].some((l) => l.client === client)) {
      throw rejectPlay(`already subscribed to ${name}`);
    }
    const listener = new Listener(client, publication, owner, parameters);
    if (client !== null) {
      try {
        await this.hooks.onSubscribe(client, listener);
      } catch (err) {
        this.dropIfIdle(publication);
        throw asRejection(err, rejectPlay);
      }
      if (client.state === 'closed') {
        this.dropIfIdle(publication);
        throw rejectPlay('client left during onSubscribe');
      }
    }
    publication.attach(listener);
    onAccepted?.(listener);
    return listener;
  }

  unsubscribe(listener: Listener): void {
    if (listener.released) {
      return;
    }
    listener.released = true;
    listener.closed = true;
    const publication = listener.publication;
    publication.detach(listener);
    const client = listener.client;
    if (client !== null) {
      this.callQuietly('onUnsubscribe', () => this.hooks.onUnsubscribe(client, listener));
    }
    this.dropIfIdle(publication);
  }

  /** RPC from a client: resolves to the values for `_result`, rejects with a CALL_FAILED RejectionError. */
  async call(client: Client, name: string, args: readonly unknown[]): Promise<readonly unknown[]> {
    try {
      return await this.hooks.onMessage(client, name, args);
    } catch (err) {
      throw asRejection(err, (reason) => new RejectionError('MS_ERR_CALL_FAILED', reason));
    }
  }

  /**
   * Adds a member to a group (created on first join). `client` null makes a virtual member: a
   * peer that lives elsewhere (a script's `mona:joinGroup`, the mesh); virtual members fire no hook.
   */
  joinGroup(groupId: Buffer, peerId: Buffer, client: Client | null): { group: Group; member: GroupMember } {
    const key = groupId.toString('hex');
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new Group(Buffer.from(groupId));
      this.groups.set(key, group);
    }
    const id = peerId.toString('hex');
    let member = group.members.get(id);
    if (member === undefined) {
      member = { rawId: Buffer.from(peerId), id, client };
      group.members.set(id, member);
      const hooks = this.hooks;
      if (client !== null && hooks.onJoinGroup !== undefined) {
        this.callQuietly('onJoinGroup', () => hooks.onJoinGroup?.(client, group));
      }
    }
    return { group, member };
  }

  leaveGroup(group: Group, peerId: string): void {
    const member = group.members.get(peerId);
    if (member === undefined) {
      return;
    }
    group.members.delete(peerId);
    const client = member.client;
    const hooks = this.hooks;
    if (client !== null && hooks.onUnjoinGroup !== undefined) {
      this.callQuietly('onUnjoinGroup', () => hooks.onUnjoinGroup?.(client, group));
    }
    if (group.members.size === 0 && this.groups.get(group.id) === group) {
      this.groups.delete(group.id);
    }
  }

  private dropIfIdle(publication: Publication): void {
    if (publication.idle && this.publications.get(publication.name) === publication) {
      this.publications.delete(publication.name);
    }
  }

  /** Hooks whose answer changes nothing: an error is logged, never propagated into a session. */
  private callQuietly(hook: string, fn: () => unknown): void {
    try {
      const result = fn();
      if (result instanceof Promise) {
        result.catch((err: unknown) => log.error(`${hook} failed: ${errorMessage(err)}`));
      }
    } catch (err) {
      log.error(`${hook} failed: ${errorMessage(err)}`);
    }
  }
}
