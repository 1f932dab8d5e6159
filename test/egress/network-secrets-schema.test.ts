// network.secrets in a request: names (of the tenant's or configured secrets) and declarations with
// values, checked by the schema before anything is created (a name's owner once the tenant is known); no error message quotes a value; records keep declarations
// without values.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { withoutSecretValues } from '../../src/egress/declared-secrets.js';
import { networkSchema, unknownSecretsError } from '../../src/runner/agent-options.js';

const config = parseConfig({ egress: { secrets: { CONFIGURED: { env: 'SOME_VAR', hosts: ['api.example.com'] } } } });
const schema = networkSchema(config);
const VALUE = 'value-that-must-never-be-echoed';

/** The messages of the issues, path first; fails the test when the input passes. */
function problems(secrets: unknown[]): string[] {
  const result = schema.safeParse({ secrets });
  expect(result.success, 'the input should be refused').toBe(false);
  const messages = result.error!.issues.map((issue) => `${issue.path.slice(1).join('.')}: ${issue.message}`);
  expect(JSON.stringify(result.error!.issues)).not.toContain(VALUE);
  return messages;
}

describe('network.secrets', () => {
  it('takes configured names and declarations (inject by placeholder or header)', () => {
    const parsed = schema.parse({
      allowedHosts: ['api.github.com'],
      secrets: [
        'CONFIGURED',
        { name: 'GITHUB_TOKEN', value: VALUE, hosts: ['api.github.com', '*.githubusercontent.com:443'] },
        { name: 'API_KEY', value: VALUE, hosts: ['api.example.org'], inject: { header: 'X-Api-Key', template: 'Key {value}' } },
      ],
    });
    expect(parsed.secrets).toHaveLength(3);
  });

  it('refuses a file, bad and reserved names, a value that is empty, multi-line or over 16 KiB, and bad hosts', () => {
    expect(problems([{ name: 'A', file: '/etc/shadow', hosts: ['a.test'] }])).toEqual([
      '0: Unrecognized key: "file"',
      '0.value: a declared secret needs its value (a request cannot name a file: only the configuration does, egress.secrets)',
    ]);
    expect(problems([{ name: 'A', value: VALUE, file: '/etc/shadow', hosts: ['a.test'] }])).toEqual(['0: Unrecognized key: "file"']);
    expect(problems([{ name: '1BAD', value: VALUE, hosts: ['a.test'] }])).toEqual(['0.name: secret name "1BAD" must be an environment variable name']);
    expect(problems([{ name: 'PATH', value: VALUE, hosts: ['a.test'] }])).toEqual([
      '0.name: secret name PATH is reserved: Hangar or the agent sets that variable',
    ]);
    expect(problems([{ name: 'HTTPS_PROXY', value: VALUE, hosts: ['a.test'] }]).join()).toMatch(/reserved/);
    expect(problems([{ name: 'A', value: '', hosts: ['a.test'] }]).join()).toMatch(/0\.value: the value must be non-empty, on one line/);
    expect(problems([{ name: 'A', value: `${VALUE}\r\nX-Injected: 1`, hosts: ['a.test'] }]).join()).toMatch(/0\.value: .*one line/);
    expect(problems([{ name: 'A', value: 'x'.repeat(16 * 1024 + 1), hosts: ['a.test'] }])).toEqual(['0.value: the value is over 16384 bytes']);
    expect(schema.safeParse({ secrets: [{ name: 'A', value: 'x'.repeat(16 * 1024), hosts: ['a.test'] }] }).success).toBe(true);
    expect(problems([{ name: 'A', value: VALUE, hosts: [] }]).join()).toMatch(/0\.hosts: /);
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a b'] }]).join()).toMatch(/0\.hosts\.0: invalid host rule/);
    expect(problems([{ name: 'A', value: VALUE, hosts: Array.from({ length: 33 }, (_, index) => `h${index}.test`) }]).join()).toMatch(/0\.hosts/);
  });

  it('refuses headers that frame or route the request, a template without {value} or on two lines', () => {
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'Host' } }]).join()).toMatch(/header Host frames or routes the request/);
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'Proxy-Authorization' } }]).join()).toMatch(/frames or routes/);
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'bad header' } }]).join()).toMatch(/not a header name/);
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'X-Key', template: 'Key' } }]).join()).toMatch(/must contain \{value\}/);
    expect(problems([{ name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'X-Key', template: '{value}\r\nX: 1' } }]).join()).toMatch(/one line/);
  });

  it('refuses a declaration that shadows a configured secret, a name given twice, a bad or reserved name and more than 64 secrets', () => {
    expect(problems([{ name: 'CONFIGURED', value: VALUE, hosts: ['evil.test'] }])).toEqual([
      '0.name: secret CONFIGURED is configured by the installation (egress.secrets): name it without a value to use it, or declare another name',
    ]);
    expect(
      problems([
        { name: 'A', value: VALUE, hosts: ['a.test'] },
        { name: 'A', value: VALUE, hosts: ['b.test'] },
      ]),
    ).toEqual(['1: secret A is named twice']);
    expect(problems(['CONFIGURED', 'CONFIGURED'])).toEqual(['1: secret CONFIGURED is named twice']);
    expect(problems(['1BAD'])).toEqual(['0: secret name "1BAD" must be an environment variable name']);
    expect(problems(['HANGAR_TOKEN']).join()).toMatch(/reserved/);
    expect(problems(Array.from({ length: 65 }, (_, index) => ({ name: `S${index}`, value: VALUE, hosts: ['a.test'] }))).join()).toMatch(/64/);
  });

  it("leaves a name to the tenant's secrets or the configured ones: unknownSecretsError names the one that is neither, and where names come from", () => {
    const network = schema.parse({ secrets: ['CONFIGURED', 'TENANT_TOKEN', { name: 'A', value: VALUE, hosts: ['a.test'] }, 'NOWHERE'] });
    const usable = { configured: ['CONFIGURED'], tenantId: 'acme', tenantSecrets: ['TENANT_TOKEN'] };
    const error = unknownSecretsError(network, usable);
    expect(error?.code).toBe('VALIDATION_FAILED');
    expect(error?.message).toBe(
      "invalid request: body.network.secrets.3: unknown secret NOWHERE: name one of tenant acme's secrets (TENANT_TOKEN; " +
        'set with PUT /v1/tenants/acme/secrets/NOWHERE) or a configured one (CONFIGURED; egress.secrets)',
    );
    expect(error?.details).toEqual([{ in: 'body', path: 'network.secrets.3', message: expect.stringMatching(/^unknown secret NOWHERE/) }]);
    expect(unknownSecretsError({ secrets: network.secrets!.slice(0, 3) }, usable)).toBeUndefined();
    expect(unknownSecretsError(undefined, usable)).toBeUndefined();
    expect(unknownSecretsError({ secrets: ['TENANT_TOKEN'] }, { ...usable, tenantSecrets: [] })?.message).toMatch(/secrets \(none; set with PUT/);
  });

  it('keeps declarations without their values for records', () => {
    const network = schema.parse({
      allowedHosts: ['a.test'],
      secrets: ['CONFIGURED', { name: 'A', value: VALUE, hosts: ['a.test'], inject: { header: 'X-Key' } }],
    });
    const recorded = withoutSecretValues(network);
    expect(recorded).toEqual({ allowedHosts: ['a.test'], secrets: ['CONFIGURED', { name: 'A', hosts: ['a.test'], inject: { header: 'X-Key' } }] });
    expect(JSON.stringify(recorded)).not.toContain(VALUE);
    expect(withoutSecretValues(schema.parse({ mode: 'learn' }))).toEqual({ mode: 'learn' });
  });
});
