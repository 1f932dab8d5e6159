// Hangar's version, read from package.json at startup.
import { readFileSync } from 'node:fs';

export const HANGAR_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
