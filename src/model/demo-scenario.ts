// The scenario `hangar serve --demo` and `hangar run --demo` serve as the model upstream: with no
// API key, a newcomer still sees a real task run end to end (a sandbox, the Claude Code CLI, a
// tool call, a file written, a result), and every answer says it comes from the demo. It loops:
// each prompt, of every task and every session turn, gets the same two steps.
import type { Scenario } from './scenario.js';

/** Marks every demo answer. */
export const DEMO_MARK = '[demo]';

const NOTICE =
  `${DEMO_MARK} This answer comes from Hangar's scripted demo model, not from Claude: no model read your prompt. ` +
  'Set ANTHROPIC_API_KEY and start Hangar without --demo for real answers.';

/** Uses of each step: enough to never run out (a step that is used up would fail the request). */
const FOREVER = 1_000_000_000;

export const DEMO_SCENARIO: Scenario = {
  description: 'Hangar demo: shows a sandbox at work for any prompt, and says it is a demo',
  model: 'hangar-demo',
  replies: [
    {
      // A prompt the user typed (a tool result carries no text of its own).
      match: { lastUserText: '\\S' },
      times: FOREVER,
      content: [
        { type: 'text', text: `${NOTICE} To show the sandbox at work, I'll write a file in the workspace with Bash.` },
        {
          type: 'tool_use',
          name: 'Bash',
          input: {
            command:
              'printf \'Hangar demo ran here at %s\\n\' "$(date -u +%FT%TZ)" > hangar-demo.txt && cat hangar-demo.txt && echo "user $(id -u), kernel $(uname -r)"',
            description: 'Write hangar-demo.txt',
          },
        },
      ],
    },
    {
      match: { lastToolResult: 'Hangar demo ran here' },
      times: FOREVER,
      content: [
        {
          type: 'text',
          text: `${DEMO_MARK} Done: hangar-demo.txt is in the workspace, written by the Claude Code CLI's Bash tool inside an isolated sandbox. This was a demo answer; with an API key, Claude answers your prompt.`,
        },
      ],
    },
  ],
  // A tool that was not allowed, or anything else off the script, still gets a marked answer.
  whenExhausted: { text: `${NOTICE}` },
};
