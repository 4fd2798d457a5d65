/** What the bench reads from /proc: CPU time and memory of processes, the machine's busy time, and who is whose child. */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const HZ = 100;

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** The fields of /proc/<pid>/stat after the command name (field 3 = state is index 0). */
function statFields(pid: number): string[] | null {
  const st = readProc(pid, 'stat');
  return st ? st.slice(st.lastIndexOf(')') + 2).split(' ') : null;
}

/** User + system CPU seconds of a process, all its threads, from /proc/<pid>/stat; null once it is gone. */
export function cpuSecondsOf(pid: number): number | null {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / HZ : null;
}

/**
 * The read(2) and write(2) family of system calls a process made (read, readv, write, writev …), all its threads, from
 * /proc/<pid>/io (`syscr` + `syscw`); null once it is gone or not ours to read. Node, Mosquitto and Redis talk to
 * their sockets with these; PostgreSQL and librdkafka use send(2) and recv(2), which Linux does not count there, so
 * their figures are low.
 */
export function ioSyscallsOf(pid: number): number | null {
  const io = readProc(pid, 'io');
  if (!io) return null;
  const n = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
  const total = n('syscr') + n('syscw');
  return Number.isFinite(total) ? total : null;
}

/** Resident set size and its peak, in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; peakRss: number } | null {
  const s = readProc(pid, 'status');
  if (!s) return null;
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  let f: number[];
  try {
    f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return NaN;
  }
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / HZ;
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

/** Every process visible in /proc with its parent, name and command line. */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    const st = readProc(pid, 'stat');
    if (!st) continue;
    const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    out.push({ pid, ppid, comm, cmdline: (readProc(pid, 'cmdline') ?? '').replace(/\0/g, ' ').trim() });
  }
  return out;
}

/** A process to account for: what it is, and whether it is the platform itself or a service it runs on. */
export interface Accounted {
  label: string;
  kind: 'platform' | 'service' | 'bench';
  pid: number;
}

/** CPU seconds and read/write system calls (see ioSyscallsOf) per accounted process at one moment. */
export type CpuSnapshot = Map<number, { label: string; kind: Accounted['kind']; seconds: number; syscalls: number }>;

export function cpuSnapshot(list: readonly Accounted[]): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  for (const p of list) {
    const s = p.pid === process.pid ? (() => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    })() : cpuSecondsOf(p.pid);
    if (s !== null) snap.set(p.pid, { label: p.label, kind: p.kind, seconds: s, syscalls: ioSyscallsOf(p.pid) ?? NaN });
  }
  return snap;
}

/**
 * CPU seconds used between two snapshots, by label (replicas and connections of one label summed). A process that
 * appeared meanwhile counts from its start; one that ended meanwhile is lost (it was idle: pools close idle connections).
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Map<string, { kind: Accounted['kind']; seconds: number; syscalls: number }> {
  const out = new Map<string, { kind: Accounted['kind']; seconds: number; syscalls: number }>();
  for (const [pid, end] of b) {
    const used = end.seconds - (a.get(pid)?.seconds ?? 0);
    const cur = out.get(end.label) ?? { kind: end.kind, seconds: 0, syscalls: 0 };
    cur.seconds += used;
    cur.syscalls += end.syscalls - (a.get(pid)?.syscalls ?? 0);
    out.set(end.label, cur);
  }
  return out;
}
