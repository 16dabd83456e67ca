/** Resident memory of processes this test started (Linux /proc), and finding workerd among them. */
import { readdirSync, readFileSync } from "node:fs";

/** RSS in MiB, or null when the process is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Math.round((Number(kb[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

function parentOf(pid: number): number | null {
  try {
    // Field 4 of /proc/<pid>/stat, after the parenthesised command (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Descendants of `root` (default: this process) whose command name is `name`. */
export function descendantsNamed(name: string, root = process.pid): number[] {
  const pids = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const out: number[] = [];
  for (const pid of pids) {
    if (commandOf(pid) !== name) continue;
    for (let p: number | null = parentOf(pid), hops = 0; p !== null && p > 1 && hops < 32; hops++) {
      if (p === root) {
        out.push(pid);
        break;
      }
      p = parentOf(p);
    }
  }
  return out;
}
