// The shared check of initial workspace files (tasks and sessions), without a sandbox.
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import { assertWorkspaceFiles, normalizeWorkspacePath, workspaceFileProblems, workspaceFilesDiskProblem } from '../../src/runner/workspace-files.js';

describe('workspace files', () => {
  it('normalizes paths that name a file inside the workspace', () => {
    expect(normalizeWorkspacePath('a.txt')).toEqual({ path: 'a.txt' });
    expect(normalizeWorkspacePath('./src//index.ts')).toEqual({ path: 'src/index.ts' });
    expect(normalizeWorkspacePath('..hidden')).toEqual({ path: '..hidden' });
    expect(normalizeWorkspacePath('dir/.env')).toEqual({ path: 'dir/.env' });
  });

  it('refuses paths that name no file in the workspace', () => {
    for (const file of ['', '.', './', './/.', '/etc/passwd', '../x', 'a/../../x', 'a/', 'a\0b', `${'n'.repeat(256)}.txt`]) {
      expect(normalizeWorkspacePath(file), JSON.stringify(file)).toHaveProperty('problem');
    }
  });

  it('finds a file that is also a parent directory, at any depth, and two keys naming one file', () => {
    expect(workspaceFileProblems({ a: 'x', 'a/b': 'y' })).toEqual([{ file: 'a', message: 'is a file and also a parent directory of "a/b"' }]);
    expect(workspaceFileProblems({ 'src/x/y/z.ts': '', src: '' })).toEqual([
      { file: 'src', message: 'is a file and also a parent directory of "src/x/y/z.ts"' },
    ]);
    expect(workspaceFileProblems({ 'a.txt': '1', './a.txt': '2' })).toEqual([{ file: './a.txt', message: 'names the same file as "a.txt"' }]);
    expect(workspaceFileProblems({ a: '', ab: '', 'b/a': '', 'a.d/x': '' })).toEqual([]);
  });

  it('reports at most 20 problems and counts the rest', () => {
    const files = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`/abs${index}`, '']));
    const problems = workspaceFileProblems(files);
    expect(problems).toHaveLength(21);
    expect(problems.at(-1)).toEqual({ message: 'and 10 more problems with files' });
  });

  it('counts whole 4 KiB blocks against the disk limit', () => {
    expect(workspaceFilesDiskProblem({ a: 'x'.repeat(1024 * 1024) }, 1)).toBeUndefined();
    expect(workspaceFilesDiskProblem({ a: 'x'.repeat(1024 * 1024), b: '' }, 1)).toMatch(/disk limit of 1 MiB/);
    expect(workspaceFilesDiskProblem(Object.fromEntries(Array.from({ length: 257 }, (_, index) => [`f${index}`, 'x'])), 1)).toMatch(/1052672 bytes/);
  });

  it('throws VALIDATION_FAILED naming every problem under body.files', () => {
    let caught: unknown;
    try {
      assertWorkspaceFiles({ '.': 'x', a: 'x', 'a/b': 'y' }, { diskMb: 8 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HangarError);
    const error = caught as HangarError;
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([
      { in: 'body', path: 'files', message: 'file ".": the path names the workspace itself, not a file' },
      { in: 'body', path: 'files', message: 'file "a": is a file and also a parent directory of "a/b"' },
    ]);
    expect(() => assertWorkspaceFiles(undefined)).not.toThrow();
    expect(() => assertWorkspaceFiles({ 'ok.txt': 'x' }, { diskMb: 8 })).not.toThrow();
  });
});
