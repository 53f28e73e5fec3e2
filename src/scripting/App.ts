import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Publication } from '../core/Publication.js';

export type AppKind = 'lua' | 'js' | 'none';

/** Main files looked for in an app folder, in this order. */
export const MAIN_FILES: ReadonlyArray<[string, AppKind]> = [
  ['main.lua', 'lua'],
  ['main.js', 'js'],
  ['main.mjs', 'js'],
];

/** How often an app's main file is checked for changes (mona-api.md §3.3). */
export const RELOAD_CHECK_MS = 2000;

let nextAppId = 1;

/**
 * One node of the app tree: `www/` is the root (path ""), `www/a/b` is "/a/b". A folder without a
 * main file is an empty app that inherits its parent. The node remembers which file it ran and
 * when, so a change is noticed at the next check (at most every 2 s).
 */
export class App {
  readonly id = nextAppId++;
  readonly name: string;
  readonly children = new Map<string, App>();
  /** The main file found at the last check, or null. */
  file: string | null = null;
  kind: AppKind = 'none';
  /** mtime of `file` when it was loaded (0: nothing loaded). */
  loadedMtime = 0;
  lastCheck = 0;
  loaded = false;
  /** The load in progress (JS imports and the first Lua state are asynchronous). */
  loading: Promise<void> | null = null;
  /** The compile or run error of the main file, kept until the file changes. */
  error: string | null = null;
  /** Publications this app made with `mona:publish`: closed when it stops. */
  readonly publications = new Set<Publication>();
  /** Runtime state (the Lua env reference, the JS module). */
  runtime: unknown = null;

  constructor(
    readonly path: string,
    readonly dir: string,
    readonly parent: App | null,
  ) {
    this.name = path === '' ? '' : path.slice(path.lastIndexOf('/') + 1);
  }

  /** "/" for the root, else the path: how logs and messages name the app. */
  get label(): string {
    return this.path === '' ? '/' : this.path;
  }

  /** The main file now on disk and its mtime (null/0 when there is none). */
  scan(): { file: string | null; kind: AppKind; mtime: number } {
    for (const [name, kind] of MAIN_FILES) {
      const file = join(this.dir, name);
      try {
        const st = statSync(file);
        if (st.isFile()) {
          return { file, kind, mtime: st.mtimeMs };
        }
      } catch {
        // not this one
      }
    }
    return { file: null, kind: 'none', mtime: 0 };
  }


  /** The runtime whose hooks serve this app: its own, or the nearest ancestor's that has a main file. */
  get effectiveKind(): AppKind {
    for (const app of this.lineage()) {
      if (app.kind !== 'none') {
        return app.kind;
      }
    }
    return 'none';
  }

  /** This app, then its parent, up to the root. */
  *lineage(): Generator<App> {
    yield this;
    for (let app = this.parent; app !== null; app = app.parent) {
      yield app;
    }
  }
}
