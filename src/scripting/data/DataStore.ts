import { type RootDatabase, TransactionFlags, open } from 'lmdb';
import type { DataValue } from './DataTree.js';

/** Set when the store was made (so a MonaServer folder is imported once, not whenever the store is empty). */
const CREATED_KEY = 'nimbus:created';

/**
 * The persistent data on disk: one LMDB file (`<dir>/nimbus.mdb`), one entry per table (null) and
 * per value, keyed by its path (DataTree). Changes wait in memory until `commit` writes them all
 * in one transaction: LMDB's copy-on-write pages make that transaction all or nothing, and once
 * `commit` returned it survives the process being killed. The flush to the disk itself happens
 * right after, off the main thread (LMDB's overlapping sync), so a commit costs no fsync.
 */
export class DataStore {
  private readonly pending = new Map<string, DataValue | null | undefined>();

  private constructor(
    private readonly db: RootDatabase<DataValue | null, string>,
    /** The store did not exist before (a MonaServer data folder beside it may be imported). */
    readonly created: boolean,
  ) {}

  static open(file: string): DataStore {
    const db = open<DataValue | null, string>({ path: file, noSubdir: true });
    const created = db.get(CREATED_KEY) === undefined;
    if (created) {
      db.putSync(CREATED_KEY, new Date().toISOString());
    }
    return new DataStore(db, created);
  }

  /** Every stored entry, in path order (a table before what it holds). */
  *entries(): Generator<[string, DataValue | null]> {
    for (const { key, value } of this.db.getRange({ start: '/', end: '0' })) {
      yield [key, value];
    }
  }

  /** A change to write at the next commit (undefined: removed). */
  record(path: string, value: DataValue | null | undefined): void {
    this.pending.set(path, value);
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** Writes the recorded changes in one transaction; they stay recorded when it fails. */
  commit(): void {
    if (this.pending.size === 0) {
      return;
    }
    this.db.transactionSync(() => {
      for (const [path, value] of this.pending) {
        if (value === undefined) {
          this.db.removeSync(path);
        } else {
          this.db.putSync(path, value);
        }
      }
    }, TransactionFlags.SYNCHRONOUS_COMMIT | TransactionFlags.NO_SYNC_FLUSH);
    this.pending.clear();
  }

  /** Commits what is left, then closes the file (its last flush goes on in the background). */
  close(): void {
    try {
      this.commit();
    } finally {
      void this.db.close();
    }
  }
}
