// Request schema pieces shared by the task and session routes. The agent options' rules live in
// runner/agent-options.ts (shared with the services); they are re-exported here for the routes.
import { z } from 'zod';

export {
  agentOptionsSchema,
  allowedToolsSchema,
  disallowedToolsSchema,
  filesFitDisk,
  resourcesSchema,
  workspaceFilesSchema,
} from '../runner/agent-options.js';

/** Free-form string labels of a session. */
export const metadataSchema = z
  .record(z.string().min(1).max(100), z.string().max(1000))
  .refine((value) => Object.keys(value).length <= 50, 'at most 50 metadata keys');
