// Picks the scenario reply for each request: the first reply, in file order, that still has uses
// left and whose `match` fits the request. Keeps how often each reply has been used.
import type { MatchSubject } from './messages-request.js';
import type { Scenario, ScenarioReply, ScenarioReplyMatch } from './scenario.js';

export type ReplySelection =
  | { type: 'reply'; reply: ScenarioReply; index: number }
  /** An auxiliary request no reply is scripted for: the server answers it with its default. */
  | { type: 'auxiliary-default' }
  /** No main reply is left and the scenario's whenExhausted is 'error' (or 'restart' with no reply fitting even after starting over). */
  | { type: 'exhausted' };

export interface ReplyUse {
  index: number;
  used: number;
  times: number;
}

export interface ReplyCursor {
  select(subject: MatchSubject): ReplySelection;
  /** How often each reply has been used, in file order. */
  uses(): ReplyUse[];
}

function test(pattern: string | undefined, text: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (text === undefined) return false;
  return new RegExp(pattern).test(text);
}

/** Whether every condition a match gives holds for the request. */
export function matches(match: ScenarioReplyMatch | undefined, subject: MatchSubject): boolean {
  const kind = match?.kind ?? 'main';
  if (kind !== 'any' && kind !== subject.kind) return false;
  if (match === undefined) return true;
  return (
    test(match.lastUserText, subject.lastUserText) &&
    test(match.lastToolResult, subject.lastToolResult) &&
    test(match.system, subject.system) &&
    test(match.model, subject.model)
  );
}

export function createReplyCursor(scenario: Scenario): ReplyCursor {
  const used = scenario.replies.map(() => 0);

  const cursor: ReplyCursor = {
    select(subject) {
      for (const [index, reply] of scenario.replies.entries()) {
        if ((used[index] ?? 0) >= (reply.times ?? 1)) continue;
        if (!matches(reply.match, subject)) continue;
        used[index] = (used[index] ?? 0) + 1;
        return { type: 'reply', reply, index };
      }
      if (subject.kind === 'auxiliary') return { type: 'auxiliary-default' };
      const exhausted = scenario.whenExhausted ?? 'error';
      if (exhausted === 'error') return { type: 'exhausted' };
      if (exhausted === 'restart') {
        // The script starts over: every reply has all its uses again. Nothing fitting even then is exhausted.
        if (used.every((count) => count === 0)) return { type: 'exhausted' };
        used.fill(0);
        return cursor.select(subject);
      }
      if (exhausted === 'repeat-last') {
        const index = scenario.replies.length - 1;
        const reply = scenario.replies[index];
        return reply === undefined ? { type: 'exhausted' } : { type: 'reply', reply, index };
      }
      return { type: 'reply', reply: { content: [{ type: 'text', text: exhausted.text }] }, index: -1 };
    },
    uses() {
      return scenario.replies.map((reply, index) => ({ index, used: used[index] ?? 0, times: reply.times ?? 1 }));
    },
  };
  return cursor;
}
