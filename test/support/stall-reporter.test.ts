import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TestModule, TestSpecification } from 'vitest/node';
import StallReporter from './stall-reporter.js';

/** What the reporter reads of a finished test file. */
function fakeModule(moduleId: string, states: ('passed' | 'failed')[]): TestModule {
  const tests = states.map((state, i) => ({
    fullName: `${moduleId} > test ${i}`,
    result: () => ({ state, errors: state === 'failed' ? [{ message: 'expected 1 to be 2' }] : [] }),
  }));
  return {
    moduleId,
    state: () => (states.includes('failed') ? 'failed' : 'passed'),
    errors: () => [],
    children: { allTests: () => tests },
  } as unknown as TestModule;
}

describe('the stall reporter', () => {
  let output: string;
  let exit: ReturnType<typeof vi.spyOn>;
  let stderr: string[];

  beforeEach(() => {
    vi.useFakeTimers();
    output = join(mkdtempSync(join(tmpdir(), 'stall-')), 'results.json');
    exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    stderr = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void stderr.push(line));
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const run = (modules: TestModule[]) => {
    const reporter = new StallReporter({ outputFile: output, finishGraceMs: 120_000, stallNoticeMs: 300_000 });
    reporter.onTestRunStart(modules.map(() => ({}) as TestSpecification));
    for (const module of modules) reporter.onTestModuleStart(module);
    return reporter;
  };

  it('ends a run whose every file finished and that vitest did not end, with the results and exit 0 when they passed', () => {
    const a = fakeModule('/repo/test/a.test.ts', ['passed', 'passed']);
    const b = fakeModule('/repo/test/b.test.ts', ['passed']);
    const reporter = run([a, b]);
    reporter.onTestModuleEnd(a);
    vi.advanceTimersByTime(600_000);
    expect(exit).not.toHaveBeenCalled();
    reporter.onTestModuleEnd(b);
    vi.advanceTimersByTime(119_000);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(exit).toHaveBeenCalledWith(0);
    expect(JSON.parse(readFileSync(output, 'utf8'))).toMatchObject({ numPassedTests: 3, numFailedTests: 0 });
    expect(stderr.join('\n')).toMatch(/\[stall\] every test file finished 120 s ago and vitest has not ended the run/);
  });

  it('exits 1 with the failure in the results when a test failed', () => {
    const a = fakeModule('/repo/test/a.test.ts', ['passed', 'failed']);
    const reporter = run([a]);
    reporter.onTestModuleEnd(a);
    vi.advanceTimersByTime(120_000);
    expect(exit).toHaveBeenCalledWith(1);
    const results = JSON.parse(readFileSync(output, 'utf8'));
    expect(results).toMatchObject({ numPassedTests: 1, numFailedTests: 1 });
    expect(results.testResults[0]).toMatchObject({ status: 'failed', assertionResults: [{ status: 'passed' }, { status: 'failed', failureMessages: ['expected 1 to be 2'] }] });
  });

  it('leaves a run that vitest ends alone', () => {
    const a = fakeModule('/repo/test/a.test.ts', ['passed']);
    const reporter = run([a]);
    reporter.onTestModuleEnd(a);
    reporter.onTestRunEnd();
    vi.advanceTimersByTime(3_600_000);
    expect(exit).not.toHaveBeenCalled();
  });

  it('names the files still running after five minutes without a finished file', () => {
    const a = fakeModule(`${process.cwd()}/test/a.test.ts`, ['passed']);
    const b = fakeModule(`${process.cwd()}/test/b.test.ts`, ['passed']);
    const reporter = run([a, b]);
    reporter.onTestModuleEnd(a);
    vi.advanceTimersByTime(240_000);
    expect(stderr).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(stderr).toEqual(['[stall] no test file finished for 300 s; still running: test/b.test.ts (300 s)']);
    expect(exit).not.toHaveBeenCalled();
  });
});
