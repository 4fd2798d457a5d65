import { readFileSync } from 'node:fs';

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
}

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

const label = (n: ProfileNode) => {
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
      if (c.callFrame.url.includes('/dist/') && !c.callFrame.url.includes('node_modules/')) {
        const l = label(c);
        if (!seen.has(l)) {
          seen.add(l);
          inclusive.set(l, (inclusive.get(l) ?? 0) + ms);
        }
      }
    }
  }
  const busy = totalMs - idleMs;
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => ({ ms, share: ms / busy, k }));
  return {
    totalMs, idleMs,
    byArea: rank(area).map(({ k, ms, share }) => ({ area: k, ms, share })),
    topFunctions: rank(fn).map(({ k, ms, share }) => ({ fn: k, ms, share })),
    topProjectInclusive: rank(inclusive).map(({ k, ms, share }) => ({ fn: k, ms, share })),
  };
}
