import { statSync } from 'node:fs';
import { join } from 'node:path';
import { RejectionError } from '../errors.js';
import { App } from './App.js';

const isDirectory = (dir: string): boolean => {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
};

/**
 * The app tree under `<application.dir>/www`: `resolve("/a/b")` finds (and creates on first use)
 * the node of `www/a/b`. When `www/` does not exist there are no applications at all and every
 * path gets the default behaviour (a newcomer can publish to rtmp://host/live/s).
 */
export class AppTree {
  readonly root: App;
  private readonly byId = new Map<number, App>();

  constructor(readonly wwwDir: string) {
    this.root = new App('', wwwDir, null);
    this.byId.set(this.root.id, this.root);
  }

  /** True when `www/` exists (else no app runs and every path is accepted). */
  get enabled(): boolean {
    return isDirectory(this.wwwDir);
  }

  byAppId(id: number): App | undefined {
    return this.byId.get(id);
  }

  /**
   * The app at `path` ("" or "/a/b"), or a RejectionError `MS_ERR_CONNECT_INVALID_APP` when its
   * folder does not exist. Nodes whose folder disappeared are dropped (with `onRemoved`).
   */
  resolve(path: string, onRemoved: (app: App) => void): App {
    let node = this.root;
    for (const segment of path.split('/').filter((s) => s !== '')) {
      if (segment === '..' || segment === '.') {
        throw this.invalid(path);
      }
      let child = node.children.get(segment);
      const dir = join(node.dir, segment);
      if (child !== undefined && !isDirectory(dir)) {
        this.remove(child, onRemoved);
        child = undefined;
      }
      if (child === undefined) {
        if (!isDirectory(dir)) {
          throw this.invalid(path);
        }
        child = new App(`${node.path}/${segment}`, dir, node);
        node.children.set(segment, child);
        this.byId.set(child.id, child);
      }
      node = child;
    }
    return node;
  }

  /** A child app by name ("a" or "a/b"), or null when its folder does not exist. */
  child(app: App, name: string, onRemoved: (app: App) => void): App | null {
    try {
      return this.resolve(`${app.path}/${name}`, onRemoved);
    } catch {
      return null;
    }
  }

  private invalid(path: string): RejectionError {
    return new RejectionError('MS_ERR_CONNECT_INVALID_APP', `Application ${path === '' ? '/' : path} doesn't exist`);
  }

  private remove(app: App, onRemoved: (app: App) => void): void {
    for (const child of app.children.values()) {
      this.remove(child, onRemoved);
    }
    onRemoved(app);
    app.parent?.children.delete(app.name);
    this.byId.delete(app.id);
  }

  /** Every app node, deepest first (the order apps stop in). */
  all(): App[] {
    const out: App[] = [];
    const walk = (app: App): void => {
      for (const child of app.children.values()) {
        walk(child);
      }
      out.push(app);
    };
    walk(this.root);
    return out;
  }
}
