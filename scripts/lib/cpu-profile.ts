import { existsSync, readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  /** Self time by where the code lives: a node_modules package, the project's own code, node internals, (gc) … */
  byArea: { area: string; ms: number; share: number }[];
  /** Self time of the heaviest functions. */
  topFunctions: { fn: string; ms: number; share: number }[];
  /** Inclusive time of project functions (the function and all it calls). */
  topProjectInclusive: { fn: string; ms: number; share: number }[];
  /** What the same window allocated, from the heap profile written beside it (when there is one). */
  allocations?: AllocationSummary;
}

export interface AllocationSummary {
  /** Bytes allocated in the window (sampled: each sample stands for about the sampling interval). */
  totalBytes: number;
  byArea: { area: string; bytes: number; share: number }[];
  topFunctions: { fn: string; bytes: number; share: number }[];
  /** Allocated by project functions and everything they call. */
  topProjectInclusive: { fn: string; bytes: number; share: number }[];
}

interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

/** Where a V8 sampling heap profile (profile-hook's .heapprofile) says the bytes were allocated. */
export function summarizeHeapProfile(file: string, top = 15): AllocationSummary {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapProfileNode };
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalBytes = 0;
  const walk = (n: HeapProfileNode, project: string[]) => {
    const own = isProject(n.callFrame.url) ? [...project, label(n)] : project;
    if (n.selfSize > 0) {
      totalBytes += n.selfSize;
      const a = areaOf(n.callFrame.url, n.callFrame.functionName);
      area.set(a, (area.get(a) ?? 0) + n.selfSize);
      fn.set(label(n), (fn.get(label(n)) ?? 0) + n.selfSize);
      for (const l of new Set(own)) inclusive.set(l, (inclusive.get(l) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, own);
  };
  walk(head, []);
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, bytes]) => ({ k, bytes, share: bytes / totalBytes }));
  return {
    totalBytes,
    byArea: rank(area).map(({ k, bytes, share }) => ({ area: k, bytes, share })),
    topFunctions: rank(fn).map(({ k, bytes, share }) => ({ fn: k, bytes, share })),
    topProjectInclusive: rank(inclusive).map(({ k, bytes, share }) => ({ fn: k, bytes, share })),
  };
}

const isProject = (url: string) => url.includes('/dist/') && !url.includes('node_modules/');

function areaOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:') || !url.includes('/')) return 'node internals';
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `project ${url.slice(dist + 6).split('/').slice(0, 2).join('/')}`;
  return url;
}

const label = (n: Pick<ProfileNode, 'callFrame'>) => {
  const url = n.callFrame.url;
  const short = url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url.includes('/dist/') ? url.slice(url.indexOf('/dist/') + 6) : url;
  return `${n.callFrame.functionName || '(anonymous)'} ${short}:${n.callFrame.lineNumber + 1}`;
};

/** Self and inclusive times from a V8 .cpuprofile (as written by profile-hook). */
export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const totalMs = (p.endTime - p.startTime) / 1000;
  let idleMs = 0;
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const a = areaOf(n.callFrame.url, n.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + ms);
    fn.set(label(n), (fn.get(label(n)) ?? 0) + ms);
    // inclusive time of project frames on the stack (counted once per stack)
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!;
      if (isProject(c.callFrame.url)) {
        const l = label(c);
        if (!seen.has(l)) {
          seen.add(l);
          inclusive.set(l, (inclusive.get(l) ?? 0) + ms);
        }
      }
    }
  }
  const busy = totalMs - idleMs;
  const heapFile = file.replace(/\.cpuprofile$/, '.heapprofile');
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => ({ ms, share: ms / busy, k }));
  return {
    totalMs, idleMs,
    byArea: rank(area).map(({ k, ms, share }) => ({ area: k, ms, share })),
    topFunctions: rank(fn).map(({ k, ms, share }) => ({ fn: k, ms, share })),
    topProjectInclusive: rank(inclusive).map(({ k, ms, share }) => ({ fn: k, ms, share })),
    allocations: existsSync(heapFile) ? summarizeHeapProfile(heapFile, top) : undefined,
  };
}
