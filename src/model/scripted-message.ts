// Builds the Message a scripted reply answers with: its content blocks, stop reason, model and
// usage (scripted, or estimated from the request and the content); and the default content of a
// side request no reply is scripted for.
import { estimateInputTokens, sampleFromJsonSchema, type MessagesRequest } from './messages-request.js';
import type { ScenarioContentBlock, ScenarioReply } from './scenario.js';
import { estimateOutputTokens, newId, toMessageContent, type AnthropicMessage } from './sse.js';

/** Text a side request gets when no reply is scripted for it. */
const AUXILIARY_DEFAULT_TEXT = 'OK';

/** The Message of `scripted` with `content`, answering `request`; `model` (the scenario's) names the model, else the request's. */
export function buildMessage(request: MessagesRequest, content: ScenarioContentBlock[], scripted: ScenarioReply, model: string | undefined): AnthropicMessage {
  const blocks = toMessageContent(content);
  const usage = scripted.usage ?? {};
  return {
    id: newId('msg'),
    type: 'message',
    role: 'assistant',
    model: model ?? request.model,
    content: blocks,
    stop_reason: scripted.stopReason ?? (blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: usage.inputTokens ?? estimateInputTokens(request),
      output_tokens: usage.outputTokens ?? estimateOutputTokens(blocks),
      cache_creation_input_tokens: usage.cacheCreationInputTokens ?? 0,
      cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
    },
  };
}

/** Content of the default answer to a side request: JSON for a structured-output request, else OK. */
export function auxiliaryDefault(request: MessagesRequest): ScenarioContentBlock[] {
  const format = request.output_config?.format;
  if (format?.type === 'json_schema') {
    return [{ type: 'text', text: JSON.stringify(sampleFromJsonSchema(format['schema'])) }];
  }
  return [{ type: 'text', text: AUXILIARY_DEFAULT_TEXT }];
}
