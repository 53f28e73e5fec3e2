/**
 * XML text to a small tree, for `fromXML` and `fromXMLRPC`. The parsing is saxes' (a strict,
 * streaming XML 1.0 parser: well-formedness errors with line and column, entities and character
 * references decoded, CDATA, comments, processing instructions, the XML declaration); this file
 * only builds the tree and keeps text as MonaServer's XMLParser hands it over when asked to.
 */
import { SaxesParser } from 'saxes';

export interface XmlTreeElement {
  name: string;
  attributes: Record<string, string>;
  children: Array<XmlTreeElement | string>;
}

/** A processing instruction (`<?name a="1" ?>`, the XML declaration included) and its pseudo-attributes. */
export interface XmlTreeInfo {
  name: string;
  attributes: Record<string, string>;
}

export interface XmlTree {
  infos: XmlTreeInfo[];
  elements: XmlTreeElement[];
}

export interface XmlTreeOptions {
  /**
   * MonaServer's text handling: each run of text is trimmed (CDATA sections are kept as they
   * are) and a run left empty is dropped. Without it, text is kept exactly.
   */
  trim?: boolean;
  /** Deepest element nesting accepted. */
  maxDepth?: number;
}

const PSEUDO_ATTRIBUTE = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

const pseudoAttributes = (body: string): Record<string, string> => {
  const attributes: Record<string, string> = {};
  for (const m of body.matchAll(PSEUDO_ATTRIBUTE)) {
    Object.defineProperty(attributes, m[1], { value: m[2] ?? m[3] ?? '', enumerable: true, writable: true, configurable: true });
  }
  return attributes;
};

/** Text pieces of one run: [text, isCdata]. */
type Run = Array<[string, boolean]>;

const runText = (run: Run, trim: boolean): string => {
  if (!trim) {
    return run.map(([text]) => text).join('');
  }
  const parts = run.map(([text]) => text);
  if (!run[0][1]) {
    parts[0] = parts[0].trimStart();
  }
  const last = run.length - 1;
  if (!run[last][1]) {
    parts[last] = parts[last].trimEnd();
  }
  return parts.join('');
};

export const parseXmlTree = (text: string, options: XmlTreeOptions = {}): XmlTree => {
  const trim = options.trim === true;
  const maxDepth = options.maxDepth ?? 256;
  const tree: XmlTree = { infos: [], elements: [] };
  const open: XmlTreeElement[] = [];
  let run: Run = [];
  const flush = (): void => {
    const parent = open.at(-1);
    if (run.length > 0 && parent !== undefined) {
      const value = runText(run, trim);
      if (value !== '') {
        parent.children.push(value);
      }
    }
    run = [];
  };
  const parser = new SaxesParser({ xmlns: false });
  parser.on('xmldecl', (decl) => {
    const attributes: Record<string, string> = {};
    for (const key of ['version', 'encoding', 'standalone'] as const) {
      const value = decl[key];
      if (value !== undefined) {
        attributes[key] = value;
      }
    }
    tree.infos.push({ name: 'xml', attributes });
  });
  parser.on('processinginstruction', ({ target, body }) => {
    tree.infos.push({ name: target, attributes: pseudoAttributes(body) });
  });
  parser.on('opentag', (tag) => {
    flush();
    if (open.length >= maxDepth) {
      throw new Error(`XML nested deeper than ${maxDepth} elements`);
    }
    const element: XmlTreeElement = { name: tag.name, attributes: { ...tag.attributes }, children: [] };
    (open.at(-1)?.children ?? tree.elements).push(element);
    open.push(element);
  });
  parser.on('closetag', () => {
    flush();
    open.pop();
  });
  parser.on('text', (value) => {
    if (open.length > 0) {
      run.push([value, false]);
    }
  });
  parser.on('cdata', (value) => {
    run.push([value, true]);
  });
  parser.write(text).close();
  return tree;
};
