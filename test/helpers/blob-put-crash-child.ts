// Child process for the blob crash test: starts a put of an endless stream into a local blob store,
// prints "writing" once a megabyte is on disk, and keeps writing until it is SIGKILLed.
// argv: <directory> <key>
import { Readable } from 'node:stream';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';

const [directory, key] = process.argv.slice(2);
if (directory === undefined || key === undefined) throw new Error('usage: blob-put-crash-child <directory> <key>');
const blobs = createLocalBlobStore({ directory });
const chunk = Buffer.alloc(64 * 1024, 0x61);
let sent = 0;
const endless = new Readable({
  read() {
    setImmediate(() => {
      this.push(chunk);
      sent += chunk.length;
      if (sent === 16 * chunk.length) process.stdout.write('writing\n');
    });
  },
});
void blobs.put(key, endless);
