import luaparse from 'luaparse';

/**
 * Lua 5.0/5.1 idioms that MonaServer and CumulusServer scripts use and Lua 5.4 lacks, rewritten in
 * the source before it is loaded, on the same lines (an error still names the script's own line):
 *
 * - the implicit `arg` table of a vararg function (Lua 5.0): a function with `...` that reads a
 *   free `arg` gets `local arg = table.pack(...)` right after its parameter list;
 * - `module(name, package.seeall)` (Lua 5.1) at a chunk's top level becomes
 *   `local _ENV = __nimbus_module(_ENV, name, package.seeall)`: the rest of the chunk then defines
 *   the module's fields, as `module` did by changing the chunk's environment.
 *
 * A chunk luaparse cannot read (Lua 5.4-only syntax) is loaded as it is: Lua reports real errors.
 */

interface Node {
  type: string;
  range?: [number, number];
  [key: string]: unknown;
}

interface Edit {
  at: number;
  /** Characters replaced from `at` (0: an insertion). */
  length: number;
  text: string;
}

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';

/** Names a node declares in the scope it opens or belongs to. */
const declared = (node: Node): string[] => {
  const names = (list: unknown): string[] => (Array.isArray(list) ? list.filter(isNode).filter((n) => n.type === 'Identifier').map((n) => n.name as string) : []);
  switch (node.type) {
    case 'LocalStatement':
      return names(node.variables);
    case 'ForNumericStatement':
      return isNode(node.variable) ? [node.variable.name as string] : [];
    case 'ForGenericStatement':
      return names(node.variables);
    case 'FunctionDeclaration':
      return node.isLocal === true && isNode(node.identifier) && node.identifier.type === 'Identifier' ? [node.identifier.name as string] : [];
    default:
      return [];
  }
};

class Rewriter {
  readonly edits: Edit[] = [];

  constructor(private readonly source: string) {}

  /** Walks `node`; `scopes` are the names declared around it, `vararg` the innermost vararg function that has no `arg` of its own. */
  walk(node: Node, scopes: Set<string>[], vararg: { node: Node; needsArg: boolean } | null, topLevel: boolean): void {
    if (node.type === 'FunctionDeclaration') {
      this.enterFunction(node, scopes, vararg);
      return;
    }
    if (node.type === 'Identifier') {
      if (node.name === 'arg' && vararg !== null && !scopes.some((s) => s.has('arg'))) {
        vararg.needsArg = true;
      }
      return;
    }
    if (topLevel && node.type === 'CallStatement') {
      this.rewriteModule(node, scopes);
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'range' || key === 'loc') {
        continue;
      }
      // `t.arg`, `t:arg()` and `{ arg = 1 }` name fields, not the variable; `local arg`, `for arg`, a
      // function's name declare one.
      if (
        (node.type === 'MemberExpression' && key === 'identifier') ||
        (node.type === 'TableKeyString' && key === 'key') ||
        (node.type === 'LocalStatement' && key === 'variables') ||
        ((node.type === 'ForNumericStatement' || node.type === 'ForGenericStatement') && (key === 'variable' || key === 'variables'))
      ) {
        continue;
      }
      const children = Array.isArray(value) ? value : [value];
      // A block's statements declare names for the statements after them.
      const opensScope = key === 'body' && Array.isArray(value);
      const scope = opensScope ? new Set<string>() : null;
      const inner = scope === null ? scopes : [...scopes, scope];
      for (const child of children) {
        if (isNode(child)) {
          if (scope !== null && node.type !== 'Chunk' && (node.type === 'ForNumericStatement' || node.type === 'ForGenericStatement')) {
            for (const name of declared(node)) {
              scope.add(name);
            }
          }
          this.walk(child, inner, vararg, topLevel && node.type === 'Chunk');
          if (scope !== null) {
            for (const name of declared(child)) {
              scope.add(name);
            }
          }
        }
      }
    }
  }

  private enterFunction(node: Node, scopes: Set<string>[], outer: { node: Node; needsArg: boolean } | null): void {
    const params = (Array.isArray(node.parameters) ? node.parameters : []).filter(isNode);
    const own = new Set(params.filter((p) => p.type === 'Identifier').map((p) => p.name as string));
    const varargParam = params.find((p) => p.type === 'VarargLiteral');
    // Lua 5.0's `arg` is a local of the vararg function: functions inside it see it as an upvalue.
    const frame = own.has('arg') ? null : varargParam !== undefined ? { node, needsArg: false } : outer;
    const inner = [...scopes, own];
    // Names are resolved inside the function body; an enclosing vararg function's `arg` is not this one's.
    const body = (Array.isArray(node.body) ? node.body : []).filter(isNode);
    const scope = new Set<string>();
    for (const statement of body) {
      this.walk(statement, [...inner, scope], frame, false);
      for (const name of declared(statement)) {
        scope.add(name);
      }
    }
    if (frame !== null && frame !== outer && frame.needsArg && varargParam?.range !== undefined) {
      const close = this.source.indexOf(')', varargParam.range[1]);
      if (close >= 0) {
        this.edits.push({ at: close + 1, length: 0, text: ' local arg = table.pack(...);' });
      }
    }
  }

  private rewriteModule(statement: Node, scopes: Set<string>[]): void {
    const call = statement.expression;
    if (!isNode(call) || call.type !== 'CallExpression' || !isNode(call.base) || call.base.type !== 'Identifier' || call.base.name !== 'module') {
      return;
    }
    if (scopes.some((s) => s.has('module')) || call.range === undefined || call.base.range === undefined) {
      return;
    }
    const base = call.base.range;
    const open = this.source.indexOf('(', base[1]);
    if (open < 0 || open >= call.range[1]) {
      return;
    }
    const args = Array.isArray(call.arguments) ? call.arguments : [];
    this.edits.push({ at: base[0], length: open + 1 - base[0], text: `local _ENV = __nimbus_module(_ENV${args.length > 0 ? ', ' : ''}` });
  }
}

/** The source with the rewrites applied (the same text when there is nothing to rewrite or it cannot be parsed). */
export const compatSource = (source: string): string => {
  // Cheap test first: most scripts use neither idiom.
  if (!/\barg\b/.test(source) && !/\bmodule\s*\(/.test(source)) {
    return source;
  }
  let chunk: Node;
  try {
    chunk = luaparse.parse(source, { ranges: true, luaVersion: '5.3', comments: false, scope: false, locations: false }) as unknown as Node;
  } catch {
    return source;
  }
  const rewriter = new Rewriter(source);
  rewriter.walk(chunk, [], null, true);
  if (rewriter.edits.length === 0) {
    return source;
  }
  let out = source;
  for (const edit of [...rewriter.edits].sort((a, b) => b.at - a.at)) {
    out = out.slice(0, edit.at) + edit.text + out.slice(edit.at + edit.length);
  }
  return out;
};

/** `compatSource` on bytes (scripts are read as bytes; non-UTF-8 scripts pass through unchanged). */
export const compatChunk = (code: Buffer): Buffer => {
  const text = code.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(code)) {
    return code;
  }
  const out = compatSource(text);
  return out === text ? code : Buffer.from(out, 'utf8');
};
