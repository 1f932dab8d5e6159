// Process entry of the `hangar` command.
import { runCli } from './main.js';

await runCli(process.argv);
// A failed command exits now: a failed startup has closed what it started, and nothing left
// behind (a timer, a socket) may keep the process running as if it had started.
if (process.exitCode !== undefined && process.exitCode !== 0) process.exit();
