// Process entry of the `hangar` command.
import { runCli } from './main.js';

await runCli(process.argv);
