/**
 * A vitest reporter that keeps a stuck test run from running forever and says where it is stuck.
 *
 * - While files run: after STALL_NOTICE_MS with no file finished, it names the files still running
 *   and how long each has been running (again every STALL_NOTICE_MS of silence).
 * - Once every file has finished: if vitest has not ended the run FINISH_GRACE_MS later (its pool
 *   waiting on a worker that reported its file and never exited), it names the worker processes
 *   still alive, writes the results in the json reporter's shape (what `.ci/run` reads), ends those
 *   workers and exits: 1 if a test failed, else 0. The message says it happened, so it is not hidden.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule, TestSpecification } from 'vitest/node';

const STALL_NOTICE_MS = 5 * 60_000;
const FINISH_GRACE_MS = 120_000;

export default class StallReporter implements Reporter {
  private expected = 0;
  private readonly running = new Map<string, number>();
  private readonly finished: TestModule[] = [];
  private lastFinish = Date.now();
  private lastNotice = 0;
  private silence?: NodeJS.Timeout;
  private grace?: NodeJS.Timeout;

  constructor(private readonly options: { outputFile: string; finishGraceMs?: number; stallNoticeMs?: number }) {}

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.expected = specifications.length;
    this.lastFinish = Date.now();
    // Unref'd: the timers must never be what keeps the process alive.
    this.silence = setInterval(() => this.noticeSilence(), Math.min(60_000, this.stallNoticeMs())).unref();
  }

  onTestModuleStart(testModule: TestModule): void {
    this.running.set(testModule.moduleId, Date.now());
  }

  onTestModuleEnd(testModule: TestModule): void {
    this.running.delete(testModule.moduleId);
    this.finished.push(testModule);
    this.lastFinish = Date.now();
    if (this.finished.length >= this.expected && this.grace === undefined) {
      this.grace = setTimeout(() => this.endStuckRun(), this.options.finishGraceMs ?? FINISH_GRACE_MS).unref();
    }
  }

  onTestRunEnd(): void {
    clearInterval(this.silence);
    clearTimeout(this.grace);
  }

  private stallNoticeMs(): number {
    return this.options.stallNoticeMs ?? STALL_NOTICE_MS;
  }

  private noticeSilence(): void {
    const now = Date.now();
    const quiet = now - Math.max(this.lastFinish, this.lastNotice);
    if (quiet < this.stallNoticeMs() || this.running.size === 0) return;
    this.lastNotice = now;
    const files = [...this.running].map(([file, since]) => `${relative(file)} (${Math.round((now - since) / 1000)} s)`);
    console.error(`[stall] no test file finished for ${Math.round((now - this.lastFinish) / 1000)} s; still running: ${files.join(', ')}`);
  }

  private endStuckRun(): void {
    clearInterval(this.silence);
    const results = summarize(this.finished);
    const workers = childProcesses(process.pid);
    console.error(
      `[stall] every test file finished ${Math.round((this.options.finishGraceMs ?? FINISH_GRACE_MS) / 1000)} s ago and vitest has not ended the run; ` +
        `${workers.length} worker process(es) still alive: ${workers.map((w) => `${w.pid} (state ${w.state})`).join(', ') || 'none'}. ` +
        `Ending it with the results of the files: ${results.numPassedTests} passed, ${results.numFailedTests} failed.`,
    );
    mkdirSync(dirname(this.options.outputFile), { recursive: true });
    writeFileSync(this.options.outputFile, JSON.stringify(results));
    for (const worker of workers) {
      try {
        process.kill(worker.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    process.exit(results.numFailedTests > 0 || results.testResults.some((file) => file.status === 'failed') ? 1 : 0);
  }
}

interface FileResult {
  name: string;
  status: 'passed' | 'failed';
  message: string;
  assertionResults: { status: string; fullName: string; failureMessages: string[] }[];
}

/** The json reporter's fields that `.ci/run` reads. */
export function summarize(modules: readonly TestModule[]): {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: FileResult[];
} {
  let numPassedTests = 0;
  let numFailedTests = 0;
  let numPendingTests = 0;
  const testResults: FileResult[] = [];
  for (const module of modules) {
    const assertionResults: FileResult['assertionResults'] = [];
    for (const test of module.children.allTests()) {
      const result = test.result();
      if (result.state === 'passed') numPassedTests += 1;
      else if (result.state === 'failed') numFailedTests += 1;
      else numPendingTests += 1;
      assertionResults.push({
        status: result.state,
        fullName: test.fullName,
        failureMessages: result.state === 'failed' ? (result.errors ?? []).map((e) => e.message) : [],
      });
    }
    const failed = module.state() === 'failed' || assertionResults.some((t) => t.status === 'failed');
    const moduleError = module.errors()[0]?.message ?? '';
    testResults.push({ name: module.moduleId, status: failed ? 'failed' : 'passed', message: moduleError, assertionResults });
  }
  return { numPassedTests, numFailedTests, numPendingTests, numTodoTests: 0, testResults };
}

/** Direct children of a process, from /proc (empty where there is none). */
function childProcesses(parent: number): { pid: number; state: string }[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const children: { pid: number; state: string }[] = [];
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent) children.push({ pid: Number(name), state: state ?? '?' });
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

function relative(file: string): string {
  return file.startsWith(`${process.cwd()}/`) ? file.slice(process.cwd().length + 1) : file;
}
