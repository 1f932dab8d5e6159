// The entries of `network.secrets`: the name of a secret the installation configured
// (egress.secrets), or a secret the request declares with its value. A declared value is sealed
// into the store (sandbox-egress.ts) and never kept anywhere else: records, views and events carry
// the declarations without their values. Pure: no I/O.
import type { SecretInjection } from './secrets.js';

/** A secret a request declares with its value. */
export interface SecretDeclaration {
  name: string;
  value: string;
  /** Host rules of the hosts the value may be sent to. */
  hosts: readonly string[];
  inject?: SecretInjection;
}

/** A declaration as records keep it: everything but the value. */
export type RecordedSecretDeclaration = Omit<SecretDeclaration, 'value'>;

/** A declaration as a request gives it: the schema refuses one without its value (runner/agent-options.ts). */
export type RequestedSecretDeclaration = RecordedSecretDeclaration & { value?: string | undefined };

/** An entry of network.secrets as a request gives it. */
export type SecretEntry = string | RequestedSecretDeclaration;

/** An entry of network.secrets as records keep it. */
export type RecordedSecretEntry = string | RecordedSecretDeclaration;

/** The declared secrets among the entries, with their values; throws a RangeError for one without. */
export function declaredSecrets(entries: readonly SecretEntry[] | undefined): SecretDeclaration[] {
  return (entries ?? []).flatMap((entry) => {
    if (typeof entry === 'string') return [];
    if (entry.value === undefined) throw new RangeError(`secret ${entry.name} is declared without its value`);
    return [{ ...entry, value: entry.value }];
  });
}

/** The network settings with each declared secret's value left out (what a record keeps). */
export function withoutSecretValues<Network extends { secrets?: readonly SecretEntry[] | undefined }>(
  network: Network,
): Omit<Network, 'secrets'> & { secrets?: RecordedSecretEntry[] } {
  const { secrets, ...rest } = network;
  if (secrets === undefined) return rest;
  return {
    ...rest,
    secrets: secrets.map((entry) =>
      typeof entry === 'string' ? entry : { name: entry.name, hosts: [...entry.hosts], ...(entry.inject !== undefined ? { inject: entry.inject } : {}) },
    ),
  };
}
