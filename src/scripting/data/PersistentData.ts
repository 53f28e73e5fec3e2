import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '../../util/Logger.js';
import { DataStore } from './DataStore.js';
import { DataTree, childPath } from './DataTree.js';
import { monaDataFolder } from './monaDataFolder.js';

const log = new Logger('data');

/** The store's file in `application.dataDir`. */
export const DATA_FILE = 'nimbus.mdb';

/**
 * The server's persistent data (MonaServer's `data`): one tree for every app (an app's `data` is
 * the table at its path), kept in `application.dataDir` (null: in memory only).
 *
 * Scripts read and write the tree in memory, so a read sees the last write at once. Writes are
 * committed in one transaction at the end of the hook call that made them (`commit`, called by
 * the runtimes before the call's answer goes out), and at the latest at the end of the event-loop
 * turn: a write is acknowledged when that transaction committed, and is then never lost, even
 * if the process is killed. The store opens when a script first uses `data`; when it is new and
 * the folder holds MonaServer's data (a folder per key, a file per value), that is imported.
 * One server process per folder.
 */
export class PersistentData {
  private opened: { tree: DataTree; store: DataStore | null } | null = null;
  private scheduled = false;

  constructor(readonly dir: string | null) {}

  get tree(): DataTree {
    this.opened ??= this.open();
    return this.opened.tree;
  }

  private open(): { tree: DataTree; store: DataStore | null } {
    if (this.dir === null) {
      return { tree: new DataTree(), store: null };
    }
    mkdirSync(this.dir, { recursive: true });
    const store = DataStore.open(join(this.dir, DATA_FILE));
    const tree = new DataTree((path, value) => {
      store.record(path, value);
      this.schedule();
    });
    let entries = 0;
    for (const [path, value] of store.entries()) {
      tree.restore(path, value);
      entries++;
    }
    if (store.created) {
      let imported = 0;
      for (const [keys, value] of monaDataFolder(this.dir)) {
        const last = keys.pop()!;
        tree.set(keys.reduce((path, key) => childPath(path, key), ''), last, value);
        imported++;
      }
      if (imported > 0) {
        this.commit(store);
        log.info(`imported ${imported} MonaServer data values from ${this.dir}`);
      }
    }
    log.debug(`${join(this.dir, DATA_FILE)}: ${entries} entries`);
    return { tree, store };
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.commit();
      });
    }
  }

  /** Commits the writes made so far (a failure is logged; they are tried again at the next commit). */
  commit(store = this.opened?.store): void {
    if (store === null || store === undefined || !store.dirty) {
      return;
    }
    try {
      store.commit();
    } catch (err) {
      log.error(`writing ${join(this.dir!, DATA_FILE)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  close(): void {
    const store = this.opened?.store;
    this.opened = null;
    if (store !== null && store !== undefined) {
      try {
        store.close();
      } catch (err) {
        log.error(`closing ${join(this.dir!, DATA_FILE)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
