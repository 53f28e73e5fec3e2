import type { ScriptServer, ServerDirectory } from './ServerDirectory.js';

/** What `onHandshake`/`onRendezVousUnknown` return, turned into redirection addresses (mona-api.md §1.7). */
export interface AddressSources {
  servers: ServerDirectory;
  isServer(value: unknown): value is ScriptServer;
  /** True for the `mona.servers` collection (or its `initiators`/`targets` views). */
  serverList(value: unknown): readonly ScriptServer[] | null;
}

const MAX_DEPTH = 8;

/**
 * Flattens returned values into "host:port" strings: strings as they are ("myself", and Cumulus's
 * "again", mean this server as the client reached it and come out as "myself"), server objects as
 * their public address for `protocol`, the servers collection as every server, arrays recursively.
 * Anything else is reported through `warn` and skipped.
 */
export const resolveAddresses = (
  values: readonly unknown[],
  protocol: string,
  sources: AddressSources,
  warn: (message: string) => void,
): string[] => {
  const out: string[] = [];
  const add = (value: unknown, depth: number): void => {
    if (value === null || value === undefined) {
      return;
    }
    if (typeof value === 'string') {
      const lower = value.trim().toLowerCase();
      if (lower === 'myself' || lower === 'again') {
        out.push('myself');
      } else if (value.trim() !== '') {
        out.push(value.trim());
      }
      return;
    }
    if (sources.isServer(value)) {
      const address = value.publicAddress(protocol);
      if (address === null) {
        warn(`server ${value.address} has no ${protocol} address to redirect to`);
      } else {
        out.push(address);
      }
      return;
    }
    const list = sources.serverList(value);
    if (list !== null) {
      for (const server of list) {
        add(server, depth + 1);
      }
      return;
    }
    if (Array.isArray(value) && depth < MAX_DEPTH) {
      for (const item of value) {
        add(item, depth + 1);
      }
      return;
    }
    warn(`cannot redirect to a ${typeof value} value`);
  };
  for (const value of values) {
    add(value, 0);
  }
  return out;
};
