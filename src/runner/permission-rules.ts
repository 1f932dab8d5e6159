// Claude Code permission rules as allowedTools/disallowedTools take them: a tool name (`Bash`,
// `mcp__github__create_issue`) or a tool name with a specifier (`Bash(npm test:*)`,
// `Read(./src/**)`, `WebFetch(domain:example.com)`). The SDK's `tools` option takes names only.

const TOOL_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const MAX_RULE_CHARS = 1000;

export type PermissionRule = { tool: string; specifier?: string };

/** The rule's parts, or why it is malformed. */
export function parsePermissionRule(rule: string): PermissionRule | { problem: string } {
  if (rule.length > MAX_RULE_CHARS) return { problem: `longer than ${MAX_RULE_CHARS} characters` };
  // Control characters (newlines included) never belong in a rule.
  if (/\p{Cc}/u.test(rule)) return { problem: 'contains a control character' };
  const open = rule.indexOf('(');
  if (open === -1) {
    if (rule.includes(')')) return { problem: 'has ")" without "("' };
    return TOOL_NAME.test(rule) ? { tool: rule } : { problem: 'a tool name is letters, digits and underscores, starting with a letter' };
  }
  const tool = rule.slice(0, open);
  if (!TOOL_NAME.test(tool)) return { problem: 'a tool name is letters, digits and underscores, starting with a letter, before "("' };
  if (!rule.endsWith(')')) return { problem: 'the specifier must end with ")"' };
  const specifier = rule.slice(open + 1, -1);
  if (specifier.trim() === '') return { problem: 'the specifier between "(" and ")" is empty' };
  return { tool, specifier };
}

/** Why a rule is malformed (for a 400), or undefined when it is well formed. */
export function permissionRuleProblem(rule: string): string | undefined {
  const parsed = parsePermissionRule(rule);
  if (!('problem' in parsed)) return undefined;
  return `${JSON.stringify(rule.slice(0, 100))} is not a tool name or permission rule (${parsed.problem}); use Tool or Tool(specifier), e.g. Bash, Bash(npm test:*), Read(./src/**)`;
}

/** The tool names of a list of rules, each once, in order of first appearance. */
export function toolNamesOf(rules: readonly string[]): string[] {
  const names: string[] = [];
  for (const rule of rules) {
    const parsed = parsePermissionRule(rule);
    const name = 'problem' in parsed ? rule : parsed.tool;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
