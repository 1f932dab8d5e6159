// Import cycles under src/: every relative import (type-only ones included) of every src/**/*.ts is a
// graph edge, and each strongly connected component of more than one file is reported as one cycle
// path. A cycle through src/api, src/client or src/cli fails the test; one elsewhere is reported.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCE = path.join(ROOT, 'src');
/** Folders no import cycle may touch. */
const ACYCLIC = ['api', 'client', 'cli'].map((folder) => path.join(SOURCE, folder) + path.sep);

/** `from './x.js'`, `import './x.js'`, `import('./x.js')`: relative specifiers only. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The file a relative specifier names: `./x.js` is x.ts, `./x` is x.ts or x/index.ts. */
function resolveImport(from: string, specifier: string): string | undefined {
  const target = path.resolve(path.dirname(from), specifier);
  return [target.replace(/\.js$/, '.ts'), `${target}.ts`, path.join(target, 'index.ts')].find(
    (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
  );
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)) {
      const target = resolveImport(file, match[1] ?? '');
      if (target !== undefined) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan). */
function cyclicComponents(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (;;) {
      const member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1) components.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components;
}

/** One cycle through the component's first file, shortest first: a.ts -> b.ts -> a.ts. */
function cyclePath(graph: Map<string, string[]>, component: string[]): string {
  const members = new Set(component);
  const start = component[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const target of graph.get(node) ?? []) {
      if (!members.has(target) || previous.has(target)) continue;
      previous.set(target, node);
      if (target === start) queue.length = 0;
      else queue.push(target);
    }
  }
  const steps = [start];
  for (let node = previous.get(start); node !== undefined && node !== start; node = previous.get(node)) steps.unshift(node);
  steps.unshift(start);
  return steps.map((file) => path.relative(ROOT, file)).join(' -> ');
}

describe('import cycles', () => {
  it('finds a cycle and names its path', () => {
    const graph = new Map([
      ['/r/a.ts', ['/r/b.ts']],
      ['/r/b.ts', ['/r/c.ts']],
      ['/r/c.ts', ['/r/a.ts', '/r/d.ts']],
      ['/r/d.ts', []],
    ]);
    const components = cyclicComponents(graph);
    expect(components).toEqual([['/r/a.ts', '/r/b.ts', '/r/c.ts']]);
    expect(cyclePath(graph, components[0] ?? [])).toBe(['a', 'b', 'c', 'a'].map((name) => path.relative(ROOT, `/r/${name}.ts`)).join(' -> '));
  });

  it('has none under src/api, src/client or src/cli, and reports any elsewhere', () => {
    const graph = importGraph(sourceFiles(SOURCE));
    expect(graph.size).toBeGreaterThan(50);
    const cycles = cyclicComponents(graph).map((component) => ({ component, path: cyclePath(graph, component) }));
    // Cycles in the other folders are reported until their owners break them; these folders must have none.
    const elsewhere = cycles.filter(({ component }) => !component.some((file) => ACYCLIC.some((folder) => file.startsWith(folder))));
    if (elsewhere.length > 0) console.warn(`import cycles under src/ (not yet failing this test):\n${elsewhere.map((cycle) => `  ${cycle.path}`).join('\n')}`);
    expect(cycles.filter((cycle) => !elsewhere.includes(cycle)).map((cycle) => cycle.path)).toEqual([]);
  });
});
