// The `egress` section of the configuration: what the egress proxy may reach and trust, its
// limits, and the secrets tasks and sessions may name.
import { z } from 'zod';

export const egressConfigSchema = z
  .object({
    hosts: z
      .record(z.string().min(1), z.union([z.ipv4(), z.ipv6(), z.array(z.union([z.ipv4(), z.ipv6()])).min(1)]))
      .default({})
      .describe('Static name -> address map the egress proxy resolves first (like /etc/hosts): for tests and air-gapped mirrors'),
    allowPrivateNetworks: z
      .array(z.union([z.cidrv4(), z.cidrv6()]))
      .default([])
      .describe(
        'CIDRs the egress proxy may dial although they are private (an on-premises mirror); loopback, link-local (metadata) and ' +
          "the host's own addresses stay refused unless listed here, and link-local and the host's addresses always",
      ),
    extraCaFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file of more CA certificates (a private mirror's): trusted by the proxy towards upstreams and by tools in every sandbox"),
    sandboxPort: z.number().int().min(1024).max(65535).default(4101).describe('Loopback port inside each sandbox that reaches the egress proxy'),
    maxConnectionsPerSession: z.number().int().positive().max(4096).default(64).describe('Proxy connections one task or session may have open at once'),
    idleTimeoutSec: z.number().int().positive().max(86_400).default(300).describe('A tunnel idle this long in both directions is closed'),
    keepRecordsPerOwner: z.number().int().positive().max(1_000_000).default(10_000).describe('Egress decisions kept per task or session (the newest)'),
    secrets: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a secret name is an environment variable name'),
        z
          .object({
            hosts: z.array(z.string().min(1)).min(1).describe('Host rules (as network.allowedHosts) the value may be sent to'),
            env: z.string().min(1).optional().describe('Environment variable of the Hangar process holding the value'),
            file: z.string().min(1).optional().describe('File holding the value (read at each use)'),
            inject: z
              .union([z.literal('placeholder'), z.object({ header: z.string().min(1), template: z.string().optional() }).strict()])
              .default('placeholder')
              .describe('placeholder: the value replaces the placeholder in headers; { header, template }: set as that header ({value} in the template)'),
          })
          .strict()
          .refine((secret) => (secret.env === undefined) !== (secret.file === undefined), 'give exactly one of env or file'),
      )
      .default({})
      .describe(
        'Secrets tasks and sessions may name in network.secrets: the sandbox sees a placeholder; the egress proxy puts the value ' +
          'into requests to the listed hosts only, over TLS it intercepts with the installation CA',
      ),
  })
  .strict()
  .default({
    hosts: {},
    allowPrivateNetworks: [],
    sandboxPort: 4101,
    maxConnectionsPerSession: 64,
    idleTimeoutSec: 300,
    keepRecordsPerOwner: 10_000,
    secrets: {},
  })
  .describe('The egress proxy: what sandboxes may reach besides the model (default: nothing)');
