// Claude Code permission rules: which are well formed, and the tool names the SDK's `tools` gets.
import { describe, expect, it } from 'vitest';
import { parsePermissionRule, permissionRuleProblem, toolNamesOf } from '../../src/runner/permission-rules.js';

describe('permission rules', () => {
  it('parses tool names and rules with specifiers', () => {
    expect(parsePermissionRule('Bash')).toEqual({ tool: 'Bash' });
    expect(parsePermissionRule('Bash(npm test:*)')).toEqual({ tool: 'Bash', specifier: 'npm test:*' });
    expect(parsePermissionRule('Read(./src/**)')).toEqual({ tool: 'Read', specifier: './src/**' });
    expect(parsePermissionRule('WebFetch(domain:example.com)')).toEqual({ tool: 'WebFetch', specifier: 'domain:example.com' });
    expect(parsePermissionRule('Bash(echo (nested))')).toEqual({ tool: 'Bash', specifier: 'echo (nested)' });
    expect(parsePermissionRule('mcp__github__create_issue')).toEqual({ tool: 'mcp__github__create_issue' });
  });

  it('names what is wrong with a malformed rule', () => {
    expect(permissionRuleProblem('Bash(npm test')).toMatch(/the specifier must end with "\)"/);
    expect(permissionRuleProblem('Bash()')).toMatch(/specifier .* is empty/);
    expect(permissionRuleProblem('(x)')).toMatch(/a tool name is letters/);
    expect(permissionRuleProblem('Bash)')).toMatch(/"\)" without "\("/);
    expect(permissionRuleProblem('Bash(a\nb)')).toMatch(/control character/);
    expect(permissionRuleProblem(`Bash(${'x'.repeat(2000)})`)).toMatch(/longer than 1000/);
    expect(permissionRuleProblem('Read(./src/**)')).toBeUndefined();
  });

  it('gives the SDK each tool name once, without the rule part', () => {
    expect(toolNamesOf(['Bash(npm test:*)', 'Read', 'Bash(git log:*)', 'Read(./src/**)', 'Write'])).toEqual(['Bash', 'Read', 'Write']);
  });
});
