// Named sets of hosts a task or session may allow in one word (`network.presets`). Each entry is a
// host rule as `network.allowedHosts` takes it (exact name, `*.suffix`, optional `:port`; no port
// means 443 and 80). Kept to what each tool really contacts, so a preset opens no more than it names.
export const EGRESS_PRESETS = {
  /** npm, yarn and pnpm installs from the public registry. */
  npm: ['registry.npmjs.org', 'registry.yarnpkg.com', 'registry.npmjs.com'],
  /** pip and uv installs from PyPI. */
  pypi: ['pypi.org', 'files.pythonhosted.org'],
  /** git over HTTPS, the REST and GraphQL API, release downloads and raw files. */
  github: [
    'github.com',
    'api.github.com',
    'codeload.github.com',
    'objects.githubusercontent.com',
    'raw.githubusercontent.com',
    'release-assets.githubusercontent.com',
  ],
  /** apt from the Debian mirrors. */
  debian: ['deb.debian.org', 'security.debian.org', 'cdn-fastly.deb.debian.org'],
  /** The Anthropic API, for an agent that calls Claude itself (its own key; Hangar's stays in the gateway). */
  anthropic: ['api.anthropic.com'],
} as const satisfies Record<string, readonly string[]>;

export type EgressPresetName = keyof typeof EGRESS_PRESETS;

export const EGRESS_PRESET_NAMES = Object.keys(EGRESS_PRESETS) as EgressPresetName[];
