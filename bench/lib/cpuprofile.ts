/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and lists where the time went: self time per function
 * (the samples whose top frame it is) and total time (samples with it anywhere on the stack,
 * recursion counted once), as text for a terminal or a report. Also sums a `.heapsnapshot` per
 * constructor (what multiplies per session). V8 samples a thread blocked in Atomics.wait (piscina's
 * idle pool threads, in `atomicsWaitLoop`) as running: that time is counted as idle here.
 */
import { readFileSync } from 'node:fs';
import { repoRoot } from './proc.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
  selfShare: number;
  totalShare: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  sampledMs: number;
  /** Share of the samples in (idle), (program) and (garbage collector). */
  idleShare: number;
  gcShare: number;
  programShare: number;
  functions: FunctionTime[];
}

const where = (url: string, line: number): string => {
  if (url === '') {
    return '';
  }
  const path = url.replace(/^file:\/\//, '').replace(repoRoot, '');
  return `${path}:${line + 1}`;
};

export const summarizeProfile = (file: string): ProfileSummary => {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) {
      parent.set(c, n.id);
    }
  }
  // Time per sample from the deltas when present (exact), else the mean interval.
  const hits = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  const samples = profile.samples ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    for (let i = 0; i < samples.length; i++) {
      // The delta before sample i+1 is the time sample i stood for.
      const ms = (deltas[i + 1] ?? 0) / 1000;
      hits.set(samples[i], (hits.get(samples[i]) ?? 0) + ms);
    }
  } else {
    const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
    const per = total > 0 ? (profile.endTime - profile.startTime) / 1000 / total : 0;
    for (const n of profile.nodes) {
      hits.set(n.id, (n.hitCount ?? 0) * per);
    }
  }
  const key = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame.url, n.callFrame.lineNumber)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  let gc = 0;
  let program = 0;
  for (const [id, ms] of hits) {
    if (ms === 0) {
      continue;
    }
    const node = byId.get(id);
    if (node === undefined) {
      continue;
    }
    sampled += ms;
    const name = node.callFrame.functionName;
    // A thread blocked in Atomics.wait (piscina's idle workers) is sampled as if it ran: idle.
    if (name === '(idle)' || name === 'atomicsWaitLoop') {
      idle += ms;
    } else if (name === '(garbage collector)') {
      gc += ms;
    } else if (name === '(program)') {
      program += ms;
    }
    self.set(key(node), (self.get(key(node)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = key(byId.get(at)!);
      if (!seen.has(k)) {
        seen.add(k);
        total.set(k, (total.get(k) ?? 0) + ms);
      }
    }
  }
  const busy = sampled - idle;
  const functions = [...total.keys()]
    .filter((k) => !k.startsWith('(root)') && !k.startsWith('(idle)') && !k.startsWith('atomicsWaitLoop'))
    .map((k) => {
      const [name, at] = k.split('\u0000');
      return {
        name,
        where: at,
        selfMs: self.get(k) ?? 0,
        totalMs: total.get(k) ?? 0,
        selfShare: busy > 0 ? (self.get(k) ?? 0) / busy : 0,
        totalShare: busy > 0 ? (total.get(k) ?? 0) / busy : 0,
      };
    });
  return {
    file,
    durationMs: (profile.endTime - profile.startTime) / 1000,
    sampledMs: sampled,
    idleShare: sampled > 0 ? idle / sampled : 0,
    gcShare: busy > 0 ? gc / busy : 0,
    programShare: busy > 0 ? program / busy : 0,
    functions,
  };
};

/** The top `n` functions by self time and by total time (Nimbus's own code, src/ or dist/, for the latter). */
export const renderProfile = (s: ProfileSummary, n = 20): string => {
  const line = (f: FunctionTime): string =>
    `${(f.selfShare * 100).toFixed(1).padStart(5)} % self ${(f.totalShare * 100).toFixed(1).padStart(5)} % total  ${f.name}  ${f.where}`;
  const bySelf = [...s.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, n);
  const ours = [...s.functions].filter((f) => /^(src|dist)\//.test(f.where)).sort((a, b) => b.totalMs - a.totalMs).slice(0, n);
  return [
    `${s.file}: ${(s.durationMs / 1000).toFixed(1)} s profiled, ${((1 - s.idleShare) * 100).toFixed(0)} % of the main thread busy; of the busy time ${(s.gcShare * 100).toFixed(1)} % garbage collection, ${(s.programShare * 100).toFixed(1)} % (program: native code, the kernel's socket calls)`,
    '',
    `top ${n} by self time (share of the busy time):`,
    ...bySelf.map(line),
    '',
    `top ${n} of Nimbus's own functions by total time (callees included):`,
    ...ours.map(line),
  ].join('\n');
};

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapClass {
  type: string;
  name: string;
  count: number;
  selfBytes: number;
}

/**
 * A V8 `.heapsnapshot` (node --heapsnapshot-signal) summed per constructor: object count and
 * self size (not retained size), largest first. Enough to see which objects multiply per session.
 */
export const summarizeHeapSnapshot = (file: string): { totalBytes: number; classes: HeapClass[] } => {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKey = new Map<string, HeapClass>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]];
    // Strings, code and hidden V8 internals are grouped by type; objects and closures by name.
    const name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[snap.nodes[i + nameAt]] : `(${type})`;
    const size = snap.nodes[i + sizeAt];
    total += size;
    const key = `${type}\u0000${name}`;
    const c = byKey.get(key) ?? { type, name, count: 0, selfBytes: 0 };
    c.count++;
    c.selfBytes += size;
    byKey.set(key, c);
  }
  return { totalBytes: total, classes: [...byKey.values()].sort((a, b) => b.selfBytes - a.selfBytes) };
};

export const renderHeap = (file: string, s: { totalBytes: number; classes: HeapClass[] }, perUnit: number, unit: string, n = 20): string =>
  [
    `${file}: ${(s.totalBytes / 1048576).toFixed(1)} MiB of JS heap objects (self sizes); per ${unit}: ${perUnit > 0 ? `${(s.totalBytes / perUnit / 1024).toFixed(1)} KiB` : '-'}`,
    `top ${n} by self size (count, MiB, per ${unit}):`,
    ...s.classes
      .slice(0, n)
      .map((c) => `${String(c.count).padStart(9)}  ${(c.selfBytes / 1048576).toFixed(2).padStart(8)} MiB  ${perUnit > 0 ? `${(c.count / perUnit).toFixed(1).padStart(8)} objects ${(c.selfBytes / perUnit / 1024).toFixed(1).padStart(7)} KiB` : ''}  ${c.type} ${c.name}`),
  ].join('\n');
